"""Crash safety: the real `kb ingest`, killed with SIGKILL at many moments, loses nothing.

The harness ingests 3,000 one-entry Q/A files with ``KB_BATCH_SIZE=1``, so the batches
(1, 2, 4, ... entries, doubling) commit after 1, 3, 7, ..., 1023 and 3,000 entries
(the batch of 1,024 is applied in chunks of 1,000 and so runs on to the end): eleven
commit points in a run of about a second. Files are read in name order, so the store
must always hold exactly the first N files' entries, N one of those totals. Each
campaign kills the ingest several times against the same store (every re-run carries
on), checks the store, its backup and its index after every kill, then lets an ingest
finish and checks that every file is present exactly once.

Kills after a delay land mostly in a run's longest stretches, the late batches, so a
second harness climbs the ladder of commit points instead: it kills each run just
after its first commit has replaced the catalog, between the rename and the clean-up.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from kb.models import make_uid
from kb.store.store import read_whole

N_FILES = 3000
CAMPAIGNS = 4
KILLS_PER_CAMPAIGN = 9
# The totals a store can hold: whole batches of 1, 2, 4, ... entries, and the last one.
COMMITTED = {0, N_FILES} | {2**k - 1 for k in range(1, 13) if 2**k - 1 < N_FILES}


def _question(i: int) -> str:
    return f"What is question number {i} about widget {i * 7}?"


def _answer(i: int) -> str:
    return f"It is answer {i}, concerning gadget {i * 13}."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """3,000 small Q/A files (every tenth names an expert), and their uids in file order."""
    folder = tmp_path_factory.mktemp("crash") / "files"
    folder.mkdir()
    for i in range(N_FILES):
        expert = f"Expert: Dr. Number {i % 7}\n" if i % 10 == 0 else ""
        (folder / f"q{i:05d}.txt").write_text(f"Title: Topic {i}\n{expert}Q: {_question(i)}\nA: {_answer(i)}\n")
    return folder, [make_uid(_question(i), _answer(i)) for i in range(N_FILES)]


def _env(store: Path) -> dict[str, str]:
    env = dict(os.environ, KB_DB=str(store), KB_BATCH_SIZE="1", NO_COLOR="1")
    env.pop("KB_LOCK_TIMEOUT", None)
    return env


def _ingest(store: Path, folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kb", "ingest", "--quiet", str(folder)],
        env=_env(store),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@dataclass
class Tally:
    """What the kills hit: how many landed mid-run, the totals seen, stale indexes."""

    killed: int = 0
    finished_first: int = 0
    totals: list[int] = field(default_factory=list)
    stale_index: int = 0
    temp_files: int = 0


def _whole_entries(data: dict, expected: list[str], where: str) -> list[int]:
    """Assert the store document holds only whole entries of whole batches; return ids."""
    entries = data.get("entries", {})
    uids = []
    for key, doc in entries.items():
        assert doc["question"].strip() and doc["answer"].strip(), f"{where}: entry {key} lacks text"
        assert doc["uid"] == make_uid(doc["question"], doc["answer"]), f"{where}: entry {key} uid mismatch"
        assert key in data.get("raw", {}), f"{where}: entry {key} lost its original text"
        uids.append(doc["uid"])
    assert len(uids) == len(set(uids)), f"{where}: a uid is stored twice"
    assert len(uids) in COMMITTED, f"{where}: {len(uids)} entries is not a sum of whole batches"
    assert set(uids) == set(expected[: len(uids)]), f"{where}: not the first {len(uids)} files' entries"
    experts = {doc["name"] for doc in data.get("experts", {}).values()}
    assert {doc["expert"] for doc in entries.values() if doc.get("expert")} <= experts
    return sorted(int(k) for k in entries)


def _check_after_kill(store: Path, expected: list[str], tally: Tally, where: str) -> None:
    from kb.api import KnowledgeBase

    ids: list[int] = []
    version = None
    if store.exists():
        # The library opens it (a damaged file would raise StoreError here).
        kb = KnowledgeBase.open(store)
        with kb.backend.store.transaction():
            via_store = sorted(e.id for e in kb.backend.store.iter_entries())
            version = kb.backend.store.signature()
        kb.close()
        ids = _whole_entries(read_whole(store), expected, where)
        assert via_store == ids
    backup = store.with_name(store.name + ".bak")
    if backup.exists():
        _whole_entries(read_whole(backup, shards=store.with_name(store.name + ".d")), expected, f"{where} (backup)")
    tally.totals.append(len(ids))
    tally.temp_files = max(tally.temp_files, len(list(store.parent.glob(f".{store.name}.*.tmp"))))
    index = store.with_name("kb.index.sqlite")
    if index.exists() and store.exists():
        conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
        try:
            signature = conn.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
            indexed = sorted(r[0] for r in conn.execute("SELECT id FROM entries"))
        finally:
            conn.close()
        if signature and signature[0] == version:
            assert indexed == ids, f"{where}: the index claims to be current but is not"
        else:
            tally.stale_index += 1
    # The real command serves list from the index, rebuilding it first when stale.
    listed = subprocess.run(
        [sys.executable, "-m", "kb", "list", "--format", "ids", "--limit", "0"],
        env=_env(store),
        capture_output=True,
        timeout=60,
    )
    # An empty store lists nothing, successfully; one the kill left uncreated is named as missing.
    assert listed.returncode == (0 if store.exists() else 1), listed.stderr
    assert b"Traceback" not in listed.stderr
    assert [int(x) for x in listed.stdout.split()] == ids, f"{where}: kb list disagrees with the store"


def _campaign(n: int, folder: Path, expected: list[str], delays: list[float], root: Path) -> Tally:
    store = root / f"campaign{n}" / "kb.json"
    store.parent.mkdir(parents=True)
    tally = Tally()
    for k, delay in enumerate(delays):
        # A re-run over a store that already holds most files finishes sooner than the
        # calibration run: when the ingest ends before the kill, try again sooner.
        for _attempt in range(4):
            proc = _ingest(store, folder)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
            if proc.returncode == -signal.SIGKILL:
                tally.killed += 1
            else:
                assert proc.returncode == 0, err
                tally.finished_first += 1
            _check_after_kill(store, expected, tally, f"campaign {n}, kill {k} after {delay:.2f} s")
            if proc.returncode == -signal.SIGKILL:
                break
            delay /= 2
    done = subprocess.run(
        [sys.executable, "-m", "kb", "ingest", "--json", str(folder)], env=_env(store), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["counts"]["failed"] == 0
    data = read_whole(store)
    uids = [doc["uid"] for doc in data["entries"].values()]
    assert len(uids) == N_FILES and set(uids) == set(expected), "not every file exactly once"
    _check_after_kill(store, expected, tally, f"campaign {n}, completed")
    return tally


def _catalog_version(store: Path) -> tuple[int, int] | None:
    """The catalog file's inode and modification time: each commit renames a new one in."""
    try:
        st = store.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _kill_after_first_commit(proc: subprocess.Popen[bytes], store: Path) -> None:
    """SIGKILL ``proc`` as soon as a commit of its own has replaced the catalog."""
    seen = _catalog_version(store)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and _catalog_version(store) == seen:
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)


def _full_run_seconds(folder: Path, root: Path) -> float:
    store = root / "calibration" / "kb.json"
    store.parent.mkdir(parents=True)
    start = time.perf_counter()
    proc = _ingest(store, folder)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return time.perf_counter() - start


def test_ingest_killed_at_many_moments_loses_nothing(corpus, tmp_path: Path) -> None:
    folder, expected = corpus
    full = _full_run_seconds(folder, tmp_path)
    # Kill moments spread over the whole run (start-up, parsing, writes, index updates):
    # fractions of a full run's time, shuffled so every campaign gets early and late ones.
    # Two campaigns run at once (2 cores), which slows each run; the fractions allow that.
    total = CAMPAIGNS * KILLS_PER_CAMPAIGN
    fractions = [0.05 + 0.9 * i / (total - 1) for i in range(total)]
    random.Random(5).shuffle(fractions)
    plans = [[full * f for f in fractions[c::CAMPAIGNS]] for c in range(CAMPAIGNS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        tallies = list(pool.map(lambda c: _campaign(c, folder, expected, plans[c], tmp_path), range(CAMPAIGNS)))
    elapsed = time.perf_counter() - started
    killed = sum(t.killed for t in tallies)
    totals = sorted({n for t in tallies for n in t.totals})
    print(
        f"\ncrash harness: full run {full:.2f} s; {killed} of {total} kills mid-run; "
        f"store totals seen {totals}; stale indexes seen {sum(t.stale_index for t in tallies)}; "
        f"temp files left by kills mid-write {sum(t.temp_files for t in tallies)}; "
        f"{elapsed:.1f} s"
    )
    assert killed >= 30, f"only {killed} kills landed while ingest ran"
    # The kills hit different moments; which totals they see depends on the machine's
    # speed (most land in the last, longest batches), so every commit point is the
    # ladder test's job.
    assert len(totals) >= 3, totals


def test_doctor_cleans_up_after_a_killed_ingest(corpus, tmp_path: Path, kb_run) -> None:
    """Kill one ingest mid-run: doctor reports no problem and --repair leaves it tidy."""
    folder, expected = corpus
    store = tmp_path / "store" / "kb.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    # Plant what a writer killed between its temp file and the rename leaves behind.
    (store.parent / f".{store.name}.999999.tmp").write_bytes(b'{"entries": {"1": {')
    proc = _ingest(store, folder)
    deadline = time.monotonic() + 30
    while not store.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    env = _env(store)
    checked = kb_run("doctor", "--json", env=env)
    report = orjson.loads(checked.stdout)
    assert {f["check"] for f in report["findings"] if f["status"] == "problem"} == set()
    assert any(f["check"] == "temp files" and f["status"] == "note" for f in report["findings"])
    repaired = kb_run("doctor", "--repair", "--json", env=env)
    assert repaired.returncode == 0, repaired.stderr
    after = orjson.loads(repaired.stdout)
    assert any("temporary file" in a for a in after["actions"])
    assert not list(store.parent.glob(f".{store.name}.*.tmp"))
    assert all(f["status"] != "problem" for f in after["findings"])
    assert next(f for f in after["findings"] if f["check"] == "freshness")["status"] == "ok"


def test_ingest_killed_just_after_each_commit_loses_nothing(corpus, tmp_path: Path) -> None:
    """Kill every run right after its first commit: each re-run carries the store one
    commit point further (1, 3, 7, ... entries), and the store is whole at every step."""
    folder, expected = corpus
    store = tmp_path / "ladder" / "kb.json"
    store.parent.mkdir(parents=True)
    tally = Tally()
    for step in range(20):
        proc = _ingest(store, folder)
        _kill_after_first_commit(proc, store)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            tally.killed += 1
        else:
            assert proc.returncode == 0, err
        _check_after_kill(store, expected, tally, f"ladder, run {step}")
        if tally.totals[-1] == N_FILES:
            break
    print(f"\ncrash ladder: store totals seen {tally.totals}; stale indexes seen {tally.stale_index}")
    # Every run got further than the one before, and the last one completed the store.
    assert tally.totals == sorted(set(tally.totals)), tally.totals
    assert tally.totals[-1] == N_FILES
    # Most commit points were hit (two commits a millisecond apart can both land first).
    assert len(tally.totals) >= 8 and tally.killed >= 7, tally


# `kb doctor --repair` with every rename, link and unlink counted: the process kills
# itself (SIGKILL) just after the Nth one, so run N of the ladder dies right after the
# Nth step that changes which file holds what.
_KILL_AFTER_NTH_FILE_STEP = """
import os, signal, sys
limit, seen = int(sys.argv.pop(1)), [0]
def counted(real):
    def step(*args, **kwargs):
        out = real(*args, **kwargs)
        seen[0] += 1
        if seen[0] == limit:
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    return step
for name in ("replace", "rename", "link", "unlink"):
    setattr(os, name, counted(getattr(os, name)))
sys.argv[0] = "kb"
from kb.cli.app import run
run()
"""


def _repair_killed_after(store: Path, step: int) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER_NTH_FILE_STEP, str(step), "doctor", "--repair", "--json"],
        env=_env(store),
        capture_output=True,
        timeout=60,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr
    return proc.returncode


def _stored(store: Path) -> dict[str, str]:
    return {key: doc["uid"] for key, doc in read_whole(store)["entries"].items()}


def _damaged_store(root: Path, what: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store of 5 shards of 4 entries and 3 journalled writes, then damaged on disk;
    returns the damaged file."""
    from kb.api import KnowledgeBase
    from kb.store import shards as shards_module
    from tests.conftest import make_entry

    monkeypatch.setattr(shards_module, "SHARD_SIZE", 4)
    store = root / "kb.json"
    kb = KnowledgeBase.open(store)
    kb.add_many([make_entry(i) for i in range(1, 21)])
    kb.add(make_entry(21))
    kb.add(make_entry(22))
    kb.remove(3)
    kb.close()
    damaged = store
    if what == "shard":
        damaged = store.with_name("kb.json.d") / orjson.loads(store.read_bytes())["shards"]["2"]["file"]
    blob = damaged.read_bytes()
    damaged.write_bytes(blob[: len(blob) * 2 // 3])
    return damaged


@pytest.mark.parametrize("what", ["shard", "catalog"])
def test_repair_killed_after_each_step_loses_nothing(what: str, tmp_path: Path, monkeypatch) -> None:
    """Kill `kb doctor --repair` after each of its file steps in turn; a repair run
    afterwards always ends with what an uninterrupted repair restores, and the damaged
    file's bytes are never lost."""
    import shutil

    damaged = _damaged_store(tmp_path / "template", what, monkeypatch)
    template = tmp_path / "template"
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    done = subprocess.run(
        [sys.executable, "-m", "kb", "doctor", "--repair", "--json"],
        env=_env(reference / "kb.json"),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout
    expected = _stored(reference / "kb.json")
    assert "21" in expected and "22" in expected and "3" not in expected  # the journal was replayed
    steps = 0
    for step in range(1, 60):
        run = tmp_path / f"run{step}"
        shutil.copytree(template, run)
        store = run / "kb.json"
        if _repair_killed_after(store, step) != -signal.SIGKILL:
            break
        steps += 1
        again = subprocess.run(
            [sys.executable, "-m", "kb", "doctor", "--repair", "--json"],
            env=_env(store),
            capture_output=True,
            timeout=60,
        )
        assert again.returncode == 0, (step, again.stdout)
        assert _stored(store) == expected, f"killed after step {step}"
        kept = {p.read_bytes() for p in run.rglob("*") if p.is_file()}
        assert damaged.read_bytes() in kept, f"killed after step {step}: the damaged file's bytes are gone"
    print(f"\nrepair ladder ({what}): killed after each of {steps} file steps")
    assert steps >= 3, steps
