"""Turning a parsed query (kb.search.query) into PostgreSQL ``tsquery`` text, and choosing
which of its words pick the candidates: pure functions, no database.

The terms come from kb.search.query, so both backends read a query alike: phrases,
``-exclusions``, ``prefix*``, ``title:`` and ``field:value`` filters. A term's words are
letters and digits only (the parser splits on everything else), so they can be written
into tsquery text without quoting; PostgreSQL stems them with the same configuration as
the entries (``to_tsquery('english', ...)``).

Planning follows the files backend (kb.search.planning): an OR over every word of a long
question matches nearly every entry, and each match costs a rank. So words in more than
half of the entries are dropped, the rarest words (within a budget of postings, at least
two) pick the candidates, and the others only add to the candidates' scores. Each word's
score is weighted by its BM25 idf, which ``ts_rank`` alone lacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kb.search.query import Term

# Postings the candidate words may match before the commoner ones only re-score them.
CANDIDATE_BUDGET = 8_000
MIN_CANDIDATE_TERMS = 2
# Words that re-score: at most this many (each costs a rank per candidate).
MAX_SCORING_TERMS = 24
COMMON_SHARE = 0.5


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


@dataclass
class Planned:
    """A term with its document frequency."""

    term: Term
    df: int


@dataclass
class Plan:
    """What to run: the tsquery that picks candidates, and the scoring terms with weights."""

    match: str
    scoring: list[tuple[str, float]]


def idf(df: int, total: int) -> float:
    """BM25's inverse document frequency (never below a small positive floor)."""
    return max(math.log(1 + (total - df + 0.5) / (df + 0.5)), 1e-6)


def plan(
    should: list[Planned],
    must: list[Planned],
    exclude: list[Term],
    total: int,
    *,
    budget: int = CANDIDATE_BUDGET,
    min_candidates: int = MIN_CANDIDATE_TERMS,
) -> Plan | None:
    """Choose candidates and scoring terms; None when no entry can match.

    Required terms (quoted phrases, ``title:``) are the candidates when there are any.
    """
    total = max(total, 1)
    ceiling = total * COMMON_SHARE if total >= 1000 else total
    usable = sorted((p for p in should if 0 < p.df <= ceiling), key=lambda p: p.df)
    if not usable and should and not must:
        usable = sorted((p for p in should if p.df > 0), key=lambda p: p.df)[:2]
    if must:
        if any(p.df == 0 for p in must):
            return None
        match = all_of([p.term for p in must])
        rest = usable
    else:
        if not usable:
            return None
        chosen: list[Planned] = []
        postings = 0
        for item in usable:
            if len(chosen) >= min_candidates and postings + item.df > budget:
                break
            chosen.append(item)
            postings += item.df
        match = any_of([p.term for p in chosen])
        rest = usable
    if exclude:
        match = f"({match}) & !({any_of(exclude)})"
    scoring = [(tsquery(p.term), idf(p.df, total)) for p in (must + rest)[:MAX_SCORING_TERMS]]
    return Plan(match, scoring)
