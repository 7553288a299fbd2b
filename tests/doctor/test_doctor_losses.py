"""`kb doctor --repair` tells the truth about what it could not save, on really damaged files.

Real stores written by real `kb ingest` processes, damaged on disk (garbage, a shard file
cut in half, a loose file mode), then repaired by real `kb doctor --repair` processes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson

from kb.doctor.repair import id_ranges
from kb.store.shards import shard_folder
from kb.store.store import read_whole


def _ingest(kb_run, folder: Path, count: int) -> None:
    path = folder / "bulk.jsonl"
    path.write_bytes(
        b"".join(
            orjson.dumps({"question": f"Loss question {i}?", "answer": f"Loss answer {i}."}) + b"\n"
            for i in range(count)
        )
    )
    done = kb_run("ingest", "-q", str(path))
    assert done.returncode == 0, done.stderr


def _shard_path(store: Path, number: int) -> Path:
    return shard_folder(store) / orjson.loads(store.read_bytes())["shards"][str(number)]["file"]


def test_doctor_losses_nothing_recovered_gives_no_repair_advice(kb_db: Path, kb_run) -> None:
    garbage = b"\x00not a store at all"
    kb_db.parent.mkdir(parents=True)
    kb_db.write_bytes(garbage)
    report = orjson.loads(kb_run("doctor", "--repair", "--json").stdout)
    assert report["unrepaired"] and not any("--repair" in (f["fix"] or "") for f in report["findings"])
    text = kb_run("doctor", "--repair")
    lines = text.stdout.splitlines()
    assert text.returncode == 1 and kb_db.read_bytes() == garbage
    assert any(line.startswith(b"not repaired: nothing could be recovered") for line in lines)
    assert not any(line.startswith(b"repaired: nothing") for line in lines)
    assert b"kb doctor --repair" not in text.stdout + text.stderr


def test_doctor_losses_shard_cut_in_half_names_the_lost_ids(kb_db: Path, kb_run, tmp_path: Path) -> None:
    _ingest(kb_run, tmp_path, 4500)  # shards 1 (ids 1-2048), 2 (2049-4096) and 3
    shard = _shard_path(kb_db, 2)
    blob = shard.read_bytes()
    shard.write_bytes(blob[: len(blob) // 2])
    done = kb_run("doctor", "--repair", "--json")
    assert done.returncode == 0, done.stdout
    report = orjson.loads(done.stdout)
    kept = {int(k) for k in read_whole(kb_db)["entries"]}
    missing = sorted(set(range(1, 4501)) - kept)
    assert missing and set(missing) <= set(range(2049, 4097))
    assert report["lost"] == {"entries": len(missing), "ids": missing}
    assert f"lost {len(missing)} entries: ids {missing[0]}–{missing[-1]}" in report["actions"]
    again = kb_run("doctor", "--repair")
    assert b"lost" not in again.stdout  # nothing more is lost by a second repair


def test_doctor_losses_a_changed_file_mode_is_said(kb_db: Path, kb_run, tmp_path: Path) -> None:
    _ingest(kb_run, tmp_path, 20)
    os.chmod(kb_db, 0o644)
    kb_db.write_bytes(kb_db.read_bytes()[:-5] + b"garbage")
    before = stat.S_IMODE(kb_db.stat().st_mode)
    report = orjson.loads(kb_run("doctor", "--repair", "--json").stdout)
    after = stat.S_IMODE(kb_db.stat().st_mode)
    assert before == 0o644 and after != before
    said = [a for a in report["actions"] if "mode" in a]
    assert any(f"{after:o}" in a and f"{before:o}" in a and "kb.json" in a for a in said), report["actions"]


def test_doctor_losses_id_ranges_are_compressed() -> None:
    assert id_ranges([2049, 2050, 2051, 2186]) == "2049–2051, 2186"
    assert id_ranges(list(range(2049, 2187))) == "2049–2186"
    assert id_ranges([1, 3, 5], limit=2) == "1, 3, ... (1 more ranges)"
