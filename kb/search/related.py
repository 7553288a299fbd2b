"""Related entries, for `kb show`: the entries that share this one's title and rarest words."""

from __future__ import annotations

from kb.search import query as _query
from kb.search import sql
from kb.search.planning import Planner
from kb.search.reads import Reads
from kb.search.results import Hit
from kb.search.snippets import lead as _lead

# Related entries must share a word that fewer entries than this have.
RELATED_MAX_DF = 20_000
# The candidates' budget of postings, a quarter of a search's (see ``related``).
RELATED_BUDGET = 2_000


class Related(Planner, Reads):
    """``related``: a cheap search seeded by an entry's own words."""

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
            budget = min(self.candidate_budget, RELATED_BUDGET)
            match = self._plan(title + rest, [], min_candidates=1, budget=budget)
            if match is None or limit <= 0:
                return []
            rows = self.conn.execute(*sql.similar(match, int(entry.id or 0), limit)).fetchall()
            entries = self._entries_by_id([i for i, _ in rows])
            return [Hit(entries[i], round(score, 4), _lead(entries[i].question)) for i, score in rows if i in entries]
