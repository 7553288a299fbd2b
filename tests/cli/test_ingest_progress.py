"""Ingest's progress: entries and files done, and a step for the commit and index after reading."""

from __future__ import annotations

import gzip
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import orjson

from kb.api import KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]


def _bulk(path: Path, count: int) -> Path:
    lines = b"".join(
        orjson.dumps({"question": f"Progress question {i}?", "answer": f"Answer {i}, at length."}) + b"\n"
        for i in range(count)
    )
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(lines))
    else:
        path.write_bytes(lines)
    return path


def test_ingest_progress_reports_entries_files_then_indexing(tmp_path: Path) -> None:
    store = tmp_path / "kb.json"
    kb = KnowledgeBase.open(store)
    calls: list[tuple[str, int, int]] = []
    committed_when_indexing: list[bool] = []

    def status(stage: str, entries: int, files: int) -> None:
        calls.append((stage, entries, files))
        if stage == "indexing":
            committed_when_indexing.append(store.exists())

    inputs = [str(ROOT / "data" / "entries.jsonl"), str(ROOT / "data" / "faq.txt")]
    report = kb.ingest(inputs, status=status)
    total = report.counts["added"]
    assert calls[-1] == ("indexing", total, 2)
    assert [c for c in calls if c[0] == "reading"][-2:] == [("reading", 3, 1), ("reading", total, 2)]
    # The step is announced while the store's commit (and the index after it) is still to come.
    assert committed_when_indexing == [False]


def test_ingest_progress_counts_bytes_of_a_gz_file_on_disk(tmp_path: Path) -> None:
    path = _bulk(tmp_path / "bulk.jsonl.gz", 6000)
    read: list[int] = []
    KnowledgeBase.open(tmp_path / "kb.json").ingest([str(path)], dry_run=True, keep="counts", progress=read.append)
    assert sum(read) == path.stat().st_size


def test_ingest_progress_bar_in_a_terminal_shows_counts_and_indexing(tmp_path: Path) -> None:
    path = _bulk(tmp_path / "bulk.jsonl", 6000)
    env = {**os.environ, "KB_DB": str(tmp_path / "store" / "kb.json"), "COLUMNS": "160", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "ingest", str(path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = seen.decode("utf-8", errors="replace")
    assert "6,000 entries · 1/1 files" in text
    assert "Saving and indexing" in text
    # That step's frames draw a pulse, never a percentage.
    for frame in text.split("Saving and indexing")[1:]:
        assert "%" not in frame.split("entries")[0], frame


def test_ingest_bar_turns_to_a_pulse_for_saving_and_indexing(capsys) -> None:
    # In-process, so the fast tier runs kb/cli/progress.py too (the terminal test is slow).
    from kb.cli.progress import IngestBar, bar

    with IngestBar(total_bytes=100, total_files=2) as progress:
        progress.advance(60)
        progress.status("reading", 3, 1)
        (task,) = progress._progress.tasks
        assert (task.completed, task.total, task.fields["counts"]) == (60, 100, "3 entries · 1/2 files")
        rebuilt = progress.rebuild(10)
        assert task.description == "Rebuilding the search index"
        rebuilt(10)  # done: back to the bytes read
        assert (task.description, task.completed, task.total) == ("Ingesting", 60, 100)
        progress.status("indexing", 5, 2)
        assert (task.description, task.total) == ("Saving and indexing", None)
    update = bar("Rebuilding search index", 3)
    update(3)  # reaching the total stops the bar
    assert "Traceback" not in capsys.readouterr().err
