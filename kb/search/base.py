"""The index's connection: opening (and recreating a broken file), transactions, errors, meta.

Every part of the SearchIndex (writes, reads, planning, ranking, related) builds on this
class; it also holds the small encoding helpers they share.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from kb.errors import KbError, SearchIndexError
from kb.models import Entry
from kb.search.schema import (
    ENTRY_COLUMNS,
    ENTRY_FIELDS,
    INDEX_SUFFIXES,
    PAGE_SIZE,
    SCHEMA,
    SCHEMA_VERSION,
    SchemaMismatch,
    is_corrupt,
    read_only_uri,
    register,
    split_sql,
)

# The budget of postings a search's candidate terms may match (see planning.py).
CANDIDATE_BUDGET = 8_000


def dumps(value: Any) -> bytes:
    import orjson  # imported on first use: the CLI's start-up does not pay for it

    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    import orjson

    return orjson.loads(data)


def ids_json(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class IndexBase:
    """An open index file; see kb.search.index for the whole SearchIndex."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, in_memory: bool = False) -> None:
        self.path = Path(path)
        # read_only: an index on media kb cannot write (never changed, never removed);
        # in_memory: a temporary index built for this run only, named after ``path``.
        self.read_only = read_only
        self.in_memory = in_memory
        self._conn: sqlite3.Connection | None = None
        self._tokenizer_ready = False
        self._counter_ready = False
        self._words_staged = False
        self.candidate_budget = CANDIDATE_BUDGET
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if not self._is_corrupt(exc) or read_only:
                raise SearchIndexError(f"cannot open the search index {self.path}: {exc}") from exc
            # Derived data: a file that is not a usable index is thrown away and rebuilt.
            self._remove_files()
            try:
                self._open()
            except sqlite3.Error as exc2:
                raise SearchIndexError(f"cannot create the search index {self.path}: {exc2}") from exc2
        except OSError as exc:
            raise SearchIndexError(f"cannot open the search index {self.path}: {exc}") from exc

    @staticmethod
    def _is_corrupt(exc: sqlite3.Error) -> bool:
        return is_corrupt(exc)

    def _remove_files(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for suffix in INDEX_SUFFIXES:
            try:
                os.remove(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise SearchIndexError(f"cannot remove the broken search index {self.path}: {exc}") from exc

    def reset(self) -> None:
        """Throw the index away and start an empty one (it is derived data)."""
        self._remove_files()
        try:
            self._open()
        except sqlite3.Error as exc:
            raise SearchIndexError(f"cannot create the search index {self.path}: {exc}") from exc

    def _open(self) -> None:
        if self.read_only:
            conn = sqlite3.connect(self._read_only_uri(), uri=True, isolation_level=None, check_same_thread=False)
        elif self.in_memory:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # It holds every entry's text, like the store: owner-only. SQLite gives its
                # -wal and -shm files the database file's permissions.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn = conn
        register(conn)
        # Temp tables belong to a connection: a new one has none of them yet.
        self._tokenizer_ready = self._counter_ready = self._words_staged = False
        conn.execute("PRAGMA busy_timeout = 10000")
        if not self.read_only:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a no-op once the file has pages
        if not (self.read_only or self.in_memory):
            # WAL lets searches go on reading the old index while a rebuild writes the new one.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if not has_meta and self.read_only:
            raise SearchIndexError(f"{self.path} is not a kb search index")
        if not has_meta:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                # A healthy database of something else: not ours to delete.
                raise SearchIndexError(
                    f"{self.path} is a SQLite database but not a kb search index",
                    hint="move it away; kb keeps its index beside the store",
                )
            with self._transaction():
                # Two processes may both have found no index; the first to hold the write
                # lock creates it, and the second finds it made when its turn comes.
                if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
                    for statement in split_sql(SCHEMA):
                        conn.execute(statement)
                    conn.execute("INSERT INTO meta VALUES ('schema', ?), ('count', '0')", (SCHEMA_VERSION,))
                    return
        version = self._meta("schema")
        if version != SCHEMA_VERSION:
            raise SchemaMismatch(f"index schema {version}, expected {SCHEMA_VERSION}")

    def _read_only_uri(self) -> str:
        return read_only_uri(self.path)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SearchIndexError("the search index is closed")
        return self._conn

    def close(self) -> None:
        """Close the database connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn any sqlite3 error into a SearchIndexError that says what was being done."""
        try:
            yield
        except KbError:
            raise
        except sqlite3.Error as exc:
            hint = None
            corrupt = self._is_corrupt(exc)
            if corrupt:
                hint = f"the index is derived data: delete {self.path} and it will be rebuilt"
            error = SearchIndexError(f"search index error while {doing}: {exc}", hint=hint)
            error.corrupt = corrupt
            raise error from exc

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str | None) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def signature(self) -> str | None:
        """The store version this index reflects; None when it was never filled."""
        with self._errors("reading the signature"):
            return self._meta("signature")

    def count(self) -> int:
        """Return the number of entries in the index."""
        with self._errors("counting entries"):
            return int(self._meta("count") or 0)

    def _entry(self, row: sqlite3.Row | tuple) -> Entry:
        """The Entry of a row that ends with ENTRY_COLUMNS."""
        *fields, shared, question, answer, data = row[-len(ENTRY_FIELDS) - 4 :]
        d = loads(data)
        for name, value in zip(ENTRY_FIELDS, fields, strict=True):
            d.setdefault(name, value)
        if shared is not None:
            d["source"] = {**loads(shared), **(d.get("source") or {})}
        d.setdefault("question", question)
        d.setdefault("answer", answer)
        return Entry.from_dict(d)

    def _entries_by_id(self, ids: list[int]) -> dict[int, Entry]:
        rows = self.conn.execute(
            f"SELECT e.id, {ENTRY_COLUMNS} FROM entries e WHERE e.id IN (SELECT value FROM json_each(?))",
            (ids_json(ids),),
        )
        return {row[0]: self._entry(row) for row in rows}
