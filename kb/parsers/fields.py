"""Which column or key of a record holds which field: the names people use, and ``--map``.

A spreadsheet's ``Question Text``, an export's ``prompt``/``response``, a ``Topic`` column:
a name is split into words (``questionText``, ``question_text`` and ``Question Text`` alike)
and names a field when it holds one of the field's words and nothing but words that do
not change its meaning ("text", "body"...). A word such as "id", "count" or "date" means
the column is about the question, not the question itself (``question_id``). The exact
names kb writes (``question``, ``answer``, ``q``, ``a``...) come first. ``--map`` names
the columns outright: ``question=Prompt,answer=Reply,category=Topic``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kb.errors import ParseError

# Field -> the exact names kb reads, lower case, preferred first.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "question": ("question", "q"),
    "answer": ("answer", "a"),
    "title": ("title",),
    "category": ("category",),
    "tags": ("tags",),
    "expert": ("expert",),
    "id": ("id",),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
}
# Field -> words that name it inside a longer name.
_FIELD_WORDS: dict[str, frozenset[str]] = {
    "question": frozenset({"question", "questions", "query", "prompt", "ask", "asked", "q"}),
    "answer": frozenset({"answer", "answers", "response", "reply", "solution", "resolution", "completion", "a"}),
    "title": frozenset({"title", "heading", "headline", "subject"}),
    "category": frozenset({"category", "categories", "topic", "section", "group", "theme", "area"}),
    "tags": frozenset({"tags", "tag", "keywords", "labels"}),
    "expert": frozenset({"expert", "author", "answerer"}),
}
# Words that leave a name's meaning as it is ("Question Text", "faq_answer_body").
_FILLER = frozenset({"text", "body", "content", "full", "the", "faq", "main", "html", "plain", "value", "name", "str"})
# Words that make a name about the field rather than the field ("question_id", "answer_count").
_ABOUT = frozenset(
    {"id", "ids", "uid", "uuid", "number", "num", "no", "count", "date", "time", "type", "url", "link", "score"}
    | {"votes", "rating", "status", "lang", "language", "length", "index", "kind", "is", "has"}
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

_cache: dict[tuple[object, ...], dict[str, str]] = {}


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


def _fuzzy(name: str) -> str | None:
    """The field a longer name stands for, or None."""
    words = set(_words(name))
    if not words or words & _ABOUT:
        return None
    for fieldname, names in _FIELD_WORDS.items():
        if words & names and words <= names | _FILLER:
            return fieldname
    return None


def parse_mapping(text: str) -> dict[str, str]:
    """Read ``question=COLUMN,answer=COLUMN,...`` into a field -> column dict.

    Raises:
        ParseError: for a part without ``=``, an unknown field, or no question/answer.
    """
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        fieldname, sep, column = part.partition("=")
        fieldname = fieldname.strip().lower()
        if not sep or not column.strip():
            raise ParseError(f"--map: {part.strip()!r} is not FIELD=COLUMN")
        if fieldname not in FIELD_ALIASES:
            raise ParseError(f"--map: unknown field {fieldname!r} (fields: {', '.join(FIELD_ALIASES)})")
        mapping[fieldname] = column.strip()
    return mapping


def field_keys(keys: Iterable[str], mapping: dict[str, str] | None = None) -> dict[str, str]:
    """Map each field to the first of ``keys`` that names it (``mapping`` first, then exact names)."""
    keys = list(keys)
    cache_key = (*keys, None, *(mapping or {}).items())
    found = _cache.get(cache_key)
    if found is not None:
        return found
    lowered: dict[str, str] = {}
    for key in keys:
        if isinstance(key, str):
            lowered.setdefault(key.strip().lstrip("\ufeff").lower(), key)
    found = {}
    for fieldname, column in (mapping or {}).items():
        if column.lower() in lowered:
            found[fieldname] = lowered[column.lower()]
    taken = set(found.values())
    for fieldname, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            if fieldname not in found and alias in lowered and lowered[alias] not in taken:
                found[fieldname] = lowered[alias]
                taken.add(lowered[alias])
    for key in lowered.values():
        guess = _fuzzy(key) if key not in taken else None
        if guess is not None and guess not in found:
            found[guess] = key
            taken.add(key)
    if len(_cache) > 256:  # records of one file share their keys; a few shapes at most
        _cache.clear()
    _cache[cache_key] = found
    return found


def suggest_map(keys: Iterable[str], mapping: dict[str, str] | None = None) -> str:
    """Return a ``--map`` that would read records with these keys, or nothing when none can.

    The question and answer found stay; a missing one is offered the columns in their
    order, those about something else ("id", "url"...) left out.
    """
    names = [k.strip() for k in keys if isinstance(k, str) and k.strip()]
    found = field_keys(names, mapping)
    chosen = {f: found[f] for f in ("question", "answer") if f in found}
    free = [n for n in names if n not in chosen.values() and not set(_words(n)) & _ABOUT]
    for fieldname in ("question", "answer"):
        if fieldname not in chosen:
            if not free:
                return ""
            chosen[fieldname] = free.pop(0)
    parts = [f"{f}={c if c.replace(' ', '').isalnum() else repr(c)}" for f, c in sorted(chosen.items())[::-1]]
    return "--map " + ",".join(parts)


def advice(keys: Iterable[str], mapping: dict[str, str] | None) -> str:
    """Say what would read a record lacking its question or answer: ``--map`` fixed, or given."""
    keys = list(keys)
    present = {k.strip().lower() for k in keys if isinstance(k, str)}
    absent = [column for column in (mapping or {}).values() if column.lower() not in present]
    if absent:
        return f"; --map names columns not found: {', '.join(absent)}"
    suggestion = suggest_map(keys, mapping)
    return f"; read it with {suggestion}" if suggestion else ""
