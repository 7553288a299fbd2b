"""The `kb` process leaves without the interpreter's teardown (kb.cli.app.main).

What the teardown would have done must still happen: every byte printed reaches the
reader, the exit code is the command's, and kb's own exit handlers run (the index is
closed, so SQLite folds its write-ahead log into the file and deletes it).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DATA, run_kb


def _store(tmp_path: Path, count: int = 1500) -> dict[str, str]:
    data = tmp_path / "many.jsonl"
    lines = (json.dumps({"question": f"Question {i} on leaving?", "answer": "Answer " * 40}) for i in range(count))
    data.write_text("\n".join(lines) + "\n")
    env = {"KB_DB": str(tmp_path / "kb.json")}
    assert run_kb("ingest", "-q", str(data), env=env).returncode == 0
    return env


def test_exit_delivers_every_byte_of_a_long_output(tmp_path: Path, cli) -> None:
    env = _store(tmp_path)
    done = run_kb("list", "-n", "0", "--format", "jsonl", env=env)
    assert done.returncode == 0
    assert len(done.stdout.decode().splitlines()) == 1500
    assert done.stdout.endswith(b"\n")
    in_process = cli("--db", env["KB_DB"], "list", "-n", "0", "--format", "jsonl")
    assert done.stdout.decode() == in_process.stdout


def test_exit_keeps_each_command_status(tmp_path: Path) -> None:
    env = _store(tmp_path, 10)
    assert run_kb("search", "zzzqqq", env=env).returncode == 1
    assert run_kb("search", "--limit", "x", "leaving", env=env).returncode == 2
    assert run_kb("search", "leaving", env=env).returncode == 0
    assert run_kb("--version").returncode == 0


def test_exit_closes_the_index_and_folds_its_log(tmp_path: Path) -> None:
    env = _store(tmp_path, 10)
    added = run_kb("add", "--question", "Does the log fold?", "--answer", "Yes.", "--no-input", env=env)
    assert added.returncode == 0, added.stderr
    index = tmp_path / "kb.index.sqlite"
    assert index.exists()
    assert not Path(f"{index}-wal").exists()
    found = run_kb("search", "fold", "--format", "ids", env=env)
    assert found.returncode == 0 and found.stdout.strip()


def test_exit_after_an_ingest_of_the_samples(tmp_path: Path) -> None:
    env = {"KB_DB": str(tmp_path / "kb.json")}
    done = run_kb("ingest", str(DATA), env=env)
    assert done.returncode in (0, 1)
    assert b"added" in done.stderr + done.stdout
    assert not Path(f"{tmp_path / 'kb.index.sqlite'}-wal").exists()
