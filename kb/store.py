"""The store of record: TinyDB behind a crash-safe, lock-guarded storage.

TinyDB's stock JSONStorage rewrites its file in place (a crash mid-write leaves half a
file) and writes the whole file on every insert. ``AtomicJSONStorage`` serialises with
orjson to a temporary file, fsyncs it and renames it over the store, and inside a
transaction it holds every write in memory until the commit, so one batch costs one
write and lands entirely or not at all. ``Store`` adds an inter-process lock, a schema
version, and the entry-level operations (add, update, remove, de-duplication).

Tables: ``entries`` (doc id = the entry id people type; the expert is kept by name),
``experts`` (one merged profile per name, so a bio is stored once), ``raw`` (the original
text of each entry, doc id = entry id) and ``meta`` (schema version).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage

from kb import journal
from kb.errors import InvalidEntry, NotFound, StoreBusy, StoreError
from kb.models import Entry, Expert, now_iso
from kb.paths import store_signature

SCHEMA_VERSION = 1
DEFAULT_LOCK_TIMEOUT = 10.0


class AtomicJSONStorage(Storage):
    """TinyDB storage that writes whole files atomically and batches writes.

    Reads are cached: TinyDB reads the storage before every operation, and re-parsing
    a large file each time would make every batch cost the whole file several times.
    A transaction keeps the cache only while the files still have the version this
    process loaded or wrote under the lock (every write by anyone renames a new base
    into place or appends to the journal, so the version changes); otherwise it
    re-reads, so another process's committed writes are always seen.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._data: dict[str, Any] | None = None
        self._version: str | None = None
        self._depth = 0
        self._dirty = False

    def read(self) -> dict[str, Any] | None:
        if self._data is None:
            # Only a load under the lock (inside a transaction) can vouch for the version
            # it read: outside it, a writer could slip in between the read and the stat.
            version = self._current_version() if self._depth else None
            self._data = self._load()
            self._version = version
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        self._data = data
        if self._depth:
            self._dirty = True
        else:
            self._flush()

    def close(self) -> None:
        self._data = None
        self._version = None

    # -- transactions -----------------------------------------------------------------

    def begin(self) -> bool:
        """Start a transaction (the caller holds the lock); return whether the cached
        copy is still the store's current version and was kept."""
        kept = True
        if self._depth == 0:
            self._dirty = False
            if self._data is None or self._version is None or self._version != self._current_version():
                self.close()
                kept = False
        self._depth += 1
        return kept

    def commit(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._dirty:
            self._flush(under_lock=True)
            self._dirty = False

    def rollback(self) -> None:
        self._depth = 0
        self._dirty = False
        self.close()

    def _current_version(self) -> str | None:
        try:
            return store_signature(self.path)
        except OSError:
            return None

    # -- file I/O ---------------------------------------------------------------------

    def _load(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as fh:
                base_stat = os.fstat(fh.fileno())
                blob = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc.strerror or exc}") from exc
        try:
            data = _parse(blob)
        except MemoryError:
            raise StoreError(
                f"store {self.path} ({len(blob) / 1e9:.1f} GB) is too large to load into this "
                "machine's memory; it was left untouched"
            ) from None
        except orjson.JSONDecodeError as exc:
            raise StoreError(
                f"store {self.path} is damaged ({_describe_json_error(blob, exc)}); "
                "it was left untouched",
                hint="run 'kb doctor' to see the damage and the ways to recover",
            ) from exc
        if not isinstance(data, dict):
            raise StoreError(f"store {self.path} is not a kb store (top level is not an object); it was left untouched")
        try:
            journal.replay(self.path, data, base_stat)
        except ValueError as exc:
            raise StoreError(f"store {self.path}: {exc}; it was left untouched",
                             hint="run 'kb doctor' to see the damage and the ways to recover") from None
        except OSError as exc:
            raise StoreError(f"cannot read the journal of {self.path}: {exc.strerror or exc}") from exc
        return data

    def _flush(self, under_lock: bool = False) -> None:
        assert self._data is not None
        blob = orjson.dumps(self._data)
        self._version = None
        write_atomically(self.path, blob)
        # The new base holds every journalled write; a crash before this line leaves a
        # journal naming the old base, which is then ignored.
        journal.discard(self.path)
        self._version = self._current_version() if under_lock else None


def write_atomically(path: Path, blob: bytes) -> None:
    """Replace ``path`` with ``blob`` so that a crash leaves either the old or the new file.

    The temporary file is created owner-only (the store holds people's notes), fsynced
    before the rename, and the folder is fsynced after it so the rename itself survives
    a power cut. The version being replaced is kept as ``<name>.bak`` (see _keep_backup).
    """
    folder = path.parent
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        try:
            view = memoryview(blob)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        _keep_backup(path)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise StoreError(
            f"cannot write store {path}: {exc.strerror or exc}; the previous version was kept"
        ) from exc
    journal.fsync_dir(folder)


def _keep_backup(path: Path) -> None:
    """Keep the file about to be replaced as ``<name>.bak``, the last good copy.

    A hard link to the old inode, renamed over the previous backup: it costs ~7 us
    whatever the store's size (a copy of 20 MB costs ~50 ms). Best effort: where links
    are not supported there is simply no backup. ``kb doctor --repair`` can restore it.
    """
    link = path.with_name(f".{path.name}.bak.{os.getpid()}.tmp")
    try:
        os.link(path, link)
        os.replace(link, path.with_name(path.name + ".bak"))
    except OSError:
        pass  # no store yet (first write), or a file system without hard links
    # rename() of two links to one inode does nothing, leaving `link` behind.
    try:
        link.unlink()
    except OSError:
        pass


def _parse(blob: bytes) -> Any:
    """Parse a store file: orjson, or the standard library where orjson runs out of room.

    orjson refuses documents past a few GB ("Not enough memory to allocate buffer for
    parsing", seen on a 3.5 GB store of 1M entries) however much memory is free; that is
    a limit of the parser, not damage, so the slower standard parser gets its turn.
    """
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        if "memory" not in str(exc).lower():
            raise
    import json

    try:
        return json.loads(blob)
    except json.JSONDecodeError as exc:
        raise orjson.JSONDecodeError(exc.msg, exc.doc, exc.pos) from None


def _describe_json_error(blob: bytes, exc: Exception) -> str:
    if not blob.strip():
        return "the file is empty"
    msg = str(exc)
    return f"not valid JSON: {msg}" if msg else "not valid JSON"


@dataclass
class BatchResult:
    """What one write batch did: ids added, updated, and uids that were already there."""

    added: list[Entry] = field(default_factory=list)
    updated: list[Entry] = field(default_factory=list)
    unchanged: list[Entry] = field(default_factory=list)


class Store:
    """Entries in a TinyDB file, written only inside ``transaction()``.

    Pass ``storage=MemoryStorage`` for a throwaway in-memory store (tests).
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
            self._db = TinyDB(storage=MemoryStorage)
            self._storage: AtomicJSONStorage | None = None
        else:
            if self.path.is_dir():
                raise StoreError(f"store path {self.path} is a folder, not a file")
            self._db = TinyDB(self.path, storage=storage or AtomicJSONStorage)
            self._storage = self._db.storage  # type: ignore[assignment]
        self._lock = None
        self._maps: tuple[dict[str, int], dict[tuple[str, str], int]] | None = None
        self._top_id: int | None = None  # the highest id handed out, once known

    # -- locking and transactions ------------------------------------------------------

    @property
    def lock_path(self) -> Path | None:
        return self.path.with_name(self.path.name + ".lock") if self.path else None

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the store's lock, read the current file, and write once at the end.

        On an exception nothing is written and the in-memory copy is dropped.
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
            kept = self._storage.begin() if self._storage is not None else True
            if not kept:
                # Forget cached Table objects and key maps: they remember the next id,
                # query results and uids of a version another process has changed
                # since (TinyDB 4 keeps tables in `_tables`; see the pin in pyproject).
                self._db._tables.clear()
                self._maps = None
                self._top_id = None
            self._check_schema()
        except BaseException:
            if self._storage is not None:
                self._storage.rollback()
            if lock is not None:
                lock.release()
            raise

    def commit(self) -> None:
        """Write the transaction's changes (one atomic file write) and release the lock."""
        try:
            if self._storage is not None:
                self._storage.commit()
        finally:
            if self._lock is not None:
                self._lock.release()

    def rollback(self) -> None:
        """Drop the transaction's changes (nothing was written) and release the lock."""
        try:
            if self._storage is not None:
                self._storage.rollback()
            self._maps = None
            self._top_id = None
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

    def _check_schema(self) -> None:
        meta = self._db.table("meta").get(doc_id=1)
        if meta and int(meta.get("schema", 0)) > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} was written by a newer kb (schema {meta['schema']}); "
                "upgrade kb to use it"
            )

    def signature(self) -> str:
        """Return a token that changes whenever the store file is rewritten (see kb.paths)."""
        if self.path is None:
            return "memory"
        try:
            return store_signature(self.path)
        except OSError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc.strerror or exc}") from exc

    def last_id(self) -> int:
        """The highest id ever handed out (read inside a transaction)."""
        meta = self._db.table("meta").get(doc_id=1) or {}
        return int(meta.get("last_id", 0))

    # -- small writes through the journal (see kb/journal.py) ----------------------------

    def can_journal(self) -> bool:
        """Whether a small write may be appended to the journal instead of a full rewrite.

        Not for a store that does not exist yet (a journal needs a base file) or whose
        journal has grown large enough to be folded into the base.
        """
        return self._storage is not None and self.path is not None and self.path.exists() \
            and not journal.wants_compaction(self.path)

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
        if self._storage is not None:
            self._storage.close()  # the cached copy no longer matches the files

    def exists(self) -> bool:
        return self.path is None or self.path.exists()

    # -- reading -----------------------------------------------------------------------

    def _entries(self):
        return self._db.table("entries")

    def count(self) -> int:
        return len(self._entries())

    def experts(self) -> dict[str, Expert]:
        out = {}
        for doc in self._db.table("experts").all():
            expert = Expert.from_dict(doc)
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

    def iter_entries(self) -> Iterator[Entry]:
        """Yield every entry, with its expert's profile joined in."""
        experts = self.experts()
        for doc in self._entries().all():
            yield self._to_entry(doc, doc.doc_id, experts)

    def get(self, entry_id: int) -> Entry:
        doc = self._entries().get(doc_id=entry_id)
        if doc is None:
            raise NotFound(f"no entry with id {entry_id}")
        return self._to_entry(doc, entry_id, self.experts())

    def get_raw(self, entry_id: int) -> str | None:
        doc = self._db.table("raw").get(doc_id=entry_id)
        return doc.get("text") if doc else None

    def id_for_uid(self, uid: str) -> int | None:
        return self._key_maps()[0].get(uid)

    def _key_maps(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Map uid -> id and (source path, record key) -> id, built once per transaction."""
        if self._maps is None:
            by_uid: dict[str, int] = {}
            by_source: dict[tuple[str, str], int] = {}
            for doc in self._entries().all():
                by_uid[doc["uid"]] = doc.doc_id
                src = doc.get("source") or {}
                if src.get("path") and src.get("key") is not None:
                    by_source[(src["path"], str(src["key"]))] = doc.doc_id
            self._maps = (by_uid, by_source)
        return self._maps

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

    def apply(self, entries: Iterable[Entry], *, update_by_source: bool = True) -> BatchResult:
        """Add new entries, update those whose source record changed, skip known uids.

        An entry whose uid is already stored is unchanged (the same page saved under two
        names is one entry). Otherwise, an entry from the same file and record key as a
        stored one replaces it, keeping its id and created_at. Everything else is added.
        Each table is rewritten once per call, however many entries it carries: TinyDB
        copies a whole table on every operation, so per-entry calls would be quadratic.
        """
        by_uid, by_source = self._key_maps()
        table = self._entries()
        result = BatchResult()
        stamp = now_iso()
        pending: dict[str, Entry] = {}
        for entry in entries:
            if entry.uid in by_uid or entry.uid in pending:
                twin = by_uid.get(entry.uid)
                entry.id = twin if twin is not None else None
                result.unchanged.append(entry)
                continue
            src_key = _source_key(entry) if update_by_source else None
            old_id = by_source.get(src_key) if src_key else None
            if old_id is not None:
                old = table.get(doc_id=old_id)
                entry.id = old_id
                entry.created_at = old.get("created_at") or stamp
                entry.updated_at = stamp
                by_uid.pop(old["uid"], None)
                by_uid[entry.uid] = old_id
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
            by_uid[entry.uid] = entry.id
            if src := _source_key(entry):
                by_source[src] = entry.id
        for entry in result.unchanged:
            if entry.id is None:
                entry.id = by_uid[entry.uid]
        self._put(result.added, result.updated)
        return result

    def replace(self, entry: Entry) -> Entry:
        """Overwrite a stored entry (by ``entry.id``) with new content, e.g. after an edit."""
        old = self._entries().get(doc_id=entry.id)
        if old is None:
            raise NotFound(f"no entry with id {entry.id}")
        by_uid = self._key_maps()[0]
        other = by_uid.get(entry.uid)
        if other is not None and other != entry.id:
            raise InvalidEntry(f"entry {other} already has this question and answer")
        entry.created_at = old.get("created_at") or now_iso()
        entry.updated_at = now_iso()
        by_uid.pop(old["uid"], None)
        by_uid[entry.uid] = entry.id
        self._put([], [entry])
        return entry

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Remove entries by id; return the ids that existed and are now gone."""
        table = self._entries()
        present = [i for i in dict.fromkeys(ids) if table.contains(doc_id=i)]
        if present:
            table.remove(doc_ids=present)
            raw = self._db.table("raw")
            raw.remove(doc_ids=[i for i in present if raw.contains(doc_id=i)])
            self._maps = None
        return present

    def _next_id(self) -> int:
        """Return the next unused id; ids of removed entries are never handed out again."""
        if self._top_id is None:
            meta = self._db.table("meta").get(doc_id=1) or {}
            highest = max((int(k) for k in self._entries()._read_table()), default=0)
            self._top_id = max(highest, int(meta.get("last_id", 0)))
        return self._top_id + 1

    def _put(self, added: list[Entry], updated: list[Entry]) -> None:
        """Write new and changed entries, their raw text and their experts' profiles.

        The documents go straight into the storage's data (TinyDB's own format: table ->
        id -> document) rather than through Table.insert_multiple, which converts every
        key of the whole table twice per call: with ingest applying 1,000 entries at a
        time that was O(n) per chunk, quadratic over a large ingest. An entry written
        without raw text keeps the raw text it had.
        """
        if not added and not updated:
            return
        storage = self._db.storage
        data = storage.read() or {}
        docs = data.setdefault("entries", {})
        raw = data.setdefault("raw", {})
        both = added + updated
        for entry in both:
            docs[str(entry.id)] = self._doc_for(entry)
            if entry.raw is not None:
                raw[str(entry.id)] = {"text": entry.raw}
        if added:
            last = max(e.id for e in added)
            meta = data.setdefault("meta", {}).setdefault("1", {"schema": SCHEMA_VERSION, "created_at": now_iso()})
            meta["last_id"] = max(last, int(meta.get("last_id", 0)))
            self._top_id = max(last, self._top_id or 0)
        storage.write(data)
        for table in self._db._tables.values():  # their query caches are stale now
            table.clear_cache()
        self._merge_experts(both)


def _source_key(entry: Entry) -> tuple[str, str] | None:
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
