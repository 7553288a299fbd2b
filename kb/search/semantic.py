"""Meaning, not only words: an optional text embedding of each entry, one feature of the second stage.

With the extra installed (``pip install 'kb-answers[semantic]'``: the wordllama package,
whose 256-dimension weights and tokenizer ship inside it, so nothing is downloaded) and
``KB_SEMANTIC=1`` when a store is written, the index keeps one vector per entry in its
``vectors`` table, made from the entry's title, question and the start of its answer.
A search of such an index embeds the question and adds the cosine to the best candidates'
scores (kb.search.fusion.add_meaning), where it helps: see SEMANTIC_* in kb.search.fusion.

A store without the table is untouched: no import of the model, no query, no cost. The
table is not part of the schema (an index is valid without it); ``KB_SEMANTIC=0`` stops
searches from using it and writes from keeping it.

Vectors are unit length, stored as 256 signed bytes (each component times 127, rounded):
the cosine of two such vectors is within ~0.01 of the float one.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from kb import config
from kb.search import sql
from kb.search.sql import Filters

# Meta key that says the index keeps vectors, and of which model.
META_KEY = "semantic"
MODEL = "wordllama l2_supercat 256"
DIM = 256
# How much of the answer goes into an entry's vector after its title and question: on the
# relevance benchmark 300 characters helped the first answer where the head alone did not,
# and the whole answer cost 10x the time to embed for no gain (bench/RESULTS-quality.md).
ANSWER_CHARS = 300
SCALE = 127.0
# Finding entries by meaning (nearest) scans every kept vector, 256 bytes an entry: 40-180
# ms for 17.5k entries on a loaded 2-core machine, growing with the store. Above this many
# entries it is not done, and a larger store only re-ranks the candidates its words find.
SCAN_LIMIT = 50_000

TABLE = "CREATE TABLE IF NOT EXISTS vectors(id INTEGER PRIMARY KEY, v BLOB NOT NULL)"


def installed() -> bool:
    """Whether the model's package is importable (the ``semantic`` extra)."""
    return importlib.util.find_spec("wordllama") is not None


def wanted() -> bool | None:
    """``KB_SEMANTIC``: True (keep and use vectors), False (neither), None (unset: use what is there)."""
    return config.semantic()


@lru_cache(maxsize=1)
def _model() -> Any:
    """The loaded model, or None when it cannot be loaded (a broken or partial install):
    kb then keeps to words, as without the extra."""
    try:
        import wordllama
        from wordllama import WordLlama

        # The package carries its weights and tokenizer; its loader looks for the tokenizer
        # under "tokenizer/" beside the module, while the file ships under "tokenizers/", so
        # the package's own folder is given as the cache it falls back to.
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except Exception:  # any failure to load means: no model
        return None


def loads() -> bool:
    """Whether the model is installed and loads (loading it costs about a second, once)."""
    return installed() and _model() is not None


def entry_text(title: str, question: str, answer: str) -> str:
    """The text an entry's vector is made from."""
    return f"{title}. {question} {answer[:ANSWER_CHARS]}"


def embed(texts: Sequence[str]) -> list[bytes]:
    """Unit vectors of these texts, each as DIM signed bytes."""
    import numpy as np

    model = _model()
    if not texts or model is None:
        return []
    vectors = model.embed(list(texts), norm=True, batch_size=64)
    vectors = np.nan_to_num(vectors)  # an empty text has no tokens: a zero vector
    return [bytes(row) for row in np.rint(vectors * SCALE).clip(-127, 127).astype(np.int8)]


@lru_cache(maxsize=8)
def question_vector(question: str) -> bytes | None:
    """The question's vector (``embed``), or None when the model does not load; a search
    asks for it more than once."""
    vectors = embed([question])
    return vectors[0] if vectors else None


def cosines(query: bytes, vectors: Sequence[bytes]) -> list[float]:
    """The cosine of ``query`` with each of ``vectors`` (made by ``embed``)."""
    import numpy as np

    if not vectors:
        return []
    q = np.frombuffer(query, dtype=np.int8).astype(np.float32)
    m = np.frombuffer(b"".join(vectors), dtype=np.int8).reshape(len(vectors), DIM).astype(np.float32)
    return [float(c) for c in (m @ q) / (SCALE * SCALE)]


# -- the index's side ------------------------------------------------------------------


def kept(conn: sqlite3.Connection) -> bool:
    """Whether this index keeps vectors."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return row is not None


def start(conn: sqlite3.Connection) -> None:
    """Make the table and mark the index as keeping vectors (fill_missing then fills it)."""
    conn.execute(TABLE)
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_KEY, MODEL))


def stop(conn: sqlite3.Connection) -> None:
    """Drop the vectors: the index goes back to words alone."""
    conn.execute("DROP TABLE IF EXISTS vectors")
    conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))


def sync(conn: sqlite3.Connection, ids_json: str | None = None) -> None:
    """After a write: embed the entries written (a JSON list of ids; None: all), start
    keeping vectors, or drop them.

    Called inside the write's transaction. With ``KB_SEMANTIC=1`` and the model installed
    an index starts keeping vectors (every entry is embedded then); one that keeps them
    goes on while the model is installed and drops them when it is not (or with
    ``KB_SEMANTIC=0``), so vectors never lag behind the entries they stand for.
    """
    want = wanted()
    has = kept(conn)
    if want is False or (has and not loads()):
        if has:
            stop(conn)
        return
    if not has:
        if not (want and loads()):
            return
        start(conn)
        ids_json = None
    fill(conn, ids_json)


def fill(conn: sqlite3.Connection, ids_json: str | None = None, batch: int = 1000) -> int:
    """Embed these entries (a JSON list of ids; None: all) that have no vector yet; return how many."""
    chosen = "" if ids_json is None else " AND e.id IN (SELECT value FROM json_each(?))"
    done, last = 0, -1
    while True:
        rows = conn.execute(
            "SELECT e.id, e.title, e.question, e.answer FROM entries e LEFT JOIN vectors v ON v.id = e.id"
            f" WHERE v.id IS NULL AND e.id > ?{chosen} ORDER BY e.id LIMIT ?",
            (last, *(() if ids_json is None else (ids_json,)), batch),
        ).fetchall()
        if not rows:
            return done
        blobs = embed([entry_text(t, q, a) for _, t, q, a in rows])
        conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", zip((r[0] for r in rows), blobs))
        done += len(rows)
        last = rows[-1][0]


def forget(conn: sqlite3.Connection, ids_json: str) -> None:
    """Remove the vectors of these entries (a JSON list of ids), if the index keeps any."""
    if kept(conn):
        conn.execute("DELETE FROM vectors WHERE id IN (SELECT value FROM json_each(?))", (ids_json,))


def usable(conn: sqlite3.Connection) -> bool:
    """Whether a search of this index should use the vectors."""
    return wanted() is not False and kept(conn) and installed()


def similarities(conn: sqlite3.Connection, question: str, ids: Sequence[int]) -> dict[int, float]:
    """The cosine of the question with each of these entries that has a vector."""
    from kb.search.base import ids_json

    rows = conn.execute(
        "SELECT id, v FROM vectors WHERE id IN (SELECT value FROM json_each(?))", (ids_json(ids),)
    ).fetchall()
    vector = question_vector(question) if rows else None
    if vector is None:
        return {}  # no vectors here, or the model did not load: words alone decide
    return dict(zip((r[0] for r in rows), cosines(vector, [r[1] for r in rows])))


def nearest(
    conn: sqlite3.Connection, question: str, count: int, where: Filters, exclude: str | None, entries: int
) -> dict[int, float]:
    """The ``count`` entries whose vectors are nearest the question's (id -> cosine), best
    first, among those passing the filters and holding no excluded word (``exclude``, a
    MATCH); {} for a store of more than SCAN_LIMIT ``entries`` or when the model does not load."""
    import numpy as np

    if count <= 0 or entries > SCAN_LIMIT:
        return {}
    vector = question_vector(question)
    if vector is None:
        return {}
    rows = conn.execute(*sql.vectors(where, exclude)).fetchall()
    if not rows:
        return {}
    q = np.frombuffer(vector, dtype=np.int8).astype(np.float32)
    m = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.int8).reshape(len(rows), DIM)
    sims = (m.astype(np.float32) @ q) / (SCALE * SCALE)
    best = np.argsort(-sims, kind="stable")[:count] if len(rows) <= count else _top(sims, count)
    return {rows[i][0]: float(sims[i]) for i in best}


def _top(sims: Any, count: int) -> Any:
    """Indices of the ``count`` largest of ``sims``, largest first."""
    import numpy as np

    part = np.argpartition(-sims, count - 1)[:count]
    return part[np.argsort(-sims[part], kind="stable")]


def status(conn: sqlite3.Connection) -> str:
    """One line for `kb doctor`: whether this index keeps vectors and searches use them."""
    if not kept(conn):
        extra = "installed" if installed() else "not installed"
        return f"off: words only (the semantic extra is {extra}; KB_SEMANTIC=1 when writing turns it on)"
    count = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
    size = count * DIM / 1e6
    if not loads():
        return f"{count} vectors kept ({size:.1f} MB) but the semantic extra is not installed or does not load: searches use words only"
    if wanted() is False:
        return f"{count} vectors kept ({size:.1f} MB); KB_SEMANTIC=0: searches use words only"
    return f"on: {count} vectors ({MODEL}, {size:.1f} MB) re-rank the best candidates"
