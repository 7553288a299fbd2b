"""Tests for the Q/A text parser (kb.parsers.qa)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.errors import ParseError
from kb.parsers import qa
from kb.parsers.json import question_key

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "qa"


def test_qa_sample_parses_every_pair_with_headers():
    text = (DATA / "faq.txt").read_text(encoding="utf-8")
    entries = qa.parse(text, "data/faq.txt")
    assert len(entries) == 3
    assert [e.title for e in entries] == ["Dripping kitchen tap", "Radiator cold at the top", ""]
    for e in entries:
        assert e.category == "Home"
        assert e.tags == ["home", "maintenance", "diy"]
        assert e.expert is not None and e.expert.name == "Marta Kowalczyk"
        assert e.source.format == "qa" and e.source.path == "data/faq.txt"
    assert [e.source.key for e in entries] == [question_key(e.question) for e in entries]
    # The pair starts at its Title line; the third pair has no title of its own.
    assert entries[0].source.line == 5
    assert text.split("\n")[entries[2].source.line - 1].startswith("Q:")
    # Paragraphs inside an answer are kept; the next pair's title is not part of it.
    assert "\n\nTurn off the isolation valve" in entries[0].answer
    assert "Title:" not in entries[0].answer
    assert entries[1].raw.startswith("Title: Radiator cold at the top\nQ: One radiator")


def test_qa_single_pair_keeps_whole_text_as_raw():
    text = "Q: Is it safe to microwave a mug with a metal rim?\nA: No, the rim can spark.\n"
    (entry,) = qa.parse(text, "one.txt")
    assert entry.raw == text
    assert entry.question == "Is it safe to microwave a mug with a metal rim?"
    assert entry.source.line == 1 and entry.source.key == question_key(entry.question)


def test_qa_long_markers_multiline_and_crlf():
    text = (
        "Question: How do I\r\nbleed brakes?\r\n\r\n"
        "Answer:  Start with the wheel\r\nfarthest away.  \r\n\r\nThen work inward.\r\n"
    )
    (entry,) = qa.parse(text, "brakes.txt")
    assert entry.question == "How do I\nbleed brakes?"
    assert entry.answer == "Start with the wheel\nfarthest away.\n\nThen work inward."


def test_qa_nbsp_at_edges_is_stripped():
    (entry,) = qa.parse("Q:\u00a0Why?\u00a0\nA: Because\u00a0it\u00a0is.\u00a0\u00a0", "x")
    assert entry.question == "Why?"
    assert entry.answer == "Because\u00a0it\u00a0is."


@pytest.mark.parametrize(
    "text",
    [
        "**Q:** Why is the sky blue?\n**A:** Rayleigh scattering.",
        "q: Why is the sky blue?\na: Rayleigh scattering.",
        "Q1: Why is the sky blue?\nA1: Rayleigh scattering.",
        "Q. Why is the sky blue?\nA. Rayleigh scattering.",
        "QUESTION: Why is the sky blue?\nANSWER: Rayleigh scattering.",
    ],
)
def test_qa_marker_variants(text):
    (entry,) = qa.parse(text, "x")
    assert entry.question == "Why is the sky blue?"
    assert entry.answer == "Rayleigh scattering."


def test_qa_lettered_list_in_colon_file_stays_answer_text():
    text = "Q: How do I change a fuse?\nA: Like this:\nA. Switch off the mains.\nB. Pull the fuse."
    (entry,) = qa.parse(text, "x")
    assert entry.answer == "Like this:\nA. Switch off the mains.\nB. Pull the fuse."


def test_qa_orphan_question_fails_file_with_its_line():
    text = (FIXTURES / "orphan_question.txt").read_text(encoding="utf-8")
    with pytest.raises(ParseError) as info:
        qa.parse(text, "orphan.txt")
    assert info.value.line == 6
    assert "question at line 6 has no answer" in str(info.value)
    assert str(info.value).startswith("orphan.txt:6:")


def test_qa_trailing_question_without_answer():
    with pytest.raises(ParseError, match="question at line 3 has no answer"):
        qa.parse("Q: a?\nA: b.\nQ: c?\n", "x")


def test_qa_answer_without_question():
    with pytest.raises(ParseError, match="answer at line 3 has no question"):
        qa.parse("Q: a?\nA: b.\nA: c.\n", "x")


def test_qa_empty_answer_is_reported():
    with pytest.raises(ParseError, match="answer at line 2 is empty"):
        qa.parse("Q: Anyone?\nA:\n\n", "x")


def test_qa_no_markers():
    with pytest.raises(ParseError, match="no 'Q:'/'A:' markers"):
        qa.parse("Just some notes about roses.\n", "x")


def test_qa_detect_scores():
    assert qa.detect("Q: a?\nA: b.", "x") >= 0.8
    assert qa.detect("Q: a question with no answer yet", "x") < 0.5
    assert qa.detect("Dear Susan, thanks for the question.", "x") == 0.0
    assert qa.detect('{"question": "a", "answer": "b"}', "x") == 0.0
    assert qa.detect("question,answer\na,b\n", "x") == 0.0


@given(st.text())
def test_qa_arbitrary_text_raises_only_parse_error(text):
    assert 0.0 <= qa.detect(text, "fuzz") <= 1.0
    try:
        entries = qa.parse(text, "fuzz")
    except ParseError:
        return
    assert all(e.question and e.answer for e in entries)


MARKER_PIECES = ["Q: ", "A: ", "Question: ", "Answer:", "\n", "\r\n", "Title: t", "x", " ", "\u00a0", "**", "Q. ", "1"]


@given(st.lists(st.sampled_from(MARKER_PIECES), max_size=30))
def test_qa_marker_soup_raises_only_parse_error(parts):
    text = "".join(parts)
    qa.detect(text, "fuzz")
    try:
        qa.parse(text, "fuzz")
    except ParseError:
        pass
