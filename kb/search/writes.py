"""Writing the index: the rows an entry becomes, rebuild, upsert and delete, ids and signature.

``prepare`` turns entries into plain rows, so that an ingest can build them in one process
and insert them in another (kb/ingest/pipeline.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from kb.errors import SearchIndexError
from kb.models import Entry, Expert, Record
from kb.search import cjk, semantic, vocabulary
from kb.search.base import batches as _batches
from kb.search.base import dumps as _dumps
from kb.search.base import ids_json as _ids_json
from kb.search.base import loads as _loads
from kb.search.schema import ENTRY_FIELDS, FTS_COLUMNS, HEAD_COLUMNS, SHARED_SOURCE, SORT_INDEXES
from kb.search.snippets import has_marks as _has_marks
from kb.search.snippets import strip_marks
from kb.search.spelling import Vocabulary

BATCH = 1000
# The page cache (KiB) of a connection that writes many batches, at most (see
# for_bulk_writes), and SQLite's default.
BULK_CACHE_KB = 64 * 1024
DEFAULT_CACHE_KB = 2000


class Prepared(Record):
    """A batch of entries as the index stores them: rows of ``entries`` and ``entry_tags``,
    and the experts' profiles (merged into the stored ones when inserted).

    Plain values only (the data column is JSON text), so that an ingest can build it in
    its parsing process and send it to the one that indexes (kb/ingest/pipeline.py).
    ``abbreviations`` and ``aliases`` are the vocabulary's rows the answers define
    (vocabulary.Learned): learned where the batch is prepared, which in an ingest is the
    parsing process, so the learning (pure Python, ~23 us an answer) does not lengthen
    the indexing process.
    """

    __slots__ = ("ids", "rows", "tags", "experts", "abbreviations", "aliases")
    ids: list[int]
    rows: list[tuple[Any, ...]]
    tags: list[tuple[str, int]]
    experts: list[dict[str, Any]]
    abbreviations: list[tuple[str, str, int]]
    aliases: list[tuple[str, str, str, str, int]]

    def __init__(
        self,
        ids: list[int],
        rows: list[tuple[Any, ...]],
        tags: list[tuple[str, int]],
        experts: list[dict[str, Any]],
        abbreviations: list[tuple[str, str, int]] | None = None,
        aliases: list[tuple[str, str, str, str, int]] | None = None,
    ) -> None:
        self.ids = ids
        self.rows = rows
        self.tags = tags
        self.experts = experts
        self.abbreviations = [] if abbreviations is None else abbreviations
        self.aliases = [] if aliases is None else aliases

    def to_json(self) -> list[Any]:
        return [self.ids, self.rows, self.tags, self.experts, self.abbreviations, self.aliases]

    @classmethod
    def from_json(cls, data: list[Any]) -> Prepared:
        ids, rows, tags, experts, abbreviations, aliases = data
        return cls(
            ids,
            [tuple(r) for r in rows],
            [tuple(t) for t in tags],
            experts,
            [(s, lf, n) for s, lf, n in abbreviations],
            [(lk, rk, lt, rt, n) for lk, rk, lt, rt, n in aliases],
        )


def prepare(entries: Iterable[Entry]) -> Prepared:
    """Turn stored entries (with ids) into the rows the index keeps."""
    batch = Prepared([], [], [], [])
    for entry in entries:
        if entry.id is None:
            raise SearchIndexError(f"entry {entry.uid} has no id; only stored entries can be indexed")
        entry_id = int(entry.id)
        data = entry.to_dict()
        question, answer = data.pop("question"), data.pop("answer")
        for name in ENTRY_FIELDS:
            del data[name]
        source = data["source"]
        shared = _dumps({name: source.pop(name) for name in SHARED_SOURCE}).decode()
        # snippet() marks matches with \x02/\x03, so the indexed text must hold none
        # (a marker in a snippet is then always ours). The rare text that does is
        # blanked in the columns and kept exactly in the JSON.
        if _has_marks(question) or _has_marks(answer):
            data["question"], data["answer"] = question, answer
            question, answer = strip_marks(question), strip_marks(answer)
        name = entry.expert.name if entry.expert else ""
        entry_tags = list(dict.fromkeys(t for t in entry.tags if t))
        batch.ids.append(entry_id)
        batch.rows.append(
            (
                entry_id,
                entry.uid,
                entry.title,
                entry.display_title(),
                entry.category,
                name,
                "\n".join(entry_tags),
                question,
                answer,
                entry.updated_at or entry.created_at or "",
                _dumps(data).decode(),
                entry.status,
                entry.follows,
                source_ref(entry.source.path, entry.source.key),
                shared,  # made a sources.id when inserted
            )
        )
        batch.tags.extend((t, entry_id) for t in {t.casefold(): t for t in entry_tags}.values())
        if entry.expert:
            batch.experts.append(entry.expert.to_dict())
    learned = vocabulary.learn(row[8] for row in batch.rows)
    batch.abbreviations, batch.aliases = learned.abbreviation_rows(), learned.alias_rows()
    return batch


# hashlib's BLAKE2b, imported by the first ``source_ref``, not with this module: hashlib
# loads OpenSSL (~2.4 ms), which commands that only read the index (browse, search,
# show) would pay for nothing. A module-level name, so an ingest imports it once.
_blake2b: Callable[..., Any] | None = None


def source_ref(path: str | None, key: str | None) -> int | None:
    """The file and record an entry was read from, as one indexed integer (None if not from a file).

    A hash (64 bits of BLAKE2b), so that the column and its index cost 8 bytes an entry
    rather than a path and a key (2.3 MB at 16k entries); a lookup compares the path and
    key kept in ``data`` before it trusts a match.
    """
    if not path or key is None:
        return None
    global _blake2b
    if _blake2b is None:
        from hashlib import blake2b

        _blake2b = blake2b
    digest = _blake2b(f"{path}\x1f{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Writes(Vocabulary):
    """What changes the index: every write keeps the counts and the vocabularies current."""

    # Whether this connection dropped the sort indexes to make them after its bulk write.
    _deferring = False

    def for_bulk_writes(self) -> None:
        """Give this connection a page cache fit for a long run of writes (an ingest's),
        sized by the entries indexed so far; called again as the index grows.

        The entries table's indexes on uids, source records and titles take rows in no
        order, so each insert lands on some page of each: with SQLite's default cache
        (2 MB) most of those pages had to be read again, and an ingest's inserts grew
        dearer as the index grew (100k rows with every index: 3.2-3.6 CPU-s with 2 MB,
        2.6 with 16 MB, 2.5 with 64 MB). Those indexes take ~200 bytes an entry, so the
        cache is a quarter of a KiB an entry, between the default and 64 MB: a small
        index does not pay in memory for what only a large one needs.
        """
        with self._errors("setting the page cache"):
            entries = int(self._meta("count") or 0)
            cache_kb = min(BULK_CACHE_KB, max(DEFAULT_CACHE_KB, entries // 4))
            self.conn.execute(f"PRAGMA cache_size = -{cache_kb}")

    def defer_sort_indexes(self) -> bool:
        """Before a bulk write into an empty index: drop the sort indexes (SORT_INDEXES)
        until ``make_sort_indexes``, which makes each from the whole table at once.

        The index says so (``meta.sort_indexes``), so that if this writer never gets to
        make them (it crashed), the next write does (``_sort_indexes_due``); reads work
        without them, sorting what they select. Return whether they were dropped: not
        when the index holds entries.
        """
        with self._errors("deferring the sort indexes"), self._transaction() as conn:
            if conn.execute("SELECT 1 FROM entries LIMIT 1").fetchone():
                return False
            self._drop_sort_indexes()
            self._set_meta("sort_indexes", "deferred")
        self._deferring = True
        return True

    def _drop_sort_indexes(self) -> None:
        for name in SORT_INDEXES:
            self.conn.execute(f"DROP INDEX IF EXISTS {name}")

    def make_sort_indexes(self) -> None:
        """Make the sort indexes that ``defer_sort_indexes`` dropped (none: no change)."""
        with self._errors("making the sort indexes"), self._transaction():
            self._make_sort_indexes()

    def _make_sort_indexes(self) -> None:
        for statement in SORT_INDEXES.values():
            self.conn.execute(statement)
        self.conn.execute("DELETE FROM meta WHERE key = 'sort_indexes'")
        self._deferring = False

    def _sort_indexes_due(self) -> None:
        """In a write's transaction: make the sort indexes a bulk writer deferred and
        did not make (it stopped first), unless this connection is that writer."""
        if not self._deferring and self._meta("sort_indexes") is not None:
            self._make_sort_indexes()

    def set_signature(self, signature: str) -> None:
        """Record that the index reflects this store version."""
        with self._errors("writing the signature"), self._transaction():
            self._sort_indexes_due()
            self._flush_words()
            self._set_meta("signature", signature)

    def ids_for_uids(self, uids: Iterable[str]) -> dict[str, int]:
        """Return the id of each of these uids that is indexed."""
        wanted = list(dict.fromkeys(uids))
        found: dict[str, int] = {}
        with self._errors("looking up uids"):
            for batch in _batches(wanted, 500):
                marks = ",".join("?" * len(batch))
                for uid, entry_id in self.conn.execute(f"SELECT uid, id FROM entries WHERE uid IN ({marks})", batch):
                    found[uid] = entry_id
        return found

    def ids_for_sources(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Return the id of the entry read from each of these (source path, record key)."""
        wanted = {(str(path), str(key)) for path, key in keys}
        refs = list({source_ref(path, key) for path, key in wanted} - {None})
        found: dict[tuple[str, str], int] = {}
        with self._errors("looking up sources"):
            for batch in _batches(refs, 500):
                marks = ",".join("?" * len(batch))
                rows = self.conn.execute(
                    "SELECT (SELECT json_extract(doc, '$.path') FROM sources WHERE id = e.file),"
                    f" json_extract(e.data, '$.source.key'), e.id FROM entries e WHERE e.src IN ({marks})",
                    batch,
                )
                for path, key, entry_id in rows:
                    if (str(path), str(key)) in wanted:
                        found[(str(path), str(key))] = entry_id
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

    def rebuild(self, entries: Iterable[Entry], signature: str, progress: Callable[[int], None] | None = None) -> int:
        """Replace the whole index with these entries in one transaction; return the count.

        ``progress(n)`` is called with the running count every ``BATCH`` entries.
        Readers keep seeing the old index until the transaction commits.
        """
        with self._errors("rebuilding"), self._transaction() as conn:
            conn.execute("INSERT INTO fts(fts) VALUES ('delete-all')")
            conn.execute("INSERT INTO head(head) VALUES ('delete-all')")
            for table in ("cjk", "abbreviations", "aliases", "entries", "entry_tags", "experts", "terms", "words"):
                conn.execute(f"DELETE FROM {table}")
            if semantic.kept(conn):
                conn.execute("DELETE FROM vectors")
            # Made again once the rows are in (SORT_INDEXES), in this same transaction.
            self._drop_sort_indexes()
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
            self._make_sort_indexes()
            self._flush_words()
            self._refresh_vocabulary(total)
            semantic.sync(conn)
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
        with self._errors("updating"), self._transaction() as conn:
            self._sort_indexes_due()
            delta = 0
            written: list[int] = []
            for batch in batches:
                ids = _ids_json(batch.ids)
                written.extend(batch.ids)
                old_experts, removed = self._remove_ids(ids)
                experts: dict[str, Expert] = {}
                for name, profile in old_experts.items():
                    experts[name.casefold()] = profile
                self._insert_batch(batch, experts, merge_existing=True)
                self._stage_words(ids)
                self._save_experts(experts.values())
                delta += len(batch.ids) - removed
            semantic.sync(conn, _ids_json(written))
            if signature is not None:
                self._flush_words()
            self._after_change(delta, refresh=refresh)
            self._set_meta("signature", signature)

    def delete(self, ids: Iterable[int], signature: str) -> None:
        """Remove the entries with these ids (unknown ids are ignored)."""
        with self._errors("deleting"), self._transaction():
            self._sort_indexes_due()
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
        files = self._source_ids(row[-1] for row in batch.rows)
        rows = [(*row[:-1], files[row[-1]]) for row in batch.rows]
        try:
            conn.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        except sqlite3.IntegrityError as exc:
            raise SearchIndexError(f"two entries share one id: {exc}") from exc
        conn.executemany("INSERT OR IGNORE INTO entry_tags VALUES (?, ?)", batch.tags)
        for table, columns, source in (("fts", FTS_COLUMNS, "fts_source"), ("head", HEAD_COLUMNS, "head_source")):
            cols = ", ".join(columns)
            conn.execute(
                f"INSERT INTO {table}(rowid, {cols}) SELECT id, {cols} FROM {source}"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (_ids_json(batch.ids),),
            )
        self._insert_cjk(batch)
        self._count_rows(batch.abbreviations, batch.aliases, 1)

    def _insert_cjk(self, batch: Prepared) -> None:
        """Index the CJK runs of those entries of a batch that have any (kb.search.cjk)."""
        # Rows are laid out as the entries table: title 2, tags 6, question 7, answer 8.
        rows = [
            (row[0], cjk.pairs_text(head), cjk.pairs_text(row[8]))
            for row in batch.rows
            if cjk.has_cjk(head := f"{row[2]}\n{row[6]}\n{row[7]}") or cjk.has_cjk(row[8])
        ]
        if rows:
            self.conn.executemany("INSERT INTO cjk(rowid, head, body) VALUES (?, ?, ?)", rows)

    def _count_vocabulary(self, answers: Iterable[str], sign: int = 1) -> None:
        """Count the abbreviations and aliases these answers define in (``sign`` 1) or out
        (-1) of the index's tables (kb.search.vocabulary)."""
        learned = vocabulary.learn(answers)
        if learned:
            self._count_rows(learned.abbreviation_rows(sign), learned.alias_rows(sign), sign)

    def _count_rows(
        self, abbreviations: list[tuple[str, str, int]], aliases: list[tuple[str, str, str, str, int]], sign: int
    ) -> None:
        """Add these rows' counts (already times ``sign``) to the vocabulary's tables."""
        if not abbreviations and not aliases:
            return
        conn = self.conn
        conn.executemany(
            "INSERT INTO abbreviations VALUES (?, ?, ?) ON CONFLICT(short, long) DO UPDATE SET n = n + excluded.n",
            abbreviations,
        )
        conn.executemany(
            "INSERT INTO aliases VALUES (?, ?, ?, ?, ?) ON CONFLICT(lkey, rkey) DO UPDATE SET n = n + excluded.n",
            aliases,
        )
        if sign < 0:
            conn.execute("DELETE FROM abbreviations WHERE n <= 0")
            conn.execute("DELETE FROM aliases WHERE n <= 0")

    def _source_ids(self, docs: Iterable[str]) -> dict[str, int]:
        """The id in ``sources`` of each source's shared fields (as JSON), added when new.

        Looked up for each batch, inside its transaction: an id remembered longer could
        outlive a rolled-back insert.
        """
        ids = {}
        for doc in set(docs):
            self.conn.execute("INSERT OR IGNORE INTO sources(doc) VALUES (?)", (doc,))
            ids[doc] = self.conn.execute("SELECT id FROM sources WHERE doc = ?", (doc,)).fetchone()[0]
        return ids

    def _stored_expert(self, name: str) -> Expert | None:
        row = self.conn.execute("SELECT profile FROM experts WHERE name = ?", (name,)).fetchone()
        return Expert.from_dict(_loads(row[0])) if row else None

    def _remove_ids(self, ids_json: str) -> tuple[dict[str, Expert], int]:
        """Delete these entries everywhere; return the stored profiles of their experts and
        how many entries there were."""
        conn = self.conn
        # Each stored tag row of these entries, from the tags their data lists: entry_tags
        # is keyed by (tag, id), so deleting by id alone would read the whole table (82 ms
        # a batch at 300k entries, which made a long ingest's indexing quadratic).
        tag_rows = conn.execute(
            "SELECT j.value, e.id FROM entries e, json_each(e.data, '$.tags') j"
            " WHERE e.id IN (SELECT value FROM json_each(?))",
            (ids_json,),
        ).fetchall()
        if (
            not tag_rows
            and not conn.execute(
                "SELECT 1 FROM entries WHERE id IN (SELECT value FROM json_each(?)) LIMIT 1", (ids_json,)
            ).fetchone()
        ):
            return {}, 0  # none of them is indexed (new entries): nothing to take out
        # Counted out at once (after what is staged), so an id staged twice never is.
        self._flush_words()
        self._stage_words(ids_json)
        self._flush_words(-1)
        # An external-content FTS5 table cannot see what it indexed: the old text must be
        # passed back with the 'delete' command, so it is read before the row goes.
        for table, columns, source in (("fts", FTS_COLUMNS, "fts_source"), ("head", HEAD_COLUMNS, "head_source")):
            cols = ", ".join(columns)
            conn.execute(
                f"INSERT INTO {table}({table}, rowid, {cols}) SELECT 'delete', id, {cols} FROM {source}"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (ids_json,),
            )
        conn.execute("DELETE FROM cjk WHERE rowid IN (SELECT value FROM json_each(?))", (ids_json,))
        self._count_vocabulary(
            (
                a
                for (a,) in conn.execute(
                    "SELECT answer FROM entries WHERE id IN (SELECT value FROM json_each(?))", (ids_json,)
                )
            ),
            -1,
        )
        semantic.forget(conn, ids_json)
        names = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT expert FROM entries WHERE expert != '' AND id IN (SELECT value FROM json_each(?))",
                (ids_json,),
            )
        ]
        removed = conn.execute("DELETE FROM entries WHERE id IN (SELECT value FROM json_each(?))", (ids_json,)).rowcount
        conn.executemany("DELETE FROM entry_tags WHERE tag = ? AND id = ?", tag_rows)
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
