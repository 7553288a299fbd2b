"""Output that says what it means: counts of the right things, no empty panels or lone headers.

Each test runs the command on a real store and reads what it printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from tests.conftest import DATA, SEEDS, run_kb

RECORDS = [
    {"title": "Anemia", "question": "What is anemia?", "answer": "Too few red cells."},
    {"title": "Anemia", "question": "What causes anemia?", "answer": "Blood loss, among others."},
    {"title": "Anemia", "question": "How is anemia treated?", "answer": "By its cause."},
]


@pytest.fixture
def samples(kb_db: Path) -> Path:
    with KnowledgeBase.open(kb_db) as kb:
        kb.ingest([str(SEEDS), str(DATA)])
    return kb_db


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_stats_counts_source_files_not_entries(samples: Path, cli) -> None:
    stats = json.loads(cli("stats", "--json").stdout)
    csv_files = list(DATA.rglob("*.csv"))
    assert stats["sources"]["formats"]["csv"] == len(csv_files) > 0
    # entries.csv alone holds several entries: more entries than files
    assert stats["sources"]["entries"]["csv"] > len(csv_files)
    assert stats["sources"]["files"] == sum(stats["sources"]["formats"].values())
    table = cli("stats").stdout
    assert f"{stats['sources']['files']} files: " in table and f"csv {len(csv_files)}," in table


def test_stats_says_one_file_not_one_files(tmp_path: Path, cli) -> None:
    assert cli("ingest", "-q", str(_jsonl(tmp_path / "one.jsonl", RECORDS))).exit_code == 0
    table = cli("stats").stdout
    assert "1 file: jsonl 1" in table and "1 files" not in table


def test_reingest_counts_repeats_as_duplicates_not_unchanged(tmp_path: Path, cli) -> None:
    records = _jsonl(tmp_path / "repeats.jsonl", RECORDS + RECORDS[:2])
    first = json.loads(cli("ingest", "--json", str(records)).stdout)["counts"]
    again = json.loads(cli("ingest", "--json", str(records)).stdout)
    assert first["added"] == 3 and first["duplicates"] == 2
    assert again["counts"]["unchanged"] == 3, again["counts"]  # the store holds 3
    assert again["counts"]["duplicates"] == 2
    assert [d["line"] for d in again["duplicates"]] == [4, 5]


def test_ingest_summarises_duplicates_in_one_line_and_json_keeps_them_all(tmp_path: Path, cli) -> None:
    records = _jsonl(tmp_path / "many.jsonl", RECORDS * 10)
    result = cli("ingest", str(records))
    lines = [line for line in result.stderr.splitlines() if "repeat" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("duplicates 27 records repeated") and "--json" in lines[0]
    listed = json.loads(cli("ingest", "--json", str(records)).stdout)["duplicates"]
    assert len(listed) == 27


def test_ingest_notes_wrap_at_word_boundaries_on_a_terminal(tmp_path: Path) -> None:
    env = dict(os.environ, TTY_COMPATIBLE="1", COLUMNS="60", NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "kb", "ingest", str(DATA / "stackexchange")],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.decode().splitlines() if line.strip()]
    skipped = [n for n, line in enumerate(lines) if line.startswith("skipped ")]
    assert skipped
    for n in skipped:
        assert len(lines[n]) <= 60
        # a wrapped line goes on under the hanging indent, with whole words
        if n + 1 < len(lines) and lines[n + 1].startswith("        "):
            assert lines[n].rstrip()[-1:].isalnum() or lines[n].rstrip()[-1] in ",.)"
            assert lines[n + 1].strip()[0].isalnum() or lines[n + 1].strip()[0] in "(."


def test_list_shows_the_question_where_titles_repeat_and_drops_empty_columns(tmp_path: Path, cli) -> None:
    assert cli("ingest", "-q", str(_jsonl(tmp_path / "a.jsonl", RECORDS))).exit_code == 0
    out = cli("list").stdout
    header, *rows = out.splitlines()
    assert header.split() == ["id", "title", "or", "question", "updated"]  # no category, no expert
    assert [row.split("  ")[1].strip() for row in rows] == [r["question"] for r in RECORDS]
    assert "expert" not in header and "category" not in header


def test_list_keeps_titles_that_do_not_repeat(samples: Path, cli) -> None:
    header = cli("list").stdout.splitlines()[0]
    assert header.split()[:2] == ["id", "title"] and "question" not in header


@pytest.mark.parametrize("args", [["experts"], ["list", "experts"], ["list", "tags"], ["list", "categories"]])
def test_nothing_to_list_prints_no_lone_header(args: list[str], cli) -> None:
    assert cli("add", "-Q", "Why is the sky blue?", "-a", "Scattering.").exit_code == 0
    result = cli(*args)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no " in result.stderr


def test_an_expert_without_a_bio_gets_a_line_not_an_empty_panel(cli) -> None:
    added = cli("add", "-Q", "Why is the sky blue?", "-a", "Scattering.", "-e", "Pat Doe")
    shown = cli("show", added.stdout.strip(), "--no-pager").stdout
    assert "Answered by Pat Doe" in shown
    assert "Pat Doe ─" not in shown  # no panel titled with the name
    profile = cli("experts", "pat").stdout
    assert profile.splitlines()[0].strip() == "Pat Doe"


def test_show_reflows_hard_wrapped_paragraphs_and_keeps_lists(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    answer = (
        "Water the roses deeply once a week, early in the morning, so that the\n"
        "leaves dry before the sun is strong and the roots grow down.\n"
        "\n"
        "You need:\n"
        "- a watering can\n"
        "- mulch\n"
    )
    added = cli("add", "-Q", "How should I water roses?", "-a", answer)
    assert added.exit_code == 0, added.stderr
    shown = cli("show", added.stdout.strip(), "--no-pager").stdout
    lines = [line.strip("│ ") for line in shown.splitlines()]
    # The source broke the line after "so that the"; at 120 columns the words run on.
    assert any("so that the leaves dry before the sun" in line for line in lines), shown
    assert "- a watering can" in lines and "- mulch" in lines and "You need:" in lines


def test_category_selected_by_a_unique_word_after_punctuation(samples: Path, cli) -> None:
    result = cli("list", "-c", "general", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert {e["category"] for e in json.loads(result.stdout)} == {"Oncology (General Cancer)"}


MEDQUAD = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "medquad.jsonl.gz"


@pytest.mark.skipif(not MEDQUAD.exists(), reason=f"the MedQuAD corpus is not at {MEDQUAD}")
def test_medquad_reingested_is_16375_unchanged_and_48_duplicates(kb_db: Path) -> None:
    # Real processes: an ingest of 16k entries in the test process would leave it large,
    # and a child forked from it later starts its peak memory there (tests/ingest/test_memory.py).
    first = run_kb("ingest", "--quiet", str(MEDQUAD), timeout=600)
    assert first.returncode == 0, first.stderr
    again = run_kb("ingest", "--dry-run", "--json", str(MEDQUAD), timeout=600)
    assert again.returncode == 0, again.stderr
    counts = json.loads(again.stdout)["counts"]
    assert counts == {"added": 0, "updated": 0, "unchanged": 16375, "duplicates": 48, "failed": 0}
