"""The SQL builders of kb.search.sql, called without a database, then run on a real one."""

from __future__ import annotations

import pytest

from kb.search import sql
from kb.search.index import SearchIndex
from tests.conftest import make_entry


def test_filters_build_one_condition_per_kind_with_parameters() -> None:
    where = sql.filters({"tag": ["roses"], "category": ["Gardening", "Garden"]})
    assert where.clauses == ["e.category IN (?,?)", "e.id IN (SELECT id FROM entry_tags WHERE tag IN (?))"]
    assert where.params == ["Gardening", "Garden", "roses"]
    assert where.where() == ("WHERE e.category IN (?,?) AND e.id IN (SELECT id FROM entry_tags WHERE tag IN (?))")


def test_filters_that_resolved_to_nothing_pass_nothing() -> None:
    where = sql.filters({"expert": []})
    assert where.clauses == ["0"] and where.params == [] and bool(where)


def test_no_filters_give_no_where_clause() -> None:
    where = sql.filters({})
    assert not where and where.where() == ""


def test_order_by_reverses_every_part() -> None:
    assert sql.order_by("title") == "e.label COLLATE NOCASE, e.id"
    assert sql.order_by("date", descending=True) == "e.date DESC, e.id DESC"
    with pytest.raises(KeyError):
        sql.order_by("size")


def test_list_page_pages_with_parameters_never_text() -> None:
    statement, params = sql.list_page(sql.filters({"category": ["x' OR 1"]}), "id", False, None, 5)
    assert "x' OR 1" not in statement
    assert statement.endswith("ORDER BY e.id LIMIT ? OFFSET ?")
    assert params == ["x' OR 1", -1, 5]


def test_ranked_joins_entries_only_when_filters_or_dates_need_them() -> None:
    plain = sql.ranked('"bone"', sql.filters({}), latest=False, limit=10, offset=0)
    assert "JOIN" not in plain.page and "ORDER BY score DESC" in plain.page
    assert plain.page_params == ['"bone"', 10, 0] and plain.count_params == ['"bone"']
    filtered = sql.ranked('"bone"', sql.filters({"tag": ["x"]}), latest=True, limit=3, offset=6)
    assert "CROSS JOIN entries e" in filtered.page and "ORDER BY e.date DESC" in filtered.page
    assert filtered.page_params == ['"bone"', "x", 3, 6]
    assert filtered.count.startswith("SELECT count(*) FROM fts CROSS JOIN")


def test_browse_adds_the_exclusion_as_a_parameter() -> None:
    (count, count_params), (page, page_params) = sql.browse(sql.filters({}), '"prostate"', False, 10, 0)
    assert "NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)" in count
    assert count_params == ['"prostate"'] and page_params == ['"prostate"', 10, 0]


def test_built_statements_run_on_a_real_index(tmp_path) -> None:
    index = SearchIndex(tmp_path / "kb.index.sqlite")
    index.rebuild(
        [make_entry(1, id=1, category="Gardening", tags=["roses"]), make_entry(2, id=2, category="Other")], "sig"
    )
    statement, params = sql.list_page(sql.filters({"category": ["Gardening"]}), "id", False, None, 0)
    assert len(index.conn.execute(statement, params).fetchall()) == 1
    ranked = sql.ranked('"water"', sql.filters({"tag": ["roses"]}), latest=False, limit=10, offset=0)
    assert [row[0] for row in index.conn.execute(ranked.page, ranked.page_params)] == [1]
    index.close()


def test_filters_ignore_kinds_they_do_not_know() -> None:
    assert sql.filters({"bogus": ["x"]}).where() == ""


def test_count_entries_counts_what_the_filters_keep():
    statement, params = sql.count_entries(sql.filters({"category": ["Home"]}))
    assert statement == "SELECT count(*) FROM entries e WHERE e.category IN (?)"
    assert params == ["Home"]
    assert sql.count_entries(sql.filters({})) == ("SELECT count(*) FROM entries e ", [])
