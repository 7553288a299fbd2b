"""The knowledge base's own vocabulary in PostgreSQL: the abbreviations and aliases its
entries define, learned by kb.search.vocabulary (the files backend's code) and kept in the
``abbreviations`` and ``aliases`` tables (schema 7), which every write keeps current.

:class:`Lookup` answers kb.search.vocabulary.expansions for a search.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kb.postgres import postings
from kb.postgres.rows import TS_CONFIG
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

    def definitions(self, shorts: list[str], keys: list[str]) -> tuple[list[tuple[str, str]], list[aliases.Alias]]:
        """Both kinds in one round trip."""
        rows = self.conn.execute(
            "SELECT true, short, long, '', '', n FROM abbreviations WHERE short = ANY(%s) AND n >= %s"
            " UNION ALL SELECT false, lkey, rkey, ltext, rtext, n FROM aliases WHERE rkey IN"
            " (SELECT unnest(%s::text[]) UNION SELECT rkey FROM aliases WHERE lkey = ANY(%s))",
            (shorts, vocabulary.MIN_DEFINITIONS, keys, keys),
        ).fetchall()
        found = sorted((-row[5], row[2], row[1]) for row in rows if row[0])
        return [(short, long) for _, long, short in found], [aliases.Alias(*row[1:]) for row in rows if not row[0]]

    def heads_naming(self, text: str) -> int:
        """How many heads hold the phrase, up to 1000: a word's count is its stem's in
        ``stems``; a phrase's is read from the heads holding all its stems (the postings)
        whose title or question has it (the entries' vectors, labels A and B)."""
        stems = list(dict.fromkeys(postings.tokenizer().stems([text])[0]))
        if len(stems) == 1:
            row = self.conn.execute("SELECT hdf FROM stems WHERE term = %s", (stems[0],)).fetchone()
            return min(int(row[0]), 1000) if row else 0
        if not stems:
            return 0
        joins = " ".join(
            f"JOIN postings p{k} ON p{k}.term = %s AND p{k}.entry = p0.entry AND p{k}.htf > 0"
            for k in range(1, len(stems))
        )
        row = self.conn.execute(
            f"""SELECT count(*) FROM (SELECT p0.entry FROM postings p0 {joins}
                WHERE p0.term = %s AND p0.htf > 0 LIMIT 1000) h JOIN entries e ON e.id = h.entry
            WHERE ts_filter(e.body, '{{a,b}}') @@ phraseto_tsquery('{TS_CONFIG}', %s)""",
            [*stems[1:], stems[0], text],
        ).fetchone()
        return int(row[0]) if row else 0

    def texts_using(self, word: str, most: int) -> list[str]:
        """The titles, questions and answers of up to ``most`` entries holding the word's stem."""
        stems = postings.tokenizer().stems([word])[0]
        if len(stems) != 1:
            return []
        rows = self.conn.execute(
            "SELECT title, question, answer FROM entries WHERE id IN"
            " (SELECT entry FROM postings WHERE term = %s LIMIT %s)",
            (stems[0], most),
        ).fetchall()
        return [text for row in rows for text in row]
