"""The store of record: TinyDB files, written atomically under an inter-process lock.

A store is a catalog and its shards, all in TinyDB's JSON format:

- ``kb.json``, the catalog: tables ``meta`` (schema version, the last id handed out, the
  shard size, the generation of the last commit), ``experts`` (one merged profile per
  name, so a bio is stored once) and ``shards`` (doc id = shard number: its file and how
  many entries it holds);
- ``kb.json.d/NNNNNN-G.json``, the shards: shard N holds the entries with ids
  ``(N-1)*S+1 .. N*S`` in table ``entries`` (doc id = the entry id people type; the
  expert is kept by name) and their original text in table ``raw``. G is the
  generation that wrote the file: a shard is never rewritten in place, a new version
  gets a new name.

Why shards: TinyDB keeps a database in one JSON document that it reads and writes whole,
so one file would make every command that touches the store pay for all of it: at 1M
entries the file is 3.5 GB, a load takes a minute and ~15 GB, and an ingest holds the
whole store in memory (925 MB at 100k). With shards an ingest holds a few shards at a
time, ``show --raw`` reads one, and a commit rewrites only the shards it changed.

A commit writes the changed shards under new names, fsyncs them, then replaces the
catalog atomically (temporary file, fsync, rename, folder fsync): a crash leaves either
the old catalog, whose files are all still there, or the new one. The replaced catalog
is kept as ``kb.json.bak`` with the shard files it names (they are deleted one commit
later), so the last good copy is always whole. Small writes go to a journal instead
(kb/journal.py), replayed over the catalog and each shard as they are read.

A store written by kb before shards (schema 1: entries in ``kb.json`` itself) is read
as it is and converted at its first write.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage

from kb.errors import InvalidEntry, NotFound, StoreBusy, StoreError
from kb.models import Entry, Expert, now_iso
from kb.paths import store_signature
from kb.store import journal
from kb.store.shards import (
    TEMP_FILE,
    Files,
    MemoryFiles,
    Snapshot,
    catalog_files,
    damaged,
    parse_shard_file_name,
    read_snapshot,
    shard_file_name,
    shard_folder,
    shard_of,
)

SCHEMA_VERSION = 2
DEFAULT_LOCK_TIMEOUT = 10.0
# Shards a process keeps parsed at once; a changed shard pushed out is written to a
# new file (named by the catalog only at the commit), so a long ingest holds at most
# this many whatever the store's size.
KEEP_LOADED = 4

# -- finding stored entries by uid and by source ----------------------------------------------


class KeyLookup(Protocol):
    """Where ``Store.apply`` finds the ids of stored uids and source records.

    The store scans its shards for them (``ScanLookup``); kb's API passes one backed by
    the search index instead, so that an ingest never holds every key in memory. The
    ``note_*`` calls tell it what a write changed, before that reaches the index.
    """

    def ids_for_uids(self, uids: list[str]) -> dict[str, int]: ...

    def ids_for_sources(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]: ...

    def note_added(self, entry: Entry) -> None: ...

    def note_replaced(self, old_uid: str, entry: Entry) -> None: ...

    def note_removed(self, uid: str) -> None: ...


class ScanLookup:
    """Every uid and source key of the store in two dicts, built by reading each shard once."""

    def __init__(self, store: Store) -> None:
        self.by_uid: dict[str, int] = {}
        self.by_source: dict[tuple[str, str], int] = {}
        for doc_id, doc in store._iter_docs():
            self.by_uid[doc["uid"]] = doc_id
            src = doc.get("source") or {}
            if src.get("path") and src.get("key") is not None:
                self.by_source[(src["path"], str(src["key"]))] = doc_id

    def ids_for_uids(self, uids: list[str]) -> dict[str, int]:
        return {uid: self.by_uid[uid] for uid in uids if uid in self.by_uid}

    def ids_for_sources(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {key: self.by_source[key] for key in keys if key in self.by_source}

    def note_added(self, entry: Entry) -> None:
        self.by_uid[entry.uid] = entry.id
        if src := source_key(entry):
            self.by_source[src] = entry.id

    def note_replaced(self, old_uid: str, entry: Entry) -> None:
        self.by_uid.pop(old_uid, None)
        self.note_added(entry)

    def note_removed(self, uid: str) -> None:
        self.by_uid.pop(uid, None)


# -- the store --------------------------------------------------------------------------------


class _CatalogStorage(Storage):
    """TinyDB's view of the catalog: the store's current copy, written at the commit."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def read(self) -> dict[str, Any] | None:
        return self.store._view().catalog

    def write(self, data: dict[str, Any]) -> None:
        if not self.store._depth:
            raise StoreError("the store can only be written inside a transaction")
        self.store._catalog_changed = True


@dataclass
class BatchResult:
    """What one write batch did: ids added, updated, and uids that were already there."""

    added: list[Entry] = field(default_factory=list)
    updated: list[Entry] = field(default_factory=list)
    unchanged: list[Entry] = field(default_factory=list)


class _Retry(Exception):
    """A shard file named by the catalog a reader holds was replaced meanwhile."""


class Store:
    """Entries in TinyDB files, written only inside ``transaction()``.

    Pass ``storage=MemoryStorage`` (or no path) for a throwaway in-memory store (tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        storage: type[Storage] | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        if storage is MemoryStorage or self.path is None:
            self.path = None
            self._files: Files | MemoryFiles = MemoryFiles()
        else:
            if self.path.is_dir():
                raise StoreError(f"store path {self.path} is a folder, not a file")
            self._files = Files(self.path)
        self._db = TinyDB(self, storage=_CatalogStorage)
        self._lock = None
        self._snap: Snapshot | None = None
        self._depth = 0
        self._catalog_changed = False
        self._loaded: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._dirty: set[int] = set()
        self._written: dict[int, tuple[str, int]] = {}  # this transaction's files: name, count
        self._generation: int | None = None
        self._scan: ScanLookup | None = None
        self._top_id: int | None = None  # the highest id handed out, once known
        # A commit keeps the catalog it replaces as kb.json.bak; a repair turns this off,
        # so that a catalog naming a damaged file never pushes out the last good copy.
        self.rotate_backup = True

    # -- locking and transactions ------------------------------------------------------

    @property
    def lock_path(self) -> Path | None:
        return self.path.with_name(self.path.name + ".lock") if self.path else None

    @property
    def shard_folder(self) -> Path | None:
        return shard_folder(self.path) if self.path else None

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the store's lock, read the current catalog, and write once at the end.

        On an exception nothing is committed and the in-memory copy is dropped.
        """
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def begin(self) -> None:
        """Start a transaction by hand: take the lock and make the copy current.

        For writes that span a loop (ingest); end it with ``commit()`` or ``rollback()``.
        """
        lock = self._acquire()
        try:
            if self._depth == 0:
                version = self._files.version()
                if self._snap is None or self._snap.version is None or self._snap.version != version:
                    self._forget()
                    self._snap = read_snapshot(self._files, version)
                self._catalog_changed = False
            self._depth += 1
            self._check_schema()
        except BaseException:
            if self._depth:
                self._depth -= 1
            if not self._depth:
                self._forget()
            if lock is not None:
                lock.release()
            raise

    def commit(self) -> None:
        """Write the transaction's changes (new shard files, then the catalog) and release the lock."""
        try:
            self._depth -= 1
            if self._depth == 0:
                try:
                    if self._dirty or self._written or self._catalog_changed:
                        self._write_out()
                except BaseException:
                    self._discard_written()
                    self._forget()
                    raise
        finally:
            if self._lock is not None:
                self._lock.release()

    def rollback(self) -> None:
        """Drop the transaction's changes (nothing is committed) and release the lock."""
        try:
            self._depth = 0
            self._discard_written()
            self._forget()
        finally:
            if self._lock is not None:
                self._lock.release()

    @contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the store's lock without reading it (for index rebuilds)."""
        lock = self._acquire(timeout)
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    def _acquire(self, timeout: float | None = None):
        """Take the inter-process lock (re-entrant: nested holds in one process are fine).

        Waits ``timeout`` seconds (default: the store's lock timeout), then raises StoreBusy.
        """
        if self.lock_path is None:
            return None
        from filelock import FileLock, Timeout

        if self._lock is None:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(self.lock_path, timeout=self.lock_timeout, mode=0o600)
        waited = self.lock_timeout if timeout is None else timeout
        try:
            self._lock.acquire(timeout=waited)
        except Timeout:
            raise StoreBusy(
                f"store {self.path} is busy: another kb process has held it for over {waited:g} s",
                hint="try again when it finishes, or raise KB_LOCK_TIMEOUT",
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot lock store {self.path}: {exc.strerror or exc}") from exc
        return self._lock

    def _forget(self) -> None:
        """Drop everything read or changed: the next use reads the files afresh."""
        self._snap = None
        self._loaded.clear()
        self._dirty.clear()
        self._written.clear()
        self._generation = None
        self._scan = None
        self._top_id = None
        self._catalog_changed = False
        # TinyDB caches Table objects that remember query results and the next id
        # (TinyDB 4 keeps them in `_tables`; see the pin in pyproject).
        self._db._tables.clear()

    def _check_schema(self) -> None:
        meta = self._meta()
        if int(meta.get("schema", 0) or 0) > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} was written by a newer kb (schema {meta['schema']}); "
                "upgrade kb to use it"
            )

    def _meta(self) -> dict[str, Any]:
        meta = self._view().catalog["meta"].get("1")
        return meta if isinstance(meta, dict) else {}

    def _view(self) -> Snapshot:
        """The catalog this call reads: the transaction's, or the files' current one."""
        if self._depth:
            assert self._snap is not None
            return self._snap
        version = self._files.version()
        if self._snap is None or self._snap.version is None or self._snap.version != version:
            self._forget()
            # The version is taken before the read: if a writer slips in between, the copy
            # is newer than its tag, and the next call's check reads it again.
            self._snap = read_snapshot(self._files, version)
        return self._snap

    def signature(self) -> str:
        """Return a token that changes whenever the store is written (see kb.paths)."""
        if self.path is None:
            return "memory"
        try:
            return store_signature(self.path)
        except OSError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc.strerror or exc}") from exc

    def last_id(self) -> int:
        """The highest id ever handed out."""
        return int(self._meta().get("last_id", 0) or 0)

    # -- shards ----------------------------------------------------------------------------

    def _shard(self, number: int) -> dict[str, Any]:
        """Return shard ``number`` as this process sees it (loaded, and kept for a while)."""
        data = self._loaded.get(number)
        if data is not None:
            self._loaded.move_to_end(number)
            return data
        data = self._read_shard(number)
        self._loaded[number] = data
        while len(self._loaded) > KEEP_LOADED:
            old, old_data = self._loaded.popitem(last=False)
            if old in self._dirty:
                self._write_shard(old, old_data)
        return data

    def _read_shard(self, number: int) -> dict[str, Any]:
        snap = self._view()
        if number in self._written:
            # Written out earlier in this transaction, with the journal's ops already in.
            return self._files.read_shard(self._written[number][0])
        if snap.legacy is not None and number in snap.legacy:
            return snap.legacy[number]
        doc = snap.catalog["shards"].get(str(number))
        if isinstance(doc, dict) and isinstance(doc.get("file"), str):
            try:
                data = self._files.read_shard(doc["file"])
            except FileNotFoundError:
                if not self._depth:
                    raise _Retry from None
                raise damaged(self.path, f"its shard file {doc['file']} is missing") from None
        else:
            data = {"entries": {}, "raw": {}}
        for op in snap.ops.get(number, ()):
            journal.apply_op(data, *op)
        return data

    def _with_retry(self, read):
        """Run a read outside a transaction again if a writer replaced a shard file under it."""
        for _ in range(5):
            try:
                return read()
            except _Retry:
                self._forget()
        return read()

    def _write_shard(self, number: int, data: dict[str, Any]) -> None:
        """Write a changed shard to a new file that the commit's catalog will name."""
        if self._generation is None:
            # Above every generation on disk, so no file that any catalog names (the
            # backup's, or a damaged one kept aside) is ever overwritten.
            on_disk = [parsed[1] for name in self._files.names() if (parsed := parse_shard_file_name(name))]
            self._generation = max([int(self._meta().get("generation", 0) or 0), *on_disk]) + 1
        name = shard_file_name(number, self._generation)
        self._files.write_shard(name, data)
        self._written[number] = (name, len(data["entries"]))
        self._dirty.discard(number)

    def _changed(self, number: int) -> dict[str, Any]:
        data = self._shard(number)
        self._dirty.add(number)
        return data

    def _write_out(self) -> None:
        """Commit: fold the journal, write changed shards, then the catalog; drop old files."""
        snap = self._snap
        assert snap is not None
        # The new catalog makes the journal stale, so every shard it touches is rewritten
        # with its ops in, and a schema-1 store is written out as shards.
        for number in sorted(set(snap.ops) | set(snap.legacy or ())):
            if number not in self._written:
                self._changed(number)
        for number in sorted(self._dirty):
            self._write_shard(number, self._loaded[number])
        previous = snap.files()
        catalog = snap.catalog
        shards = catalog.setdefault("shards", {})
        for number, (name, count) in sorted(self._written.items()):
            shards[str(number)] = {"file": name, "entries": count}
        meta = catalog.setdefault("meta", {}).setdefault("1", {"created_at": now_iso()})
        meta["schema"] = SCHEMA_VERSION
        meta["shard_size"] = snap.shard_size
        meta["last_id"] = max(self._top_id or 0, int(meta.get("last_id", 0) or 0))
        if self._generation is not None:
            meta["generation"] = self._generation
        self._files.sync()
        self._files.write_catalog(catalog, backup=self.rotate_backup)
        # Committed: the files written are the store's now, whatever fails below (a
        # failed commit deletes the files it wrote, and these must stay).
        self._written.clear()
        # The new catalog holds every journalled write; a crash before this line leaves a
        # journal naming the old catalog, which is then ignored (as this one would be if
        # it could not be removed).
        if self.path is not None:
            try:
                journal.discard(self.path)
            except OSError:
                pass
        # Keep the files of the new catalog and of the backup (the replaced catalog, or
        # an older one that a repair left in place), so the backup stays whole.
        keep = catalog_files(catalog) | previous | self._files.backup_files()
        for name in self._files.names():
            if (parse_shard_file_name(name) and name not in keep) or TEMP_FILE.fullmatch(name):
                self._files.remove(name)
        snap.ops = {}
        snap.legacy = None
        snap.version = self._files.version()
        self._dirty.clear()
        self._generation = None
        self._catalog_changed = False

    def _discard_written(self) -> None:
        for name, _count in self._written.values():
            self._files.remove(name)

    # -- small writes through the journal (see kb/journal.py) ----------------------------

    def can_journal(self) -> bool:
        """Whether a small write may be appended to the journal instead of a commit.

        Not for a store that does not exist yet (a journal needs a catalog file), one
        still in the single-file layout, or one whose journal has grown large enough to
        be folded into the shards.
        """
        if self.path is None or not self.path.exists() or journal.wants_compaction(self.path):
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
            journal.append(self.path, ops)
        except OSError as exc:
            raise StoreError(
                f"cannot write store {self.path}: {exc.strerror or exc}; the previous version was kept"
            ) from exc
        if not self._depth:
            self._forget()  # the copy no longer matches the files

    def exists(self) -> bool:
        return self.path is None or self.path.exists()

    def size_bytes(self) -> int:
        """Bytes on disk of the store's current version: catalog, journal and shard files."""
        if self.path is None:
            return 0
        files = [self.path, journal.journal_path(self.path)]
        folder = shard_folder(self.path)
        files += [folder / name for name in self._view().files()]
        total = 0
        for path in files:
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    # -- reading -----------------------------------------------------------------------

    def count(self) -> int:
        """Return how many entries the store holds."""
        return self._with_retry(self._count)

    def _count(self) -> int:
        snap = self._view()
        total = 0
        for number in snap.numbers() | set(self._loaded) | set(self._written):
            if number in self._loaded:
                total += len(self._loaded[number]["entries"])
            elif number in self._written:
                total += self._written[number][1]
            elif number in snap.ops or (snap.legacy and number in snap.legacy):
                total += len(self._read_shard(number)["entries"])
            else:
                total += int(snap.catalog["shards"].get(str(number), {}).get("entries", 0))
        return total

    def experts(self) -> dict[str, Expert]:
        out = {}
        for doc in self._view().catalog["experts"].values():
            expert = Expert.from_dict(doc) if isinstance(doc, dict) else None
            if expert:
                out[expert.name] = expert
        return out

    def _to_entry(self, doc: dict[str, Any], doc_id: int, experts: dict[str, Expert]) -> Entry:
        data = dict(doc)
        name = data.get("expert")
        if isinstance(name, str):
            data["expert"] = (experts.get(name) or Expert(name=name)).to_dict()
        data["id"] = doc_id
        return Entry.from_dict(data)

    def _numbers(self) -> list[int]:
        return sorted(self._view().numbers() | set(self._loaded) | set(self._written))

    def _iter_docs(self, *, with_raw: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield (id, document) for every entry in id order, one shard at a time.

        Inside a transaction the shards go through the cache (changes are seen). Outside,
        each is read once and let go, from the catalog current at that moment: if a
        writer commits meanwhile, every entry is still whole, but shards read before and
        after that commit come from two versions.
        """
        done = 0
        while True:
            try:
                later = [n for n in self._numbers() if n > done]
                if not later:
                    return
                number = min(later)
                data = self._shard(number) if self._depth else self._read_shard(number)
            except _Retry:
                self._forget()
                continue
            raw = data["raw"] if with_raw else None
            for key in sorted(data["entries"], key=int):
                doc = data["entries"][key]
                yield int(key), (doc if raw is None else (doc, raw.get(key)))
            done = number

    def iter_entries(self) -> Iterator[Entry]:
        """Yield every entry in id order, with its expert's profile joined in."""
        experts = self.experts()
        for doc_id, doc in self._iter_docs():
            yield self._to_entry(doc, doc_id, experts)

    def iter_documents(self, *, with_raw: bool = False) -> Iterator[tuple[int, Any]]:
        """Yield (id, stored document) — or (id, (document, raw document)) — in id order."""
        return self._iter_docs(with_raw=with_raw)

    def _doc(self, entry_id: int) -> dict[str, Any] | None:
        if entry_id is None or int(entry_id) < 1:
            return None
        size = self._view().shard_size
        if self._depth:
            return self._shard(shard_of(entry_id, size))["entries"].get(str(entry_id))
        return self._with_retry(lambda: self._shard(shard_of(entry_id, size))["entries"].get(str(entry_id)))

    def get(self, entry_id: int) -> Entry:
        doc = self._doc(entry_id)
        if doc is None:
            raise NotFound(f"no entry with id {entry_id}")
        return self._to_entry(doc, int(entry_id), self.experts())

    def get_raw(self, entry_id: int) -> str | None:
        if entry_id is None or int(entry_id) < 1:
            return None
        size = self._view().shard_size

        def read() -> str | None:
            doc = self._shard(shard_of(entry_id, size))["raw"].get(str(entry_id))
            return doc.get("text") if isinstance(doc, dict) else None

        return read() if self._depth else self._with_retry(read)

    def id_for_uid(self, uid: str) -> int | None:
        return self._lookup(None).ids_for_uids([uid]).get(uid)

    def _lookup(self, lookup: KeyLookup | None) -> KeyLookup:
        if lookup is not None:
            return lookup
        if self._scan is None:
            self._scan = ScanLookup(self)
        return self._scan

    # -- writing (inside a transaction) ------------------------------------------------

    def _doc_for(self, entry: Entry) -> dict[str, Any]:
        data = entry.to_dict()
        del data["id"]
        data["expert"] = entry.expert.name if entry.expert else None
        return data

    def _merge_experts(self, entries: Iterable[Entry]) -> None:
        table = self._db.table("experts")
        current = {doc["name"]: doc.doc_id for doc in table.all()}
        changed: dict[str, Expert] = {}
        known = self.experts()
        for entry in entries:
            if not entry.expert:
                continue
            name = entry.expert.name
            base = changed.get(name) or known.get(name)
            merged = entry.expert.merged(base) if base else entry.expert
            if base is None or merged != base:
                changed[name] = merged
        if not changed:
            return
        new_docs = []
        for name, expert in changed.items():
            if name in current:
                table.update(_replace_with(expert.to_dict()), doc_ids=[current[name]])
            else:
                new_docs.append(expert.to_dict())
        if new_docs:
            table.insert_multiple(new_docs)

    def apply(
        self, entries: Iterable[Entry], *, update_by_source: bool = True, lookup: KeyLookup | None = None
    ) -> BatchResult:
        """Add new entries, update those whose source record changed, skip known uids.

        An entry whose uid is already stored is unchanged (the same page saved under two
        names is one entry). Otherwise, an entry from the same file and record key as a
        stored one replaces it, keeping its id and created_at. Everything else is added.
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
                result.unchanged.append(entry)
                continue
            src_key = source_key(entry) if update_by_source else None
            old_id = sources.get(src_key) if src_key else None
            old = self._doc(old_id) if old_id is not None else None
            if old is not None:
                entry.id = old_id
                entry.created_at = old.get("created_at") or stamp
                entry.updated_at = stamp
                known.pop(old["uid"], None)
                known[entry.uid] = old_id
                keys.note_replaced(old["uid"], entry)
                self._put([entry])
                result.updated.append(entry)
                continue
            entry.created_at = entry.created_at or stamp
            entry.updated_at = entry.updated_at or stamp
            pending[entry.uid] = entry
        result.added = list(pending.values())
        next_id = self._next_id()
        for entry in result.added:
            entry.id = next_id
            next_id += 1
            known[entry.uid] = entry.id
            keys.note_added(entry)
        for entry in result.unchanged:
            if entry.id is None:
                entry.id = known[entry.uid]
        self._put(result.added)
        self._merge_experts(result.added + result.updated)
        return result

    def replace(self, entry: Entry, *, lookup: KeyLookup | None = None) -> Entry:
        """Overwrite a stored entry (by ``entry.id``) with new content, e.g. after an edit."""
        self._require_transaction()
        old = self._doc(entry.id)
        if old is None:
            raise NotFound(f"no entry with id {entry.id}")
        keys = self._lookup(lookup)
        other = keys.ids_for_uids([entry.uid]).get(entry.uid)
        if other is not None and other != entry.id:
            raise InvalidEntry(f"entry {other} already has this question and answer")
        entry.created_at = old.get("created_at") or now_iso()
        entry.updated_at = now_iso()
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

    # -- repairs (kb doctor) -----------------------------------------------------------

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

    def apply_ops(self, ops: Iterable[journal.Op]) -> None:
        """Apply journal ops in a transaction (a repair replaying a journal by hand)."""
        self._require_transaction()
        size = self._view().shard_size
        for table, doc_id, doc in ops:
            if table in ("entries", "raw"):
                if doc_id.isdigit():
                    journal.apply_op(self._changed(shard_of(int(doc_id), size)), table, doc_id, doc)
                    if table == "entries" and doc is not None:
                        self._next_id()
                        self._top_id = max(self._top_id, int(doc_id))
            else:
                journal.apply_op(self._view().catalog, table, doc_id, doc)
        self._db._tables.clear()
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
            data = self._changed(shard_of(entry.id, size))
            data["entries"][str(entry.id)] = self._doc_for(entry)
            if entry.raw is not None:
                data["raw"][str(entry.id)] = {"text": entry.raw}
            if self._top_id is None or entry.id > self._top_id:
                self._next_id()
                self._top_id = max(self._top_id, entry.id)
        self._catalog_changed = True


def read_whole(path: str | os.PathLike[str], *, shards: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Return a store as one dict of tables (meta, experts, entries, raw), journal applied.

    The shape of a single-file TinyDB store: for tests, checks and small stores only, as it
    holds every entry in memory. ``shards`` is the folder of its shard files when that is
    not the one beside ``path`` (a backup catalog, ``kb.json.bak``, names files in
    ``kb.json.d``).
    """
    store = Store(path)
    if shards is not None:
        store._files = Files(Path(path), Path(shards))
    snap = store._view()
    entries: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for doc_id, (doc, text) in store.iter_documents(with_raw=True):
        entries[str(doc_id)] = doc
        if text is not None:
            raw[str(doc_id)] = text
    return {"meta": snap.catalog.get("meta", {}), "experts": snap.catalog.get("experts", {}),
            "entries": entries, "raw": raw}


def source_key(entry: Entry) -> tuple[str, str] | None:
    """Return (file path, record key) for entries read from a named file, else None."""
    src = entry.source
    if not src.path or src.key is None:
        return None
    return (src.path, str(src.key))


def _replace_with(new: dict[str, Any]):
    """Return a TinyDB update transform that replaces a document's fields wholesale."""

    def transform(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(new)

    return transform
