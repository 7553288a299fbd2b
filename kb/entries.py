"""Entries from what people type or pipe: loose fields, JSON or Markdown text, and their checks.

The API and the CLI's add/edit build entries here; text is cleaned as the parsers clean
it, so an entry typed in exports and reads back with the same fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from kb.errors import Duplicate, InvalidEntry, ParseError
from kb.models import Entry, Expert, Source, split_tags


def validate(entry: Entry, *, hint: str | None = None) -> None:
    """Raise InvalidEntry (with this hint) unless the entry has a question and an answer."""
    missing = missing_fields(entry)
    if entry.is_open and entry.answer.strip():
        raise InvalidEntry("an open question has no answer yet", hint="answer it with 'kb answer ID'")
    if missing:
        raise InvalidEntry(f"missing {' and '.join(missing)}: an entry needs a question and an answer", hint=hint)


def expert_from_name(name: str | None) -> Expert | None:
    return Expert(name=name.strip()) if name and name.strip() else None


def entry_from_fields(
    *,
    question: str | None = "",
    answer: str | None = "",
    title: str | None = "",
    category: str | None = "",
    expert: str | Expert | dict[str, Any] | None = None,
    tags: str | Iterable[str] | None = (),
    source: Source | None = None,
) -> Entry:
    """Build an Entry from loose fields, with text cleaned as the parsers clean it.

    ``tags`` is a list or a comma-separated string. Missing question or answer are left
    empty: ``validate`` (or ``KnowledgeBase.add``) says which is missing.
    """
    from kb.parsers.json import clean_text

    if isinstance(expert, str):
        expert = expert_from_name(clean_text(expert))
    elif isinstance(expert, dict):
        expert = Expert.from_dict(expert)
    return Entry(
        question=clean_text(question or ""),
        answer=clean_text(answer or ""),
        title=clean_text(title or ""),
        category=clean_text(category or ""),
        expert=expert,
        tags=_tag_list(tags),
        source=source or Source(format="manual"),
    )


def _tag_list(tags: str | Iterable[str] | None) -> list[str]:
    if not tags:
        return []
    if isinstance(tags, str):
        return split_tags(tags)
    out: list[str] = []
    for tag in tags:
        for part in split_tags(tag):
            if part not in out:
                out.append(part)
    return out


def with_fields(entry: Entry, **fields: Any) -> Entry:
    """Return a copy of ``entry`` with some of ``add``'s keyword fields replaced."""
    fresh = entry_from_fields(**({name: getattr(entry, name) for name in _EDITABLE} | fields))
    return replace(entry, **{name: getattr(fresh, name) for name in _EDITABLE}, uid="")


_EDITABLE = ("question", "answer", "title", "category", "expert", "tags")


def normalise(entry: Entry) -> None:
    """Clean an entry's text in place as the parsers do (LF line ends, no blank edges).

    So an entry stored through the API exports and reads back with the same fields.
    """
    from kb.parsers.json import clean_text

    for name in ("question", "answer", "title", "category"):
        setattr(entry, name, clean_text(getattr(entry, name)))
    entry.refresh_uid()


def fold_categories(entries: Iterable[Entry], known: Iterable[str]) -> list[Entry]:
    """Spell each entry's category as the ``known`` name it matches but for case."""
    spelling = {name.casefold(): name for name in known}
    return [replace(e, category=spelling.get(e.category.casefold(), e.category)) if e.category else e for e in entries]


def missing_fields(entry: Entry) -> list[str]:
    """Return the required fields ``entry`` lacks: "question", "answer", both or none.

    An open question (posted, waiting for an expert) needs only its question.
    """
    required = ("question",) if entry.is_open else ("question", "answer")
    return [name for name in required if not getattr(entry, name).strip()]


def parse_entries(text: str, name: str = "<stdin>") -> list[Entry]:
    """Read entries from JSON (an object or a list), JSON Lines or Markdown text.

    All or nothing: a record without a question or answer raises InvalidEntry naming it
    (and how many others are bad), so ``kb add`` never adds half of its input.
    """
    from kb import parsers

    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise InvalidEntry("no entry given: the input is empty")
    try:
        fmt = parsers.detect(body, name, among=parsers.ADDABLE)
    except ParseError:
        # The parser that says best what is wrong: JSON's names the line and column.
        fmt = "json" if body[0] in "[{" else "markdown"
    parser = parsers.get(fmt)
    if hasattr(parser, "iter_parse"):
        items: list[Entry | ParseError] = list(parser.iter_parse(body, name))
    else:
        try:
            items = list(parser.parse(body, name))
        except ParseError as exc:
            raise InvalidEntry(str(exc), hint="Markdown needs '## Question' and '## Answer' sections") from None
    bad = [item for item in items if isinstance(item, ParseError)]
    if bad:
        more = f" (and {len(bad) - 1} more bad records)" if len(bad) > 1 else ""
        raise InvalidEntry(f"{bad[0]}{more}; nothing added")
    entries = [item for item in items if isinstance(item, Entry)]
    for entry in entries:
        # Typed or piped text has no file that could update it later.
        entry.source.path = None
        entry.source.key = None
    return entries


def duplicate_error(entry: Entry) -> Duplicate:
    """Return the error for an entry whose question and answer are already stored as ``entry.id``."""
    return Duplicate(
        f"entry {entry.id} already has this question and answer; nothing added",
        existing_id=entry.id,
        hint=f"see it with: kb show {entry.id}",
    )
