"""Spelling: the vocabulary of plain words kept current by every write, and "did you mean".

The ``words`` table holds the unstemmed words of the entries' heads (titles, questions and
tags: the words that name topics) with the number of entries whose head holds each (the
FTS vocabulary holds porter stems, which are not words to suggest); ``terms`` is the
stems' snapshot of the whole text the planner reads. A word only the answers hold is
still suggested: it is found among the stems, and its written form read back from the
entries that hold it (see ``_written_near``).
"""

from __future__ import annotations

import re

from kb.search.base import IndexBase
from kb.search.schema import FTS_COLUMNS, TOKENIZE, WORD, fold

# A word found in at most this many entries is checked for a likelier spelling.
SPELL_MAX_DF = 2
# A misspelt word's stem is compared with the stems of the whole text; the closest few
# are read back as the words entries write for them, from their first few entries.
WRITTEN_STEMS = 4
WRITTEN_INSTANCES = 8
# ... and a spelling one edit from the typed word is looked for in this many of the
# entries holding its stem.
WRITTEN_ENTRIES = 20


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

        The entries' heads (title, question, tags) without stemming, detail=none (no
        positions) because only its vocabulary is wanted; it lives in the temp schema, and
        reads the text through a temp view because FTS5 looks for an external content
        table in the schema of the FTS table itself. Not the answers: tokenising them a
        second time (beside the stemmed ``fts``) was a fifth of an ingest's indexing, and
        their words are found among the stems when a spelling needs them.
        """
        if self._counter_ready:
            return
        conn = self.conn
        conn.execute(
            "CREATE TEMP VIEW IF NOT EXISTS kb_words_source AS SELECT id, title, question, tags FROM main.entries"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_words USING fts5(title, question, tags,"
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
            "INSERT INTO temp.kb_words(rowid, title, question, tags) SELECT id, title, question, tags"
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

    def _ensure_tokenizer(self) -> None:
        """Create a scratch FTS5 table whose only job is to tokenize text like the index.

        FTS5 offers no "tokenize this string" function; inserting the text into a temp
        table with the same tokenizer and reading its 'instance' vocabulary yields exactly
        the stems the index holds, so the planner can look up their frequencies. The main
        index's own 'instance' vocabulary (``kb_fts_instances``) says where an entry holds a
        stem, for spellings (``_written_forms``).
        """
        if self._tokenizer_ready:
            return
        conn = self.conn
        conn.execute("DROP TABLE IF EXISTS temp.kb_tok_vocab")
        conn.execute("DROP TABLE IF EXISTS temp.kb_tok")
        conn.execute(f"CREATE VIRTUAL TABLE temp.kb_tok USING fts5(t, tokenize='{TOKENIZE}')")
        conn.execute("CREATE VIRTUAL TABLE temp.kb_tok_vocab USING fts5vocab(temp, kb_tok, 'instance')")
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_fts_instances USING fts5vocab(main, fts, 'instance')")
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

    def vocabulary_suggest(self, term: str, limit: int = 3) -> list[str]:
        """Return the indexed words closest in spelling to ``term``, most likely first."""
        with self._errors("suggesting spellings"):
            word = fold(term.strip())
            stems = self._stems([word])[0] if len(word) >= 4 else []
            found = self._suggest(word, min_df=0, limit=limit, stem=stems[0] if len(stems) == 1 else None)
            return [w for w, _ in found if w != word]

    def _suggest(self, word: str, *, min_df: int, limit: int, stem: str | None = None) -> list[tuple[str, int]]:
        """Return up to ``limit`` (word, df) close in spelling to ``word`` and found in more
        than ``min_df`` entries, fewest edits first, then commonest.

        Candidates share the first letter (people seldom mistype it) and are within a few
        letters in length, which keeps the set small enough to score on every query. They
        are the words of the entries' heads (``words``) and, given the word's own ``stem``,
        the words the whole text writes for the stems close to it (answers included); each
        counts the entries that hold its stem.
        """
        if len(word) < 4:
            return []
        edits = _max_edits(word)
        found = {
            w
            for (w,) in self.conn.execute(
                "SELECT word FROM words WHERE head = ? AND len BETWEEN ? AND ?",
                (word[0], len(word) - edits, len(word) + edits),
            )
        }
        if stem:
            # A stem may be further from another than its words are ("seized" and
            # "sized": seiz, size): one edit more, the written words then judged as words.
            found.update(self._written_near(stem, edits + 1, word))
        near = [w for w, _ in _closest(word, [(w, 0) for w in found], edits, best_only=False)]
        if not near:
            return []
        rows = [(w, df) for w, df in zip(near, self._doc_freqs_of(near), strict=True) if df > min_df]
        return _closest(word, rows, edits)[:limit]

    def _doc_freqs(self, stems: set[str]) -> dict[str, int]:
        """The number of entries holding each stem: the snapshot (``terms``), or FTS5 itself
        for a stem added since the last refresh."""
        conn = self.conn
        found = dict(
            conn.execute(
                "SELECT term, df FROM terms WHERE term IN (SELECT value FROM json_each(?))",
                (_json_list(sorted(stems)),),
            )
        )
        for stem in stems - found.keys():
            # Not in the snapshot (added since the last refresh): ask FTS5 directly.
            row = conn.execute("SELECT doc FROM fts_vocab WHERE term = ?", (stem,)).fetchone()
            found[stem] = row[0] if row else 0
        return found

    def _doc_freqs_of(self, words: list[str]) -> list[int]:
        """The number of entries holding each word's stem (0 for a word of several tokens)."""
        stems = self._stems(words)
        known = self._doc_freqs({g[0] for g in stems if len(g) == 1})
        return [known[g[0]] if len(g) == 1 else 0 for g in stems]

    def _written_near(self, stem: str, edits: int, typed: str = "") -> set[str]:
        """The words entries write for the stems of the whole text close in spelling to
        ``stem``: the stems' snapshot (``terms``) gives the candidates, the live index the
        words (a stem whose entries have gone since the snapshot gives none). The words
        read at a stem's first places may not be the form the ``typed`` word misspells
        ("run", "runs" for "runing"): its spellings one edit away that have one of those
        stems are kept too, where an entry holding the stem writes them (_written_edits)."""
        rows = self.conn.execute(
            "SELECT term, df FROM terms WHERE term >= ? AND term < ? AND length(term) BETWEEN ? AND ?"
            " AND term NOT GLOB '*[0-9]*'",
            (stem[0], stem[0] + "\U0010ffff", len(stem) - edits, len(stem) + edits),
        ).fetchall()
        wanted: dict[str, set[str]] = {}  # a written word: the stems it was read for
        close = [candidate for candidate, _ in _closest(stem, rows, edits, best_only=False)[:WRITTEN_STEMS]]
        for candidate in close:
            for word in self._written_forms(candidate):
                wanted.setdefault(word, set()).add(candidate)
        for word, candidate in self._written_edits(typed, set(close), set(wanted)):
            wanted.setdefault(word, set()).add(candidate)
        # The regex splits as unicode61 does in all but rare scripts: a word that does not
        # stem back to its stem was not the one the index counted.
        words = sorted(wanted)
        return {w for w, g in zip(words, self._stems(words)) if len(g) == 1 and g[0] in wanted[w]}

    def _written_edits(self, typed: str, stems: set[str], known: set[str]) -> list[tuple[str, str]]:
        """(word, stem): the spellings one edit away from ``typed`` (letters only) whose
        stem is one of ``stems`` and that an entry holding the stem writes as a word."""
        if not stems or not typed.isascii() or not typed.isalpha():
            return []
        variants = sorted(_one_edit(typed) - known - {typed})
        # One text for all: FTS5's cost is per row, and each variant is one token.
        stemmed = self._stems([" ".join(variants)])[0]
        if len(stemmed) != len(variants):
            return []
        out = []
        for variant, variant_stem in zip(variants, stemmed):
            if variant_stem not in stems:
                continue
            pattern = re.compile(rf"\b{variant}\b", re.IGNORECASE)
            # The entries are found by the stem itself (a MATCH would stem it once more).
            rows = self.conn.execute(
                "SELECT title, question, answer FROM entries WHERE id IN"
                " (SELECT DISTINCT doc FROM temp.kb_fts_instances WHERE term = ? LIMIT ?)",
                (variant_stem, WRITTEN_ENTRIES),
            ).fetchall()
            if any(pattern.search(text) for row in rows for text in row if text):
                out.append((variant, variant_stem))
        return out

    def _written_forms(self, stem: str) -> set[str]:
        """The words (folded) the first few entries holding this stem write at its places."""
        self._ensure_tokenizer()
        conn = self.conn
        places: dict[tuple[int, str], list[int]] = {}
        for doc, column, offset in conn.execute(
            "SELECT doc, col, offset FROM temp.kb_fts_instances WHERE term = ? LIMIT ?", (stem, WRITTEN_INSTANCES)
        ).fetchall():
            if column in FTS_COLUMNS:
                places.setdefault((doc, column), []).append(offset)
        forms: set[str] = set()
        for (doc, column), offsets in places.items():
            row = conn.execute(f"SELECT {column} FROM entries WHERE id = ?", (doc,)).fetchone()
            if not row or not row[0]:
                continue
            # Split only as far as the last place: a stem's first places are often early
            # in a long answer.
            wanted = set(offsets)
            for index, found in enumerate(WORD.finditer(row[0])):
                if index in wanted:
                    forms.add(fold(found.group()))
                    wanted.discard(index)
                    if not wanted:
                        break
        return forms


def _one_edit(word: str) -> set[str]:
    """Every string of small letters one deletion, swap, change or insertion from ``word``."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    out |= {a + c + b for a, b in splits for c in letters}
    return out


def _max_edits(word: str) -> int:
    """The edits a spelling may be away from ``word``: more for longer words."""
    return 1 if len(word) <= 5 else 2 if len(word) <= 9 else 3


def _json_list(values: list[str]) -> str:
    import orjson

    return orjson.dumps(values).decode()


def _closest(
    word: str, rows: list[tuple[str, int]], max_edits: int, *, best_only: bool = True
) -> list[tuple[str, int]]:
    """The (candidate, df) of ``rows`` fewest edits away from ``word`` (a swap is one edit),
    other than ``word`` itself and within ``max_edits``, commonest first; with
    ``best_only``, only those at the fewest edits found."""
    if not rows:
        return []
    from rapidfuzz.distance import OSA  # edit distance that counts a swap as one edit

    scored = []
    for candidate, df in rows:
        distance = OSA.distance(word, candidate, score_cutoff=max_edits)
        if distance <= max_edits and candidate != word:
            scored.append((distance, -df, candidate))
    if not scored:
        return []
    scored.sort()
    best = scored[0][0] if best_only else max_edits
    return [(c, -d) for dist, d, c in scored if dist <= best]
