"""Markdown notes: a heading or a bold line per question, Q/A lines in bold, sections as categories."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.errors import ParseError
from kb.parsers import markdown
from kb.parsers.json import question_key

ROOT = Path(__file__).resolve().parents[2]


def test_markdown_notes_sample_gives_one_entry_per_question():
    text = (ROOT / "data" / "notes.md").read_text(encoding="utf-8")
    assert markdown.detect(text, "notes.md") >= 0.5
    entries = markdown.parse(text, "notes.md")
    assert [(e.question, e.answer, e.category, e.source.line) for e in entries] == [
        (
            "How do I undo the last commit?",
            "Keep the changes:\n\n```sh\ngit reset --soft HEAD~1\n# not a heading\n```\n\n"
            "### If it was pushed\n\nUse `git revert` instead.",
            "Git notes",
            8,
        ),
        ("How do I delete a branch?", "Use `git branch -d NAME`.", "Branches", 23),
        ("Why does it refuse?", "Because it is not merged.", "Branches", 26),
    ]
    for entry in entries:
        assert entry.title == ""
        assert entry.tags == ["git"]
        assert entry.expert is None
        assert entry.source.format == "markdown"
        assert entry.source.key == question_key(entry.question)
        assert entry.raw is not None
        assert entry.raw.splitlines()[0] in ("## " + entry.question, "**" + entry.question + "**")


def test_markdown_notes_bold_q_and_a_lines_take_the_title_as_category():
    text = "# Cooking\n\n**Q: How long do I boil an egg?**\nA: Nine minutes.\n\n**Q: Salt the water?**\nA: Yes.\n"
    entries = markdown.parse(text, "cooking.md")
    assert [(e.question, e.answer, e.category, e.source.line) for e in entries] == [
        ("How long do I boil an egg?", "Nine minutes.", "Cooking", 3),
        ("Salt the water?", "Yes.", "Cooking", 6),
    ]
    assert [e.source.format for e in entries] == ["markdown", "markdown"]


def test_markdown_notes_front_matter_category_wins_and_headings_in_code_stay_text():
    text = "---\ncategory: Shell\n---\n## Why?\n\n```\n## Not a question?\n```\n\n## How?\n\nLike this.\n"
    entries = markdown.parse(text, "s.md")
    assert [(e.question, e.answer, e.category) for e in entries] == [
        ("Why?", "```\n## Not a question?\n```", "Shell"),
        ("How?", "Like this.", "Shell"),
    ]


def test_markdown_notes_without_any_question_say_what_was_looked_for():
    with pytest.raises(ParseError) as caught:
        markdown.parse("# Shopping\n\n- milk\n- eggs\n", "list.md")
    assert "no heading or bold line that asks" in str(caught.value)
    assert "list.md" in str(caught.value)


def test_markdown_kb_layout_is_still_one_entry():
    text = "---\ntitle: T\n---\n## Question\n\nWhy?\n\n## Answer\n\nBecause.\n"
    [entry] = markdown.parse(text, "one.md")
    assert (entry.title, entry.question, entry.answer, entry.source.key) == ("T", "Why?", "Because.", "1")


def test_markdown_faq_headings_at_the_question_rank_are_questions_and_a_closing_call_is_not():
    text = (
        "# Frequently asked questions\n\n## General\n\n### What is the lamp?\n\nA reading lamp.\n\n"
        "### Is it dimmable?\n\nYes:\n\n```\nlamp dim 50\n```\n\n## Troubleshooting\n\n"
        "### The lamp does not turn on\n\n1. Check the plug.\n2. Hold the button.\n\n"
        "## Still have questions?\n\n- Write to us.\n"
    )
    entries = markdown.parse(text, "faq.md")
    assert [(e.question, e.answer, e.category) for e in entries] == [
        ("What is the lamp?", "A reading lamp.", "General"),
        ("Is it dimmable?", "Yes:\n\n```\nlamp dim 50\n```", "General"),
        ("The lamp does not turn on", "1. Check the plug.\n2. Hold the button.", "Troubleshooting"),
    ]


def test_markdown_notes_outside_a_faq_keep_only_headings_that_ask():
    text = "# Lamp notes\n\n## Setup\n\n### Where is the switch?\n\nOn the cord.\n\n### Is it hot?\n\nNo.\n\n### Bulbs\n\nE27.\n"
    entries = markdown.parse(text, "notes.md")
    assert [(e.question, e.answer, e.category) for e in entries] == [
        ("Where is the switch?", "On the cord.", "Setup"),
        ("Is it hot?", "No.", "Setup"),  # a heading of its rank ends the answer
    ]
