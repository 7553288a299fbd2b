"""The files backend's write rules: ids, dates and the uid check, in one place.

A full commit (``Store.apply``, ``Store.replace``) and a small write through the journal
(kb.files.journalled) both follow them; the PostgreSQL backend has its own, in SQL
(kb.postgres.writes).
"""

from __future__ import annotations

from collections.abc import Iterable

from kb.errors import InvalidEntry
from kb.models import Entry


def stamp_new(entry: Entry, stamp: str) -> None:
    """Date a new entry: the dates it brings (a restored backup's), else ``stamp``."""
    entry.created_at = entry.created_at or stamp
    entry.updated_at = entry.updated_at or stamp


def stamp_replacing(entry: Entry, created_at: str | None, stamp: str) -> None:
    """Date an entry that replaces a stored one: it keeps its creation date and is updated now."""
    entry.created_at = created_at or stamp
    entry.updated_at = stamp


def refuse_taken_uid(entry: Entry, holder: int | None) -> None:
    """Refuse an edit that gives ``entry`` the question and answer entry ``holder`` has."""
    if holder is not None and holder != entry.id:
        raise InvalidEntry(f"entry {holder} already has this question and answer")


def number(entries: Iterable[Entry], next_id: int) -> int:
    """Give each entry without an id the next one, in turn; return the id after the last.

    Ids only grow: one freed by a removal is not given to a new entry.
    """
    for entry in entries:
        if entry.id is None:
            entry.id = next_id
            next_id += 1
    return next_id


def fill_stored_ids(unchanged: Iterable[Entry], known: dict[str, int]) -> None:
    """Give entries already stored (or met earlier in the same write) the stored id."""
    for entry in unchanged:
        if entry.id is None:
            entry.id = known[entry.uid]
