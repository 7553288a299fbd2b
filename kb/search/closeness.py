"""How close an entry comes to a question: whether one of them names what the other is about.

Ranking scores are relative (kb.search.fusion divides each by the best one), so the best
hit is first whether it answers the question or only shares its commonest word with it.
Closeness is absolute, read both ways with every word weighing its idf (a word in half
the entries or more weighs nothing; a word no entry holds weighs most, since the question
is about something the knowledge base may not know):

- the share of the question's words the entry holds (anywhere in it), the coverage the
  topic stage of ranking computes (kb.search.ranking) without its tuning;
- the share of the entry's title the question holds: a long question that tells a story
  around its topic ("I hurt my left ankle five months ago ...") names the title of the
  entry that answers it ("Ankle pain"), though that entry holds few of its other words.

An entry's closeness is the larger of the two. ``closeness`` is the arithmetic both
backends use; ``Closeness`` gives the files backend's index its method (the PostgreSQL
backend's is kb.postgres.searching.closeness).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from kb.search import query as _query
from kb.search.base import ids_json
from kb.search.planning import Planned, Planner


def idf(df: int, total: int) -> float:
    """A word's weight: BM25's idf, none for a word in half the entries or more."""
    return max(0.0, math.log((total - df + 0.5) / (df + 0.5)))


def question_terms(query: str) -> list[_query.Term]:
    """The words and phrases a question asks for (its exclusions and filters left out)."""
    parsed = _query.parse(query)
    return parsed.should + parsed.must


def shares(planned: Sequence[Planned], total: int, held: Mapping[int, Collection[int]]) -> dict[int, float]:
    """Each entry's share of the question (0..1): the idf weight of the terms it holds
    (``held``: entry id to the indexes in ``planned`` of the terms it holds) over the weight
    of them all. An entry is 1.0 when the question has no weighty word (nothing to tell
    entries apart)."""
    weights = [idf(p.df, max(total, 1)) for p in planned]
    whole = sum(weights)
    if not whole:
        return {entry_id: 1.0 for entry_id in held}
    return {entry_id: sum(weights[i] for i in set(terms)) / whole for entry_id, terms in held.items()}


def title_share(title: Sequence[str], asked: Collection[str], freqs: Mapping[str, int], total: int) -> float:
    """The idf weight of a title's stems that the question's stems (``asked``) hold over
    the weight of them all (0 for a title without a weighty word)."""
    weights = {stem: idf(freqs.get(stem, 0), max(total, 1)) for stem in title}
    whole = sum(weights.values())
    return sum(w for stem, w in weights.items() if stem in asked) / whole if whole else 0.0


def closeness(
    planned: Sequence[Planned],
    total: int,
    held: Mapping[int, Collection[int]],
    titles: Mapping[int, Sequence[str]],
    freqs: Mapping[str, int],
) -> dict[int, float]:
    """Each entry's closeness (see the module docstring): ``held`` as for ``shares``,
    ``titles`` each entry's title stems, ``freqs`` their document frequencies."""
    asked = {stem for p in planned for stem in p.stems}
    forward = shares(planned, total, held)
    return {i: max(share, title_share(titles.get(i, ()), asked, freqs, total)) for i, share in forward.items()}


class Closeness(Planner):
    """``closeness`` for the files backend's index (SQLite FTS5)."""

    def closeness(self, query: str, ids: list[int]) -> dict[int, float]:
        """The closeness of each of these entries to ``query`` (see the module docstring)."""
        terms = [t for t in question_terms(query) if t.words]
        if not terms or not ids:
            return {i: 1.0 for i in ids}
        stems = self._stems([" ".join(t.words) for t in terms])
        freqs = self._doc_freqs({s for group in stems for s in group})
        planned = [
            Planned(t, min((freqs.get(s, 0) for s in group), default=0), group)
            for t, group in zip(terms, stems)
            if group
        ]
        held: dict[int, set[int]] = {i: set() for i in ids}
        for k, item in enumerate(planned):
            if not item.df:
                continue
            for (entry_id,) in self.conn.execute(
                "SELECT rowid FROM fts WHERE fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
                (item.term.fts(), ids_json(ids)),
            ):
                held[entry_id].add(k)
        rows = self.conn.execute(
            "SELECT id, title FROM entries WHERE id IN (SELECT value FROM json_each(?))", (ids_json(ids),)
        ).fetchall()
        titles = dict(zip((r[0] for r in rows), self._stems([r[1] for r in rows])))
        freqs.update(self._doc_freqs({s for group in titles.values() for s in group} - freqs.keys()))
        return closeness(planned, self.count(), held, titles, freqs)
