"""Search in PostgreSQL: the files backend's query parser, planning, BM25 and fusion.

A query is parsed by kb.search.query; its words are stemmed as the files backend's index
stems them and weighed with the stored document frequencies (kb.postgres.postings), and
kb.search.planning chooses which pick the candidates. The candidates are scored twice by
BM25 as FTS5 computes it, over the whole entry and over its head (title, question, tags),
from the postings alone, and the two scores are combined by kb.search.fusion, the same
code that ranks the files backend's hits; its second stage re-orders the best of them,
with the features kb.search.features computes from what this module reads (the topic's
share of each head, the kind of thing each entry asks). Word families and the cap on a
long pasted text are kb.search.planning's. Quoted phrases, ``title:`` terms and exclusions
are matched by the entries' ``tsvector``s; Chinese, Japanese and Korean runs by the pairs
of characters in the ``cjk`` table (kb.search.cjk). Snippets come from ``ts_headline``,
with the highlights turned into offsets by kb.search.snippets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kb.backend import SEARCH_PAGE, Request
from kb.errors import NotFound, QueryError
from kb.models import OPEN
from kb.postgres import postings, reads
from kb.postgres.connection import scalar
from kb.postgres.planning import K1, B, Plan, any_of, plan
from kb.postgres.rows import ENTRY_COLUMNS, FROM_ENTRIES, TS_CONFIG, entry_from_row
from kb.postgres.vocabulary import Lookup
from kb.search import cjk, features, fusion, vocabulary
from kb.search import planning as _planning
from kb.search import query as _query
from kb.search.base import CANDIDATE_BUDGET
from kb.search.planning import Planned, conjunction
from kb.search.related import RELATED_ALONE, RELATED_BUDGET, RELATED_MAX_DF, RELATED_SHARE
from kb.search.results import Hit, SearchResult
from kb.search.snippets import MARK_END, MARK_START, lead, split_marks
from kb.search.spelling import SPELL_MAX_DF, fold

if TYPE_CHECKING:
    import psycopg

    from kb.models import Entry

_HEADLINE = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=24, MinWords=12, MaxFragments=1"
# A snippet is looked for in this many first characters of an answer: ts_headline parses
# all it is given, and the longest answers made it most of a two-word search (10 MedQuAD
# answers: 17.7 ms whole, 7.5 ms cut at 3,000; nine in ten are shorter than 2,500).
SNIPPET_TEXT = 4000
# A prefix (``chemo*``) scores by this many of its commonest completions.
PREFIX_STEMS = 50


@dataclass
class Corpus:
    """The totals BM25 needs (kept exact by every write, in the ``corpus`` table)."""

    entries: int
    tokens: int
    head_tokens: int


def corpus(conn: psycopg.Connection[Any]) -> Corpus:
    row = conn.execute("SELECT entries, tokens, head_tokens FROM corpus").fetchone()
    return Corpus(*(int(v) for v in row)) if row else Corpus(0, 0, 0)


def _totals_and_stems(
    conn: psycopg.Connection[Any], stems: list[str], freqs: dict[str, tuple[int, int]]
) -> tuple[Corpus, bool]:
    """The corpus totals and whether any entry is an open question, with the frequencies
    of ``stems`` (put into ``freqs``, 0 for a stem no entry holds): one round trip, each
    costing a millisecond or more on a busy server."""
    rows = conn.execute(
        f"""SELECT c.entries, c.tokens, c.head_tokens, EXISTS (SELECT 1 FROM entries WHERE status = '{OPEN}'),
            s.term, s.df, s.hdf
        FROM corpus c LEFT JOIN stems s ON s.term = ANY(%s)""",
        (stems,),
    ).fetchall()
    freqs.update((row[4], (int(row[5]), int(row[6]))) for row in rows if row[4] is not None)
    for stem in stems:
        freqs.setdefault(stem, (0, 0))
    if not rows:
        return Corpus(0, 0, 0), False
    return Corpus(*(int(v) for v in rows[0][:3])), bool(rows[0][3])


def _planned(
    conn: psycopg.Connection[Any], terms: list[_query.Term], freqs: dict[str, tuple[int, int]]
) -> list[Planned]:
    """The terms with their stems and document frequencies (a phrase's: its rarest stem's;
    a prefix's: the sum over its commonest completions, which are its stems). Each stem's
    frequencies in the entries and in their heads are added to ``freqs``."""
    groups = postings.tokenizer().stems([" ".join(t.words) for t in terms])
    wanted = sorted({s for g in groups for s in g} - freqs.keys())
    if wanted:
        for stem, df, hdf in conn.execute("SELECT term, df, hdf FROM stems WHERE term = ANY(%s)", (wanted,)):
            freqs[stem] = (int(df), int(hdf))
    out = []
    for term, group in zip(terms, groups):
        if term.prefix:
            stem = fold(term.words[0])
            rows = conn.execute(
                "SELECT term, df, hdf FROM stems WHERE term >= %s AND term < %s ORDER BY df DESC LIMIT %s",
                (stem, stem + "\U0010ffff", PREFIX_STEMS),
            ).fetchall()
            freqs.update((t, (int(d), int(h))) for t, d, h in rows)
            out.append(Planned(term, sum(int(d) for _, d, _ in rows), [t for t, _, _ in rows]))
        else:
            out.append(Planned(term, min((freqs.get(s, (0, 0))[0] for s in group), default=0), group))
    return out


def suggest(conn: psycopg.Connection[Any], word: str, *, min_df: int, limit: int) -> list[tuple[str, int]]:
    """Up to ``limit`` (word, df) of the vocabulary closest in spelling to ``word``.

    Candidates share the first letter and are within a few letters in length, as in the
    files backend (kb.search.spelling); edits are counted with a swap as one.
    """
    if len(word) < 4:
        return []
    edits = 1 if len(word) <= 5 else 2 if len(word) <= 9 else 3
    rows = conn.execute(
        "SELECT word, df FROM words WHERE left(word, 1) = %s AND length(word) BETWEEN %s AND %s AND df > %s",
        (word[0], len(word) - edits, len(word) + edits, min_df),
    ).fetchall()
    from rapidfuzz.distance import OSA

    ranked = sorted(
        (distance, -df, candidate)
        for candidate, df in rows
        if candidate != word and (distance := OSA.distance(word, candidate, score_cutoff=edits)) <= edits
    )
    return [(c, -d) for dist, d, c in ranked if dist == ranked[0][0]][:limit]


def _analyse(
    conn: psycopg.Connection[Any], parsed: _query.ParsedQuery, freqs: dict[str, tuple[int, int]]
) -> tuple[list[Planned], list[Planned], list[str]]:
    """Weigh the query's terms; add likelier spellings and completions of rare words.

    Returns the should-terms (with the additions), the must-terms and "did you mean".
    """
    terms = parsed.should + parsed.must
    planned = _planned(conn, terms, freqs)
    should, must = planned[: len(parsed.should)], planned[len(parsed.should) :]
    suggestions: list[str] = []
    if len(should) > _planning.MAX_QUERY_TERMS:
        # A pasted text: searched by its most informative words; its words unknown to the
        # index are not typos worth a guess.
        return _planning.informative(should, corpus(conn).entries), must, suggestions
    extra: list[_query.Term] = []
    guesses: set[str] = set()
    known = {fold(w) for t in terms for w in t.words}
    for item in planned:
        if item.term.prefix or item.df > SPELL_MAX_DF:
            continue
        alone = not item.term.is_phrase and item in should
        first = fold(item.term.words[0])
        if item.df == 0 and alone and len(first) >= 4:
            # A word never seen may be the start of words that are ("chemo").
            for (completion,) in conn.execute(
                "SELECT word FROM words WHERE word > %s AND word < %s ORDER BY df DESC LIMIT 2",
                (first, first + "\U0010ffff"),
            ):
                if completion not in known:
                    known.add(completion)
                    guesses.add(completion)
                    extra.append(_query.Term([completion], text=completion))
        # A phrase's df is its rarest word's: each word is judged by its own, so that
        # "heart" in "heart atack" is never corrected because "atack" is unknown.
        word_dfs = [freqs.get(s, (0, 0))[0] for s in item.stems] if len(item.stems) == len(item.term.words) else []
        for k, word in enumerate(item.term.words):
            folded = fold(word)
            if len(folded) < 4 or not folded.isalpha():
                continue
            df = word_dfs[k] if word_dfs else item.df
            if df > SPELL_MAX_DF:
                continue
            for suggestion, _ in suggest(conn, folded, min_df=df * 10 if df else 0, limit=2):
                if suggestion not in suggestions and suggestion not in known:
                    suggestions.append(suggestion)
                    if alone:
                        guesses.add(suggestion)
                        extra.append(_query.Term([suggestion], text=suggestion))
    extra += vocabulary.expansions([p.term for p in should], known, Lookup(conn))
    extra += _siblings(conn, should, known, freqs)
    for item in _planned(conn, extra, freqs):
        item.guess = item.term.text in guesses
        should.append(item)
    return should, must, suggestions


def _siblings(
    conn: psycopg.Connection[Any], should: list[Planned], known: set[str], freqs: dict[str, tuple[int, int]]
) -> list[_query.Term]:
    """The knowledge base's form of the question's words where it names entries by another
    ("pregnant" also searches "pregnancy"), chosen as the files backend chooses them
    (kb.search.planning.family_tries, family_pick). Two round trips: the commonest words
    sharing each tried word's start, then their stems' counts in the heads (``stems.hdf``:
    how many heads hold a word, which the files backend counts by matching its head table)."""
    tries = _planning.family_tries(should)
    if not tries:
        return []
    rows: dict[str, list[tuple[str, int]]] = {word: [] for _, word, _ in tries}
    for word, sibling, df in conn.execute(
        """SELECT t.word, w.word, w.df FROM unnest(%s::text[], %s::text[]) AS t(word, start)
        CROSS JOIN LATERAL (SELECT word, df FROM words WHERE word > t.start AND word < t.start || %s
            AND word != t.word ORDER BY df DESC, word LIMIT 3) AS w ORDER BY t.word, w.df DESC, w.word""",
        ([word for _, word, _ in tries], [start for _, _, start in tries], "\U0010ffff"),
    ):
        rows[word].append((sibling, int(df)))
    found = sorted({sibling for group in rows.values() for sibling, _ in group})
    stems_of = dict(zip(found, postings.tokenizer().stems(found)))
    wanted = sorted({stem for group in stems_of.values() for stem in group} - freqs.keys())
    if wanted:
        for stem, df, hdf in conn.execute("SELECT term, df, hdf FROM stems WHERE term = ANY(%s)", (wanted,)):
            freqs[stem] = (int(df), int(hdf))
    stems_of.update((word, item.stems) for item, word, _ in tries)

    def heads_naming(word: str) -> int:
        return min(min((freqs.get(stem, (0, 0))[1] for stem in stems_of.get(word, [])), default=0), 1000)

    out: list[_query.Term] = []
    for item, word, _ in tries:
        own: list[str] = item.stems
        sibling = _planning.family_pick(item, word, rows[word], known, lambda w: stems_of.get(w) == own, heads_naming)
        if sibling is not None:
            known.add(sibling)
            out.append(_query.Term([sibling], text=sibling))
    return out


def _scores(
    conn: psycopg.Connection[Any],
    chosen: Plan,
    totals: Corpus,
    where: reads.Where,
    depth: int,
    *,
    exclude: str | None = None,
    latest: bool = False,
    every: list[str] | None = None,
    enough: int = 0,
) -> tuple[dict[int, float], dict[int, float], int]:
    """The best ``depth`` candidates by whole-entry score and by head score, and how many matched.

    BM25 as FTS5's bm25() computes it, over the postings of the plan's stems alone (read
    from the index): each stem's weighted count saturated by k1 and normalised by the
    entry's length against the average, times its idf, summed per entry (related()
    scores heads alone, its own way). With ``every`` (stems), the candidates are those
    holding all of them when at least ``enough`` do (the files backend's conjunction of a
    short query, kb.search.planning.conjunction): the sorts then read those alone.
    """
    average = max(totals.tokens / max(totals.entries, 1), 1.0)
    head_average = max(totals.head_tokens / max(totals.entries, 1), 1.0)
    # BM25's saturation tf / (tf + k1 (1 - b + b len / avg)) as tf / (tf + a + c len), its
    # constants computed here and sent as float8: written as SQL literals they are numeric,
    # whose arithmetic took 70 ms for the 14k postings of "bone marrow" (float8: 12 ms).
    # The factor k1 + 1 is left out: fusion divides each score by the best one.
    lengths = [K1 * (1 - B), K1 * B / average, K1 * B / head_average]
    conditions: list[str] = []
    params: list[Any] = []
    if chosen.required is not None:
        conditions.append(f"e.body @@ to_tsquery('{TS_CONFIG}', %s)")
        params.append(chosen.required)
    if exclude is not None:
        conditions.append(f"NOT e.body @@ to_tsquery('{TS_CONFIG}', %s)")
        params.append(exclude)
    if where:
        conditions.append(where.sql("").strip())
        params.extend(where.params)
    filtered = bool(conditions) or latest
    date = ", coalesce(e.updated_at, e.created_at) AS date" if latest else ""

    def kept(name: str, scores: str, extra: str) -> str:
        """The CTE ``name``: the rows of ``scores`` the entries' conditions keep (joined to
        the entries once, for filters, required words, exclusions and dates)."""
        if not filtered:
            return f"{name} AS (SELECT s.id, s.whole, s.head{extra} FROM {scores} s),"
        return f"""{name} AS MATERIALIZED (SELECT s.id, s.whole, s.head{extra}{date} FROM {scores} s
            JOIN entries e ON e.id = s.id{" WHERE " + " AND ".join(conditions) if conditions else ""}),"""

    # Every stem's postings summed per entry: the scores of the entries holding any of
    # them (when some stems only score, the entries must hold a candidate); with
    # ``every``, how many of its stems each entry holds.
    counted = ", count(*) FILTER (WHERE p.term = ANY(%s::text[])) AS held" if every else ""
    summed = f"""s AS MATERIALIZED (
            SELECT p.entry AS id,
                sum(q.w * p.tf / (p.tf + %s + %s * p.len)) AS whole,
                CASE WHEN bool_or(q.cand AND p.htf > 0) THEN sum(q.hw * p.htf / (p.htf + %s + %s * p.hlen)) ELSE 0 END
                    AS head{counted}
            FROM unnest(%s::text[], %s::float8[], %s::float8[], %s::bool[]) AS q(term, w, hw, cand)
            JOIN postings p ON p.term = q.term GROUP BY p.entry
            {"" if all(chosen.candidate) else "HAVING bool_or(q.cand)"}),"""
    summed_params = [
        *lengths[:2],
        lengths[0],
        lengths[2],
        chosen.stems,
        chosen.whole_idf,
        chosen.head_idf,
        chosen.candidate,
    ]
    if every and sorted(every) == sorted(chosen.stems) and all(chosen.candidate):
        # Every stem picks the candidates: the entries holding them all are the stems'
        # postings lists joined by entry (merged in the index's order), each scored from
        # its rows, with no aggregate; the sum over all entries runs only when too few
        # hold them all (the server never reads a CTE that no row asks for).
        held, held_params = _held(chosen, every, lengths)
        statement = f"""WITH {held}
            {kept("jk", "j", "")}
            {summed.replace(counted, "")}
            {kept("sk", "s", "")}
            a AS MATERIALIZED (SELECT * FROM jk WHERE (SELECT count(*) FROM jk) >= %s
                UNION ALL SELECT * FROM sk WHERE (SELECT count(*) FROM jk) < %s),"""
        statement_params = [*held_params, *params, *summed_params, *params, enough, enough]
        chosen_rows = "a"
    elif every:
        statement = f"""WITH {summed}
            {kept("c", "s", ", s.held")}
            a AS MATERIALIZED (SELECT * FROM c WHERE held = %s OR (SELECT count(*) FROM c WHERE held = %s) < %s),"""
        statement_params = [*summed_params[:4], every, *summed_params[4:], *params, len(every), len(every), enough]
        chosen_rows = "a"
    else:
        statement = f"WITH {summed} {kept('c', 's', '')}"
        statement_params = [*summed_params, *params]
        chosen_rows = "c"
    order = ("date DESC, id DESC",) * 2 if latest else ("whole DESC, id", "head DESC, id")
    rows = conn.execute(
        f"""{statement}
        n AS (SELECT count(*) AS n FROM {chosen_rows})
        SELECT id, whole, head, (SELECT n FROM n) FROM (
            (SELECT id, whole, head FROM {chosen_rows} ORDER BY {order[0]} LIMIT %s)
            UNION (SELECT id, whole, head FROM {chosen_rows} ORDER BY {order[1]} LIMIT %s)) AS top""",
        [*statement_params, depth, depth],
    ).fetchall()
    total = int(rows[0][3]) if rows else 0
    return {r[0]: float(r[1] or 0) for r in rows}, {r[0]: float(r[2] or 0) for r in rows}, total


def _held(chosen: Plan, every: list[str], lengths: list[float]) -> tuple[str, list[Any]]:
    """The CTE ``j``: the entries holding all of ``every`` (the plan's stems, rarest first),
    scored from their postings rows, and its parameters."""
    index = {stem: k for k, stem in enumerate(chosen.stems)}
    whole: list[str] = []
    head: list[str] = []
    joins: list[str] = []
    params: list[Any] = []
    for k in range(len(every)):
        whole.append(f"%s * p{k}.tf / (p{k}.tf + %s + %s * p{k}.len)")
        head.append(f"%s * p{k}.htf / (p{k}.htf + %s + %s * p{k}.hlen)")
        if k:
            joins.append(f"JOIN postings p{k} ON p{k}.term = %s AND p{k}.entry = p0.entry")
    weights = [chosen.whole_idf[index[stem]] for stem in every]
    head_weights = [chosen.head_idf[index[stem]] for stem in every]
    for w in weights:
        params += [w, lengths[0], lengths[1]]
    for w in head_weights:
        params += [w, lengths[0], lengths[2]]
    params += every[1:] + every[:1]
    return (
        f"""j AS MATERIALIZED (SELECT p0.entry AS id, {" + ".join(whole)} AS whole, {" + ".join(head)} AS head
            FROM postings p0 {" ".join(joins)} WHERE p0.term = %s),""",
        params,
    )


def _hits(conn: psycopg.Connection[Any], ranked: list[tuple[int, float]], terms: list[_query.Term]) -> list[Hit]:
    """The page's entries with snippets from the question or answer, whichever shows more
    (one query: on a busy server each round trip costs milliseconds)."""
    ids = [i for i, _ in ranked]
    if not terms or not ids:
        entries = reads.entries_by_id(conn, ids)
        return [Hit(entries[i], round(score, 4), lead(entries[i].question)) for i, score in ranked if i in entries]
    rows = conn.execute(
        f"""SELECT {ENTRY_COLUMNS}, ts_headline('{TS_CONFIG}', translate(e.question, %s, '  '), q, %s),
               ts_headline('{TS_CONFIG}', translate(left(e.answer, {SNIPPET_TEXT}), %s, '  '), q, %s)
        FROM {FROM_ENTRIES}, to_tsquery('{TS_CONFIG}', %s) AS q WHERE e.id = ANY(%s)""",
        (MARK_START + MARK_END, _HEADLINE, MARK_START + MARK_END, _HEADLINE, any_of(terms), ids),
    )
    found: dict[int, tuple[Entry, str | None]] = {}
    for row in rows:
        entry = entry_from_row(row[:-2])
        best = max((row[-2] or "", row[-1] or ""), key=lambda s: s.count(MARK_START))
        found[entry.stored_id()] = (entry, best if MARK_START in best else None)
    hits = []
    for i, score in ranked:
        if i in found:
            entry, marked = found[i]
            text, spans = split_marks(marked) if marked else (lead(entry.question), [])
            hits.append(Hit(entry, round(score, 4), text, spans))
    return hits


def search(conn: psycopg.Connection[Any], query: str, request: Request) -> SearchResult:
    """Rank entries for ``query`` (see the module docstring); one page of hits."""
    if not query.strip():
        raise QueryError("the query is empty", hint='give words to search for, e.g. kb search "bone scan"')
    parsed = _query.parse(query)
    if len(parsed.should) + len(parsed.must) > _planning.MAX_QUERY_TERMS:
        parsed = _query.loosened(parsed)  # a pasted text: its quotes and dashes are punctuation
    parsed, runs = cjk.split(parsed)
    freqs: dict[str, tuple[int, int]] = {}
    texts = [" ".join(t.words) for t in parsed.should + parsed.must]
    stems = sorted({stem for group in postings.tokenizer().stems(texts) for stem in group})
    totals, some_open = _totals_and_stems(conn, stems, freqs)
    total = totals.entries
    if not total:
        return SearchResult([], 0, [], "the knowledge base is empty: add entries with 'kb ingest FILES' or 'kb add'")
    limit = SEARCH_PAGE if request.limit is None else (request.limit or total)
    filters = {k: list(v) for k, v in parsed.filters.items()}
    for kind, value in request.filters.items():
        filters.setdefault(kind, []).append(value)
    for kind, values in filters.items():
        for value in values:
            try:
                reads.resolve(conn, kind, value, strict=True)
            except NotFound as exc:
                return SearchResult([], 0, [], exc.message + (f" ({exc.hint})" if exc.hint else ""))
    where = reads.where_of(conn, filters, strict=False)
    reads.add_status(conn, where, request.status, some_open=some_open)
    if not parsed.has_text and not runs:
        if not filters:
            words = ", ".join(dict.fromkeys(parsed.stopped))
            return SearchResult(
                [], 0, [], f"the query has only common words ({words})" if words else "the query is empty"
            )
        return _browse(conn, parsed, where, limit, request)
    should, must, suggestions = _analyse(conn, parsed, freqs) if parsed.has_text else ([], [], [])
    chosen = plan(should, must, freqs, total, budget=CANDIDATE_BUDGET) if parsed.has_text else None
    if runs and (chosen is None or not request.latest):
        return _search_cjk(conn, runs, chosen, totals, where, request, limit, [p.term for p in should + must])
    if chosen is None:
        missing = [p.term.text for p in must if p.df == 0]
        why = ("no entry has " + ", ".join(repr(m) for m in missing)) if missing else "no entry has these words"
        return SearchResult([], 0, suggestions, why)
    depth = max(fusion.CANDIDATES, request.offset + limit + fusion.CANDIDATES // 4)
    exclude = any_of(parsed.exclude) if parsed.exclude else None
    every: list[str] | None = None
    if not request.latest and total >= depth * fusion.SCORE_DEPTH:
        held = conjunction(should, must, len(parsed.should), total)
        # No conjunction when its rarest word is in fewer entries than it needs: all would be read anyway.
        if held and min(p.df for p in held) >= depth * fusion.SCORE_DEPTH:
            every = list(dict.fromkeys(stem for p in held for stem in p.stems))
    whole, head, matched = _scores(
        conn,
        chosen,
        totals,
        where,
        depth,
        exclude=exclude,
        latest=request.latest,
        every=every,
        enough=depth * fusion.SCORE_DEPTH,
    )
    if request.latest:
        dated = reads.entries_by_id(conn, list(whole))
        order = sorted(whole, key=lambda i: (dated[i].updated_at or dated[i].created_at or "", i), reverse=True)
        ranked = [(i, whole[i]) for i in order]
    else:
        ranked = _second_stage(conn, fusion.fuse(whole, head), should + must, total)
    page = ranked[request.offset : request.offset + limit]
    hits = _hits(conn, page, [p.term for p in should + must])
    reason: str | None = None
    if not hits:
        reason = (
            f"only {matched} entries match; nothing at this offset"
            if matched
            else _why_nothing(conn, chosen, totals, filters, exclude)
        )
    return SearchResult(hits, matched, suggestions, reason)


def _second_stage(
    conn: psycopg.Connection[Any], ranked: list[tuple[int, float]], planned: list[Planned], total: int
) -> list[tuple[int, float]]:
    """The files backend's second stage (kb.search.fusion.second_stage) over the best
    TOPIC_WINDOW candidates, its features computed by kb.search.features from what one
    round trip reads: the titles' counts of the topic's words (``stems.tdf``), which of
    the candidates' heads hold them (the postings' ``htf``), and the candidates' titles
    and questions. A phrase is held by a head holding all its words (the files backend's
    head table asks for them side by side), a prefix by one holding any completion.
    Each (stem, candidate) is one probe of the heads' postings index (the LIMIT keeps the
    server from reading a common stem's whole list instead: "treatment" is in 6k heads at
    16k entries, and reading them took 2 ms of a search)."""
    window = [i for i, _ in ranked[: fusion.TOPIC_WINDOW]]
    usable, kept = features.topic_terms(planned, total) if fusion.TOPIC_WEIGHT else ({}, [])
    kinds = bool(fusion.KIND_WEIGHT)
    if not window or not (kept or kinds):
        return ranked
    stems = sorted({stem for _, item in kept for stem in item.stems})
    titled_by_stem: dict[str, int] = {}
    in_head: dict[str, set[int]] = {}
    heads: dict[int, tuple[str, str]] = {}
    for part, term, number, title, question in conn.execute(
        """SELECT 0, term, tdf, NULL, NULL FROM stems WHERE term = ANY(%(stems)s)
        UNION ALL SELECT 1, t.term, i.id, NULL, NULL FROM unnest(%(stems)s::text[]) AS t(term)
            CROSS JOIN unnest(%(ids)s::bigint[]) AS i(id)
            CROSS JOIN LATERAL (SELECT 1 FROM postings p WHERE p.term = t.term AND p.entry = i.id AND p.htf > 0
                LIMIT 1) AS held
        UNION ALL SELECT 2, NULL, id, title, question FROM entries WHERE %(kinds)s AND id = ANY(%(ids)s)""",
        {"stems": stems, "ids": window, "kinds": kinds},
    ):
        if part == 0:
            titled_by_stem[term] = int(number)
        elif part == 1:
            in_head.setdefault(term, set()).add(int(number))
        else:
            heads[int(number)] = (title, question)
    coverage: dict[int, float] = {}
    if kept:
        titled = {
            key: features.title_share(max(titled_by_stem.get(stem, 0) for stem in item.stems), item.df)
            for key, item in kept
            if item.stems and item.df and features.TOPIC_TITLES
        }
        holders = {}
        for key, item in kept:
            held = [in_head.get(stem, set()) for stem in item.stems]
            holders[key] = set().union(*held) if item.term.prefix else set.intersection(*held) if held else set()
        coverage = features.coverage(holders, features.topic_weights(usable, titled, total))
    unasked = features.unasked(heads, planned, postings.tokenizer().stems) if kinds else {}
    return fusion.second_stage(ranked, coverage, None, unasked)


def _search_cjk(
    conn: psycopg.Connection[Any],
    runs: list[str],
    chosen: Plan | None,
    totals: Corpus,
    where: reads.Where,
    request: Request,
    limit: int,
    terms: list[_query.Term],
) -> SearchResult:
    """Rank a query with Chinese, Japanese or Korean words, as the files backend does: their
    runs are found in the ``cjk`` table (kb.search.cjk), scored over the whole entry and
    over its head and fused; the query's other words are ranked as usual, and an entry
    found both ways scores the sum. The pairs are scored by ``ts_rank`` (the files
    backend: BM25 over its table of pairs), each list divided by its best as fusion does."""
    depth = max(fusion.CANDIDATES, request.offset + limit + fusion.CANDIDATES // 4)
    rows = conn.execute(
        f"""SELECT c.entry, ts_rank(c.whole, q), CASE WHEN c.head @@ q THEN ts_rank(c.head, q) ELSE 0 END,
            count(*) OVER ()
        FROM cjk c JOIN entries e ON e.id = c.entry, CAST(%s AS tsquery) AS q
        WHERE c.whole @@ q{where.sql("AND")} ORDER BY 2 DESC, 1 LIMIT %s""",
        [cjk.tsquery(runs), *where.params, depth * fusion.SCORE_DEPTH],
    ).fetchall()
    total = int(rows[0][3]) if rows else 0
    ranked = fusion.fuse({r[0]: float(r[1]) for r in rows}, {r[0]: float(r[2]) for r in rows})
    if chosen is not None:
        whole, head, words_total = _scores(conn, chosen, totals, where, depth)
        summed = dict(fusion.fuse(whole, head))
        for entry_id, score in ranked:
            summed[entry_id] = summed.get(entry_id, 0.0) + score
        ranked = sorted(summed.items(), key=lambda item: (-item[1], item[0]))
        total = max(total, words_total)
    hits = _hits(conn, ranked[request.offset : request.offset + limit], terms)
    reason = None if hits else ("no entry has these words" if not total else f"only {total} entries match")
    return SearchResult(hits, total, [], reason)


def _why_nothing(
    conn: psycopg.Connection[Any], chosen: Plan, totals: Corpus, filters: dict[str, list[str]], exclude: str | None
) -> str:
    """Why a search found nothing, in the files backend's words."""
    if filters:
        unfiltered = _scores(conn, chosen, totals, reads.Where(), 1, exclude=exclude)[2]
        if unfiltered:
            described = ", ".join(f"{k} {' or '.join(repr(v) for v in vs)}" for k, vs in filters.items() if vs)
            noun = "entry matches" if unfiltered == 1 else "entries match"
            return f"{unfiltered} {noun} but none with {described}"
    if exclude is not None:
        base = _scores(conn, chosen, totals, reads.Where(), 1)[2]
        if base:
            noun = "entry matches" if base == 1 else "entries match"
            return f"{base} {noun} but all contain excluded words"
    return "no entry has these words"


def _browse(
    conn: psycopg.Connection[Any], parsed: _query.ParsedQuery, where: reads.Where, limit: int, request: Request
) -> SearchResult:
    """A query of filters only (and maybe exclusions): the matching entries, newest or lowest id first."""
    if parsed.exclude:
        where.add(f"NOT e.body @@ to_tsquery('{TS_CONFIG}', %s)", any_of(parsed.exclude))
    total = int(scalar(conn, f"SELECT count(*) FROM entries e{where.sql()}", where.params))
    order = "coalesce(e.updated_at, e.created_at) DESC, e.id DESC" if request.latest else "e.id"
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT e.id FROM entries e{where.sql()} ORDER BY {order} LIMIT %s OFFSET %s",
            [*where.params, limit, request.offset],
        )
    ]
    entries = reads.entries_by_id(conn, ids)
    hits = [Hit(entries[i], 0.0, lead(entries[i].question)) for i in ids if i in entries]
    reason = None if hits else ("no entry passes these filters" if total == 0 else f"only {total} entries match")
    return SearchResult(hits, total, [], reason)


def _subject(conn: psycopg.Connection[Any], ref: int | str) -> tuple[int, str, str] | None:
    """The entry's id, title and question's first 2,000 characters; None when it is missing."""
    text = str(ref).strip().lstrip("#")
    if not (isinstance(ref, int) or text.isdigit()) or int(text) >= 2**63:
        text = str(reads.get(conn, ref).stored_id())  # a uid prefix (NotFound when none)
    row = conn.execute("SELECT id, title, left(question, 2000) FROM entries WHERE id = %s", (int(text),)).fetchone()
    if row is None:
        reads.get(conn, ref)  # raises NotFound, worded as show's
        return None
    return int(row[0]), row[1], row[2]


def related(conn: psycopg.Connection[Any], ref: int | str, limit: int = 5, *, shown: Entry | None = None) -> list[Hit]:
    """The entries whose heads share this one's title and rarest words (kb show).

    As the files backend (kb.search.related): the rarest words within a small budget pick
    the candidates; an entry is related when its head scores at least RELATED_SHARE of
    this entry's own head and shares a word of the title, or RELATED_ALONE times that
    without one (the heads count a title their question repeats once, as the files
    backend's do: kb.postgres.postings).
    ``shown`` is the entry ``ref`` names when the caller has just read it (kb show has):
    its title and question are not read again. Two round trips then (three without): the
    words' frequencies with the totals, and the scores with the best entries' rows.
    """
    if shown is not None:
        subject: tuple[int, str, str] | None = (shown.stored_id(), shown.title, shown.question[:2000])
    else:
        subject = _subject(conn, ref)
    if subject is None:
        return []
    own_id, title_text, question = subject
    parsed = _query.parse(title_text + " " + question)
    title_words = {w.lower() for t in _query.parse(title_text).should for w in t.words}
    words = [t for t in parsed.should if not t.is_phrase][:200]
    freqs: dict[str, tuple[int, int]] = {}
    stems = postings.tokenizer().stems([" ".join(t.words) for t in words])
    totals = _totals_and_stems(conn, sorted({stem for group in stems for stem in group}), freqs)[0]
    useful = [p for p in _planned(conn, words, freqs) if p.df > 1]
    title = [p for p in useful if p.term.words[0].lower() in title_words]
    rest = sorted((p for p in useful if p not in title), key=lambda p: p.df)[:8]
    if limit <= 0 or not any(p.df <= RELATED_MAX_DF for p in useful):
        return []
    chosen = plan(title + rest, [], freqs, totals.entries, budget=RELATED_BUDGET, min_candidates=1)
    if chosen is None:
        return []
    head_average = max(totals.head_tokens / max(totals.entries, 1), 1.0)
    # The heads' scores, from the heads' own index (postings_head, which holds no tf or len):
    # the best limit + 1 and this entry's own, with their rows and whether their heads
    # hold a word of this one's title.
    found = conn.execute(
        f"""WITH q AS (SELECT * FROM unnest(%s::text[], %s::float8[]) AS q(term, hw)),
        c AS MATERIALIZED (SELECT DISTINCT entry FROM postings WHERE term = ANY(%s) AND htf > 0),
        s AS MATERIALIZED (
            SELECT p.entry AS id, sum(q.hw * p.htf / (p.htf + %s + %s * p.hlen)) AS head
            FROM q JOIN postings p ON p.term = q.term AND p.htf > 0 WHERE p.entry IN (SELECT entry FROM c)
            GROUP BY p.entry),
        top AS ((SELECT id, head FROM s ORDER BY round(head::numeric, 9) DESC, id LIMIT %s) UNION (SELECT id, head FROM s WHERE id = %s))
        SELECT top.head, {ENTRY_COLUMNS}, (SELECT true FROM postings p WHERE p.term = ANY(%s) AND p.entry = e.id
            AND p.htf > 0 LIMIT 1) IS NOT NULL
        FROM top JOIN {FROM_ENTRIES} ON e.id = top.id""",
        (
            chosen.stems,
            chosen.head_idf,
            [s for s, c in zip(chosen.stems, chosen.candidate) if c],
            K1 * (1 - B),
            K1 * B / head_average,
            limit + 1,
            own_id,
            [stem for p in title for stem in p.stems],
        ),
    ).fetchall()
    scored = {int(r[1]): (float(r[0] or 0), entry_from_row(r[1:-1]), bool(r[-1])) for r in found}
    own = scored.pop(own_id, (0.0, None, False))[0]
    if not own:
        return []
    # Ties by id: a sum's last bits depend on the order the server added its terms in.
    shared = ((i, s) for i, (s, _, _) in scored.items() if s >= RELATED_SHARE * own)
    rows = sorted(shared, key=lambda r: (-round(r[1], 9), r[0]))
    return [
        Hit(scored[i][1], round(s, 4), lead(scored[i][1].question))
        for i, s in rows[:limit]
        if scored[i][2] or s >= RELATED_ALONE * RELATED_SHARE * own
    ]


def closeness(conn: psycopg.Connection[Any], query: str, ids: list[int]) -> dict[int, float]:
    """How close each of these entries comes to ``query`` (kb.search.closeness): a term is
    held by an entry whose postings hold its stems (all of a phrase's, any of a prefix's)."""
    from kb.search import closeness as _closeness

    terms = [t for t in _closeness.question_terms(query) if t.words]
    if not terms or not ids:
        return {i: 1.0 for i in ids}
    freqs: dict[str, tuple[int, int]] = {}
    planned = [p for p in _planned(conn, terms, freqs) if p.stems]
    stems = sorted({s for p in planned for s in p.stems})
    present: dict[int, set[str]] = {i: set() for i in ids}
    for entry_id, stem in conn.execute(
        "SELECT entry, term FROM postings WHERE term = ANY(%s) AND entry = ANY(%s)", (stems, ids)
    ):
        present[int(entry_id)].add(stem)
    held = {
        i: {k for k, p in enumerate(planned) if p.df and (any if p.term.prefix else all)(s in have for s in p.stems)}
        for i, have in present.items()
    }
    rows = conn.execute("SELECT id, title FROM entries WHERE id = ANY(%s)", (ids,)).fetchall()
    titles = dict(zip((int(r[0]) for r in rows), postings.tokenizer().stems([r[1] or "" for r in rows])))
    wanted = sorted({s for group in titles.values() for s in group} - freqs.keys())
    for stem, df in conn.execute("SELECT term, df FROM stems WHERE term = ANY(%s)", (wanted,)):
        freqs[stem] = (int(df), 0)
    dfs = {stem: df for stem, (df, _) in freqs.items()}
    return _closeness.closeness(planned, corpus(conn).entries, held, titles, dfs)
