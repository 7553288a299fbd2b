"""The search index: a SQLite FTS5 file beside the store that serves list, show and search.

It is derived data. It holds every entry's dict (without the store's ``raw`` text), the
columns that filters and sorts need, an FTS5 full-text index, expert profiles, and two
small vocabularies (stem document frequencies for query planning, plain words for "did you
mean"). It records the store version it reflects (``signature``) and can always be thrown
away and rebuilt; a corrupt file is removed and recreated on open.

How a natural-language question stays cheap is explained at :meth:`SearchIndex._plan`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import KbError, NotFound, QueryError, SearchIndexError
from kb.models import Entry, Expert
from kb.search import query as _query

SCHEMA_VERSION = "2"
TOKENIZE = "porter unicode61 remove_diacritics 2"
# Columns of the FTS table, in order, and their BM25 weights. FTS5's bm25() multiplies each
# occurrence by its column's weight and then saturates the weighted frequency (k1 = 1.2),
# so a term adds at most ~2.2 x idf however often or wherever it occurs; the weights only
# set how quickly it gets there. One title hit (10) is worth about as much as five
# answer hits (2): the title names the topic, the question says what is asked (5), the
# answer is long and mentions many things in passing. Expert and category names (1) are
# weak evidence of topic; tags (3) are chosen by people to describe the topic, so they sit
# between answer and question. Saturation is what ranks entries that match more of the
# distinct terms first: a second term adds a fresh 2.2 x idf, a repeat adds little.
FTS_COLUMNS = ("title", "question", "answer", "expert", "category", "tags")
WEIGHTS = (10.0, 5.0, 2.0, 1.0, 1.0, 3.0)

# Query planning (see _plan). The budget of postings the candidate terms may match: below
# it every content word of the question is OR-ed as written; above it the rarest terms
# pick the candidates and the commoner ones only re-score them. Measured with
# bench/search_inprocess.py at 100k entries: ranking costs ~1-3 us per candidate row, so
# 8k postings is ~10 ms. The two rarest terms always pick candidates, so that one odd
# word ("falsely") cannot decide alone which entries are considered.
CANDIDATE_BUDGET = 8_000
MIN_CANDIDATE_TERMS = 2
# Related entries (kb show) must share a word that fewer entries than this have.
RELATED_MAX_DF = 20_000
# Scoring-only terms cost a pass over their posting lists (bm25 counts each term's
# documents to get its idf) and a seek per candidate; past this many postings the rest
# are dropped, except the first few, without which "bone marrow" would rank by "marrow"
# alone when "bone" is common.
SCORING_BUDGET = 30_000
MIN_SCORING_TERMS = 3
# A term in more than half of the entries gets idf ~0 from FTS5's bm25 (it clamps the
# negative idf to 1e-6), so it is dropped before the query is built.
COMMON_SHARE = 0.5
# A word found in at most this many entries is checked for a likelier spelling.
SPELL_MAX_DF = 2
BATCH = 1000
SNIPPET_TOKENS = 24
MARK_START, MARK_END = "\x02", "\x03"
SORTS = {
    "id": "e.id",
    "title": "e.label COLLATE NOCASE, e.id",
    "category": "e.category COLLATE NOCASE, e.id",
    "date": "e.date, e.id",
}

_SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE entries(
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL,
    title TEXT NOT NULL,
    label TEXT NOT NULL,          -- display title, for sorting
    category TEXT NOT NULL,
    expert TEXT NOT NULL,         -- expert name, '' when none
    tags TEXT NOT NULL,           -- tags joined by newlines, for full-text search
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    date TEXT NOT NULL,           -- updated_at or created_at, for sorting by date
    data BLOB NOT NULL,           -- the rest of Entry.to_dict() as JSON
    src TEXT                      -- source path and record key (see _source_ref), for ingest
);
CREATE INDEX entries_uid ON entries(uid);
CREATE INDEX entries_src ON entries(src) WHERE src IS NOT NULL;
CREATE INDEX entries_label ON entries(label COLLATE NOCASE, id);
CREATE INDEX entries_category ON entries(category COLLATE NOCASE, id);
CREATE INDEX entries_expert ON entries(expert COLLATE NOCASE, id);
CREATE INDEX entries_date ON entries(date, id);
CREATE TABLE entry_tags(
    tag TEXT NOT NULL COLLATE NOCASE, id INTEGER NOT NULL, PRIMARY KEY(tag, id)
) WITHOUT ROWID;
CREATE TABLE experts(name TEXT PRIMARY KEY COLLATE NOCASE, profile BLOB NOT NULL) WITHOUT ROWID;
-- FTS5 reads the text through this view (external content), so it is stored only once.
CREATE VIEW fts_source AS SELECT id, {", ".join(FTS_COLUMNS)} FROM entries;
CREATE VIRTUAL TABLE fts USING fts5(
    {", ".join(FTS_COLUMNS)}, content='fts_source', content_rowid='id', tokenize='{TOKENIZE}'
);
CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');
-- Document frequency of each stem, copied from fts_vocab: fts_vocab computes a term's
-- count by reading its whole posting list, which costs milliseconds for common words at
-- 1M entries; this table answers in microseconds. It may lag behind small updates.
CREATE TABLE terms(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
-- Unstemmed words with document frequencies, for spelling suggestions (the FTS
-- vocabulary holds porter stems such as 'chemotherapi', which are not words to suggest).
CREATE TABLE words(
    word TEXT PRIMARY KEY, df INTEGER NOT NULL, head TEXT NOT NULL, len INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX words_head ON words(head, len);
"""

# SQLite result codes that mean the file is not (or no longer) a usable database.
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_HEX = re.compile(r"[0-9a-f]{4,16}")
_MARKS = re.compile("[\x02\x03]")


@dataclass
class Hit:
    """One search result: the entry, its relevance (higher is better) and a snippet.

    ``snippet`` is plain text with matched terms between ``\\x02`` and ``\\x03``.
    """

    entry: Entry
    score: float
    snippet: str


@dataclass
class SearchResult:
    """The hits of one page, how many entries matched in all, and what to tell the user.

    ``total`` counts the entries the planned query matched (None when unknown);
    ``suggestions`` are "did you mean" spellings; ``reason`` says in one line why
    nothing matched (None when something did).
    """

    hits: list[Hit]
    total: int | None
    suggestions: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass
class ExpertSummary:
    """An expert's profile with how many answers they gave, and in which categories."""

    name: str
    count: int
    categories: list[tuple[str, int]]
    profile: Expert


def _dumps(value: Any) -> bytes:
    import orjson  # imported on first use: the CLI's start-up does not pay for it

    return orjson.dumps(value)


def _loads(data: bytes | str) -> Any:
    import orjson

    return orjson.loads(data)


def _fold(word: str) -> str:
    """Fold a word as unicode61 with remove_diacritics does: lower case, no accents."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _ids_json(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


@dataclass
class _Planned:
    """A term with what the planner knows about it."""

    term: _query.Term
    df: int
    stems: list[str]


@dataclass
class Prepared:
    """A batch of entries as the index stores them: rows of ``entries`` and ``entry_tags``,
    and the experts' profiles (merged into the stored ones when inserted).

    Plain values only (the data column is JSON text), so that an ingest can build it in
    its parsing process and send it to the one that indexes (kb/ingest/pipeline.py).
    """

    ids: list[int]
    rows: list[tuple[Any, ...]]
    tags: list[tuple[str, int]]
    experts: list[dict[str, Any]]

    def to_json(self) -> list[Any]:
        return [self.ids, self.rows, self.tags, self.experts]

    @classmethod
    def from_json(cls, data: list[Any]) -> Prepared:
        ids, rows, tags, experts = data
        return cls(ids, [tuple(r) for r in rows], [tuple(t) for t in tags], experts)


def prepare(entries: Iterable[Entry]) -> Prepared:
    """Turn stored entries (with ids) into the rows the index keeps."""
    batch = Prepared([], [], [], [])
    for entry in entries:
        if entry.id is None:
            raise SearchIndexError(f"entry {entry.uid} has no id; only stored entries can be indexed")
        entry_id = int(entry.id)
        data = entry.to_dict()
        question, answer = data.pop("question"), data.pop("answer")
        # snippet() marks matches with \x02/\x03, so the indexed text must hold none
        # (a marker in a snippet is then always ours). The rare text that does is
        # blanked in the columns and kept exactly in the JSON.
        if _has_marks(question) or _has_marks(answer):
            data["question"], data["answer"] = question, answer
            question, answer = _MARKS.sub(" ", question), _MARKS.sub(" ", answer)
        name = entry.expert.name if entry.expert else ""
        entry_tags = list(dict.fromkeys(t for t in entry.tags if t))
        batch.ids.append(entry_id)
        batch.rows.append((
            entry_id, entry.uid, entry.title, entry.display_title(), entry.category, name,
            "\n".join(entry_tags), question, answer,
            entry.updated_at or entry.created_at or "", _dumps(data).decode(), _source_ref(entry),
        ))
        batch.tags.extend((t, entry_id) for t in {t.casefold(): t for t in entry_tags}.values())
        if entry.expert:
            batch.experts.append(entry.expert.to_dict())
    return batch


def _has_marks(text: str) -> bool:
    return "\x02" in text or "\x03" in text


class SearchIndex:
    """The SQLite FTS5 index of a store; see the module docstring."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._tokenizer_ready = False
        self._counter_ready = False
        self._words_staged = False
        self.candidate_budget = CANDIDATE_BUDGET
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if not self._is_corrupt(exc):
                raise SearchIndexError(f"cannot open the search index {self.path}: {exc}") from exc
            # Derived data: a file that is not a usable index is thrown away and rebuilt.
            self._remove_files()
            try:
                self._open()
            except sqlite3.Error as exc2:
                raise SearchIndexError(f"cannot create the search index {self.path}: {exc2}") from exc2
        except OSError as exc:
            raise SearchIndexError(f"cannot open the search index {self.path}: {exc}") from exc

    # ----------------------------------------------------------------- opening

    @staticmethod
    def _is_corrupt(exc: sqlite3.Error) -> bool:
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and (code & 0xFF) in _CORRUPT_CODES) or isinstance(exc, _SchemaMismatch)

    def _remove_files(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for suffix in ("", "-wal", "-shm", "-journal"):
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # It holds every entry's text, like the store: owner-only. SQLite gives its
            # -wal and -shm files the database file's permissions.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn = conn
        # Temp tables belong to a connection: a new one has none of them yet.
        self._tokenizer_ready = self._counter_ready = self._words_staged = False
        conn.execute("PRAGMA busy_timeout = 10000")
        # WAL lets searches go on reading the old index while a rebuild writes the new one.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                # A healthy database of something else: not ours to delete.
                raise SearchIndexError(
                    f"{self.path} is a SQLite database but not a kb search index",
                    hint="move it away; kb keeps its index beside the store",
                )
            with self._transaction():
                for statement in _split_sql(_SCHEMA):
                    conn.execute(statement)
                conn.execute("INSERT INTO meta VALUES ('schema', ?), ('count', '0')", (SCHEMA_VERSION,))
            return
        version = self._meta("schema")
        if version != SCHEMA_VERSION:
            raise _SchemaMismatch(f"index schema {version}, expected {SCHEMA_VERSION}")

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

    def __enter__(self) -> SearchIndex:
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

    # ----------------------------------------------------------------- writing

    @property
    def signature(self) -> str | None:
        """The store version this index reflects; None when it was never filled."""
        with self._errors("reading the signature"):
            return self._meta("signature")

    def set_signature(self, signature: str) -> None:
        """Record that the index reflects this store version."""
        with self._errors("writing the signature"), self._transaction():
            self._flush_words()
            self._set_meta("signature", signature)

    def ids_for_uids(self, uids: Iterable[str]) -> dict[str, int]:
        """Return the id of each of these uids that is indexed."""
        wanted = list(dict.fromkeys(uids))
        found: dict[str, int] = {}
        with self._errors("looking up uids"):
            for batch in _batches(wanted, 500):
                marks = ",".join("?" * len(batch))
                for uid, entry_id in self.conn.execute(
                    f"SELECT uid, id FROM entries WHERE uid IN ({marks})", batch
                ):
                    found[uid] = entry_id
        return found

    def ids_for_sources(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Return the id of the entry read from each of these (source path, record key)."""
        wanted = {f"{path}\x1f{key}": (path, key) for path, key in keys}
        found: dict[tuple[str, str], int] = {}
        with self._errors("looking up sources"):
            for batch in _batches(list(wanted), 500):
                marks = ",".join("?" * len(batch))
                for ref, entry_id in self.conn.execute(
                    f"SELECT src, id FROM entries WHERE src IN ({marks})", batch
                ):
                    found[wanted[ref]] = entry_id
        return found

    @property
    def last_id(self) -> int:
        """The highest id the store has handed out (removed entries' ids included)."""
        with self._errors("reading the last id"):
            top = self.conn.execute("SELECT max(id) FROM entries").fetchone()[0] or 0
            return max(int(top), int(self._meta("last_id") or 0))

    def set_last_id(self, last_id: int) -> None:
        """Record the store's highest id handed out, so ids are never reused."""
        with self._errors("writing the last id"), self._transaction():
            self._set_meta("last_id", str(max(last_id, self.last_id)))

    def count(self) -> int:
        """Return the number of entries in the index."""
        with self._errors("counting entries"):
            return int(self._meta("count") or 0)

    def rebuild(
        self, entries: Iterable[Entry], signature: str, progress: Callable[[int], None] | None = None
    ) -> int:
        """Replace the whole index with these entries in one transaction; return the count.

        ``progress(n)`` is called with the running count every ``BATCH`` entries.
        Readers keep seeing the old index until the transaction commits.
        """
        with self._errors("rebuilding"), self._transaction() as conn:
            conn.execute("INSERT INTO fts(fts) VALUES ('delete-all')")
            for table in ("entries", "entry_tags", "experts", "terms", "words"):
                conn.execute(f"DELETE FROM {table}")
            self._set_meta("last_id", None)
            experts: dict[str, Expert] = {}
            total = 0
            for batch in _batches(entries, BATCH):
                prepared = prepare(batch)
                self._insert_batch(prepared, experts)
                self._stage_words(_ids_json(prepared.ids))
                total += len(batch)
                if progress is not None:
                    progress(total)
            conn.executemany(
                "INSERT INTO experts VALUES (?, ?)",
                ((e.name, _dumps(e.to_dict())) for e in experts.values()),
            )
            self._set_meta("count", str(total))
            self._flush_words()
            self._refresh_vocabulary(total)
            self._set_meta("signature", signature)
        return total

    def upsert(self, entries: Iterable[Entry], signature: str | None, *, refresh: bool = True) -> None:
        """Add entries, or replace those whose id is already indexed.

        ``signature`` None means the entries are not committed to the store yet (ingest
        indexes while the store batch fills): the index then claims no store version
        until ``set_signature``, so a crash before the commit is noticed and rebuilt.
        ``refresh=False`` leaves the vocabularies for ``refresh_vocabulary()`` (an ingest
        calls it once at its end instead of after every chunk).
        """
        self.upsert_prepared((prepare(batch) for batch in _batches(entries, BATCH)), signature, refresh=refresh)

    def upsert_prepared(self, batches: Iterable[Prepared], signature: str | None, *, refresh: bool = True) -> None:
        """``upsert`` of batches made by ``prepare`` (perhaps in another process)."""
        with self._errors("updating"), self._transaction():
            delta = 0
            for batch in batches:
                ids = _ids_json(batch.ids)
                old_experts, removed = self._remove_ids(ids)
                experts: dict[str, Expert] = {}
                for name, profile in old_experts.items():
                    experts[name.casefold()] = profile
                self._insert_batch(batch, experts, merge_existing=True)
                self._stage_words(ids)
                self._save_experts(experts.values())
                delta += len(batch.ids) - removed
            if signature is not None:
                self._flush_words()
            self._after_change(delta, refresh=refresh)
            self._set_meta("signature", signature)

    def delete(self, ids: Iterable[int], signature: str) -> None:
        """Remove the entries with these ids (unknown ids are ignored)."""
        with self._errors("deleting"), self._transaction():
            delta = 0
            for batch in _batches(ids, BATCH):
                old_experts, removed = self._remove_ids(_ids_json(batch))
                self._save_experts(old_experts.values())
                delta -= removed
            self._flush_words()
            self._after_change(delta)
            self._set_meta("signature", signature)

    def _insert_batch(self, batch: Prepared, experts: dict[str, Expert], merge_existing: bool = False) -> None:
        conn = self.conn
        for data in batch.experts:
            expert = Expert.from_dict(data)
            if expert is None:
                continue
            key = expert.name.casefold()
            if key not in experts and merge_existing:
                experts[key] = self._stored_expert(expert.name) or expert
            # The newer entry's sections win; the older fill what it lacks.
            experts[key] = expert.merged(experts.get(key))
        try:
            conn.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", batch.rows)
        except sqlite3.IntegrityError as exc:
            raise SearchIndexError(f"two entries share one id: {exc}") from exc
        conn.executemany("INSERT OR IGNORE INTO entry_tags VALUES (?, ?)", batch.tags)
        cols = ", ".join(FTS_COLUMNS)
        conn.execute(
            f"INSERT INTO fts(rowid, {cols}) SELECT id, {cols} FROM fts_source"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (_ids_json(batch.ids),),
        )

    def _stored_expert(self, name: str) -> Expert | None:
        row = self.conn.execute("SELECT profile FROM experts WHERE name = ?", (name,)).fetchone()
        return Expert.from_dict(_loads(row[0])) if row else None

    def _remove_ids(self, ids_json: str) -> tuple[dict[str, Expert], int]:
        """Delete these entries everywhere; return the stored profiles of their experts and
        how many entries there were."""
        conn = self.conn
        if conn.execute("SELECT 1 FROM entries WHERE id IN (SELECT value FROM json_each(?)) LIMIT 1",
                        (ids_json,)).fetchone():
            # Counted out at once (after what is staged), so an id staged twice never is.
            self._flush_words()
            self._stage_words(ids_json)
            self._flush_words(-1)
        cols = ", ".join(FTS_COLUMNS)
        # An external-content FTS5 table cannot see what it indexed: the old text must be
        # passed back with the 'delete' command, so it is read before the row goes.
        conn.execute(
            f"INSERT INTO fts(fts, rowid, {cols}) SELECT 'delete', id, {cols} FROM fts_source"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (ids_json,),
        )
        names = [r[0] for r in conn.execute(
            "SELECT DISTINCT expert FROM entries WHERE expert != '' AND id IN (SELECT value FROM json_each(?))",
            (ids_json,),
        )]
        removed = conn.execute("DELETE FROM entries WHERE id IN (SELECT value FROM json_each(?))", (ids_json,)).rowcount
        conn.execute("DELETE FROM entry_tags WHERE id IN (SELECT value FROM json_each(?))", (ids_json,))
        out = {}
        for name in names:
            profile = self._stored_expert(name)
            if profile is not None:
                out[name] = profile
        return out, max(removed, 0)

    def _save_experts(self, experts: Iterable[Expert]) -> None:
        """Store these profiles, or drop those whose expert has no entries left."""
        conn = self.conn
        for expert in experts:
            conn.execute("DELETE FROM experts WHERE name = ?", (expert.name,))
            if conn.execute("SELECT 1 FROM entries WHERE expert = ? COLLATE NOCASE LIMIT 1", (expert.name,)).fetchone():
                conn.execute("INSERT INTO experts VALUES (?, ?)", (expert.name, _dumps(expert.to_dict())))

    def refresh_vocabulary(self) -> None:
        """Bring the word-frequency tables up to date if the index has changed enough."""
        with self._errors("refreshing the vocabulary"), self._transaction():
            self._flush_words()
            self._after_change(0)

    def _after_change(self, delta: int, refresh: bool = True) -> None:
        """Record the new entry count (the old one plus ``delta``: counting the table would
        cost 16 ms a batch at 1M entries) and refresh the vocabulary when it is due."""
        known = self._meta("count")
        count = int(known) + delta if known is not None else self.conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        self._set_meta("count", str(count))
        if not refresh:
            return
        # The vocabularies are snapshots. Refreshing costs a pass over the whole index, so
        # it is done when the index has grown or shrunk by a fifth since the last one
        # (amortised: geometric growth), or always while the index is small and cheap.
        last = int(self._meta("vocab_count") or 0)
        if count < 2000 or abs(count - last) > last / 5:
            self._refresh_vocabulary(count)

    def _refresh_vocabulary(self, count: int) -> None:
        """Copy the stems' document frequencies out of FTS5 (``terms``); ``words`` is kept
        current by every write (see _stage_words)."""
        conn = self.conn
        conn.execute("DELETE FROM terms")
        conn.execute("INSERT INTO terms SELECT term, doc FROM fts_vocab")
        self._set_meta("vocab_count", str(count))

    def _word_counter(self) -> None:
        """Create, once per connection, the throwaway index that counts a batch's words.

        The same text as the entries without stemming, detail=none (no positions)
        because only its vocabulary is wanted; it lives in the temp schema, and reads
        the text through a temp view because FTS5 looks for an external content table in
        the schema of the FTS table itself.
        """
        if self._counter_ready:
            return
        conn = self.conn
        conn.execute(
            "CREATE TEMP VIEW IF NOT EXISTS kb_words_source AS"
            " SELECT id, title, question, answer FROM main.entries"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_words USING fts5(title, question, answer,"
            " content='kb_words_source', content_rowid='id',"
            " tokenize='unicode61 remove_diacritics 2', detail=none)"
        )
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_words_vocab USING fts5vocab(temp, kb_words, 'row')")
        self._counter_ready = True

    def _stage_words(self, ids_json: str) -> None:
        """Put these indexed entries' words in the counter, to be added to ``words`` (or
        taken away) at the next ``_flush_words``.

        So spelling suggestions stay current without a pass over the whole index (at 100k
        entries that pass took 3.7 s at the end of every ingest), and without merging
        every batch's ~10k words into the table (at 1M entries, 68 ms a batch): an ingest
        stages its batches and flushes them at each store commit.
        """
        self._word_counter()
        self.conn.execute(
            "INSERT INTO temp.kb_words(rowid, title, question, answer) SELECT id, title, question, answer"
            " FROM main.entries WHERE id IN (SELECT value FROM json_each(?))",
            (ids_json,),
        )
        self._words_staged = True

    def _flush_words(self, sign: int = 1) -> None:
        """Add (``sign`` 1) or take away (-1) the staged words' document counts."""
        if not self._words_staged:
            return
        conn = self.conn
        conn.execute(
            f"INSERT INTO words SELECT term, {int(sign)} * doc, substr(term, 1, 1), length(term)"
            " FROM temp.kb_words_vocab WHERE length(term) BETWEEN 3 AND 40 AND term NOT GLOB '*[0-9]*'"
            " ON CONFLICT(word) DO UPDATE SET df = df + excluded.df"
        )
        conn.execute("INSERT INTO temp.kb_words(kb_words) VALUES ('delete-all')")
        if sign < 0:
            conn.execute("DELETE FROM words WHERE df <= 0")
        self._words_staged = False

    # ----------------------------------------------------------------- reading

    def _entry(self, row: sqlite3.Row | tuple) -> Entry:
        question, answer, data = row[-3], row[-2], row[-1]
        d = _loads(data)
        d.setdefault("question", question)
        d.setdefault("answer", answer)
        return Entry.from_dict(d)

    def _entries_by_id(self, ids: list[int]) -> dict[int, Entry]:
        rows = self.conn.execute(
            "SELECT id, question, answer, data FROM entries WHERE id IN (SELECT value FROM json_each(?))",
            (_ids_json(ids),),
        )
        return {row[0]: self._entry(row) for row in rows}

    def get(self, ref: str | int) -> Entry:
        """Return the entry with this integer id, or whose uid starts with ``ref``.

        Raises:
            NotFound: no such entry, or the uid prefix fits several (the hint lists them).
        """
        with self._errors("reading an entry"):
            text = str(ref).strip().lstrip("#")
            if isinstance(ref, int) or text.isdigit():
                found = self._entries_by_id([int(text)])
                if found:
                    return next(iter(found.values()))
                if isinstance(ref, int) or len(text) < 4:
                    raise NotFound(f"no entry with id {text}")
            prefix = text.lower()
            if not _HEX.fullmatch(prefix):
                raise NotFound(
                    f"no entry {str(ref)!r}",
                    hint="give the integer id, or at least 4 hex digits of the uid",
                )
            rows = self.conn.execute(
                "SELECT id, uid, label FROM entries WHERE uid >= ? AND uid < ? ORDER BY id LIMIT 6",
                (prefix, prefix + "g"),
            ).fetchall()
            if not rows:
                raise NotFound(f"no entry with id or uid prefix {text}")
            if len(rows) > 1:
                shown = "; ".join(f"{r[0]} ({r[1]}) {r[2][:40]}" for r in rows[:5])
                more = " ..." if len(rows) > 5 else ""
                raise NotFound(
                    f"uid prefix {text} is ambiguous",
                    hint=f"candidates: {shown}{more}; give more digits or the id",
                )
            return self._entries_by_id([rows[0][0]])[rows[0][0]]

    def list(
        self,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        sort: str = "id",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Entry]:
        """Return entries, filtered and sorted (by id, title, category or date).

        Filters ignore case. ``category`` and ``expert`` also accept a unique prefix, or a
        unique word start inside the name ("higby" for "Donald Higby, M.D.").

        Raises:
            NotFound: a filter value names no category, expert or tag (hint: candidates).
            QueryError: an unknown sort key.
        """
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}", hint="sort by " + ", ".join(SORTS))
        with self._errors("listing entries"):
            where, params = self._filter_sql(
                {"category": [category] if category else [], "expert": [expert] if expert else [],
                 "tag": [tag] if tag else []},
                strict=True,
            )
            order = SORTS[sort]
            if descending:
                order = ", ".join(part + " DESC" for part in order.split(", "))
            sql = f"SELECT e.question, e.answer, e.data FROM entries e {where} ORDER BY {order}"
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else int(limit), max(0, int(offset))]
            return [self._entry(row) for row in self.conn.execute(sql, params)]

    def categories(self) -> list[tuple[str, int]]:
        """Return each non-empty category with its entry count, most entries first."""
        with self._errors("listing categories"):
            return [tuple(r) for r in self.conn.execute(
                "SELECT category, count(*) AS n FROM entries WHERE category != ''"
                " GROUP BY category ORDER BY n DESC, category COLLATE NOCASE"
            )]

    def experts(self) -> list[ExpertSummary]:
        """Return every expert with answer counts and categories, most answers first."""
        with self._errors("listing experts"):
            profiles = {
                r[0].casefold(): Expert.from_dict(_loads(r[1]))
                for r in self.conn.execute("SELECT name, profile FROM experts")
            }
            summaries: dict[str, ExpertSummary] = {}
            rows = self.conn.execute(
                "SELECT expert, category, count(*) FROM entries WHERE expert != ''"
                " GROUP BY expert COLLATE NOCASE, category ORDER BY 3 DESC"
            )
            for name, category, n in rows:
                key = name.casefold()
                summary = summaries.get(key)
                if summary is None:
                    profile = profiles.get(key) or Expert(name=name)
                    summary = summaries[key] = ExpertSummary(profile.name, 0, [], profile)
                summary.count += n
                if category:
                    summary.categories.append((category, n))
            return sorted(summaries.values(), key=lambda s: (-s.count, s.name.casefold()))

    def expert(self, name: str) -> ExpertSummary:
        """Return one expert's summary; the name ignores case and may be a unique prefix.

        Raises:
            NotFound: no such expert, or several fit (with "did you mean" candidates).
        """
        with self._errors("reading an expert"):
            names = self._resolve("expert", name, strict=True)
            row = self.conn.execute("SELECT profile FROM experts WHERE name = ?", (names[0],)).fetchone()
            profile = Expert.from_dict(_loads(row[0])) if row else Expert(name=names[0])
            marks = ",".join("?" * len(names))
            categories = [tuple(r) for r in self.conn.execute(
                f"SELECT category, count(*) AS n FROM entries WHERE expert IN ({marks})"
                " GROUP BY category ORDER BY n DESC, category COLLATE NOCASE",
                names,
            )]
            count = sum(n for _, n in categories)
            return ExpertSummary(profile.name, count, [c for c in categories if c[0]], profile)

    def vocabulary_suggest(self, term: str, limit: int = 3) -> list[str]:
        """Return the indexed words closest in spelling to ``term``, most likely first."""
        with self._errors("suggesting spellings"):
            word = _fold(term.strip())
            return [w for w, _ in self._suggest(word, min_df=0, limit=limit) if w != word]

    # ------------------------------------------------------------ filters

    def _resolve(self, kind: str, value: str, *, strict: bool) -> list[str]:
        """Return the stored names a filter value stands for.

        Tags match exactly (ignoring case). Categories and experts match exactly, else by
        unique prefix, else by a unique word start inside the name. With ``strict``, a
        value that matches nothing or is ambiguous raises NotFound; otherwise it resolves
        to no names.
        """
        conn = self.conn
        value = value.strip()
        if kind == "tag":
            rows = [r[0] for r in conn.execute("SELECT DISTINCT tag FROM entry_tags WHERE tag = ?", (value,))]
            if rows or not strict:
                return rows
            known = [r[0] for r in conn.execute("SELECT DISTINCT tag FROM entry_tags")]
            raise NotFound(f"no tag {value!r}", hint=_did_you_mean(value, known))
        column = {"category": "category", "expert": "expert"}[kind]
        like = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        steps = (
            (f"{column} = ? COLLATE NOCASE", value),
            (f"{column} LIKE ? ESCAPE '\\'", like + "%"),
            (f"{column} LIKE ? ESCAPE '\\'", "% " + like + "%"),
        )
        for condition, param in steps:
            names = [r[0] for r in conn.execute(
                f"SELECT DISTINCT {column} FROM entries WHERE {condition} AND {column} != '' LIMIT 20",
                (param,),
            )]
            distinct = {n.casefold() for n in names}
            if len(distinct) == 1:
                return names
            if len(distinct) > 1:
                if not strict:
                    return []
                raise NotFound(
                    f"{kind} {value!r} is ambiguous",
                    hint="candidates: " + ", ".join(sorted(set(names), key=str.casefold)[:10]),
                )
        if not strict:
            return []
        known = [r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM entries WHERE {column} != ''")]
        raise NotFound(f"no {kind} {value!r}", hint=_did_you_mean(value, known))

    def _filter_sql(self, filters: dict[str, list[str]], *, strict: bool) -> tuple[str, list[Any]]:
        """Build the WHERE clause of filters on the entries table aliased ``e``."""
        clauses, params = [], []
        for kind in ("category", "expert", "tag"):
            values = filters.get(kind) or []
            if not values:
                continue
            names: list[str] = []
            for value in values:
                names.extend(self._resolve(kind, value, strict=strict))
            if not names:
                clauses.append("0")
                continue
            marks = ",".join("?" * len(names))
            if kind == "tag":
                clauses.append(f"e.id IN (SELECT id FROM entry_tags WHERE tag IN ({marks}))")
            else:
                clauses.append(f"e.{kind} IN ({marks})")
            params.extend(names)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    # ------------------------------------------------------------ search

    def search(
        self,
        query: str,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        limit: int = 10,
        offset: int = 0,
        latest: bool = False,
    ) -> SearchResult:
        """Search entries for a question or keywords; see the module docstring of kb.search.query.

        Filters given here combine (AND) with ``field:value`` filters in the query.
        With ``latest`` the matches are ordered by date, newest first, not by relevance.
        """
        with self._errors("searching"):
            try:
                return self._search(query, category, expert, tag, limit, offset, latest)
            except (KbError, sqlite3.Error):
                raise
            except Exception as exc:  # a bug in planning must not look like a crash
                raise SearchIndexError(f"search failed: {exc!r}") from exc

    def _search(self, query, category, expert, tag, limit, offset, latest) -> SearchResult:
        parsed = _query.parse(query)
        filters = {k: list(v) for k, v in parsed.filters.items()}
        for kind, value in (("category", category), ("expert", expert), ("tag", tag)):
            if value:
                filters.setdefault(kind, []).append(value)
        limit, offset = max(0, int(limit)), max(0, int(offset))
        bad = self._unknown_filter(filters)
        if bad:
            return SearchResult([], 0, [], bad)
        where, params = self._filter_sql(filters, strict=False)

        if not parsed.has_text:
            if not filters:
                reason = (
                    "the query has only common words (" + ", ".join(dict.fromkeys(parsed.stopped)) + ")"
                    if parsed.stopped else "the query is empty"
                )
                return SearchResult([], 0, [], reason)
            return self._browse(parsed, where, params, limit, offset, latest)

        should, must, suggestions = self._analyse(parsed)
        positive = self._plan(should, must)
        if positive is None:
            missing = [p.term.text for p in must if p.df == 0]
            reason = ("no entry has " + ", ".join(repr(m) for m in missing)) if missing else "no entry has these words"
            return SearchResult([], 0, suggestions, reason)
        match = positive
        if parsed.exclude:
            match = f"({positive}) NOT ({' OR '.join(t.fts() for t in parsed.exclude)})"
        terms = [p.term for p in should + must]
        hits, total = self._rank(match, where, params, limit, offset, latest, terms)
        reason = None
        if not hits:
            reason = self._why_nothing(positive, match, where, total, filters)
        return SearchResult(hits, total, suggestions, reason)

    def _unknown_filter(self, filters: dict[str, list[str]]) -> str | None:
        for kind, values in filters.items():
            for value in values:
                try:
                    self._resolve(kind, value, strict=True)
                except NotFound as exc:
                    return f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")
        return None

    def _browse(self, parsed, where, params, limit, offset, latest) -> SearchResult:
        """Serve a query of filters only (and maybe exclusions): list matching entries."""
        conn = self.conn
        clauses, params = ([where[len("WHERE "):]] if where else []), list(params)
        if parsed.exclude:
            clauses.append("e.id NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            params.append(" OR ".join(t.fts() for t in parsed.exclude))
        cond = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        total = conn.execute(f"SELECT count(*) FROM entries e {cond}", params).fetchone()[0]
        order = "e.date DESC, e.id DESC" if latest else "e.id"
        rows = conn.execute(
            f"SELECT e.question, e.answer, e.data FROM entries e {cond} ORDER BY {order} LIMIT ? OFFSET ?",
            params + [limit, offset],
        ).fetchall()
        hits = [Hit(entry, 0.0, _lead(entry.question)) for entry in map(self._entry, rows)]
        reason = None if hits else ("no entry passes these filters" if total == 0 else f"only {total} entries match")
        return SearchResult(hits, total, [], reason)

    # The query plan ------------------------------------------------------

    def _ensure_tokenizer(self) -> None:
        """Create a scratch FTS5 table whose only job is to tokenize text like the index.

        FTS5 offers no "tokenize this string" function; inserting the text into a temp
        table with the same tokenizer and reading its 'instance' vocabulary yields exactly
        the stems the index holds, so the planner can look up their frequencies.
        """
        if self._tokenizer_ready:
            return
        conn = self.conn
        conn.execute("DROP TABLE IF EXISTS temp.kb_tok_vocab")
        conn.execute("DROP TABLE IF EXISTS temp.kb_tok")
        conn.execute(f"CREATE VIRTUAL TABLE temp.kb_tok USING fts5(t, tokenize='{TOKENIZE}')")
        conn.execute("CREATE VIRTUAL TABLE temp.kb_tok_vocab USING fts5vocab(temp, kb_tok, 'instance')")
        self._tokenizer_ready = True

    def _stems(self, texts: list[str]) -> list[list[str]]:
        """Return the index's tokens (porter stems) of each text."""
        self._ensure_tokenizer()
        conn = self.conn
        conn.execute("DELETE FROM temp.kb_tok")
        conn.executemany("INSERT INTO temp.kb_tok(rowid, t) VALUES (?, ?)", enumerate(texts))
        out: list[list[str]] = [[] for _ in texts]
        for term, doc in conn.execute("SELECT term, doc FROM temp.kb_tok_vocab ORDER BY doc, offset"):
            out[doc].append(term)
        conn.execute("DELETE FROM temp.kb_tok")
        return out

    def _doc_freqs(self, stems: set[str]) -> dict[str, int]:
        conn = self.conn
        found = dict(conn.execute(
            "SELECT term, df FROM terms WHERE term IN (SELECT value FROM json_each(?))",
            (_dumps(sorted(stems)).decode(),),
        ))
        for stem in stems - found.keys():
            # Not in the snapshot (added since the last refresh): ask FTS5 directly.
            row = conn.execute("SELECT doc FROM fts_vocab WHERE term = ?", (stem,)).fetchone()
            found[stem] = row[0] if row else 0
        return found

    def _prefix_df(self, stem_prefix: str) -> int:
        row = self.conn.execute(
            "SELECT coalesce(sum(df), 0) FROM (SELECT df FROM terms WHERE term >= ? AND term < ? LIMIT 5000)",
            (stem_prefix, stem_prefix + "\U0010ffff"),
        ).fetchone()
        return int(row[0])

    def _analyse(self, parsed: _query.ParsedQuery) -> tuple[list[_Planned], list[_Planned], list[str]]:
        """Attach stems and document frequencies to the positive terms; fix misspellings.

        Returns the should-terms (with likely spellings of rare words appended), the
        must-terms, and the "did you mean" words.
        """
        terms = parsed.should + parsed.must
        stems = self._stems([" ".join(t.words) for t in terms])
        freqs = self._doc_freqs({s for group in stems for s in group})
        planned = []
        for term, group in zip(terms, stems):
            if term.prefix:
                df = self._prefix_df(_fold(term.words[0]))
            else:
                df = min((freqs.get(s, 0) for s in group), default=0)
            planned.append(_Planned(term, df, group))
        should = planned[: len(parsed.should)]
        must = planned[len(parsed.should):]
        suggestions: list[str] = []
        extra: list[_query.Term] = []
        known = {_fold(w) for t in terms for w in t.words}
        for item in planned:
            if item.term.prefix or item.df > SPELL_MAX_DF:
                continue
            word = _fold(item.term.words[0])
            if item.df == 0 and not item.term.is_phrase and item in should and len(word) >= 4:
                # A word the index has never seen may be the start of words it has
                # ("chemo"): search its two commonest completions too. Whole words, not
                # an FTS5 prefix query, which merges the postings of every completion.
                for (completion,) in self.conn.execute(
                    "SELECT word FROM words WHERE word > ? AND word < ? ORDER BY df DESC LIMIT 2",
                    (word, word + "\U0010ffff"),
                ):
                    if completion not in known:
                        known.add(completion)
                        extra.append(_query.Term([completion], text=completion))
            for word in item.term.words:
                folded = _fold(word)
                if len(folded) < 4 or not folded.isalpha():
                    continue
                best = self._suggest(folded, min_df=max(item.df, 1) * 10 if item.df else 0, limit=2)
                for suggestion, _ in best:
                    if suggestion not in suggestions and suggestion not in known:
                        suggestions.append(suggestion)
                        if not item.term.is_phrase and item in should:
                            extra.append(_query.Term([suggestion], text=suggestion))
        if extra:
            extra_stems = self._stems([t.words[0] for t in extra])
            freqs = self._doc_freqs({s for group in extra_stems for s in group})
            for term, group in zip(extra, extra_stems):
                should.append(_Planned(term, min((freqs.get(s, 0) for s in group), default=0), group))
        return should, must, suggestions

    def _suggest(self, word: str, *, min_df: int, limit: int) -> list[tuple[str, int]]:
        """Return up to ``limit`` (word, df) of the vocabulary close in spelling to ``word``.

        Candidates share the first letter (people seldom mistype it) and are within a few
        letters in length, which keeps the set small enough to score on every query.
        """
        if len(word) < 4:
            return []
        max_edits = 1 if len(word) <= 5 else 2 if len(word) <= 9 else 3
        rows = self.conn.execute(
            "SELECT word, df FROM words WHERE head = ? AND len BETWEEN ? AND ? AND df > ?",
            (word[0], len(word) - max_edits, len(word) + max_edits, min_df),
        ).fetchall()
        if not rows:
            return []
        from rapidfuzz.distance import OSA  # edit distance that counts a swap as one edit

        scored = []
        for candidate, df in rows:
            distance = OSA.distance(word, candidate, score_cutoff=max_edits)
            if distance <= max_edits and candidate != word:
                scored.append((distance, -df, candidate))
        scored.sort()
        if not scored:
            return []
        best = scored[0][0]
        return [(c, -d) for dist, d, c in scored if dist == best][:limit]

    def _plan(self, should: list[_Planned], must: list[_Planned], min_candidates: int = MIN_CANDIDATE_TERMS) -> str | None:
        """Build the FTS5 MATCH expression that answers the query cheaply.

        An OR over every word of a question scores nearly every entry, and FTS5's bm25()
        must score every match before ORDER BY ... LIMIT can keep the best. So:

        1. Terms in more than half of the entries are dropped: bm25 gives them idf ~0.
        2. The remaining words are sorted by document frequency. The rarest ones, up to
           ``CANDIDATE_BUDGET`` postings (always at least one), form the candidate set C:
           an entry must contain at least one of them. Rare words are the ones that say
           what a question is about, and they carry most of the BM25 score.
        3. The commoner words (S, up to ``SCORING_BUDGET`` postings) only re-score the
           candidates: ``(C AND S) OR (C NOT S)`` matches exactly the entries of C, and
           FTS5 computes bm25 over every phrase of the expression that matched the row, so
           each candidate gets the score the full OR would have given it, while the common
           words' long posting lists are only skipped through, never scored whole.
        4. Quoted phrases and ``title:`` terms are required: they replace C as the
           candidate set and all words re-score. (Exclusions wrap it in ``NOT``.)

        With few entries everything fits the budget and the query is the plain OR.
        """
        budget = self.candidate_budget
        total = max(self.count(), 1)
        # In a small index nothing is slow, and a word in half of 40 entries may still be
        # the only one that finds an entry: drop common words only where it matters.
        ceiling = total * COMMON_SHARE if total >= 1000 else total
        usable = [p for p in should if 0 < p.df <= ceiling]
        if not usable and should and not must:
            # Only very common words: keep the rarest so that the query still matches.
            usable = sorted((p for p in should if p.df > 0), key=lambda p: p.df)[:2]
        usable.sort(key=lambda p: p.df)
        if must:
            if any(p.df == 0 for p in must):
                return None
            candidates = " AND ".join(p.term.fts() for p in must)
            scoring_terms = usable
        else:
            if not usable:
                return None
            chosen, postings = [], 0
            for item in usable:
                if len(chosen) >= min_candidates and postings + item.df > budget:
                    break
                chosen.append(item)
                postings += item.df
            candidates = " OR ".join(p.term.fts() for p in chosen)
            scoring_terms = usable[len(chosen):]
        scoring, postings = [], 0
        for item in scoring_terms:
            if len(scoring) >= MIN_SCORING_TERMS and postings + item.df > SCORING_BUDGET:
                break
            scoring.append(item.term.fts())
            postings += item.df
        expr = f"({candidates})"
        if scoring:
            others = " OR ".join(scoring)
            expr = f"(({candidates}) AND ({others})) OR (({candidates}) NOT ({others}))"
        return expr

    def _rank(self, match, where, params, limit, offset, latest, terms, exclude_id=None):
        """Run the planned MATCH; return the page of hits and the total number of matches."""
        conn = self.conn
        weights = ", ".join(str(w) for w in WEIGHTS)
        conds = ["fts MATCH ?"]
        args: list[Any] = [match]
        if where:
            conds.append(where[len("WHERE "):])
            args.extend(params)
        if exclude_id is not None:
            conds.append("fts.rowid != ?")
            args.append(exclude_id)
        if where or latest:
            # CROSS JOIN keeps the FTS table as the outer loop: the other order would open
            # one FTS5 cursor per entry, and bm25 recounts every term's documents per cursor.
            body = f"FROM fts CROSS JOIN entries e ON e.id = fts.rowid WHERE {' AND '.join(conds)}"
        else:
            # Without filters the join is pure cost (~1.5 us per matched row, measured).
            body = f"FROM fts WHERE {' AND '.join(conds)}"
        order = "e.date DESC, e.id DESC" if latest else "score DESC"
        rows = conn.execute(
            f"SELECT fts.rowid, -bm25(fts, {weights}) AS score {body}"
            f" ORDER BY {order} LIMIT ? OFFSET ?",
            args + [limit, offset],
        ).fetchall()
        if len(rows) < limit and (offset == 0 or rows):
            total = offset + len(rows)
        else:
            # Counting without bm25 is a cheap second pass over the same postings.
            total = conn.execute(f"SELECT count(*) {body}", args).fetchone()[0]
        if not rows:
            return [], total
        ids = [r[0] for r in rows]
        entries = self._entries_by_id(ids)
        snippets = self._snippets(ids, terms)
        hits = [
            Hit(entries[i], round(score, 4), snippets.get(i) or _lead(entries[i].question))
            for i, score in rows if i in entries
        ]
        return hits, total

    def _snippets(self, ids: list[int], terms: list[_query.Term]) -> dict[int, str]:
        """Return a snippet per id from the question or answer, whichever shows more matches.

        Computed in a second query over the page's ids only: snippet() re-reads and
        re-tokenizes the text, which is far too slow to do for every match.
        """
        if not terms:
            return {}
        highlight = " OR ".join(
            _query.Term(t.words, prefix=t.prefix).fts() for t in terms
        )
        q, a = FTS_COLUMNS.index("question"), FTS_COLUMNS.index("answer")
        out = {}
        rows = self.conn.execute(
            f"SELECT rowid, snippet(fts, {q}, ?, ?, '…', {SNIPPET_TOKENS}),"
            f" snippet(fts, {a}, ?, ?, '…', {SNIPPET_TOKENS}) FROM fts"
            " WHERE fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
            (MARK_START, MARK_END, MARK_START, MARK_END, highlight, _ids_json(ids)),
        )
        for rowid, question, answer in rows:
            best = max((question or "", answer or ""), key=lambda s: s.count(MARK_START))
            if MARK_START in best:
                out[rowid] = best
        return out

    def _why_nothing(self, positive, match, where, total, filters) -> str:
        conn = self.conn
        if total:
            return f"only {total} entries match; nothing at this offset"
        if where:
            unfiltered = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
            if unfiltered:
                described = ", ".join(
                    f"{kind} {' or '.join(repr(v) for v in values)}" for kind, values in filters.items() if values
                )
                noun = "entry matches" if unfiltered == 1 else "entries match"
                return f"{unfiltered} {noun} but none with {described}"
        if match != positive:
            base = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (positive,)).fetchone()[0]
            if base:
                noun = "entry matches" if base == 1 else "entries match"
                return f"{base} {noun} but all contain excluded words"
        return "no entry has these words"

    # ------------------------------------------------------------ related

    def related(self, ref: str | int, limit: int = 5) -> list[Hit]:
        """Return the entries most similar to this one (by its title and rarest words).

        Cheaper than a search, because `kb show` runs it every time: the rarest of the
        words pick the candidates within a budget of 2k postings (a search allows 8k; on
        60 sampled entries at 16k the top 5 stayed 99 % the same, in ~2.4 ms instead of
        ~5.6), only the rarest when it alone passes the budget (a search keeps two, and
        at 1M entries "Cowden syndrome" then scored the 281k entries with "syndrome":
        1.1 s), none when every word is in more than RELATED_MAX_DF entries, and no total
        or highlighted snippet is computed: a hit's snippet is the start of its question.
        """
        with self._errors("finding related entries"):
            entry = self.get(ref)
            parsed = _query.parse(entry.title + " " + entry.question[:2000])
            title_words = {w.lower() for t in _query.parse(entry.title).should for w in t.words}
            planned = self._analyse_plain(parsed)
            # Words found only in this entry cannot lead to another one.
            useful = [p for p in planned if p.df > 1]
            title = [p for p in useful if p.term.words[0].lower() in title_words]
            rest = sorted((p for p in useful if p not in title), key=lambda p: p.df)[:8]
            if not any(p.df <= RELATED_MAX_DF for p in useful):
                return []  # only common words: nothing is related to it more than to anything
            budget = self.candidate_budget
            self.candidate_budget = min(budget, 2_000)
            try:
                match = self._plan(title + rest, [], min_candidates=1)
            finally:
                self.candidate_budget = budget
            if match is None or limit <= 0:
                return []
            weights = ", ".join(str(w) for w in WEIGHTS)
            rows = self.conn.execute(
                f"SELECT rowid, -bm25(fts, {weights}) AS score FROM fts"
                " WHERE fts MATCH ? AND rowid != ? ORDER BY score DESC LIMIT ?",
                (match, entry.id, limit),
            ).fetchall()
            entries = self._entries_by_id([i for i, _ in rows])
            return [Hit(entries[i], round(score, 4), _lead(entries[i].question)) for i, score in rows if i in entries]

    def _analyse_plain(self, parsed: _query.ParsedQuery) -> list[_Planned]:
        """Attach document frequencies to the single-word terms, without spelling fixes."""
        words = [t for t in parsed.should if not t.is_phrase][:200]
        stems = self._stems([t.words[0] for t in words])
        freqs = self._doc_freqs({s for group in stems for s in group})
        return [_Planned(t, min((freqs.get(s, 0) for s in g), default=0), g) for t, g in zip(words, stems)]


class _SchemaMismatch(sqlite3.DatabaseError):
    """The file is a SQLite database but not an index this version of kb can read."""


def _split_sql(script: str) -> list[str]:
    """Split the schema script into statements (none of ours contain a ';' in a string)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _source_ref(entry: Entry) -> str | None:
    """The file and record an entry was read from, as one indexed value (None if not from a file)."""
    src = entry.source
    if not src.path or src.key is None:
        return None
    return f"{src.path}\x1f{src.key}"


def _lead(text: str, length: int = 160) -> str:
    """Return the start of a text on one line, as a snippet when no word was matched."""
    flat = " ".join(text.replace(MARK_START, " ").replace(MARK_END, " ").split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def _did_you_mean(value: str, known: list[str]) -> str | None:
    if not known:
        return None
    from rapidfuzz import fuzz, process

    matches = process.extract(value, known, scorer=fuzz.WRatio, processor=str.casefold, limit=3, score_cutoff=60)
    if not matches:
        return None
    return "did you mean " + " or ".join(repr(m[0]) for m in matches) + "?"
