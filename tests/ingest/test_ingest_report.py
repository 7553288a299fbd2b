"""What an ingest says happened: repeats inside an input are duplicates, with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from kb.api import KnowledgeBase

# Found as tests/parsers/test_jsonl.py finds it: ../shared/corpora beside the repository.
MEDQUAD = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "medquad.jsonl.gz"


def _records(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps({"question": q, "answer": a}) + b"\n" for q, a in rows))
    return path


def test_ingest_report_repeat_in_one_file_is_a_duplicate_with_its_line(tmp_path: Path) -> None:
    path = _records(tmp_path / "faq.jsonl", [("Why?", "Because."), ("How?", "Slowly."), ("Why?", "Because.")])
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    report = kb.ingest([str(path)])
    assert report.counts == {"added": 2, "updated": 0, "unchanged": 0, "duplicates": 1}
    (repeat,) = report.duplicates
    assert (repeat.path, repeat.line, repeat.id) == (str(path), 3, 1)
    again = kb.ingest([str(path)])  # the store holds 2: the third record is a repeat again
    assert again.counts == {"added": 0, "updated": 0, "unchanged": 2, "duplicates": 1}
    assert [(d.line, d.id) for d in again.duplicates] == [(3, 1)]


def test_ingest_report_cli_names_the_repeat(cli, tmp_path: Path) -> None:
    path = _records(tmp_path / "faq.jsonl", [("Why?", "Because."), ("Why?", "Because.")])
    result = cli("ingest", str(path))
    assert result.exit_code == 0
    assert f"the first: {path}:2 repeats entry 1" in result.stderr.replace("\n", "")
    report = json.loads(cli("ingest", "--json", "--dry-run", str(path)).stdout)
    assert report["counts"]["duplicates"] == 1 and report["counts"]["unchanged"] == 1


@pytest.mark.skipif(not MEDQUAD.exists(), reason=f"the MedQuAD corpus is not at {MEDQUAD}")
def test_ingest_report_medquad_has_48_duplicates(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    report = kb.ingest([str(MEDQUAD)], dry_run=True, keep="counts")
    assert report.counts["duplicates"] == 48 and report.counts["unchanged"] == 0
    assert report.counts["added"] + 48 == 16423
    assert all(d.line and Path(d.path).resolve() == MEDQUAD.resolve() for d in report.duplicates)
