"""Shared fixtures: a private store for every test, a CLI runner, and entry builders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.models import Entry, Expert, Source

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SEEDS = ROOT / "seeds"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests tests/tiers.py lists as slow, so that `-m "not slow"` is the fast tier."""
    from tests.tiers import SLOW

    for item in items:
        names = SLOW.get(item.nodeid.split("::", 1)[0])
        if names and getattr(item, "originalname", item.name) in names:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def kb_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point KB_DB at a fresh store under tmp_path, so no test touches a real one."""
    path = tmp_path / "store" / "kb.json"
    monkeypatch.setenv("KB_DB", str(path))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("KB_LOCK_TIMEOUT", raising=False)
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The superuser URL of a running PostgreSQL server: KB_TEST_PG_URL (CI starts one), or
    a throwaway cluster started here for the session and stopped at its end. Without
    either (no PostgreSQL binaries found), the tests that need it skip with one line."""
    given = os.environ.get("KB_TEST_PG_URL", "").strip()
    if given:
        yield given
        return
    sys.path.insert(0, str(ROOT / "tools"))
    import pgcluster

    sys.path.pop(0)
    if pgcluster.bindir() is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) found and KB_TEST_PG_URL unset")
    folder = Path(tempfile.mkdtemp(prefix="kb-pg-"))
    folder.chmod(0o755)  # the cluster's owner is another user when the tests run as root
    cluster = pgcluster.start(folder / "primary")
    try:
        yield cluster.url()
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["files", "postgres"])
def store(request: pytest.FixtureRequest, kb_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh store for a behaviour test that must hold on both backends, set as KB_DB:
    the files store's path, or the test server's URL with a schema of this test's own
    (KB_PG_SCHEMA, dropped afterwards)."""
    if request.param == "files":
        yield str(kb_db)
        return
    import weakref

    from kb.postgres.backend import PostgresBackend

    url = request.getfixturevalue("pg_url")
    schema = "kb_test_" + uuid.uuid4().hex[:12]
    monkeypatch.setenv("KB_DB", url)
    monkeypatch.setenv("KB_PG_SCHEMA", schema)
    # Commands run in this process (the cli fixture) leave their knowledge base open for
    # exit (kb.cli.options.open_kb); on the shared server their connections are closed here.
    opened: list[weakref.ref[PostgresBackend]] = []
    init = PostgresBackend.__init__

    def tracked(self: PostgresBackend, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(weakref.ref(self))

    monkeypatch.setattr(PostgresBackend, "__init__", tracked)
    yield url
    for ref in opened:
        backend = ref()
        if backend is not None:
            backend.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def empty_store(kb_db: Path) -> Path:
    """Create the store at KB_DB holding no entries: one added, then removed.

    A store that does not exist is another case: commands that read it exit 1.
    """
    from kb.api import KnowledgeBase

    with KnowledgeBase.open(os.environ["KB_DB"]) as kb:  # the ``store`` fixture's, when a test asks for it
        kb.remove(kb.add(question="Is this store empty?", answer="It will be.").stored_id())
    return kb_db


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def cli(runner):
    """Invoke the kb app in-process: cli("search", "x") -> Result (stdout/stderr apart)."""
    from kb.cli.app import build
    from kb.cli.options import close_opened

    app = build()

    def invoke(*args: str, input: str | bytes | None = None):
        try:
            return runner.invoke(app, list(args), input=input, catch_exceptions=False)
        finally:
            # As the process's exit would: else each run's index files stay open, and a
            # long test session runs out of file descriptors (select() fails past 1024).
            close_opened()

    return invoke


def run_kb(
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real `kb` command in a subprocess (same interpreter), capturing bytes."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "kb", *args],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def kb_run():
    return run_kb


def make_entry(n: int = 1, **fields) -> Entry:
    """Build a small distinct entry; keyword arguments override its fields."""
    values = {
        "title": f"Title {n}",
        "category": "General",
        "question": f"Question number {n} about gardening?",
        "answer": f"Answer number {n}: water the plants.",
        "expert": Expert(name="Pat Doe", expertise="Gardens"),
        "tags": ["t"],
        "source": Source(path=None, format="json"),
    }
    values.update(fields)
    return Entry(**values)


@pytest.fixture
def entry_factory():
    return make_entry
