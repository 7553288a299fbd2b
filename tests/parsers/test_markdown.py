"""Tests for the Markdown parser and renderer (kb.parsers.markdown)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.errors import ParseError
from kb.models import EXPERT_FIELDS, Entry, Expert
from kb.parsers import markdown
from kb.parsers.json import clean_text
from kb.parsers.markdown import render_markdown

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "markdown"


def test_markdown_sample_parses_front_matter_and_sections():
    text = (DATA / "note.md").read_text(encoding="utf-8")
    (entry,) = markdown.parse(text, "data/note.md")
    assert entry.title == "Tomato leaves curling upward"
    assert entry.category == "Gardening"
    assert entry.tags == ["tomatoes", "vegetables", "greenhouse"]
    assert entry.created_at == "2024-05-14T09:30:00+00:00"
    assert entry.expert is not None
    assert entry.expert.name == "Dr. Helen Okafor"
    assert entry.expert.experience == (
        "Twenty years advising allotment societies.\n\nRuns the trial greenhouse at the county horticultural college."
    )
    assert entry.expert.education == "PhD in plant science"
    assert entry.question.startswith("The leaves on my greenhouse tomatoes")
    assert "\n\nKeep the greenhouse ventilated" in entry.answer
    assert entry.raw == text and entry.source.format == "markdown" and entry.source.key == "1"


def test_markdown_without_front_matter_takes_h1_title():
    text = (
        "# Fixing a sticky drawer\r\n\r\n### QUESTION\r\nIt sticks.\r\n# Answer:\r\nRub candle wax on the runners.\r\n"
    )
    (entry,) = markdown.parse(text, "x")
    assert entry.title == "Fixing a sticky drawer"
    assert entry.question == "It sticks."
    assert entry.answer == "Rub candle wax on the runners."
    assert entry.expert is None and entry.tags == [] and entry.created_at is None


def test_markdown_front_matter_title_wins_over_h1():
    text = "---\ntitle: From front matter\n---\n# From heading\n## Question\nq\n## Answer\na\n"
    (entry,) = markdown.parse(text, "x")
    assert entry.title == "From front matter"


def test_markdown_front_matter_yaml_forms():
    text = """---
# a comment
title: 'It''s: a "title"'   # trailing comment
category: Home & Garden
tags:
  - roses
  - 'pruning, winter'
id: 12
uid: abcdef
updated_at: 2020-01-01
expert:
  name: Jo Bloggs
  education/credentials: ignored key
  publications: >
    Folded
    into one line.

    Second paragraph.
  awards: [Gold, "Silver, twice"]
created_at: 2024-01-02T03:04:05Z
---
## Question
q
## Answer
a
"""
    (entry,) = markdown.parse(text, "x")
    assert entry.title == 'It\'s: a "title"'
    assert entry.category == "Home & Garden"
    assert entry.tags == ["roses", "pruning, winter"]
    assert entry.created_at == "2024-01-02T03:04:05Z"
    assert entry.updated_at is None and entry.id is None
    assert entry.expert == Expert(
        name="Jo Bloggs",
        publications="Folded into one line.\n\nSecond paragraph.",
        awards="Gold, Silver, twice",
    )


@pytest.mark.parametrize(
    ("tags", "expected"),
    [("[a, 'b', \"c\"]", ["a", "b", "c"]), ("a, b; c", ["a", "b", "c"]), ("[]", []), ("[a, a, ]", ["a"])],
)
def test_markdown_tag_forms(tags, expected):
    text = f"---\ntags: {tags}\n---\n## Question\nq\n## Answer\na\n"
    assert markdown.parse(text, "x")[0].tags == expected


def test_markdown_expert_as_plain_name():
    text = "---\nexpert: Dr. Ann Lee\n---\n## Question\nq\n## Answer\na\n"
    assert markdown.parse(text, "x")[0].expert == Expert(name="Dr. Ann Lee")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('---\ntitle: "open\n---\n## Question\nq\n## Answer\na\n', 2, "bad double-quoted string"),
        ("---\ntitle: 'open\n---\n## Question\nq\n## Answer\na\n", 2, "not closed"),
        ("---\ntags: [a, b\n---\n## Question\nq\n## Answer\na\n", 2, "not closed"),
        ("---\ntitle: x\n  indented: y\n---\n## Question\nq\n## Answer\na\n", 3, "unexpected indentation"),
        ("---\njust words\n---\n## Question\nq\n## Answer\na\n", 2, "expected 'key: value'"),
        ('---\ntitle: "a" b\n---\n## Question\nq\n## Answer\na\n', 2, "unexpected text after value"),
        ("---\nexpert:\n  name:\n    deeper: x\n---\n## Question\nq\n## Answer\na\n", 4, "nested too deep"),
    ],
)
def test_markdown_front_matter_errors_name_the_line(text, line, reason):
    with pytest.raises(ParseError) as info:
        markdown.parse(text, "x.md")
    assert info.value.line == line
    assert reason in info.value.reason


def test_markdown_unclosed_front_matter_fixture():
    text = (FIXTURES / "unclosed_front_matter.md").read_text(encoding="utf-8")
    with pytest.raises(ParseError, match="front matter opened at line 1 is not closed"):
        markdown.parse(text, "u.md")


def test_markdown_missing_answer_fixture():
    text = (FIXTURES / "no_answer.md").read_text(encoding="utf-8")
    with pytest.raises(ParseError) as info:
        markdown.parse(text, "n.md")
    assert info.value.line == 5 and "has no '## Answer' section" in info.value.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Just text", "no '## Question' section"),
        ("## Answer\na\n## Question\nq\n", "has no question section before it"),
        ("## Question\nq\n## Answer\na\n## Question\nq2\n## Answer\na2\n", "a second 'question' section"),
        ("## Question\n\n## Answer\na\n", "question at line 1 is empty"),
        ("## Question\nq\n## Answer\n   \n", "answer at line 3 is empty"),
    ],
)
def test_markdown_body_errors(text, reason):
    with pytest.raises(ParseError, match=reason):
        markdown.parse(text, "x")


def test_markdown_render_escapes_heading_lines():
    entry = Entry(question="Is this\n## Answer\na heading?", answer="No:\n\\## Question\nstays text.\n---")
    text = render_markdown(entry)
    assert "\n\\## Answer\n" in text and "\n\\\\## Question\n" in text
    (back,) = markdown.parse(text, "x")
    assert back.question == entry.question and back.answer == entry.answer


def test_markdown_render_uses_blocks_for_readable_multiline_values():
    expert = Expert(name="A", experience="Line one.\n\n  Indented line.", awards="trailing \nspace")
    text = render_markdown(Entry(question="q", answer="a", expert=expert))
    assert "  experience: |\n    Line one.\n\n      Indented line.\n" in text
    assert '  awards: "trailing \\nspace"' in text
    assert markdown.parse(text, "x")[0].expert == expert


def test_markdown_render_sample_round_trip_is_stable():
    text = (DATA / "note.md").read_text(encoding="utf-8")
    (entry,) = markdown.parse(text, "x")
    assert render_markdown(entry) == text


def test_markdown_detect_scores():
    assert markdown.detect((DATA / "note.md").read_text(encoding="utf-8"), "x") >= 0.9
    assert markdown.detect("## Question\nq\n## Answer\na", "x") >= 0.9
    assert markdown.detect("# Notes\nsome text", "x") == 0.0
    assert markdown.detect("Q: a\nA: b", "x") == 0.0


@given(st.text())
def test_markdown_arbitrary_text_raises_only_parse_error(text):
    assert 0.0 <= markdown.detect(text, "fuzz") <= 1.0
    try:
        markdown.parse(text, "fuzz")
    except ParseError:
        pass


@given(
    st.lists(
        st.sampled_from(
            [
                "---",
                "title: ",
                '"',
                "'",
                "[",
                "]",
                ",",
                "|",
                ">",
                "  ",
                "- ",
                "expert:",
                "name: x",
                "\n",
                "## Question",
                "## Answer",
                "#",
                "x",
                "\\",
                ":",
                "\r\n",
            ]
        ),
        max_size=40,
    )
)
def test_markdown_front_matter_soup_raises_only_parse_error(parts):
    try:
        markdown.parse("".join(parts), "fuzz")
    except ParseError:
        pass


# Text that stresses the format: markers, fences, quotes, colons, edge spaces, odd breaks.
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(
            [
                "\n",
                "\r",
                " ",
                "\t",
                "\u00a0",
                "#",
                "-",
                ":",
                '"',
                "'",
                "\\",
                "|",
                ">",
                "[",
                "]",
                ",",
                "\u2028",
                "\x85",
                "\x1c",
                "\x0b",
            ]
        ),
        st.characters(codec="utf-8"),
    ),
) | st.sampled_from(
    ["\r\n", "## Answer", "---", "\\## Question", "  # answer #", "title: x", "|\n  x", "## Answer\n## Question"]
)

non_blank = tricky_text.filter(lambda s: clean_text(s) != "")


@st.composite
def entries(draw):
    expert = None
    if draw(st.booleans()):
        bio = {k: draw(st.none() | tricky_text) for k in EXPERT_FIELDS}
        expert = Expert(name=draw(tricky_text), **bio)
    return Entry(
        question=draw(non_blank),
        answer=draw(non_blank),
        title=draw(tricky_text),
        category=draw(tricky_text),
        tags=draw(st.lists(tricky_text, max_size=4)),
        expert=expert,
        created_at=draw(st.none() | tricky_text),
    )


def _norm_tags(tags):
    out = []
    for tag in tags:
        if tag.strip() and tag.strip() not in out:
            out.append(tag.strip())
    return out


@given(entries())
def test_markdown_round_trip(entry):
    (back,) = markdown.parse(render_markdown(entry), "rt.md")
    assert back.title == entry.title
    assert back.category == entry.category
    assert back.tags == _norm_tags(entry.tags)
    assert back.question == clean_text(entry.question)
    assert back.answer == clean_text(entry.answer)
    assert back.created_at == (entry.created_at or None)
    expected = entry.expert.to_dict() if entry.expert and entry.expert.name.strip() else None
    assert (back.expert.to_dict() if back.expert else None) == expected
    if clean_text(entry.question) == entry.question and clean_text(entry.answer) == entry.answer:
        assert back.uid == entry.uid
