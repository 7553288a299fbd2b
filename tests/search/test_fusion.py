"""Fusing the whole entry's BM25 with its head's: the pure functions, then what they buy."""

from __future__ import annotations

import pytest

from kb.models import Entry
from kb.search import fusion, sql
from kb.search.features import kind_words
from kb.search.index import SearchIndex
from kb.search.results import Hit
from kb.search.schema import head_question


def test_fuse_head_counts_twice_the_whole():
    # b is the best on the head, a on the whole entry: the head weighs more.
    fused = fusion.fuse({1: 10.0, 2: 5.0}, {1: 1.0, 2: 4.0})
    assert [i for i, _ in fused] == [2, 1]
    assert fused[0][1] == pytest.approx(0.5 + fusion.HEAD_WEIGHT * 1.0)


def test_fuse_scores_are_relative_to_the_best_of_each_kind():
    small = fusion.fuse({1: 2.0, 2: 1.0}, {1: 0.2, 2: 0.1})
    large = fusion.fuse({1: 200.0, 2: 100.0}, {1: 20.0, 2: 10.0})
    assert small == large


def test_fuse_keeps_only_entries_the_whole_query_matches():
    # An entry the head found but whose answer has an excluded word has no whole score.
    fused = fusion.fuse({1: 3.0}, {1: 1.0, 7: 5.0})
    assert [i for i, _ in fused] == [1]


def test_fuse_breaks_ties_by_id_and_survives_no_head():
    assert [i for i, _ in fusion.fuse({5: 1.0, 3: 1.0}, {})] == [3, 5]
    assert fusion.fuse({}, {}) == []


def _hit(n: int, score: float) -> Hit:
    return Hit(Entry(question=f"q{n}", answer=f"a{n}", id=n), score, "")


def test_close_to_best_drops_answers_far_below_the_first():
    hits = [_hit(1, 3.0), _hit(2, 2.0), _hit(3, 1.49), _hit(4, 1.6)]
    assert [h.entry.id for h in fusion.close_to_best(hits)] == [1, 2, 4]
    assert fusion.close_to_best([]) == []


GARDEN = [
    # One topic, several kinds of question, as a gardening FAQ has them.
    ("Roses", "How often should I water roses?", "Deeply, about once a week; more in sandy soil."),
    ("Roses", "When should I prune roses?", "In late winter, as the buds swell, cut out dead wood first."),
    ("Roses", "Why are my rose leaves turning yellow?", "Usually black spot or too much water; check the soil."),
    ("Roses", "What should I feed roses with?", "A balanced feed in spring and again after the first flush."),
    # A long answer that mentions roses and pruning in passing, on another topic.
    (
        "Clematis",
        "Which clematis group is mine?",
        "Clematis fall into three pruning groups. "
        + "Unlike roses, pruning clematis depends on when it flowers. " * 12,
    ),
    ("Lavender", "When should I prune lavender?", "Right after flowering, never into old wood."),
    # Other plants, so that "roses" is a word of a few entries, as in any real garden FAQ
    # (BM25 gives a word in more than half of the entries no weight at all).
    ("Tomatoes", "Why do my tomato leaves curl?", "Heat and uneven watering; mulch and water in the morning."),
    ("Tomatoes", "When do I plant tomatoes out?", "After the last frost, once nights stay above 10 C."),
    ("Apple trees", "How do I thin apples?", "In early summer leave one fruit per cluster, a hand apart."),
    ("Lawns", "How short should I mow the lawn?", "Never take more than a third of the blade at once."),
    ("Hydrangeas", "Why are my hydrangeas pink not blue?", "Blue needs acid soil; add sulphur or ericaceous compost."),
    ("Compost", "What can go in the compost?", "Green and brown waste in equal parts; no meat or dairy."),
    ("Basil", "Why does my basil wilt?", "Too cold or waterlogged; keep it warm and water from below."),
    ("Seeds", "How deep do I sow seeds?", "About twice as deep as the seed is wide."),
]


@pytest.fixture(scope="module")
def garden(tmp_path_factory):
    ix = SearchIndex(tmp_path_factory.mktemp("garden") / "kb.index.sqlite")
    entries = [
        Entry(title=t, question=q, answer=a, category="Gardening", id=i) for i, (t, q, a) in enumerate(GARDEN, 1)
    ]
    ix.rebuild(entries, "garden")
    yield ix
    ix.close()


@pytest.mark.parametrize(
    "question,expected",
    [
        ("how often do roses need watering", 1),
        ("my roses are overgrown, when is the right time to prune them?", 2),
        ("help, the leaves on my rose bush went yellow", 3),
        ("what fertiliser is best to feed my roses", 4),
        ("pruning lavender", 6),
    ],
)
def test_ranking_the_question_that_asks_the_same_thing_comes_first(garden, question, expected):
    assert [h.entry.id for h in garden.search(question, limit=3)][:1] == [expected]


def test_ranking_a_long_answer_does_not_outvote_the_head(garden):
    # The clematis answer says "roses" and "pruning" twelve times each; entry 2 asks it.
    ids = [h.entry.id for h in garden.search("pruning roses", limit=6)]
    assert ids.index(2) < ids.index(5)


def test_ranking_pages_follow_the_fused_order(garden):
    whole = [h.entry.id for h in garden.search("roses", limit=10)]
    paged = [h.entry.id for off in range(0, len(whole), 2) for h in garden.search("roses", limit=2, offset=off)]
    assert paged == whole
    assert garden.search("roses", limit=2).total == len(whole)


def test_ranking_latest_orders_by_date_not_by_score(garden):
    result = garden.search("roses", latest=True, limit=10)
    dates = [h.entry.updated_at or h.entry.created_at or "" for h in result]
    assert dates == sorted(dates, reverse=True)


def test_related_is_the_same_topic_and_none_rather_than_noise(garden):
    related = [h.entry.id for h in garden.related(1, limit=5)]
    assert set(related) <= {2, 3, 4} and related, related
    # Lavender shares "when should I prune" with entry 2, but not its topic.
    assert 6 not in [h.entry.id for h in garden.related(2, limit=5)]


def test_head_question_keeps_the_words_the_title_does_not_hold():
    assert head_question("Stroke", "What causes Stroke ?") == "What causes"
    # Compared as the index folds words (case, accents), not by stem.
    assert head_question("Sjögren Syndrome (Treatment)", "What are the treatments for sjogren SYNDROME?") == (
        "What are the treatments for"
    )
    assert head_question("Stroke (Treatment)", "Stroke (Treatment)") == ""
    assert head_question("", "What causes Stroke?") == "What causes Stroke?"


def test_kind_words_are_what_a_question_adds_to_its_title_beyond_stop_words():
    assert kind_words("Stroke", "What CAUSES Stroke ?") == ["causes"]
    assert kind_words("Macular Degeneration", "What is (are) Macular Degeneration ?") == []
    assert kind_words("", "Is it inherited?") == ["inherited"]


def test_add_kind_puts_an_entry_that_asks_something_else_below():
    fused = [(1, 3.0), (2, 2.9), (3, 2.0)]
    assert [i for i, _ in fusion.add_kind(fused, {1: 1.0, 2: 0.0})] == [2, 1, 3]
    assert fusion.add_kind(fused, {}) == fused


def test_a_head_counts_a_title_its_question_repeats_once(tmp_path):
    # Entry 1's question restates its title, so the title's words stood twice in its head;
    # entry 2 names the topic once and asks the same: their heads now say the same.
    entries = [
        Entry(id=1, title="Tomato blight", question="Tomato blight: what is tomato blight?", answer="A mould."),
        Entry(id=2, title="", question="What is tomato blight?", answer="A mould."),
        *(Entry(id=n, title=f"Other {n}", question=f"Question {n}?", answer="Something else.") for n in range(3, 12)),
    ]
    with SearchIndex(tmp_path / "kb.index.sqlite") as ix:
        ix.rebuild(entries, "blight")
        head = dict(ix.conn.execute(*sql.scores("head", '"tomato" OR "blight"', [1, 2])).fetchall())
        assert head[1] == pytest.approx(head[2])
        # The head's title stays whole: title: still finds a title word its question repeats.
        assert [h.entry.id for h in ix.search("title:blight")] == [1]
