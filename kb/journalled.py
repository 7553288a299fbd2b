"""Small writes through the store's journal: add, update and remove of a few entries.

They append to the journal (kb.store.journal) and look up uids and ids in the index,
which the store's lock and the version check keep exactly in step with the store: neither
file is read or rewritten whole, so their cost does not grow with the store (a full
rewrite is ~5 s at 100k entries). The files backend (kb.files.backend) decides when a write may go
this way (``Store.can_journal``) and holds the lock around it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kb.errors import InvalidEntry, NotFound, SearchIndexError
from kb.models import Entry, now_iso

if TYPE_CHECKING:
    from kb.files.paired import StoreWithIndex


def add(kb: StoreWithIndex, entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Store the new entries under the next ids; return (added, duplicates already stored)."""
    index = kb.index
    known = index.ids_for_uids(e.uid for e in entries)
    next_id = index.last_id + 1
    stamp = now_iso()
    added: list[Entry] = []
    duplicates: list[Entry] = []
    for entry in entries:
        if entry.uid in known:
            entry.id = known[entry.uid]
            duplicates.append(entry)
            continue
        entry.id = next_id
        next_id += 1
        entry.created_at = entry.created_at or stamp
        entry.updated_at = entry.updated_at or stamp
        known[entry.uid] = entry.id
        added.append(entry)
    if added:
        kb.store.journal_write(kb.store.journal_ops_for(added, last_id=next_id - 1))
        try:
            index.set_last_id(next_id - 1)
            index.upsert(added, kb.store_version())
        except SearchIndexError as exc:
            kb.index_write_failed(exc)
    return added, duplicates


def update(kb: StoreWithIndex, entry: Entry) -> Entry:
    """Replace a stored entry (by its id), keeping its created date and original text."""
    index = kb.index
    old = index.get(entry.id) if entry.id is not None else None
    if old is None:
        raise NotFound("an entry to update needs the id of a stored entry")
    other = index.ids_for_uids([entry.uid]).get(entry.uid)
    if other is not None and other != entry.id:
        raise InvalidEntry(f"entry {other} already has this question and answer")
    entry.created_at = old.created_at or now_iso()
    entry.updated_at = now_iso()
    # The original text stays as stored: the op below carries none, and so leaves it.
    raw, entry.raw = entry.raw, None
    kb.store.journal_write(kb.store.journal_ops_for([entry]))
    entry.raw = raw
    try:
        index.upsert([entry], kb.store_version())
    except SearchIndexError as exc:
        kb.index_write_failed(exc)
    return entry


def remove(kb: StoreWithIndex, entries: list[Entry]) -> list[Entry]:
    """Remove these entries; return the ones that were stored."""
    index = kb.index
    present = set(index.ids_for_uids(e.uid for e in entries).values())
    gone = [e for e in entries if e.id in present]
    if gone:
        ops = [(table, str(e.id), None) for e in gone for table in ("entries", "raw")]
        kb.store.journal_write(ops)
        try:
            index.delete([e.stored_id() for e in gone], kb.store_version())
        except SearchIndexError as exc:
            kb.index_write_failed(exc)
    return gone
