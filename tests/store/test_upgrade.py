"""A store written by the previous kb (schema 2: shards as plain JSON documents) opens and keeps everything.

`schema2/` was written by kb at schema 2 from the bundled samples read on stdin, plus one
`kb add` that sits in its journal; `expected.json` holds what that kb printed for
`kb export --format jsonl` and for `kb show --raw ID` of every entry. This kb must print
the same before and after its first write, which turns the store into schema 3.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest

from kb.store.journal import base_version
from kb.store.shards import GZIP_MAGIC
from tests.conftest import run_kb

OLD = Path(__file__).parent / "schema2"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    shutil.copytree(OLD, folder, ignore=shutil.ignore_patterns("expected.json"))
    path = folder / "kb.json"
    # kb makes its files owner-only; a checkout of the test data may not have kept that.
    for item in (folder, folder / "kb.json.d"):
        item.chmod(0o700)
    for item in folder.rglob("*"):
        if item.is_file():
            item.chmod(0o600)
    # The journal names the catalog it extends by inode, size and time; a copy is a new file.
    journal = folder / "kb.json.journal"
    head, rest = journal.read_bytes().split(b"\n", 1)
    base = orjson.loads(head)
    base["base"] = base_version(path.stat())
    journal.write_bytes(orjson.dumps(base) + b"\n" + rest)
    return path


def _expected() -> dict:
    return json.loads((OLD / "expected.json").read_text(encoding="utf-8"))


def _export(env: dict[str, str]) -> list[dict]:
    done = run_kb("export", "--format", "jsonl", env=env)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def _assert_everything_kept(env: dict[str, str]) -> None:
    expected = _expected()
    # Entries gained a status since that kb (open questions, kb post): every one it
    # stored reads as answered, and nothing else of it changed.
    answered = [{**record, "status": "answered"} for record in expected["export"]]
    assert _export(env)[: len(expected["export"])] == answered
    for ref, text in expected["raw"].items():
        done = run_kb("show", "--raw", ref, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode() == text, ref


def test_upgrade_old_store_reads_everything_unchanged(old_store: Path) -> None:
    env = {"KB_DB": str(old_store)}
    before = {p.name: p.read_bytes() for p in (old_store.parent / "kb.json.d").iterdir()}
    _assert_everything_kept(env)
    found = run_kb("search", "journalled", "--format", "ids", env=env)
    assert found.stdout.split() == [b"12"]
    # Reading converts nothing.
    assert {p.name: p.read_bytes() for p in (old_store.parent / "kb.json.d").iterdir()} == before
    assert orjson.loads(old_store.read_bytes())["meta"]["1"]["schema"] == 2


def test_upgrade_first_write_compresses_and_keeps_everything(old_store: Path) -> None:
    env = {"KB_DB": str(old_store)}
    new = old_store.parent / "new.txt"
    new.write_text("Q: Does the first write keep the old entries?\nA: Every one, and their text.\n")
    added = run_kb("ingest", "-q", str(new), env=env)
    assert added.returncode == 0, added.stderr
    catalog = orjson.loads(old_store.read_bytes())
    assert catalog["meta"]["1"]["schema"] == 3
    assert not old_store.with_name("kb.json.journal").exists()
    current = old_store.parent / "kb.json.d" / catalog["shards"]["1"]["file"]
    assert current.read_bytes()[:2] == GZIP_MAGIC
    _assert_everything_kept(env)
    assert len(_export(env)) > len(_expected()["export"])
    assert run_kb("doctor", env=env).returncode == 0
