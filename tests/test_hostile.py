"""Hostile text: entries full of escape sequences, controls, Rich markup and huge lines are
printed as inert text by the real commands, piped and on a real terminal (a pty, with
colours on), checked on the output bytes. JSON output keeps the true text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pexpect
import pytest

from kb.parsers.json import clean_text

CSI_COLOUR = "\x1b[31;1mRED\x1b[0m"
CLEAR = "\x1b[2J\x1b[H"
OSC_TITLE = "\x1b]0;pwned\x07"
OSC8_LINK = "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\"
CONTROLS = "bell\x07 back\x08space \x9b31m c1-csi"
MARKUP = "[bold red]x[/]"
LINK_MARKUP = "[link=http://evil]click[/link]"
RTL = "\u202eevil\u202c"
LONG = "A" * 100_000

RECORD = {
    "title": f"Hostile title {CLEAR}{OSC_TITLE}{MARKUP}{RTL}",
    "category": f"Cat{CSI_COLOUR}{LINK_MARKUP}",
    "question": (
        f"Is hostile text inert? {CSI_COLOUR} {CLEAR} {OSC_TITLE} {OSC8_LINK} {CONTROLS} "
        f"{MARKUP} {LINK_MARKUP} {RTL} carriage\rreturn"
    ),
    "answer": f"Yes it is inert. {OSC8_LINK} {MARKUP}\n{LONG}\nend {CSI_COLOUR}",
    "expert": f"Dr {OSC_TITLE}Evil {MARKUP}",
    "tags": [f"tag{CSI_COLOUR}", LINK_MARKUP],
    "created_at": f"{CLEAR}2024-01-01",
    "updated_at": f"{OSC_TITLE}2024-01-02",
}

QA_FILE = (
    f"Title: Hostile qa {CLEAR}{OSC_TITLE}{MARKUP}\n"
    f"Category: QA{CSI_COLOUR}\n"
    f"Tags: qa{CSI_COLOUR}, {LINK_MARKUP}\n"
    f"Expert: Prof {OSC_TITLE}QA\n\n"
    f"Q: Is the hostile qa file inert? {CSI_COLOUR} {OSC8_LINK} {CONTROLS} {MARKUP} {RTL}\n"
    f"A: Inert qa answer {CLEAR} {OSC8_LINK}\n{LONG}\n"
)

# Byte sequences of the payloads that must never reach the output of a people's format.
FORBIDDEN = [
    b"\x1b[2J",
    b"\x1b[H",
    b"\x1b]",
    b"\x1b\\",
    b"\x1b[31;1m",
    b"\x07",
    b"\x08",
    "\x9b".encode(),
    "\u202e".encode(),
    "\u202c".encode(),
]
SGR = re.compile(rb"\x1b\[[0-9;]*m")

COMMANDS = [
    ("show", "1", "--no-pager"),
    ("show", "2", "--no-pager"),
    ("list",),
    ("list", "categories"),
    ("list", "experts"),
    ("search", "hostile", "inert"),
    ("ask", "hostile", "inert", "--no-pager"),
    ("stats",),
    ("experts",),
    ("experts", "dr"),
]


@pytest.fixture(scope="module", params=["files", "postgres"])
def hostile_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | str]:
    """A store holding the hostile JSONL record (id 1) and the hostile Q/A file (id 2), on
    each backend: a files store, or a schema of its own on the test server."""
    root = tmp_path_factory.mktemp("hostile")
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        schema = "kb_test_hostile_" + uuid.uuid4().hex[:8]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("KB_PG_SCHEMA", schema)
            yield _filled_hostile(root, url)
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        return
    yield _filled_hostile(root, root / "kb.json")


def _filled_hostile(root: Path, store: Path | str) -> Path | str:
    (root / "evil.jsonl").write_bytes(orjson.dumps(RECORD) + b"\n")
    (root / "evil.txt").write_text(QA_FILE, encoding="utf-8")
    for name in ("evil.jsonl", "evil.txt"):
        done = subprocess.run(
            [sys.executable, "-m", "kb", "ingest", "-q", str(root / name)],
            env=_env(store),
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    return store


def _env(store: Path | str, *, colour: bool = False) -> dict[str, str]:
    env = dict(os.environ, KB_DB=str(store))
    if colour:
        env.pop("NO_COLOR", None)
        env.update(TERM="xterm-256color", PAGER="cat", LESS="")
    else:
        env["NO_COLOR"] = "1"
    return env


def _assert_inert(out: bytes, what: str, *, terminal: bool) -> None:
    for payload in FORBIDDEN:
        assert payload not in out, f"{what}: {payload!r} reached the output"
    if terminal:
        # Every escape must be one of Rich's own colour (SGR) sequences.
        for m in re.finditer(rb"\x1b", out):
            assert SGR.match(out, m.start()), f"{what}: stray escape {out[m.start() : m.start() + 12]!r}"
        assert out.replace(b"\r\n", b"\n").count(b"\r") == 0, f"{what}: bare carriage return"
    else:
        assert b"\x1b" not in out and b"\r" not in out, f"{what}: escape or CR in piped output"


def _piped(store: Path | str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kb", *args], env=_env(store), capture_output=True, timeout=60)


def _on_terminal(store: Path | str, *args: str) -> tuple[int, bytes]:
    child = pexpect.spawn(
        sys.executable, ["-m", "kb", *args], env=_env(store, colour=True), dimensions=(40, 160), timeout=60
    )
    child.expect(pexpect.EOF)
    out = child.before
    child.close()
    return child.exitstatus, out


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_hostile_text_is_inert_when_piped(hostile_store: Path | str, args: tuple[str, ...]) -> None:
    done = _piped(hostile_store, *args)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    _assert_inert(done.stdout, " ".join(args), terminal=False)
    _assert_inert(done.stderr, " ".join(args) + " (stderr)", terminal=False)


def test_hostile_text_is_inert_on_a_terminal(hostile_store: Path | str) -> None:
    for args in [*COMMANDS, ("show", "1", "2"), ("show", "1", "--raw"), ("show", "2", "--raw")]:
        code, out = _on_terminal(hostile_store, *args)
        what = " ".join(args) + " (terminal)"
        assert code == 0, (what, out[-500:])
        assert b"Traceback" not in out
        _assert_inert(out, what, terminal=True)
    code, out = _on_terminal(hostile_store, "list")
    assert SGR.search(out), "Rich emitted no colour: the terminal path was not exercised"


def test_hostile_text_is_visible_and_literal(hostile_store: Path | str) -> None:
    out = _piped(hostile_store, "show", "1", "--no-pager").stdout.decode()
    assert "␛[2J" in out and "␛]0;pwned␇" in out, "escapes should show as control pictures"
    assert "[bold red]x[/]" in out and "[link=http://evil]click[/link]" in out, "markup must print as text"
    assert "back␈space" in out
    code, term = _on_terminal(hostile_store, "show", "1", "--no-pager")
    assert b"[bold red]x[/]" in term and "␛".encode() in term
    # The 100k-character line is all there, wrapped, not lost or truncated.
    assert out.count("A") >= 100_000


def test_hostile_ingest_report_is_inert(tmp_path: Path) -> None:
    """A file whose name holds escapes fails to parse; the failure line shows it inertly."""
    store = tmp_path / "kb.json"
    bad = tmp_path / f"bad{CLEAR}{OSC_TITLE}.txt"
    bad.write_text("no question and no answer here\n")
    code, out = _on_terminal(store, "ingest", str(bad))
    assert code == 1
    # The progress bar's own controls (hide the cursor, redraw the line) are kb's, not the file's.
    out = re.sub(rb"\x1b\[\?25[lh]|\x1b\[2K|\x1b\[\d*A|\r(?!\n)", b"", out)
    _assert_inert(out, "ingest (terminal)", terminal=True)
    assert "␛[2J".encode() in out


@pytest.mark.parametrize(
    "args",
    [("show", "1", "--format", "json"), ("list", "--format", "json"), ("search", "hostile", "--format", "json")],
    ids=lambda a: a[0],
)
def test_json_output_keeps_the_true_text(hostile_store: Path | str, args: tuple[str, ...]) -> None:
    done = _piped(hostile_store, *args)
    assert done.returncode == 0
    assert b"\x1b" not in done.stdout  # JSON escapes control characters (\u001b)
    data = orjson.loads(done.stdout)
    record = data if isinstance(data, dict) else next(r for r in data if r["id"] == 1)
    for name in ("title", "category", "question", "answer"):
        assert record[name] == clean_text(RECORD[name]), name
    assert record["expert"]["name"] == RECORD["expert"]
    assert record["tags"] == RECORD["tags"]
    assert OSC8_LINK in record["question"] and "\r" not in record["question"]


MACHINE = [
    ("list", "categories", "--format", "ids"),
    ("list", "tags", "--format", "ids"),
    ("experts", "--format", "ids"),
    ("list", "--format", "csv"),
    ("list", "categories", "--format", "csv"),
    ("experts", "--format", "csv"),
    ("search", "hostile", "--format", "csv"),
    ("show", "1", "--format", "json"),
    ("list", "--format", "jsonl"),
]


def test_machine_formats_are_inert_on_a_terminal(hostile_store: Path | str) -> None:
    """--format ids, csv, json and jsonl printed for a person: nothing the terminal acts on."""
    for args in MACHINE:
        code, out = _on_terminal(hostile_store, *args)
        what = " ".join(args) + " (terminal)"
        assert code == 0, (what, out[-500:])
        _assert_inert(out, what, terminal=True)
        assert b"\x1b" not in out, f"{what}: an escape reached the terminal"


def test_machine_formats_keep_the_true_text_when_piped(hostile_store: Path | str) -> None:
    """Piped into a script, ids and CSV carry the text as stored; JSON escapes it losslessly."""
    names = _piped(hostile_store, "list", "categories", "--format", "ids").stdout.decode()
    assert f"Cat{CSI_COLOUR}{LINK_MARKUP}" in names.splitlines()
    listed = _piped(hostile_store, "list", "--format", "json").stdout
    assert "\u202e".encode() not in listed and b"\\u202e" in listed and b"\\u009b" in listed
    assert orjson.loads(listed)[0]["title"] == clean_text(RECORD["title"])
