"""Parser fuzzing: arbitrary text and bytes never make a parser or ingest raise anything but
the parser's own ParseError, and ingest turns every problem into a one-line reason.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import parsers
from kb.errors import ParseError
from kb.ingest.sources import STREAMED, Failure, ReadOptions, read_source
from kb.models import Entry
from kb.parsers import Skipped

# KB_FUZZ_EXAMPLES=3000 for a longer hunt (3,000 per test found nothing: ~35 s).
FUZZ = settings(
    max_examples=int(os.environ.get("KB_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces of every format, so that random text reaches past the first line of each parser.
PIECES = [
    "Q:",
    "A:",
    "Question:",
    "Answer:",
    "Q1.",
    "**Q:**",
    "Title:",
    "Category:",
    "Tags:",
    "Expert:",
    "---",
    "## Question",
    "## Answer",
    "# ",
    "title: x",
    "tags: [a, b]",
    "expert:",
    "  name: y",
    "{",
    "}",
    "[",
    "]",
    '"question":',
    '"answer":',
    '"q"',
    ":",
    ",",
    '"',
    "\\",
    "null",
    "1e999",
    "true",
    "question,answer",
    "title,question,answer,tags",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\x00",
    "\ufeff",
    "\u2028",
    "\x85",
    "\x1b[2J",
    "?",
    "Hi Susan,",
    "You are right.",
    "All Answers",
    "Answers by Expert:",
    "Ask Experts",
    "Expertise",
    "Education/Credentials",
    "©2017 About.com",
    "Oncology/PET/CT",
    "\xa0",
    # Web pages, schema.org markup, StackExchange rows and scraping leftovers.
    "<!DOCTYPE html>",
    "<html>",
    "<p>",
    "</p>",
    "<br>",
    "<h2>Question</h2>",
    "<h2>Answer",
    "<li>",
    "<pre>",
    "<table><td>",
    "<nav>",
    "<script>",
    "</script>",
    '<script type="application/ld+json">',
    '{"@type": "FAQPage", "mainEntity": [',
    '{"@type": "Question", "name": "q", ',
    '"acceptedAnswer": {"text": "a"}',
    '"suggestedAnswer": [',
    '"@graph": [',
    '"@id": "#q"',
    "itemscope",
    'itemtype="https://schema.org/Question"',
    'itemprop="text"',
    'itemprop="acceptedAnswer"',
    "<?xml version='1.0'?>",
    "<posts>",
    "</posts>",
    '<row Id="1" PostTypeId="1" Title="t" Body="&lt;p&gt;q" Tags="|a|"/>',
    '<row Id="2" PostTypeId="2" ParentId="1" ',
    'Body="a" Score="3"/>',
    "&amp;",
    "&#39;",
    "&nbsp;",
    "Questioner's Rating",
    "Knowledgeability = 10",
    "Followup",
    "Comment",
    # FAQ pages without markup, Markdown notes, other column names.
    "<details>",
    "<summary>",
    "</summary>",
    "<dl><dt>",
    "<dd>",
    "<h3>",
    "</h3>",
    '<button aria-expanded="false" aria-controls="p1">',
    '<div id="p1" hidden>',
    '<a href="#p1" aria-expanded="true">',
    '<div class="faq">',
    '<span class="schema-faq-question">',
    '<p class="schema-faq-answer">',
    "<footer>",
    "<aside>",
    "## How do I?",
    "### Why?",
    "**Why?**",
    "```",
    "~~~",
    "Question Text,Answer Text,Topic",
    '{"meta": {}, "faqs": [',
    '"prompt":',
    '"response":',
    "question_id",
]
TEXTS = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map("".join),
)
NAMES = st.sampled_from(["f.txt", "f.md", "f.json", "f.jsonl", "f.csv", "f.html", "Posts.xml", "page", "<stdin>"])


def _run_parser(fmt: str, text: str, name: str) -> list[object]:
    parser = parsers.get(fmt)
    if hasattr(parser, "iter_parse"):
        lines = io.StringIO(text, newline="") if fmt in STREAMED else text
        return list(parser.iter_parse(lines, name))
    return list(parser.parse(text, name))


@pytest.mark.parametrize("fmt", list(parsers.FORMATS))
@FUZZ
@given(text=TEXTS, name=NAMES)
def test_parser_raises_only_parse_error(fmt: str, text: str, name: str) -> None:
    try:
        items = _run_parser(fmt, text, name)
    except ParseError as exc:
        assert str(exc).strip()
        return
    for item in items:
        assert isinstance(item, (Entry, ParseError)), type(item)


@FUZZ
@given(text=TEXTS, name=NAMES)
def test_detect_raises_only_parse_error(text: str, name: str) -> None:
    try:
        assert parsers.detect(text, name) in parsers.FORMATS
    except ParseError:
        pass
    for fmt in parsers.FORMATS:
        score = parsers.get(fmt).detect(text, name)
        assert 0.0 <= score <= 1.0


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


BYTES = st.one_of(
    st.binary(max_size=2000),
    TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass")),
    TEXTS.map(lambda t: t.encode("cp1252", "ignore")),
    TEXTS.map(lambda t: t.encode("utf-16")),
)
SUFFIXES = st.sampled_from(
    [".txt", ".md", ".json", ".jsonl", ".csv", ".html", "-Posts.xml", "-Users.xml", ".gz", ".json.gz", ""]
)
FORCED = st.sampled_from([None, *parsers.FORMATS])
MAPS = st.one_of(
    st.just(""),
    st.sampled_from(["question=Question Text,answer=Answer Text", "question=q,answer=a,category=Topic"]),
    st.lists(st.sampled_from(["question", "answer", "category", "tags", "="]), max_size=6).map(",".join),
)


@FUZZ
@given(data=BYTES, suffix=SUFFIXES, fmt=FORCED, mapping=MAPS)
def test_read_source_never_raises(scratch: Path, data: bytes, suffix: str, fmt: str | None, mapping: str) -> None:
    path = scratch / f"input{suffix}"
    path.write_bytes(data)
    settings = {"map": mapping} if mapping else {}
    for item in read_source(str(path), ReadOptions(format=fmt, settings=settings)):
        # Skipped: records a format knows it does not keep (a dump's tag wikis), counted.
        assert isinstance(item, (Entry, Failure, Skipped)), type(item)
        if isinstance(item, Failure):
            text = str(item)
            assert text.strip() and "\n" not in text and "\r" not in text, repr(text)
        else:
            assert item.question.strip() and item.answer.strip()


@settings(max_examples=40, deadline=None)
@given(data=BYTES)
def test_read_source_stdin_never_raises(data: bytes) -> None:
    for item in read_source("-", ReadOptions(stdin=io.BytesIO(data))):
        assert isinstance(item, (Entry, Failure))
        if isinstance(item, Failure):
            assert "\n" not in str(item)


@FUZZ
@given(body=TEXTS)
def test_html_faq_structure_reader_never_raises(body: str) -> None:
    from selectolax.lexbor import LexborHTMLParser

    from kb.parsers import htmlfaq

    page = "<html><body><main>" + body
    for pair in htmlfaq.find(LexborHTMLParser(page), "FAQ", page.lower()):
        assert pair.question.strip() and pair.answer.strip()
        assert "\n" not in pair.question


@FUZZ
@given(text=TEXTS)
def test_markdown_notes_reader_never_raises(text: str) -> None:
    from kb.parsers import mdnotes

    lines = text.split("\n")
    for at, question, answer, _ in mdnotes.find_questions(lines, 0):
        assert 0 <= at < len(lines) and question
        assert all(line in lines for line in answer)
