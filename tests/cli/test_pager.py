"""`kb show` pages a long entry through the real `less` in a real terminal (a pty), readably.

With PAGER and LESS unset, `less` would print colours as `ESC[1;36m` text and wrap the
panels; kb sets LESS=FRX when it is unset, as git does, so colours pass through.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, SEEDS, run_kb

pexpect = pytest.importorskip("pexpect")

# How less shows an escape it does not pass through: "ESC" in reverse video, then the rest.
CODE_AS_TEXT = re.compile(rb"ESC(\x1b\[[0-9;]*m)?\[|\^\[\[")

pytestmark = pytest.mark.skipif(shutil.which("less") is None, reason="needs less")


def _terminal_env(store: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PAGER", "MANPAGER", "LESS", "NO_COLOR")}
    env.update({"KB_DB": str(store), "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "12"}, **extra)
    return env


def _show_in_pager(store: Path, env: dict[str, str]) -> tuple[bytes, int]:
    child = pexpect.spawn(sys.executable, ["-m", "kb", "show", "1"], env=env, dimensions=(12, 80), timeout=30)
    try:
        child.expect("Question")  # the page is up in less
        seen = child.before + child.after
        child.expect([r"\(END\)", ":", pexpect.TIMEOUT], timeout=3)
        seen += child.before
        child.send("q")
        child.expect(pexpect.EOF)
        seen += child.before
    finally:
        child.close()
    return seen, child.exitstatus


def test_pager_shows_colours_not_escape_text(tmp_path: Path) -> None:
    store = tmp_path / "kb.json"
    assert run_kb("ingest", "-q", str(SEEDS), str(DATA), env={"KB_DB": str(store)}).returncode == 0
    seen, status = _show_in_pager(store, _terminal_env(store))
    assert status == 0
    assert b"\x1b[1;36m#1" in seen, "the header's colour did not reach the terminal"
    assert not CODE_AS_TEXT.search(seen), "less printed the colour codes as text"


def test_pager_keeps_the_users_less_options(tmp_path: Path) -> None:
    store = tmp_path / "kb.json"
    assert run_kb("ingest", "-q", str(SEEDS), str(DATA), env={"KB_DB": str(store)}).returncode == 0
    # LESS set by the user (here without -R) is left alone: less then shows codes as text.
    seen, status = _show_in_pager(store, _terminal_env(store, LESS="-X"))
    assert status == 0
    assert CODE_AS_TEXT.search(seen)
