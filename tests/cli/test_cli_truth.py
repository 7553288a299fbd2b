"""Every command tells the truth: counts, limits, offsets and the messages around them.

The store is the bundled samples (seeds and data) plus twenty small entries, so that a
category and a search have more than one page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from tests.conftest import DATA, SEEDS, make_entry


@pytest.fixture
def samples(kb_db: Path) -> Path:
    with KnowledgeBase.open(kb_db) as kb:
        kb.ingest([str(SEEDS), str(DATA)])
        kb.add_many([make_entry(n) for n in range(1, 21)])  # category General, "gardening"
    return kb_db


def _notes(result) -> list[str]:
    return result.stderr.strip().splitlines()


# -- counts and limits ------------------------------------------------------------------


def test_list_footer_counts_the_filtered_entries(samples: Path, cli) -> None:
    result = cli("list", "-c", "Home", "--offset", "3")
    assert result.exit_code == 0
    assert _notes(result) == ["showing 4-5 of 5 entries"]


def _total(db: Path) -> int:
    with KnowledgeBase.open(db) as kb:
        return kb.count()


def test_list_hint_only_when_more_remain(samples: Path, cli) -> None:
    total = _total(samples)  # the samples and 20 more, over 30
    assert _notes(cli("list", "-c", "Home", "-n", "2")) == ["showing 1-2 of 5 entries (--limit/--offset for more)"]
    assert _notes(cli("list", "-n", "0")) == []
    assert _notes(cli("list", "-n", "0", "--offset", "30")) == [f"showing 31-{total} of {total} entries"]
    assert _notes(cli("list", "-n", "30")) == [f"showing 1-30 of {total} entries (--limit/--offset for more)"]


def test_list_past_the_end_says_nothing_is_at_that_offset(samples: Path, cli) -> None:
    # Paging past the end is not a miss (the exit-code rule): the footer says what there is.
    result = cli("list", "--offset", "99999")
    assert result.exit_code == 0
    assert _notes(result) == [f"nothing at offset 99999: there are {_total(samples)} entries"]
    filtered = cli("list", "-c", "Home", "--offset", "99999")
    assert filtered.exit_code == 0
    assert _notes(filtered) == ["nothing at offset 99999: 5 entries match these filters"]


def test_search_limit_zero_prints_every_match(samples: Path, cli) -> None:
    result = cli("search", "gardening", "-n", "0", "--format", "ids")
    assert result.exit_code == 0
    every = cli("search", "gardening", "-n", "1000", "--format", "ids").stdout.split()
    assert len(every) > 10
    assert result.stdout.split() == every
    assert "more" not in result.stderr
    assert len(json.loads(cli("search", "gardening", "--json").stdout)) == 10


def test_experts_limit_is_honoured(samples: Path, cli) -> None:
    every = json.loads(cli("experts", "--json").stdout)
    assert len(every) > 2
    result = cli("experts", "-n", "2", "--json")
    assert [e["name"] for e in json.loads(result.stdout)] == [e["name"] for e in every[:2]]
    table = cli("experts", "-n", "2")
    assert table.exit_code == 0
    assert len(table.stdout.strip().splitlines()) == 3  # header and two experts


def test_search_on_an_empty_store_says_it_is_empty(empty_store: Path, cli) -> None:
    result = cli("search", "foo")
    assert result.exit_code == 1
    assert "the knowledge base is empty" in result.stderr
    assert "kb ingest" in result.stderr


@pytest.mark.parametrize("query", [[""], ["  "], ["", ""]])
def test_search_with_an_empty_query_is_a_usage_error(samples: Path, cli, query: list[str]) -> None:
    result = cli("search", *query)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert len(_notes(result)) <= 2, result.stderr


# -- kb list tags ------------------------------------------------------------------------


def test_list_tags_counts_entries_per_tag(samples: Path, cli) -> None:
    result = cli("list", "tags", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    counts = {r["tag"]: r["count"] for r in rows}
    assert counts["t"] == 20 and counts["diy"] == 4
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    table = cli("list", "tags")
    assert table.stdout.splitlines()[0].split() == ["tag", "entries"]
    assert any(line.split() == ["diy", "4"] for line in table.stdout.splitlines())
    assert cli("list", "tags", "--format", "ids").stdout.splitlines()[:1] == ["t"]
