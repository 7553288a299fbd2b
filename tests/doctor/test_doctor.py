"""Damaged files and `kb doctor`: a damaged store is never overwritten, doctor says what is
wrong, and --repair recovers (last good copy or salvage) without deleting anything.
Also the backup the store keeps on every write, and the self-healing index.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import kb.store.shards as shards_module
from kb.doctor.check import check
from kb.doctor.files import salvage
from kb.doctor.repair import repair
from kb.models import make_uid
from kb.store.shards import parse_document, shard_folder, write_atomically
from kb.store.store import read_whole


def _jsonl(folder: Path, name: str, start: int, count: int) -> Path:
    path = folder / name
    path.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "question": f"How do I fix fault number {i}?",
                    "answer": f"Turn knob {i} clockwise.",
                    "title": f"Fault {i}",
                    "expert": f"Tech {i % 3}",
                }
            )
            + b"\n"
            for i in range(start, start + count)
        )
    )
    return path


def _uids(start: int, count: int) -> set[str]:
    return {
        make_uid(f"How do I fix fault number {i}?", f"Turn knob {i} clockwise.") for i in range(start, start + count)
    }


def _stored_uids(store: Path) -> set[str]:
    return {doc["uid"] for doc in read_whole(store)["entries"].values()}


def _shard_file(store: Path, number: int = 1) -> Path:
    """The file of shard ``number`` that the store's catalog names."""
    return shard_folder(store) / orjson.loads(store.read_bytes())["shards"][str(number)]["file"]


@pytest.fixture
def filled(tmp_path: Path, kb_db: Path, kb_run) -> Path:
    """A store written twice by ingest (full writes): 5 entries, then 25; kb.json.bak holds the 5."""
    assert kb_run("ingest", "-q", str(_jsonl(tmp_path, "a.jsonl", 0, 5))).returncode == 0
    assert kb_run("ingest", "-q", str(_jsonl(tmp_path, "b.jsonl", 5, 20))).returncode == 0
    return kb_db


def _findings(report: dict) -> dict[str, str]:
    return {f["check"]: f["status"] for f in report["findings"]}


# -- the backup kept on every write ---------------------------------------------------------


def test_write_keeps_previous_version_as_bak(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    write_atomically(path, b'{"v": 1}')
    assert not (tmp_path / "kb.json.bak").exists()  # nothing to keep on the first write
    write_atomically(path, b'{"v": 2}')
    write_atomically(path, b'{"v": 3}')
    bak = tmp_path / "kb.json.bak"
    assert bak.read_bytes() == b'{"v": 2}' and path.read_bytes() == b'{"v": 3}'
    assert stat.S_IMODE(bak.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.json", "kb.json.bak"]


def test_write_backup_survives_an_interrupted_previous_backup(tmp_path: Path) -> None:
    """A crash between linking the backup and the rename leaves .bak as the store itself."""
    path = tmp_path / "kb.json"
    write_atomically(path, b'{"v": 1}')
    os.link(path, tmp_path / "kb.json.bak")  # .bak and the store are one inode
    write_atomically(path, b'{"v": 2}')
    assert (tmp_path / "kb.json.bak").read_bytes() == b'{"v": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.json", "kb.json.bak"]


def test_ingest_leaves_last_good_copy(filled: Path) -> None:
    bak = read_whole(filled.with_name("kb.json.bak"), shards=shard_folder(filled))
    assert {d["uid"] for d in bak["entries"].values()} == _uids(0, 5)


# -- damaged store: never overwritten, reported, repaired -----------------------------------


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_store_is_never_overwritten(filled: Path, tmp_path: Path, kb_run, damage: str) -> None:
    blob = filled.read_bytes()
    bad = {"truncated": blob[: len(blob) // 2], "garbage": os.urandom(3000), "empty": b""}[damage]
    filled.write_bytes(bad)
    more = _jsonl(tmp_path, "c.jsonl", 100, 3)
    for args in (
        ("list",),
        ("search", "knob"),
        ("show", "1"),
        ("add", "-Q", "New?", "-a", "Yes."),
        ("ingest", str(more)),
        ("remove", "1", "--yes"),
        ("stats",),
        ("export",),
    ):
        done = kb_run(*args)
        err = done.stderr.decode()
        assert done.returncode == 3, (args, err)
        assert err.startswith("Error: store ") and str(filled) in err.splitlines()[0], (args, err)
        assert "Traceback" not in err and "kb doctor" in err
        assert filled.read_bytes() == bad, f"{args[0]} changed the damaged store"


def test_doctor_healthy_store(filled: Path, kb_run) -> None:
    done = kb_run("doctor")
    assert done.returncode == 0, done.stdout
    assert b"healthy" in done.stderr
    as_json = orjson.loads(kb_run("doctor", "--json").stdout)
    assert as_json["healthy"] is True
    statuses = _findings(as_json)
    assert statuses["store"] == statuses["entries"] == statuses["backup"] == statuses["freshness"] == "ok"


def test_doctor_without_a_store(kb_run, kb_db: Path) -> None:
    done = kb_run("doctor", "--json")
    assert done.returncode == 0
    assert _findings(orjson.loads(done.stdout))["store"] == "note"
    assert not kb_db.parent.exists(), "a check must not create anything"


def test_doctor_repair_damaged_catalog_rebuilds_it_from_the_shards(filled: Path, kb_run) -> None:
    """Cut the catalog: the shard files on disk hold all 25 entries, more than the backup's 5."""
    blob = filled.read_bytes()
    damaged = blob[: int(len(blob) * 0.9)]
    filled.write_bytes(damaged)
    found = kb_run("doctor", "--json")
    assert found.returncode == 1
    assert _findings(orjson.loads(found.stdout))["store"] == "problem"
    fixed = kb_run("doctor", "--repair", "--json")
    assert fixed.returncode == 0, fixed.stdout
    report = orjson.loads(fixed.stdout)
    said = " ".join(report["actions"])
    assert "restored the store from the 25 entries of the shard files on disk (kb.json.bak holds only 5)" in said
    aside = list(filled.parent.glob("kb.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged, "the damaged file must be kept as it was"
    assert _stored_uids(filled) == _uids(0, 25)
    listed = kb_run("list", "--format", "ids", "--limit", "0")
    assert listed.returncode == 0 and len(listed.stdout.split()) == 25
    assert report["healthy"] is True


def test_doctor_repair_restores_backup_when_it_holds_more(filled: Path, kb_run) -> None:
    """Catalog cut and its newest shard file lost: the backup's 5 entries are all there is."""
    newest = _shard_file(filled)
    filled.write_bytes(filled.read_bytes()[:40])
    newest.unlink()
    fixed = kb_run("doctor", "--repair")
    assert fixed.returncode == 0, fixed.stdout
    assert b"restored the store from kb.json.bak" in fixed.stdout
    assert _stored_uids(filled) == _uids(0, 5)
    assert kb_run("search", "knob").returncode == 0


def test_doctor_repair_nothing_to_recover_leaves_file(kb_db: Path, kb_run) -> None:
    kb_db.parent.mkdir(parents=True)
    kb_db.write_bytes(b"\x00garbage, not JSON at all")
    done = kb_run("doctor", "--repair")
    assert done.returncode == 1
    assert b"nothing could be recovered" in done.stdout
    assert kb_db.read_bytes() == b"\x00garbage, not JSON at all"


def test_doctor_repair_lost_catalog_is_rebuilt_from_the_shards(filled: Path, kb_run) -> None:
    filled.unlink()
    found = kb_run("doctor", "--json")
    assert found.returncode == 1 and _findings(orjson.loads(found.stdout))["store"] == "problem"
    fixed = kb_run("doctor", "--repair", "--json")
    assert fixed.returncode == 0, fixed.stdout
    assert _stored_uids(filled) == _uids(0, 25)


def test_doctor_repair_damaged_shard_prefers_larger_recovery(filled: Path, tmp_path: Path, kb_run) -> None:
    """A shard cut near its end: its salvaged entries (most of 25) beat the backup's 5."""
    shard = _shard_file(filled)
    blob = shard.read_bytes()
    damaged = blob[: int(len(blob) * 0.9)]
    shard.write_bytes(damaged)
    # Reads the index can serve still work; what needs the shard says where the damage is.
    assert kb_run("search", "knob").returncode == 0
    raw = kb_run("export")
    assert raw.returncode == 3 and shard.name.encode() in raw.stderr and b"kb doctor" in raw.stderr
    found = orjson.loads(kb_run("doctor", "--json").stdout)
    assert _findings(found)["shards"] == "problem"
    fixed = kb_run("doctor", "--repair", "--json")
    assert fixed.returncode == 0, fixed.stdout
    report = orjson.loads(fixed.stdout)
    said = " ".join(report["actions"])
    assert "from the whole entries salvaged from it" in said and "the last good copy's" in said, said
    aside = list(shard_folder(filled).glob("*.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged, "the damaged file must be kept as it was"
    recovered = _stored_uids(filled)
    assert _uids(0, 5) < recovered <= _uids(0, 25)
    assert report["healthy"] is True
    listed = kb_run("list", "--format", "ids", "--limit", "0")
    assert listed.returncode == 0 and len(listed.stdout.split()) == len(recovered)
    # The repaired store takes writes, and they keep the kept-aside file.
    assert kb_run("ingest", "-q", str(_jsonl(tmp_path, "c.jsonl", 100, 3))).returncode == 0
    assert aside[0].exists()


def test_doctor_repair_lost_shard_restores_the_backups_version(filled: Path, kb_run) -> None:
    _shard_file(filled).unlink()
    assert _findings(orjson.loads(kb_run("doctor", "--json").stdout))["shards"] == "problem"
    fixed = kb_run("doctor", "--repair", "--json")
    assert fixed.returncode == 0, fixed.stdout
    assert _stored_uids(filled) == _uids(0, 5)


def test_salvage_recovers_only_whole_entries_at_every_cut(tmp_path: Path, kb_db: Path, kb_run) -> None:
    assert kb_run("ingest", "-q", str(_jsonl(tmp_path, "a.jsonl", 0, 30))).returncode == 0
    blob = _shard_file(kb_db).read_bytes()
    full = _uids(0, 30)
    previous = -1
    for cut in range(0, len(blob) + 1, max(1, len(blob) // 150)):
        data = salvage(blob[:cut])
        uids = [d["uid"] for d in data["entries"].values()]
        assert set(uids) <= full and len(uids) == len(set(uids))
        for key, doc in data["entries"].items():
            assert doc["uid"] == make_uid(doc["question"], doc["answer"])
            assert key in data["raw"] or cut < len(blob)
        assert len(uids) >= previous  # a longer prefix never recovers fewer
        previous = len(uids)
    assert {d["uid"] for d in salvage(blob)["entries"].values()} == full


def test_salvage_skips_garbage_in_the_middle(tmp_path: Path, kb_db: Path, kb_run) -> None:
    assert kb_run("ingest", "-q", str(_jsonl(tmp_path, "a.jsonl", 0, 30))).returncode == 0
    # The shard as one JSON document, as schema 2 wrote it (compressed ones: below).
    blob = bytearray(orjson.dumps(parse_document(_shard_file(kb_db).read_bytes())))
    middle = blob.index(b"fault number 15")
    blob[middle : middle + 20] = b'\x00\xff{{]]"\\' * 2 + b"\x00" * 6
    data = salvage(bytes(blob))
    uids = {d["uid"] for d in data["entries"].values()}
    assert len(uids) == 29 and uids < _uids(0, 30)
    # The result is a store kb opens (in the single-file layout, converted at its next write).
    kb_db.write_bytes(orjson.dumps(data))
    assert kb_run("list", "--format", "ids", "--limit", "0").stdout.split()[:2] == [b"1", b"2"]
    assert kb_run("add", "-Q", "Converted?", "-a", "Yes.").returncode == 0
    assert len(read_whole(kb_db)["entries"]) == 30


def test_salvage_of_a_compressed_shard_loses_only_the_damaged_member(
    tmp_path: Path, kb_db: Path, kb_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert kb_run("ingest", "-q", str(_jsonl(tmp_path, "a.jsonl", 0, 30))).returncode == 0
    data = parse_document(_shard_file(kb_db).read_bytes())
    monkeypatch.setattr(shards_module, "MEMBER_BYTES", 1)  # a member per entry
    blob = bytearray(shards_module.pack_shard(data))
    assert blob.count(shards_module.MEMBER_HEADER) == 30
    middle = len(blob) // 2
    blob[middle : middle + 20] = b"\x00" * 20
    found = salvage(bytes(blob))
    uids = {d["uid"] for d in found["entries"].values()}
    assert len(uids) in (28, 29) and uids < _uids(0, 30)
    assert all(key in found["raw"] for key in found["entries"])


# -- what doctor checks inside a store that parses -----------------------------------------


def test_doctor_reports_bad_entries(filled: Path) -> None:
    shard = _shard_file(filled)
    data = parse_document(shard.read_bytes())
    entries = data["entries"]
    entries["2"]["answer"] = "changed behind kb's back"  # uid no longer matches
    entries["3"]["question"] = ""
    entries["4"]["uid"] = entries["5"]["uid"]
    entries["6"]["expert"] = "Nobody Known"
    shard.write_bytes(orjson.dumps(data))
    os.chmod(filled, 0o644)
    os.chmod(shard, 0o644)
    report = check(filled)
    assert not report.healthy
    by_check = {f.check: f for f in report.findings}
    assert by_check["entries"].status == "problem"
    assert "id 2: uid does not match" in by_check["entries"].detail
    assert "id 3: no question" in by_check["entries"].detail
    assert by_check["uids"].status == "problem"
    assert by_check["experts"].status == "note" and "Nobody Known" in by_check["experts"].detail
    assert by_check["permissions"].status == "problem"
    fixed = repair(filled)
    assert "made the store readable by its owner only (600)" in fixed.actions
    assert "made 1 shard files readable by their owner only (600)" in fixed.actions
    assert stat.S_IMODE(filled.stat().st_mode) == stat.S_IMODE(shard.stat().st_mode) == 0o600


def test_doctor_lock_held_says_busy(filled: Path, kb_run) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom filelock import FileLock\n"
            "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(60)",
            str(filled.with_name("kb.json.lock")),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        done = kb_run("doctor", env={"KB_LOCK_TIMEOUT": "0.3"})
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 4
    assert b"is busy" in done.stderr.splitlines()[0]


# -- the index: derived, rebuilt by itself -------------------------------------------------


def test_deleted_index_is_rebuilt_by_search(filled: Path, kb_run) -> None:
    index = filled.with_name("kb.index.sqlite")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    done = kb_run("search", "knob", "--format", "ids", "--limit", "50")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 25
    assert index.exists()


def test_garbage_index_is_rebuilt_by_list(filled: Path, kb_run) -> None:
    index = filled.with_name("kb.index.sqlite")
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(os.urandom(8192))
    found = kb_run("doctor", "--json")
    assert found.returncode == 1
    assert _findings(orjson.loads(found.stdout))["index"] == "problem"
    done = kb_run("list", "--format", "ids", "--limit", "0")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 25


def test_doctor_repair_rebuilds_corrupt_and_stale_index(filled: Path, kb_run) -> None:
    index = filled.with_name("kb.index.sqlite")
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    blob = bytearray(index.read_bytes())
    blob[len(blob) // 2 : len(blob) // 2 + 4096] = os.urandom(4096)  # damage pages inside
    index.write_bytes(bytes(blob))
    fixed = kb_run("doctor", "--repair", "--json")
    assert fixed.returncode == 0, fixed.stdout
    report = orjson.loads(fixed.stdout)
    assert any("rebuilt the search index (25 entries)" in a for a in report["actions"]), report
    assert _findings(report)["freshness"] == "ok"
    # A stale index (the store changed behind its back) is noted, and rebuilt on repair.
    shard = _shard_file(filled)
    data = parse_document(shard.read_bytes())
    del data["entries"]["1"]
    shard.write_bytes(orjson.dumps(data))
    catalog = orjson.loads(filled.read_bytes())
    catalog["shards"]["1"]["entries"] = 24
    write_atomically(filled, orjson.dumps(catalog))
    stale = orjson.loads(kb_run("doctor", "--json").stdout)
    assert _findings(stale)["freshness"] == "note"
    report = orjson.loads(kb_run("doctor", "--repair", "--json").stdout)
    assert any("rebuilt the search index (24 entries)" in a for a in report["actions"])


def test_index_damaged_inside_is_rebuilt_by_list(filled: Path, kb_run) -> None:
    index = filled.with_name("kb.index.sqlite")
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    blob = bytearray(index.read_bytes())
    blob[len(blob) // 2 : len(blob) // 2 + 4096] = os.urandom(4096)
    index.write_bytes(bytes(blob))
    added = kb_run("add", "-Q", "One more?", "-a", "Yes.")
    assert added.returncode == 0, added.stderr  # the store took it; the index heals
    done = kb_run("list", "--format", "ids", "--limit", "0")
    assert done.returncode == 0, done.stderr


def test_doctor_table_output_is_plain_text(filled: Path, kb_run) -> None:
    done = kb_run("doctor")
    assert done.returncode == 0
    text = done.stdout.decode()
    assert "check" in text and "freshness" in text and "\x1b" not in text


def test_repair_salvage_keeps_journalled_writes(filled: Path, kb_run) -> None:
    """Entries added since the last full write live in the journal; salvage replays it."""
    added = kb_run("add", "-Q", "Journalled after the ingest?", "-a", "Yes, and kept by repair.")
    assert added.returncode == 0, added.stderr
    journalled = make_uid("Journalled after the ingest?", "Yes, and kept by repair.")
    assert filled.with_name("kb.json.journal").exists()
    blob = filled.read_bytes()
    # Damage the catalog in place (same inode, so the journal still names it) and drop
    # the backup, so the shard files plus the journal are the only way back.
    with open(filled, "r+b") as fh:
        fh.seek(len(blob) - 200)
        fh.write(b"\x00" * 200)
    filled.with_name("kb.json.bak").unlink(missing_ok=True)
    report = repair(filled)
    assert any("replayed 1 journalled writes" in a for a in report.actions), report.actions
    assert journalled in _stored_uids(filled) and _uids(0, 25) < _stored_uids(filled)
    assert report.healthy, report.findings


def test_check_names_entries_kept_in_the_wrong_shard_file(filled: Path) -> None:
    shard = _shard_file(filled)
    data = parse_document(shard.read_bytes())
    data["entries"]["5000"] = data["entries"].pop("3")  # id 5000 belongs to shard 3
    write_atomically(shard, orjson.dumps(data))
    report = check(filled)
    wrong = [f.detail for f in report.findings if f.check == "ids" and "wrong shard" in f.detail]
    assert wrong == ["1 entries sit in the wrong shard file: ids 5000"]
    assert not report.healthy


def test_doctor_repair_unreadable_shard_is_one_line_and_left_alone(filled: Path, cli, monkeypatch) -> None:
    """A shard kb may not read is not damage: repair says so in one line and replaces nothing."""
    shard = _shard_file(filled)
    catalog, content = filled.read_bytes(), shard.read_bytes()
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == shard:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    done = cli("doctor", "--repair")
    assert done.exit_code == 1
    said = [line for line in done.stdout.splitlines() if "kb may not read it" in line]
    assert len(said) == 1 and shard.name in said[0], done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    monkeypatch.undo()
    assert filled.read_bytes() == catalog and shard.read_bytes() == content
    assert not list(shard.parent.glob("*.damaged-*"))


def test_doctor_says_whether_searches_use_meaning(filled: Path) -> None:
    found = next(f for f in check(filled).to_dict()["findings"] if f["check"] == "semantic")
    assert found["status"] == "ok" and found["detail"].startswith("off: words only"), found
