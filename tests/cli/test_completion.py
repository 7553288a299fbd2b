"""Bash completion, through bash's own completion function and the real `kb` command.

The script `kb --show-completion bash` prints is sourced in a bash subprocess; COMP_WORDS
and COMP_CWORD are set as bash sets them for `kb list -c Onc<Tab>`, the function is
called, and COMPREPLY is read. What it inserts must stay one word when the line runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, SEEDS, run_kb

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or not (BIN / "kb").exists(), reason="needs bash and the installed kb script"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "kb.json"
    assert run_kb("ingest", "-q", str(SEEDS), str(DATA), env={"KB_DB": str(path)}).returncode == 0
    return path


def complete(store: Path, *words: str) -> list[str]:
    """What bash's completion function for kb puts in COMPREPLY for ``words`` (the last is being typed)."""
    script = (
        "source <(kb --show-completion bash)\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}\n'
        '_kb_completion kb "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_COMPLETE")}
    env.update({"KB_DB": str(store), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"})
    done = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.decode().splitlines() if line]


def words_after_bash_reads(reply: str) -> list[str]:
    """The arguments bash makes of ``kb list -c REPLY`` (a syntax error fails the test)."""
    done = subprocess.run(
        ["bash", "--norc", "-c", f'set -- {reply}; printf "%s\\n" "$@"'], capture_output=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().splitlines()


@pytest.mark.parametrize(
    ("words", "value"),
    [
        (("kb", "list", "-c", "Onc"), "Oncology (General Cancer)"),
        (("kb", "list", "-c", "'Onc"), "Oncology (General Cancer)"),
        (("kb", "experts", "Donald"), "Donald Higby, M.D."),
        (("kb", "list", "--expert", "'Dr. Hel"), "Dr. Helen Okafor"),  # a quoted word, as bash keeps it
    ],
)
def test_bash_completion_quotes_values_with_spaces(store: Path, words: tuple[str, ...], value: str) -> None:
    replies = complete(store, *words)
    assert len(replies) == 1, replies
    assert words_after_bash_reads(replies[0]) == [value]


def test_bash_completion_leaves_plain_values_plain(store: Path) -> None:
    assert complete(store, "kb", "list", "-c", "Garden") == ["Gardening"]
    assert "12" in complete(store, "kb", "show", "1")
