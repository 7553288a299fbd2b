"""Reading a query: bare numbers bound to their word, a term repeated counted once."""

from __future__ import annotations

import pytest

from kb.search import query


def texts(q: str) -> list[str]:
    return [t.text for t in query.parse(q).should]


@pytest.mark.parametrize(
    "q,expected",
    [
        ("spastic paraplegia 39", ["spastic", "paraplegia", "paraplegia 39"]),
        ("type 2 diabetes", ["type", "type 2", "diabetes"]),
        ("my 3 year old has a fever of 39", ["3 year", "year", "old", "fever"]),
        ("39", ["39"]),
        ("what is 39 and 40", ["39", "40"]),
        ("covid-19 vaccine", ["covid 19", "vaccine"]),
    ],
)
def test_query_numbers_bound_to_their_word(q, expected):
    assert texts(q) == expected


def test_query_number_alone_between_stop_words_is_dropped():
    parsed = query.parse("a fever of 39 what should i do")
    assert "39" in parsed.stopped and texts("a fever of 39 what should i do") == ["fever"]


def test_query_repeated_term_counted():
    parsed = query.parse("flu shot flu Flu")
    assert [(t.text, t.count) for t in parsed.should] == [("flu", 3), ("shot", 1)]
