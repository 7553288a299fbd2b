"""The seam between kb's front (KnowledgeBase, the CLI) and where entries live.

A backend is the store of record and its search together: the files backend (TinyDB
shards, journal and SQLite FTS5 index) or PostgreSQL. It implements :class:`Backend`;
the front passes it a :class:`Request` (filters, sort and page as one value) and gets
entries, hits and facets back. Which backend serves a store location is decided here
alone, by :func:`open_backend`: a URL's scheme names one, and anything else is a path
for the default, the files backend. Backends register as :class:`BackendSpec` rows and are imported by
module name on first use, so choosing one never imports the others.
"""

from __future__ import annotations

import builtins
import importlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kb.errors import UsageError
from kb.models import STATUSES, FrozenRecord, Record

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

    from kb.doctor.report import Report
    from kb.ingest.sources import IngestReport
    from kb.models import Entry
    from kb.search.results import ExpertSummary, Hit, SearchResult

#: The filters every reading command takes, in the order people see them.
FILTER_KINDS = ("category", "expert", "tag")
#: Orders of ``list`` (search ranks by relevance unless told ``date``).
SORTS = ("id", "title", "category", "date")


class Request(FrozenRecord):
    """What a read asks for besides its subject: filters, order and page, as one value.

    Filter values ignore case and may be unique prefixes (as ``kb list --category onc``).
    ``sort`` None means the command's own order: id for ``list``, relevance for
    ``search``; ``"date"`` puts the newest first in a search. ``limit`` None means every
    entry; a search's default page is ``SEARCH_PAGE``. ``status`` keeps only the open
    questions (``"open"``) or only the answered entries (``"answered"``); None keeps both.
    """

    __slots__ = ("category", "expert", "tag", "status", "sort", "descending", "limit", "offset")
    category: str | None
    expert: str | None
    tag: str | None
    status: str | None
    sort: str | None
    descending: bool
    limit: int | None
    offset: int

    def __init__(
        self,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        status: str | None = None,
        sort: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> None:
        if status is not None and status not in STATUSES:
            raise UsageError(f"unknown status {status!r}", hint="give " + " or ".join(STATUSES))
        if sort is not None and sort not in SORTS:
            raise UsageError(f"unknown sort {sort!r}", hint="sort by " + ", ".join(SORTS))
        if limit is not None and limit < 0:
            raise UsageError(f"the limit must be 0 or more, not {limit}")
        if offset < 0:
            raise UsageError(f"the offset must be 0 or more, not {offset}")
        self._set(category, expert, tag, status, sort, descending, limit, offset)

    @property
    def filters(self) -> dict[str, str]:
        """The filters given, by kind (category, expert, tag)."""
        return {kind: value for kind in FILTER_KINDS if (value := getattr(self, kind))}

    @property
    def filtered(self) -> bool:
        """Whether the request keeps only some entries (a filter or a status)."""
        return bool(self.filters) or self.status is not None

    @property
    def latest(self) -> bool:
        """Whether a search orders its matches by date instead of relevance."""
        return self.sort == "date"

    def page(self, limit: int | None, offset: int = 0) -> Request:
        """The same request for another page."""
        return Request(self.category, self.expert, self.tag, self.status, self.sort, self.descending, limit, offset)

    def unpaged(self) -> Request:
        """The same filters and order, every entry."""
        return self.page(None)


#: A search's page when the request gives no limit.
SEARCH_PAGE = 10
EVERYTHING = Request()


class WriteResult(Record):
    """What one write did: entries added, updated in place (same source record), and
    those already stored (same uid), each carrying its stored id."""

    __slots__ = ("added", "updated", "unchanged")
    added: list[Entry]
    updated: list[Entry]
    unchanged: list[Entry]

    def __init__(
        self,
        added: list[Entry] | None = None,
        updated: list[Entry] | None = None,
        unchanged: list[Entry] | None = None,
    ) -> None:
        self.added = [] if added is None else added
        self.updated = [] if updated is None else updated
        self.unchanged = [] if unchanged is None else unchanged


class Problem(Record):
    """One thing ``check`` found wrong: what, where, and whether ``repair`` can fix it."""

    __slots__ = ("what", "where", "repairable")
    what: str
    where: str
    repairable: bool

    def __init__(self, what: str, where: str, repairable: bool = False) -> None:
        self.what = what
        self.where = where
        self.repairable = repairable


class Hooks(Record):
    """What a backend may tell the front while it works; each None when nobody listens.

    ``on_rebuild(total)`` when derived search data is rebuilt (it may return a progress
    callback for the entries done); ``on_stale()`` when a read is served from search data
    another process is still bringing along; ``on_temporary_index()`` when search data
    cannot be written here and is built for this run alone.
    """

    __slots__ = ("on_rebuild", "on_stale", "on_temporary_index")
    on_rebuild: Callable[[int], Callable[[int], None] | None] | None
    on_stale: Callable[[], None] | None
    on_temporary_index: Callable[[], None] | None

    def __init__(
        self,
        on_rebuild: Callable[[int], Callable[[int], None] | None] | None = None,
        on_stale: Callable[[], None] | None = None,
        on_temporary_index: Callable[[], None] | None = None,
    ) -> None:
        self.on_rebuild = on_rebuild
        self.on_stale = on_stale
        self.on_temporary_index = on_temporary_index


class EntryWriter(Protocol):
    """What an ingest hands its entries to, one at a time (kb.ingest.run's loop): the
    backend batches them, records each batch in the report, and commits as it goes."""

    def add(self, entry: Entry) -> None: ...

    def finish(self) -> None:
        """Write what is left and bring the search data along."""
        ...

    def abandon(self) -> None:
        """Stop after an error or interrupt: roll back the open batch, keep those committed."""
        ...

    def saved(self) -> int:
        """How many entries the committed batches added or updated (0 for a dry run)."""
        ...


class IngestSink(Protocol):
    """Where an ingest writes its batches: each ``write`` is committed on its own, so an
    interrupted ingest keeps every batch before the one being written."""

    def write(self, entries: builtins.list[Entry], *, update_by_source: bool = True) -> WriteResult:
        """Store a batch: new uids are added, a changed record of a known source replaces
        its entry, a known uid is left as it is."""
        ...

    def saved(self) -> int:
        """How many entries the committed batches added or updated."""
        ...

    def close(self) -> None:
        """Finish: bring derived data (search statistics, vocabulary) up to date."""
        ...


class BatchSink:
    """An IngestSink over a backend's function that writes one batch in its own commit;
    ``finish(saved)`` runs at ``close`` (to bring derived data along)."""

    def __init__(
        self,
        write_batch: Callable[[builtins.list[Entry], bool], WriteResult],
        finish: Callable[[int], None] | None = None,
    ) -> None:
        self._write_batch = write_batch
        self._finish = finish
        self._saved = 0

    def write(self, entries: builtins.list[Entry], *, update_by_source: bool = True) -> WriteResult:
        result = self._write_batch(entries, update_by_source)
        self._saved += len(result.added) + len(result.updated)
        return result

    def saved(self) -> int:
        return self._saved

    def close(self) -> None:
        if self._finish is not None:
            self._finish(self._saved)


@runtime_checkable
class Backend(Protocol):
    """Everything the front asks of a store: one implementation per kind of store.

    Reads take a :class:`Request`; writes take entries and apply the backend's write
    rules (ids, timestamps, the uid check, source matching) in one place. Errors are
    KbError subclasses: NotFound, InvalidEntry/Duplicate, EditConflict, StoreError
    (ServerUnavailable, ReadOnlyLogin), QueryError.
    """

    #: The backend's registry name ("files", "postgres").
    name: str
    #: Who to tell of rebuilds and stale reads (see Hooks).
    hooks: Hooks

    @property
    def location(self) -> str:
        """Where it lives, as people may show it (a path, or a URL without its password)."""
        ...

    def close(self) -> None: ...

    def exists(self) -> bool:
        """Whether the store has been created (only a write creates it, never a read)."""
        ...

    def require(self) -> None:
        """Raise StoreMissing, naming the location and how to create a store, unless it exists."""
        ...

    # -- reading ---------------------------------------------------------------------

    def get(self, ref: int | str) -> Entry:
        """The entry with this integer id or unique uid prefix (NotFound otherwise)."""
        ...

    def raw(self, ref: int | str) -> str | None:
        """The original text the entry was read from."""
        ...

    def list(self, request: Request = EVERYTHING) -> builtins.list[Entry]: ...

    def count(self, request: Request = EVERYTHING) -> int: ...

    def search(self, query: str, request: Request = EVERYTHING) -> SearchResult:
        """Rank entries for a question or keywords (kb.search.query's syntax), one page."""
        ...

    def related(self, ref: int | str, limit: int = 5) -> builtins.list[Hit]: ...

    def closeness(self, query: str, ids: builtins.list[int]) -> dict[int, float]:
        """How close each of these entries comes to ``query``, 0..1 (kb.search.closeness)."""
        ...

    def follow_ups(self, entry_id: int) -> builtins.list[Entry]:
        """The entries posted as follow-ups of this one (``follows`` = its id), by id."""
        ...

    # -- facets ----------------------------------------------------------------------

    def categories(self) -> builtins.list[tuple[str, int]]: ...

    def tags(self) -> builtins.list[tuple[str, int]]: ...

    def experts(self) -> builtins.list[ExpertSummary]: ...

    def expert(self, name: str) -> ExpertSummary: ...

    # -- writing ---------------------------------------------------------------------

    def add_many(self, entries: Iterable[Entry]) -> WriteResult:
        """Add entries in one write (already normalised and validated by the front)."""
        ...

    def update(self, entry: Entry, *, read_at: str | None = None) -> Entry:
        """Replace the stored entry ``entry.id``; EditConflict when it changed since
        ``read_at`` (the ``updated_at`` it had when read). Without ``read_at``, PostgreSQL
        compares ``entry.updated_at``; the files backend, one machine's, does not check."""
        ...

    def answer_open(self, entry: Entry) -> Entry:
        """Store an answered question (``entry``, its id that of an open one) only if the
        stored entry is still open, checked and written as one step against every other
        writer; AlreadyAnswered (nothing written) otherwise."""
        ...

    def remove(self, ids: Iterable[int]) -> builtins.list[int]:
        """Remove entries by id; return the ids that existed."""
        ...

    def ingest_sink(self) -> AbstractContextManager[IngestSink]:
        """A sink for an ingest's batches, closed (or abandoned on error) by the with block."""
        ...

    def ingest_writer(self, report: IngestReport, *, dry_run: bool = False) -> EntryWriter:
        """A writer for one ingest's entries, recording what it did in ``report``; a dry
        run writes nothing (and creates no store)."""
        ...

    # -- upkeep ----------------------------------------------------------------------

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild derived search data from the record; return how many entries it holds."""
        ...

    def check(self) -> builtins.list[Problem]: ...

    def repair(self) -> builtins.list[str]:
        """Fix what ``check`` finds repairable; return one line per fix."""
        ...

    def iter_entries(self, request: Request = EVERYTHING, *, with_raw: bool = False) -> Iterator[Entry]:
        """Every entry the request's filters keep, in id order, one at a time (export, stats)."""
        ...

    def size_bytes(self) -> int | None:
        """How much room the store takes (files, or the tables' relations)."""
        ...

    def locations(self) -> dict[str, Any]:
        """Where the store lives and what holds it, for ``kb path``."""
        ...

    def owns(self, dest: str | os.PathLike[str]) -> bool:
        """Whether a file at ``dest`` would be one of the store's own (export refuses it)."""
        ...

    def new_file_mode(self) -> int:
        """The permissions of files an export creates (the store's, or owner-only)."""
        ...

    def index_file(self) -> Path | None:
        """The file that holds the derived search data, if it is a file of its own."""
        ...

    def doctor(self, *, repair: bool = False) -> Report:
        """Check the store and its search data (and repair what can be, first, when asked)."""
        ...


class BackendSpec(FrozenRecord):
    """A backend's registry row: its name, the URL schemes it serves, where it is, and
    the module's function that opens it: ``opener(location, **options) -> Backend``."""

    __slots__ = ("name", "schemes", "module", "opener")
    name: str
    schemes: tuple[str, ...]
    module: str
    opener: str

    def __init__(self, name: str, schemes: tuple[str, ...], module: str, opener: str = "open_backend") -> None:
        self._set(name, schemes, module, opener)


# The files backend serves every location that is not a URL of another one (a path).
DEFAULT = BackendSpec("files", (), "kb.files")
BACKENDS: builtins.list[BackendSpec] = [
    DEFAULT,
    BackendSpec("postgres", ("postgresql", "postgres"), "kb.postgres"),
]


def register(spec: BackendSpec) -> None:
    """Add a backend (its schemes then open it), or replace the one of the same name."""
    BACKENDS[:] = [s for s in BACKENDS if s.name != spec.name] + [spec]


def scheme_of(location: str) -> str | None:
    """The URL scheme of a location (``postgresql`` of ``postgresql://...``), None for a path.

    A Windows drive (``C:\\``) is a path, not a scheme.
    """
    head, sep, _ = location.partition("://")
    if not sep or len(head) < 2 or not head.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return None
    return head.lower()


# A libpq keyword/value connection string ("host=db dbname=kb user=me").
_CONNINFO = re.compile(r"(?:^|\s)(?:host|hostaddr|port|dbname|user|password|service)=")


def spec_for(location: str) -> BackendSpec:
    """The backend that serves this location: a path is the default (files) backend's.

    Raises:
        UsageError: a URL whose scheme no backend serves.
    """
    scheme = scheme_of(location)
    if scheme is None:
        if _CONNINFO.search(location):
            # Taken as a path, it would become a store file named after the settings.
            raise UsageError(
                "that looks like a PostgreSQL connection string (key=value ...); kb takes a URL",
                hint="give it as postgresql://USER@HOST:PORT/DBNAME (PG* variables and ~/.pgpass fill in the rest)",
            )
        return next((spec for spec in BACKENDS if spec.name == DEFAULT.name), DEFAULT)
    for spec in BACKENDS:
        if scheme in spec.schemes:
            return spec
    known = ", ".join(f"{s}://" for spec in BACKENDS for s in spec.schemes)
    raise UsageError(f"kb cannot open a store at {scheme}:// URLs", hint=f"give a file path or one of: {known}")


def open_backend(location: str, **options: Any) -> Backend:
    """Open the backend that serves ``location`` (a path, or a URL of a registered scheme).

    Raises:
        UsageError: a URL of an unknown scheme.
    """
    spec = spec_for(location)
    opener: Callable[..., Backend] = getattr(importlib.import_module(spec.module), spec.opener)
    return opener(location, **options)
