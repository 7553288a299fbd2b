"""The knowledge base's own vocabulary in PostgreSQL: the abbreviations and aliases its
entries define, learned by kb.search.vocabulary (the files backend's code) and kept in the
``abbreviations`` and ``aliases`` tables (schema 7), which every write keeps current.

:class:`Lookup` answers kb.search.vocabulary.expansions for a search.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kb.postgres import postings
from kb.search import aliases, vocabulary

if TYPE_CHECKING:
    import psycopg

# The entries whose answers are read at once when a store is counted whole.
_CHUNK = 5000


def count(conn: psycopg.Connection[Any], answers: Iterable[str], sign: int) -> None:
    """Count the definitions of these answers in (``sign`` 1) or out (-1).

    Rows are upserted in key order, so that writers counting the same pairs at once wait
    for each other instead of deadlocking."""
    learned = vocabulary.learn(answers)
    for table, keys, rows in (
        ("abbreviations", "short, long", learned.abbreviation_rows(sign)),
        ("aliases", "lkey, rkey", learned.alias_rows(sign)),
    ):
        if not rows:
            continue
        columns = ", ".join(f"%s::{'text' if k < len(rows[0]) - 1 else 'int'}[]" for k in range(len(rows[0])))
        conn.execute(
            f"INSERT INTO {table} SELECT * FROM unnest({columns}) ORDER BY 1, 2"
            f" ON CONFLICT ({keys}) DO UPDATE SET n = {table}.n + excluded.n",
            [list(column) for column in zip(*rows)],
        )
        if sign < 0:
            conn.execute(f"DELETE FROM {table} WHERE n <= 0")


def count_stored(conn: psycopg.Connection[Any], ids: list[int], sign: int) -> None:
    """Count the definitions of stored entries in or out (before a removal or an edit)."""
    if ids:
        rows = conn.execute("SELECT answer FROM entries WHERE id = ANY(%s)", (ids,))
        count(conn, (answer for (answer,) in rows), sign)


def recount(conn: psycopg.Connection[Any]) -> None:
    """Count every stored entry's definitions afresh."""
    conn.execute("TRUNCATE abbreviations, aliases")
    ids = [i for (i,) in conn.execute("SELECT id FROM entries ORDER BY id")]
    for start in range(0, len(ids), _CHUNK):
        count_stored(conn, ids[start : start + _CHUNK], 1)


class Lookup:
    """kb.search.vocabulary.Lookup over the tables and the heads' postings."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def long_forms(self, shorts: list[str]) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT short, long FROM abbreviations WHERE short = ANY(%s) AND n >= %s ORDER BY n DESC, long",
            (shorts, vocabulary.MIN_DEFINITIONS),
        ).fetchall()
        return [(short, long) for short, long in rows]

    def alias_rows(self, keys: list[str]) -> list[aliases.Alias]:
        rows = self.conn.execute(
            "SELECT lkey, rkey, ltext, rtext, n FROM aliases WHERE rkey = ANY(%s)"
            " OR rkey IN (SELECT rkey FROM aliases WHERE lkey = ANY(%s))",
            (keys, keys),
        ).fetchall()
        return [aliases.Alias(*row) for row in rows]

    def heads_naming(self, text: str) -> int:
        """How many heads hold every stem of the text (its words in any order: the postings
        keep no positions, where the files backend asks for the phrase), up to 1000."""
        stems = list(dict.fromkeys(postings.tokenizer().stems([text])[0]))
        if not stems:
            return 0
        joins = " ".join(
            f"JOIN postings p{k} ON p{k}.term = %s AND p{k}.entry = p0.entry AND p{k}.htf > 0"
            for k in range(1, len(stems))
        )
        row = self.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM postings p0 {joins} WHERE p0.term = %s AND p0.htf > 0 LIMIT 1000) h",
            [*stems[1:], stems[0]],
        ).fetchone()
        return int(row[0]) if row else 0
