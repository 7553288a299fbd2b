"""Limits: the single-document size cap, owner-only files, and writes that fail (disk full,
read-only folder) leaving the old store intact with a one-line reason (exit 3).
"""

from __future__ import annotations

import base64
import os
import resource
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

DATA = Path(__file__).resolve().parents[2] / "data"


def _qa(path: Path, size: int) -> Path:
    """A Q/A file of about ``size`` bytes (one long answer)."""
    body = "Q: Is this file too big?\nA: " + "word " * max(1, (size - 30) // 5) + "\n"
    path.write_text(body)
    return path


def _failures(done: subprocess.CompletedProcess[bytes]) -> list[dict]:
    return orjson.loads(done.stdout)["failures"]


# -- the size of one document ----------------------------------------------------------------


def test_default_max_size_refuses_a_huge_page(tmp_path: Path, kb_run) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:  # 11 MB: over the 10 MB default
        fh.write(b"Q: Is this too big?\nA: " + b"x" * (11 * 1024 * 1024) + b"\n")
    small = _qa(tmp_path / "small.txt", 200)
    done = kb_run("ingest", "--json", str(big), str(small))
    assert done.returncode == 1
    report = orjson.loads(done.stdout)
    assert report["counts"]["added"] == 1, "the other file is still read"
    (failure,) = report["failures"]
    assert failure["path"] == str(big)
    assert "MB limit" in failure["reason"] and "--max-size" in failure["reason"]


def test_max_size_option_and_environment(tmp_path: Path, kb_run) -> None:
    page = _qa(tmp_path / "page.txt", 30_000)  # 0.03 MB
    refused = kb_run("ingest", "--json", "--max-size", "0.01", str(page))
    assert refused.returncode == 1 and "limit" in _failures(refused)[0]["reason"]
    refused = kb_run("ingest", "--json", str(page), env={"KB_MAX_SIZE": "0.01"})
    assert refused.returncode == 1 and "limit" in _failures(refused)[0]["reason"]
    # The option wins over the environment.
    taken = kb_run("ingest", "--json", "--max-size", "1", str(page), env={"KB_MAX_SIZE": "0.01"})
    assert taken.returncode == 0, taken.stdout
    bad = kb_run("ingest", str(page), env={"KB_MAX_SIZE": "lots"})
    assert bad.returncode == 2 and (b"KB_MAX_SIZE" in bad.stderr or b"max-size" in bad.stderr)


def test_streamed_formats_are_not_capped(tmp_path: Path, kb_run) -> None:
    lines = tmp_path / "many.jsonl"
    lines.write_bytes(
        b"".join(orjson.dumps({"question": f"Streamed question {i}?", "answer": "x" * 200}) + b"\n" for i in range(200))
    )  # ~50 kB
    done = kb_run("ingest", "--json", "--max-size", "0.01", str(lines))
    assert done.returncode == 0
    assert orjson.loads(done.stdout)["counts"]["added"] == 200


# -- files readable by their owner only ------------------------------------------------------


def test_cli_creates_owner_only_store_files(kb_db: Path, kb_run) -> None:
    old = os.umask(0o022)
    try:
        assert kb_run("ingest", "-q", str(DATA / "faq.txt")).returncode == 0
        assert kb_run("ingest", "-q", str(DATA / "note.md")).returncode == 0  # a second write: the backup
        assert kb_run("add", "-Q", "Private?", "-a", "Yes.").returncode == 0
    finally:
        os.umask(old)
    for name in ("kb.json", "kb.json.bak", "kb.json.lock", "kb.json.journal"):
        path = kb_db.with_name(name)
        if name in ("kb.json", "kb.json.bak") or path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    shards = kb_db.with_name("kb.json.d")
    assert stat.S_IMODE(shards.stat().st_mode) == 0o700
    assert [stat.S_IMODE(p.stat().st_mode) for p in shards.iterdir()] == [0o600] * len(list(shards.iterdir()))


def test_cli_creates_owner_only_index(kb_db: Path, kb_run) -> None:
    old = os.umask(0o022)
    try:
        assert kb_run("ingest", "-q", str(DATA / "faq.txt")).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(kb_db.with_name("kb.index.sqlite").stat().st_mode) == 0o600


# -- writes that fail ------------------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path | None]:
    """A 2 MB tmpfs mounted for the test (None where mounting is not allowed).

    2 MB, not 1: the index of even a few entries takes ~400 kB in 16 kB pages.
    """
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _snapshot(folder: Path) -> dict[str, bytes]:
    """The bytes of every file of the store: catalog, journal, backup, and its shards."""
    files = [p for p in folder.iterdir() if p.name.startswith("kb.json") and p.is_file()]
    if (folder / "kb.json.d").is_dir():
        files += list((folder / "kb.json.d").iterdir())
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def _assert_said_why(done: subprocess.CompletedProcess[bytes], *why: str) -> None:
    assert done.returncode == 3, done.stderr
    lines = done.stderr.decode().splitlines()
    assert lines and lines[0].startswith("Error: ") and any(w in lines[0] for w in why), lines
    assert len(lines) <= 2 and "Traceback" not in done.stderr.decode()


def _fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)


def test_disk_full_keeps_the_old_store(tmpfs: Path | None, tmp_path: Path, kb_run) -> None:
    if tmpfs is None:  # no mount here: the file size limit test below stands in
        return test_file_size_limit_keeps_the_old_store(tmp_path)
    store = tmpfs / "kb.json"
    env = {"KB_DB": str(store)}
    assert kb_run("ingest", "-q", str(DATA), env=env).returncode == 0
    _fill(tmpfs)
    before = _snapshot(tmpfs)
    for args in (
        ("add", "-Q", "Is the disk full?", "-a", "Yes, it is."),
        ("ingest", str(DATA / "faq.txt"), str(_qa(tmp_path / "n.txt", 300))),
    ):
        done = kb_run(*args, env=env)
        # SQLite may be the first to hit the full disk ("disk I/O error" opening the index).
        _assert_said_why(done, "No space left on device", "cannot open the search index")
        after = _snapshot(tmpfs)
        assert after["kb.json"] == before["kb.json"], "the store changed"
        assert not list(tmpfs.glob(".kb.json.*.tmp")), "a temporary file was left behind"
    (tmpfs / "filler").unlink()
    assert kb_run("add", "-Q", "Is the disk full?", "-a", "Not any more.", env=env).returncode == 0
    assert kb_run("search", "disk full", env=env).returncode == 0


def test_reads_work_on_a_full_disk(tmpfs: Path | None, kb_run) -> None:
    """Reading needs no free space: the index is intact and current, only the disk is full."""
    if tmpfs is None:
        pytest.skip("mount is not allowed here")
    env = {"KB_DB": str(tmpfs / "kb.json")}
    assert kb_run("ingest", "-q", str(DATA / "entries.jsonl"), env=env).returncode == 0
    assert kb_run("list", env=env).returncode == 0  # the index is current, its WAL folded in
    word = orjson.loads((DATA / "entries.jsonl").read_bytes().splitlines()[0])["title"]
    _fill(tmpfs)
    before = _snapshot(tmpfs)
    for args in (("list",), ("search", word), ("show", "1"), ("stats",), ("list", "categories"), ("doctor",)):
        done = kb_run(*args, env=env)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert done.stdout and b"Error" not in done.stderr, args
    assert _snapshot(tmpfs) == before


def test_file_size_limit_keeps_the_old_store(tmp_path: Path) -> None:
    """Writes fail with EFBIG past RLIMIT_FSIZE: the store's own write path reports it.

    The store's shard (~250 kB compressed: the answers are random) is larger than the
    limit (64 kB), which the index's first writes (its WAL and 32 kB shared-memory file)
    stay under, so the store write fails first.
    """
    store = tmp_path / "kb.json"
    env = dict(os.environ, KB_DB=str(store))
    run = [sys.executable, "-m", "kb"]
    bulk = tmp_path / "bulk.jsonl"
    bulk.write_bytes(
        b"".join(
            orjson.dumps({"question": f"Bulk question {i}?", "answer": base64.b64encode(os.urandom(600)).decode()})
            + b"\n"
            for i in range(400)
        )
    )
    assert subprocess.run([*run, "ingest", "-q", str(bulk)], env=env).returncode == 0
    before = store.read_bytes()
    shards = {p.name: p.read_bytes() for p in store.with_name("kb.json.d").iterdir()}
    assert sum(len(blob) for blob in shards.values()) > 200_000

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    done = subprocess.run(
        [*run, "ingest", str(_qa(tmp_path / "n.txt", 300))], env=env, capture_output=True, preexec_fn=limit
    )
    _assert_said_why(done, "File too large")
    assert b"previous version was kept" in done.stderr
    assert store.read_bytes() == before
    assert {p.name: p.read_bytes() for p in store.with_name("kb.json.d").iterdir()} == shards
    assert not list(tmp_path.glob(".kb.json.*.tmp")), "a temporary file was left behind"


def test_read_only_folder_keeps_the_old_store(tmpfs: Path | None, tmp_path: Path, kb_run) -> None:
    if tmpfs is None:
        pytest.skip("mount is not allowed here")  # test_store.py covers the library path as 'nobody'
    store = tmpfs / "kb.json"
    env = {"KB_DB": str(store)}
    assert kb_run("ingest", "-q", str(DATA), env=env).returncode == 0
    before = _snapshot(tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    for args in (
        ("add", "-Q", "Read only?", "-a", "Yes."),
        ("ingest", str(_qa(tmp_path / "n.txt", 300))),
        ("remove", "1", "--yes"),
    ):
        done = kb_run(*args, env=env)
        # Which file fails first depends on the command; the index's message names the
        # file but not the cause (SQLite says only "unable to open database file").
        _assert_said_why(done, "Read-only file system", "cannot open the search index")
        assert _snapshot(tmpfs) == before
