"""Chinese and Japanese text: any run of two or more characters finds the entries holding it."""

from __future__ import annotations

import pytest

from kb.models import Entry
from kb.search import cjk
from kb.search.health import CORRUPT, HEALTHY, check_health


def make_entries() -> list[Entry]:
    return [
        Entry(
            id=1, title="糖尿病とは", question="糖尿病とはどんな病気ですか？", answer="血糖値が高い状態が続く病気です。"
        ),
        Entry(id=2, title="高血压", question="高血压应该吃什么药？", answer="请咨询医生。降压药有很多种。"),
        Entry(id=3, title="Diabetes", question="What is diabetes?", answer="A disease of high blood sugar (糖尿病)."),
        Entry(id=4, title="Flu", question="What is the flu?", answer="An infection of the nose and throat."),
    ]


@pytest.fixture
def index(index_of):
    return index_of(make_entries())


def ids(result) -> list[int]:
    return [hit.entry.id for hit in result.hits]


def test_cjk_pairs_of_a_run():
    assert cjk.pairs("糖尿病") == ["糖尿", "尿病"]
    assert cjk.pairs("病") == ["病"]
    assert cjk.runs("abc 糖尿病とは, ｶﾀｶﾅ") == ["糖尿病とは", "カタカナ"]
    assert cjk.phrases("糖尿病 ok") == ['"糖尿 尿病"']


def test_cjk_part_of_a_run_finds_the_entry(index):
    # The title's run is 糖尿病とは; the query names only 糖尿病.
    result = index.search("糖尿病")
    assert ids(result)[:1] == [1]
    assert set(ids(result)) == {1, 3}


def test_cjk_two_characters_find_chinese(index):
    assert ids(index.search("血压")) == [2]
    assert ids(index.search("降压药")) == [2]


def test_cjk_mixed_with_other_words(index):
    result = index.search("diabetes 糖尿病")
    assert set(ids(result)) == {1, 3}
    assert ids(result)[0] == 3  # found both ways


def test_cjk_no_match_says_so(index):
    result = index.search("肺炎")
    assert result.hits == [] and result.reason


def test_cjk_rows_follow_writes(index):
    index.upsert([Entry(id=1, title="Flu shot", question="When?", answer="Autumn.")], "sig-2")
    assert ids(index.search("糖尿病")) == [3]
    index.delete([3], "sig-3")
    assert ids(index.search("糖尿病")) == []
    assert index.conn.execute("SELECT count(*) FROM cjk").fetchone()[0] == 1  # entry 2 alone


def test_cjk_store_without_such_text_has_no_rows(index_of):
    ix = index_of(make_entries()[3:])
    assert ix.conn.execute("SELECT count(*) FROM cjk").fetchone()[0] == 0
    assert ix.search("flu").hits


def test_cjk_table_checked_by_the_health_check(index):
    path = index.path
    assert check_health(path).state == HEALTHY
    # A row whose postings no longer agree with its text fails FTS5's integrity-check.
    index.conn.execute("UPDATE cjk_content SET c1 = '別の 文字' WHERE id = 1")
    assert check_health(path).state == CORRUPT
