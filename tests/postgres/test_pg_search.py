"""Search in PostgreSQL: the query syntax of kb.search.query, ranking, snippets, spelling, related."""

from __future__ import annotations

import pytest

from kb.backend import Request
from kb.errors import QueryError
from kb.models import Entry, Expert
from tests.search.test_fusion import GARDEN

ENTRIES = [
    Entry(
        title="False negative on bone scan",
        category="Oncology",
        question="I have breast cancer. Can a bone scan be falsely negative?",
        answer="Yes. A bone scan can miss lytic lesions; an MRI or PET/CT shows them.",
        expert=Expert(name="Donald Higby, M.D."),
        tags=["imaging"],
    ),
    Entry(
        title="Chemotherapy and hair loss",
        category="Oncology",
        question="Will chemotherapy make my hair fall out?",
        answer="Many chemotherapy drugs cause hair loss; it grows back after treatment.",
        expert=Expert(name="Ann Smith"),
    ),
    Entry(
        title="Watering tomatoes",
        category="Gardening",
        question="How often should I water tomato plants?",
        answer="Water deeply twice a week; a scan of the soil moisture helps. Bone meal feeds them.",
        tags=["vegetables"],
    ),
    Entry(
        title="Noonan syndrome treatment",
        category="Genetics",
        question="How is Noonan syndrome treated?",
        answer="Treatment depends on the symptoms: heart surgery, growth hormone and therapy.",
    ),
    Entry(
        title="Noonan syndrome inheritance",
        category="Genetics",
        question="Is Noonan syndrome inherited?",
        answer="It is autosomal dominant: a parent with Noonan syndrome passes it on half the time.",
    ),
]


@pytest.fixture
def filled(pg):
    pg.add_many([Entry.from_dict(e.to_dict()) for e in ENTRIES])
    return pg


def _ids(result) -> list[int]:
    return [h.entry.id for h in result]


def test_postgres_search_ranks_the_entry_about_the_question_first(filled) -> None:
    result = filled.search("my mother has breast cancer, can her bone scan be wrong?")
    assert _ids(result)[0] == 1
    assert _ids(filled.search("how is noonan syndrome treated"))[0] == 4
    assert _ids(filled.search("is noonan syndrome passed on to children"))[0] == 5


def test_postgres_search_snippet_offsets_mark_the_matched_words(filled) -> None:
    hit = filled.search("hair loss").hits[0]
    assert hit.entry.id == 2
    marked = [hit.snippet[a:b].lower() for a, b in hit.highlights]
    assert marked and all(word.startswith(("hair", "loss")) for word in marked)
    assert "\x02" not in hit.snippet and "\x03" not in hit.snippet


def test_postgres_search_phrases_exclusions_prefixes_and_fields(filled) -> None:
    assert _ids(filled.search('"bone scan"')) == [1]  # the tomato answer has both words, apart
    assert 3 not in _ids(filled.search("bone -tomato"))
    assert set(_ids(filled.search("chemo*"))) == {2}
    assert _ids(filled.search("title:watering")) == [3]
    assert _ids(filled.search("syndrome category:genetics")) in ([4, 5], [5, 4])
    assert _ids(filled.search("bone", Request(category="gardening"))) == [3]
    assert _ids(filled.search("scan expert:higby")) == [1]


def test_postgres_search_explains_an_empty_result(filled) -> None:
    assert filled.search("xylophone").reason == "no entry has these words"
    assert filled.search("the and of").reason.startswith("the query has only common words")
    assert "did you mean" in filled.search("bone category:onkology").reason
    assert filled.search("bone category:genetics").reason == "2 entries match but none with category 'genetics'"
    with pytest.raises(QueryError):
        filled.search("  ")


def test_postgres_search_suggests_spellings_from_the_vocabulary(filled) -> None:
    result = filled.search("chemotheraphy")
    assert "chemotherapy" in result.suggestions
    assert _ids(result)[0] == 2  # the likely spelling is searched too


def test_postgres_search_pages_and_dates(filled) -> None:
    every = filled.search("syndrome OR bone", Request(limit=0))
    assert every.total == len(every.hits) >= 3
    second = filled.search("syndrome OR bone", Request(limit=1, offset=1))
    assert _ids(second) == _ids(every)[1:2]
    newest = filled.search("noonan", Request(sort="date"))
    assert sorted(_ids(newest), reverse=True) == _ids(newest)  # same second: higher id first


def test_postgres_filters_alone_browse(filled) -> None:
    result = filled.search("category:oncology")
    assert _ids(result) == [1, 2] and result.total == 2


def test_postgres_related_entries_share_the_topic(filled) -> None:
    assert [h.entry.id for h in filled.related(4)] == [5]
    assert filled.related(3) == []


def test_postgres_related_after_get_reads_the_entry_once_and_not_after_an_edit(filled) -> None:
    """kb show reads the entry, then its related entries: their subject is the entry read."""
    from kb.postgres import searching

    alone = [(h.entry.id, h.score) for h in searching.related(filled.conn, 4)]
    shown = filled.get(4)
    assert [(h.entry.id, h.score) for h in searching.related(filled.conn, 4, shown=shown)] == alone
    assert [(h.entry.id, h.score) for h in filled.related(4)] == alone
    shown.title, shown.question = "Watering tomatoes", "How often should I water tomato plants?"
    filled.update(shown)
    assert [h.entry.id for h in filled.related(4)] == [3]  # read again after the edit: about tomatoes now


@pytest.mark.parametrize(
    "query",
    ["noonan syndrome", "can a bone scan be wrong about cancer", "water tomato", '"noonan syndrome" heart', "chemo*"],
)
def test_postgres_scores_as_the_files_backend(filled, tmp_path, query) -> None:
    """BM25 over the postings gives the files backend's order (kb.postgres.postings); the
    scores differ by the files backend's second stage (fusion.add_topic), not run here."""
    from kb.api import KnowledgeBase

    files = KnowledgeBase(tmp_path / "kb")
    files.add_many([Entry.from_dict(e.to_dict()) for e in ENTRIES])
    ours = [(h.entry.id, h.score) for h in filled.search(query)]
    theirs = [(h.entry.id, h.score) for h in files.search(query)]
    assert [i for i, _ in ours] == [i for i, _ in theirs]


def _conjunction_corpus() -> list[Entry]:
    """14 entries hold both "bone" and "scan", 6 "bone" and "density", 4 "scan" alone, 30 neither."""
    made = []
    for k in range(14):
        made.append(
            Entry(title=f"Bone scan {k}", question=f"Why a bone scan after treatment {k}?", answer="Detail " * (k + 1))
        )
    for k in range(6):
        made.append(Entry(title=f"Bone density {k}", question="What does bone density say?", answer="More " * (k + 1)))
    for k in range(4):
        made.append(Entry(title=f"CT scan {k}", question="How long does a CT scan take?", answer="Minutes " * (k + 1)))
    for k in range(30):
        made.append(Entry(title=f"Tomatoes {k}", question="How often to water tomatoes?", answer="Twice " * (k + 1)))
    return made


@pytest.mark.parametrize(("query", "total"), [("bone scan", 14), ("bone density", 20)])
def test_postgres_conjunction_of_two_words_as_the_files_backend(pg, tmp_path, monkeypatch, query, total) -> None:
    """Two common words: the entries holding both when enough do (scored from their postings
    rows joined by entry), else all holding either; as the files backend, ids and total."""
    from kb.api import KnowledgeBase
    from kb.search import fusion

    monkeypatch.setattr(fusion, "CANDIDATES", 4)  # a list's depth: 11 entries for a page of 10
    monkeypatch.setattr(fusion, "SCORE_DEPTH", 1)
    pg.add_many(_conjunction_corpus())
    files = KnowledgeBase(tmp_path / "kb")
    files.add_many(_conjunction_corpus())
    ours, theirs = pg.search(query), files.search(query)
    assert ours.total == theirs.total == total
    assert _ids(ours) == _ids(theirs)
    if total == 14:
        assert all("bone scan" in h.entry.title.lower() for h in ours)


def test_postgres_related_is_the_same_topic_as_on_files(pg) -> None:
    # The files backend's garden (tests/search/test_fusion.py): four entries on roses, and
    # lavender, which shares "when should I prune" with entry 2 but not its topic; the
    # heads count a title their question repeats once on both backends (RELATED_ALONE).
    pg.add_many([Entry(title=t, question=q, answer=a, category="Gardening") for t, q, a in GARDEN])
    related = _ids(pg.related(1, limit=5))
    assert set(related) <= {2, 3, 4} and related, related
    assert 6 not in _ids(pg.related(2, limit=5))
