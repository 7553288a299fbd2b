"""Every `kb` example in the README's usage sections runs as shown on the bundled samples.

The command lines are read from the ```sh blocks between "## Usage" and "## The Python
API" (in blocks of `$ kb ...` sessions, only the `$` lines), and run in order by bash,
in a fresh folder that holds the samples (`seeds/`, `data/`) and a fresh store, so pipes
and redirections work as written. Each must exit 0 without a traceback. The few that
need an editor or a terminal are listed in NEEDS_A_TERMINAL with the reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
BIN = Path(sys.executable).parent

# Examples that cannot run unattended, and why.
NEEDS_A_TERMINAL = {
    "kb add --tag roses": "prompts on a terminal for the question and the answer (tests/cli/test_add_prompts.py)",
    "kb add --editor -c Gardening": "opens $VISUAL/$EDITOR (tests/cli/test_editor.py)",
    'EDITOR="code --wait" kb edit 1 --format json': "opens the VS Code editor (tests/cli/test_editor.py)",
    "kb browse": "a full-screen app on a terminal (tests/tui/test_browse_terminal.py)",
    'kb browse "bone scan"': "a full-screen app on a terminal (tests/tui/test_browse_terminal.py)",
    "kb browse --open": "a full-screen app on a terminal (tests/tui/test_browse_asking.py)",
}

# A note of the reader's own, for `kb add < note.md` (the bundled data/note.md is already ingested).
NOTE = (
    "---\ntitle: Pruning roses\ncategory: Gardening\n---\n\n## Question\n\nWhen do I prune roses?\n\n"
    "## Answer\n\nIn late winter, before new growth starts.\n"
)


def usage_commands(text: str) -> list[str]:
    """The command lines of the ```sh blocks of the usage sections, continuations joined."""
    start = text.index("\n## Usage")
    end = text.index("\n## The Python API")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text[start:end], flags=re.S):
        lines = block.splitlines()
        if any(line.startswith("$ ") for line in lines):
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        joined, pending = [], ""
        for line in lines:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            joined.append(pending + line)
            pending = ""
        # A trailing "  # comment" is dropped (bash would skip it too).
        commands += [
            re.sub(r"\s+# .*$", "", line).strip()
            for line in joined
            if re.search(r"(^|\s|\|)kb\s", line) and not line.lstrip().startswith("#")
        ]
    return commands


def test_readme_usage_has_examples() -> None:
    commands = usage_commands(README.read_text(encoding="utf-8"))
    assert len(commands) > 25
    assert commands[0].startswith("kb ingest seeds data")
    assert set(NEEDS_A_TERMINAL) <= set(commands), "an allow-listed example is gone from the README"


def test_readme_usage_examples_run_as_shown(tmp_path: Path, store: str) -> None:
    """On both backends: KB_DB is a fresh folder store, or the test server with a schema of
    this test's own (``store``)."""
    (tmp_path / "seeds").symlink_to(ROOT / "seeds")
    (tmp_path / "data").symlink_to(ROOT / "data")
    (tmp_path / "note.md").write_text(NOTE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR", "PAGER")}
    env.update(KB_DB=store, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1")
    failed = []
    for command in usage_commands(README.read_text(encoding="utf-8")):
        if command in NEEDS_A_TERMINAL:
            continue
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0 or b"Traceback" in done.stderr:
            failed.append((command, done.returncode, done.stderr.decode(errors="replace").strip()[-300:]))
    assert not failed, "\n".join(map(str, failed))


@pytest.mark.parametrize("command", sorted(NEEDS_A_TERMINAL))
def test_allow_listed_examples_say_why(command: str) -> None:
    assert NEEDS_A_TERMINAL[command].strip()


def test_quick_start_keeps_the_samples_out_of_the_users_own_store(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    quick = re.search(r"## Quick start.*?```sh\n(.*?)\n```", text, flags=re.S)
    assert quick is not None
    line = quick.group(1)
    assert line.startswith("pip install -e . && ")
    checkout, home = tmp_path / "checkout", tmp_path / "home"
    checkout.mkdir()
    home.mkdir()
    (checkout / "seeds").symlink_to(ROOT / "seeds")
    (checkout / "data").symlink_to(ROOT / "data")
    env = {k: v for k, v in os.environ.items() if k != "KB_DB"}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"), PATH=f"{BIN}{os.pathsep}{env['PATH']}")
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line.removeprefix("pip install -e . && ")],
        cwd=checkout,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert b"bone scan" in done.stdout.lower()
    assert (checkout / "demo" / "kb.json").is_file()
    assert list(home.iterdir()) == [], "the quick start wrote into the user's own data folder"
    assert "demo/" in (ROOT / ".gitignore").read_text().split()


def _api_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## The Python API") :]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert block is not None
    return block.group(1)


def test_python_api_example_runs_from_a_folder_without_a_kb_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _api_example()], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "already stored as" in done.stdout


def test_python_api_section_names_the_folder_that_shadows_kb(tmp_path: Path) -> None:
    # What the README warns of, shown: beside a folder named kb, `import kb` finds that folder.
    (tmp_path / "kb").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "from kb import KnowledgeBase"], cwd=tmp_path, capture_output=True, text=True
    )
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## The Python API") : text.index("```python", text.index("\n## The Python API"))]
    if done.returncode != 0:  # an editable install: the folder shadows the package
        assert "unknown location" in done.stderr
    assert "no subfolder named `kb`" in section and "unknown location" in section
