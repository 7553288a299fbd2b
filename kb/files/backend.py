"""FilesBackend: kb's Backend protocol (kb.backend) on the TinyDB store and its SQLite index.

The pairing of store and index, and keeping them in step, is kb.files.paired's; this
module answers the protocol's reads from the index and routes its writes: a small write
through the store's journal (kb.files.journalled, imported by writes only), anything
else as a full commit, an ingest
through kb.ingest.pipeline's batch writer, a check or repair through kb.doctor.
"""

from __future__ import annotations

import builtins
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.backend import EVERYTHING, SEARCH_PAGE, BatchSink, Problem, Request, WriteResult
from kb.errors import AlreadyAnswered, EditConflict, NotFound
from kb.files.paired import StoreWithIndex
from kb.models import Entry
from kb.paths import file_size

if TYPE_CHECKING:
    from kb.doctor.report import Report
    from kb.ingest.pipeline import BatchWriter
    from kb.ingest.sources import IngestReport
    from kb.search.results import ExpertSummary, Hit, SearchResult


class FilesBackend(StoreWithIndex):
    """A knowledge base in a store file (TinyDB catalog and shards) with its index beside it."""

    name = "files"

    @property
    def location(self) -> str:
        return str(self.path)

    def __enter__(self) -> FilesBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------

    def get(self, ref: int | str) -> Entry:
        return self._read(lambda i: i.get(ref))

    def raw(self, ref: int | str) -> str | None:
        entry = self.get(ref)
        return self.store.get_raw(entry.id) if entry.id is not None else None

    def list(self, request: Request = EVERYTHING) -> builtins.list[Entry]:
        return self._read(
            lambda i: i.list(
                **request.filters,
                status=request.status,
                sort=request.sort or "id",
                descending=request.descending,
                limit=request.limit,
                offset=request.offset,
            )
        )

    def count(self, request: Request = EVERYTHING) -> int:
        return self._read(lambda i: i.count(**request.filters, status=request.status))

    def search(self, query: str, request: Request = EVERYTHING) -> SearchResult:
        limit = SEARCH_PAGE if request.limit is None else request.limit
        return self._read(
            lambda i: i.search(
                query,
                **request.filters,
                limit=limit,
                offset=request.offset,
                latest=request.latest,
                status=request.status,
            )
        )

    def related(self, ref: int | str, limit: int = 5) -> builtins.list[Hit]:
        return self._read(lambda i: i.related(ref, limit=limit))

    def closeness(self, query: str, ids: builtins.list[int]) -> dict[int, float]:
        return self._read(lambda i: i.closeness(query, ids))

    def follow_ups(self, entry_id: int) -> builtins.list[Entry]:
        return self._read(lambda i: i.follow_ups(entry_id))

    def categories(self) -> builtins.list[tuple[str, int]]:
        return self._read(lambda i: i.categories())

    def tags(self) -> builtins.list[tuple[str, int]]:
        return self._read(lambda i: i.tags())

    def experts(self) -> builtins.list[ExpertSummary]:
        return self._read(lambda i: i.experts())

    def expert(self, name: str) -> ExpertSummary:
        return self._read(lambda i: i.expert(name))

    def iter_entries(self, request: Request = EVERYTHING, *, with_raw: bool = False) -> Iterator[Entry]:
        """Every entry from the store of record, one at a time, in id order; the
        request's filters are resolved in the index (any case, unique prefixes)."""
        if not self.store.exists():
            return iter(())
        entries = self.store.iter_entries(with_raw=with_raw)
        if request.filtered:
            wanted = {e.id for e in self.list(request.unpaged())}
            entries = (e for e in entries if e.id in wanted)
        if request.offset or request.limit is not None:
            stop = None if request.limit is None else request.offset + request.limit
            entries = islice(entries, request.offset, stop)
        return entries

    # -- writing -----------------------------------------------------------------------

    def add_many(self, entries: Iterable[Entry]) -> WriteResult:
        entries = builtins.list(entries)
        if not entries:
            return WriteResult()
        with self.store.locked():
            if self.store.can_journal():
                from kb.files import journalled

                added, unchanged = journalled.add(self, entries)
                return WriteResult(added=added, unchanged=unchanged)
            return self._write(entries, update_by_source=False)

    def _write(self, entries: builtins.list[Entry], *, update_by_source: bool) -> WriteResult:
        """Apply entries in one commit of the whole store, then bring the index along."""
        with self.store.locked():
            lookup = self.key_lookup()
            with self.store.transaction():
                result = self.store.apply(entries, update_by_source=update_by_source, lookup=lookup)
            self._after_full_write(lookup, result.added + result.updated)
        return WriteResult(added=result.added, updated=result.updated, unchanged=result.unchanged)

    def update(self, entry: Entry, *, read_at: str | None = None) -> Entry:
        """Replace the stored entry; EditConflict when ``read_at`` is given and the stored
        entry was changed after it. The entry's original text is kept."""
        with self.store.locked():
            if read_at is not None and entry.id is not None:
                stored = self.get(entry.stored_id())
                if stored.updated_at and stored.updated_at != read_at:
                    raise EditConflict(
                        f"entry {entry.id} was changed (at {stored.updated_at}) since it was read",
                        hint=f"see it with 'kb show {entry.id}' and edit it again",
                    )
            if self.store.can_journal():
                from kb.files import journalled

                return journalled.update(self, entry)
            lookup = self.key_lookup()
            with self.store.transaction():
                # An entry read from the index carries no raw text; the store keeps the
                # stored original for an entry written without one.
                self.store.replace(entry, lookup=lookup)
            self._after_full_write(lookup, [entry])
        return entry

    def answer_open(self, entry: Entry) -> Entry:
        """Store an answered question if the stored one is still open: checked and written
        under the store's lock, so of two writers answering at once one is refused."""
        with self.store.locked():
            if not self.get(entry.stored_id()).is_open:
                raise AlreadyAnswered(f"#{entry.id} is already answered")
            return self.update(entry)

    def remove(self, ids: Iterable[int]) -> builtins.list[int]:
        entries = []
        for entry_id in ids:
            try:
                entries.append(self.get(entry_id))
            except NotFound:
                continue
        with self.store.locked():
            if self.store.can_journal():
                from kb.files import journalled

                return [e.stored_id() for e in journalled.remove(self, entries)]
            lookup = self.key_lookup()
            with self.store.transaction():
                gone = self.store.remove([e.stored_id() for e in entries], lookup=lookup)
            self._after_full_write(lookup, removed=gone)
        return builtins.list(gone)

    @contextmanager
    def ingest_sink(self) -> Iterator[BatchSink]:
        # Each batch brings the index along itself: nothing is left for close().
        yield BatchSink(lambda entries, by_source: self._write(entries, update_by_source=by_source))

    def ingest_writer(self, report: IngestReport, *, dry_run: bool = False) -> BatchWriter:
        from kb.ingest.pipeline import BatchWriter

        # A dry run into a store that does not exist compares with nothing and must
        # create nothing, not even a lock: it runs on a store in memory.
        target = self._scratch() if dry_run and not self.exists() else self
        return BatchWriter(target, report, dry_run)

    # -- upkeep ------------------------------------------------------------------------

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the search index from the store, under the store's lock."""
        hooks = self.hooks
        if progress is not None:
            hooks.on_rebuild, saved = (lambda _total: progress), hooks.on_rebuild
        try:
            with self.store.locked():
                return self.rebuild_index()
        finally:
            if progress is not None:
                hooks.on_rebuild = saved

    def doctor(self, *, repair: bool = False) -> Report:
        from kb.doctor.check import check
        from kb.doctor.repair import repair as repair_store

        self.close()
        return repair_store(self.path) if repair else check(self.path)

    def check(self) -> builtins.list[Problem]:
        from kb.doctor.report import PROBLEM

        return [
            Problem(f.detail, f.check, repairable=bool(f.fix and "--repair" in f.fix))
            for f in self.doctor().findings
            if f.status == PROBLEM
        ]

    def repair(self) -> builtins.list[str]:
        return self.doctor(repair=True).actions

    def size_bytes(self) -> int | None:
        return self.store.size_bytes() if self.store.exists() else None

    def owns(self, dest: str | os.PathLike[str]) -> bool:
        from kb.export import own_file

        return own_file(dest, self.path, self.index_path)

    def new_file_mode(self) -> int:
        """The store file's permissions (read and write bits), or owner-only."""
        try:
            return stat.S_IMODE(self.path.stat().st_mode) & 0o666
        except OSError:
            return 0o600

    def index_file(self) -> Path | None:
        return self.index_path

    def locations(self) -> dict[str, Any]:
        """Where the store and its index live, their sizes, and how many entries they hold."""
        return {
            "store": str(self.path),
            "store_bytes": self.store.size_bytes() if self.path.exists() else None,
            "index": str(self.index_path),
            "index_bytes": file_size(self.index_path),
            "entries": self.count(),
            "categories": len(self.categories()),
            "experts": len(self.experts()),
        }


def open_backend(location: str, **options: Any) -> FilesBackend:
    """Open the store at a path (kb.backend's registry calls this)."""
    return FilesBackend(location, lock_timeout=options.get("lock_timeout"), as_is=options.get("as_is", False))
