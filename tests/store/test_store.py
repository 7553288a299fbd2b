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

import kb.store.base as store_module
import kb.store.shards as shards_module
from kb.errors import StoreBusy, StoreError
from kb.models import Expert, Source
from kb.store.shards import shard_folder
from kb.store.store import Store, read_whole
from tests.conftest import make_entry, run_kb


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


@pytest.mark.parametrize(
    "change",
    [{"category": "Other"}, {"title": "New title"}, {"tags": ["t", "u"]}, {"expert": Expert(name="Lee Roe")}],
    ids=["category", "title", "tags", "expert"],
)
def test_store_same_text_same_source_new_labels_updates(store: Store, change: dict) -> None:
    def source() -> Source:
        return Source(path="/x/dump/Posts.xml", key="7", format="stackexchange")

    with store.transaction():
        first = store.apply([make_entry(1, source=source())]).added[0]
    relabelled = make_entry(1, source=source(), **change)
    assert relabelled.uid == first.uid
    with store.transaction():
        result = store.apply([relabelled])
    assert result.unchanged == [] and [e.id for e in result.updated] == [first.id]
    stored = store.get(first.id)
    for name, value in change.items():
        assert getattr(stored, name) == value
    assert stored.created_at == first.created_at and store.count() == 1
    with store.transaction():
        again = store.apply([make_entry(1, source=source(), **change)])
    assert again.updated == [] and [e.id for e in again.unchanged] == [first.id]


def test_store_same_text_other_source_new_labels_is_unchanged(store: Store) -> None:
    with store.transaction():
        store.apply([make_entry(1, source=Source(path="/x/a.txt", key="1", format="qa"))])
    with store.transaction():
        result = store.apply([make_entry(1, category="Other", source=Source(path="/x/b.txt", key="1", format="qa"))])
    assert result.updated == [] and [e.id for e in result.unchanged] == [1]
    assert store.get(1).category == "General"


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


def test_store_merges_expert_profiles_across_batches_and_commits(store: Store) -> None:
    # A profile's sections fill in from later entries, in the same transaction (apply
    # after apply, as an ingest's chunks go) and in a later one; a rolled-back merge
    # leaves nothing behind, and every name is kept once.
    from kb.models import Expert

    with store.transaction():
        store.apply([make_entry(1, expert=Expert(name="Ann Lee"))])
        store.apply([make_entry(2, expert=Expert(name="Ann Lee", expertise="Soil"))])
        store.apply([make_entry(3, expert=Expert(name="Bo Ray", awards="Medal"))])
    store.begin()
    store.apply([make_entry(4, expert=Expert(name="Ann Lee", awards="Cup"))])
    store.rollback()
    assert store.experts()["Ann Lee"].awards is None
    with store.transaction():
        store.apply([make_entry(5, expert=Expert(name="Ann Lee", awards="Prize", expertise="Roots"))])
        store.apply([make_entry(6, expert=Expert(name="Cy Moss"))])
    experts = store.experts()
    assert sorted(experts) == ["Ann Lee", "Bo Ray", "Cy Moss"]
    # The first value of a section stays; only empty sections are filled in.
    assert (experts["Ann Lee"].expertise, experts["Ann Lee"].awards) == ("Roots", "Prize")
    assert store.get(2).expert.expertise == "Roots"
    catalog = store._view().catalog["experts"] if store.path is None else json.loads(store.path.read_text())["experts"]
    assert sorted(doc["name"] for doc in catalog.values()) == ["Ann Lee", "Bo Ray", "Cy Moss"]
    assert sorted(catalog, key=int) == ["1", "2", "3"]


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
    catalog = json.loads(path.read_text())
    assert catalog["meta"]["1"]["schema"] == 3
    assert list(catalog["experts"].values())[0]["name"] == "Pat Doe"
    folder = shard_folder(path)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    shard = folder / catalog["shards"]["1"]["file"]
    assert stat.S_IMODE(shard.stat().st_mode) == 0o600
    data = shards_module.parse_document(shard.read_bytes())  # TinyDB's shape: table -> id -> document
    assert data["entries"]["1"]["expert"] == "Pat Doe"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


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


@pytest.mark.parametrize("damage", [b"", b'{"entries": {"1": {"uid"', b"\x00\x01garbage", b"[1, 2]"])
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
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from filelock import FileLock\n"
                f"lock = FileLock({str(path) + '.lock'!r}); lock.acquire()\n"
                "print('held', flush=True); time.sleep(30)\n"
            ),
        ],
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
    real_read = store_module.read_snapshot
    monkeypatch.setattr(store_module, "read_snapshot", lambda *a: loads.append(1) or real_read(*a))
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

    path = tmp_path / "kb.json"
    with Store(path).transaction() as store:
        store.apply([make_entry(1), make_entry(2)])
    real = orjson.loads

    def refusing(blob):
        if len(blob) > 500:
            raise orjson.JSONDecodeError("Not enough memory to allocate buffer for parsing", "", 0)
        return real(blob)

    monkeypatch.setattr(orjson, "loads", refusing)
    assert Store(path).get(2).question == make_entry(2).question
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(StoreError, match="damaged"):
        Store(path).count()


# -- shards ----------------------------------------------------------------------------


@pytest.fixture
def small_shards(monkeypatch):
    """Shards of 4 entries, at most 2 held in memory: many files from a few entries."""
    monkeypatch.setattr(shards_module, "SHARD_SIZE", 4)
    monkeypatch.setattr(store_module, "KEEP_LOADED", 2)


def _files(path: Path) -> set[str]:
    return {p.name for p in shard_folder(path).iterdir()}


def test_store_spreads_entries_over_shards_and_reads_them_back(tmp_path: Path, small_shards) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        for start in range(0, 30, 7):
            store.apply([make_entry(i) for i in range(start, min(start + 7, 30))])
            assert len(store._loaded) <= 2  # the rest were written out
    catalog = json.loads(path.read_text())
    assert sorted(catalog["shards"], key=int) == [str(n) for n in range(1, 9)]
    assert [doc["entries"] for doc in catalog["shards"].values()] == [4] * 7 + [2]
    assert _files(path) == {doc["file"] for doc in catalog["shards"].values()}
    fresh = Store(path)
    assert fresh.count() == 30
    assert [e.id for e in fresh.iter_entries()] == list(range(1, 31))
    assert fresh.get(17).question == make_entry(16).question
    with fresh.transaction():
        assert fresh.remove([5, 6, 7, 8, 12]) == [5, 6, 7, 8, 12]
        again = fresh.apply([make_entry(i) for i in range(30)])  # the removed five come back
    assert [e.id for e in again.added] == [31, 32, 33, 34, 35] and len(again.unchanged) == 25
    assert Store(path).count() == 30
    shards = json.loads(path.read_text())["shards"]
    assert [shards[n]["entries"] for n in ("2", "3", "8", "9")] == [0, 3, 4, 3]


def test_store_keeps_the_previous_version_whole(tmp_path: Path, small_shards) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(i) for i in range(10)])
    with store.transaction():
        store.apply([make_entry(i) for i in range(10, 12)])
    first_files = _files(path)
    with store.transaction():
        store.remove([1])
    # kb.json.bak is the catalog before the last commit, and every file it names is kept.
    backup = read_whole(path.with_name("kb.json.bak"), shards=shard_folder(path))
    assert sorted(int(k) for k in backup["entries"]) == list(range(1, 13))
    assert sorted(int(k) for k in read_whole(path)["entries"]) == list(range(2, 13))
    with store.transaction():
        store.remove([2])
    # Files that only the catalog of two commits ago named are gone.
    now = _files(path)
    assert "000001-1.json" in first_files and "000001-1.json" not in now
    named = {doc["file"] for doc in json.loads(path.read_text())["shards"].values()}
    assert named <= now


def test_store_rollback_removes_the_files_it_wrote(tmp_path: Path, small_shards) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(i) for i in range(3)])
    before, catalog = _files(path), path.read_bytes()
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.apply([make_entry(i) for i in range(3, 20)])  # spills shards to new files
            assert len(_files(path)) > len(before)
            raise RuntimeError("boom")
    assert _files(path) == before and path.read_bytes() == catalog
    assert Store(path).count() == 3


def test_store_damaged_shard_is_named_and_left_alone(tmp_path: Path, small_shards) -> None:
    path = tmp_path / "kb.json"
    store = Store(path)
    with store.transaction():
        store.apply([make_entry(i) for i in range(8)])
    shard = shard_folder(path) / json.loads(path.read_text())["shards"]["2"]["file"]
    blob = shard.read_bytes()
    shard.write_bytes(blob[: len(blob) // 2])
    fresh = Store(path)
    assert fresh.get(1).question == make_entry(0).question  # other shards still read
    with pytest.raises(StoreError, match=shard.name):
        fresh.get(6)
    with pytest.raises(StoreError, match="damaged"):
        with fresh.transaction():
            fresh.apply([make_entry(50)])  # the scan for known uids meets the damage
    assert shard.read_bytes() == blob[: len(blob) // 2]


def test_store_missing_shard_file_is_damage_under_the_lock(tmp_path: Path, small_shards) -> None:
    path = tmp_path / "kb.json"
    with Store(path).transaction() as store:
        store.apply([make_entry(i) for i in range(8)])
    (shard_folder(path) / json.loads(path.read_text())["shards"]["1"]["file"]).unlink()
    with pytest.raises(StoreError, match="missing"):
        with Store(path).transaction() as store:
            store.get(1)


def test_store_reader_moves_on_when_a_writer_replaces_its_shard(tmp_path: Path, small_shards) -> None:
    path = tmp_path / "kb.json"
    writer = Store(path)
    with writer.transaction():
        writer.apply([make_entry(i) for i in range(8)])
    reader = Store(path)
    entries = reader.iter_entries()
    assert next(entries).id == 1  # the reader holds the catalog, and has read shard 1
    for n in (100, 101, 102):  # three commits that each rewrite shard 2: its old file goes
        with writer.transaction():
            writer.remove([8]) if n == 100 else writer.apply([make_entry(n)])
    rest = [e.id for e in entries]
    assert rest == [2, 3, 4, 5, 6, 7, 9, 10]
    assert reader.get(10).question == make_entry(102).question


def test_store_converts_a_single_file_store_at_its_first_write(tmp_path: Path, small_shards) -> None:
    """A store written before shards (schema 1) is read as it is, and converted once."""
    path = tmp_path / "kb.json"
    entries = [make_entry(i) for i in range(6)]
    docs = {}
    for n, entry in enumerate(entries, start=1):
        doc = entry.to_dict()
        del doc["id"]
        doc["expert"] = "Pat Doe"
        doc["created_at"] = doc["updated_at"] = "2026-01-01T00:00:00+00:00"
        docs[str(n)] = doc
    old = {
        "meta": {"1": {"schema": 1, "created_at": "2026-01-01T00:00:00+00:00", "last_id": 7}},
        "entries": docs,
        "experts": {"1": {"name": "Pat Doe", "expertise": "Gardens"}},
        "raw": {"2": {"text": "Q: two\nA: 2\n"}},
    }
    blob = json.dumps(old).encode()
    path.write_bytes(blob)
    reader = Store(path)
    assert reader.count() == 6 and reader.get_raw(2) == "Q: two\nA: 2\n"
    assert reader.get(3).expert.expertise == "Gardens"
    assert path.read_bytes() == blob  # reading converts nothing
    with reader.transaction():
        added = reader.apply([make_entry(0), make_entry(40)])
    assert [e.id for e in added.added] == [8] and [e.id for e in added.unchanged] == [1]
    catalog = json.loads(path.read_text())
    assert catalog["meta"]["1"]["schema"] == 3 and "entries" not in catalog
    assert path.with_name("kb.json.bak").read_bytes() == blob  # the old file is the backup
    fresh = Store(path)
    assert [e.id for e in fresh.iter_entries()] == [1, 2, 3, 4, 5, 6, 8]
    assert fresh.get_raw(2) == "Q: two\nA: 2\n" and fresh.get(6).created_at.startswith("2026-01-01")


def test_store_commit_keeps_its_files_when_a_step_after_the_catalog_fails(tmp_path: Path, monkeypatch) -> None:
    """Once the catalog names the new files, nothing may take them back."""
    from kb.store import journal

    path = tmp_path / "kb.json"
    with Store(path).transaction() as store:
        store.apply([make_entry(1)])

    def stuck(_path, _state):
        raise PermissionError("journal cannot be removed")

    monkeypatch.setattr(journal, "discard", stuck)
    with Store(path).transaction() as store:
        store.apply([make_entry(2)])
    assert [e.id for e in Store(path).iter_entries()] == [1, 2]


def test_store_missing_shard_file_is_one_line_for_every_command(tmp_path: Path) -> None:
    """A shard file gone from disk: reads that need it stop at once with exit 3, never spin."""
    db = tmp_path / "kb.json"
    stdin = b"".join(b'{"question": "Question %d?", "answer": "Answer %d."}\n' % (i, i) for i in range(2100))
    assert run_kb("--db", str(db), "ingest", "-q", "-F", "jsonl", "-", input=stdin).returncode == 0
    (shard_folder(db) / json.loads(db.read_text())["shards"]["2"]["file"]).unlink()
    for command in (["export"], ["stats"], ["show", "--raw", "2050"], ["export", "-F", "csv"]):
        done = run_kb("--db", str(db), *command, timeout=30)
        assert done.returncode == 3, (command, done.stderr)
        err = done.stderr.decode()
        assert "is missing" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2, err


def test_store_symlinked_catalog_is_written_through_the_link(tmp_path: Path) -> None:
    """A kb.json that is a symbolic link stays one; its target gets every commit."""
    real = tmp_path / "synced" / "real.json"
    real.parent.mkdir()
    db = tmp_path / "store" / "kb.json"
    db.parent.mkdir()
    db.symlink_to(real)
    for i in (1, 2):  # the first makes the store, the second is journalled
        assert run_kb("--db", str(db), "add", "-Q", f"Question {i}?", "-a", f"Answer {i}.").returncode == 0
    stdin = b'{"question": "Question 3?", "answer": "Answer 3."}\n'
    assert run_kb("--db", str(db), "ingest", "-q", "-F", "jsonl", "-", input=stdin).returncode == 0
    assert db.is_symlink() and os.readlink(db) == str(real)
    assert len(read_whole(real, shards=shard_folder(db))["entries"]) == 3
    assert run_kb("--db", str(db), "list", "--format", "ids").stdout.split() == [b"1", b"2", b"3"]
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_store_shard_emptied_by_removals_reads_back_with_its_tables() -> None:
    """A compressed shard with no entry left has no lines; it still reads as a shard (doctor
    and repair count its entries)."""
    blob = shards_module.pack_shard({"entries": {}, "raw": {}})
    assert shards_module.parse_document(blob) == {"entries": {}, "raw": {}}
    one = {"entries": {"5": {"uid": "x"}}, "raw": {"5": "text"}}
    assert shards_module.parse_document(shards_module.pack_shard(one)) == one


def test_store_shard_is_plain_gzip_whichever_deflater_wrote_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """ISA-L deflates the shards where it is installed, zlib elsewhere: either file is one
    gzip file that `zcat` (here Python's gzip) reads, and each member starts the same way."""
    import gzip
    import zlib

    data = {"entries": {str(i): {"uid": str(i), "answer": "words " * 50} for i in range(1, 40)}, "raw": {}}
    monkeypatch.setattr(shards_module, "MEMBER_BYTES", 1000)
    for deflater in (shards_module._deflater, zlib):
        monkeypatch.setattr(shards_module, "_deflater", deflater)
        blob = shards_module.pack_shard(data)
        assert blob.startswith(shards_module.MEMBER_HEADER) and blob.count(shards_module.MEMBER_HEADER) > 2
        assert gzip.decompress(blob).count(b"\n") == 39
        assert shards_module.parse_document(blob) == data
