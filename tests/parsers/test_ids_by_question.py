"""Records without an id of their own are keyed by their question: ids do not move.

Inserting a record at the top of a file and ingesting it again adds that one entry; the
others keep their ids, and one whose answer changed is updated in place. Run through real
``kb`` processes, as a user re-ingesting an edited file would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _ingest(db: Path, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(db), "ingest", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return {kind: sorted((b["id"], b["title"]) for b in report[kind]) for kind in ("added", "updated", "unchanged")}


def _listing(db: Path) -> list[tuple[int, str, str]]:
    done = subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(db), "list", "--limit", "0", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return sorted((e["id"], e["question"], e["answer"]) for e in json.loads(done.stdout))


SHAPES = {
    "faq.txt": (
        "Q: How do I reset it?\nA: Hold the button.\n\nQ: Is it waterproof?\nA: No.\n",
        "Q: What colour is it?\nA: Blue.\n\nQ: How do I reset it?\nA: Hold the button.\n\n"
        "Q: Is it waterproof?\nA: Only to splashes.\n",
    ),
    "faq.csv": (
        "question,answer\nHow do I reset it?,Hold the button.\nIs it waterproof?,No.\n",
        "question,answer\nWhat colour is it?,Blue.\nHow do I reset it?,Hold the button.\n"
        "Is it waterproof?,Only to splashes.\n",
    ),
    "faq.jsonl": (
        '{"q": "How do I reset it?", "a": "Hold the button."}\n{"q": "Is it waterproof?", "a": "No."}\n',
        '{"q": "What colour is it?", "a": "Blue."}\n{"q": "How do I reset it?", "a": "Hold the button."}\n'
        '{"q": "Is it waterproof?", "a": "Only to splashes."}\n',
    ),
    "notes.md": (
        "# Lamp\n\n## How do I reset it?\n\nHold the button.\n\n## Is it waterproof?\n\nNo.\n",
        "# Lamp\n\n## What colour is it?\n\nBlue.\n\n## How do I reset it?\n\nHold the button.\n\n"
        "## Is it waterproof?\n\nOnly to splashes.\n",
    ),
}


@pytest.mark.parametrize("filename", SHAPES)
def test_inserting_a_record_adds_one_entry_and_moves_no_id(tmp_path: Path, filename: str) -> None:
    db, path = tmp_path / "kb.json", tmp_path / filename
    before, after = SHAPES[filename]
    path.write_text(before, encoding="utf-8")
    first = _ingest(db, path)
    assert [i for i, _ in first["added"]] == [1, 2]
    assert _listing(db) == [(1, "How do I reset it?", "Hold the button."), (2, "Is it waterproof?", "No.")]

    path.write_text(after, encoding="utf-8")
    second = _ingest(db, path)
    assert [i for i, _ in second["added"]] == [3]
    assert [i for i, _ in second["updated"]] == [2]
    assert [i for i, _ in second["unchanged"]] == [1]
    assert _listing(db) == [
        (1, "How do I reset it?", "Hold the button."),
        (2, "Is it waterproof?", "Only to splashes."),
        (3, "What colour is it?", "Blue."),
    ]
