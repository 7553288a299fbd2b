"""The PostgreSQL backend's tests: the server is tests/conftest.py's ``pg_url``
(KB_TEST_PG_URL, which CI starts, or a throwaway cluster for the session).

Each test gets its own schema (KB_PG_SCHEMA's job), dropped afterwards, so tests share
the server but never each other's tables. Without PostgreSQL binaries and without
KB_TEST_PG_URL the tests skip, with one line saying so.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import pgcluster  # noqa: E402, F401  (the replica tests and the CLI tests start clusters with it)

sys.path.pop(0)


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
