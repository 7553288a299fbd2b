"""Aliases the entries define ("ringing in the ears (tinnitus)"): what is learned from their
text, what a question then also searches, and how writes keep the counts current."""

from __future__ import annotations

import pytest

from kb.models import Entry
from kb.search import aliases, vocabulary


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(left.key, right.key) for left, right in aliases.definitions(text)]


@pytest.mark.parametrize(
    "text,expected",
    [
        # Every extent of the left side, back to the clause's start ("and", a comma); of
        # two words or more where the right side has one (one word for one word is never
        # searched).
        ("Symptoms are dizziness and ringing in the ears (tinnitus).", [("ringing ear", "tinnitu")]),
        (
            'a stroke or transient ischemic attack ("mini-stroke") may follow',
            [
                ("attack", "mini stroke"),
                ("ischemic attack", "mini stroke"),
                ("transient ischemic attack", "mini stroke"),
            ],
        ),
        (
            "Early treatment for TIAs, sometimes called mini-strokes, helps.",
            [("tia", "mini stroke"), ("treatment tia", "mini stroke"), ("early treatment tia", "mini stroke")],
        ),
        (
            'a "mini-stroke," also called a TIA or a transient ischemic attack.',
            [("mini stroke", "tia"), ("mini stroke", "transient ischemic attack")],
        ),
        (
            "Stevens-Johnson syndrome (also known as erythema multiforme major) is rare.",
            [("syndrome", "erythema multiforme major"), ("steven johnson syndrome", "erythema multiforme major")],
        ),
        ("Trichinellosis, also called trichinosis, is rare.", []),
    ],
)
def test_aliases_definitions(text, expected):
    assert sorted(_pairs(text)) == sorted(expected)


@pytest.mark.parametrize(
    "text",
    [
        "Symptoms begin in adulthood (usually in the 40s) and progress.",  # an aside, not a name
        "Adult acute lymphoblastic leukemia (ALL) is a cancer.",  # an abbreviation's business
        "Take it twice a day (see below).",
        "It is caused by a change (2) in one gene.",
        "Patients (when available) may join a trial.",
    ],
)
def test_aliases_not_learned_from_asides(text):
    assert _pairs(text) == []


def test_aliases_key_drops_stop_words_plurals_and_hyphens():
    assert aliases.key("ringing in my ears") == aliases.key("Ringing in the ears") == "ringing ear"
    assert aliases.key("mini stroke") == aliases.key("Mini-Strokes") == "mini stroke"


def test_aliases_choose_keeps_the_extent_the_definitions_use():
    rows = [
        aliases.Alias("ear", "tinnitu", "ears", "tinnitus", 5),
        aliases.Alias("ringing ear", "tinnitu", "ringing in the ears", "tinnitus", 5),
        aliases.Alias("well ringing ear", "tinnitu", "well as ringing in the ears", "tinnitus", 1),
    ]
    # "ears" alone is always "ringing in the ears": it brings nothing.
    assert aliases.choose(rows, {"ear"}, 2) == []
    assert aliases.choose(rows, {"ringing", "ear", "ringing ear"}, 2) == [("ringing in the ears", "tinnitus", 5)]
    # The other way: the commonest extent that stands on its own.
    assert aliases.choose(rows, {"tinnitu"}, 2) == [("tinnitus", "ringing in the ears", 5)]
    # Too few definitions.
    assert aliases.choose(rows, {"ringing ear"}, 6) == []


def _defining(start: int, count: int) -> list[Entry]:
    return [
        Entry(
            id=start + k,
            title=f"Hearing note {start + k}",
            question=f"What else can go wrong {start + k}?",
            answer="Loud music can cause hearing loss and ringing in the ears (tinnitus).",
        )
        for k in range(count)
    ]


def _entries() -> list[Entry]:
    return [
        *_defining(1, 2),
        Entry(id=3, title="Tinnitus", question="What is tinnitus?", answer="A sound that has no outside source."),
        Entry(id=4, title="My ears", question="How do I clean my ears?", answer="Gently, with a warm cloth."),
        *(Entry(id=10 + i, title=f"Other {i}", question="Anything?", answer="Something.") for i in range(20)),
    ]


@pytest.fixture
def index(index_of):
    return index_of(_entries())


def _ids(index, query: str) -> list[int]:
    return [hit.entry.id for hit in index.search(query).hits]


def test_aliases_lay_phrase_finds_the_entries_term(index):
    # Without the alias "ears" puts entry 4 first and no head says "ringing".
    assert _ids(index, "ringing in my ears")[0] == 3


def test_aliases_not_added_where_the_heads_use_the_questions_words(index_of):
    named = Entry(id=5, title="Ringing in the ears", question="Why do my ears ring?", answer="Many reasons.")
    index = index_of([*_entries(), named])
    assert _ids(index, "ringing in my ears")[0] == 5
    assert 3 not in _ids(index, "ringing in the ears")


def test_aliases_one_definition_is_not_enough(index_of):
    index = index_of([e for e in _entries() if e.id != 2])
    assert 3 not in _ids(index, "ringing in my ears")


def test_aliases_counted_in_and_out_by_writes(index):
    def count() -> int:
        row = index.conn.execute("SELECT n FROM aliases WHERE lkey = 'ringing ear' AND rkey = 'tinnitu'").fetchone()
        return row[0] if row else 0

    assert count() == 2
    index.upsert(_defining(100, 1), "sig-2")
    assert count() == 3
    index.delete([1, 2], "sig-3")
    assert count() == 1
    assert 3 not in _ids(index, "ringing in my ears")  # one definition left
    # An edit counts the old text out and the new one in.
    index.upsert([Entry(id=100, title="Hearing note", question="What?", answer="Nothing defined here.")], "sig-4")
    assert count() == 0
    assert index.conn.execute("SELECT count(*) FROM aliases").fetchone()[0] == 0
    index.rebuild(_entries(), "sig-5")
    assert count() == 2


def test_vocabulary_learn_counts_both_kinds():
    learned = vocabulary.learn(
        ["A urinary tract infection (UTI) and ringing in the ears (tinnitus).", "Nothing here.", ""]
    )
    assert learned.abbreviations == {("uti", "urinary tract infection"): 1}
    assert ("ringing ear", "tinnitu") in learned.aliases
    assert learned.texts[("ringing ear", "tinnitu")] == ("ringing in the ears", "tinnitus")
