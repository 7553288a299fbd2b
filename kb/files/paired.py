"""The files backend's two halves paired: the TinyDB store of record and its SQLite index.

``StoreWithIndex`` keeps them in step: every write goes to the store first, then to the
index, under the store's lock; every read that the index can serve is, after a cheap
check that the index reflects the store's current version (rebuilt, under the lock, when
it does not). The journal's small writes (kb.files.journalled), ingest's pipeline and the
doctor work on this pair; kb.files.backend puts the Backend protocol on top of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb import config
from kb.backend import Hooks
from kb.errors import SearchIndexError, StoreBusy, StoreError, StoreMissing
from kb.models import Entry
from kb.paths import default_db_path, index_path_for, store_signature

if TYPE_CHECKING:
    from kb.ingest.pipeline import IndexLookup
    from kb.search.index import SearchIndex
    from kb.store.store import Store

# How long a read waits for a writer before it reads the index as the writer left it.
READ_WAIT = 1.0


class StoreWithIndex:
    """A store file and the search index beside it, kept in step."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float | None = None, as_is: bool = False
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        if lock_timeout is None:
            lock_timeout = config.lock_timeout()
        self.lock_timeout = lock_timeout
        self._store: Store | None = None
        self._index: SearchIndex | None = None
        # Reads of a store that does not exist yet are served from an empty index in
        # memory, so that reading creates nothing (no folder, index or lock).
        self._nothing: SearchIndex | None = None
        # What the front is told while a read works (a rebuild, a stale or temporary index).
        self.hooks = Hooks()
        # Read the index as it is: no version check, no rebuild, nothing created (a
        # shell's completion must answer at once); no index file reads as empty.
        self.as_is = as_is

    def close(self) -> None:
        for index in (self._index, self._nothing):
            if index is not None:
                index.close()
        self._index = self._nothing = None

    def exists(self) -> bool:
        """Whether the store has been created: only a write creates it (never a read)."""
        return self.path.exists()

    def require(self) -> None:
        """Raise StoreMissing (naming the path and how to create a store) unless the store exists."""
        if not self.exists():
            raise StoreMissing(
                f"no store at {self.path}",
                hint="create one with 'kb ingest FILES' or 'kb add', or name another with --db or KB_DB",
            )

    @property
    def store(self) -> Store:
        if self._store is None:
            from kb.store.store import Store

            self._store = Store(self.path, lock_timeout=self.lock_timeout)
        return self._store

    @property
    def index_path(self) -> Path:
        return index_path_for(self.path)

    def _open_index(self) -> SearchIndex:
        if self._index is None:
            from kb.search.index import SearchIndex

            if self._index_writable():
                if not self.index_path.exists() and self.exists():
                    # Read the catalog first: a file that is not a store (`--db README.md`)
                    # then stops the command before an index is created beside it.
                    self.store.last_id()
                try:
                    self._index = SearchIndex(self.index_path)
                except SearchIndexError as exc:
                    if exc.corrupt:
                        raise
                    # A full disk: SQLite cannot make its -wal and -shm files. A read
                    # needs no space, so it is served as on read-only media.
                    self._index = self._read_only_index()
            else:
                self._index = self._read_only_index()
        return self._index

    def _index_writable(self) -> bool:
        """Whether the index file (or, while it is missing, its folder) can be written.

        os.access also answers False on a read-only mount, for root too.
        """
        path = self.index_path
        if path.exists():
            return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        return not path.parent.exists() or os.access(path.parent, os.W_OK)

    def _read_only_index(self) -> SearchIndex:
        """Open the index without writing to it, or build a temporary one if it is unusable."""
        from kb.search.index import SearchIndex

        if self.index_path.exists():
            try:
                index = SearchIndex(self.index_path, read_only=True)
                if index.signature == self.store_version():
                    return index
                index.close()
            except SearchIndexError:
                pass
        return self._temporary_index()

    def _temporary_index(self) -> SearchIndex:
        """Build an index in memory from the store, for a store kb may read but not write.

        Nothing can write such a store, so no lock is taken (it could not be created).
        """
        from kb.search.index import SearchIndex

        if self.hooks.on_temporary_index is not None:
            self.hooks.on_temporary_index()
        index = SearchIndex(self.index_path, in_memory=True)
        store = self.store
        signature = store.signature()
        if signature == "missing":
            index.rebuild([], signature)
        else:
            index.rebuild(store.iter_entries(), signature)
            index.set_last_id(store.last_id())
        return index

    @property
    def index(self) -> SearchIndex:
        """The search index, rebuilt first if it does not reflect the store or is damaged."""
        try:
            return self._current_index()
        except SearchIndexError as exc:
            if not exc.corrupt:
                raise
        return self._renewed_index()

    def _renewed_index(self) -> SearchIndex:
        """Throw a damaged index away and rebuild it from the store (it is derived data)."""
        if self._index is not None and (self._index.read_only or self._index.in_memory):
            self._index.close()
            self._index = self._temporary_index()
            return self._index
        with self.store.locked():
            self._open_index().reset()
            self.rebuild_index()
        return self._open_index()

    def _read(self, action: Callable[[SearchIndex], Any]) -> Any:
        """Run a read on the index; if the file turns out damaged, rebuild it and retry once.

        A store that does not exist reads as empty and is not created.
        """
        if self.as_is:
            return action(self._index_as_is())
        if not self.exists():
            return action(self._empty_index())
        try:
            return action(self.index)
        except SearchIndexError as exc:
            if not exc.corrupt:
                raise
        return action(self._renewed_index())

    def _index_as_is(self) -> SearchIndex:
        if self._index is None:
            if not self.index_path.is_file():
                return self._empty_index()
            from kb.search.index import SearchIndex

            self._index = SearchIndex(self.index_path)
        return self._index

    def _empty_index(self) -> SearchIndex:
        """An index in memory with no entries, standing for a store not created yet."""
        if self._nothing is None:
            from kb.search.index import SearchIndex

            self._nothing = SearchIndex(self.index_path, in_memory=True)
            self._nothing.rebuild([], "missing")
        return self._nothing

    def index_write_failed(self, exc: SearchIndexError) -> None:
        """After the store was written, the index could not follow: leave it to be rebuilt.

        The store is the record and already holds the write, so the command succeeded.
        The index still names the store version before the write, so the next read
        rebuilds it; a damaged file is thrown away now so that rebuild can happen.
        """
        if exc.corrupt:
            try:
                self._open_index().reset()
            except SearchIndexError:
                pass

    def _current_index(self) -> SearchIndex:
        index = self._open_index()
        if index.in_memory:
            return index
        if index.signature != self.store_version():
            if index.read_only:
                return self._renewed_index()
            try:
                with self.store.locked(timeout=min(READ_WAIT, self.store.lock_timeout)):
                    # Another process may have rebuilt it while we waited for the lock.
                    if index.signature != self.store_version():
                        self.rebuild_index()
            except StoreBusy:
                # A writer (a long ingest, say) holds the lock and is bringing the index
                # along as it goes: read what the index has rather than fail or wait.
                if self.hooks.on_stale is not None:
                    self.hooks.on_stale()
        return index

    def store_version(self) -> str:
        """The store file's version token, without loading the store module (a read's
        fast path: one stat)."""
        try:
            return store_signature(self.path)
        except OSError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc.strerror or exc}") from exc

    def rebuild_index(self) -> int:
        """Rebuild the search index from the store; return how many entries it holds."""
        index = self._open_index()
        store = self.store
        signature = store.signature()
        if signature == "missing":
            return index.rebuild([], signature)
        with store.transaction():
            total = store.count()
            progress = self.hooks.on_rebuild(total) if self.hooks.on_rebuild else None
            count = index.rebuild(store.iter_entries(), signature, progress=progress)
            index.set_last_id(store.last_id())
            if progress is not None:
                progress(total)
            return count

    def _index_after_write(self, changed: Iterable[Entry] = (), removed: Iterable[int] = ()) -> None:
        """Bring the index up to the store's new version (called under the store lock)."""
        index = self._open_index()
        signature = self.store.signature()
        changed = list(changed)
        removed = list(removed)
        try:
            if removed:
                index.delete(removed, signature)
            if changed:
                index.upsert(changed, signature)
            if not changed and not removed:
                index.set_signature(signature)
        except SearchIndexError as exc:
            self.index_write_failed(exc)

    def _after_full_write(
        self, lookup: IndexLookup | None, changed: Iterable[Entry] = (), removed: Iterable[int] = ()
    ) -> None:
        """Bring the index along after a committed store write (under the store lock).

        Without a lookup the index could not be used before the write, so it is left to
        be rebuilt by the next read.
        """
        if lookup is not None:
            self._index_after_write(changed, removed)

    def _scratch(self) -> StoreWithIndex:
        """A knowledge base in memory named after this one: a dry run into a store that
        does not exist compares with nothing and must create nothing, not even a lock."""
        from kb.search.index import SearchIndex
        from kb.store.store import Store

        scratch = type(self)(self.path, lock_timeout=self.lock_timeout)
        scratch._store = Store(None)
        scratch._index = SearchIndex(self.index_path, in_memory=True)
        return scratch

    def make_index_current(self) -> None:
        """Rebuild the index if it does not reflect the store (the caller holds the lock)."""
        if self._open_index().signature != self.store_version():
            self.rebuild_index()

    def key_lookup(self) -> IndexLookup | None:
        """Find stored uids and source records in the index (current, under the lock).

        None when the index cannot be used: the store then scans its own shards.
        """
        try:
            self.make_index_current()
            from kb.ingest.pipeline import IndexLookup

            return IndexLookup(self._open_index())
        except SearchIndexError as exc:
            self.index_write_failed(exc)
            return None
