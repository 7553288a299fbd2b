"""The store of record: TinyDB files, written atomically under an inter-process lock.

A store is a catalog and its shards, all holding TinyDB's JSON documents:

- ``kb.json``, the catalog: tables ``meta`` (schema version, the last id handed out, the
  shard size, the generation of the last commit), ``experts`` (one merged profile per
  name, so a bio is stored once) and ``shards`` (doc id = shard number: its file and how
  many entries it holds);
- ``kb.json.d/NNNNNN-G.json``, the shards (compressed JSON Lines since schema 3, see
  kb.store.shards): shard N holds the entries with ids
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
(kb.store.journal), replayed over the catalog and each shard as they are read.

A store written by kb before shards (schema 1: entries in ``kb.json`` itself) is read
as it is and converted at its first write.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from tinydb.storages import MemoryStorage, Storage

from kb.errors import NotFound, StoreBusy, StoreError
from kb.models import Entry, Expert, now_iso
from kb.paths import file_size, store_signature
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

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from kb.store.lookup import ScanLookup

# 1: entries in the catalog itself; 2: shards as JSON documents; 3: shards written
# compressed (kb.store.shards.pack_shard). Every older layout is read as it is.
SCHEMA_VERSION = 3
DEFAULT_LOCK_TIMEOUT = 10.0
# A writer waiting for the lock refreshes its marker this often (seconds); a marker left
# unrefreshed for WAIT_STALE seconds is a dead waiter's.
WAIT_POLL = 0.05
WAIT_STALE = 3.0
# Shards a process keeps parsed at once; a changed shard pushed out is written to a
# new file (named by the catalog only at the commit), so a long ingest holds at most
# this many whatever the store's size.
KEEP_LOADED = 4
# How many times a read outside a transaction starts again because a writer replaced a
# shard file under it (each time, a new catalog is on disk).
MAX_RETRIES = 50


class _Retry(Exception):
    """A shard file named by the catalog a reader holds was replaced meanwhile."""


class StoreBase:
    """Entries in TinyDB files: locking, transactions, commits and reads (writes: kb.store.store).

    Pass ``storage=MemoryStorage`` (or no path) for a throwaway in-memory store (tests).
    ``shards`` is the folder of the shard files when it is not the one beside ``path``
    (a backup catalog, ``kb.json.bak``, names files in ``kb.json.d``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        storage: type[Storage] | None = None,
        lock_timeout: float | None = None,
        shards: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        if storage is MemoryStorage or self.path is None:
            self.path = None
            self._files: Files | MemoryFiles = MemoryFiles()
        else:
            if self.path.is_dir():
                raise StoreError(f"store path {self.path} is a folder, not a file")
            self._files = Files(self.path, Path(shards) if shards is not None else None)
        self._lock: BaseFileLock | None = None
        self._snap: Snapshot | None = None
        self._depth = 0
        self._catalog_changed = False
        self._loaded: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._dirty: set[int] = set()
        self._written: dict[int, tuple[str, int]] = {}  # this transaction's files: name, count
        self._generation: int | None = None
        self._scan: ScanLookup | None = None
        self._top_id: int | None = None  # the highest id handed out, once known
        self._experts_index: Any = None  # the experts by name, for writes (kb.store.store)
        # A commit keeps the catalog it replaces as kb.json.bak; a repair turns this off,
        # so that a catalog naming a damaged file never pushes out the last good copy.
        self.rotate_backup = True

    @property
    def lock_path(self) -> Path | None:
        return self.path.with_name(self.path.name + ".lock") if self.path else None

    @property
    def shard_folder(self) -> Path | None:
        return shard_folder(self.path) if self.path else None

    @contextmanager
    def transaction(self) -> Iterator[Self]:
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
        lock = self._lock
        waited = self.lock_timeout if timeout is None else timeout
        try:
            try:
                lock.acquire(timeout=0)
            except Timeout:
                self._wait_announced(lock, waited)
        except Timeout:
            raise StoreBusy(
                f"store {self.path} is busy: another kb process has held it for over {waited:g} s",
                hint="try again when it finishes, or raise KB_LOCK_TIMEOUT",
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot lock store {self.path}: {exc.strerror or exc}") from exc
        return self._lock

    @property
    def wait_marker_path(self) -> Path | None:
        """The file a writer keeps beside the lock while it waits for it (see _wait_announced)."""
        return self.path.with_name(self.path.name + ".lock.wait") if self.path else None

    def _wait_announced(self, lock: BaseFileLock, waited: float) -> None:
        """Wait up to ``waited`` seconds for a lock another process holds, saying so.

        While it waits, the marker file beside the lock names this process and its mtime
        is refreshed, so a long ingest that holds the lock across its batches knows to
        let it go (see writer_waiting); the marker is removed once the lock is held or
        the wait is given up, unless a later waiter has written its own over it.
        """
        import time

        from filelock import Timeout

        marker = self.wait_marker_path
        assert marker is not None
        mine = str(os.getpid()).encode()
        deadline = time.monotonic() + waited
        try:
            while True:
                try:
                    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    try:
                        os.write(fd, mine)
                    finally:
                        os.close(fd)
                except OSError:
                    pass  # read-only media: wait unannounced
                try:
                    lock.acquire(timeout=max(0.0, min(WAIT_POLL, deadline - time.monotonic())), poll_interval=0.01)
                    return
                except Timeout:
                    if time.monotonic() >= deadline:
                        raise
        finally:
            try:
                if marker.read_bytes() == mine:
                    marker.unlink()
            except OSError:
                pass

    def writer_waiting(self) -> bool:
        """Whether another live process waits for the lock (one stat when none does).

        A marker whose process is gone, or that its writer stopped refreshing (killed
        while waiting, its pid perhaps reused), is stale and ignored.
        """
        import time

        marker = self.wait_marker_path
        if marker is None:
            return False
        try:
            if time.time() - marker.stat().st_mtime > WAIT_STALE:
                return False
            pid = int(marker.read_bytes() or b"0")
        except (OSError, ValueError):
            return False
        if pid <= 0 or pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            pass  # alive, owned by another user
        return True

    def _forget(self) -> None:
        """Drop everything read or changed: the next use reads the files afresh."""
        self._snap = None
        self._loaded.clear()
        self._dirty.clear()
        self._written.clear()
        self._generation = None
        self._scan = None
        self._top_id = None
        self._experts_index = None
        self._catalog_changed = False

    def _check_schema(self) -> None:
        meta = self._meta()
        if int(meta.get("schema", 0) or 0) > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} was written by a newer kb (schema {meta['schema']}); upgrade kb to use it"
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
                # Outside a transaction a writer may have replaced the file since this
                # catalog was read: then the catalog on disk is a new one, and the read
                # starts again. The same catalog naming a missing file is damage.
                if not self._depth and self._files.version() != snap.version:
                    raise _Retry from None
                raise damaged(self.path or "", f"its shard file {doc['file']} is missing") from None
        else:
            data = {"entries": {}, "raw": {}}
        for op in snap.ops.get(number, ()):
            journal.apply_op(data, *op)
        return data

    def _with_retry(self, read):
        """Run a read outside a transaction again if a writer replaced a shard file under it."""
        for _ in range(MAX_RETRIES):
            try:
                return read()
            except _Retry:
                self._forget()
        raise self._too_many_retries()

    def _too_many_retries(self) -> StoreError:
        return StoreError(
            f"store {self.path} changed under every one of {MAX_RETRIES} attempts to read it",
            hint="try again when the writers are done",
        )

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
        # The journal is bound to this token, never to the file's inode or times (which a
        # copy or a restore changes); the replaced catalog's token marks its journal, if
        # a crash leaves it behind, as folded in.
        meta["folded"] = journal.commit_token(catalog)
        meta["commit"] = journal.new_token()
        self._files.sync()
        self._files.write_catalog(catalog, backup=self.rotate_backup)
        # Committed: the files written are the store's now, whatever fails below (a
        # failed commit deletes the files it wrote, and these must stay).
        self._written.clear()
        # The new catalog holds every journalled write; a crash before this line leaves a
        # journal naming the old catalog's token, which the new one calls folded (as it
        # would if it could not be removed). A journal that did not belong to the old
        # catalog was not folded in: it is kept aside, never dropped.
        if self.path is not None:
            try:
                journal.discard(self.path, snap.journal_state)
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
        snap.journal_state = journal.NONE
        snap.version = self._files.version()
        self._dirty.clear()
        self._generation = None
        self._catalog_changed = False

    def _discard_written(self) -> None:
        """Remove the shard files this transaction wrote, unless the catalog names them.

        A commit interrupted after its catalog replaced the old one (Ctrl-C during the
        folder's fsync, say) has committed: its files are the store's, and must stay.
        """
        if not self._written:
            return
        try:
            catalog, _ops, _state = self._files.read_catalog()
        except StoreError:
            catalog = None
        named = catalog_files(catalog) if catalog is not None else set()
        for name, _count in self._written.values():
            if name not in named:
                self._files.remove(name)
        self._written.clear()

    def exists(self) -> bool:
        return self.path is None or self.path.exists()

    def size_bytes(self) -> int:
        """Bytes on disk of the store's current version: catalog, journal and shard files."""
        if self.path is None:
            return 0
        files = [self.path, journal.journal_path(self.path)]
        folder = shard_folder(self.path)
        files += [folder / name for name in self._view().files()]
        return sum(file_size(path) or 0 for path in files)

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

    def _iter_docs(self, *, with_raw: bool = False) -> Iterator[tuple[int, Any]]:
        """Yield (id, document) for every entry in id order, one shard at a time.

        Inside a transaction the shards go through the cache (changes are seen). Outside,
        each is read once and let go, from the catalog current at that moment: if a
        writer commits meanwhile, every entry is still whole, but shards read before and
        after that commit come from two versions.
        """
        done = 0
        retries = 0
        while True:
            try:
                later = [n for n in self._numbers() if n > done]
                if not later:
                    return
                number = min(later)
                data = self._shard(number) if self._depth else self._read_shard(number)
            except _Retry:
                # Each retry follows a commit by another writer; a bounded number of them.
                retries += 1
                if retries >= MAX_RETRIES:
                    raise self._too_many_retries() from None
                self._forget()
                continue
            raw = data["raw"] if with_raw else None
            for key in sorted(data["entries"], key=int):
                doc = data["entries"][key]
                yield int(key), (doc if raw is None else (doc, raw.get(key)))
            done = number

    def iter_entries(self, *, with_raw: bool = False) -> Iterator[Entry]:
        """Yield every entry in id order, with its expert's profile joined in (and its
        original text in ``raw``, when asked)."""
        experts = self.experts()
        if not with_raw:
            for doc_id, doc in self._iter_docs():
                yield self._to_entry(doc, doc_id, experts)
            return
        for doc_id, (doc, raw) in self._iter_docs(with_raw=True):
            entry = self._to_entry(doc, doc_id, experts)
            entry.raw = raw.get("text") if isinstance(raw, dict) else None
            yield entry

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
