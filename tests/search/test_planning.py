"""Query planning on indexes large enough for it to matter: when a short query asks only for
the entries that hold all its words."""

from __future__ import annotations

import pytest

from kb.models import Entry
from kb.search import fusion

DEPTH = fusion.CANDIDATES * fusion.SCORE_DEPTH


def _entries(both: int, one: int) -> list[Entry]:
    """``both`` entries about bone marrow, then ``one`` about bones alone, then filler."""
    out = []
    for i in range(both):
        out.append(Entry(id=len(out) + 1, title=f"Marrow {i}", question=f"Bone marrow test {i}?", answer="Yes."))
    for i in range(one):
        out.append(Entry(id=len(out) + 1, title=f"Bone {i}", question=f"Is bone number {i} broken?", answer="No."))
    for i in range(3 * DEPTH):  # so that "bone" is in fewer than half of the entries
        out.append(Entry(id=len(out) + 1, title=f"Other {i}", question=f"Something else {i}?", answer="Maybe."))
    return out


@pytest.fixture
def make_index(index_of):
    return lambda both, one: index_of(_entries(both, one))


def test_planning_enough_entries_with_every_word_are_searched_alone(make_index):
    index = make_index(both=DEPTH + 10, one=50)
    result = index.search("bone marrow", limit=10)
    assert result.total == DEPTH + 10
    assert all("marrow" in hit.entry.question.lower() for hit in result.hits)


def test_planning_too_few_with_every_word_falls_back_to_any_word(make_index):
    index = make_index(both=20, one=50)
    result = index.search("bone marrow", limit=100)
    assert result.total == 70
    # Entries with both words still come first.
    assert all("marrow" in hit.entry.question.lower() for hit in result.hits[:20])
