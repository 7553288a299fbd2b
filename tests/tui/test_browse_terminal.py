"""The installed `kb browse` in a real terminal (tmux), and without one.

tmux renders what the app draws into a screen we can read back (`capture-pane`), so the
test sees the words a person would see, at 80x24, as the app draws them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from tests.conftest import DATA, ROOT, SEEDS, run_kb

KB = str(Path(sys.executable).with_name("kb"))
TIMEOUT = 30
# In the reader's footer only, so on screen once an entry is open.
READER = "Copy answer"


class Terminal:
    """One tmux session on a private server, running a command at a fixed size."""

    def __init__(self, command: list[str], env: dict[str, str], status_file: Path, size=(80, 24)) -> None:
        assert shutil.which("tmux"), "this test needs tmux (e.g. apt-get install tmux)"
        self.socket = f"kb-test-{uuid.uuid4().hex[:8]}"
        self.status_file = status_file
        line = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        script = f"env {line} {shlex.join(command)}; echo $? > {shlex.quote(str(status_file))}; sleep 30"
        self._tmux("new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "sh", "-c", script)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p")

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-l", text)

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def exit_status(self) -> int:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.status_file.exists() and self.status_file.read_text().strip():
                return int(self.status_file.read_text())
            time.sleep(0.1)
        raise AssertionError(f"kb browse did not exit; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def store(kb_db: Path) -> Path:
    with KnowledgeBase.open(kb_db) as kb:
        assert not kb.ingest([str(SEEDS), str(DATA)]).failures
    return kb_db


def browse_in_terminal(store: Path, tmp_path: Path, args: Sequence[str] = ("browse",), **env: str) -> Terminal:
    base = {
        "KB_DB": str(store),
        "NO_COLOR": "1",
        "TERM": "xterm-256color",
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
    }
    return Terminal([KB, *args], dict(base, **env), tmp_path / "status")


def test_browse_in_a_terminal_find_read_quit(store: Path, tmp_path: Path) -> None:
    term = browse_in_terminal(store, tmp_path)
    try:
        term.wait_for("kb ›")
        term.type("how do I stop my door hinge squeaking?")
        screen = term.wait_for("Squeaky door hinge")
        assert "Marta Kowalczyk" in screen  # the list shows the expert beside the category
        term.press("Enter")
        # The preview shows the answer too: the reader's footer says the entry is open.
        screen = term.wait_for(READER)
        assert "Lift the hinge pin part way out" in screen
        assert "Question" in screen and "Answer" in screen
        term.press("Escape")
        term.wait_for("matches")
        term.press("C-q")
        assert term.exit_status() == 0
    finally:
        term.close()


def test_browse_edit_runs_the_editor_and_shows_the_result(store: Path, tmp_path: Path) -> None:
    editor = tmp_path / "edit.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('Tap the pin back', 'Tap the pin home'))\n"
    )
    term = browse_in_terminal(store, tmp_path, EDITOR=f"{sys.executable} {editor}")
    try:
        term.wait_for("kb ›")
        term.type("hinge")
        term.wait_for("Squeaky door hinge")
        term.press("Enter")
        # Not "Tap the pin back", which the preview shows before the reader opens: an `e`
        # pressed then would be typed into the search box.
        assert "Tap the pin back" in term.wait_for(READER)
        term.press("e")
        # The reader shows the saved text (and a notice says so, for a few seconds).
        term.wait_for("Tap the pin home")
        term.press("q")
        assert term.exit_status() == 0
    finally:
        term.close()
    with KnowledgeBase.open(store) as kb:
        assert "Tap the pin home" in kb.search("hinge", limit=1)[0].entry.answer


def test_browse_without_a_terminal_points_to_search(store: Path) -> None:
    result = run_kb("browse", "hinge", input=b"")
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "kb search" in lines[0]


def test_other_commands_do_not_import_textual() -> None:
    # `kb --help` registers every command, kb.cli.browse included; the app loads command
    # modules with importlib, which -X importtime does not list, so ask sys.modules.
    probe = (
        "import sys; sys.argv = ['kb', '--help']; from kb.cli import app\n"
        "try:\n    app.run()\nexcept SystemExit:\n    pass\n"
        "print(sorted(sys.modules), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "browse" in result.stdout
    imported = result.stderr.strip().splitlines()[-1]
    assert "'kb.cli.browse'" in imported and "'typer'" in imported
    assert "'textual'" not in imported and "'kb.tui'" not in imported


def test_bench_browse_runs_on_a_small_store(store: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "browse.py"), "--db", str(store), "--runs", "1", "--query", "door hinge"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    assert rows["search: KnowledgeBase.search (worker thread)"].split("|")[2].strip() == str(len("door hinge"))
    assert "`kb browse` to first results on screen" in rows


def test_browse_in_a_terminal_ctrl_c_quits(store: Path, tmp_path: Path) -> None:
    term = browse_in_terminal(store, tmp_path)
    try:
        term.wait_for("kb ›")
        term.type("hinge")
        term.wait_for("Squeaky door hinge")
        term.press("C-c")
        assert term.exit_status() == 130
    finally:
        term.close()


def _quick_probe(argv: list[str], *, terminal: bool) -> subprocess.CompletedProcess[str]:
    """Run kb.cli.app's quick start of `kb browse` in a child; it prints its exit code and
    whether Typer was imported (stdin and stdout pass for a terminal with ``terminal``,
    so that the store is opened)."""
    probe = (
        "import io, sys\n"
        "from kb.cli import app\n"
        f"sys.argv = {argv!r}\n"
        "assert app.quick_browse(sys.argv)\n"
        "class Tty(io.StringIO):\n    def isatty(self):\n        return True\n"
        f"if {terminal!r}:\n    sys.stdin, out = Tty(), sys.stdout\n    sys.stdout = Tty()\n"
        "else:\n    out = sys.stdout\n"
        "try:\n    app.run_quick()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(code, 'typer' in sys.modules, file=out)"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_browse_starts_without_typer_and_refuses_in_one_line(store: Path, tmp_path: Path) -> None:
    """A plain `kb browse` skips Typer (its import was most of the gap to a bare Textual
    app); its refusals stay one line with the same exit codes."""
    result = _quick_probe(["kb", "--db", str(store), "browse", "hinge"], terminal=False)
    assert result.stdout.split() == ["2", "False"]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "kb search" in lines[0]
    missing = tmp_path / "none" / "kb.json"
    result = _quick_probe(["kb", "browse", f"--db={missing}"], terminal=True)
    assert result.stdout.split() == ["1", "False"]
    lines = result.stderr.strip().splitlines()
    assert lines and str(missing) in lines[0] and "Traceback" not in result.stderr
    assert not missing.parent.exists()  # reading creates nothing


def test_browse_quick_start_takes_only_plain_command_lines(tmp_path: Path) -> None:
    from kb.cli.app import quick_browse
    from kb.cli.browsing import plain_args

    db = str(tmp_path / "kb.json")
    assert plain_args(["kb", "browse"]) == ([], None)
    assert plain_args(["kb", "--db", db, "browse", "bone", "scan"]) == (["bone", "scan"], db)
    url = "postgresql://kb@localhost/kb"  # a location is a string: a path or a URL, opened as given
    assert plain_args(["kb", "--db", url, "browse"]) == ([], url)
    assert plain_args(["kb", "--db", "a.json", "browse", f"--db={db}", "x"]) == (["x"], db)  # the command's wins
    for argv in (
        ["kb", "browse", "--help"],
        ["kb", "browse", "-h"],
        ["kb", "--version", "browse"],
        ["kb", "browse", "--db"],
        ["kb", "browse", "--db="],
        ["kb", "browse", "--", "-x"],
        ["kb", "search", "browse"],
        ["kb"],
    ):
        assert plain_args(argv) is None, argv
        assert not quick_browse(argv), argv
    assert quick_browse(["kb", "browse", "bone"])


def test_browse_first_screen_leaves_the_other_screens_unimported() -> None:
    # Nor hashlib (it loads OpenSSL, which only an ingest's source references need), nor
    # kb.emit and the asking, report and column renderers (the other commands' output).
    probe = (
        "import sys, kb.cli.browsing, kb.api, kb.search.index, kb.tui.app\n"
        "unwanted = ('kb.tui.screens', 'hashlib', 'kb.emit', 'kb.render.asking', 'kb.render.columns',"
        " 'kb.render.reports')\n"
        "print([m for m in unwanted if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.split() == ["[]"], result.stdout + result.stderr


def test_browse_paints_its_first_screen_once_with_the_first_page(store: Path, tmp_path: Path) -> None:
    # What the terminal receives up to the status line: one paint, the rows and the
    # preview on it (not an empty list first, then the rows, then the narrow layout).
    pexpect = pytest.importorskip("pexpect")
    with KnowledgeBase.open(store) as kb:
        first = kb.list(limit=1, status="answered")[0]
    env = {"KB_DB": str(store), "TERM": "xterm-256color", "HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    child = pexpect.spawn(KB, ["browse"], env=env, dimensions=(24, 80), timeout=TIMEOUT, encoding="utf-8")
    try:
        child.expect("entries by id")
        shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)
        assert shown.count("kb ›") == 1, shown
        assert first.display_title()[:20] in shown and "Question" in shown, shown
        child.sendcontrol("q")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
