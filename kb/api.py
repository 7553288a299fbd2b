"""KnowledgeBase: the one object the CLI and scripts use to read and write kb.

It pairs the store of record (kb/store.py) with its derived search index (kb/index.py):
every write goes to the store first, then to the index, under the store's lock; every
read that can be served from the index is, after a cheap check that the index reflects
the store's current version (rebuilt, under the lock, when it does not).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.errors import InvalidEntry, NotFound
from kb.models import Entry, Expert

if TYPE_CHECKING:
    from kb.index import ExpertSummary, Hit, SearchIndex, SearchResult
    from kb.ingest import IngestReport
    from kb.store import Store

FIRST_BATCH = 2000


def default_db_path() -> Path:
    """Return the store path: ``$KB_DB``, else the platform's user data folder."""
    env = os.environ.get("KB_DB")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("kb", appauthor=False) / "kb.json"


class KnowledgeBase:
    """A kb store and its index. Open with ``KnowledgeBase.open(path)``."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        if lock_timeout is None and os.environ.get("KB_LOCK_TIMEOUT"):
            lock_timeout = float(os.environ["KB_LOCK_TIMEOUT"])
        self.lock_timeout = lock_timeout
        self._store: Store | None = None
        self._index: SearchIndex | None = None
        self.on_rebuild: Callable[[int], Callable[[int], None] | None] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> KnowledgeBase:
        return cls(path, **kwargs)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two halves ----------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            from kb.store import Store

            self._store = Store(self.path, lock_timeout=self.lock_timeout)
        return self._store

    @property
    def index_path(self) -> Path:
        from kb.store import index_path_for

        return index_path_for(self.path)

    def _open_index(self) -> SearchIndex:
        if self._index is None:
            from kb.index import SearchIndex

            self._index = SearchIndex(self.index_path)
        return self._index

    @property
    def index(self) -> SearchIndex:
        """The search index, rebuilt first if it does not reflect the store."""
        index = self._open_index()
        if index.signature != self.store.signature():
            with self.store.locked():
                # Another process may have rebuilt it while we waited for the lock.
                if index.signature != self.store.signature():
                    self.rebuild_index()
        return index

    def rebuild_index(self) -> int:
        """Rebuild the search index from the store; return how many entries it holds."""
        index = self._open_index()
        store = self.store
        signature = store.signature()
        if signature == "missing":
            return index.rebuild([], signature)
        with store.transaction():
            total = store.count()
            progress = self.on_rebuild(total) if self.on_rebuild else None
            count = index.rebuild(store.iter_entries(), signature, progress=progress)
            if progress is not None:
                progress(total)
            return count

    def _index_after_write(self, changed: Iterable[Entry] = (), removed: Iterable[int] = ()) -> None:
        """Bring the index up to the store's new version (called under the store lock)."""
        index = self._open_index()
        signature = self.store.signature()
        changed = list(changed)
        removed = list(removed)
        if removed:
            index.delete(removed, signature)
        if changed:
            index.upsert(changed, signature)
        if not changed and not removed:
            index.set_signature(signature)

    def _fresh_index_or_none(self) -> SearchIndex | None:
        """The index if it matched the store before this write began, else None."""
        index = self._open_index()
        return index if index.signature == self.store.signature() else None

    # -- writing -----------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str],
        *,
        format: str | None = None,  # noqa: A002 - mirrors the --format option
        dry_run: bool = False,
        max_size: int | None = None,
        stdin: Any = None,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Read Q&A files into the store and the index; return what happened.

        Entries are written in batches that double in size (2,000, 4,000, ...), so an
        ingest of n entries rewrites the store O(log n) times, about twice its final size
        in all, and a crash loses at most the batch being written.
        """
        from kb.ingest import DEFAULT_MAX_SIZE, Failure, IngestReport, ReadOptions, expand_paths, read_source

        options = ReadOptions(format=format, max_size=max_size or DEFAULT_MAX_SIZE, stdin=stdin, progress=progress)
        report = IngestReport(dry_run=dry_run)
        batch: list[Entry] = []
        batch_size = FIRST_BATCH
        store = self.store
        with store.locked():
            for source in expand_paths(paths):
                if isinstance(source, Failure):
                    report.failures.append(source)
                    continue
                report.files += 1
                for item in read_source(source, options):
                    if isinstance(item, Failure):
                        report.failures.append(item)
                        continue
                    batch.append(item)
                    if len(batch) >= batch_size:
                        self._write_batch(batch, report, dry_run)
                        batch = []
                        batch_size *= 2
            self._write_batch(batch, report, dry_run)
        return report

    def _write_batch(self, batch: list[Entry], report: IngestReport, dry_run: bool) -> None:
        if not batch and not dry_run:
            return
        store = self.store
        stale = self._fresh_index_or_none() is None
        if dry_run:
            try:
                with store.transaction():
                    result = store.apply(batch)
                    raise _DryRun
            except _DryRun:
                pass
        else:
            with store.transaction():
                result = store.apply(batch)
        if not batch:
            return
        report.added += result.added
        report.updated += result.updated
        report.unchanged += result.unchanged
        if dry_run:
            return
        if stale:
            self.rebuild_index()
        else:
            self._index_after_write(result.added + result.updated)

    def add(self, entry: Entry) -> Entry:
        """Store one new entry; raise InvalidEntry if it lacks a question/answer or exists."""
        validate(entry)
        with self.store.locked():
            stale = self._fresh_index_or_none() is None
            with self.store.transaction():
                result = self.store.apply([entry], update_by_source=False)
            if result.unchanged:
                raise InvalidEntry(
                    f"entry {result.unchanged[0].id} already has this question and answer; nothing added",
                    hint=f"see it with: kb show {result.unchanged[0].id}",
                )
            if stale:
                self.rebuild_index()
            else:
                self._index_after_write(result.added)
        return result.added[0]

    def update(self, entry: Entry) -> Entry:
        """Replace the stored entry with ``entry.id`` by ``entry``'s content."""
        validate(entry)
        entry.refresh_uid()
        with self.store.locked():
            stale = self._fresh_index_or_none() is None
            with self.store.transaction():
                self.store.replace(entry)
            if stale:
                self.rebuild_index()
            else:
                self._index_after_write([entry])
        return entry

    def remove(self, refs: Iterable[int | str]) -> list[Entry]:
        """Remove entries by id or uid prefix; return the removed ones. Unknown refs raise NotFound."""
        entries = [self.get(ref) for ref in refs]
        ids = [e.id for e in entries if e.id is not None]
        with self.store.locked():
            stale = self._fresh_index_or_none() is None
            with self.store.transaction():
                gone = set(self.store.remove(ids))
            if stale:
                self.rebuild_index()
            else:
                self._index_after_write(removed=gone)
        return [e for e in entries if e.id in gone]

    # -- reading -----------------------------------------------------------------------

    def get(self, ref: int | str) -> Entry:
        """Return the entry with this integer id or unique uid prefix."""
        return self.index.get(ref)

    def raw(self, ref: int | str) -> str | None:
        """Return the original text an entry was read from (read from the store)."""
        entry = self.get(ref)
        return self.store.get_raw(entry.id) if entry.id is not None else None

    def search(self, query: str, **options: Any) -> SearchResult:
        return self.index.search(query, **options)

    def list(self, **options: Any) -> list[Entry]:
        return self.index.list(**options)

    def count(self) -> int:
        return self.index.count()

    def related(self, ref: int | str, limit: int = 5) -> list[Hit]:
        return self.index.related(ref, limit=limit)

    def categories(self) -> list[tuple[str, int]]:
        return self.index.categories()

    def experts(self) -> list[ExpertSummary]:
        return self.index.experts()

    def expert(self, name: str) -> ExpertSummary:
        return self.index.expert(name)

    def iter_entries(self) -> Iterator[Entry]:
        """Yield every entry from the store of record (for export)."""
        if not self.store.exists():
            return iter(())
        return self.store.iter_entries()


class _DryRun(Exception):
    """Raised inside a transaction to throw its writes away."""


def validate(entry: Entry) -> None:
    """Raise InvalidEntry unless the entry has a question and an answer."""
    missing = [name for name in ("question", "answer") if not getattr(entry, name).strip()]
    if missing:
        raise InvalidEntry(f"an entry needs a {' and an '.join(missing)}")


def expert_from_name(name: str | None) -> Expert | None:
    return Expert(name=name.strip()) if name and name.strip() else None


__all__ = ["KnowledgeBase", "NotFound", "default_db_path"]
