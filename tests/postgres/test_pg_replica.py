"""Past one machine: a primary and a streaming replica (two throwaway clusters here).

Written through the primary, the same answers are read through the replica; a write sent
to the replica is refused in one line that says what it is.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from kb.backend import Request
from kb.errors import ServerUnavailable
from kb.postgres.backend import PostgresBackend
from tests.conftest import make_entry
from tests.postgres.conftest import pgcluster


@pytest.fixture(scope="module")
def primary_and_replica():
    if pgcluster.bindir() is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl, pg_basebackup) found")
    folder = Path(tempfile.mkdtemp(prefix="kb-pg-replica-"))
    folder.chmod(0o755)
    clusters = []
    try:
        clusters.append(pgcluster.start(folder / "primary"))
        clusters.append(pgcluster.replica(clusters[0], folder / "replica"))
        yield clusters[0], clusters[1]
    finally:
        for cluster in reversed(clusters):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_replica_serves_what_the_primary_stored(primary_and_replica) -> None:
    primary, replica = primary_and_replica
    with PostgresBackend(primary.url()) as writer:
        writer.add_many([make_entry(n, category="Gardening" if n % 2 else "Cooking") for n in range(1, 21)])
        written = [e.to_dict() for e in writer.list()]
    pgcluster.wait_for_replay(primary.url(), replica.url())
    with PostgresBackend(replica.url()) as reader:
        assert [e.to_dict() for e in reader.list()] == written
        assert reader.count(Request(category="gard")) == 10
        assert reader.search("gardening number 7").hits[0].entry.id == 7
        assert reader.get(3).expert is not None
        with pytest.raises(ServerUnavailable) as caught:
            reader.add_many([make_entry(99)])
    message = str(caught.value)
    assert "hot standby" in message and f"127.0.0.1:{replica.port}" in message and "\n" not in message
    assert caught.value.hint == "send writes to the primary server"


def test_postgres_replica_refuses_an_edit_too(primary_and_replica) -> None:
    primary, replica = primary_and_replica
    with PostgresBackend(replica.url()) as reader:
        entry = reader.get(1)
        entry.answer = "changed on the replica"
        entry.refresh_uid()
        with pytest.raises(ServerUnavailable, match="hot standby"):
            reader.update(entry)
        with pytest.raises(ServerUnavailable, match="hot standby"):
            reader.remove([1])


def test_postgres_replica_through_the_cli_reads_and_refuses_writes_in_one_line(primary_and_replica) -> None:
    from tests.conftest import run_kb

    primary, replica = primary_and_replica
    env = {"KB_DB": replica.url()}
    listed = run_kb("list", "--format", "ids", env=env)
    assert listed.returncode == 0 and listed.stdout.split()[:1] == [b"1"], listed.stderr
    added = run_kb("add", "--question", "Sent to the replica?", "--answer", "Refused.", env=env)
    err = added.stderr.decode()
    assert added.returncode == 3 and "hot standby" in err and f"127.0.0.1:{replica.port}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
