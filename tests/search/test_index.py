"""Tests of kb.search.index: the SQLite FTS5 search index, on real files under tmp_path."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.errors import NotFound, QueryError, SearchIndexError
from kb.models import Entry, Expert
from kb.paths import index_path_for
from kb.search import query
from kb.search.index import SearchIndex
from kb.search.results import SearchResult
from kb.search.snippets import MARK_END, MARK_START

HIGBY = Expert("Donald Higby, M.D.", expertise="Medical oncology", education="Stanford")


def make_entries() -> list[Entry]:
    return [
        Entry(
            id=1,
            title="false negatiave on bone scan",
            category="Oncology (General Cancer)",
            question="I have breast cancer and had chemotherapy. Can a bone scan come back falsely negative?",
            answer="You are right. Chemotherapy can make bone scans falsely negative; PET/CT shows more.",
            expert=HIGBY,
            tags=["imaging"],
            created_at="2020-01-01T00:00:00+00:00",
            raw="RAW-PAGE-TEXT-SHOULD-NOT-BE-INDEXED",
        ),
        Entry(
            id=2,
            title="Metastasis to the liver",
            category="Oncology (General Cancer)",
            question="My father's colon cancer spread to the liver. What is the outlook with metastasis?",
            answer="Liver metastasis can sometimes be removed by surgery; chemotherapy shrinks the rest.",
            expert=Expert("Donald Higby, M.D.", awards="Teacher of the year"),
            tags=["liver"],
            created_at="2021-05-01T00:00:00+00:00",
        ),
        Entry(
            id=3,
            title="Osteoporosis medicines",
            category="Women's Health",
            question="Which medicines treat osteoporosis after menopause?",
            answer="Bisphosphonates are the first choice for osteoporosis, with calcium and vitamin D.",
            expert=Expert("Maria Lopez"),
            tags=["bones"],
            created_at="2022-03-01T00:00:00+00:00",
        ),
        Entry(
            id=4,
            title="Self-taught programmer",
            category="Careers",
            question="Can a self-taught 3-year-old coder... I mean a self-taught adult get hired?",
            answer="Yes: show a portfolio. Don't worry about the degree (really).",
            expert=Expert("Ada Chen"),
            tags=["Jobs"],
            created_at="2019-07-01T00:00:00+00:00",
            updated_at="2023-01-01T00:00:00+00:00",
        ),
        Entry(
            id=5,
            title="Crohn's disease diet",
            category="Gastroenterology",
            question="What should I eat during a Crohn's flare? Café au lait, naïve question…",
            answer="A low-fibre diet: avoid nuts and raw vegetables during the flare. 🙂",
            expert=Expert("Maria Lopez"),
            created_at="2018-01-01T00:00:00+00:00",
        ),
        Entry(
            id=6,
            title="Chest pain on stairs",
            category="Cardiology",
            question="Tight chest when climbing stairs, goes away with rest. Is it my heart?",
            answer="This sounds like angina; see a doctor for an ECG and a stress test.",
            created_at="2024-01-01T00:00:00+00:00",
        ),
    ]


@pytest.fixture
def index(tmp_path):
    ix = SearchIndex(tmp_path / "kb.index.sqlite")
    ix.rebuild(make_entries(), "sig-1")
    yield ix
    ix.close()


def ids(result: SearchResult) -> list[int]:
    return [hit.entry.id for hit in result.hits]


# ------------------------------------------------------------------ opening and building


def test_index_path_for_store():
    assert index_path_for("/x/kb.json").name == "kb.index.sqlite"


def test_index_new_has_no_signature(tmp_path):
    with SearchIndex(tmp_path / "i.sqlite") as ix:
        assert ix.signature is None
        assert ix.count() == 0
        assert ix.search("anything").hits == []


def test_bulk_writes_get_a_page_cache_that_grows_with_the_index(tmp_path):
    index = SearchIndex(tmp_path / "kb.index.sqlite")

    def cache_after(count: int) -> int:
        index.conn.execute("UPDATE meta SET value = ? WHERE key = 'count'", (str(count),))
        index.for_bulk_writes()
        return -index.conn.execute("PRAGMA cache_size").fetchone()[0]

    assert cache_after(0) == 2000  # SQLite's default, for a small index
    assert cache_after(100_000) == 25_000  # a quarter of a KiB an entry
    assert cache_after(10_000_000) == 64 * 1024  # and no more than 64 MB
    index.close()


def test_index_rebuild_counts_and_signs(tmp_path):
    seen = []
    with SearchIndex(tmp_path / "i.sqlite") as ix:
        n = ix.rebuild(make_entries(), "sig-9", progress=seen.append)
        assert n == 6 and ix.count() == 6 and ix.signature == "sig-9"
    assert seen == [6]
    with SearchIndex(tmp_path / "i.sqlite") as ix:  # persists
        assert ix.signature == "sig-9" and ix.get(3).title == "Osteoporosis medicines"


def test_index_rebuild_replaces_everything(index):
    index.rebuild(make_entries()[:2], "sig-2")
    assert index.count() == 2
    assert index.search("osteoporosis").hits == []
    with pytest.raises(NotFound):
        index.get(3)


def test_index_progress_every_thousand(tmp_path):
    many = [Entry(id=i, question=f"question {i} about widgets", answer="answer") for i in range(1, 2501)]
    seen = []
    with SearchIndex(tmp_path / "i.sqlite") as ix:
        ix.rebuild(many, "s", progress=seen.append)
    assert seen == [1000, 2000, 2500]


def test_index_corrupt_file_recreated(tmp_path):
    path = tmp_path / "kb.index.sqlite"
    path.write_bytes(b"this is not a database at all\x00\xff" * 200)
    with SearchIndex(path) as ix:
        assert ix.signature is None
        ix.rebuild(make_entries(), "s")
        assert ix.count() == 6


def test_index_other_sqlite_database_is_not_deleted(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE precious(x)")
    conn.commit()
    conn.close()
    with pytest.raises(SearchIndexError):
        SearchIndex(path)
    assert path.exists()


def test_index_old_schema_recreated(tmp_path):
    path = tmp_path / "kb.index.sqlite"
    with SearchIndex(path) as ix:
        ix.rebuild(make_entries(), "s")
        ix.conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    with SearchIndex(path) as ix:
        assert ix.signature is None and ix.count() == 0


def test_index_closed_raises_kb_error(tmp_path):
    ix = SearchIndex(tmp_path / "i.sqlite")
    ix.close()
    with pytest.raises(SearchIndexError):
        ix.search("x")


def test_index_raw_text_not_stored(index, tmp_path):
    index.close()
    data = (tmp_path / "kb.index.sqlite").read_bytes()
    wal = tmp_path / "kb.index.sqlite-wal"
    if wal.exists():
        data += wal.read_bytes()
    assert b"RAW-PAGE-TEXT" not in data


def test_index_entry_round_trip(index):
    original = make_entries()[0]
    assert index.get(1).to_dict() == original.to_dict()


def test_index_entry_without_id_rejected(tmp_path):
    with SearchIndex(tmp_path / "i.sqlite") as ix, pytest.raises(SearchIndexError):
        ix.rebuild([Entry(question="q", answer="a")], "s")


# ------------------------------------------------------------------ get


def test_index_get_by_int_and_string_id(index):
    assert index.get(2).id == 2
    assert index.get("2").id == 2
    assert index.get("#2").id == 2


def test_index_get_by_uid_prefix(index):
    entry = make_entries()[2]
    assert index.get(entry.uid[:6]).id == 3
    assert index.get(entry.uid.upper()[:8]).id == 3


def test_index_get_ambiguous_prefix(tmp_path):
    a = Entry(id=1, question="q1", answer="a", uid="abcd111100000000")
    b = Entry(id=2, question="q2", answer="a", uid="abcd222200000000")
    with SearchIndex(tmp_path / "i.sqlite") as ix:
        ix.rebuild([a, b], "s")
        with pytest.raises(NotFound) as err:
            ix.get("abcd")
        assert "ambiguous" in err.value.message
        assert "abcd1111" in err.value.hint and "abcd2222" in err.value.hint
        assert ix.get("abcd2").id == 2


@pytest.mark.parametrize("ref", [99, "99", "zz", "abc", "ffff0000"])
def test_index_get_missing(index, ref):
    with pytest.raises(NotFound):
        index.get(ref)


# ------------------------------------------------------------------ search semantics


def test_search_natural_question(index):
    result = index.search("can chemo make a bone scan come back falsely negative?")
    assert ids(result)[0] == 1
    assert result.reason is None and result.total >= 1


def test_search_stemming(index):
    assert ids(index.search("scans"))[:1] == [1]
    assert 3 in ids(index.search("medicine"))


def test_search_snippet_is_plain_text_with_highlight_offsets(index):
    hit = index.search("bisphosphonates")[0]
    start, end = hit.highlights[0]
    assert hit.snippet[start:end] == "Bisphosphonates"
    assert "[Bisphosphonates]" in hit.highlighted()
    assert MARK_START not in hit.snippet and MARK_END not in hit.snippet and "[" not in hit.snippet


def test_search_snippet_text_with_marker_bytes(tmp_path):
    entry = Entry(id=1, question="weird \x02bytes\x03 here", answer="plain answer about bytes")
    with SearchIndex(tmp_path / "i.sqlite") as ix:
        ix.rebuild([entry], "s")
        hit = ix.search("weird").hits[0]
        assert MARK_START not in hit.snippet and MARK_END not in hit.snippet
        assert [hit.snippet[a:b] for a, b in hit.highlights] == ["weird"]
        assert ix.get(1).question == entry.question  # the entry itself is intact


def test_search_score_orders_hits(index):
    hits = index.search("osteoporosis chemotherapy bone").hits
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_search_phrase(index):
    assert ids(index.search('"bone scan"')) == [1]
    assert ids(index.search('"scan bone"')) == []


def test_search_phrase_is_required(index):
    assert ids(index.search('"liver" chemotherapy')) == [2]


def test_search_exclusion(index):
    assert set(ids(index.search("chemotherapy"))) == {1, 2}
    assert ids(index.search("chemotherapy -liver")) == [1]
    assert ids(index.search('chemotherapy -"bone scans"')) == [2]


def test_search_exclusion_only_with_filter(index):
    result = index.search("category:oncology -liver")
    assert ids(result) == [1]


def test_search_prefix(index):
    assert ids(index.search("osteopor*")) == [3]
    assert set(ids(index.search("chemo*"))) == {1, 2}


def test_search_title_field(index):
    assert ids(index.search("title:metastasis")) == [2]
    assert ids(index.search("title:chemotherapy")) == []


def test_search_category_field_quoted(index):
    result = index.search('chemotherapy category:"Oncology (General Cancer)"')
    assert set(ids(result)) == {1, 2}
    assert ids(index.search("category:cardio")) == [6]


def test_search_expert_and_tag_filters(index):
    assert set(ids(index.search("diet OR medicines", expert="maria lopez"))) == {3, 5}
    assert ids(index.search("expert:higby liver")) == [2]
    assert ids(index.search("tag:jobs")) == [4]
    assert ids(index.search("hired", tag="JOBS")) == [4]


def test_search_filters_only_lists_entries(index):
    result = index.search("category:Oncology")
    assert ids(result) == [1, 2] and result.total == 2


def test_search_keyword_filters_combine(index):
    assert ids(index.search("chemotherapy", category="oncology", tag="liver")) == [2]


def test_search_filtered_out_reason(index):
    result = index.search("osteoporosis", category="Cardiology")
    assert result.hits == []
    assert "1 entry matches but none with category 'Cardiology'" == result.reason


def test_search_unknown_category_reason(index):
    result = index.search("osteoporosis", category="Dermatology")
    assert result.hits == [] and "Dermatology" in result.reason


def test_search_no_words_reason(index):
    result = index.search("zebra xylophone")
    assert result.hits == [] and result.reason == "no entry has these words"


def test_search_only_stop_words_reason(index):
    result = index.search("what is it and how?")
    assert result.hits == [] and "common words" in result.reason


def test_search_excluded_reason(index):
    result = index.search("osteoporosis -calcium")
    assert result.hits == [] and "excluded" in result.reason


def test_search_latest_orders_by_date(index):
    result = index.search("chemotherapy OR osteoporosis OR hired", latest=True)
    assert ids(result) == [4, 3, 2, 1]  # entry 4 was updated in 2023


def test_search_limit_offset_total(index):
    everything = index.search("chemotherapy osteoporosis angina diet hired")
    assert everything.total == 6
    page = index.search("chemotherapy osteoporosis angina diet hired", limit=2, offset=2)
    assert ids(page) == ids(everything)[2:4] and page.total == 6


@pytest.mark.parametrize(
    "word,expected,suggestion",
    [
        ("chemotheraphy", {1, 2}, "chemotherapy"),
        ("metastisis", {2}, "metastasis"),
        ("osteoporisis", {3}, "osteoporosis"),
    ],
)
def test_search_misspelt_terms(index, word, expected, suggestion):
    result = index.search(word)
    assert set(ids(result)) == expected
    assert suggestion in result.suggestions


def test_search_no_suggestion_for_known_words(index):
    assert index.search("osteoporosis").suggestions == []


def test_search_no_suggestion_for_known_word_in_a_phrase(index):
    # The phrase matches nothing because of its second word; its first word is known.
    # "scan" is one letter from "scans", which the index holds too.
    result = index.search('"scan negatve"')
    assert result.suggestions == ["negative"]


def test_search_long_pasted_text_uses_its_informative_words(index):
    # A text far longer than any question, with quotes and dashes as punctuation, whose
    # subject (osteoporosis, calcium) recurs among many words the index does not hold.
    filler = " ".join(f"word{i}x" for i in range(400))
    text = (
        'My mother - she is 80 - was told "brittle bones" by her doctor. '
        + filler
        + " osteoporosis calcium osteoporosis medicine osteoporosis"
    ) * 3
    result = index.search(text)
    assert result.reason is None
    assert ids(result)[:1] == [3]


def test_vocabulary_suggest(index):
    assert index.vocabulary_suggest("angnia")[:1] == ["angina"]
    assert index.vocabulary_suggest("zz") == []


@pytest.mark.parametrize(
    "text",
    [
        "self-taught",
        "3-year-old",
        "don't",
        "Crohn's",
        "crohn’s diet",
        "note: chest",
        "e.g. vitamin D.",
        "(chest) pain",
        'unbalanced "quote',
        '"',
        "-",
        "*",
        "- * -",
        "chemo**",
        "AND",
        "or",
        "NOT chest",
        "chest NEAR pain",
        "near",
        "NEAR(chest pain)",
        "café",
        "naïve",
        "🙂",
        "🙂 chest",
        "title:",
        "category:",
        'expert:"',
        'tag:""',
        "{title}: x",
        "col:umn",
        "^start",
        "a OR",
        '""',
        "'",
        "x:y:z",
        "foo\x00bar",
        '-"bone',
        "--liver",
        'title:"bone scan"',
        "chest*pain",
        "ünïcödé",
        "中文 问题",
        "-(",
        ")",
    ],
)
def test_search_punctuation_never_breaks(index, text):
    try:
        result = index.search(text)
    except QueryError as exc:  # nothing to search for: one rule, whatever the punctuation
        assert str(exc) in ("the query is empty", "the query only excludes words")
        return
    assert isinstance(result, SearchResult)
    assert result.hits or result.reason


def test_search_hyphen_and_apostrophe_find_entries(index):
    assert ids(index.search("self-taught"))[:1] == [4]
    assert ids(index.search("Crohn's"))[:1] == [5]
    assert ids(index.search("cafe"))[:1] == [5]  # diacritics folded


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_search_arbitrary_text_never_raises(index, text):
    try:
        result = index.search(text)
    except QueryError:
        return
    assert isinstance(result, SearchResult)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("ab -\"*:()'.^{}") + ["title:", "NOT", "OR", "tag:"]), max_size=30))
def test_query_terms_are_always_quoted(parts):
    parsed = query.parse("".join(parts))
    for term in parsed.should + parsed.must + parsed.exclude:
        expr = term.fts()
        assert '"' in expr and all(w.isalnum() for w in term.words)


# ------------------------------------------------------------------ upsert / delete


def test_upsert_adds_and_replaces(index):
    changed = make_entries()[2]
    changed.answer = "Denosumab injections twice a year are another option."
    changed.refresh_uid()
    new = Entry(
        id=7,
        title="Zoster vaccine",
        question="Shingles vaccine after shingles?",
        answer="Yes.",
        expert=Expert("Sam Patel"),
        category="Infectious Disease",
    )
    index.upsert([changed, new], "sig-2")
    assert index.signature == "sig-2" and index.count() == 7
    assert ids(index.search("denosumab")) == [3]
    assert index.search("bisphosphonates").hits == []
    assert ids(index.search("shingles")) == [7]
    assert index.search("shingels").suggestions == ["shingles"]  # small index: vocabulary fresh
    assert index.get(3).answer.startswith("Denosumab")


def test_delete_removes_everywhere(index):
    index.delete([3, 5, 99], "sig-3")
    assert index.count() == 4 and index.signature == "sig-3"
    assert index.search("osteoporosis").hits == []
    assert "Maria Lopez" not in [e.name for e in index.experts()]
    with pytest.raises(NotFound):
        index.get(3)


def test_words_follow_every_write_as_a_rebuild_counts_them(index, tmp_path):
    """The spelling vocabulary (the heads' words) is kept current write by write (no pass
    over the index)."""
    final = make_entries()
    final[2].title = "Denosumab for osteoporosis"
    final[2].answer = "Denosumab injections twice a year are another option."
    final[2].refresh_uid()
    new = Entry(id=7, title="Zoster vaccine", question="Shingles vaccine after shingles?", answer="Yes, shingles.")
    index.upsert([final[2], new], "sig-2", refresh=False)
    index.delete([5], "sig-3")
    expected = SearchIndex(tmp_path / "fresh.sqlite")
    expected.rebuild([e for e in final if e.id != 5] + [new], "x")
    words = "SELECT word, df FROM words ORDER BY word"
    assert index.conn.execute(words).fetchall() == expected.conn.execute(words).fetchall()
    assert ("denosumab", 1) in index.conn.execute(words).fetchall()
    assert ("osteoporosis", 1) in index.conn.execute(words).fetchall()  # title and question: one entry
    assert ("medicines", 1) in index.conn.execute(words).fetchall()  # the question still says it
    assert ("diet", 1) not in index.conn.execute(words).fetchall()  # entry 5's title, removed
    assert ("injections", 1) not in index.conn.execute(words).fetchall()  # answers are not counted
    assert index.search("shingels").suggestions == ["shingles"]
    expected.close()


def test_a_word_only_answers_hold_is_suggested_from_the_stems(index):
    """Answers are not in ``words``; their words are found among the stems and written as
    an entry writes them, for as long as an entry holds them."""
    heads = {w for (w,) in index.conn.execute("SELECT word FROM words")}
    assert "bisphosphonates" not in heads and "angina" not in heads
    assert index.search("bisphosponates").suggestions == ["bisphosphonates"]
    assert index.vocabulary_suggest("angnia")[:1] == ["angina"]
    assert index.search("angina").suggestions == []  # a word the knowledge base has
    index.delete([3], "sig-2")
    assert index.search("bisphosponates").suggestions == []
    # A stale snapshot of the stems (a large index refreshes it now and then) names a stem
    # no entry holds any more: it is not suggested.
    index.conn.execute("INSERT OR REPLACE INTO terms VALUES ('bisphosphon', 5)")
    assert index.vocabulary_suggest("bisphosponates") == []


def test_a_misspelt_answer_word_is_suggested_in_the_form_it_misspells(tmp_path):
    """The first places of a stem may write other forms of it ("run", "runs"); the
    misspelling's own form ("running", one edit from "runing") is found in the entries
    that hold the stem, and only where one writes it."""
    entries = [
        Entry(id=n, title=f"Exercise {n}", question="How far?", answer="A short run, or two runs a week.")
        for n in range(1, 12)
    ]
    entries.append(Entry(id=20, title="Knees", question="Why do knees hurt?", answer="Running on hard ground."))
    entries += [Entry(id=30 + n, title=f"Other {n}", question="Anything?", answer="Something.") for n in range(10)]
    ix = SearchIndex(tmp_path / "kb.index.sqlite")
    ix.rebuild(entries, "sig")
    assert "running" in ix.vocabulary_suggest("runing")
    ix.delete([20], "sig-2")
    assert "running" not in ix.vocabulary_suggest("runing")
    ix.close()


def test_related_candidates_come_from_the_rarest_word_only(tmp_path, monkeypatch):
    """A common title word re-scores related entries but does not bring its own in."""
    import kb.search.related as related_module

    entries = [Entry(id=1, title="Cowden syndrome", question="How common is Cowden syndrome?", answer="Rare.")]
    entries += [
        Entry(id=n, title=f"Other syndrome {n}", question=f"What is syndrome number {n}?", answer="A syndrome.")
        for n in range(2, 40)
    ]
    entries += [Entry(id=40, title="Cowden signs", question="Which signs show Cowden disease?", answer="Skin.")]
    ix = SearchIndex(tmp_path / "kb.index.sqlite")
    ix.rebuild(entries, "sig")
    ix.candidate_budget = 1
    assert [hit.entry.id for hit in ix.related(1)] == [40]
    monkeypatch.setattr(related_module, "RELATED_MAX_DF", 1)  # now even "Cowden" is too common
    assert ix.related(1) == []
    ix.close()


def test_set_signature(index):
    index.set_signature("abc")
    assert index.signature == "abc"


# ------------------------------------------------------------------ list, categories, experts


def test_list_filters_and_sorts(index):
    assert [e.id for e in index.list()] == [1, 2, 3, 4, 5, 6]
    assert [e.id for e in index.list(category="oncology (general cancer)")] == [1, 2]
    assert [e.id for e in index.list(category="onc")] == [1, 2]  # unique prefix
    assert [e.id for e in index.list(expert="higby")] == [1, 2]  # word inside the name
    assert [e.id for e in index.list(tag="Imaging")] == [1]
    assert [e.id for e in index.list(sort="date", descending=True)][:2] == [6, 4]
    assert [e.title for e in index.list(sort="title")][0] == "Chest pain on stairs"
    assert [e.id for e in index.list(sort="category", limit=2, offset=1)] == [4, 5]


def test_list_unknown_filter_raises(index):
    with pytest.raises(NotFound) as err:
        index.list(category="Cardiolgy")
    assert "Cardiology" in (err.value.hint or "")
    with pytest.raises(QueryError):
        index.list(sort="colour")


def test_list_ambiguous_prefix(index):
    assert len(index.list(expert="")) == 6  # empty is no filter
    with pytest.raises(NotFound) as err:
        index.list(category="ca")
    assert "ambiguous" in err.value.message
    assert "Cardiology" in err.value.hint and "Careers" in err.value.hint


def test_categories_with_counts(index):
    cats = index.categories()
    assert cats[0] == ("Oncology (General Cancer)", 2)
    assert sum(n for _, n in cats) == 6


def test_experts_profiles_merged(index):
    summaries = {s.name: s for s in index.experts()}
    higby = summaries["Donald Higby, M.D."]
    assert higby.count == 2
    assert higby.categories == [("Oncology (General Cancer)", 2)]
    assert higby.profile.education == "Stanford" and higby.profile.awards == "Teacher of the year"
    assert "Chest" not in summaries  # entries without an expert are not an expert


def test_expert_lookup(index):
    assert index.expert("maria LOPEZ").count == 2
    assert index.expert("donald").name == "Donald Higby, M.D."
    with pytest.raises(NotFound) as err:
        index.expert("Maria Lopes")
    assert "Maria Lopez" in err.value.hint


# ------------------------------------------------------------------ related


def test_related_entries(tmp_path):
    entries = make_entries() + [
        Entry(
            id=7,
            title="Bone scan or PET scan",
            category="Oncology (General Cancer)",
            question="Is a PET scan better than a bone scan for metastases?",
            answer="PET/CT is more sensitive than a bone scan.",
        ),
    ]
    with SearchIndex(tmp_path / "i.sqlite") as ix:
        ix.rebuild(entries, "s")
        related = ix.related(1)
        assert related and related[0].entry.id == 7
        assert 1 not in [h.entry.id for h in related]
        assert ix.related(6) == [] or all(h.entry.id != 6 for h in ix.related(6))


def test_search_result_is_a_sequence_of_hits(index):
    result = index.search("bone scan")
    assert len(result) == len(result.hits) > 0 and bool(result)
    assert list(result) == result.hits and result[0] is result.hits[0] and result[:1] == result.hits[:1]
    assert result.total >= len(result) and result.reason is None
    empty = index.search("zzzzqqq")
    assert not empty and len(empty) == 0 and empty.reason


def test_split_marks_gives_plain_text_and_offsets():
    from kb.search.snippets import split_marks

    assert split_marks("a \x02bone\x03 and \x02scan\x03…") == ("a bone and scan…", [(2, 6), (11, 15)])
    assert split_marks("no marks") == ("no marks", [])
    assert split_marks("\x02unclosed") == ("unclosed", [])


def test_two_processes_creating_the_index_at_once_both_open_it(tmp_path):
    """The second finds no tables, waits for the write lock, and finds them made."""
    import sqlite3
    import threading
    import time

    from kb.search.schema import SCHEMA, SCHEMA_VERSION, split_sql

    path = tmp_path / "kb.index.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("BEGIN IMMEDIATE")  # the first process, about to create the tables
    opened: list[object] = []
    worker = threading.Thread(target=lambda: opened.append(_open_or_error(path)))
    worker.start()
    time.sleep(0.5)  # the second has looked, found nothing, and waits for the lock
    for statement in split_sql(SCHEMA):
        other.execute(statement)
    other.execute("INSERT INTO meta VALUES ('schema', ?), ('count', '0')", (SCHEMA_VERSION,))
    other.execute("COMMIT")
    worker.join(timeout=30)
    other.close()
    assert len(opened) == 1 and isinstance(opened[0], SearchIndex), opened
    assert opened[0].count() == 0
    opened[0].close()


def _open_or_error(path):
    try:
        return SearchIndex(path)
    except Exception as exc:  # the test reports it
        return exc


def _sort_index_names(index: SearchIndex) -> set[str]:
    from kb.search.schema import SORT_INDEXES

    rows = index.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {row[0] for row in rows} & set(SORT_INDEXES)


def test_sort_indexes_are_deferred_only_in_an_empty_index(tmp_path) -> None:
    from kb.search.schema import SORT_INDEXES

    with SearchIndex(tmp_path / "kb.index.sqlite") as index:
        assert _sort_index_names(index) == set(SORT_INDEXES)
        assert index.defer_sort_indexes() is True
        assert _sort_index_names(index) == set()
        # The deferring connection writes without making them...
        index.upsert(make_entries(), "v1")
        assert _sort_index_names(index) == set()
        by_title = [e.id for e in sorted(make_entries(), key=lambda e: e.title.casefold(), reverse=True)]
        assert [e.id for e in index.list(sort="title", descending=True)] == by_title
        # ...until it says its bulk write is over.
        index.make_sort_indexes()
        assert _sort_index_names(index) == set(SORT_INDEXES)
        # With entries in it, an index keeps its sort indexes.
        assert index.defer_sort_indexes() is False
        assert _sort_index_names(index) == set(SORT_INDEXES)
        assert index.conn.execute("SELECT 1 FROM meta WHERE key = 'sort_indexes'").fetchone() is None


def test_a_rebuild_makes_sort_indexes_a_bulk_writer_left_out(tmp_path) -> None:
    from kb.search.schema import SORT_INDEXES

    path = tmp_path / "kb.index.sqlite"
    with SearchIndex(path) as index:
        index.defer_sort_indexes()
        index.upsert(make_entries(), "v1")
    with SearchIndex(path) as index:
        assert _sort_index_names(index) == set()
        assert index.rebuild(make_entries(), "v2") == len(make_entries())
        assert _sort_index_names(index) == set(SORT_INDEXES)
        assert index.conn.execute("SELECT 1 FROM meta WHERE key = 'sort_indexes'").fetchone() is None
        by_category = [e.id for e in sorted(make_entries(), key=lambda e: (e.category.casefold(), e.id))]
        assert [e.id for e in index.list(sort="category")] == by_category
