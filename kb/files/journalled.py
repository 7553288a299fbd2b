"""Small writes through the store's journal: add, update and remove of a few entries.

They append to the journal (kb.store.journal) and look up uids and ids in the index,
which the store's lock and the version check keep exactly in step with the store: neither
file is read or rewritten whole, so their cost does not grow with the store (a full
rewrite is ~5 s at 100k entries). The files backend (kb.files.backend) decides when a write may go
this way (``Store.can_journal``) and holds the lock around it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kb.errors import NotFound, SearchIndexError
from kb.models import Entry, now_iso
from kb.store.rules import fill_stored_ids, number, refuse_taken_uid, stamp_new, stamp_replacing

if TYPE_CHECKING:
    from kb.files.paired import StoreWithIndex


def add(kb: StoreWithIndex, entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Store the new entries under the next ids; return (added, duplicates already stored)."""
    index = kb.index
    known = index.ids_for_uids(e.uid for e in entries)
    stamp = now_iso()
    pending: dict[str, Entry] = {}
    duplicates: list[Entry] = []
    for entry in entries:
        entry.id = None
        if entry.uid in known or entry.uid in pending:
            duplicates.append(entry)
            continue
        stamp_new(entry, stamp)
        pending[entry.uid] = entry
    added = list(pending.values())
    next_id = number(added, index.last_id + 1)
    known.update((e.uid, e.stored_id()) for e in added)
    fill_stored_ids(duplicates, known)
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
    refuse_taken_uid(entry, index.ids_for_uids([entry.uid]).get(entry.uid))
    stamp_replacing(entry, old.created_at, now_iso())
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
