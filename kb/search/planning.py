"""Query planning: which words of a question pick the candidates and which only re-score them.

How a natural-language question stays cheap is explained at :meth:`Planner._plan`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from kb.models import Record
from kb.search import aliases, vocabulary
from kb.search import query as _query
from kb.search.base import dumps as _dumps
from kb.search.spelling import SPELL_MAX_DF, Vocabulary, fold

# Query planning (see _plan). The budget of postings the candidate terms may match: below
# it every content word of the question is OR-ed as written; above it the rarest terms
# pick the candidates and the commoner ones only re-score them. Measured with
# bench/search_inprocess.py at 100k entries: ranking costs ~1-3 us per candidate row, so
# 8k postings is ~10 ms. The two rarest terms always pick candidates, so that one odd
# word ("falsely") cannot decide alone which entries are considered.
MIN_CANDIDATE_TERMS = 2
# Scoring-only terms cost a pass over their posting lists (bm25 counts each term's
# documents to get its idf) and a seek per candidate; past this many postings the rest
# are dropped, except the first few, without which "bone marrow" would rank by "marrow"
# alone when "bone" is common.
SCORING_BUDGET = 30_000
MIN_SCORING_TERMS = 3
# A term in more than half of the entries gets idf ~0 from FTS5's bm25 (it clamps the
# negative idf to 1e-6), so it is dropped before the query is built.
COMMON_SHARE = 0.5
# A question longer than this many distinct words (a pasted text) is searched by its most
# informative ones: those it repeats and the index holds rarely (see _informative). Chosen
# on the relevance benchmark (bench/quality.py): its longest real questions have ~60
# distinct content words and lose nothing at 48; fewer cost them.
MAX_QUERY_TERMS = 48
# A query of this many words or fewer first asks for the entries that hold them all (see
# Planner._conjunction); a longer question seldom has any.
MAX_CONJUNCTION_TERMS = 4
# Word families (Planner._siblings): a word of at least FAMILY_MIN_LENGTH letters also
# searches the commonest word of the index that shares all but its last FAMILY_TAIL letters
# and has another stem ("pregnant" -> "pregnancy"), when that sibling names entries (stands
# in their titles and questions) FAMILY_RATIO times as often, per use, as the word does and
# at least FAMILY_MIN_SHARE of its uses: the knowledge base's own name for the thing the
# question says in another form. Only the question's FAMILY_WORDS rarest words are tried.
# A shorter word, of FAMILY_SHORT letters or more, brings only a longer word it begins
# ("treat" -> "treatment", which titles and questions use where answers say "treat"):
# chosen by 5-fold cross-validation from {4, 5, 6, 7} (bench/RESULTS-quality.md).
FAMILY_MIN_LENGTH = 7
FAMILY_SHORT = 5
FAMILY_TAIL = 2
FAMILY_RATIO = 2.0
FAMILY_MIN_SHARE = 0.05
FAMILY_WORDS = 4


class Planned(Record):
    """A term with what the planner knows about it: its document frequency, its stems, and
    whether it is a guess at a word the question did not use (a spelling, a completion of
    an unknown start), searched but not saying what the question is about (kb.search.ranking)."""

    __slots__ = ("term", "df", "stems", "guess")
    term: _query.Term
    df: int
    stems: list[str]
    guess: bool

    def __init__(self, term: _query.Term, df: int, stems: list[str], guess: bool = False) -> None:
        self.term = term
        self.df = df
        self.stems = stems
        self.guess = guess


class Choice(Record):
    """Which terms pick the candidates (all of them required when ``must`` was given, else
    any one) and which only re-score them."""

    __slots__ = ("candidates", "scoring")
    candidates: list[Planned]
    scoring: list[Planned]

    def __init__(self, candidates: list[Planned], scoring: list[Planned]) -> None:
        self.candidates = candidates
        self.scoring = scoring


def choose(
    should: list[Planned],
    must: list[Planned],
    total: int,
    *,
    budget: int,
    min_candidates: int = MIN_CANDIDATE_TERMS,
) -> Choice | None:
    """Steps 1-4 of :meth:`Planner._plan`, on terms with their document frequencies among
    ``total`` entries; None when no entry can match. Pure: the PostgreSQL backend plans
    with it too (kb.postgres.searching)."""
    total = max(total, 1)
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
        candidates = must
        scoring_terms = usable
    else:
        if not usable:
            return None
        candidates = _within(usable, min_candidates, budget)
        scoring_terms = usable[len(candidates) :]
    return Choice(candidates, _within(scoring_terms, MIN_SCORING_TERMS, SCORING_BUDGET))


def conjunction(should: list[Planned], must: list[Planned], asked: int, total: int) -> list[Planned] | None:
    """The terms every entry must hold when a short query is searched by its conjunction
    (see :meth:`Planner._conjunction`), or None. Pure: the PostgreSQL backend uses it too."""
    if must or len(should) != asked or not 2 <= asked <= MAX_CONJUNCTION_TERMS:
        return None
    if any(p.df == 0 or p.term.prefix for p in should):
        return None
    ceiling = max(total, 1) * COMMON_SHARE
    usable = sorted((p for p in should if p.df <= ceiling), key=lambda p: p.df)
    return usable if len(usable) >= 2 else None


def informative(should: list[Planned], total: int) -> list[Planned]:
    """The ``MAX_QUERY_TERMS`` terms of a long text that say most about it, among ``total``
    entries. Pure: the PostgreSQL backend uses it too.

    Each known term weighs its idf times a damped count of its uses in the text
    (1 + ln n), so a text's recurring subject outweighs a rare word said once.
    """
    total = max(total, 1)

    def weight(p: Planned) -> float:
        idf = math.log((total - p.df + 0.5) / (p.df + 0.5))
        return idf * (1.0 + math.log(p.term.count))

    known = [p for p in should if 0 < p.df <= total * COMMON_SHARE]
    known.sort(key=weight, reverse=True)
    return known[:MAX_QUERY_TERMS]


def family_tries(should: list[Planned]) -> list[tuple[Planned, str, str]]:
    """The question's words whose families are tried (FAMILY_*): the FAMILY_WORDS rarest
    single words of FAMILY_SHORT letters or more, each with its folded form and the start
    its siblings share. Pure: the PostgreSQL backend uses it too."""
    words = [
        p
        for p in should
        if not (p.term.is_phrase or p.term.prefix)
        and p.df > 0
        and len(p.term.words[0]) >= FAMILY_SHORT
        and p.term.words[0].isalpha()
    ]
    out = []
    for item in sorted(words, key=lambda p: p.df)[:FAMILY_WORDS]:
        word = fold(item.term.words[0])
        out.append((item, word, word[: len(word) - FAMILY_TAIL] if len(word) >= FAMILY_MIN_LENGTH else word))
    return out


def family_pick(
    item: Planned,
    word: str,
    rows: Iterable[tuple[str, int]],
    known: set[str],
    same_stem: Callable[[str], bool],
    heads_naming: Callable[[str], int],
) -> str | None:
    """The sibling of a tried word (family_tries) among ``rows``, the commonest words of
    the index sharing its start (word, df; the word itself left out), or None: the first
    that is new, a word, at least as common, of another stem (``same_stem``), and that
    names entries (``heads_naming``: how many heads hold a word) far more often per use
    than the word does. Pure: the PostgreSQL backend uses it too."""
    for sibling, df in rows:
        if sibling in known or df < item.df or not sibling.isalpha():
            continue
        if same_stem(sibling):
            continue  # the index already folds them (one stem)
        share = heads_naming(sibling) / max(df, 1)
        if share < FAMILY_MIN_SHARE or share < FAMILY_RATIO * heads_naming(word) / item.df:
            continue
        return sibling
    return None


def _within(items: list[Planned], at_least: int, budget: int) -> list[Planned]:
    """The first items whose postings fit the budget, and never fewer than ``at_least``."""
    kept: list[Planned] = []
    postings = 0
    for item in items:
        if len(kept) >= at_least and postings + item.df > budget:
            break
        kept.append(item)
        postings += item.df
    return kept


class Planner(Vocabulary):
    """Tokenize a query as the index does, weigh its words, and build the MATCH expression."""

    def _prefix_df(self, stem_prefix: str) -> int:
        row = self.conn.execute(
            "SELECT coalesce(sum(df), 0) FROM (SELECT df FROM terms WHERE term >= ? AND term < ? LIMIT 5000)",
            (stem_prefix, stem_prefix + "\U0010ffff"),
        ).fetchone()
        return int(row[0])

    def _analyse(self, parsed: _query.ParsedQuery) -> tuple[list[Planned], list[Planned], list[str]]:
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
                df = self._prefix_df(fold(term.words[0]))
            else:
                df = min((freqs.get(s, 0) for s in group), default=0)
            planned.append(Planned(term, df, group))
        should = planned[: len(parsed.should)]
        must = planned[len(parsed.should) :]
        suggestions: list[str] = []
        if len(should) > MAX_QUERY_TERMS:
            # A pasted text: its words unknown to the index are not typos worth a guess.
            return self._informative(should), must, suggestions
        extra: list[_query.Term] = []
        guesses: set[str] = set()
        known = {fold(w) for t in terms for w in t.words}
        for item in planned:
            if item.term.prefix or item.df > SPELL_MAX_DF:
                continue
            word = fold(item.term.words[0])
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
                        guesses.add(completion)
                        extra.append(_query.Term([completion], text=completion))
            # A phrase's df is its rarest word's: each word is judged by its own, so that
            # "heart" in "heart atack" is never corrected because "atack" is unknown.
            word_dfs = [freqs.get(s, 0) for s in item.stems] if len(item.stems) == len(item.term.words) else []
            for k, word in enumerate(item.term.words):
                folded = fold(word)
                if len(folded) < 4 or not folded.isalpha():
                    continue
                df = word_dfs[k] if word_dfs else item.df
                if df > SPELL_MAX_DF:
                    continue
                stem = item.stems[k] if len(item.stems) == len(item.term.words) else None
                best = self._suggest(folded, min_df=df * 10 if df else 0, limit=2, stem=stem)
                for suggestion, _ in best:
                    if suggestion not in suggestions and suggestion not in known:
                        suggestions.append(suggestion)
                        if not item.term.is_phrase and item in should:
                            guesses.add(suggestion)
                            extra.append(_query.Term([suggestion], text=suggestion))
        extra.extend(self._expansions(should, known))
        extra.extend(self._siblings(should, known))
        if extra:
            extra_stems = self._stems([" ".join(t.words) for t in extra])
            freqs = self._doc_freqs({s for group in extra_stems for s in group})
            for term, group in zip(extra, extra_stems):
                df = min((freqs.get(s, 0) for s in group), default=0)
                should.append(Planned(term, df, group, guess=term.text in guesses))
        return should, must, suggestions

    def _expansions(self, should: list[Planned], known: set[str]) -> list[_query.Term]:
        """The other sides of the abbreviations and aliases the entries define that the
        question says (kb.search.vocabulary.expansions)."""
        return vocabulary.expansions([p.term for p in should], known, self)

    def definitions(self, shorts: list[str], keys: list[str]) -> tuple[list[tuple[str, str]], list[aliases.Alias]]:
        """The abbreviations and aliases kb.search.vocabulary.expansions looks up."""
        long_forms = self.conn.execute(
            "SELECT short, long FROM abbreviations WHERE short IN (SELECT value FROM json_each(?)) AND n >= ?"
            " ORDER BY n DESC, long",
            (_dumps(shorts).decode(), vocabulary.MIN_DEFINITIONS),
        ).fetchall()
        rows = self.conn.execute(
            "WITH k(key) AS (SELECT value FROM json_each(?))"
            " SELECT lkey, rkey, ltext, rtext, n FROM aliases WHERE rkey IN"
            " (SELECT key FROM k UNION SELECT rkey FROM aliases WHERE lkey IN (SELECT key FROM k))",
            (_dumps(keys).decode(),),
        ).fetchall()
        return [(short, long) for short, long in long_forms], [aliases.Alias(*row) for row in rows]

    def heads_naming(self, text: str) -> int:
        return self._heads_naming(text)

    def texts_using(self, word: str, most: int) -> list[str]:
        rows = self.conn.execute(
            "SELECT title, question, answer FROM entries WHERE id IN (SELECT rowid FROM fts WHERE fts MATCH ? LIMIT ?)",
            (_query.Term([word]).fts(), most),
        ).fetchall()
        return [text for row in rows for text in row]

    def _siblings(self, should: list[Planned], known: set[str]) -> list[_query.Term]:
        """The knowledge base's form of the question's words where it names entries by
        another: "pregnant" also searches "pregnancy" (see FAMILY_*).

        Learned from the index for any knowledge base: a sibling must share the word's
        start, have a stem of its own, and stand in entries' heads (title, question, tags)
        far more often per use than the word, so "diagnosed" (in "How to diagnose ...")
        does not bring in "diagnosis", which answers use more than heads.
        """
        out: list[_query.Term] = []
        for item, word, start in family_tries(should):
            heads = [
                w
                for (w,) in self.conn.execute(
                    "SELECT word FROM words WHERE word > ? AND word < ? AND word != ? ORDER BY df DESC LIMIT 3",
                    (start, start + "\U0010ffff", word),
                )
            ]
            # ``words`` counts the heads only: a sibling's uses in the whole text are its stem's.
            rows = list(zip(heads, self._doc_freqs_of(heads), strict=True))
            sibling = family_pick(
                item, word, rows, known, lambda w: self._stems([w])[0] == item.stems, self._heads_naming
            )
            if sibling is not None:
                known.add(sibling)
                out.append(_query.Term([sibling], text=sibling))
        return out

    def _heads_naming(self, text: str, most: int = 1000) -> int:
        """How many entries' heads (title, question, tags) hold this phrase, up to ``most``."""
        phrase = _query.Term(text.split()).fts()
        return int(
            self.conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM head WHERE head MATCH ? LIMIT ?)", (phrase, most)
            ).fetchone()[0]
        )

    def _informative(self, should: list[Planned]) -> list[Planned]:
        """The ``MAX_QUERY_TERMS`` terms of a long text that say most about it (informative)."""
        return informative(should, self.count())

    def _analyse_plain(self, parsed: _query.ParsedQuery) -> list[Planned]:
        """Attach document frequencies to the single-word terms, without spelling fixes."""
        words = [t for t in parsed.should if not t.is_phrase][:200]
        stems = self._stems([t.words[0] for t in words])
        freqs = self._doc_freqs({s for group in stems for s in group})
        return [Planned(t, min((freqs.get(s, 0) for s in g), default=0), g) for t, g in zip(words, stems)]

    def _conjunction(self, should: list[Planned], must: list[Planned], asked: int) -> str | None:
        """The MATCH of the entries holding every word of a short query, or None.

        A query of a few words ("bone marrow") whose words are all common matches a large
        share of the index with OR, and bm25 scores every match (at 1M entries, 114k rows
        for "bone marrow", against 21k holding both words). When the entries holding all
        the words are enough to fill the lists a search reads, the ranking would put them
        first anyway: the caller then searches them alone. ``asked`` is the number of
        terms the person typed; spelling guesses appended after them rule this out, as
        do required terms and words the index does not hold.
        """
        usable = conjunction(should, must, asked, self.count())
        return None if usable is None else " AND ".join(p.term.fts() for p in usable)

    def _plan(
        self,
        should: list[Planned],
        must: list[Planned],
        min_candidates: int = MIN_CANDIDATE_TERMS,
        budget: int | None = None,
    ) -> str | None:
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
        ``budget`` defaults to the index's ``candidate_budget``.
        """
        budget = self.candidate_budget if budget is None else budget
        chosen = choose(should, must, self.count(), budget=budget, min_candidates=min_candidates)
        if chosen is None:
            return None
        candidates = (" AND " if must else " OR ").join(p.term.fts() for p in chosen.candidates)
        scoring = [p.term.fts() for p in chosen.scoring]
        expr = f"({candidates})"
        if scoring:
            others = " OR ".join(scoring)
            expr = f"(({candidates}) AND ({others})) OR (({candidates}) NOT ({others}))"
        return expr
