"""Ranking a search by two kinds of evidence: what an entry is about, and all it says.

A search scores its candidates twice with BM25: over the whole entry (the ``fts`` table:
title, question, answer, names, tags) and over its head alone (the ``head`` table: title,
question, tags). The head says what an entry is about and what kind of thing it asks ("How
is Noonan syndrome treated?"); the answer mentions many things in passing. In one table
FTS5 normalises a term's weight by the length of the whole row, so a long answer outvotes
a short question; in the head table the question and the title are judged on their own.

Each score is divided by the best of its kind among the candidates, so both lie in 0..1
whatever the size of the knowledge base or the length of the question, and the head
counts twice the whole. Measured on the relevance benchmark (bench/quality.py): see
bench/RESULTS-quality.md for the table and the ablation.

A second stage then re-orders the best candidates (second_stage): the share of the
question's topic words each head holds (add_topic), what each entry's question asks beyond
its topic that the question does not (add_kind) and, for an index that keeps entry
vectors (kb.search.semantic, an option), the question's cosine with each entry
(add_meaning), taken only where the words leave the topic open (meaning_weight).

Pure functions: no SQL here; kb.search.ranking runs the queries, and another backend can
call second_stage on its own candidates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.search.results import Hit

# How much the head's evidence weighs against the whole entry's.
HEAD_WEIGHT = 2.0
# `kb ask` lists other answers only when they score at least this share of the best one's.
# A fused score is at most 1 + HEAD_WEIGHT; an entry that shares only a common word or two
# with the question scores a small fraction of the best one, an entry on the same topic
# that asks the same thing nearly as much.
OTHERS_SHARE = 0.5
# The second stage: how much the share of a question's rare words that an entry's head
# holds adds to its fused score, and how many of the best fused entries it re-orders.
# Each word weighs its idf squared, so the words that name a topic ("parkinson") outweigh
# generic ones that happen to fill a short title ("older adults"). The weight was chosen
# by 5-fold cross-validation on the relevance benchmark (bench/RESULTS-quality.md): 2 until
# the kind stage (KIND_WEIGHT) joined, then 1.5, the choice of all five folds with it.
TOPIC_WEIGHT = 1.5
TOPIC_WINDOW = 50
# The meaning of the question (kb.search.semantic, an option): how much the cosine of the
# question's and an entry's vectors adds to the best TOPIC_WINDOW candidates' scores, and
# when: only while no candidate's head holds SEMANTIC_BELOW of the question's topic words
# (add_topic's coverage), that is while the question's own words leave its topic open.
# Added always, the cosine put a better answer first more often (MRR>=3 +0.010, avgScore
# +0.04 on the relevance benchmark) but blurred the order below it (MAP>=2 -0.011).
# Chosen by 5-fold cross-validation (bench/RESULTS-quality.md); on that benchmark's
# held-out folds it is neutral: its questions mostly use the corpus's own words.
SEMANTIC_WEIGHT = 0.5
SEMANTIC_BELOW = 0.9
# ... and, when the words' first answer is far from the question in meaning, the entries
# nearer to it than that answer by more than NEIGHBOUR_MARGIN gain NEIGHBOUR_WEIGHT times
# their cosine's share of the nearest one's: the words then missed the topic, as when a
# person says "afib" or "ringing in my ears" and the knowledge base "atrial fibrillation"
# and "tinnitus" (a chromosome ring matched "ringing"). The NEIGHBOURS entries nearest the
# question over the whole index (kb.search.semantic.nearest) join the candidates for this,
# a third list beside the whole entry's and the head's. Chosen by 5-fold cross-validation
# (bench/RESULTS-quality.md).
NEIGHBOURS = 10
NEIGHBOUR_WEIGHT = 0.0
NEIGHBOUR_MARGIN = 0.1
# The kind of thing an entry asks: the words its question adds to its title ("causes" in
# "Stroke | What causes Stroke ?", "inherited" in "Is Stargardt macular degeneration
# inherited ?"), stop words aside (kb.search.ranking._kinds). A candidate loses KIND_WEIGHT
# times the share of those words the question does not hold: among entries on one topic,
# the one that asks what the person asks comes first, and one that asks something the
# person did not ("... inherited ?" for "what does that mean") goes below those that ask
# nothing more than the topic. Chosen by 5-fold cross-validation (bench/RESULTS-quality.md).
KIND_WEIGHT = 1.0
# How many of each table's best candidates are fused (at least a page's worth more).
CANDIDATES = 100
# Each table's scores are read this many times deeper than the candidates it gives, so
# that most candidates' other score is known exactly (see kb.search.ranking).
SCORE_DEPTH = 8


def fuse(whole: Mapping[int, float], head: Mapping[int, float]) -> list[tuple[int, float]]:
    """Combine the two scores of each candidate; return (id, score), best first.

    Only entries with a ``whole`` score are candidates (the head matches a subset of the
    same columns, so any entry it finds matches the whole entry too; an entry found by the
    head but excluded by the query's ``-words`` has no whole score and is left out).
    Ties keep the lower id first, so pages are stable.
    """
    top_whole = max(whole.values(), default=0.0) or 1.0
    top_head = max(head.values(), default=0.0) or 1.0
    fused = [
        (entry_id, score / top_whole + HEAD_WEIGHT * head.get(entry_id, 0.0) / top_head)
        for entry_id, score in whole.items()
    ]
    fused.sort(key=lambda item: (-item[1], item[0]))
    return fused


def add_topic(fused: list[tuple[int, float]], coverage: Mapping[int, float]) -> list[tuple[int, float]]:
    """Add each candidate's topic coverage (0..1, see kb.search.ranking) times TOPIC_WEIGHT
    to its fused score; return the list re-sorted, best first."""
    if not coverage:
        return fused
    out = [(i, score + TOPIC_WEIGHT * coverage.get(i, 0.0)) for i, score in fused]
    out.sort(key=lambda item: (-item[1], item[0]))
    return out


def add_kind(fused: list[tuple[int, float]], unasked: Mapping[int, float]) -> list[tuple[int, float]]:
    """Take KIND_WEIGHT times each candidate's share of unasked kind words (0..1, see
    kb.search.ranking) from its score; return the list re-sorted, best first."""
    if not unasked or not KIND_WEIGHT:
        return fused
    out = [(i, score - KIND_WEIGHT * unasked.get(i, 0.0)) for i, score in fused]
    out.sort(key=lambda item: (-item[1], item[0]))
    return out


def meaning_weight(coverage: Mapping[int, float]) -> float:
    """How much the question's cosine with an entry counts, given the candidates' topic
    coverage (add_topic): SEMANTIC_WEIGHT while the best is below SEMANTIC_BELOW, else 0."""
    return SEMANTIC_WEIGHT if max(coverage.values(), default=0.0) < SEMANTIC_BELOW else 0.0


def add_meaning(
    fused: list[tuple[int, float]], similarity: Mapping[int, float], weight: float
) -> list[tuple[int, float]]:
    """Add ``weight`` times each candidate's cosine with the question (kb.search.semantic)
    to its score; return the list re-sorted, best first. Candidates without a cosine keep
    their score."""
    if not similarity or not weight:
        return fused
    out = [(i, score + weight * similarity.get(i, 0.0)) for i, score in fused]
    out.sort(key=lambda item: (-item[1], item[0]))
    return out


def add_neighbours(fused: list[tuple[int, float]], similarity: Mapping[int, float]) -> list[tuple[int, float]]:
    """Give the entries that are nearer the question in meaning (``similarity``, id ->
    cosine: the candidates' and the nearest entries') than the first candidate by more than
    NEIGHBOUR_MARGIN, NEIGHBOUR_WEIGHT times their cosine over the best one's; an entry
    that is not a candidate yet joins. Return the list re-sorted, best first."""
    top = max(similarity.values(), default=0.0)
    bar = (similarity.get(fused[0][0], 0.0) if fused else 0.0) + NEIGHBOUR_MARGIN
    if top <= bar or not NEIGHBOUR_WEIGHT:
        return fused
    gain = {i: NEIGHBOUR_WEIGHT * c / top for i, c in similarity.items() if c > bar}
    out = [(i, score + gain.pop(i, 0.0)) for i, score in fused]
    out.extend(gain.items())
    out.sort(key=lambda item: (-item[1], item[0]))
    return out


def second_stage(
    fused: list[tuple[int, float]],
    coverage: Mapping[int, float],
    similarity: Mapping[int, float] | None = None,
    unasked: Mapping[int, float] | None = None,
) -> list[tuple[int, float]]:
    """The second stage over fused candidates (id, score), best first: the topic's share
    of each head (add_topic), the kind of thing each entry asks that the question does not
    (add_kind) and, when given, the question's cosine with each entry (add_meaning). Pure,
    so any backend that can compute these features can call it."""
    out = add_kind(add_topic(fused, coverage), unasked or {})
    if similarity:
        out = add_meaning(out, similarity, meaning_weight(coverage))
    return out


def close_to_best(hits: Sequence[Hit]) -> list[Hit]:
    """The first hit and those after it that score at least OTHERS_SHARE of it."""
    if not hits:
        return []
    floor = hits[0].score * OTHERS_SHARE
    return [hits[0], *(h for h in hits[1:] if h.score >= floor)]
