"""PostgresBackend: kb's Backend protocol (kb.backend) on a PostgreSQL database.

One connection per backend, in autocommit mode: each read is one statement or a few, and
each write runs in its own transaction. Readers never create or change anything: before
the first write the schema does not exist and the knowledge base reads as empty.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb import config
from kb.backend import EVERYTHING, BatchSink, Hooks, Problem, Request, WriteResult
from kb.errors import NotFound, QueryError, StoreMissing
from kb.models import Entry
from kb.postgres import postings, reads, schema, searching, writes
from kb.postgres.connection import connect, connection_name, database_errors, describe, in_recovery, standby_error
from kb.search.results import ExpertSummary, Hit, SearchResult

if TYPE_CHECKING:
    from kb.doctor.report import Report
    from kb.ingest.sink import SinkWriter
    from kb.ingest.sources import IngestReport


class PostgresBackend:
    """A knowledge base in one schema of a PostgreSQL database."""

    name = "postgres"

    def __init__(self, url: str, *, schema_name: str | None = None) -> None:
        self.url = url
        self.schema = schema_name or config.pg_schema()
        self._conn: Any = None
        self._version: int | None = None
        # The entry get() read last, and its follow-ups read with it: related() of the same
        # id takes its title and question from it, and follow_ups() the follow-ups, once
        # (kb show reads the entry, then these). Dropped by any write.
        self._shown: Entry | None = None
        self._shown_follow_ups: builtins.list[Entry] | None = None
        # Nothing here is rebuilt or stale behind a reader's back: no hook is called.
        self.hooks = Hooks()

    # -- the connection ----------------------------------------------------------------

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = connect(self.url, schema=self.schema)
            import orjson
            from psycopg.types.json import set_json_loads

            set_json_loads(orjson.loads, self._conn)
        return self._conn

    @property
    def location(self) -> str:
        where = connection_name(self._conn) if self._conn is not None else describe(self.url)
        return f"postgresql://{where}" + (f" (schema {self.schema})" if self.schema != "kb" else "")

    def exists(self) -> bool:
        """Whether kb's tables exist in the schema (the first write creates them)."""
        with database_errors(self.conn, "opening"):
            return self._readable()

    def require(self) -> None:
        if not self.exists():
            raise StoreMissing(
                f"no knowledge base at {self.location} yet",
                hint="create one with 'kb ingest FILES' or 'kb add' (by a login that may write), "
                "or name another with --db or KB_DB",
            )

    def owns(self, dest: str | os.PathLike[str]) -> bool:
        """No file is the store's own: it lives on the server."""
        return False

    def new_file_mode(self) -> int:
        return 0o600

    def index_file(self) -> Path | None:
        return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> PostgresBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _readable(self) -> bool:
        """Whether kb's tables exist (checked once); False reads as an empty knowledge base."""
        if self._version is None:
            self._version = schema.check_readable(self.conn, self.location)
        return self._version > 0

    @contextmanager
    def _writing(self, doing: str) -> Iterator[Any]:
        """A transaction for a write, after creating or migrating the schema if needed."""
        conn = self.conn
        self._shown, self._shown_follow_ups = None, None
        with database_errors(conn, doing):
            if self._version != schema.LATEST:
                if in_recovery(conn):
                    raise standby_error(conn)
                schema.ensure(conn, self.schema)
                self._version = schema.LATEST
            with conn.transaction():
                yield conn

    def _read(self, doing: str, action: Callable[[Any], Any], empty: Any) -> Any:
        conn = self.conn
        with database_errors(conn, doing):
            if not self._readable():
                return empty() if callable(empty) else empty
            return action(conn)

    # -- reading -----------------------------------------------------------------------

    def get(self, ref: int | str) -> Entry:
        def missing() -> Entry:
            raise NotFound(f"no entry with id or uid prefix {str(ref).strip()}")

        found = self._read("reading an entry", lambda c: reads.get_with_follow_ups(c, ref), missing)
        self._shown, self._shown_follow_ups = found
        return self._shown

    def raw(self, ref: int | str) -> str | None:
        entry = self.get(ref)
        return self._read("reading an entry", lambda c: reads.raw(c, entry.stored_id()), None)

    def list(self, request: Request = EVERYTHING) -> builtins.list[Entry]:
        return self._read("listing entries", lambda c: reads.list_entries(c, request), [])

    def count(self, request: Request = EVERYTHING) -> int:
        return self._read("counting entries", lambda c: reads.count(c, request), 0)

    def search(self, query: str, request: Request = EVERYTHING) -> SearchResult:
        empty = SearchResult([], 0, [], "the knowledge base is empty: add entries with 'kb ingest FILES' or 'kb add'")
        if not query.strip():
            raise QueryError("the query is empty", hint='give words to search for, e.g. kb search "bone scan"')
        return self._read("searching", lambda c: searching.search(c, query, request), empty)

    def related(self, ref: int | str, limit: int = 5) -> builtins.list[Hit]:
        shown = self._shown if self._shown is not None and str(ref).strip() == str(self._shown.stored_id()) else None
        return self._read("finding related entries", lambda c: searching.related(c, ref, limit, shown=shown), [])

    def closeness(self, query: str, ids: builtins.list[int]) -> dict[int, float]:
        return self._read("weighing a question", lambda c: searching.closeness(c, query, ids), {})

    def follow_ups(self, entry_id: int) -> builtins.list[Entry]:
        """The entries posted as follow-ups of the entry ``entry_id``."""
        if self._shown_follow_ups is not None and self._shown is not None and self._shown.stored_id() == entry_id:
            found, self._shown_follow_ups = self._shown_follow_ups, None
            return found
        return self._read("reading follow-ups", lambda c: reads.follow_ups(c, entry_id), [])

    def categories(self) -> builtins.list[tuple[str, int]]:
        return self._read("listing categories", reads.categories, [])

    def tags(self) -> builtins.list[tuple[str, int]]:
        return self._read("listing tags", reads.tags, [])

    def experts(self) -> builtins.list[ExpertSummary]:
        return self._read("listing experts", reads.experts, [])

    def expert(self, name: str) -> ExpertSummary:
        def missing() -> ExpertSummary:
            raise NotFound(f"no expert {name!r}")

        return self._read("reading an expert", lambda c: reads.expert(c, name), missing)

    def iter_entries(self, request: Request = EVERYTHING, *, with_raw: bool = False) -> Iterator[Entry]:
        conn = self.conn
        with database_errors(conn, "reading entries"):
            if not self._readable():
                return
            yield from reads.iter_entries(conn, request, with_raw=with_raw)

    # -- writing -----------------------------------------------------------------------

    def add_many(self, entries: Iterable[Entry]) -> WriteResult:
        entries = builtins.list(entries)
        with self._writing("adding entries") as conn:
            result = writes.write_batch(conn, entries, update_by_source=False)
        self._refresh_statistics()
        return result

    def update(self, entry: Entry, *, read_at: str | None = None) -> Entry:
        with self._writing("saving an edit") as conn:
            return writes.update(conn, entry, read_at if read_at is not None else entry.updated_at)

    def answer_open(self, entry: Entry) -> Entry:
        """Store an answered question only while the stored one is open (AlreadyAnswered otherwise)."""
        with self._writing("saving an answer") as conn:
            return writes.answer_open(conn, entry)

    def remove(self, ids: Iterable[int]) -> builtins.list[int]:
        with self._writing("removing entries") as conn:
            return writes.remove(conn, ids)

    @contextmanager
    def ingest_sink(self, *, dry_run: bool = False) -> Iterator[BatchSink]:
        """A sink for an ingest's batches, each its own transaction; a dry run's batches
        all go into one transaction that is rolled back at the end (nothing is kept,
        not even the tables of a knowledge base not written yet)."""
        if not dry_run:
            sink = BatchSink(self._write_batch, lambda saved: self._refresh_statistics(vacuum=True) if saved else None)
            yield sink
            sink.close()
            return
        conn = self.conn
        try:
            with database_errors(conn, "trying an ingest"), conn.transaction(force_rollback=True):
                yield BatchSink(self._write_batch)
        finally:
            # What the rolled-back transaction created (the tables) is gone again.
            self._version = None

    def ingest_writer(self, report: IngestReport, *, dry_run: bool = False) -> SinkWriter:
        from kb.ingest.sink import SinkWriter

        return SinkWriter(self.ingest_sink(dry_run=dry_run), report, dry_run=dry_run)

    def _write_batch(self, entries: builtins.list[Entry], update_by_source: bool) -> WriteResult:
        """One batch of an ingest, in its own transaction."""
        with self._writing("ingesting") as conn:
            return writes.write_batch(conn, entries, update_by_source=update_by_source)

    def _refresh_statistics(self, *, force: bool = False, vacuum: bool = False) -> None:
        conn = self.conn
        with database_errors(conn, "counting words"):
            writes.refresh_statistics(conn, force=force, vacuum=vacuum)

    # -- upkeep ------------------------------------------------------------------------

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Recompute every entry's vectors, the words and the stems' frequencies."""
        with self._writing("reindexing") as conn:
            conn.execute("UPDATE entries SET body = body_vector(title, question, answer, tags, expert, category)")
            conn.execute("DELETE FROM words")
            conn.execute("TRUNCATE abbreviations, aliases")
            postings.rebuild(conn, postings.stored(conn))
            ids = [i for (i,) in conn.execute("SELECT id FROM entries ORDER BY id")]
            for start in range(0, len(ids), 5000):
                writes.count_words(conn, ids[start : start + 5000], 1)
                if progress is not None:
                    progress(min(start + 5000, len(ids)))
        self._refresh_statistics(force=True)
        return len(ids)

    def check(self) -> builtins.list[Problem]:
        """What can be checked in PostgreSQL: the schema's version, orphans, the vocabulary."""

        def run(conn: Any) -> builtins.list[Problem]:
            found = []
            orphans = conn.execute(
                "SELECT count(*) FROM experts x WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.expert = x.name)"
            ).fetchone()[0]
            if orphans:
                found.append(Problem(f"{orphans} expert profiles that no entry names", "experts", True))
            missing = conn.execute(
                "SELECT count(*) FROM entries e WHERE e.expert IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM experts x WHERE x.name = e.expert)"
            ).fetchone()[0]
            if missing:
                found.append(Problem(f"{missing} entries name an expert with no profile", "entries", True))
            return found

        return self._read("checking", run, [])

    def repair(self) -> builtins.list[str]:
        done: builtins.list[str] = []
        problems = self.check()
        if not any(p.repairable for p in problems):
            return done
        with self._writing("repairing") as conn:
            gone = conn.execute(
                "DELETE FROM experts x WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.expert = x.name)"
            ).rowcount
            if gone:
                done.append(f"removed {gone} expert profiles that no entry names")
            made = conn.execute(
                "INSERT INTO experts (name, profile) SELECT DISTINCT expert, jsonb_build_object('name', expert)"
                " FROM entries WHERE expert IS NOT NULL ON CONFLICT DO NOTHING"
            ).rowcount
            if made:
                done.append(f"gave {made} experts a profile with their name")
        return done

    def doctor(self, *, repair: bool = False) -> Report:
        """What can be checked in PostgreSQL: the schema's version, the counts, orphan rows.

        A repair first carries old tables forward (as any write would), then fixes the
        orphan rows; it never creates the tables of a knowledge base not written yet.
        """
        from kb.doctor.report import NOTE, OK, PROBLEM, Report

        report = Report(self.location)
        conn = self.conn
        with database_errors(conn, "checking"):
            found = schema.version(conn)
            if repair and 0 < found < schema.LATEST:
                with self._writing("carrying the tables forward"):
                    pass
                report.actions.append(f"carried the tables forward from version {found} to {schema.LATEST}")
                found = schema.version(conn)
            self._version = None
        if repair and found == schema.LATEST:
            report.actions += self.repair()
        report.after_repair = repair
        if found == 0:
            report.add("schema", NOTE, f"no kb tables in schema {self.schema} yet (the first write creates them)")
            return report
        if found > schema.LATEST:
            report.add(
                "schema",
                PROBLEM,
                f"version {found}, written by a newer kb (this kb reads {schema.LATEST})",
                fix="upgrade kb",
            )
            return report
        if found < schema.LATEST:
            report.add(
                "schema",
                PROBLEM,
                f"version {found}, older than this kb's {schema.LATEST}",
                fix="kb doctor --repair (by a login that may write) carries the tables forward",
            )
            return report
        report.add("schema", OK, f"schema {self.schema} at version {found}")

        def counts(conn: Any) -> tuple[int, int]:
            entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
            experts = conn.execute("SELECT count(*) FROM experts").fetchone()[0]
            return int(entries), int(experts)

        entries, experts = self._read("counting", counts, (0, 0))
        report.add("entries", OK, f"{entries} entries, {experts} expert profiles")
        problems = self.check()
        for problem in problems:
            report.add(problem.where, PROBLEM, problem.what, fix="kb doctor --repair" if problem.repairable else None)
        if not problems:
            report.add("rows", OK, "no orphan rows")
        return report

    def size_bytes(self) -> int | None:
        def run(conn: Any) -> int:
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
                (self.schema,),
            ).fetchone()
            return int(row[0]) if row else 0

        return self._read("measuring", run, 0)

    def locations(self) -> dict[str, Any]:
        return {
            "store": self.location,
            "store_bytes": self.size_bytes(),
            "index": None,
            "index_bytes": None,
            "entries": self.count(),
            "categories": len(self.categories()),
            "experts": len(self.experts()),
        }


def open_backend(location: str, **options: Any) -> PostgresBackend:
    """Open a PostgreSQL knowledge base by its libpq URL (kb.backend's registry calls this)."""
    return PostgresBackend(location, schema_name=options.get("schema_name"))
