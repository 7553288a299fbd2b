"""Related entries, for `kb show`: the entries whose heads share this one's title and rarest words.

None rather than noise: an entry that shares only a word or two in passing is not related.
"""

from __future__ import annotations

from kb.search import query as _query
from kb.search import sql
from kb.search.planning import Planner
from kb.search.reads import Reads
from kb.search.results import Hit
from kb.search.snippets import lead as _lead

# Related entries must share a word that fewer entries than this have.
RELATED_MAX_DF = 20_000
# A related entry's head scores at least this share of the entry's own head (see related).
RELATED_SHARE = 0.3
# ... and an entry that shares no word of the title this many times that share. A head
# counts the words its question repeats from its title once (kb.search.schema,
# HEAD_QUESTION), so an entry's own score no longer holds its topic twice over, and an entry
# on another topic that asks the same thing ("When should I prune lavender?" beside "...
# roses?") came within twice the share of it.
RELATED_ALONE = 3.0
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
            # Similar heads (title, question, tags): what the entries are about and ask, not
            # what their answers mention in passing. An entry scores its own head highest;
            # another is related when its head scores RELATED_SHARE of that and shares a
            # word of the title (the topic), or RELATED_ALONE times that share without one.
            own = self.conn.execute(*sql.scores("head", match, [int(entry.id or 0)])).fetchone()
            if own is None or own[1] <= 0:
                return []
            rows = [
                (i, score)
                for i, score in self.conn.execute(*sql.similar("head", match, int(entry.id or 0), limit))
                if score >= RELATED_SHARE * own[1]
            ]
            on_topic: set[int] = set()
            if title and rows:
                topic = " OR ".join(p.term.fts() for p in title)
                on_topic = {i for i, _ in self.conn.execute(*sql.scores("head", topic, [i for i, _ in rows]))}
            rows = [(i, score) for i, score in rows if i in on_topic or score >= RELATED_ALONE * RELATED_SHARE * own[1]]
            entries = self._entries_by_id([i for i, _ in rows])
            return [Hit(entries[i], round(score, 4), _lead(entries[i].question)) for i, score in rows if i in entries]
