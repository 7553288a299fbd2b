"""Abbreviations the entries define: found in their text, and searched by their long form."""

from __future__ import annotations

import pytest

from kb.models import Entry
from kb.search import abbreviations


@pytest.mark.parametrize(
    "text,expected",
    [
        ("A urinary tract infection (UTI) is common.", [("uti", "urinary tract infection")]),
        ("Atrial fibrillation (AFib) is an arrhythmia.", [("afib", "atrial fibrillation")]),
        ("after transient ischemic attacks (TIAs), see", [("tia", "transient ischemic attacks")]),
        ("Chronic obstructive pulmonary disease (COPD).", [("copd", "chronic obstructive pulmonary disease")]),
        # Not definitions: a lower-case aside, a single capital, letters the words lack.
        ("What is (are) asthma? Take it (daily). Vitamin (D). the heart (ECG)", []),
    ],
)
def test_abbreviations_definitions(text, expected):
    assert abbreviations.definitions(text) == expected


def _entries() -> list[Entry]:
    defining = [
        Entry(id=i, title=f"Kidney note {i}", question="What else?", answer="A urinary tract infection (UTI) hurts.")
        for i in (1, 2)
    ]
    return [
        *defining,
        Entry(
            id=3, title="Urinary tract infections", question="How to prevent urinary tract infections?", answer="Drink."
        ),
        Entry(id=4, title="Keep your kidneys healthy", question="How do I keep my kidneys healthy?", answer="Water."),
        Entry(id=5, title="COPD", question="What is COPD?", answer="Chronic obstructive pulmonary disease (COPD)."),
        Entry(
            id=6,
            title="COPD care",
            question="Living with COPD?",
            answer="Chronic obstructive pulmonary disease (COPD).",
        ),
        Entry(id=7, title="Lungs", question="What is chronic obstructive pulmonary disease?", answer="A lung disease."),
        # "keep" is a common word, as it is in any knowledge base of some size.
        *(Entry(id=10 + i, title=f"Keep fit {i}", question="How do I keep going?", answer="Walk.") for i in range(8)),
        *(Entry(id=20 + i, title=f"Other {i}", question="Anything?", answer="Something.") for i in range(20)),
    ]


@pytest.fixture
def index(index_of):
    return index_of(_entries())


def test_abbreviations_short_form_finds_the_spelled_out_topic(index):
    # Without the expansion, "keep" puts entry 4 first and no head names "utis".
    result = index.search("I keep getting UTIs")
    assert result.hits[0].entry.id == 3


def test_abbreviations_not_expanded_where_the_entries_use_the_short_form(index):
    # Two heads say COPD, one spells it out: the short form is the entries' own word.
    result = index.search("what is copd")
    assert [hit.entry.id for hit in result.hits][:2] in ([5, 6], [6, 5])
    assert 7 not in [hit.entry.id for hit in result.hits]


def test_abbreviations_counted_afresh_by_a_rebuild(index):
    index.rebuild(_entries()[2:], "sig-2")
    rows = index.conn.execute("SELECT short, n FROM abbreviations ORDER BY short").fetchall()
    assert rows == [("copd", 2)]


def _a_short_form_that_is_also_a_word() -> list[Entry]:
    defining = "Multiple endocrine neoplasia (MEN) is a group of disorders. MEN affects the glands."
    return [
        Entry(id=1, title="Multiple endocrine neoplasia", question="What is it?", answer=defining),
        Entry(id=2, title="Multiple endocrine neoplasia type 2", question="What causes it?", answer=defining),
        Entry(
            id=3,
            title="Breast cancer in men",
            question="Can men get breast cancer?",
            answer="Yes: men have breast tissue, and breast cancer in men is rare.",
        ),
        *(
            Entry(id=10 + i, title=f"Health {i}", question="Who?", answer="Both men and women, and older men.")
            for i in range(4)
        ),
        *(Entry(id=20 + i, title=f"Other {i}", question="Anything?", answer="Something.") for i in range(20)),
    ]


def test_abbreviations_a_word_the_entries_write_in_small_letters_is_not_expanded(index_of):
    index = index_of(_a_short_form_that_is_also_a_word())
    # The entries define MEN twice, but write "men" as a word eight times as often: read
    # as the abbreviation, it put the two MEN entries first.
    assert [hit.entry.id for hit in index.search("is it common in men").hits][:2] == [3, 10]
    assert not abbreviations.mostly_capitals("men", ["Both men and women.", "Men, older men and MEN."])
    # Typed in capitals, it is the abbreviation.
    assert index.search("MEN").hits[0].entry.id in (1, 2)
