"""Turning a parsed query (kb.search.query) into what the PostgreSQL backend runs: pure
functions, no database.

The terms come from kb.search.query, so both backends read a query alike: phrases,
``-exclusions``, ``prefix*``, ``title:`` and ``field:value`` filters. Which words pick the
candidates and which only re-score them is the files backend's own choice
(kb.search.planning.choose). Words are scored by BM25 over the postings
(kb.postgres.postings) with FTS5's idf, k1 and b, so that a word weighs what it weighs in
the files backend. Required terms and exclusions are matched by the entries' ``tsvector``s
(phrases need positions): a term's words are letters and digits only (the parser splits on
everything else), so they are written into tsquery text without quoting.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from kb.search.planning import Planned, choose
from kb.search.query import Term

# As FTS5's bm25(): a word's saturation and the weight of the entry's length.
K1 = 1.2
B = 0.75


def tsquery(term: Term) -> str:
    """A term as tsquery text: a word, ``a <-> b`` for a phrase, ``:*`` for a prefix,
    ``:A`` (the title's weight) for ``title:``."""
    label = "A" if term.column == "title" else ""
    star = "*" if term.prefix else ""
    suffix = f":{star}{label}" if star or label else ""
    words = [w.lower() + suffix for w in term.words]
    return words[0] if len(words) == 1 else "(" + " <-> ".join(words) + ")"


def any_of(terms: list[Term]) -> str:
    return " | ".join(tsquery(t) for t in terms)


def all_of(terms: list[Term]) -> str:
    return " & ".join(tsquery(t) for t in terms)


def idf(df: int, total: int) -> float:
    """FTS5's inverse document frequency (a floor of 1e-6 for words in most entries)."""
    value = math.log((total - df + 0.5) / (df + 0.5)) if df < total else 0.0
    return value if value > 0 else 1e-6


@dataclass
class Plan:
    """What to run.

    ``required`` is the tsquery every candidate matches (the query's quoted phrases and
    ``title:`` terms), or None when any candidate stem will do; the stems score with their
    idf over the whole entry and over the head, and ``candidate`` marks the ones that pick
    the entries (the required terms' stems, when there are required terms). As in FTS5's
    head table, an entry's head scores only when it holds a candidate.
    """

    required: str | None
    stems: list[str]
    whole_idf: list[float]
    head_idf: list[float]
    candidate: list[bool]


def plan(
    should: list[Planned],
    must: list[Planned],
    frequencies: dict[str, tuple[int, int]],
    total: int,
    *,
    budget: int,
    min_candidates: int = 2,
) -> Plan | None:
    """Choose candidates and scoring stems (``frequencies``: a stem's df in the entries and
    in their heads); None when no entry can match."""
    chosen = choose(should, must, total, budget=budget, min_candidates=min_candidates)
    if chosen is None:
        return None
    scores: dict[str, bool] = {}
    # FTS5 scores each term of a MATCH on its own, so a stem that two of the question's
    # words share ("dehydration", "dehydrated") counts twice there: it weighs its idf times
    # the number of single words holding it here. (A phrase's stems score apart, as the
    # postings know no positions, and once: FTS5 scores only the phrase's rarer hits.)
    times: Counter[str] = Counter()
    for item in chosen.candidates + chosen.scoring:
        for stem in item.stems:
            scores[stem] = scores.get(stem, False) or item in chosen.candidates
        if len(item.stems) == 1 and not item.term.prefix:
            times[item.stems[0]] += 1
    stems = list(scores)
    return Plan(
        required=all_of([p.term for p in must]) if must else None,
        stems=stems,
        whole_idf=[max(times[s], 1) * idf(frequencies.get(s, (0, 0))[0], total) for s in stems],
        head_idf=[max(times[s], 1) * idf(frequencies.get(s, (0, 0))[1], total) for s in stems],
        candidate=[scores[s] for s in stems],
    )
