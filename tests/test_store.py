"""The TinyDB store: atomic writes, batches, de-duplication, ids, damage, locking."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tinydb.storages import MemoryStorage

from kb.errors import StoreBusy, StoreError
from kb.models import Source
from kb.store import AtomicJSONStorage, Store
from tests.conftest import make_entry


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path: Path) -> Store:
    if request.param == "memory":
        return Store(None, storage=MemoryStorage)
    return Store(tmp_path / "kb.json")


def test_store_apply_adds_then_reports_unchanged(store: Store) -> None:
    with store.transaction():
        first = store.apply([make_entry(1), make_entry(2)])
    assert [e.id for e in first.added] == [1, 2]
    with store.transaction():
        again = store.apply([make_entry(1), make_entry(2)])
    assert again.added == [] and [e.id for e in again.unchanged] == [1, 2]
    assert store.count() == 2


def test_store_twin_within_one_batch_is_added_once(store: Store) -> None:
    with store.transaction():
        result = store.apply([make_entry(1), make_entry(1)])
    assert len(result.added) == 1 and len(result.unchanged) == 1
    assert result.unchanged[0].id == result.added[0].id


def test_store_same_source_key_updates_in_place(store: Store) -> None:
    src = Source(path="/x/faq.txt", key="1", format="qa")
    with store.transaction():
        store.apply([make_entry(1, source=src)])
    changed = make_entry(1, answer="A better answer.", source=Source(path="/x/faq.txt", key="1", format="qa"))
    with store.transaction():
        result = store.apply([changed])
    assert [e.id for e in result.updated] == [1]
    assert store.count() == 1
    assert store.get(1).answer == "A better answer."
    assert store.get(1).created_at is not None


def test_store_ids_never_reused_after_remove(store: Store) -> None:
    with store.transaction():
        store.apply([make_entry(1), make_entry(2)])
    with store.transaction():
        assert store.remove([2, 99]) == [2]
    with store.transaction():
        result = store.apply([make_entry(3)])
    assert result.added[0].id == 3


def test_store_keeps_expert_profile_once(store: Store) -> None:
    with store.transaction():
        store.apply([make_entry(1), make_entry(2)])
    assert list(store.experts()) == ["Pat Doe"]
    assert store.get(2).expert.expertise == "Gardens"


def test_store_keeps_raw_text(store: Store) -> None:
    entry = make_entry(1)
    entry.raw = "Q: original\nA: text\n"
    with store.transaction():
        store.apply([entry])
    assert store.get_raw(1) == "Q: original\nA: text\n"


def test_store_file_is_owner_only_and_valid_json(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(1)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["entries"]["1"]["expert"] == "Pat Doe"
    assert data["meta"]["1"]["schema"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_store_one_write_per_transaction(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(1)])
    before = path.stat().st_ino
    with store.transaction():
        store.apply([make_entry(2)])
        store.apply([make_entry(3)])
        # Nothing reaches the file until the transaction ends.
        assert path.stat().st_ino == before
    assert Store(path).count() == 3


def test_store_exception_in_transaction_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(1)])
    blob = path.read_bytes()
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.apply([make_entry(2)])
            raise RuntimeError("boom")
    assert path.read_bytes() == blob
    with store.transaction():
        assert store.count() == 1


@pytest.mark.parametrize("damage", [b"", b"{\"entries\": {\"1\": {\"uid\"", b"\x00\x01garbage", b"[1, 2]"])
def test_store_damaged_file_is_never_overwritten(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "kb.json"
    path.write_bytes(damage)
    store = Store(path)
    with pytest.raises(StoreError) as info:
        with store.transaction():
            store.apply([make_entry(1)])
    assert str(path) in str(info.value)
    assert path.read_bytes() == damage


def test_store_truncated_real_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(i) for i in range(50)])
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(StoreError, match="damaged"):
        with Store(path).transaction():
            pass
    assert path.read_bytes() == blob[: len(blob) // 2]


def test_store_readonly_folder_keeps_old_store(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    store = Store(folder / "kb.json")
    with store.transaction():
        store.apply([make_entry(1)])
    blob = (folder / "kb.json").read_bytes()
    if os.geteuid() == 0:
        # root ignores folder permissions: take the temp file's name with a folder instead
        (folder / f".kb.json.{os.getpid()}.tmp").mkdir()
    else:
        folder.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="previous version was kept"):
            with store.transaction():
                store.apply([make_entry(2)])
    finally:
        folder.chmod(0o700)
    assert (folder / "kb.json").read_bytes() == blob


def test_store_lock_timeout_says_busy(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from filelock import FileLock\n"
            f"lock = FileLock({str(path) + '.lock'!r}); lock.acquire()\n"
            "print('held', flush=True); time.sleep(30)\n"
        )],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        store = Store(path, lock_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="busy"):
            with store.transaction():
                pass
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_store_sees_other_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    mine = Store(path)
    with mine.transaction():
        mine.apply([make_entry(1)])
    other = Store(path)
    with other.transaction():
        other.apply([make_entry(2)])
    with mine.transaction():
        result = mine.apply([make_entry(3)])
        assert mine.count() == 3
    assert result.added[0].id == 3


def test_store_keeps_its_copy_while_the_file_is_unchanged(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(1)])
    loads = []
    real_load = AtomicJSONStorage._load
    monkeypatch.setattr(AtomicJSONStorage, "_load", lambda self: loads.append(1) or real_load(self))
    with store.transaction():
        store.apply([make_entry(2)])
    assert loads == []  # its own write is what the file holds: no re-read
    other = Store(path)
    with other.transaction():
        other.apply([make_entry(3)])
    loads.clear()
    with store.transaction():
        assert store.count() == 3  # another writer renamed a new file in: re-read
    assert loads == [1]


def test_store_loads_past_orjsons_size_limit(tmp_path: Path, monkeypatch) -> None:
    """orjson refuses multi-GB documents with a 'memory' error; that is no damage."""
    import orjson

    import kb.store as store_module

    path = tmp_path / "kb.json"
    with Store(path).transaction() as store:
        store.apply([make_entry(1), make_entry(2)])
    real = orjson.loads

    def refusing(blob):
        if len(blob) > 500:
            raise orjson.JSONDecodeError("Not enough memory to allocate buffer for parsing", "", 0)
        return real(blob)

    monkeypatch.setattr(store_module.orjson, "loads", refusing)
    assert Store(path).get(2).question == make_entry(2).question
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(StoreError, match="damaged"):
        Store(path).count()
