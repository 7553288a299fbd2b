"""Entries to rows and back: the columns kb reads and the values it writes.

An entry's JSON shape is rebuilt exactly from its row (kb.models' to_dict gives the same
bytes as the files backend): ``extra`` is kept as ``json``, which holds the text as
written (``jsonb`` would reorder its keys); the expert's profile lives once per expert
in ``experts`` and is joined back in; the dates stay the strings they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from kb.models import ASKING_FIELDS, Entry, Expert, Source, asking_fields

# The text search configuration of every tsvector kb writes: English stemming, as the
# files backend's porter tokenizer.
TS_CONFIG = "english"
# The columns a read selects (entries ``e`` left-joined to experts ``x``), in ENTRY order.
ENTRY_COLUMNS = (
    "e.id, e.uid, e.title, e.category, e.question, e.answer, e.expert, x.profile,"
    " e.tags, e.source, e.extra, e.created_at, e.updated_at,"
    " e.status, e.asked_by, e.asked_for, e.asked_at, e.answered_at, e.follows"
)
FROM_ENTRIES = "entries e LEFT JOIN experts x ON x.name = e.expert"

# The columns of an asked question (kb.models.ASKING_FIELDS, after its status).
ASKING_COLUMNS = ("status", *ASKING_FIELDS)

# The staging table an ingest batch is copied into before it is inserted (kb.postgres.writes).
STAGE_COLUMNS = (
    "id",
    "uid",
    "title",
    "label",
    "category",
    "expert",
    "tags",
    "question",
    "answer",
    "source",
    "extra",
    "created_at",
    "updated_at",
    "raw",
    *ASKING_COLUMNS,
)
STAGE_TABLE = """CREATE TEMP TABLE IF NOT EXISTS kb_stage (
    id bigint, uid text, title text, label text, category text, expert text, tags text[],
    question text, answer text, source jsonb, extra json, created_at text, updated_at text, raw text,
    status text, asked_by text, asked_for text, asked_at text, answered_at text, follows bigint
) ON COMMIT DELETE ROWS"""


def _json(value: Any) -> Any:
    """A json column's value as psycopg gives it: parsed, or text when loaders are off."""
    if isinstance(value, (str, bytes)):
        return orjson.loads(value)
    return value


def entry_from_row(row: tuple[Any, ...], raw: str | None = None) -> Entry:
    """Rebuild an Entry from a row of ENTRY_COLUMNS."""
    (id_, uid, title, category, question, answer, expert, profile, tags, source, extra, created, updated) = row[:13]
    asking = dict(zip(ASKING_COLUMNS, row[13:], strict=True))
    person: Expert | None = None
    if expert:
        person = Expert.from_dict(_json(profile)) if profile is not None else None
        person = person or Expert(name=expert)
    entry = Entry(
        question=question,
        answer=answer,
        title=title,
        category=category,
        expert=person,
        tags=list(tags or ()),
        source=Source.from_dict(_json(source)),
        extra=_json(extra) or {},
        id=int(id_),
        uid=uid,
        created_at=created,
        updated_at=updated,
        **asking_fields(asking),
    )
    entry.raw = raw
    return entry


def pg_text(value: str) -> str:
    """Text as PostgreSQL can hold it: it has no NUL character, so U+FFFD stands in for one.

    The only change of text between the backends (the files backend keeps a NUL); the
    uid, computed before, stays the one of the text as given.
    """
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def flat_json(record: dict[str, Any]) -> str:
    """A flat record (a source, a profile) as JSON text jsonb accepts: no NUL in its strings."""
    return orjson.dumps({k: pg_text(v) if isinstance(v, str) else v for k, v in record.items()}).decode()


def stage_row(entry: Entry) -> tuple[Any, ...]:
    """An entry's values in STAGE_COLUMNS order, for COPY."""
    return (
        entry.id,
        entry.uid,
        pg_text(entry.title),
        pg_text(entry.display_title()),
        pg_text(entry.category),
        pg_text(entry.expert.name) if entry.expert else None,
        [pg_text(t) for t in entry.tags],
        pg_text(entry.question),
        pg_text(entry.answer),
        flat_json(entry.source.to_dict()),
        orjson.dumps(entry.extra).decode(),  # json keeps "\u0000" as written
        entry.created_at,
        entry.updated_at,
        pg_text(entry.raw) if entry.raw is not None else None,
        entry.status,
        *(pg_text(v) if isinstance(v := getattr(entry, name), str) else v for name in ASKING_FIELDS),
    )


def profiles(entries: Iterable[Entry]) -> dict[str, Expert]:
    """The entries' expert profiles by name, each merged over the ones before it.

    As the files backend merges: a later entry's sections win, the sections it lacks come
    from the earlier profile.
    """
    out: dict[str, Expert] = {}
    for entry in entries:
        if entry.expert:
            name = entry.expert.name
            out[name] = entry.expert.merged(out.get(name))
    return out
