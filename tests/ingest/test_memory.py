"""Memory stays bounded whatever the input: real `kb` processes, their peak memory measured.

Each run is a real `kb` subprocess under an address-space limit (a safety net for the
machine, not the measure); its peak resident memory comes from the kernel (wait4's
ru_maxrss) and must stay under PEAK_MB. The hostile inputs: a gzip bomb in every format
(a few hundred kB that decompress to 400 MB, on one line), an endless `yes` piped into
`kb ingest -F jsonl -`, /dev/zero on standard input, and a valid 200 MB JSON Lines record.
Each must end within seconds with one clear line, never a traceback.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

PEAK_MB = 300
BOMB_MB = 400
# The address-space limit: far above what kb should take, well below what would hurt.
LIMIT_BYTES = 2 << 30


def _member(data: bytes) -> bytes:
    """One gzip member; gzip files may be members one after another (RFC 1952)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


_MB_OF_A = _member(b"a" * (1 << 20))


def _bomb(path: Path, prefix: bytes, suffix: bytes) -> Path:
    """A .gz file: ``prefix``, BOMB_MB megabytes of 'a' (no newline), ``suffix``."""
    path.write_bytes(_member(prefix) + _MB_OF_A * BOMB_MB + _member(suffix))
    return path


# Peak memory is read in a small launcher process that runs kb as its child: a child's
# ru_maxrss starts at the resident size of the process it was forked from (Linux keeps
# the high-water mark across execve), so kb forked straight from a pytest that has grown
# to 300 MB in the full suite would report 300 MB whatever it used itself. The launcher
# sets the limit, waits for kb, and writes "exit-code peak-kB" to the file it is given;
# SIGTERM makes it kill kb and still report.
_LAUNCHER = """
import os, resource, signal, sys
report, limit, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execv(argv[0], argv)
signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def _run(args: list[str], db: Path, *, stdin=None, timeout: float = 60) -> tuple[int, bytes, float]:
    """Run kb; return (exit code, stderr, peak resident MB) once it ends, or is killed
    after ``timeout`` seconds (exit code -9 then)."""
    env = dict(os.environ, KB_DB=str(db), NO_COLOR="1")
    report = db.parent / f".peak-{time.monotonic_ns()}"
    db.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(report), str(LIMIT_BYTES), sys.executable, "-m", "kb", *args],
        env=env,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.stderr is not None
    err = proc.stderr.read()
    code, peak_kb = report.read_text().split()
    report.unlink()
    return int(code), err, int(peak_kb) / 1024


BOMBS = {
    "posts.jsonl.gz": (b'{"question": "Is this a bomb?", "answer": "', b'"}\n'),
    "table.csv.gz": (b'question,answer\n"Is this a bomb?","', b'"\n'),
    "array.json.gz": (b'[{"question": "Is this a bomb?", "answer": "', b'"}]\n'),
    "faq.txt.gz": (b"Q: Is this a bomb?\nA: ", b"\n"),
    "note.md.gz": (b"## Question\n\nIs this a bomb?\n\n## Answer\n\n", b"\n"),
    "page.html.gz": (b"<html><body><h1>Is this a bomb?</h1><p>", b"</p></body></html>\n"),
    "page.gz": (b"Health/Is this a bomb?\n\nI wonder.\n\nYou are right. ", b"\n\nHealth\nAll Answers\n"),
    "Posts.xml.gz": (b'<?xml version="1.0"?>\n<posts>\n  <row Id="1" PostTypeId="1" Body="', b'" />\n</posts>\n'),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_memory_gzip_bomb_is_refused_in_bounded_memory(name: str, tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / name, *BOMBS[name])
    assert bomb.stat().st_size < 1_000_000
    code, err, peak = _run(["ingest", str(bomb)], tmp_path / "kb.json")
    print(f"\n{name}: peak {peak:.0f} MB")
    assert peak < PEAK_MB, f"{name}: peak {peak:.0f} MB"
    assert code == 1, (name, code, err)
    text = err.decode()
    assert "Traceback" not in text and "MemoryError" not in text
    assert "limit" in text and bomb.name in text, text


def test_memory_endless_jsonl_on_stdin_streams(tmp_path: Path) -> None:
    """`yes '{...}' | kb ingest -F jsonl -`: memory stays flat while records pour in."""
    yes = subprocess.Popen(["yes", '{"question": "q?", "answer": "a"}'], stdout=subprocess.PIPE)
    try:
        code, err, peak = _run(["ingest", "-F", "jsonl", "-"], tmp_path / "kb.json", stdin=yes.stdout, timeout=5)
    finally:
        yes.kill()
        yes.wait()
    print(f"\nyes | kb ingest -F jsonl - (killed after 5 s): peak {peak:.0f} MB")
    assert code == -signal.SIGKILL, err  # it was still reading: streamed, not slurped
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    assert b"Traceback" not in err


def test_memory_head_of_endless_jsonl_is_stored(tmp_path: Path) -> None:
    """The same stream cut by `head`: every record is read, the repeats are counted."""
    db = tmp_path / "kb.json"
    feed = subprocess.Popen(
        'yes \'{"question": "q?", "answer": "a"}\' | head -n 200000',
        shell=True,
        stdout=subprocess.PIPE,
    )
    code, err, peak = _run(["ingest", "-F", "jsonl", "-"], db, stdin=feed.stdout)
    feed.wait()
    print(f"\nyes | head -n 50000 | kb ingest -F jsonl -: peak {peak:.0f} MB")
    assert code == 0, err
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    listed = subprocess.run(
        [sys.executable, "-m", "kb", "list", "--format", "ids"],
        env=dict(os.environ, KB_DB=str(db)),
        capture_output=True,
    )
    assert listed.stdout.split() == [b"1"]


@pytest.mark.parametrize("args", [["ingest", "-"], ["add"], ["ingest", "-F", "jsonl", "-"], ["ingest", "/dev/zero"]])
def test_memory_dev_zero_is_refused_in_one_line(args: list[str], tmp_path: Path) -> None:
    with open("/dev/zero", "rb") as zero:
        code, err, peak = _run(args, tmp_path / "kb.json", stdin=zero, timeout=60)
    print(f"\nkb {' '.join(args)} </dev/zero: peak {peak:.0f} MB")
    assert peak < PEAK_MB, f"{args}: peak {peak:.0f} MB"
    assert code in (1, 2, 3), (args, code, err)
    text = err.decode()
    assert "Traceback" not in text and "MemoryError" not in text, text
    said = [line for line in text.splitlines() if "limit" in line or "not a regular file" in line or "binary" in line]
    assert len(said) == 1, text


def test_memory_200_mb_record_is_refused_in_one_line(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    with big.open("wb") as fh:
        fh.write(orjson.dumps({"question": "Small?", "answer": "Yes."}) + b"\n")
        fh.write(b'{"question": "Huge?", "answer": "')
        chunk = b"word " * (1 << 18)
        for _ in range(200 * (1 << 20) // len(chunk)):
            fh.write(chunk)
        fh.write(b'"}\n')
        fh.write(orjson.dumps({"question": "After?", "answer": "Still read."}) + b"\n")
    code, err, peak = _run(["ingest", str(big)], tmp_path / "kb.json")
    print(f"\n200 MB JSON Lines record: peak {peak:.0f} MB")
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    assert code == 1, err
    text = err.decode()
    assert "line 2 is over the 10 MB limit" in text and "Traceback" not in text, text
    count = subprocess.run(
        [sys.executable, "-m", "kb", "list", "--format", "ids"],
        env=dict(os.environ, KB_DB=str(tmp_path / "kb.json")),
        capture_output=True,
    )
    assert count.stdout.split() == [b"1", b"2"]  # the records around it were read


def test_memory_bomb_member_trick_is_a_real_bomb(tmp_path: Path) -> None:
    """The test's bombs really expand: 400 MB from well under 1 MB."""
    bomb = _bomb(tmp_path / "x.txt.gz", b"Q: q\nA: ", b"\n")
    total = 0
    with gzip.open(bomb, "rb") as fh:
        while chunk := fh.read(1 << 22):
            total += len(chunk)
    assert total > BOMB_MB << 20
