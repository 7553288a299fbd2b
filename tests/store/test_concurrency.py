"""Concurrency: several real processes write one store while another searches it.

Writers take the store's inter-process lock for each write, so every entry lands exactly
once; readers never see an error. A lock held past ``KB_LOCK_TIMEOUT`` gives the one-line
"store is busy" message and exit code 4, not a hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from kb.models import make_uid
from kb.store.shards import write_atomically
from kb.store.store import read_whole

WRITERS = 4
PER_WRITER = 50


def _question(w: int, i: int) -> str:
    return f"Writer {w} asks question {i} about concurrency?"


def _answer(w: int, i: int) -> str:
    return f"Answer {w}-{i}: the lock keeps writers in line."


def _env(store: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, KB_DB=str(store), NO_COLOR="1", **extra)
    if "KB_LOCK_TIMEOUT" not in extra:
        env.pop("KB_LOCK_TIMEOUT", None)
    return env


def _kb(store: Path, *args: str, input: bytes | None = None, **extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kb", *args], input=input, capture_output=True, env=_env(store, **extra), timeout=120
    )


class Reader(threading.Thread):
    """Runs `kb search` over and over until stopped, keeping every outcome."""

    def __init__(self, store: Path) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stop = threading.Event()
        self.runs: list[tuple[int, bytes, bytes]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            done = _kb(self.store, "search", "concurrency", "--limit", "5")
            self.runs.append((done.returncode, done.stdout, done.stderr))

    def assert_never_saw_an_error(self) -> None:
        assert len(self.runs) >= 3, "the reader hardly ran"
        found_before = False
        for code, out, err in self.runs:
            assert code in (0, 1), err
            if code == 1 and not found_before and err.startswith(b"Error: no store at "):
                continue  # the first writer has not created the store yet: reading creates nothing
            assert b"Traceback" not in err and b"Error" not in err, err
            if code == 1:
                assert not found_before, "entries vanished from the reader's view"
                assert out == b""
            else:
                found_before = True
                assert b"concurrency" in out.lower() or b"Writer" in out


def _assert_each_once(store: Path, expected: set[str]) -> None:
    data = read_whole(store)  # the store as kb reads it (base file and journal)
    uids = [doc["uid"] for doc in data["entries"].values()]
    assert len(uids) == len(set(uids)), "an entry was stored twice"
    assert set(uids) == expected, f"{len(expected - set(uids))} entries missing"
    listed = _kb(store, "list", "--format", "ids", "--limit", "0")
    assert listed.returncode == 0, listed.stderr
    ids = [int(x) for x in listed.stdout.split()]
    assert len(ids) == len(set(ids)) == len(expected)


def test_api_writers_and_cli_reader_at_once(tmp_path: Path) -> None:
    """Four Python processes add 50 entries each, one write per entry, while `kb search` runs."""
    store = tmp_path / "kb.json"
    go = tmp_path / "go"
    script = (
        "import sys, os, time\n"
        "from kb.api import KnowledgeBase\n"
        "w, n, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
        "kb = KnowledgeBase.open()\n"
        "while not os.path.exists(go): time.sleep(0.005)\n"
        "for i in range(n):\n"
        "    kb.add(question=f'Writer {w} asks question {i} about concurrency?',\n"
        "           answer=f'Answer {w}-{i}: the lock keeps writers in line.', title=f'W{w} #{i}')\n"
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w), str(PER_WRITER), str(go)], env=_env(store), stderr=subprocess.PIPE
        )
        for w in range(WRITERS)
    ]
    reader = Reader(store)
    reader.start()
    time.sleep(0.3)  # let every writer import kb, so they start together
    go.touch()
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    time.sleep(0.2)
    reader.stop.set()
    reader.join(timeout=60)
    reader.assert_never_saw_an_error()
    _assert_each_once(
        store, {make_uid(_question(w, i), _answer(w, i)) for w in range(WRITERS) for i in range(PER_WRITER)}
    )


def test_cli_writers_and_reader_at_once(tmp_path: Path) -> None:
    """Four streams of real `kb add` processes (50 entries each: 4 one by one, 46 piped)."""
    store = tmp_path / "kb.json"
    failures: list[bytes] = []

    def write(w: int) -> None:
        for i in range(4):
            done = _kb(store, "add", "-Q", _question(w, i), "-a", _answer(w, i), "-t", f"w{w}")
            if done.returncode != 0:
                failures.append(done.stderr)
        for start in (4, 27):
            lines = b"".join(
                orjson.dumps({"question": _question(w, i), "answer": _answer(w, i)}) + b"\n"
                for i in range(start, start + 23)
            )
            done = _kb(store, "add", input=lines)
            if done.returncode != 0:
                failures.append(done.stderr)

    reader = Reader(store)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    reader.stop.set()
    reader.join(timeout=60)
    assert not failures, failures[:3]
    reader.assert_never_saw_an_error()
    _assert_each_once(
        store, {make_uid(_question(w, i), _answer(w, i)) for w in range(WRITERS) for i in range(PER_WRITER)}
    )


def _hold_lock(store: Path) -> subprocess.Popen[bytes]:
    """Start a process that holds the store's lock (as a stuck kb would) until killed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom filelock import FileLock\n"
            "lock = FileLock(sys.argv[1]); lock.acquire()\nprint('held', flush=True)\ntime.sleep(120)\n",
            str(store.with_name(store.name + ".lock")),
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    return holder


def test_lock_held_too_long_says_busy(tmp_path: Path) -> None:
    store = tmp_path / "kb.json"
    assert _kb(store, "add", "-Q", "Is the lock fair?", "-a", "Yes, first come.").returncode == 0
    before = store.read_bytes()
    holder = _hold_lock(store)
    try:
        for args in (
            ("add", "-Q", "Another question?", "-a", "Another answer."),
            ("ingest", str(Path(__file__).resolve().parents[2] / "data" / "faq.txt")),
            ("remove", "1", "--yes"),
        ):
            start = time.monotonic()
            done = _kb(store, *args, KB_LOCK_TIMEOUT="0.5")
            elapsed = time.monotonic() - start
            assert done.returncode == 4, (args, done.stderr)
            assert elapsed < 10, f"{args[0]} waited {elapsed:.1f} s"
            first, *rest = done.stderr.decode().splitlines()
            assert first.startswith("Error: store ") and "is busy" in first, first
            assert len(rest) <= 1 and "Traceback" not in done.stderr.decode()
            assert done.stdout == b""
            # It announced its wait beside the lock, and took the marker away on giving up.
            assert not store.with_name("kb.json.lock.wait").exists()
        # Reading needs no lock while the index is current: searches go on.
        found = _kb(store, "search", "lock", KB_LOCK_TIMEOUT="0.5")
        assert found.returncode == 0 and b"lock" in found.stdout.lower()
    finally:
        holder.kill()
        holder.wait()
    assert store.read_bytes() == before, "a busy store was changed"
    assert _kb(store, "add", "-Q", "Another question?", "-a", "Another answer.").returncode == 0


def test_reader_is_served_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    """A read that finds the index behind the store does not wait out a long writer."""
    store = tmp_path / "kb.json"
    added = _kb(store, "add", "-Q", "How do readers and writers share a store?", "-a", "Through the lock.")
    assert added.returncode == 0, added.stderr
    # The store moves on (a new file renamed into place) while the index stays behind,
    # as it is while an ingest runs; the writer still holds the lock.
    write_atomically(store, store.read_bytes())
    holder = _hold_lock(store)
    try:
        started = time.monotonic()
        done = _kb(store, "search", "readers writers", KB_LOCK_TIMEOUT="30")
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 0, done.stderr
    assert b"share a store" in done.stdout
    assert b"another kb process is writing" in done.stderr
    assert took < 10, f"the reader waited {took:.1f} s"
    # Once the writer is gone, the next read brings the index up to date and says nothing.
    again = _kb(store, "search", "readers writers")
    assert again.returncode == 0 and b"another kb process" not in again.stderr
