"""Running a search: filters and planned MATCH in, a ranked page of hits with snippets out.

Candidates are ranked by two BM25 scores fused (kb.search.fusion): the whole entry's and
its head's (title, question, tags); a second stage then adds, to the best of them, the
share of the question's rare, topic-naming words their heads hold. Chinese, Japanese and
Korean words are found in their own table (kb.search.cjk). With ``latest`` the matches
are in date order instead. When nothing matches, an index that keeps entry vectors
(kb.search.semantic) lists the entries nearest the question in meaning; otherwise one
line says why.
"""

from __future__ import annotations

import sqlite3

from kb.errors import KbError, NotFound, QueryError, SearchIndexError
from kb.models import ANSWERED
from kb.search import cjk, features, fusion, semantic, sql
from kb.search import query as _query
from kb.search.base import ids_json
from kb.search.planning import MAX_QUERY_TERMS, Planned, Planner
from kb.search.reads import Reads
from kb.search.results import Hit, SearchResult
from kb.search.snippets import lead as _lead
from kb.search.snippets import snippets, split_marks


class Ranking(Planner, Reads):
    """``search``: parse, resolve filters, plan, rank, and explain an empty result."""

    def search(
        self,
        query: str,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        limit: int = 10,
        offset: int = 0,
        latest: bool = False,
        status: str | None = None,
    ) -> SearchResult:
        """Search entries for a question or keywords; see the module docstring of kb.search.query.

        Filters given here combine (AND) with ``field:value`` filters in the query;
        ``status`` keeps only open questions or only answered entries (None: both).
        With ``latest`` the matches are ordered by date, newest first, not by relevance.
        A ``limit`` of 0 returns every match.

        Raises:
            QueryError: the query is empty: no words to search for (stop words count as
                words, and find nothing) and no field:value filter, whatever punctuation
                it holds ('', '"', '*', '-', 'title:') or words it excludes.
        """
        _refuse_empty(query)
        with self._errors("searching"):
            try:
                return self._search(query, category, expert, tag, limit, offset, latest, status)
            except (KbError, sqlite3.Error):
                raise
            except Exception as exc:  # a bug in planning must not look like a crash
                raise SearchIndexError(f"search failed: {exc!r}") from exc

    def _search(
        self,
        query: str,
        category: str | None,
        expert: str | None,
        tag: str | None,
        limit: int,
        offset: int,
        latest: bool,
        status: str | None = None,
    ) -> SearchResult:
        total_entries = self.count()
        if not total_entries:
            return SearchResult(
                [], 0, [], "the knowledge base is empty: add entries with 'kb ingest FILES' or 'kb add'"
            )
        if not limit:
            limit = total_entries
        parsed = _query.parse(query)
        filters = {k: list(v) for k, v in parsed.filters.items()}
        for kind, value in (("category", category), ("expert", expert), ("tag", tag)):
            if value:
                filters.setdefault(kind, []).append(value)
        limit, offset = max(0, int(limit)), max(0, int(offset))
        bad = self._unknown_filter(filters)
        if bad:
            return SearchResult([], 0, [], bad)
        where = sql.filters(self.resolve_filters(filters, strict=False), self.status_filter(status))

        reason: str | None
        if not parsed.has_text:
            if not filters:
                reason = (
                    "the query has only common words (" + ", ".join(dict.fromkeys(parsed.stopped)) + ")"
                    if parsed.stopped
                    else "the query is empty"
                )
                return SearchResult([], 0, [], reason)
            return self._browse(parsed, where, limit, offset, latest)

        if len(parsed.should) + len(parsed.must) > MAX_QUERY_TERMS:
            parsed = _query.loosened(parsed)
        parsed, cjk_match = _split_cjk(parsed)
        should, must, suggestions = self._analyse(parsed) if parsed.has_text else ([], [], [])
        positive = None
        if not parsed.has_text:
            pass
        elif not latest and total_entries >= self._list_depth(limit, offset):
            conjunction = self._conjunction(should, must, len(parsed.should))
            if conjunction is not None and self._enough(conjunction, where, self._list_depth(limit, offset)):
                positive = conjunction
        if positive is None and parsed.has_text:
            positive = self._plan(should, must)
        if cjk_match is not None and (positive is None or not latest):
            return self._search_cjk(positive, cjk_match, where, limit, offset, [p.term for p in should + must])
        exclude = " OR ".join(t.fts() for t in parsed.exclude) if parsed.exclude else None
        if positive is None and not latest and semantic.usable(self.conn):
            # No entry has the words; one may still mean them ("afib": "atrial fibrillation").
            near = semantic.nearest(self.conn, query, offset + limit, where, exclude, total_entries)
            if near:
                terms = [p.term for p in should + must]
                return SearchResult(self._hits(list(near.items())[offset:], terms), len(near), suggestions, None)
        if positive is None:
            missing = [p.term.text for p in must if p.df == 0]
            reason = ("no entry has " + ", ".join(repr(m) for m in missing)) if missing else "no entry has these words"
            return SearchResult([], 0, suggestions, reason)
        match = positive
        if exclude:
            match = f"({positive}) NOT ({exclude})"
        terms = [p.term for p in should + must]
        hits, total = self._rank(
            match,
            where,
            limit=limit,
            offset=offset,
            latest=latest,
            terms=terms,
            exclude=exclude,
            planned=should + must,
            question=query,
        )
        reason = None
        if not hits:
            reason = self._why_nothing(positive, match, where, total, filters, status)
        return SearchResult(hits, total, suggestions, reason)

    def _search_cjk(
        self,
        positive: str | None,
        cjk_match: str,
        where: sql.Filters,
        limit: int,
        offset: int,
        terms: list[_query.Term],
    ) -> SearchResult:
        """Rank a query with Chinese, Japanese or Korean words: their runs are found in the
        ``cjk`` table (kb.search.cjk), its other words as usual, and an entry found both
        ways scores the sum."""
        depth = self._list_depth(limit, offset) // fusion.SCORE_DEPTH
        fused, total = self._fused("cjk", cjk_match, f"{{head}} : ({cjk_match})", where, depth)
        if positive is not None:
            words, words_total = self._fused("fts", positive, positive, where, depth, head_table="head")
            summed = dict(words)
            for entry_id, score in fused:
                summed[entry_id] = summed.get(entry_id, 0.0) + score
            fused = sorted(summed.items(), key=lambda item: (-item[1], item[0]))
            total = max(total, words_total)
        hits = self._hits(fused[offset : offset + limit], terms)
        reason = None if hits else ("no entry has these words" if not total else f"only {total} entries match")
        return SearchResult(hits, total, [], reason)

    @staticmethod
    def _list_depth(limit: int, offset: int) -> int:
        """How deep each of the two ranked lists is read (see _rank)."""
        return max(fusion.CANDIDATES, offset + limit + fusion.CANDIDATES // 4) * fusion.SCORE_DEPTH

    def _enough(self, match: str, where: sql.Filters, depth: int) -> bool:
        """Whether at least ``depth`` entries match ``match`` and pass the filters."""
        return bool(self.conn.execute(*sql.at_least(match, where, depth)).fetchone()[0] >= depth)

    def _unknown_filter(self, filters: dict[str, list[str]]) -> str | None:
        for kind, values in filters.items():
            for value in values:
                try:
                    self._resolve(kind, value, strict=True)
                except NotFound as exc:
                    return f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")
        return None

    def _browse(
        self, parsed: _query.ParsedQuery, where: sql.Filters, limit: int, offset: int, latest: bool
    ) -> SearchResult:
        """Serve a query of filters only (and maybe exclusions): list matching entries."""
        conn = self.conn
        exclude = " OR ".join(t.fts() for t in parsed.exclude) if parsed.exclude else None
        (count_sql, count_params), (page_sql, page_params) = sql.browse(where, exclude, latest, limit, offset)
        total = conn.execute(count_sql, count_params).fetchone()[0]
        rows = conn.execute(page_sql, page_params).fetchall()
        hits = [Hit(entry, 0.0, _lead(entry.question)) for entry in map(self._entry, rows)]
        reason = None if hits else ("no entry passes these filters" if total == 0 else f"only {total} entries match")
        return SearchResult(hits, total, [], reason)

    def _rank(
        self,
        match: str,
        where: sql.Filters,
        *,
        limit: int,
        offset: int,
        latest: bool,
        terms: list[_query.Term],
        exclude: str | None = None,
        planned: list[Planned] | None = None,
        question: str = "",
    ) -> tuple[list[Hit], int]:
        """Run the planned MATCH; return the page of hits and the total number of matches."""
        if latest:
            return self._rank_by_date(match, where, limit=limit, offset=offset, terms=terms)
        depth = self._list_depth(limit, offset) // fusion.SCORE_DEPTH
        fused, total = self._fused("fts", match, match, where, depth, head_table="head", excluding=bool(exclude))
        if planned:
            window = [i for i, _ in fused[: fusion.TOPIC_WINDOW]]
            coverage = self._topic_coverage(window, planned) if fusion.TOPIC_WEIGHT else {}
            unasked = self._kinds(window, planned) if fusion.KIND_WEIGHT else {}
            similarity = {}
            meaning = fusion.meaning_weight(coverage)
            if question and (meaning or fusion.NEIGHBOUR_WEIGHT) and semantic.usable(self.conn):
                similarity = semantic.similarities(self.conn, question, window)
                if fusion.NEIGHBOUR_WEIGHT and similarity:
                    near = semantic.nearest(self.conn, question, fusion.NEIGHBOURS, where, exclude, self.count())
                    new = [i for i in near if i not in similarity]
                    if new and fusion.TOPIC_WEIGHT:
                        coverage.update(self._topic_coverage(new, planned))
                    similarity.update(near)
                    fused = fusion.add_neighbours(fused, similarity)
                    total = max(total, len(fused))
            fused = fusion.second_stage(fused, coverage, similarity, unasked)
        return self._hits(fused[offset : offset + limit], terms), total

    def _topic_coverage(self, ids: list[int], planned: list[Planned]) -> dict[int, float]:
        """The share of the question's words that each of these entries' heads holds
        (kb.search.features: the terms, their weights and the sum are shared with the
        PostgreSQL backend; the title shares and the heads are read here)."""
        total = self.count()
        usable, kept = features.topic_terms(planned, total)
        if not ids or not kept:
            return {}
        titled = self._title_shares([item for _, item in kept]) if features.TOPIC_TITLES else {}
        holders = {
            key: [
                row[0]
                for row in self.conn.execute(
                    "SELECT rowid FROM head WHERE head MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
                    (key, ids_json(ids)),
                )
            ]
            for key, _item in kept
        }
        return features.coverage(holders, features.topic_weights(usable, titled, total))

    def _kinds(self, ids: list[int], planned: list[Planned]) -> dict[int, float]:
        """For each of these entries whose question adds words to its title, the share of
        those words that the question does not hold (kb.search.features.unasked)."""
        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT id, title, question FROM entries WHERE id IN (SELECT value FROM json_each(?))", (ids_json(ids),)
        ).fetchall()
        # FTS5's cost is per row: the words are stemmed as one text (features.word_stems;
        # 50 short texts took 4 ms at 100k entries, one text 0.4 ms).
        return features.unasked({row[0]: (row[1], row[2]) for row in rows}, planned, self._stems)

    def _title_shares(self, planned: list[Planned]) -> dict[str, float]:
        """For each term, the share of the entries holding it whose title holds it too.

        A word that names topics ("parkinson") stands in the titles of many of the
        entries that use it; a generic one ("older", "adults") in few of them.
        """
        conn = self.conn
        # fts5vocab counts a term's documents per column by reading its posting list:
        # only the rarest words of the question come here (see kb.search.features.TOPIC_BUDGET).
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_head_cols USING fts5vocab(main, head, 'col')")
        out = {}
        for item in planned:
            if not item.stems or not item.df:
                continue
            titled = 0
            for stem in dict.fromkeys(item.stems):
                row = conn.execute(
                    "SELECT doc FROM temp.kb_head_cols WHERE term = ? AND col = 'title'", (stem,)
                ).fetchone()
                titled = max(titled, row[0] if row else 0)
            out[item.term.fts()] = features.title_share(titled, item.df)
        return out

    def _fused(
        self,
        table: str,
        match: str,
        head_match: str,
        where: sql.Filters,
        depth: int,
        *,
        head_table: str | None = None,
        excluding: bool = False,
    ) -> tuple[list[tuple[int, float]], int]:
        """Score the matches of ``table`` as a whole and by their head; return the fused
        (id, score) of the best ``depth`` of each list, best first, and the number of matches.

        The head is its own table (``head_table``) or, for the ``cjk`` table, its ``head``
        column (``head_match`` holds the column filter).
        """
        conn = self.conn
        head_table = head_table or table
        # Looking exact scores up for a list of entries costs a pass over every match
        # (FTS5 does not seek to a list of rowids: 250 ms for a 20-word question at 100k
        # entries), while reading a list deeper costs little (the matches are scored
        # anyway; only the heap grows). So both lists are read SCORE_DEPTH times deeper
        # than the candidates they give, and an entry beyond a list's end scores at most
        # its last score, which stands in for it.
        score_depth = depth * fusion.SCORE_DEPTH
        whole = dict(conn.execute(*sql.top(table, match, where, score_depth)).fetchall())
        if not whole:
            return [], 0
        complete = len(whole) < score_depth  # every match is in hand
        head = dict(conn.execute(*sql.top(head_table, head_match, where, score_depth)).fetchall())
        head_floor = min(head.values()) if len(head) >= score_depth else 0.0
        # The head's columns are a part of the entry's, so an entry the head found is a
        # match of the whole query too, unless its other columns hold an excluded word.
        found_by_head = [i for i in list(head)[:depth] if i not in whole]
        if found_by_head and not complete:
            if excluding:
                whole.update(conn.execute(*sql.scores(table, match, found_by_head)).fetchall())
            else:
                whole_floor = min(whole.values())
                whole.update((i, whole_floor) for i in found_by_head)
        candidates = {i: whole[i] for i in [*list(whole)[:depth], *list(head)[:depth]] if i in whole}
        fused = fusion.fuse(candidates, {i: head.get(i, head_floor) for i in candidates})
        if complete:
            total = len(whole)
        else:
            total = conn.execute(*sql.count_in(table, match, where)).fetchone()[0]
        return fused, total

    def _rank_by_date(
        self, match: str, where: sql.Filters, *, limit: int, offset: int, terms: list[_query.Term]
    ) -> tuple[list[Hit], int]:
        conn = self.conn
        statements = sql.ranked(match, where, True, limit, offset)
        rows = conn.execute(statements.page, statements.page_params).fetchall()
        if len(rows) < limit and (offset == 0 or rows):
            total = offset + len(rows)
        else:
            total = conn.execute(statements.count, statements.count_params).fetchone()[0]
        return self._hits(rows, terms), total

    def _hits(self, rows: list[tuple[int, float]], terms: list[_query.Term]) -> list[Hit]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        entries = self._entries_by_id(ids)
        marked = snippets(self.conn, ids, terms)
        hits = []
        for i, score in rows:
            if i in entries:
                text, spans = split_marks(marked[i]) if i in marked else (_lead(entries[i].question), [])
                hits.append(Hit(entries[i], round(score, 4), text, spans))
        return hits

    def _why_nothing(
        self,
        positive: str,
        match: str,
        where: sql.Filters,
        total: int,
        filters: dict[str, list[str]],
        status: str | None = None,
    ) -> str:
        conn = self.conn
        if total:
            return f"only {total} entries match; nothing at this offset"
        if where:
            unfiltered = conn.execute(*sql.count_matches(match)).fetchone()[0]
            if unfiltered:
                described = ", ".join(
                    f"{kind} {' or '.join(repr(v) for v in values)}" for kind, values in filters.items() if values
                )
                noun = "entry matches" if unfiltered == 1 else "entries match"
                if described or status != ANSWERED:
                    described = ", ".join(filter(None, [described, f"status {status}" if status else ""]))
                    return f"{unfiltered} {noun} but none with {described}"
                # Only the status filter is left: what matched waits for its answer.
                if unfiltered == 1:
                    return "1 open question matches; it waits for an answer (search with --open to see it)"
                return f"{unfiltered} open questions match; they wait for answers (search with --open to see them)"
        if match != positive:
            base = conn.execute(*sql.count_matches(positive)).fetchone()[0]
            if base:
                noun = "entry matches" if base == 1 else "entries match"
                return f"{base} {noun} but all contain excluded words"
        return "no entry has these words"


def _refuse_empty(query: str) -> None:
    """Raise QueryError when ``query`` gives nothing to search for (one rule for every empty query)."""
    parsed = _query.parse(query) if query.strip() else None
    if parsed is not None and (parsed.has_text or parsed.filters or parsed.stopped):
        return
    message = "the query only excludes words" if parsed is not None and parsed.exclude else "the query is empty"
    raise QueryError(message, hint='give words to search for, e.g. kb search "bone scan"')


def _split_cjk(parsed: _query.ParsedQuery) -> tuple[_query.ParsedQuery, str | None]:
    """Take the terms with Chinese, Japanese or Korean characters out of a query; return
    the rest and the MATCH of the ``cjk`` table that finds any of them (None if none)."""
    rest, found = cjk.split(parsed)
    if not found:
        return parsed, None
    return rest, " OR ".join(cjk.phrases(" ".join(found)))
