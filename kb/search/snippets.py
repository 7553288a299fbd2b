"""Snippets: the part of a hit's question or answer that shows its matched words.

FTS5's snippet() marks each match with MARK_START/MARK_END; the markers never leave this
package: a Hit's snippet is plain text, with the highlighted spans as offsets beside it.
"""

from __future__ import annotations

import re
import sqlite3

from kb.search import query as _query
from kb.search.base import ids_json
from kb.search.schema import FTS_COLUMNS

MARK_START, MARK_END = "\x02", "\x03"
SNIPPET_TOKENS = 24
_MARKS = re.compile("[\x02\x03]")


def has_marks(text: str) -> bool:
    """Whether the text holds a highlight marker (indexed text must hold none)."""
    return MARK_START in text or MARK_END in text


def strip_marks(text: str) -> str:
    """Blank the highlight markers out of a text."""
    return _MARKS.sub(" ", text)


def split_marks(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Turn marked text into plain text and the (start, end) offsets of its highlighted spans."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for part in re.split("([\x02\x03])", marked):
        if part == MARK_START:
            start = length
        elif part == MARK_END:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        else:
            plain.append(part)
            length += len(part)
    return "".join(plain), spans


def lead(text: str, length: int = 160) -> str:
    """Return the start of a text on one line, as a snippet when no word was matched."""
    flat = " ".join(strip_marks(text).split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def snippets(conn: sqlite3.Connection, ids: list[int], terms: list[_query.Term]) -> dict[int, str]:
    """Return a marked snippet per id from the question or answer, whichever shows more matches.

    Computed in a second query over the page's ids only: snippet() re-reads and
    re-tokenizes the text, which is far too slow to do for every match.
    """
    if not terms:
        return {}
    highlight = " OR ".join(_query.Term(t.words, prefix=t.prefix).fts() for t in terms)
    q, a = FTS_COLUMNS.index("question"), FTS_COLUMNS.index("answer")
    out = {}
    rows = conn.execute(
        f"SELECT rowid, snippet(fts, {q}, ?, ?, '…', {SNIPPET_TOKENS}),"
        f" snippet(fts, {a}, ?, ?, '…', {SNIPPET_TOKENS}) FROM fts"
        " WHERE fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
        (MARK_START, MARK_END, MARK_START, MARK_END, highlight, ids_json(ids)),
    )
    for rowid, question, answer in rows:
        best = max((question or "", answer or ""), key=lambda s: s.count(MARK_START))
        if MARK_START in best:
            out[rowid] = best
    return out
