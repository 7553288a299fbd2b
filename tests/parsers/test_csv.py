"""Tests for the CSV parser (kb.parsers.csv)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.errors import ParseError
from kb.models import Entry
from kb.parsers import csv as csv_parser
from kb.parsers.json import question_key

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "csv"


def test_csv_sample_parses_rows_with_multiline_fields():
    with open(DATA / "entries.csv", encoding="utf-8", newline="") as handle:
        entries = [e for e in csv_parser.iter_parse(handle, "data/entries.csv")]
    assert all(isinstance(e, Entry) for e in entries)
    assert [e.source.external_id for e in entries] == ["garden-201", "home-201", "health-201"]
    assert [e.source.line for e in entries] == [2, 3, 5]
    assert entries[0].tags == ["watering", "summer"]
    assert entries[1].tags == ["doors", "diy"]
    assert entries[1].answer.endswith("petroleum jelly.\nTap the pin back and swing the door a few times to spread it.")
    assert entries[1].raw.count("\n") == 1 and entries[1].raw.startswith("home-201,")
    assert entries[2].expert is not None and entries[2].expert.name == "Dr. Samuel Reyes"
    assert all(e.source.format == "csv" for e in entries)


def test_csv_missing_answer_row_reported_others_kept():
    text = (FIXTURES / "missing_answer.csv").read_text(encoding="utf-8")
    items = list(csv_parser.iter_parse(text, "m.csv"))
    assert [type(i) for i in items] == [Entry, ParseError, Entry]
    assert items[0].tags == ["kitchen", "cookware"]
    assert items[2].tags == ["kitchen", "food safety"]
    assert items[1].line == 3 and "'answer' is empty" in items[1].reason
    assert [e.source.key for e in items if isinstance(e, Entry)] == [
        question_key(e.question) for e in items if isinstance(e, Entry)
    ]


def test_csv_header_without_qa_columns_fails_file():
    text = (FIXTURES / "no_qa_columns.csv").read_text(encoding="utf-8")
    with pytest.raises(ParseError) as info:
        csv_parser.parse(text, "n.csv")
    assert info.value.reason == (
        "CSV has no question and answer columns (found: title, category, body); "
        "read it with --map question=title,answer=category"
    )


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters_are_sniffed(delimiter):
    text = delimiter.join(["Question", "ANSWER", "Category"]) + "\r\n"
    text += delimiter.join(['"Why, though?"', '"Because; it | is."', "Misc"]) + "\r\n"
    (entry,) = csv_parser.parse(text, "x")
    assert entry.question == "Why, though?"
    assert entry.answer == "Because; it | is."
    assert entry.category == "Misc"


def test_csv_crlf_quoted_multiline_and_blank_rows():
    text = 'q,a\r\n\r\n"line one\r\nline two",ok\r\n,\r\nlast,"x ""quoted"" y"\r\n'
    items = list(csv_parser.iter_parse(text, "x"))
    assert [i.question for i in items] == ["line one\nline two", "last"]
    assert [i.source.line for i in items] == [3, 6]
    assert items[1].answer == 'x "quoted" y'


def test_csv_bom_and_header_case():
    (entry,) = csv_parser.parse("\ufeffQuestion,Answer\nWhy?,Because.\n", "x")
    assert entry.answer == "Because."


def test_csv_unclosed_quote_is_reported():
    items = list(csv_parser.iter_parse('question,answer\nok,fine\nbad,"never closed\nmore\n', "x"))
    assert isinstance(items[0], Entry)
    assert isinstance(items[-1], ParseError) and items[-1].line == 3


def test_csv_empty_text():
    with pytest.raises(ParseError, match="empty"):
        csv_parser.parse("\n\n", "x")


def test_csv_detect_scores():
    assert csv_parser.detect((DATA / "entries.csv").read_text(encoding="utf-8"), "x") >= 0.9
    assert csv_parser.detect("title,body\n1,2\n", "x") == 0.0
    assert csv_parser.detect("Q: a\nA: b", "x") == 0.0


@given(st.text())
def test_csv_arbitrary_text_raises_only_parse_error(text):
    assert 0.0 <= csv_parser.detect(text, "fuzz") <= 1.0
    for item in csv_parser.iter_parse(io.StringIO(text, newline=""), "fuzz"):
        assert isinstance(item, (Entry, ParseError))
    try:
        csv_parser.parse(text, "fuzz")
    except ParseError:
        pass


@given(st.text(alphabet='qa,;"\n\r\t|x \x00'))
def test_csv_arbitrary_csvish_text_raises_only_parse_error(body):
    try:
        csv_parser.parse("question,answer\n" + body, "fuzz")
    except ParseError:
        pass
