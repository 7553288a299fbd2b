"""Postings: the words of each entry, counted as the files backend's index counts them, so
that a search in PostgreSQL scores BM25 exactly as FTS5 does (kb.postgres.searching).

PostgreSQL's ``ts_rank`` is not BM25 (it knows no document frequencies and saturates a
word's weight its own way); measured on the relevance benchmark it stayed at ~92 % of the
files backend however it was weighted (bench/RESULTS-postgres.md). So each entry's text is
tokenized here by SQLite's FTS5 with the files backend's own tokenizer and columns
(kb.search.schema), and stored as one row per (stem, entry): the stem's weighted count in
the whole entry (``tf``, by kb.search.schema.WEIGHTS) and in its head (``htf``), with the
entry's lengths in tokens (``len``, ``hlen``) beside them, so that scoring reads the index
alone. ``stems`` keeps each stem's document frequency in the entries, in their heads and
in their titles (``tdf``, for the search's second stage, kb.search.features), and
``corpus`` the totals that BM25's average length needs; every write keeps them exact.
The entries with Chinese, Japanese or Korean text also get a row of ``cjk``: their runs
as pairs of characters (kb.search.cjk), written and removed with their postings.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, TypeVar

from kb.postgres.rows import ENTRY_COLUMNS, FROM_ENTRIES, entry_from_row, pg_text
from kb.search import cjk
from kb.search.schema import FTS_COLUMNS, HEAD_COLUMNS, TOKENIZE, WEIGHTS, head_words

if TYPE_CHECKING:
    import psycopg

    from kb.models import Entry

_IN_HEAD = [c in HEAD_COLUMNS for c in FTS_COLUMNS]
# The head counts its question without the words of its title, as the files backend's head
# table does (kb.search.schema.HEAD_QUESTION).
_TITLE, _QUESTION = FTS_COLUMNS.index("title"), FTS_COLUMNS.index("question")
# The columns' weights in whole numbers: a stem's weighted count is then its count in
# the column's stems repeated that many times (Tokenizer.count), and formats fast for COPY.
_WEIGHTS = [int(w) for w in WEIGHTS]
if _WEIGHTS != list(WEIGHTS):
    raise ValueError("kb.postgres.postings counts whole-number column weights only")
_LINE = "%s\t%d\t%d\t%d\t%d\t%d\n"  # a postings row as COPY's text (% in C: twice an f-string's speed)
_WORD = re.compile(r"[^\W_]+")
# The words a tokenizer remembers the stems of before it starts afresh (memory: ~100 MB).
KNOWN_WORDS = 500_000


def columns(entry: Entry) -> tuple[str, ...]:
    """The entry's text in FTS_COLUMNS' order, as the files backend indexes it (and as
    PostgreSQL stores it: counted again from the stored row, it must give the same stems)."""
    tags = "\n".join(dict.fromkeys(t for t in entry.tags if t))
    texts = {
        "title": entry.title,
        "question": entry.question,
        "answer": entry.answer,
        "expert": entry.expert.name if entry.expert else "",
        "category": entry.category,
        "tags": tags,
    }
    return tuple(pg_text(texts[c]) for c in FTS_COLUMNS)


@dataclass
class Counted:
    """A batch's postings rows and what they add to ``stems`` and ``corpus``."""

    rows: list[tuple[str, int, float, float, int, int]] = field(default_factory=list)
    df: Counter[str] = field(default_factory=Counter)
    hdf: Counter[str] = field(default_factory=Counter)
    tdf: Counter[str] = field(default_factory=Counter)
    tokens: int = 0
    head_tokens: int = 0


class Tokenizer:
    """Text to the files index's stems: words are found here, and each word new to this
    tokenizer is stemmed once by FTS5 itself (SQLite in memory, the files backend's
    tokenizer), so that a batch's millions of words cost a dictionary lookup each.

    A word is a run of letters and digits, as FTS5's unicode61 tokenizer splits text (it
    may split the odd run with combining marks differently; the same text always gives
    the same stems, which is what adding and removing postings need).
    """

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{TOKENIZE}')")
        self.conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        self.known: dict[str, tuple[str, ...]] = {}

    def _learn(self, words: set[str]) -> None:
        new = [w for w in words if w not in self.known]
        if not new:
            return
        if len(self.known) + len(new) > KNOWN_WORDS:
            self.known.clear()
            new = list(words)
        self.conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(new))
        found: dict[int, list[str]] = {}
        for term, doc in self.conn.execute("SELECT term, doc FROM v ORDER BY doc, offset"):
            found.setdefault(doc, []).append(term)
        self.conn.execute("DELETE FROM t")
        self.known.update((w, tuple(found.get(i, ()))) for i, w in enumerate(new))

    def stems(self, texts: list[str]) -> list[list[str]]:
        """Each text's stems, in order (a query's words as the postings hold them)."""
        words = [_WORD.findall(text) for text in texts]
        self._learn({w for group in words for w in group})
        return [list(chain.from_iterable(map(self.known.__getitem__, group))) for group in words]

    def count(self, entries: list[Entry]) -> Counted:
        """The postings of stored entries (their ids set), in stem order."""
        texts = [[_WORD.findall(text) for text in columns(e)] for e in entries]
        self._learn({w for entry in texts for column in entry for w in column})
        stems_of = self.known.__getitem__
        out = Counted()
        rows = out.rows
        for entry, words in zip(entries, texts):
            # A column's stems repeated by its (whole) weight, counted once by Counter's C
            # loop: a Python loop adding each column's counts was a fifth of an ingest.
            weighted: list[str] = []
            in_head: list[str] = []
            size = 0
            for k, column in enumerate(words):
                stems = list(chain.from_iterable(map(stems_of, column)))
                size += len(stems)
                weighted += stems * _WEIGHTS[k]
                if k == _QUESTION and words[_TITLE]:
                    in_head += chain.from_iterable(map(stems_of, head_words(words[_TITLE], column)))
                elif _IN_HEAD[k]:
                    in_head += stems
            whole = Counter(weighted)
            head = Counter(in_head)
            doc, head_size = entry.stored_id(), len(in_head)
            # (stem, entry, tf, htf, len, hlen), made by C loops (zip, map, repeat).
            rows += zip(
                whole, repeat(doc), whole.values(), map(head.get, whole, repeat(0)), repeat(size), repeat(head_size)
            )
            out.df.update(whole.keys())
            out.hdf.update(head.keys())
            out.tdf.update(set(chain.from_iterable(map(stems_of, words[_TITLE]))))
            out.tokens += size
            out.head_tokens += head_size
        rows.sort()
        return out


_LOCAL = threading.local()


def tokenizer() -> Tokenizer:
    """This thread's tokenizer (one in-memory database, made on first use: SQLite's
    connections stay in the thread that made them)."""
    found: Tokenizer | None = getattr(_LOCAL, "tokenizer", None)
    if found is None:
        found = _LOCAL.tokenizer = Tokenizer()
    return found


_WORKER: ThreadPoolExecutor | None = None
_T = TypeVar("_T")


def ahead(work: Callable[[], _T]) -> Future[_T]:
    """Run Python work (counting an ingest batch's postings or words) in a thread of its
    own while this one waits on the server, which releases the GIL: an ingest's two
    halves, measured at 16k, are ~15 s of each."""
    global _WORKER
    if _WORKER is None:
        _WORKER = ThreadPoolExecutor(1, thread_name_prefix="kb-counting")
    return _WORKER.submit(work)


def _forget_worker() -> None:
    """A forked child has no copy of its parent's threads: it starts a worker of its own
    (with the parent's, its work would wait forever)."""
    global _WORKER
    _WORKER = None


os.register_at_fork(after_in_child=_forget_worker)


# Entries per part of a batch's postings counted ahead: the server takes in one part while
# the worker counts the next. Each part is written in its own stem order, so each is a pass
# over the postings' index: the largest batch (16,384) makes four (a choice, not measured
# against other sizes).
PART = 4096

# A part of a batch's postings: COPY's text, and what it adds to ``stems`` and ``corpus``
# (its rows dropped once they are text).
Part = tuple[str, Counted]


def _part(entries: list[Entry]) -> Part:
    counted = tokenizer().count(entries)
    # Written as text, in stem order (the index then fills page by page): psycopg's
    # write_row took 8 us a row, a third of an ingest. Stems hold no tab, newline or
    # backslash (they are letters and digits).
    text = "".join(map(_LINE.__mod__, counted.rows))
    counted.rows = []
    return text, counted


def count_ahead(entries: list[Entry]) -> list[Future[Part]]:
    """Count these entries' postings (their ids set) in the background, part by part (see
    ahead() and PART)."""
    snapshot = list(entries)
    return [ahead(partial(_part, snapshot[k : k + PART])) for k in range(0, len(snapshot), PART)]


def add(conn: psycopg.Connection[Any], entries: list[Entry], ahead: list[Future[Part]] | None = None) -> None:
    """Write the postings of newly stored entries and count them in ``stems`` and ``corpus``
    (``ahead``: their postings counted by count_ahead; each part is sent to the server as
    soon as it is counted, while the next one is counted)."""
    if not entries:
        return
    parts: Iterable[Part] = (f.result() for f in ahead) if ahead is not None else [_part(entries)]
    total = Counted()
    with conn.cursor().copy("COPY postings (term, entry, tf, htf, len, hlen) FROM STDIN") as copy:
        for text, counted in parts:
            copy.write(text)
            total.df.update(counted.df)
            total.hdf.update(counted.hdf)
            total.tdf.update(counted.tdf)
            total.tokens += counted.tokens
            total.head_tokens += counted.head_tokens
    _count(conn, total, len(entries), 1)
    add_cjk(conn, entries)


def add_cjk(conn: psycopg.Connection[Any], entries: list[Entry]) -> None:
    """Write the ``cjk`` rows of those of these stored entries that have CJK characters:
    their head's pairs (title, question, tags) and the whole entry's (the answer's after)."""
    rows = []
    for entry in entries:
        texts = columns(entry)
        head = [texts[k] for k, c in enumerate(FTS_COLUMNS) if c in HEAD_COLUMNS]
        answer = texts[FTS_COLUMNS.index("answer")]
        if any(map(cjk.has_cjk, head)) or cjk.has_cjk(answer):
            rows.append((entry.stored_id(), cjk.vector(head), cjk.vector([*head, answer])))
    if rows:
        conn.execute(
            "INSERT INTO cjk (entry, head, whole) SELECT * FROM unnest(%s::bigint[], %s::tsvector[], %s::tsvector[])",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
        )


def count_titles_and_cjk(conn: psycopg.Connection[Any]) -> None:
    """Count the titles' stems into ``stems.tdf`` and write the ``cjk`` rows, for entries
    stored before these existed (migration 6); the rest of their postings stand. Only the
    titles are read for the counts, and only the entries with such characters in full."""
    tdf: Counter[str] = Counter()
    ids = []
    rows = conn.execute(
        "SELECT id, title, (title || question || answer || array_to_string(tags, ' ')) ~ %s FROM entries",
        (cjk.CLASS,),
    ).fetchall()
    for start in range(0, len(rows), 5000):
        batch = rows[start : start + 5000]
        for stems in tokenizer().stems([pg_text(title) for _, title, _ in batch]):
            tdf.update(set(stems))
        ids += [entry_id for entry_id, _, has in batch if has]
    terms = sorted(tdf)
    conn.execute(
        "UPDATE stems SET tdf = u.n FROM unnest(%s::text[], %s::int[]) AS u(t, n) WHERE stems.term = u.t",
        (terms, [tdf[t] for t in terms]),
    )
    for batch in stored(conn, ids):
        add_cjk(conn, batch)


def remove(conn: psycopg.Connection[Any], entries: list[Entry]) -> None:
    """Take the postings of these stored entries (as they are stored) away, and their counts."""
    if not entries:
        return
    counted = tokenizer().count(entries)
    conn.execute(
        "DELETE FROM postings p USING unnest(%s::text[], %s::bigint[]) AS u(t, e) WHERE p.term = u.t AND p.entry = u.e",
        ([r[0] for r in counted.rows], [r[1] for r in counted.rows]),
    )
    _count(conn, counted, len(entries), -1)
    conn.execute("DELETE FROM cjk WHERE entry = ANY(%s)", ([e.stored_id() for e in entries],))


def _count(conn: psycopg.Connection[Any], counted: Counted, entries: int, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) a batch's document frequencies and totals.

    Stems are upserted in order, so that writers counting the same stems at once wait for
    each other instead of deadlocking; ``corpus`` is updated last, by everyone.
    """
    terms = sorted(counted.df)
    conn.execute(
        "INSERT INTO stems (term, df, hdf, tdf) SELECT t, %s * d, %s * h, %s * n"
        " FROM unnest(%s::text[], %s::int[], %s::int[], %s::int[])"
        ' AS u(t, d, h, n) ORDER BY t COLLATE "C" ON CONFLICT (term) DO UPDATE'
        " SET df = stems.df + excluded.df, hdf = stems.hdf + excluded.hdf, tdf = stems.tdf + excluded.tdf",
        (
            sign,
            sign,
            sign,
            terms,
            [counted.df[t] for t in terms],
            [counted.hdf[t] for t in terms],
            [counted.tdf[t] for t in terms],
        ),
    )
    if sign < 0:
        conn.execute("DELETE FROM stems WHERE df <= 0 AND term = ANY(%s)", (terms,))
    conn.execute(
        "UPDATE corpus SET entries = entries + %s, tokens = tokens + %s, head_tokens = head_tokens + %s",
        (sign * entries, sign * counted.tokens, sign * counted.head_tokens),
    )


def rebuild(conn: psycopg.Connection[Any], batches: Iterable[list[Entry]]) -> None:
    """Empty the postings and counts and write them again from these entries (all of them)."""
    conn.execute("TRUNCATE postings, stems, cjk")
    conn.execute("UPDATE corpus SET entries = 0, tokens = 0, head_tokens = 0")
    for batch in batches:
        add(conn, batch)


def stored(conn: psycopg.Connection[Any], ids: list[int] | None = None, size: int = 5000) -> Iterator[list[Entry]]:
    """The stored entries (those of ``ids``, or all), in batches of ``size``, by id."""
    if ids is None:
        ids = [i for (i,) in conn.execute("SELECT id FROM entries ORDER BY id")]
    for start in range(0, len(ids), size):
        rows = conn.execute(
            f"SELECT {ENTRY_COLUMNS} FROM {FROM_ENTRIES} WHERE e.id = ANY(%s) ORDER BY e.id",
            (ids[start : start + size],),
        )
        yield [entry_from_row(r) for r in rows]
