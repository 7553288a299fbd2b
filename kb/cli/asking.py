"""Commands of questions that wait for an expert: post, answer, inbox.

They read their options and call KnowledgeBase (kb.api, which delegates to kb.asking);
the answer's text comes from --answer, --answer-file or the editor (kb.cli.editor).

No `from __future__ import annotations` in the cli modules: Typer would then evaluate
every parameter's annotation string with eval() on each run (measured: ~30 ms).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from kb.cli.complete import complete_categories, complete_experts, complete_ids
from kb.cli.options import (
    DbOption,
    FormatOption,
    JsonOption,
    LimitOption,
    OutputFormat,
    open_kb,
    output_format,
    refuse,
)

if TYPE_CHECKING:
    from kb.models import Entry

ExpertName = Annotated[Optional[str], typer.Argument(help="The expert.", autocompletion=complete_experts)]


def post(
    question: Annotated[
        Optional[list[str]], typer.Argument(help="The question (read from stdin when not given and piped).")
    ] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="A short title.")] = None,
    category: Annotated[
        Optional[str], typer.Option("--category", "-c", help="Category.", autocompletion=complete_categories)
    ] = None,
    for_expert: Annotated[
        Optional[str],
        typer.Option(
            "--for", help="The expert it is for (any unique form of a name).", autocompletion=complete_experts
        ),
    ] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="Who asks (default: your login name).")] = None,
    follow_up: Annotated[
        Optional[str],
        typer.Option("--follow-up", help="The entry this question follows up.", autocompletion=complete_ids),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Post a question for an expert to answer; prints its id.

    First lists what may already answer it: entries `kb ask` would show, and open
    questions that ask the same. An open question with the same text is refused with its
    id (exit 1). `kb search` and `kb ask` find the question once it is answered.

    Example: kb post "Can chemo make a bone scan miss a tumour?" --category Oncology --for higby
    """
    from kb import render

    text = " ".join(question) if question else _piped_text("the question")
    if not text.strip():
        refuse("QUESTION", "give the question as arguments or on stdin")
    out = output_format(fmt, as_json)
    kb = open_kb(db, must_exist=False)
    result = kb.post(
        text,
        title=title or "",
        category=category or "",
        asked_by=by if by is not None else _login(),
        asked_for=for_expert,
        follows=follow_up,
    )
    render.posted(result, out)


def _login() -> Optional[str]:
    """The login name of who runs kb, or None when the system cannot tell."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _piped_text(what: str) -> str:
    """Read stdin when it is not a terminal (up to the input cap); "" on a terminal."""
    import sys

    from kb import config
    from kb.ingest.sources import DEFAULT_MAX_SIZE, decode, read_capped

    if sys.stdin is None or sys.stdin.isatty():
        return ""
    mb = config.max_size_mb()
    cap = int(mb * 1e6) if mb else DEFAULT_MAX_SIZE
    data = read_capped(typer.get_binary_stream("stdin"), cap, "<stdin>")
    return decode(data, what)[0] if data.strip() else ""


def answer(
    ref: Annotated[str, typer.Argument(help="The open question's id (or uid prefix).", autocompletion=complete_ids)],
    text: Annotated[Optional[str], typer.Option("--answer", "-a", help="The answer's text.")] = None,
    answer_file: Annotated[
        Optional[Path], typer.Option("--answer-file", help="Read the answer from this file ('-': stdin).")
    ] = None,
    expert: Annotated[
        Optional[str],
        typer.Option(
            "--expert",
            "-e",
            help="Who answers (a known expert's unique name, or a new one).",
            autocompletion=complete_experts,
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Answer an open question (the text from --answer, --answer-file, else $EDITOR).

    If someone else answered it meanwhile, yours is refused (exit 1) with who answered
    and when, and your text is kept in a file the message names. Exit 2 for an empty
    answer (the question stays open).

    Example: kb answer 12 --expert higby --answer "Yes: a flare after chemotherapy can hide..."
    """
    from kb import render

    if text is not None and answer_file is not None:
        refuse("--answer-file", "give the answer with --answer or --answer-file, not both")
    out = output_format(fmt, as_json)
    kb = open_kb(db)
    if text is None and answer_file is not None:
        text = _read_answer_file(answer_file)
    if text is None:
        text = write_answer(kb.get(ref))
    entry = kb.answer(ref, text, expert=expert)
    if out in ("table", "ids"):
        typer.echo(str(entry.id))
    elif out == "json":
        render.emit_json(render.entry_record(entry))
    else:
        render.emit_entries([entry], out)
    render.answered(entry)


def _read_answer_file(path: Path) -> str:
    from kb.errors import UsageError
    from kb.ingest.sources import decode

    if str(path) == "-":
        return _piped_text("the answer")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode(data, str(path))[0]


# Everything from this line on in the editor is left out of the answer (as git's
# scissors line): it shows the question being answered.
SCISSORS = "# ------------------------ >8 ------------------------"


def write_answer(question: "Entry") -> str:
    """Open the editor on a template that shows the question; return what was written above it."""
    from kb import asking
    from kb.cli.editor import edit_text

    if not question.is_open:
        raise asking.closed(question)
    quoted = "\n".join("# " + line for line in question.question.splitlines())
    template = (
        f"\n\n{SCISSORS}\n# Write the answer to #{question.id} above the line; nothing below it is kept.\n"
        f"# An empty answer leaves the question open.\n#\n{quoted}\n"
    )
    written = edit_text(template)
    return written.split(SCISSORS, 1)[0]


def inbox(
    expert: ExpertName = None,
    limit: LimitOption = 50,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List open questions oldest first, with how long each has waited: an expert's (those
    addressed to them, and unaddressed ones in categories they answered in), or all.

    Exit 1 when no expert has that name.

    Example: kb inbox higby ; kb inbox --format json
    """
    from kb import render

    out = output_format(fmt, as_json)
    render.inbox(open_kb(db).inbox(expert), out, limit or None)
