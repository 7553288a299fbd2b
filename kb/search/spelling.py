"""Spelling: the vocabulary of plain words kept current by every write, and "did you mean".

The ``words`` table holds unstemmed words with their document frequencies (the FTS
vocabulary holds porter stems, which are not words to suggest); ``terms`` is the stems'
snapshot the planner reads.
"""

from __future__ import annotations

from kb.search.base import IndexBase
from kb.search.schema import fold

# A word found in at most this many entries is checked for a likelier spelling.
SPELL_MAX_DF = 2


def did_you_mean(value: str, known: list[str]) -> str | None:
    if not known:
        return None
    from rapidfuzz import fuzz, process

    matches = process.extract(value, known, scorer=fuzz.WRatio, processor=str.casefold, limit=3, score_cutoff=60)
    if not matches:
        return None
    return "did you mean " + " or ".join(repr(m[0]) for m in matches) + "?"


class Vocabulary(IndexBase):
    """The word tables: refreshed after writes, asked for spellings."""

    def refresh_vocabulary(self) -> None:
        """Bring the word-frequency tables up to date if the index has changed enough."""
        with self._errors("refreshing the vocabulary"), self._transaction():
            self._flush_words()
            self._after_change(0)

    def _after_change(self, delta: int, refresh: bool = True) -> None:
        """Record the new entry count (the old one plus ``delta``: counting the table would
        cost 16 ms a batch at 1M entries) and refresh the vocabulary when it is due."""
        known = self._meta("count")
        count = (
            int(known) + delta if known is not None else self.conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        )
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
            "CREATE TEMP VIEW IF NOT EXISTS kb_words_source AS SELECT id, title, question, answer FROM main.entries"
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

    def vocabulary_suggest(self, term: str, limit: int = 3) -> list[str]:
        """Return the indexed words closest in spelling to ``term``, most likely first."""
        with self._errors("suggesting spellings"):
            word = fold(term.strip())
            return [w for w, _ in self._suggest(word, min_df=0, limit=limit) if w != word]

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
