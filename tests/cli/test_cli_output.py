"""What the real `kb` prints for scripts: closed pipes, readable non-ASCII JSON, help text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_kb


def _fill(tmp_path: Path, n: int = 3000) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"question": f"Question {i} about a café?", "answer": f"Answer {i}, naïve but true."},
                ensure_ascii=False,
            )
            + "\n"
            for i in range(n)
        ),
        encoding="utf-8",
    )
    assert run_kb("ingest", "-q", str(path)).returncode == 0


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    _fill(tmp_path)
    for args in (["list", "--limit", "0"], ["export"], ["list", "--limit", "0", "--format", "jsonl"]):
        kb = subprocess.Popen([sys.executable, "-m", "kb", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = kb.stdout.read(200)  # read a little, then hang up like `head -c 200`
        kb.stdout.close()
        err = kb.stderr.read()
        kb.wait(timeout=60)
        assert head
        assert b"Traceback" not in err and b"BrokenPipe" not in err, (args, err)
        assert err == b"", (args, err)


def test_json_output_keeps_non_ascii_readable(tmp_path: Path) -> None:
    _fill(tmp_path, 2)
    shown = run_kb("show", "1", "--format", "json")
    assert shown.returncode == 0
    assert "café".encode() in shown.stdout and b"\\u00e9" not in shown.stdout
    found = run_kb("search", "café", "--json")
    assert found.returncode == 0
    assert json.loads(found.stdout)[0]["question"].endswith("café?")


def test_every_command_has_help_text() -> None:
    from kb.cli.app import COMMANDS, build

    registered = build().registered_commands
    assert sorted(info.name for info in registered) == sorted(COMMANDS)
    for info in registered:
        name = info.name or info.callback.__name__
        assert (info.callback.__doc__ or "").strip(), f"kb {name} has no help text"
        assert "Example" in info.callback.__doc__, f"kb {name}'s help shows no example"


def test_command_run_names_only_a_known_command_after_root_options() -> None:
    from kb.cli.app import command_run

    assert command_run(["kb", "--db", "x.json", "search", "bone"]) == "search"
    assert command_run(["kb", "--db=x.json", "rm", "1"]) == "rm"
    assert command_run(["kb", "--help"]) is None
    assert command_run(["kb", "serch", "bone"]) is None
    assert command_run(["kb"]) is None


def test_a_run_imports_only_the_module_of_its_command() -> None:
    probe = (
        "import sys; sys.argv = ['kb', 'path', '--json']; from kb.cli import app\n"
        "try:\n    app.run()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('kb.cli.')), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    loaded = done.stderr.strip().splitlines()[-1]
    assert "kb.cli.lookup" in loaded
    assert "kb.cli.write" not in loaded and "kb.cli.admin" not in loaded and "kb.cli.ingest" not in loaded
