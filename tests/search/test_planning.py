"""Query planning on indexes large enough for it to matter: when a short query asks only for
the entries that hold all its words."""

from __future__ import annotations

import pytest

from kb.models import Entry
from kb.search import fusion
from kb.search.query import parse

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


def _family_entries() -> list[Entry]:
    """Entries titled with "pregnancy" whose answers say "pregnant", beside entries whose
    answers say "diagnosis" while their questions ask how to diagnose."""
    fields = [
        *(
            (f"Pregnancy and topic{i}", f"What about pregnancy and topic{i}?", "When you are pregnant...")
            for i in range(6)
        ),
        *((f"Illness{i}", f"How to diagnose illness{i}?", "A diagnosis takes a test.") for i in range(6)),
        *((f"Other {i}", f"Something else {i}?", "Maybe.") for i in range(4)),
    ]
    return [Entry(id=n, title=t, question=q, answer=a) for n, (t, q, a) in enumerate(fields, 1)]


def test_planning_a_word_also_searches_the_form_that_names_entries(index_of):
    index = index_of(_family_entries())
    should, _, _ = index._analyse(parse("pregnant"))
    assert [p.term.text for p in should] == ["pregnant", "pregnancy"]
    # "diagnosis" names no entry (answers hold it, questions say "diagnose"): not added.
    should, _, _ = index._analyse(parse("diagnosed"))
    assert [p.term.text for p in should] == ["diagnosed"]


def test_planning_a_short_word_also_searches_the_longer_word_that_names_entries(index_of):
    # "treat" (five letters) is the whole start of "treatment", which the titles and
    # questions use; the answers say "treat". A short word brings only words it begins.
    fields = [
        *((f"Illness{i} (Treatment)", f"What is the treatment for illness{i}?", "Doctors treat it.") for i in range(6)),
        *((f"Tree {i}", f"What tree is {i}?", "A tall tree.") for i in range(6)),
    ]
    index = index_of([Entry(id=n, title=t, question=q, answer=a) for n, (t, q, a) in enumerate(fields, 1)])
    should, _, _ = index._analyse(parse("treat"))
    assert [p.term.text for p in should] == ["treat", "treatment"]
