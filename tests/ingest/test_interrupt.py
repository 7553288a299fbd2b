"""Ctrl-C during a long ingest: a real SIGINT to a real `kb ingest`, then a re-run that finishes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from kb.api import KnowledgeBase

RECORDS = 8000
LINE = re.compile(r"interrupted: (\d+) entries saved; run the same command again to continue")


def _bulk(path: Path) -> Path:
    path.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "id": f"r{i}",
                    "question": f"Interrupted question {i} about gardens?",
                    "answer": f"Answer {i}: " + "water the roses deeply. " * 20,
                }
            )
            + b"\n"
            for i in range(RECORDS)
        )
    )
    return path


def _interrupted_ingest(source: Path, store: Path, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run `kb ingest`, Ctrl-C it once its first commit is on disk; return (exit code, out, err)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "ingest", str(source)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not store.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the catalog appears with the first commit
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_interrupt_says_what_was_saved_and_a_rerun_completes(tmp_path: Path) -> None:
    source = _bulk(tmp_path / "bulk.jsonl")
    for attempt in range(5):
        store = tmp_path / f"store{attempt}" / "kb.json"
        # Small first batches, so that commits come early and the interrupt falls after one.
        env = {**os.environ, "KB_DB": str(store), "KB_BATCH_SIZE": "200", "NO_COLOR": "1"}
        code, out, err = _interrupted_ingest(source, store, env)
        # On a loaded machine the ingest can end before the signal reaches it: try again.
        if code != 0:
            break
    assert code == 130, err
    lines = err.decode().splitlines()
    assert len(lines) == 1 and LINE.fullmatch(lines[0]), err
    saved = int(LINE.fullmatch(lines[0]).group(1))
    assert 0 < saved < RECORDS
    assert out == b""
    with KnowledgeBase.open(store) as kb:
        assert kb.backend.store.count() == saved

    again = subprocess.run(
        [sys.executable, "-m", "kb", "ingest", "--json", str(source)], env=env, capture_output=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    counts = orjson.loads(again.stdout)["counts"]
    assert counts["added"] == RECORDS - saved and counts["unchanged"] == saved
    with KnowledgeBase.open(store) as kb:
        assert kb.count() == RECORDS and kb.backend.store.count() == RECORDS


def test_interrupt_of_a_dry_run_says_nothing_was_written(tmp_path: Path) -> None:
    from kb.errors import IngestInterrupted

    assert str(IngestInterrupted(0, dry_run=True)) == "interrupted: nothing was written (dry run)"
    assert isinstance(IngestInterrupted(3), KeyboardInterrupt)


def test_interrupts_at_many_moments_never_damage_the_store(tmp_path: Path) -> None:
    # Ctrl-C right after a commit's catalog appears falls in that commit's last steps
    # (the folder's fsync): the files the new catalog names must survive the interrupt.
    source = _bulk(tmp_path / "bulk.jsonl")
    store = tmp_path / "store" / "kb.json"
    env = {**os.environ, "KB_DB": str(store), "KB_BATCH_SIZE": "50", "NO_COLOR": "1"}
    for delay in (0.0, 0.0, 0.002, 0.005, 0.01, 0.02):
        before = store.stat().st_mtime_ns if store.exists() else None
        proc = subprocess.Popen(
            [sys.executable, "-m", "kb", "ingest", "-q", str(source)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if store.exists() and store.stat().st_mtime_ns != before:
                break  # a commit of this run has just replaced the catalog
            time.sleep(0.0005)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130), err
        with KnowledgeBase.open(store) as kb:
            assert kb.backend.store.count() <= RECORDS  # the store opens: every file it names is there
    again = subprocess.run(
        [sys.executable, "-m", "kb", "ingest", "-q", str(source)], env=env, capture_output=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    with KnowledgeBase.open(store) as kb:
        assert kb.backend.store.count() == RECORDS


def test_ingest_reads_before_it_takes_the_lock(tmp_path: Path) -> None:
    """While an ingest is still reading its input (a slow pipe), other writers go on."""
    db = tmp_path / "kb.json"
    env = dict(os.environ, KB_DB=str(db), KB_LOCK_TIMEOUT="2")
    assert subprocess.run([sys.executable, "-m", "kb", "add", "-Q", "First?", "-a", "Yes."], env=env).returncode == 0
    ingest = subprocess.Popen(
        [sys.executable, "-m", "kb", "ingest", "-q", "-F", "qa", "-"],
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert ingest.stdin is not None
    ingest.stdin.write(b"Q: Slowly piped?\nA: Yes, a line at a time.\n")
    ingest.stdin.flush()
    time.sleep(1.0)  # the ingest has started and is waiting for the rest of its input
    added = subprocess.run(
        [sys.executable, "-m", "kb", "add", "-Q", "Meanwhile?", "-a", "Added."], env=env, capture_output=True
    )
    assert added.returncode == 0, added.stderr  # not "busy"
    ingest.stdin.write(b"\nQ: And the end?\nA: Here.\n")
    ingest.stdin.close()
    assert ingest.wait(timeout=60) == 0, ingest.stderr.read() if ingest.stderr else b""
    listed = subprocess.run([sys.executable, "-m", "kb", "list", "--format", "ids"], env=env, capture_output=True)
    assert listed.stdout.split() == [b"1", b"2", b"3", b"4"]


def test_adds_during_a_long_ingest_succeed_and_both_are_kept(tmp_path: Path) -> None:
    """The ingest keeps the lock across batches only until another writer waits: `kb add`
    from another process gets in between batches, and the store and index keep every entry."""
    import threading

    db = tmp_path / "kb.json"
    # Small batches, so the ingest commits often while its input trickles in; an add
    # would give up ("busy") after 5 s, far less than the ingest takes.
    env = dict(os.environ, KB_DB=str(db), KB_BATCH_SIZE="100", KB_LOCK_TIMEOUT="5", NO_COLOR="1")
    pieces, per_piece = 30, 100
    ingest = subprocess.Popen(
        [sys.executable, "-m", "kb", "ingest", "-q", "-F", "jsonl", "-"],
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert ingest.stdin is not None
    stdin = ingest.stdin

    def feed() -> None:
        for piece in range(pieces):
            records = range(piece * per_piece, (piece + 1) * per_piece)
            stdin.write(
                b"".join(
                    orjson.dumps({"id": f"t{i}", "question": f"Trickled question {i}?", "answer": "Trickled. " * 40})
                    + b"\n"
                    for i in records
                )
            )
            stdin.flush()
            time.sleep(0.3)
        stdin.close()

    feeder = threading.Thread(target=feed)
    feeder.start()
    deadline = time.monotonic() + 60
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # the ingest's first commit
    adds = []
    for n in range(5):
        adds.append(
            subprocess.run(
                [sys.executable, "-m", "kb", "add", "-Q", f"Meanwhile {n} about zebras?", "-a", "Added."],
                env=env,
                capture_output=True,
                timeout=60,
            )
        )
        time.sleep(0.3)
    ingest_was_running = ingest.poll() is None
    feeder.join()
    assert ingest.wait(timeout=120) == 0, ingest.stderr.read() if ingest.stderr else b""
    for added in adds:
        assert added.returncode == 0 and b"busy" not in added.stderr, added.stderr
    assert ingest_was_running  # the adds fell inside the ingest, not after it
    total = pieces * per_piece + 5
    with KnowledgeBase.open(db) as kb:
        assert sorted(e.stored_id() for e in kb.backend.store.iter_entries()) == list(
            range(1, total + 1)
        )  # distinct ids
        assert kb.backend.store.count() == total and kb.count() == total
        assert kb.backend._open_index().signature == kb.backend.store_version()  # the index is current
        assert len(kb.search("zebras", limit=10).hits) == 5
        assert kb.search("trickled question 2999").hits[0].entry.question == "Trickled question 2999?"
    doctor = subprocess.run([sys.executable, "-m", "kb", "doctor"], env=env, capture_output=True)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
