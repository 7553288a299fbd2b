"""KnowledgeBase: the one object the CLI and scripts use to read and write kb.

It pairs the store of record (kb.store) with its derived search index (kb.search):
every write goes to the store first, then to the index, under the store's lock; every
read that can be served from the index is, after a cheap check that the index reflects
the store's current version (rebuilt, under the lock, when it does not).
"""

from __future__ import annotations

import builtins
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from kb import config, journalled
from kb.entries import duplicate_error, entry_from_fields, fold_categories, normalise, validate, with_fields
from kb.errors import AlreadyAnswered, SearchIndexError, StoreBusy, StoreError, StoreMissing, UsageError
from kb.models import ANSWERED, Entry
from kb.paths import default_db_path, drafts_path_for, file_size, index_path_for, store_signature

if TYPE_CHECKING:
    from kb.asking import Inbox, Posted
    from kb.export import FolderChanges, Stats
    from kb.ingest.pipeline import IndexLookup
    from kb.ingest.sources import IngestReport
    from kb.search.index import SearchIndex
    from kb.search.results import ExpertSummary, Hit, SearchResult
    from kb.store.store import Store

# How long a read waits for a writer before it reads the index as the writer left it.
READ_WAIT = 1.0


class KnowledgeBase:
    """A kb store and its index. Open with ``KnowledgeBase.open(path)``."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        if lock_timeout is None:
            lock_timeout = config.lock_timeout()
        self.lock_timeout = lock_timeout
        self._store: Store | None = None
        self._index: SearchIndex | None = None
        # Reads of a store that does not exist yet are served from an empty index in
        # memory, so that reading creates nothing (no folder, index or lock).
        self._nothing: SearchIndex | None = None
        self.on_rebuild: Callable[[int], Callable[[int], None] | None] | None = None
        # Called when a read is served from an index another process is still updating.
        self.on_stale: Callable[[], None] | None = None
        # Called when the index cannot be written (read-only media) and is missing or out
        # of date, so reads are served from a temporary index built from the store.
        self.on_temporary_index: Callable[[], None] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> KnowledgeBase:
        return cls(path, **kwargs)

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

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two halves ----------------------------------------------------------------

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
                if index.signature == self._signature():
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

        if self.on_temporary_index is not None:
            self.on_temporary_index()
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
        if not self.exists():
            return action(self._empty_index())
        try:
            return action(self.index)
        except SearchIndexError as exc:
            if not exc.corrupt:
                raise
        return action(self._renewed_index())

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
        if index.signature != self._signature():
            if index.read_only:
                return self._renewed_index()
            try:
                with self.store.locked(timeout=min(READ_WAIT, self.store.lock_timeout)):
                    # Another process may have rebuilt it while we waited for the lock.
                    if index.signature != self._signature():
                        self.rebuild_index()
            except StoreBusy:
                # A writer (a long ingest, say) holds the lock and is bringing the index
                # along as it goes: read what the index has rather than fail or wait.
                if self.on_stale is not None:
                    self.on_stale()
        return index

    def _signature(self) -> str:
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
            progress = self.on_rebuild(total) if self.on_rebuild else None
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

    # -- writing -----------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str],
        *,
        format: str | None = None,
        dry_run: bool = False,
        max_size: int | None = None,
        stdin: Any = None,
        progress: Callable[[int], None] | None = None,
        keep: str = "entries",
        status: Callable[[str, int, int], None] | None = None,
        settings: dict[str, str] | None = None,
    ) -> IngestReport:
        """Read Q&A files into the store and the index; return what happened.

        Entries are committed in batches that double in size (2,000, 4,000, ... up to
        16,384), so a crash loses at most the batch being written; the index follows in
        a second process or thread (see kb/ingest/pipeline.py). The store's lock is held
        only while a batch is written and indexed, so other writers go on between
        batches; the parsed entries of one batch wait in memory. Ctrl-C rolls back the open
        batch and raises IngestInterrupted (a KeyboardInterrupt) with the number of entries
        committed before it. Memory stays flat whatever the input's size, except for
        what the report keeps: ``keep="entries"`` (the default) keeps every entry read,
        ``"brief"`` a small record of each, ``"counts"`` only the counts. ``progress(n)``
        is told of each ``n`` bytes read; ``status(stage, entries, files)`` of the
        records and inputs done, with stage "reading", then "indexing" once all are read
        and the last commit and the index remain. ``settings`` carries
        format-specific choices (for StackExchange dumps: ``answers`` = accepted|best|all,
        ``site``).
        """
        from kb.ingest.run import ingest

        return ingest(
            self._scratch() if dry_run and not self.exists() else self,
            paths,
            format=format,
            dry_run=dry_run,
            max_size=max_size,
            stdin=stdin,
            progress=progress,
            keep=keep,
            status=status,
            settings=settings,
        )

    def _scratch(self) -> KnowledgeBase:
        """A knowledge base in memory named after this one: a dry run into a store that
        does not exist compares with nothing and must create nothing, not even a lock."""
        from kb.search.index import SearchIndex
        from kb.store.store import Store

        scratch = KnowledgeBase(self.path, lock_timeout=self.lock_timeout)
        scratch._store = Store(None)
        scratch._index = SearchIndex(self.index_path, in_memory=True)
        return scratch

    def make_index_current(self) -> None:
        """Rebuild the index if it does not reflect the store (the caller holds the lock)."""
        if self._open_index().signature != self._signature():
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

    def add(self, entry: Entry | None = None, /, **fields: Any) -> Entry:
        """Store one new entry, given as an Entry or as keyword fields; return it with its id.

        Keywords: ``question``, ``answer``, ``title``, ``category``, ``expert`` (a name or
        an Expert) and ``tags``. Raises InvalidEntry when the question or answer is
        missing, and Duplicate (a subclass) when the same question and answer is stored.
        """
        if entry is None:
            entry = entry_from_fields(**fields)
        elif fields:
            raise TypeError("pass an Entry or keyword fields, not both")
        added, duplicates = self.add_many([entry])
        if duplicates:
            raise duplicate_error(duplicates[0])
        return added[0]

    def add_many(self, entries: Iterable[Entry]) -> tuple[list[Entry], list[Entry]]:
        """Store new entries in one write; return (added, already stored).

        Every entry is validated before anything is written, so an invalid one adds none.
        An entry already stored (same uid) is returned in the second list with the
        stored entry's id, and not added again.
        """
        entries = list(entries)
        for entry in entries:
            normalise(entry)
            validate(entry)
        if not entries:
            return [], []
        with self.store.locked():
            if self.store.can_journal():
                return journalled.add(self, entries)
            lookup = self.key_lookup()
            with self.store.transaction():
                result = self.store.apply(entries, update_by_source=False, lookup=lookup)
            self._after_full_write(lookup, result.added)
        return result.added, result.unchanged

    def update(self, entry: Entry | int | str, /, **fields: Any) -> Entry:
        """Replace the stored entry with ``entry.id`` by ``entry``'s content.

        Or pass an id (or uid prefix) and the fields to change, as keywords of ``add``:
        ``kb.update(12, answer="...")``. The entry's original text (``kb show --raw``)
        is kept.
        """
        if not isinstance(entry, Entry):
            entry = self.get(entry)
        if fields:
            entry = with_fields(entry, **fields)
        normalise(entry)
        validate(entry)
        entry.refresh_uid()
        with self.store.locked():
            if self.store.can_journal():
                return journalled.update(self, entry)
            lookup = self.key_lookup()
            with self.store.transaction():
                # An entry read from the index carries no raw text; the store keeps the
                # stored original for an entry written without one.
                self.store.replace(entry, lookup=lookup)
            self._after_full_write(lookup, [entry])
        return entry

    def remove(self, refs: int | str | Iterable[int | str]) -> list[Entry]:
        """Remove entries by id or uid prefix; return the removed ones.

        Every ref is looked up first: an unknown one raises NotFound and removes nothing.
        """
        if isinstance(refs, (int, str)):
            refs = [refs]
        entries = [self.get(ref) for ref in refs]
        ids = [e.id for e in entries if e.id is not None]
        with self.store.locked():
            if self.store.can_journal():
                return journalled.remove(self, entries)
            lookup = self.key_lookup()
            with self.store.transaction():
                gone = set(self.store.remove(ids, lookup=lookup))
            self._after_full_write(lookup, removed=gone)
        return [e for e in entries if e.id in gone]

    # -- reading -----------------------------------------------------------------------

    def get(self, ref: int | str) -> Entry:
        """Return the entry with this integer id or unique uid prefix."""
        return self._read(lambda i: i.get(ref))

    def raw(self, ref: int | str) -> str | None:
        """Return the original text an entry was read from (read from the store)."""
        entry = self.get(ref)
        return self.store.get_raw(entry.id) if entry.id is not None else None

    def search(
        self,
        query: str,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        limit: int = 10,
        offset: int = 0,
        latest: bool = False,
        status: str | None = ANSWERED,
    ) -> SearchResult:
        """Search for a question or keywords; return the page of hits, best first.

        The result is a sequence of ``Hit`` (entry, score, plain-text snippet and its
        highlighted spans) that also says how many entries matched (``total``), "did you
        mean" spellings (``suggestions``) and, when empty, why (``reason``). Filters
        combine with ``field:value`` terms in the query; ``latest`` orders by date. Open
        questions (waiting for an answer) are left out unless ``status`` is "open" (only
        them) or None (every entry).
        """
        return self._read(
            lambda i: i.search(
                query,
                category=category,
                expert=expert,
                tag=tag,
                limit=limit,
                offset=offset,
                latest=latest,
                status=status,
            )
        )

    def ask(
        self,
        question: str,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        others: int = 4,
        status: str | None = ANSWERED,
    ) -> SearchResult:
        """Answer a question: the best hit first, then up to ``others`` that answer it nearly as well.

        Ranked as ``search`` ranks; the other answers are those whose score is at least
        kb.search.fusion.OTHERS_SHARE of the best one's, so that a question the knowledge
        base answers once is not padded out with entries that share a word with it.
        """
        from kb.search.fusion import close_to_best

        result = self.search(
            question, category=category, expert=expert, tag=tag, limit=1 + max(0, others), status=status
        )
        return replace(result, hits=close_to_best(result.hits))

    def list(
        self,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        sort: str = "id",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        status: str | None = None,
    ) -> builtins.list[Entry]:
        """Return entries, filtered (any case, unique prefixes) and sorted by id, title, category or date.

        ``status`` "open" keeps the questions waiting for an answer, "answered" the rest.
        """
        return self._read(
            lambda i: i.list(
                category=category,
                expert=expert,
                tag=tag,
                sort=sort,
                descending=descending,
                limit=limit,
                offset=offset,
                status=status,
            )
        )

    def count(
        self,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        status: str | None = None,
    ) -> int:
        """Count the entries, or those that ``category``/``expert``/``tag``/``status`` keep (as in ``list``)."""
        return self._read(lambda i: i.count(category=category, expert=expert, tag=tag, status=status))

    def follow_ups(self, ref: int | str) -> builtins.list[Entry]:
        """The entries posted as follow-ups of this one (``kb post --follow-up``), by id."""
        return self._read(lambda i: i.follow_ups(self.get(ref).stored_id()))

    # -- asking and answering (kb.asking) ----------------------------------------------

    def post(self, question: str, **fields: Any) -> Posted:
        """Store a question that waits for an expert; see kb.asking.post for ``fields``."""
        from kb import asking

        return asking.post(self, question, **fields)

    def answer(self, ref: int | str, text: str, *, expert: str | None = None) -> Entry:
        """Answer an open question (refused with AlreadyAnswered, the text kept in a draft, when it is not)."""
        from kb import asking

        return asking.answer(self, ref, text, expert=expert)

    def inbox(self, expert: str | None = None) -> Inbox:
        """The open questions for an expert (every one without), oldest first, with their waits."""
        from kb import asking

        return asking.inbox(self, expert)

    @property
    def drafts_path(self) -> Path:
        """Where answers that could not be stored are kept (kb.paths.drafts_path_for)."""
        return drafts_path_for(self.path)

    def answer_open(self, entry: Entry) -> Entry:
        """Store an answered question if the stored one is still open; return it as stored.

        Checked and written under the store's lock, so of two writers answering one
        question at once exactly one succeeds.

        Raises:
            AlreadyAnswered: the stored entry is no longer open (nothing was written).
        """
        with self.store.locked():
            if not self.get(entry.stored_id()).is_open:
                raise AlreadyAnswered(f"#{entry.id} is already answered")
            return self.update(entry)

    def related(self, ref: int | str, limit: int = 5) -> builtins.list[Hit]:
        return self._read(lambda i: i.related(ref, limit=limit))

    def categories(self) -> builtins.list[tuple[str, int]]:
        return self._read(lambda i: i.categories())

    def fold_categories(self, entries: Iterable[Entry]) -> builtins.list[Entry]:
        """Return the entries with each category spelt as a stored one that differs only in case.

        `gard` becomes `GARD` when the store has `GARD`, so that typing a category in
        another case does not start a second one beside it.
        """
        entries = builtins.list(entries)
        if not any(e.category for e in entries):
            return entries
        return fold_categories(entries, [name for name, _ in self.categories()])

    def tags(self) -> builtins.list[tuple[str, int]]:
        """Every tag with how many entries carry it, most first."""
        return self._read(lambda i: i.tags())

    def experts(self) -> builtins.list[ExpertSummary]:
        return self._read(lambda i: i.experts())

    def expert(self, name: str) -> ExpertSummary:
        return self._read(lambda i: i.expert(name))

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

    def iter_entries(self, *, with_raw: bool = False) -> Iterator[Entry]:
        """Yield every entry from the store of record (for export), with its original
        text in ``raw`` when asked."""
        if not self.store.exists():
            return iter(())
        return self.store.iter_entries(with_raw=with_raw)

    # -- carrying out ------------------------------------------------------------------

    def export(
        self,
        fmt: str,
        dest: str | os.PathLike[str] | BinaryIO | None = None,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        changes: FolderChanges | None = None,
        force: bool = False,
    ) -> int:
        """Write entries from the store as ``jsonl``, ``json``, ``csv`` or ``md``; return how many.

        ``dest`` is a file path, a binary stream, or None for stdout; for ``md`` it is a
        folder that gets one file per entry, and an unfiltered export removes the files
        an earlier export wrote there for entries no longer stored (unless they were
        changed since), noting them in ``changes``. The filters work as in ``list`` (any
        case, unique prefixes; an unknown value raises NotFound). The entries themselves
        are read from the store of record, one at a time. An existing file (or, in a
        folder, a file kb did not write or that was changed since) is replaced only with
        ``force``; the store's own files never are. New files get the store's permissions.
        """
        from kb.export import export_entries, own_file

        if isinstance(dest, (str, os.PathLike)) and own_file(dest, self.path, self.index_path):
            raise UsageError(f"{dest} is one of the store's own files; kb export never writes there")
        mode = 0o600
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode) & 0o666
        except OSError:
            pass

        # JSON Lines is the backup format: it carries each entry's original text too.
        entries = self.iter_entries(with_raw=fmt == "jsonl")
        if category or expert or tag:
            wanted = {e.id for e in self.list(category=category, expert=expert, tag=tag, limit=None)}
            entries = (e for e in entries if e.id in wanted)
        return export_entries(
            entries, fmt, dest, complete=not (category or expert or tag), changes=changes, force=force, mode=mode
        )

    def stats(self) -> Stats:
        """Count entries, categories, experts, tags and sources; measure the files."""
        from kb.export import collect_stats

        return collect_stats(
            self.iter_entries(),
            store_path=self.path,
            index_path=self.index_path,
            store_bytes=self.store.size_bytes() if self.store.exists() else 0,
        )


__all__ = ["KnowledgeBase"]
