"""Tests for the JSON Lines parser (kb.parsers.jsonl)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.errors import ParseError
from kb.models import Entry
from kb.parsers import jsonl
from kb.parsers.json import question_key

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "jsonl"
MEDQUAD = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "medquad.jsonl.gz"


def test_jsonl_sample_parses_with_line_numbers():
    text = (DATA / "entries.jsonl").read_text(encoding="utf-8")
    entries = jsonl.parse(text, "data/entries.jsonl")
    assert [e.source.external_id for e in entries] == ["home-101", "health-101", "computing-101"]
    assert [e.source.line for e in entries] == [1, 2, 4]  # the blank line 3 is skipped
    assert entries[1].expert is not None and entries[1].expert.expertise == "Sports medicine"
    assert entries[0].raw == text.split("\n")[0]
    assert all(e.source.format == "jsonl" for e in entries)


def test_jsonl_bad_lines_reported_good_lines_kept():
    with open(FIXTURES / "bad_lines.jsonl", encoding="utf-8") as handle:
        items = list(jsonl.iter_parse(handle, "bad.jsonl"))
    good = [i for i in items if isinstance(i, Entry)]
    bad = [i for i in items if isinstance(i, ParseError)]
    assert [e.source.external_id for e in good] == ["a1", "a4"]
    assert [e.source.line for e in good] == [1, 5]
    assert [b.line for b in bad] == [2, 3]
    assert "invalid JSON" in bad[0].reason and "column" in bad[0].reason
    assert str(bad[0]).startswith("bad.jsonl:2: ")
    assert "'answer' is missing" in bad[1].reason


def test_jsonl_streams_from_any_iterable():
    def lines():
        for n in range(1, 4):
            yield '{"question": "Q%d?", "answer": "A%d."}\r\n' % (n, n)

    items = list(jsonl.iter_parse(lines(), "gen"))
    assert [e.question for e in items] == ["Q1?", "Q2?", "Q3?"]
    assert [e.source.key for e in items] == [question_key(e.question) for e in items]


def test_jsonl_keeps_u2028_inside_strings():
    text = '{"question": "a\u2028b?", "answer": "c"}\n'
    (entry,) = jsonl.parse(text, "x")
    assert entry.question == "a\u2028b?"


def test_jsonl_all_bad_raises_first_error():
    with pytest.raises(ParseError) as info:
        jsonl.parse("\n{oops\n", "x")
    assert info.value.line == 2


def test_jsonl_detect_scores():
    text = (DATA / "entries.jsonl").read_text(encoding="utf-8")
    assert jsonl.detect(text, "x") >= 0.9
    assert jsonl.detect((DATA / "entries.json").read_text(encoding="utf-8"), "x") == 0.0
    assert jsonl.detect("Q: a\nA: b", "x") == 0.0
    assert jsonl.detect('{"a": 1}\nnot json\n', "x") < 0.3


@pytest.mark.skipif(not MEDQUAD.exists(), reason="medquad corpus not present")
def test_jsonl_medquad_corpus_ingests_every_line():
    with gzip.open(MEDQUAD, "rt", encoding="utf-8") as handle:
        count = 0
        for item in jsonl.iter_parse(handle, "medquad.jsonl"):
            assert isinstance(item, Entry), item
            count += 1
            if count == 1:
                assert item.source.external_id == "CancerGov_0000001_1_Sec1.txt"
                assert item.category == "CancerGov"
                assert item.title == "Adult Acute Lymphoblastic Leukemia"
    assert count == 16423


@given(st.text())
def test_jsonl_arbitrary_text_raises_only_parse_error(text):
    assert 0.0 <= jsonl.detect(text, "fuzz") <= 1.0
    for item in jsonl.iter_parse(io.StringIO(text), "fuzz"):
        assert isinstance(item, (Entry, ParseError))
    try:
        jsonl.parse(text, "fuzz")
    except ParseError:
        pass
