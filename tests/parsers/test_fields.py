"""Column and key names people use, records under any key, --map, misaligned rows, encodings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb.errors import ParseError
from kb.models import Entry
from kb.parsers import csv as csv_parser
from kb.parsers import json as json_parser
from kb.parsers import jsonl as jsonl_parser
from kb.parsers.fields import field_keys, parse_mapping
from kb.parsers.json import question_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            ["Question Text", "Answer Text", "Topic"],
            {"question": "Question Text", "answer": "Answer Text", "category": "Topic"},
        ),
        (["prompt", "response"], {"question": "prompt", "answer": "response"}),
        (["questionBody", "acceptedSolution"], {"question": "questionBody"}),
        (
            ["query", "reply", "section", "keywords"],
            {"question": "query", "answer": "reply", "category": "section", "tags": "keywords"},
        ),
        (["question_id", "answer_count", "title"], {"title": "title"}),
        (["Question", "Question Text", "A"], {"question": "Question", "answer": "A"}),
    ],
)
def test_fields_names_people_use_name_their_fields(keys, expected):
    assert field_keys(keys) == expected


def test_fields_map_names_columns_outright_and_refuses_unknown_fields():
    assert parse_mapping("question=Col A, answer=Col B,category=Topic") == {
        "question": "Col A",
        "answer": "Col B",
        "category": "Topic",
    }
    for bad in ("question", "colour=Red", "question="):
        with pytest.raises(ParseError):
            parse_mapping(bad)
    assert field_keys(["Col A", "Col B", "Answer"], {"question": "col a", "answer": "Col B"}) == {
        "question": "Col A",
        "answer": "Col B",
    }


def test_csv_sheet_with_other_column_names_reads_every_field():
    text = (ROOT / "data" / "faq_sheet.csv").read_text(encoding="utf-8")
    entries = csv_parser.parse(text, "sheet.csv")
    assert [(e.question, e.answer, e.category, e.source.line) for e in entries] == [
        ("How do I book a court?", "Use the club app, or call the desk.", "Bookings", 2),
        ("Can I bring a guest?", "Yes, up to two a week.", "Membership", 3),
        ("What if it rains?", "Indoor courts are kept free until noon.", "Bookings", 4),
    ]
    assert [e.source.key for e in entries] == [question_key(e.question) for e in entries]
    assert all(e.title == "" and e.tags == [] and e.expert is None and e.extra == {} for e in entries)


def test_json_records_under_any_key_are_found():
    text = (ROOT / "data" / "faq_wrapped.json").read_text(encoding="utf-8")
    entries = json_parser.parse(text, "club.json")
    assert [(e.question, e.answer, e.category, e.source.line) for e in entries] == [
        ("When does the club open?", "At 7 every day.", "Opening hours", 4),
        ("Is there parking?", "Yes, behind the clubhouse.", "Getting here", 5),
    ]
    assert entries[0].raw == '{"q": "When does the club open?", "a": "At 7 every day.", "topic": "Opening hours"}'
    nested = '{"export": {"v": 2, "rows": [{"prompt": "Why?", "completion": "So."}]}}'
    [entry] = json_parser.parse(nested, "n.json")
    assert (entry.question, entry.answer, entry.source.line) == ("Why?", "So.", None)
    assert json.loads(entry.raw or "") == {"prompt": "Why?", "completion": "So."}


def test_records_nothing_fits_list_the_columns_and_the_map_that_reads_them():
    [error] = list(csv_parser.iter_parse("Col A,Col B,Notes\nWhy?,So.,x\n", "s.csv"))
    assert isinstance(error, ParseError)
    assert error.line == 1
    assert error.reason == (
        "CSV has no question and answer columns (found: Col A, Col B, Notes); "
        "read it with --map question=Col A,answer=Col B"
    )
    [entry] = list(csv_parser.iter_parse("Col A,Col B,Notes\nWhy?,So.,x\n", "s.csv", "question=Col A,answer=Col B"))
    assert isinstance(entry, Entry)
    assert (entry.question, entry.answer, entry.extra) == ("Why?", "So.", {"Notes": "x"})
    [error] = list(jsonl_parser.iter_parse('{"text": "Why?", "reply_id": 3}\n', "j.jsonl"))
    assert isinstance(error, ParseError)
    assert error.reason == "record 1: 'question' is missing (found: text, reply_id)"


def test_csv_row_with_a_cell_too_many_fails_that_line_and_keeps_the_others():
    text = "question,answer,category\nWhy?,Because, it is,Life\nHow?,Slowly.,Life\n"
    items = list(csv_parser.iter_parse(text, "m.csv"))
    assert isinstance(items[0], ParseError)
    assert items[0].line == 2
    assert (
        items[0].reason == "row 1 has 4 cells, the header 3: a delimiter inside a cell needs the cell in double quotes"
    )
    assert isinstance(items[1], Entry)
    assert (items[1].question, items[1].answer, items[1].category, items[1].source.line) == (
        "How?",
        "Slowly.",
        "Life",
        3,
    )
    # Empty cells past the header (a spreadsheet's trailing commas) are no misalignment.
    [entry] = csv_parser.parse("question,answer\nWhy?,So.,,\n", "t.csv")
    assert (entry.question, entry.answer) == ("Why?", "So.")


def _kb(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(tmp_path / "kb.json"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_utf16_csv_and_map_through_kb(tmp_path: Path):
    done = _kb(tmp_path, "ingest", str(ROOT / "data" / "faq_unicode_text.csv"), "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(_kb(tmp_path, "list", "--format", "json").stdout)
    assert [(e["question"], e["answer"], e["category"], e["source"]["encoding"]) for e in listed] == [
        ("What is crème brûlée?", "A custard with burnt sugar.", "Desserts", "utf-16"),
        ("Is it hard to make?", "No, but it needs a torch.", "Desserts", "utf-16"),
    ]
    sheet = tmp_path / "odd.csv"
    sheet.write_text("Col A,Col B\nWhy?,So.\n", encoding="utf-8")
    refused = _kb(tmp_path, "ingest", str(sheet))
    assert refused.returncode == 1
    assert "read it with --map question=Col A,answer=Col B" in refused.stderr
    mapped = _kb(tmp_path, "ingest", str(sheet), "--map", "question=Col A,answer=Col B", "--json")
    assert mapped.returncode == 0, mapped.stderr
    assert json.loads(mapped.stdout)["counts"]["added"] == 1
    bad = _kb(tmp_path, "ingest", str(sheet), "--map", "colour=Col A")
    assert bad.returncode == 2
    assert "unknown field 'colour'" in bad.stderr


def test_ingest_short_cp1252_files_read_as_cp1252(tmp_path: Path):
    path = tmp_path / "desserts.txt"
    path.write_bytes("Q: Where is the Café?\nA: Next to the Crème brûlée stall.\n".encode("cp1252"))
    done = _kb(tmp_path, "ingest", str(path))
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(_kb(tmp_path, "list", "--format", "json").stdout)
    assert (entry["question"], entry["answer"], entry["source"]["encoding"]) == (
        "Where is the Café?",
        "Next to the Crème brûlée stall.",
        "cp1252",
    )
