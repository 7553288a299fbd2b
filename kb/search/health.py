"""The index file's own health, for `kb doctor`: integrity checks and what the file claims.

It opens the file read-only in effect (FTS5's integrity-check is a command, so it runs
in a transaction that is rolled back) and never rebuilds anything; the caller decides.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kb.search.schema import INDEX_SUFFIXES, SCHEMA_VERSION, is_corrupt, read_only_uri

MISSING, UNOPENABLE, CORRUPT, FOREIGN, OLD_SCHEMA, HEALTHY = (
    "missing",
    "unopenable",
    "corrupt",
    "foreign",
    "old-schema",
    "healthy",
)


@dataclass
class IndexHealth:
    """What a check of the index file found.

    ``state`` is one of MISSING, UNOPENABLE, CORRUPT, FOREIGN (a SQLite file that is not
    a kb index), OLD_SCHEMA (``schema`` says which) or HEALTHY; ``error`` holds SQLite's
    message for UNOPENABLE and CORRUPT. ``signature`` and ``count`` are what a healthy
    index claims to reflect.
    """

    state: str
    error: str | None = None
    schema: str | None = None
    signature: str | None = None
    count: int = 0
    # False when nothing could be written beside the file (read-only media, a full disk):
    # FTS5's integrity-check is a write command, so only SQLite's quick_check ran.
    fts_checked: bool = True
    # Whether the index keeps entry vectors and searches use them (kb.search.semantic.status).
    semantic: str | None = None


def check_health(path: str | os.PathLike[str]) -> IndexHealth:
    """Run SQLite's quick_check and FTS5's integrity-check on the index file at ``path``."""
    path = Path(path)
    if not path.exists():
        return IndexHealth(MISSING)
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        return IndexHealth(UNOPENABLE, error=str(exc))
    try:
        return _check(conn)
    except sqlite3.OperationalError as exc:
        if is_corrupt(exc):
            return IndexHealth(CORRUPT, error=str(exc))
        first = exc  # SQLite could not write beside the file (its -shm): check read-only
    except sqlite3.DatabaseError as exc:
        return IndexHealth(CORRUPT, error=str(exc))
    finally:
        conn.close()
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None)
    except sqlite3.Error:
        return IndexHealth(UNOPENABLE, error=str(first))
    try:
        return _check(conn, fts=False)
    except sqlite3.DatabaseError as exc:
        return IndexHealth(CORRUPT, error=str(exc))
    finally:
        conn.close()


def _check(conn: sqlite3.Connection, *, fts: bool = True) -> IndexHealth:
    verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {verdict}")
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
        return IndexHealth(FOREIGN)
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    if meta.get("schema") != SCHEMA_VERSION:
        return IndexHealth(OLD_SCHEMA, schema=meta.get("schema"))
    if fts:
        conn.execute("BEGIN")
        try:
            conn.execute("INSERT INTO fts(fts) VALUES ('integrity-check')")
            conn.execute("INSERT INTO head(head) VALUES ('integrity-check')")
            conn.execute("INSERT INTO cjk(cjk) VALUES ('integrity-check')")
        finally:
            conn.execute("ROLLBACK")
    try:
        count = int(meta.get("count") or 0)
    except ValueError:
        count = 0
    from kb.search import semantic

    return IndexHealth(
        HEALTHY,
        schema=meta.get("schema"),
        signature=meta.get("signature"),
        count=count,
        fts_checked=fts,
        semantic=semantic.status(conn),
    )


def indexed_uids(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield (id, uid) of every entry the index at ``path`` holds."""
    conn = sqlite3.connect(read_only_uri(Path(path)), uri=True, isolation_level=None)
    try:
        yield from conn.execute("SELECT id, uid FROM entries")
    finally:
        conn.close()


def indexed_ids(path: str | os.PathLike[str], low: int, high: int) -> list[int]:
    """Return the ids from ``low`` to ``high`` that the index at ``path`` lists ([] when
    it cannot be read).

    The index is derived from the store, but it is a separate file: when a shard file is
    damaged, it still names the entries that shard held when it was last brought up to date.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            rows = conn.execute("SELECT id FROM entries WHERE id BETWEEN ? AND ? ORDER BY id", (low, high))
            return [int(row[0]) for row in rows]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def remove_index_files(path: str | os.PathLike[str]) -> None:
    """Delete the index file and the files SQLite keeps beside it (it is derived data)."""
    for suffix in INDEX_SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
