"""The store's writes: adding, updating and removing entries, the journal, and repairs.

``Store`` is the class everyone uses; reading, locking and commits are in kb.store.base.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kb.errors import NotFound, StoreError
from kb.models import Entry, Expert, now_iso
from kb.store import journal
from kb.store.base import SCHEMA_VERSION, StoreBase
from kb.store.lookup import KeyLookup, ScanLookup, source_key
from kb.store.rules import fill_stored_ids, number, refuse_taken_uid, stamp_new, stamp_replacing
from kb.store.shards import shard_of


@dataclass
class BatchResult:
    """What one write batch did: ids added, updated, and uids that were already there."""

    added: list[Entry] = field(default_factory=list)
    updated: list[Entry] = field(default_factory=list)
    unchanged: list[Entry] = field(default_factory=list)


class Store(StoreBase):
    """Entries in TinyDB files, written only inside ``transaction()``.

    Pass ``storage=MemoryStorage`` (or no path) for a throwaway in-memory store (tests).
    """

    def can_journal(self) -> bool:
        """Whether a small write may be appended to the journal instead of a commit.

        Not for a store that does not exist yet (a journal needs a catalog file), one
        still in the single-file layout, or one whose journal has grown large enough to
        be folded into the shards.
        """
        if self.path is None or not self.path.exists() or journal.wants_compaction(self.path):
            return False
        # A catalog written before commit tokens gets one from a full write first.
        if journal.commit_token(self._view().catalog) is None:
            return False
        return int(self._meta().get("schema", 0) or 0) >= SCHEMA_VERSION

    def journal_ops_for(self, entries: Iterable[Entry], *, last_id: int | None = None) -> list[journal.Op]:
        """The journal ops that store these entries (whole documents, raw text, experts)."""
        ops: list[journal.Op] = []
        for entry in entries:
            ops.append(("entries", str(entry.id), self._doc_for(entry)))
            if entry.raw is not None:
                ops.append(("raw", str(entry.id), {"text": entry.raw}))
            if entry.expert:
                ops.append((journal.EXPERT_BY_NAME, entry.expert.name, entry.expert.to_dict()))
        if last_id is not None:
            ops.append((journal.META_MERGE, "1", {"schema": SCHEMA_VERSION, "last_id": last_id}))
        return ops

    def journal_write(self, ops: list[journal.Op]) -> None:
        """Append one write to the journal (the caller holds the lock)."""
        assert self.path is not None
        try:
            journal.append(self.path, ops, self._view().catalog)
        except OSError as exc:
            raise StoreError(
                f"cannot write store {self.path}: {exc.strerror or exc}; the previous version was kept"
            ) from exc
        if not self._depth:
            self._forget()  # the copy no longer matches the files

    def id_for_uid(self, uid: str) -> int | None:
        return self._lookup(None).ids_for_uids([uid]).get(uid)

    def _lookup(self, lookup: KeyLookup | None) -> KeyLookup:
        if lookup is not None:
            return lookup
        if self._scan is None:
            self._scan = ScanLookup(self.iter_documents())
        return self._scan

    def _doc_for(self, entry: Entry) -> dict[str, Any]:
        data = entry.to_dict()
        del data["id"]
        data["expert"] = entry.expert.name if entry.expert else None
        return data

    def _merge_experts(self, entries: Iterable[Entry]) -> None:
        """Merge the entries' expert profiles into the catalog's ``experts`` table.

        Only the names in ``entries`` are looked at: the table's name index is built once
        per catalog copy (see ``_expert_names``) and kept up to date here, so a bulk
        ingest that writes a thousand entries at a time does not read every profile the
        store holds for each thousand (a dump with millions of answerers would otherwise
        cost its square).
        """
        table = self._view().catalog["experts"]
        names = self._expert_names(table)
        changed = False
        for entry in entries:
            if not entry.expert:
                continue
            name = entry.expert.name
            found = names.profiles.get(name)
            base = found[1] if found else None
            merged = entry.expert.merged(base) if base else entry.expert
            if base is not None and merged == base:
                continue
            key = found[0] if found else names.new_key()
            table[key] = merged.to_dict()
            names.profiles[name] = (key, merged)
            changed = True
        if changed:
            self._catalog_changed = True

    def _expert_names(self, table: dict[str, Any]) -> _ExpertNames:
        """The name index of ``table`` (the current catalog copy's experts), made once."""
        names = self._experts_index
        if names is None or names.table is not table:
            names = self._experts_index = _ExpertNames(table)
        return names

    def apply(
        self, entries: Iterable[Entry], *, update_by_source: bool = True, lookup: KeyLookup | None = None
    ) -> BatchResult:
        """Add new entries, update those whose source record changed, skip known uids.

        An entry whose uid is already stored is unchanged (the same page saved under two
        names is one entry), unless it comes from the stored one's own file and record key
        with another category, title, tags or expert: then it updates it. Otherwise, an
        entry from the same file and record key as a stored one replaces it, keeping its id
        and created_at. Everything else is added.
        ``lookup`` says which uids and source records are stored (default: a scan of
        the store, kept for the transaction).
        """
        self._require_transaction()
        keys = self._lookup(lookup)
        entries = list(entries)
        known = keys.ids_for_uids(list(dict.fromkeys(e.uid for e in entries)))
        sources = {}
        if update_by_source:
            wanted = list(dict.fromkeys(k for e in entries if (k := source_key(e))))
            sources = keys.ids_for_sources(wanted) if wanted else {}
        result = BatchResult()
        stamp = now_iso()
        pending: dict[str, Entry] = {}
        for entry in entries:
            if entry.uid in known or entry.uid in pending:
                twin = known.get(entry.uid)
                entry.id = twin if twin is not None else None
                old = self._relabelled(twin, entry) if update_by_source and not entry.restored else None
                if old is not None and twin is not None:
                    # Same text from the same record, read with another category, title,
                    # tags or expert (a second ingest with --site): the stored one takes them.
                    stamp_replacing(entry, old.get("created_at"), stamp)
                    keys.note_replaced(old["uid"], entry)
                    self._put([entry])
                    result.updated.append(entry)
                    continue
                result.unchanged.append(entry)
                continue
            # A restored entry is one version of its record among others: it never
            # replaces the stored one by source, only comes back when its uid is missing.
            src_key = source_key(entry) if update_by_source and not entry.restored else None
            old_id = sources.get(src_key) if src_key else None
            old = self._doc(old_id) if old_id is not None else None
            if old is not None and old_id is not None:
                entry.id = old_id
                stamp_replacing(entry, old.get("created_at"), stamp)
                known.pop(old["uid"], None)
                known[entry.uid] = old_id
                keys.note_replaced(old["uid"], entry)
                self._put([entry])
                result.updated.append(entry)
                continue
            stamp_new(entry, stamp)
            pending[entry.uid] = entry
        result.added = list(pending.values())
        claimed = self._claim_ids(result.added)
        number(result.added, max(self._next_id(), max(claimed, default=0) + 1))
        for entry in result.added:
            known[entry.uid] = entry.stored_id()
            keys.note_added(entry)
        fill_stored_ids(result.unchanged, known)
        self._put(result.added)
        self._merge_experts(result.added + result.updated)
        return result

    def _relabelled(self, twin: int | None, entry: Entry) -> dict[str, Any] | None:
        """The stored doc ``twin`` when ``entry`` comes from its source record with other labels.

        Labels are what an entry's uid leaves out: category, title, tags and expert. A twin
        read from another file or record (the same page saved twice) stays as it is.
        """
        src = source_key(entry)
        if twin is None or src is None:
            return None
        old = self._doc(twin)
        if old is None:
            return None
        old_src = old.get("source") or {}
        if (old_src.get("path"), str(old_src.get("key"))) != src:
            return None
        expert = entry.expert.name if entry.expert else None
        if (
            (old.get("category") or "") == entry.category
            and (old.get("title") or "") == entry.title
            and list(old.get("tags") or []) == list(entry.tags)
            and (old.get("expert") or None) == expert
        ):
            return None
        return old

    def _claim_ids(self, entries: list[Entry]) -> set[int]:
        """Let restored entries keep their ids where no stored entry holds them; clear the rest.

        Returns the ids kept. An id freed by a removal counts as free: restoring the
        removed entry brings it back under the id it had.
        """
        claimed: set[int] = set()
        for entry in entries:
            wanted = entry.id if entry.restored else None
            if wanted is not None and wanted not in claimed and self._doc(wanted) is None:
                claimed.add(wanted)
            else:
                entry.id = None
        return claimed

    def replace(self, entry: Entry, *, lookup: KeyLookup | None = None) -> Entry:
        """Overwrite a stored entry (by ``entry.id``) with new content, e.g. after an edit."""
        self._require_transaction()
        old = self._doc(entry.id) if entry.id is not None else None
        if old is None:
            raise NotFound(f"no entry with id {entry.id}")
        keys = self._lookup(lookup)
        refuse_taken_uid(entry, keys.ids_for_uids([entry.uid]).get(entry.uid))
        stamp_replacing(entry, old.get("created_at"), now_iso())
        keys.note_replaced(old["uid"], entry)
        self._put([entry])
        self._merge_experts([entry])
        return entry

    def remove(self, ids: Iterable[int], *, lookup: KeyLookup | None = None) -> list[int]:
        """Remove entries by id; return the ids that existed and are now gone."""
        self._require_transaction()
        size = self._view().shard_size
        present = []
        for entry_id in dict.fromkeys(ids):
            if entry_id is None or int(entry_id) < 1:
                continue
            data = self._shard(shard_of(entry_id, size))
            doc = data["entries"].get(str(entry_id))
            if doc is None:
                continue
            data = self._changed(shard_of(entry_id, size))
            del data["entries"][str(entry_id)]
            data["raw"].pop(str(entry_id), None)
            present.append(entry_id)
            if lookup is not None or self._scan is not None:
                self._lookup(lookup).note_removed(doc["uid"])
        return present

    def put_shard(self, number: int, data: dict[str, Any]) -> None:
        """Replace a whole shard (a repair); the journal's ops for it apply on top."""
        self._require_transaction()
        snap = self._view()
        data = {"entries": dict(data.get("entries") or {}), "raw": dict(data.get("raw") or {})}
        for op in snap.ops.pop(number, ()):
            journal.apply_op(data, *op)
        if snap.legacy is not None:
            snap.legacy.pop(number, None)
        self._loaded[number] = data
        self._dirty.add(number)
        self._written.pop(number, None)
        top = max((int(k) for k in data["entries"]), default=0)
        self._top_id = max(self._top_id or int(self._meta().get("last_id", 0) or 0), top)
        self._catalog_changed = True

    def set_shard_counts(self, counts: dict[str, int]) -> None:
        """Correct the catalog's entry counts of shards (a repair)."""
        self._require_transaction()
        shards = self._view().catalog["shards"]
        for key, count in counts.items():
            if isinstance(shards.get(key), dict):
                shards[key]["entries"] = count
                self._catalog_changed = True

    def fold_journal(self) -> None:
        """Commit the journal's writes into the shards and the catalog (a repair)."""
        self._require_transaction()
        self._catalog_changed = True

    def _require_transaction(self) -> None:
        if not self._depth:
            raise StoreError("the store can only be written inside a transaction")

    def _next_id(self) -> int:
        """Return the next unused id; ids of removed entries are never handed out again."""
        if self._top_id is None:
            self._top_id = int(self._meta().get("last_id", 0) or 0)
        return self._top_id + 1

    def _put(self, entries: list[Entry]) -> None:
        """Write entries and their raw text into their shards.

        The documents go straight into the shards' data (TinyDB's own format: table ->
        id -> document) rather than through TinyDB's Table, which copies and converts
        every key of a table on each call. An entry written without raw text keeps the
        raw text it had.
        """
        if not entries:
            return
        size = self._view().shard_size
        for entry in entries:
            entry_id = entry.stored_id()
            data = self._changed(shard_of(entry_id, size))
            data["entries"][str(entry_id)] = self._doc_for(entry)
            if entry.raw is not None:
                data["raw"][str(entry_id)] = {"text": entry.raw}
            if self._top_id is None or entry_id > self._top_id:
                self._top_id = max(self._next_id() - 1, entry_id)
        self._catalog_changed = True


def read_whole(path: str | os.PathLike[str], *, shards: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Return a store as one dict of tables (meta, experts, entries, raw), journal applied.

    The shape of a single-file TinyDB store: for tests, checks and small stores only, as it
    holds every entry in memory. ``shards`` is the folder of its shard files when that is
    not the one beside ``path`` (a backup catalog, ``kb.json.bak``, names files in
    ``kb.json.d``).
    """
    store = Store(path, shards=shards)
    snap = store._view()
    entries: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for doc_id, (doc, text) in store.iter_documents(with_raw=True):
        entries[str(doc_id)] = doc
        if text is not None:
            raw[str(doc_id)] = text
    return {
        "meta": snap.catalog.get("meta", {}),
        "experts": snap.catalog.get("experts", {}),
        "entries": entries,
        "raw": raw,
    }


class _ExpertNames:
    """An experts table's profiles by name, with the doc id (a string key) each has.

    Held for one catalog copy (``table`` is that copy's dict, compared by identity):
    a new copy, read after another writer's commit or a rollback, gets a new index.
    """

    __slots__ = ("next_key", "profiles", "table")

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.profiles: dict[str, tuple[str, Expert]] = {}
        top = 0
        for key, doc in table.items():
            if str(key).isdigit():
                top = max(top, int(key))
            expert = Expert.from_dict(doc) if isinstance(doc, dict) else None
            if expert:
                self.profiles[expert.name] = (key, expert)
        self.next_key = top + 1

    def new_key(self) -> str:
        """A doc id no profile has (TinyDB's way: one past the highest)."""
        key = str(self.next_key)
        self.next_key += 1
        return key
