"""PostgreSQL ranks as the files backend does: the second stage (the topic's share of each
head, the kind of thing each entry asks), word families, spelling, long pasted text, and
Chinese and Japanese found by any run of two or more characters (the ``cjk`` table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.backend import Request
from kb.models import Entry
from kb.search import fusion
from kb.search.index import SearchIndex
from tests.search.test_cjk import make_entries as cjk_entries

HEALTH = [
    ("Macular Degeneration", "What is macular degeneration?", "An eye disease that blurs the centre of vision."),
    (
        "Stargardt Macular Degeneration",
        "Is Stargardt macular degeneration inherited?",
        "Yes: it is recessive, which means both parents pass on a gene; this means a child of two carriers "
        "has one chance in four.",
    ),
    ("Parkinson Disease", "What is Parkinson disease?", "A disorder of the brain that slows movement."),
    ("Parkinson Disease", "How is Parkinson disease treated?", "With levodopa and exercise."),
    (
        "Exercise for Older Adults",
        "How can older adults stay active?",
        "Older adults gain from walking; early signs of strain in older adults are a cue to rest. "
        "Any disease slows older adults.",
    ),
    ("Falls", "Why do older adults fall?", "Weak muscles, poor sight; early signs of disease in older adults matter."),
    ("Sleep", "How much sleep do we need?", "Adults need seven hours; older adults often sleep less."),
    ("Flu", "What is the flu?", "An infection of the nose and throat; older adults are at risk."),
    ("Vaccines", "Which vaccines do adults need?", "Flu every year; shingles for older adults."),
    ("Pregnancy", "What changes in pregnancy?", "Pregnancy lasts about forty weeks."),
    ("Pregnancy and Sleep", "How do I sleep well in pregnancy?", "Lie on your side."),
    ("Nausea", "Why am I sick in the morning?", "Many women feel sick when pregnant, early on."),
    ("Diet", "What is a healthy diet?", "Vegetables, fruit, whole grains."),
    ("Heart", "What keeps the heart healthy?", "Exercise and no smoking."),
    ("Heart attack", "What are the signs of a heart attack?", "Chest pain, breathlessness."),
    ("Skin", "How do I protect my skin?", "Sunscreen and shade."),
    ("Heat rash", "What is heat rash?", "Bumps in hot weather; you may hear it called prickly heat."),
    ("Teeth", "How often should I brush?", "Twice a day."),
    ("Water", "How much water should I drink?", "About two litres a day."),
]


def _entries() -> list[Entry]:
    return [Entry(title=t, question=q, answer=a, category="Health", id=i) for i, (t, q, a) in enumerate(HEALTH, 1)]


@pytest.fixture
def health(pg):
    pg.add_many(_entries())
    return pg


@pytest.fixture
def files_health(tmp_path: Path):
    index = SearchIndex(tmp_path / "kb.index.sqlite")
    index.rebuild(_entries(), "health")
    yield index
    index.close()


def _titles(result) -> list[str]:
    return [f"{h.entry.title} | {h.entry.question}" for h in result.hits]


# (question, the entry that must come first or before another, that other)
ORDERS = [
    # "mean" matches "which means" in the inheritance entry's answer; that entry asks
    # "inherited?", which the question does not (the kind stage).
    (
        "macular degeneration what does that mean",
        "Macular Degeneration | What is macular degeneration?",
        "Stargardt Macular Degeneration | Is Stargardt macular degeneration inherited?",
    ),
    # "older adults" fills the heads of entries on another topic; "parkinson" names the
    # question's topic (the topic stage: rare words' share of each head, weighed by how
    # often titles hold them).
    (
        "early signs of parkinson disease in older adults",
        "Parkinson Disease | How is Parkinson disease treated?",
        "Falls | Why do older adults fall?",
    ),
]


@pytest.mark.parametrize("question,before,after", ORDERS, ids=["kind", "topic"])
def test_postgres_second_stage_orders_as_the_files_backend(health, files_health, question, before, after) -> None:
    on_pg = _titles(health.search(question, Request(limit=10)))
    assert on_pg.index(before) < on_pg.index(after), on_pg
    assert on_pg[:4] == _titles(files_health.search(question, limit=10))[:4]


@pytest.mark.parametrize("question,before,after", ORDERS, ids=["kind", "topic"])
def test_postgres_without_the_second_stage_the_order_is_wrong(
    health, monkeypatch: pytest.MonkeyPatch, question, before, after
) -> None:
    # What the stage is for: without it (both weights 0) the wrong entry comes first.
    monkeypatch.setattr(fusion, "TOPIC_WEIGHT", 0.0)
    monkeypatch.setattr(fusion, "KIND_WEIGHT", 0.0)
    on_pg = _titles(health.search(question, Request(limit=10)))
    assert on_pg.index(after) < on_pg.index(before), on_pg


def test_postgres_stems_count_the_titles_that_hold_them(health) -> None:
    counts = dict(health.conn.execute("SELECT term, tdf FROM stems WHERE term IN ('parkinson', 'older', 'adult')"))
    assert counts == {"parkinson": 2, "older": 1, "adult": 1}
    health.remove([3])
    assert health.conn.execute("SELECT tdf FROM stems WHERE term = 'parkinson'").fetchone()[0] == 1


def test_postgres_word_families_find_the_knowledge_base_word(health, files_health) -> None:
    # "pregnant" also searches "pregnancy", the word of the entries' titles.
    on_pg = _titles(health.search("sleep while pregnant", Request(limit=3)))
    assert on_pg[0] == "Pregnancy and Sleep | How do I sleep well in pregnancy?"
    assert on_pg == _titles(files_health.search("sleep while pregnant", limit=3))


def test_postgres_a_spelled_right_word_of_a_phrase_gets_no_suggestion(health) -> None:
    # "heat" and "hear" are a letter from "heart", which the entries hold: no suggestion.
    assert health.search('"heart atack"').suggestions == ["attack"]


def test_postgres_long_pasted_text_searches_its_informative_words(health) -> None:
    # Far more distinct words than a question has, with a quote and a dash: punctuation.
    filler = " ".join(f'word{n} "quoted{n} -minus{n}' for n in range(80))
    result = health.search(f"{filler} parkinson disease treated levodopa", Request(limit=3))
    assert result.reason is None and result.hits
    assert result.hits[0].entry.question == "How is Parkinson disease treated?"


def _ids(result) -> list[int]:
    return [h.entry.stored_id() for h in result.hits]


@pytest.fixture
def cjk_store(pg):
    pg.add_many(cjk_entries())
    return pg


def test_postgres_cjk_part_of_a_run_finds_the_entry(cjk_store) -> None:
    # The title's run is 糖尿病とは; the query names only 糖尿病 (entry 3 has it in its answer).
    result = cjk_store.search("糖尿病")
    assert _ids(result)[:1] == [1] and set(_ids(result)) == {1, 3} and result.total == 2


def test_postgres_cjk_two_characters_find_chinese(cjk_store) -> None:
    assert _ids(cjk_store.search("血压")) == [2]
    assert _ids(cjk_store.search("降压药")) == [2]
    assert _ids(cjk_store.search("高血压 OR 糖尿病"))  # several runs: any of them


def test_postgres_cjk_mixed_with_other_words(cjk_store) -> None:
    result = cjk_store.search("diabetes 糖尿病")
    assert set(_ids(result)) == {1, 3} and _ids(result)[0] == 3  # found both ways


def test_postgres_cjk_no_match_says_so_and_filters_apply(cjk_store) -> None:
    result = cjk_store.search("肺炎")
    assert result.hits == [] and result.reason == "no entry has these words"
    assert _ids(cjk_store.search("糖尿病", Request(category="nothing-like-it"))) == []


def test_postgres_cjk_rows_follow_writes(cjk_store) -> None:
    entry = cjk_store.get(1)
    entry.title, entry.question, entry.answer = "Flu shot", "When?", "Autumn."
    cjk_store.update(entry, read_at=entry.updated_at)
    assert _ids(cjk_store.search("糖尿病")) == [3]
    cjk_store.remove([3])
    assert _ids(cjk_store.search("糖尿病")) == []
    assert cjk_store.conn.execute("SELECT entry FROM cjk").fetchall() == [(2,)]


def test_postgres_cjk_rows_only_for_entries_with_such_text(pg) -> None:
    pg.add_many(cjk_entries()[3:])
    assert pg.conn.execute("SELECT count(*) FROM cjk").fetchone()[0] == 0
    assert pg.search("flu").hits
