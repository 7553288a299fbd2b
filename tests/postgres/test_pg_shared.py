"""Many people at once: writers racing, a login that may only read, servers that cannot serve."""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from kb.errors import QueryError, ReadOnlyLogin, ServerUnavailable, StoreError
from kb.postgres.backend import PostgresBackend
from tests.conftest import make_entry
from tests.postgres.conftest import pgcluster


def test_postgres_writers_at_once_store_each_answer_once(pg_url: str, pg_schema: str) -> None:
    results: list = []
    errors: list = []
    start = threading.Barrier(6)

    def writer(k: int) -> None:
        with PostgresBackend(pg_url, schema_name=pg_schema) as backend:
            # Each writer its own objects, as each person's kb process has.
            shared = [make_entry(n) for n in range(40)]
            own = [make_entry(1000 + 10 * k + i) for i in range(10)]
            # Half of them in the opposite order: they must not deadlock.
            batch = [*shared, *own] if k % 2 else [*own, *reversed(shared)]
            start.wait()
            try:
                results.append(backend.add_many(batch))
            except Exception as exc:  # collected: the assertion names it
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sum(len(r.added) for r in results) == 40 + 60
    with PostgresBackend(pg_url, schema_name=pg_schema) as backend:
        assert backend.count() == 100
        ids = {e.uid: e.id for e in backend.list()}
    # Whoever lost a race was told the id the winner stored.
    for result in results:
        assert all(ids[e.uid] == e.id for e in result.unchanged + result.added)


def _writer_process(url: str, schema: str, k: int, queue) -> None:
    """One person's kb: an ingest (answers every writer has, and its own), then adds one by one."""
    try:
        with PostgresBackend(url, schema_name=schema) as backend:
            shared = [make_entry(n) for n in range(30)]
            own = [make_entry(2000 + 20 * k + i) for i in range(10)]
            with backend.ingest_sink() as sink:
                added = len(sink.write([*shared, *own] if k % 2 else [*own, *reversed(shared)]).added)
            for i in range(5):
                added += len(backend.add_many([make_entry(5000 + 10 * k + i)]).added)
        queue.put((added, None))
    except Exception as exc:  # reported to the test, which names it
        queue.put((0, repr(exc)))


def test_postgres_writer_processes_at_once_count_exactly(pg_url: str, pg_schema: str) -> None:
    """8 processes ingesting and adding at once: no error, every entry once, and the search
    statistics every write keeps (document frequencies, totals) exact."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    procs = [context.Process(target=_writer_process, args=(pg_url, pg_schema, k, queue)) for k in range(8)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert [error for _, error in results if error] == []
    assert sum(added for added, _ in results) == 30 + 8 * 10 + 8 * 5
    with PostgresBackend(pg_url, schema_name=pg_schema) as backend:
        assert backend.count() == 150
        conn = backend.conn
        assert conn.execute("SELECT entries FROM corpus").fetchone()[0] == 150
        assert (
            conn.execute("SELECT sum(df) FROM stems").fetchone()[0]
            == conn.execute("SELECT count(*) FROM postings").fetchone()[0]
        )
        assert conn.execute("SELECT count(DISTINCT entry) FROM postings").fetchone()[0] == 150
        assert [h.entry.id for h in backend.search(make_entry(2000).question)][:1] == [
            backend.get(make_entry(2000).uid[:8]).id
        ]


@pytest.fixture
def reader_url(pg, pg_url: str, pg_schema: str):
    """A login that may only read this test's schema (as the README tells admins to make one)."""
    pg.add_many([make_entry(1)])
    role = pg_schema + "_reader"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reads'")
        conn.execute(f"GRANT USAGE ON SCHEMA {pg_schema} TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {pg_schema} TO {role}")
    yield make_conninfo(pg_url, user=role, password="reads")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def test_postgres_read_only_login_reads_and_may_not_write(reader_url: str, pg_schema: str) -> None:
    with PostgresBackend(reader_url, schema_name=pg_schema) as reader:
        assert reader.count() == 1 and reader.get(1).id == 1
        assert reader.search("gardening").hits[0].entry.id == 1
        assert reader.related(1) == [] and reader.experts()[0].name == "Pat Doe"
        with pytest.raises(ReadOnlyLogin, match="^this login may only read$"):
            reader.add_many([make_entry(2)])
        with pytest.raises(ReadOnlyLogin):
            reader.remove([1])
        assert reader.count() == 1


def test_postgres_read_only_login_cannot_create_the_schema(reader_url: str) -> None:
    with PostgresBackend(reader_url, schema_name="kb_never_made") as reader:
        assert reader.count() == 0
        with pytest.raises(ReadOnlyLogin, match="may only read"):
            reader.add_many([make_entry(2)])


def test_postgres_server_down_is_one_line_naming_it() -> None:
    port = pgcluster.free_port()
    with PostgresBackend(f"postgresql://kb:secret@127.0.0.1:{port}/kb") as backend:
        with pytest.raises(ServerUnavailable) as caught:
            backend.count()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "not running" in message
    assert "secret" not in message and "\n" not in message
    assert caught.value.exit_code == 3
    with pytest.raises(QueryError):  # a usage error is told as such, server or not
        PostgresBackend(f"postgresql://kb@127.0.0.1:{port}/kb").search("  ")


def test_postgres_refused_password_is_one_line(pg_url: str) -> None:
    wrong = make_conninfo(pg_url, password="not-the-password")
    with PostgresBackend(wrong) as backend:
        with pytest.raises(ServerUnavailable, match="refused the password") as caught:
            backend.list()
    assert "not-the-password" not in str(caught.value) and "\n" not in str(caught.value)


def test_postgres_tables_of_a_newer_kb_are_not_read(pg, pg_url: str, pg_schema: str) -> None:
    pg.add_many([make_entry(1)])
    pg.conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with PostgresBackend(pg_url, schema_name=pg_schema) as later:
        with pytest.raises(StoreError, match="version 99"):
            later.count()


def _count_in_child(queue) -> None:
    from kb.postgres import postings

    queue.put(postings.ahead(lambda: 2).result(timeout=20))


def test_postgres_counting_thread_starts_again_in_a_forked_child() -> None:
    """Ingest counts in a worker thread (kb.postgres.postings.ahead); a writer process
    forked after its parent used one gets a worker of its own instead of waiting forever."""
    import multiprocessing

    from kb.postgres import postings

    assert postings.ahead(lambda: 1).result(timeout=20) == 1
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_count_in_child, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=30) == 2
    finally:
        child.join(timeout=30)
