"""A real PostgreSQL server for the backend's tests: KB_TEST_PG_URL (CI starts one), or a
throwaway cluster started here for the session and stopped at its end.

Each test gets its own schema (KB_PG_SCHEMA's job), dropped afterwards, so tests share
the server but never each other's tables. Without PostgreSQL binaries and without
KB_TEST_PG_URL the tests skip, with one line saying so.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import pgcluster  # noqa: E402

sys.path.pop(0)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The superuser URL of a running server."""
    given = os.environ.get("KB_TEST_PG_URL", "").strip()
    if given:
        yield given
        return
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


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A schema name of this test's own; dropped with everything in it afterwards."""
    import psycopg

    name = "kb_test_" + uuid.uuid4().hex[:12]
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def pg(pg_url: str, pg_schema: str):
    """A PostgreSQL backend on this test's schema."""
    from kb.postgres.backend import PostgresBackend

    backend = PostgresBackend(pg_url, schema_name=pg_schema)
    yield backend
    backend.close()
