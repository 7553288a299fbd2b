"""Tests for the JSON parser and the record mapping it shares (kb.parsers.json)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.errors import ParseError
from kb.models import Entry
from kb.parsers import json as json_parser
from kb.parsers.json import clean_text, field_keys, question_key, record_to_entry

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "json"


def test_json_sample_parses_all_fields():
    text = (DATA / "entries.json").read_text(encoding="utf-8")
    entries = json_parser.parse(text, "data/entries.json")
    assert len(entries) == 3
    first, second, third = entries
    assert first.title == "Drinking water during exercise"
    assert first.tags == ["exercise", "hydration"]
    assert first.expert is not None and first.expert.expertise == "Sports medicine"
    assert first.created_at == "2024-03-02T18:00:00+00:00"
    assert first.source.external_id == "health-001" and first.source.key == "health-001"
    assert second.tags == ["laptop", "battery"]
    assert second.expert is not None and second.expert.name == "Priya Natarajan"
    assert "\n\nIf your laptop" in second.answer
    assert third.title == "" and third.expert is None
    # Each record keeps its own text and the line it starts on.
    assert [e.source.line for e in entries] == [2, 12, 21]
    assert orjson.loads(third.raw)["id"] == "gardening-001"
    assert all(e.source.format == "json" and e.id is None for e in entries)


def test_json_single_object_and_wrappers():
    one = '{"question": "Why?", "answer": "Because."}'
    (entry,) = json_parser.parse(one, "x")
    assert entry.raw == one and entry.source.key == question_key("Why?") and entry.source.line == 1
    for key in ("entries", "items", "data"):
        text = '{"version": 1,\n "%s": [\n  {"Question": "Why?", "Answer": "Because."}]}' % key
        (entry,) = json_parser.parse(text, "x")
        assert entry.question == "Why?" and entry.source.line == 3
        assert entry.raw == '{"Question": "Why?", "Answer": "Because."}'


def test_json_bad_records_are_reported_and_others_kept():
    text = (FIXTURES / "partly_bad.json").read_text(encoding="utf-8")
    items = list(json_parser.iter_parse(text, "bad.json"))
    good = [i for i in items if isinstance(i, Entry)]
    bad = [i for i in items if isinstance(i, ParseError)]
    assert [e.source.external_id for e in good] == ["1", "4"]
    assert good[1].question == "Do I need to wash new towels?"  # q/a aliases
    assert [(b.line, b.reason) for b in bad] == [
        (3, "record 2: 'answer' is missing (found: id, question)"),
        (4, "record 3 is not an object (found string)"),
    ]
    assert len(json_parser.parse(text, "bad.json")) == 2


def test_json_invalid_document_names_line_and_column():
    text = (FIXTURES / "truncated.json").read_text(encoding="utf-8")
    with pytest.raises(ParseError) as info:
        json_parser.parse(text, "truncated.json")
    assert info.value.line == 5
    assert "invalid JSON" in info.value.reason and "column" in info.value.reason


def test_json_all_records_bad_raises_first():
    with pytest.raises(ParseError, match="record 1: 'question' is missing"):
        json_parser.parse('[{"answer": "x"}, {"answer": "y"}]', "x")


def test_json_wrong_top_level_type():
    with pytest.raises(ParseError, match="found a number"):
        json_parser.parse("42", "x")


def test_json_empty_array_gives_no_entries():
    assert json_parser.parse("[]", "x") == []


def test_json_record_mapping_types():
    record = {
        "QUESTION": " What?\r\n ",
        "answer": 42,
        "tags": ["a", " a ", "", 3],
        "expert": {"Name": "Ann", "awards": None, "education": "MSc"},
        "id": 7,
        "title": ["not", "text"],
    }
    entry = record_to_entry(record, name="n", fmt="json", position=1, line=1, raw=None)
    assert isinstance(entry, Entry)
    assert entry.question == "What?" and entry.answer == "42"
    assert entry.tags == ["a", "3"]
    assert entry.expert is not None and entry.expert.to_dict() == {"name": "Ann", "education": "MSc"}
    assert entry.source.external_id == "7" and entry.source.key == "7"
    assert entry.title == ""
    error = record_to_entry({"question": ["x"], "answer": "y"}, name="n", fmt="json", position=2, line=9, raw=None)
    assert isinstance(error, ParseError) and error.line == 9 and "must be text" in error.reason
    empty = record_to_entry({"question": "  ", "answer": "y"}, name="n", fmt="json", position=2, line=9, raw=None)
    assert isinstance(empty, ParseError) and "'question' is empty" in empty.reason


def test_clean_text_normalises():
    assert clean_text("\u00a0 a  \r\n\r\n\r\nb\t\rc \u00a0") == "a\n\n\nb\nc"
    assert clean_text("\ud800x") == "\ufffdx"


def test_json_detect_scores():
    text = (DATA / "entries.json").read_text(encoding="utf-8")
    assert json_parser.detect(text, "x") >= 0.9
    assert json_parser.detect((DATA / "entries.jsonl").read_text(encoding="utf-8"), "x") < 0.3
    assert json_parser.detect("Q: a\nA: b", "x") == 0.0
    assert json_parser.detect('{"name": "kb"}', "x") < 0.5


@given(st.text())
def test_json_arbitrary_text_raises_only_parse_error(text):
    assert 0.0 <= json_parser.detect(text, "fuzz") <= 1.0
    for item in json_parser.iter_parse(text, "fuzz"):
        assert isinstance(item, (Entry, ParseError))
    try:
        json_parser.parse(text, "fuzz")
    except ParseError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["question", "answer", "q", "A", "tags", "expert", "id", "title", "name", "x"])
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(json_values, st.booleans())
def test_json_arbitrary_documents_raise_only_parse_error(value, indent):
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()
    items = list(json_parser.iter_parse(text, "fuzz"))
    assert all(isinstance(i, (Entry, ParseError)) for i in items)
    json_parser.detect(text, "fuzz")
    if isinstance(value, list) and value:
        # One item per record, in order; each good record keeps exactly its own JSON text.
        assert len(items) == len(value)
        for item, record in zip(items, value):
            if isinstance(item, Entry):
                assert orjson.loads(item.raw) == (record if len(value) > 1 else value)


def _clean_text_by_lines(text: str) -> str:
    # clean_text as it was before its fast path: every line stripped on the right.
    if not text.isascii():
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


@given(st.text(alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000\ud800é")), max_size=40))
@settings(max_examples=400, deadline=None)
def test_clean_text_fast_path_gives_the_same_text(text: str) -> None:
    assert clean_text(text) == _clean_text_by_lines(text)


def test_field_keys_of_records_sharing_keys_are_mapped_alike() -> None:
    first = field_keys({"Question": "q", "Answer": "a", "id": 1})
    again = field_keys({"Question": "other", "Answer": "b", "id": 2})
    assert first == again == {"question": "Question", "answer": "Answer", "id": "id"}
    assert field_keys({"q": 1, "a": 2}) != first
