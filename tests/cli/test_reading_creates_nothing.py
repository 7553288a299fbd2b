"""What reading may create: nothing. Only a write creates a store.

Every command is run against a store path whose folder does not exist; a command that
reads says so (exit 1, naming the path and how to create one) and leaves no folder,
index or lock behind. The table must name every command the app has.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.cli.app import COMMANDS
from tests.conftest import DATA, run_kb

# command -> (arguments, expected exit code, whether it says "no store at")
MISSING = {
    "ingest": (["--dry-run", "--quiet", str(DATA)], 0, False),  # a dry run writes nothing
    "search": (["bone", "scan"], 1, True),
    "ask": (["bone", "scan"], 1, True),
    "list": ([], 1, True),
    "show": (["1"], 1, True),
    "browse": ([], 2, False),  # no terminal under the test runner: refused before the store
    "experts": ([], 1, True),
    "reindex": ([], 1, True),
    "path": ([], 0, True),  # where the store would be is an answer; it says there is none yet
    "add": (["--question", "Why?", "--answer", ""], 2, False),  # refused before any write
    "edit": (["1"], 1, True),
    "remove": (["1", "--yes"], 1, True),
    "rm": (["1", "--yes"], 1, True),
    "export": ([], 1, True),
    "stats": ([], 1, True),
    "doctor": ([], 0, False),  # it reports that the store does not exist yet
    "post": (["   "], 2, False),  # no question: refused before any write
    "answer": (["1", "--answer", "Because."], 1, True),
    "inbox": ([], 1, True),
}


def test_the_table_names_every_command() -> None:
    assert set(MISSING) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_on_a_missing_store_creates_nothing(name: str, cli, tmp_path: Path) -> None:
    folder = tmp_path / "nope"
    store = folder / "deep" / "kb.json"
    args, expected, says = MISSING[name]
    result = cli("--db", str(store), name, *args)
    assert result.exit_code == expected, (result.stdout, result.stderr)
    assert not folder.exists(), sorted(str(p) for p in folder.rglob("*"))
    assert "Traceback" not in result.stderr
    if says:
        assert f"no store at {store}" in result.stderr
        assert "kb ingest" in result.stderr


def test_reading_a_missing_store_in_a_real_process_leaves_no_trace(tmp_path: Path) -> None:
    store = tmp_path / "x" / "nope" / "kb.json"
    done = run_kb("--db", str(store), "list")
    assert done.returncode == 1
    assert f"Error: no store at {store}".encode() in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_store_gets_no_index_or_lock_beside_it(tmp_path: Path, cli) -> None:
    notes = tmp_path / "README.md"
    notes.write_text("# Notes\n\nnot a store\n")
    result = cli("--db", str(notes), "list")
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_a_dry_run_into_a_new_store_writes_nothing_and_reports_all_as_added(tmp_path: Path, cli) -> None:
    store = tmp_path / "new" / "kb.json"
    dry = cli("--db", str(store), "ingest", "--dry-run", "--json", str(DATA))
    assert dry.exit_code == 0, dry.stderr
    assert not store.parent.exists()
    real = cli("--db", str(store), "ingest", "--json", str(DATA))
    added = [e["uid"] for e in json.loads(dry.stdout)["added"]]
    assert added == [e["uid"] for e in json.loads(real.stdout)["added"]] and added


def test_a_write_creates_the_store_and_reads_then_work(tmp_path: Path, cli) -> None:
    store = tmp_path / "new" / "kb.json"
    added = cli("--db", str(store), "add", "-Q", "Do roses need sun?", "-a", "Six hours a day.")
    assert added.exit_code == 0, added.stderr
    assert store.exists()
    listed = cli("--db", str(store), "list", "--format", "ids")
    assert listed.exit_code == 0 and listed.stdout.split() == added.stdout.split()


def test_the_library_reads_a_missing_store_as_empty_and_creates_nothing(tmp_path: Path) -> None:
    from kb.api import KnowledgeBase
    from kb.errors import NotFound, StoreMissing

    path = tmp_path / "nope" / "kb.json"
    with KnowledgeBase.open(path) as kb:
        assert not kb.exists()
        assert (kb.list(), kb.count(), kb.categories(), kb.experts(), list(kb.iter_entries())) == ([], 0, [], [], [])
        assert kb.locations()["entries"] == 0
        with pytest.raises(NotFound):
            kb.get(1)
        with pytest.raises(StoreMissing, match="no store at"):
            kb.require()
        assert not (tmp_path / "nope").exists()
        added = kb.add(question="Does the first write create it?", answer="Yes.")
        assert kb.exists() and kb.list() == [added]
