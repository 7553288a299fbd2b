"""Writing entries in the user's text editor, for `kb add --editor` and `kb edit`.

The editor is ``$VISUAL``, else ``$EDITOR``, else one found on PATH; its command is split
the way a shell would (``code --wait``, a quoted path with spaces). Text goes through a
temporary ``.md`` file in the Markdown shape the markdown parser reads (front matter,
``## Question``, ``## Answer``), and invalid text can be reopened until it reads.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from kb.errors import EditorError, InvalidEntry, KbError, ParseError

if TYPE_CHECKING:
    from kb.api import KnowledgeBase
    from kb.models import Entry

T = TypeVar("T")

# Tried in this order when neither $VISUAL nor $EDITOR is set (Debian's `editor` first).
FALLBACKS = ("editor", "nano", "vi", "notepad")


def editor_command(env: Mapping[str, str] | None = None) -> list[str]:
    """Return the editor's command line as a list, without the file to edit."""
    env = os.environ if env is None else env
    for var in ("VISUAL", "EDITOR"):
        value = (env.get(var) or "").strip()
        if not value:
            continue
        # An unquoted path with spaces ("/opt/My Editor/edit") is one program, not three.
        if os.path.isfile(value):
            return [value]
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise EditorError(f"cannot read ${var} ({value!r}): {exc}", hint="quote paths with spaces") from None
        if argv:
            return argv
    for name in FALLBACKS:
        found = shutil.which(name)
        if found:
            return [found]
    raise EditorError("no text editor found", hint="set $EDITOR, e.g. export EDITOR=nano")


def edit_text(text: str, *, env: Mapping[str, str] | None = None) -> str:
    """Open ``text`` in the editor and return what was saved.

    Raises EditorError when the editor cannot be started or exits with an error; the
    caller then has changed nothing.
    """
    argv = editor_command(env)
    fd, name = tempfile.mkstemp(prefix="kb-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        try:
            proc = subprocess.run([*argv, name], env=None if env is None else dict(env), check=False)
        except FileNotFoundError:
            raise EditorError(
                f"editor {argv[0]!r} not found", hint="set $VISUAL or $EDITOR to an installed editor"
            ) from None
        except OSError as exc:
            raise EditorError(f"cannot start editor {argv[0]!r}: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            raise EditorError(f"editor {argv[0]!r} exited with status {proc.returncode}; nothing was saved")
        with open(name, "rb") as fh:
            data = fh.read()
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass
    from kb.ingest.sources import decode

    return decode(data, "the edited file")[0] if data.strip() else ""


def edit_until_valid(
    text: str,
    check: Callable[[str], T],
    *,
    reopen: Callable[[KbError], bool],
    env: Mapping[str, str] | None = None,
) -> tuple[bool, T | None]:
    """Edit ``text`` until ``check`` accepts the result; return (changed, check's result).

    A file saved unchanged the first time returns ``(False, None)`` without a check.
    When ``check`` raises InvalidEntry or ParseError, ``reopen(error)`` decides whether
    to open the edited text again (True) or to give up, re-raising it as InvalidEntry.
    """
    current = text
    while True:
        edited = edit_text(current, env=env)
        if edited == text and current == text:
            return False, None
        try:
            return True, check(edited)
        except (InvalidEntry, ParseError) as exc:
            error = exc if isinstance(exc, InvalidEntry) else InvalidEntry(str(exc), hint=exc.hint)
            if not reopen(error):
                raise error from None
            current = edited


def markdown_entry(text: str) -> Entry:
    """Read the one entry of an edited Markdown text, or raise InvalidEntry saying why not."""
    from kb.entries import validate
    from kb.models import Source
    from kb.parsers.markdown import parse

    try:
        entry = parse(text, "the edited file")[0]
    except ParseError as exc:
        raise InvalidEntry(str(exc), hint=exc.hint) from None
    validate(entry)
    entry.source = Source(format="markdown")
    return entry


def compose_entry(start: Entry, *, reopen: Callable[[KbError], bool], env: Mapping[str, str] | None = None) -> Entry:
    """Open a Markdown template prefilled from ``start`` and return the entry written in it.

    Raises InvalidEntry when the template comes back unchanged (nothing was written).
    """
    from kb.parsers.markdown import render_markdown

    template = render_markdown(start)
    changed, entry = edit_until_valid(template, markdown_entry, reopen=reopen, env=env)
    if not changed or entry is None:
        raise InvalidEntry("the template was saved unchanged; nothing added")
    return entry


def edit_entry(
    kb: KnowledgeBase, ref: int | str, *, reopen: Callable[[KbError], bool], env: Mapping[str, str] | None = None
) -> tuple[bool, Entry]:
    """Edit a stored entry as Markdown and save it; return (changed, the entry as stored).

    Nothing is written until the text reads as a valid entry whose question and answer
    no other entry has; an entry whose fields came back the same is not rewritten, and
    one changed by someone else while the editor was open is not overwritten.
    """
    from kb.entries import with_fields
    from kb.parsers.markdown import render_markdown

    entry = kb.get(ref)

    def save(text: str) -> Entry | None:
        edited = markdown_entry(text)
        fields = {name: getattr(edited, name) for name in ("question", "answer", "title", "category", "expert", "tags")}
        updated = with_fields(entry, **fields)
        if _same(updated, entry):
            return None
        # Refused (EditConflict, nothing saved) if someone changed the entry meanwhile.
        return kb.update(updated, read_at=entry.updated_at)

    updated = edit_until_valid(render_markdown(entry), save, reopen=reopen, env=env)[1]
    return (True, updated) if updated is not None else (False, entry)


def _same(a: Entry, b: Entry) -> bool:
    return (a.question, a.answer, a.title, a.category, a.expert, a.tags) == (
        b.question,
        b.answer,
        b.title,
        b.category,
        b.expert,
        b.tags,
    )
