"""KnowledgeBase: the one object the CLI and scripts use to read and write kb.

It is a thin front over one backend (kb.backend's protocol), chosen by where the store
lives: a path opens the files backend (kb.files: TinyDB store and SQLite index), a
``postgresql://`` URL the PostgreSQL one (kb.postgres). What every backend shares stays
here: entries are normalised and validated before a backend sees them, ``ask`` picks
the answers close to the best, and export and stats are written over ``iter_entries``.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from kb.backend import Request, open_backend
from kb.entries import duplicate_error, entry_from_fields, fold_categories, normalise, validate, with_fields
from kb.errors import UsageError
from kb.models import ANSWERED, Entry

if TYPE_CHECKING:
    from pathlib import Path

    from kb.asking import Inbox, Posted
    from kb.backend import Backend, Hooks
    from kb.doctor.report import Report
    from kb.export import FolderChanges, Stats
    from kb.ingest.sources import IngestReport
    from kb.search.results import ExpertSummary, Hit, SearchResult


def default_location() -> str:
    """Where the store lives when nobody says: ``$KB_DB`` as given (a path or a URL),
    else the platform's user data folder."""
    from kb import config

    location = config.db_location()
    if location is not None:
        return location
    from kb.paths import default_db_path

    return str(default_db_path())


class KnowledgeBase:
    """A knowledge base: one backend behind the Python API. Open with ``KnowledgeBase.open(location)``."""

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        lock_timeout: float | None = None,
        as_is: bool = False,
        backend: Backend | None = None,
    ) -> None:
        """Open the backend that serves ``location`` (see ``open``).

        ``as_is`` reads whatever search data there is without checking or rebuilding it,
        and creates nothing (for shell completion, which must answer at once).
        """
        if backend is None:
            where = os.fspath(location) if location is not None else default_location()
            backend = open_backend(where, lock_timeout=lock_timeout, as_is=as_is)
        self.backend: Backend = backend

    @classmethod
    def open(cls, location: str | os.PathLike[str] | None = None, **kwargs: Any) -> KnowledgeBase:
        """Open the knowledge base at a path or a URL (``postgresql://...``); default ``$KB_DB``."""
        return cls(location, **kwargs)

    @property
    def location(self) -> str:
        """Where the store lives, as people may see it (a path, or a URL without its password)."""
        return self.backend.location

    @property
    def index_location(self) -> str:
        """Where the search data lives: its own file, or the store's location."""
        index = self.backend.index_file()
        return self.location if index is None else str(index)

    @property
    def hooks(self) -> Hooks:
        """Who the backend tells of rebuilds and stale reads (kb.backend.Hooks)."""
        return self.backend.hooks

    def close(self) -> None:
        self.backend.close()

    def exists(self) -> bool:
        """Whether the store has been created: only a write creates it (never a read)."""
        return self.backend.exists()

    def require(self) -> None:
        """Raise StoreMissing (naming where and how to create a store) unless the store exists."""
        self.backend.require()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        """Read Q&A files into the store and its search data; return what happened.

        Entries are committed in batches that double in size (2,000, 4,000, ... up to
        16,384), so a crash loses at most the batch being written. In the files backend
        the index follows in a second process or thread (see kb/ingest/pipeline.py), and
        the store's lock is held only while a batch is written and indexed, so other
        writers go on between batches; PostgreSQL commits each batch in its own
        transaction (kb/ingest/sink.py). Ctrl-C rolls back the open
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
            lambda report: self.backend.ingest_writer(report, dry_run=dry_run),
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
        result = self.backend.add_many(entries)
        return result.added, result.unchanged

    def update(self, entry: Entry | int | str, /, *, read_at: str | None = None, **fields: Any) -> Entry:
        """Replace the stored entry with ``entry.id`` by ``entry``'s content.

        Or pass an id (or uid prefix) and the fields to change, as keywords of ``add``:
        ``kb.update(12, answer="...")``. The entry's original text (``kb show --raw``)
        is kept. ``read_at`` (the ``updated_at`` the entry had when it was read) refuses
        the edit with EditConflict if the entry changed since.
        """
        if not isinstance(entry, Entry):
            entry = self.get(entry)
        if fields:
            entry = with_fields(entry, **fields)
        normalise(entry)
        validate(entry)
        entry.refresh_uid()
        return self.backend.update(entry, read_at=read_at)

    def remove(self, refs: int | str | Iterable[int | str]) -> list[Entry]:
        """Remove entries by id or uid prefix; return the removed ones.

        Every ref is looked up first: an unknown one raises NotFound and removes nothing.
        """
        if isinstance(refs, (int, str)):
            refs = [refs]
        entries = [self.get(ref) for ref in refs]
        gone = set(self.backend.remove([e.stored_id() for e in entries]))
        return [e for e in entries if e.id in gone]

    # -- reading -----------------------------------------------------------------------

    def get(self, ref: int | str) -> Entry:
        """Return the entry with this integer id or unique uid prefix."""
        return self.backend.get(ref)

    def raw(self, ref: int | str) -> str | None:
        """Return the original text an entry was read from (read from the store)."""
        return self.backend.raw(ref)

    def search(self, query: str, request: Request | None = None, /, **filters: Any) -> SearchResult:
        """Search for a question or keywords; return the page of hits, best first.

        ``request`` (kb.backend.Request) carries the filters and the page; scripts may
        give them as keywords instead: ``category``, ``expert``, ``tag`` (any case, unique
        prefixes), ``limit`` (default 10), ``offset``, ``latest`` (newest first). The
        result is a sequence of ``Hit`` (entry, score, plain-text snippet and its
        highlighted spans) that also says how many entries matched (``total``), "did you
        mean" spellings (``suggestions``) and, when empty, why (``reason``). Filters
        combine with ``field:value`` terms in the query. Open questions (waiting for an
        answer) are left out unless the ``status`` keyword is "open" (only them) or None
        (every entry); a Request is taken as it is (its ``status`` None: every entry).
        """
        return self.backend.search(query, _search_request(request, filters))

    def ask(self, question: str, request: Request | None = None, /, *, others: int = 4, **filters: Any) -> SearchResult:
        """Answer a question: the best hit first, then up to ``others`` that answer it nearly as well.

        Ranked as ``search`` ranks, with its filters; the other answers are those whose
        score is at least kb.search.fusion.OTHERS_SHARE of the best one's, so that a
        question the knowledge base answers once is not padded out with entries that
        share a word with it.
        """
        from kb.search.fusion import close_to_best

        result = self.search(question, _search_request(request, filters).page(1 + max(0, others)))
        return result.with_hits(close_to_best(result.hits))

    def closeness(self, question: str, hits: Iterable[Hit]) -> dict[int, float]:
        """How close each hit's entry (by stored id) comes to the question, 0..1: the share of
        the question's information it holds (kb.search.closeness; kb.asking.close_enough)."""
        return self.backend.closeness(question, [hit.entry.stored_id() for hit in hits])

    def list(self, request: Request | None = None, /, **filters: Any) -> builtins.list[Entry]:
        """Return entries, filtered (any case, unique prefixes) and sorted by id, title, category or date.

        ``request`` carries the filters, order and page, or give them as keywords:
        ``category``, ``expert``, ``tag``, ``status`` ("open": the questions waiting for
        an answer, "answered": the rest; default both), ``sort``, ``descending``,
        ``limit`` (default: all), ``offset``.
        """
        return self.backend.list(_request(request, filters))

    def count(self, request: Request | None = None, /, **filters: Any) -> int:
        """Count the entries, or those the request's (or keywords') filters keep, as in ``list``."""
        return self.backend.count(_request(request, filters))

    def related(self, ref: int | str, limit: int = 5) -> builtins.list[Hit]:
        return self.backend.related(ref, limit=limit)

    def follow_ups(self, ref: int | str | Entry) -> builtins.list[Entry]:
        """The entries posted as follow-ups of this one (``kb post --follow-up``), by id.

        ``ref`` may be the stored entry itself, when the caller has just read it (kb show):
        it is then not read again (a round trip on PostgreSQL)."""
        entry = ref if isinstance(ref, Entry) else self.get(ref)
        return self.backend.follow_ups(entry.stored_id())

    # -- asking and answering (kb.asking) ----------------------------------------------

    def post(self, question: str, **fields: Any) -> Posted:
        """Store a question that waits for an expert; see kb.asking.post for ``fields``."""
        from kb import asking

        return asking.post(self, question, **fields)

    def answer(self, ref: int | str, text: str, *, expert: str | None = None) -> Entry:
        """Answer an open question (refused with AlreadyAnswered, the text kept in a draft, when it is not)."""
        from kb import asking

        return asking.answer(self, ref, text, expert=expert)

    def answer_open(self, entry: Entry) -> Entry:
        """Store an answered question only while the stored one is still open: checked and
        written as one step against every other writer (AlreadyAnswered otherwise)."""
        normalise(entry)
        validate(entry)
        return self.backend.answer_open(entry)

    def inbox(self, expert: str | None = None) -> Inbox:
        """The open questions for an expert (every one without), oldest first, with their waits."""
        from kb import asking

        return asking.inbox(self, expert)

    @property
    def drafts_path(self) -> Path:
        """Where answers that could not be stored are kept (kb.paths.drafts_path_for)."""
        from kb.backend import scheme_of
        from kb.paths import drafts_path_for

        return drafts_path_for(None if scheme_of(self.location) else self.location)

    def categories(self) -> builtins.list[tuple[str, int]]:
        return self.backend.categories()

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
        return self.backend.tags()

    def experts(self) -> builtins.list[ExpertSummary]:
        return self.backend.experts()

    def expert(self, name: str) -> ExpertSummary:
        return self.backend.expert(name)

    def locations(self) -> dict[str, Any]:
        """Where the store (and any index) lives, their sizes, and how many entries they hold."""
        return self.backend.locations()

    def iter_entries(self, request: Request | None = None, *, with_raw: bool = False) -> Iterator[Entry]:
        """Yield every entry from the store of record (for export), with its original
        text in ``raw`` when asked; a request's filters keep some."""
        return self.backend.iter_entries(request or Request(), with_raw=with_raw)

    # -- upkeep ------------------------------------------------------------------------

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the search data from the store of record; return how many entries it holds."""
        return self.backend.reindex(progress)

    def doctor(self, *, repair: bool = False) -> Report:
        """Check the store and its search data; with ``repair``, fix what can be fixed first."""
        return self.backend.doctor(repair=repair)

    # -- carrying out ------------------------------------------------------------------

    def export(
        self,
        fmt: str,
        dest: str | os.PathLike[str] | BinaryIO | None = None,
        request: Request | None = None,
        *,
        changes: FolderChanges | None = None,
        force: bool = False,
        **filters: Any,
    ) -> int:
        """Write entries from the store as ``jsonl``, ``json``, ``csv`` or ``md``; return how many.

        ``dest`` is a file path, a binary stream, or None for stdout; for ``md`` it is a
        folder that gets one file per entry, and an unfiltered export removes the files
        an earlier export wrote there for entries no longer stored (unless they were
        changed since), noting them in ``changes``. The request's filters (or the keywords
        ``category``, ``expert``, ``tag``) work as in ``list`` (any case, unique prefixes;
        an unknown value raises NotFound). The entries themselves
        are read from the store of record, one at a time. An existing file (or, in a
        folder, a file kb did not write or that was changed since) is replaced only with
        ``force``; the store's own files never are. New files get the store's permissions.
        """
        from kb.export import export_entries

        if isinstance(dest, (str, os.PathLike)) and self.backend.owns(dest):
            raise UsageError(f"{dest} is one of the store's own files; kb export never writes there")
        mode = self.backend.new_file_mode()
        request = _request(request, filters)
        # JSON Lines is the backup format: it carries each entry's original text too.
        entries = self.iter_entries(request, with_raw=fmt == "jsonl")
        return export_entries(
            entries, fmt, dest, complete=not request.filtered, changes=changes, force=force, mode=mode
        )

    def stats(self) -> Stats:
        """Count entries, categories, experts, tags and sources; measure the files."""
        from kb.export import collect_stats

        return collect_stats(
            self.iter_entries(),
            store_path=self.location,
            index_path=self.backend.index_file(),
            store_bytes=self.backend.size_bytes() or 0,
        )


def _search_request(request: Request | None, filters: dict[str, Any]) -> Request:
    """A search's request: given as keywords, it leaves open questions out unless ``status`` says."""
    if request is None:
        filters = {"status": ANSWERED, **filters}
    return _request(request, filters)


def _request(request: Request | None, filters: dict[str, Any]) -> Request:
    """The request a read was given: a Request, or the same as keywords (``latest=True``
    for ``sort="date"``); not both."""
    if request is None:
        latest = filters.pop("latest", False)
        if latest:
            filters.setdefault("sort", "date")
        return Request(**filters)
    if filters:
        raise TypeError("pass a Request or keyword filters, not both")
    return request


__all__ = ["KnowledgeBase"]
