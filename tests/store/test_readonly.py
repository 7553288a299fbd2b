"""A store on read-only media (a mounted backup, a shared folder) can still be read.

The reading commands run as real `kb` processes against a folder made genuinely read-only:
a read-only bind mount where mounting is allowed, else the immutable attribute
(`chattr +i`), which binds root too (root ignores file modes). Nothing may be written
beside the store: no lock file, no journal, no -wal/-shm file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import DATA, SEEDS, run_kb

READERS = [
    ("list",),
    ("list", "categories"),
    ("search", "bone scan"),
    ("show", "1", "--no-pager"),
    ("show", "1", "--raw"),
    ("experts",),
    ("experts", "higby"),
    ("stats",),
    ("path",),
]
# Machine forms whose output must equal what the writable store gave.
COMPARED = [
    ("list", "--format", "json"),
    ("search", "bone scan", "--json"),
    ("show", "1", "--json"),
    ("experts", "--json"),
    ("list", "categories", "--json"),
]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only for every process, root included, for the block's length."""
    if _run(["mount", "--bind", str(folder), str(folder)]):
        try:
            if not _run(["mount", "-o", "remount,bind,ro", str(folder)]):
                pytest.skip("cannot remount read-only here")
            yield
        finally:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        return
    if shutil.which("chattr") and _run(["chattr", "-R", "+i", str(folder)]):
        try:
            yield
        finally:
            subprocess.run(["chattr", "-R", "-i", str(folder)], capture_output=True)
        return
    pytest.skip("neither a read-only mount nor chattr +i is possible here")


def _assert_unwritable(folder: Path) -> None:
    probe = folder / "probe"
    with pytest.raises(OSError):
        probe.write_text("x")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "kb.json"
    assert run_kb("ingest", "-q", str(SEEDS), str(DATA), env={"KB_DB": str(path)}).returncode == 0
    # An index rebuilt from the store, as the read-only runs build theirs (ingest's own
    # index joins fewer experts' bios into entries than a rebuild does).
    assert run_kb("reindex", env={"KB_DB": str(path)}).returncode == 0
    return path


def _outputs(path: Path) -> dict[tuple[str, ...], bytes]:
    out = {}
    for args in COMPARED:
        done = run_kb(*args, env={"KB_DB": str(path)})
        assert done.returncode == 0, (args, done.stderr)
        out[args] = done.stdout
    return out


def _entries(path: Path) -> int:
    """How many entries the store holds, read while it is still writable."""
    return json.loads(run_kb("path", "--json", env={"KB_DB": str(path)}).stdout)["entries"]


def _check_readers(path: Path, expected: dict[tuple[str, ...], bytes], *, notice: bool, entries: int) -> None:
    folder = path.parent
    before = _files(folder)
    with read_only(folder):
        _assert_unwritable(folder)
        for args in READERS:
            done = run_kb(*args, env={"KB_DB": str(path)})
            assert done.returncode == 0, (args, done.stderr)
            assert done.stdout, args
            lines = done.stderr.decode().splitlines()
            if notice:
                assert len(lines) <= 1, (args, lines)
            else:
                assert lines == [], (args, lines)
        for args, out in expected.items():
            assert run_kb(*args, env={"KB_DB": str(path)}).stdout == out, args
        assert json.loads(run_kb("path", "--json", env={"KB_DB": str(path)}).stdout)["entries"] == entries
    assert _files(folder) == before, "a read wrote into the read-only folder"


def test_read_only_store_with_a_current_index_is_read(store: Path) -> None:
    expected = _outputs(store)
    entries = _entries(store)
    (store.parent / "kb.json.lock").unlink(missing_ok=True)  # a copied backup may lack it
    _check_readers(store, expected, notice=False, entries=entries)


def test_read_only_store_without_its_index_is_read_from_the_store(store: Path) -> None:
    expected = _outputs(store)
    entries = _entries(store)
    for leftover in store.parent.glob("kb.index.sqlite*"):
        leftover.unlink()
    (store.parent / "kb.json.lock").unlink(missing_ok=True)
    _check_readers(store, expected, notice=True, entries=entries)


def test_read_only_store_with_a_stale_index_is_read_from_the_store(store: Path) -> None:
    expected = _outputs(store)
    entries = _entries(store)
    # Copied without keeping times: the index no longer matches the store's signature.
    stat = store.stat()
    os.utime(store, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    _check_readers(store, expected, notice=True, entries=entries)
    done = run_kb("search", "bone scan", env={"KB_DB": str(store)})
    assert done.returncode == 0


def test_read_only_store_is_checked_by_doctor_without_the_lock(store: Path) -> None:
    """`kb doctor` on read-only media checks everything it can read, and says it took no lock."""
    (store.parent / "kb.json.lock").unlink(missing_ok=True)
    env = {"KB_DB": str(store)}
    before = _files(store.parent)
    with read_only(store.parent):
        done = run_kb("doctor", "--json", env=env)
        assert done.returncode == 0, done.stdout
        findings = {f["check"]: f for f in json.loads(done.stdout)["findings"]}
        assert findings["lock"]["status"] == "note" and "without the store's lock" in findings["lock"]["detail"]
        assert findings["index"]["status"] == "ok" and findings["freshness"]["status"] == "ok"
        assert findings["entries"]["status"] == "ok"
        repair = run_kb("doctor", "--repair", env=env)
        assert repair.returncode == 3 and b"Traceback" not in repair.stderr
        assert len(repair.stderr.decode().strip().splitlines()) == 1, repair.stderr
    assert _files(store.parent) == before
