"""A reader that closes the pipe early (`kb list | head -1`) is not a failure of kb's.

Through a real pipe in bash with `set -o pipefail`, as scripts run kb: the pipeline's
status is kb's, and kb exits 0 without a word on stderr (the README's exit-code table).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_kb

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("head") is None, reason="needs bash and head"
)

# Each prints far more than a pipe holds (64 kB), so kb is still writing when head leaves.
PIPELINES = [
    "kb list | head -1",
    "kb list -n 0 | head -1",
    "kb list -n 0 --format jsonl | head -1",
    "kb list -n 0 --format csv | head -1",
    "kb list -n 150 | head -1",
    "kb search question -n 0 | head -1",
    "kb search question -n 0 --format ids | head -1",
    "kb export | head -c 100",
    "kb export --format json | head -c 100",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pipes")
    data = folder / "many.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {"question": f"Question {i} about pipes and readers?", "answer": f"Answer {i}: " + "words " * 30}
            )
            + "\n"
            for i in range(3000)
        )
    )
    path = folder / "kb.json"
    assert run_kb("ingest", "-q", str(data), env={"KB_DB": str(path)}).returncode == 0
    return path


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_closed_pipe_exits_0_quietly(store: Path, pipeline: str) -> None:
    env = dict(os.environ, KB_DB=str(store), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("COLUMNS", None)
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline + " > /dev/null"], capture_output=True, env=env, timeout=120
    )
    assert done.returncode == 0, (pipeline, done.returncode, done.stderr)
    errors = [line for line in done.stderr.decode().splitlines() if not line.startswith("showing ")]
    assert errors == [], (pipeline, errors)
