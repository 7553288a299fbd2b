"""The PostgreSQL backend against a real server: writes, reads, facets and the write rules."""

from __future__ import annotations

import pytest

from kb.backend import Backend, Request, open_backend
from kb.errors import EditConflict, InvalidEntry, NotFound, StoreError
from kb.models import Entry, Expert, Source
from tests.conftest import make_entry


def test_postgres_backend_is_a_backend_chosen_by_its_url(pg_url: str, pg_schema: str) -> None:
    backend = open_backend(pg_url, schema_name=pg_schema)
    try:
        assert isinstance(backend, Backend)
        assert backend.name == "postgres"
        assert "kb-test-only" not in backend.location and "postgresql://" in backend.location
    finally:
        backend.close()


def test_postgres_reader_of_an_empty_database_creates_nothing(pg, pg_url: str, pg_schema: str) -> None:
    import psycopg

    assert pg.count() == 0 and pg.list() == [] and pg.categories() == []
    assert pg.search("bone scan").reason.startswith("the knowledge base is empty")
    with pytest.raises(NotFound):
        pg.get(1)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regnamespace(%s)", (pg_schema,)).fetchone()[0] is None


def test_postgres_add_assigns_ids_in_order_and_reports_duplicates(pg) -> None:
    first = pg.add_many([make_entry(1), make_entry(2), make_entry(1)])
    assert [e.id for e in first.added] == [1, 2]
    assert [e.id for e in first.unchanged] == [1]  # the twin in the same batch
    again = pg.add_many([make_entry(2), make_entry(3)])
    assert [e.id for e in again.unchanged] == [2] and [e.id for e in again.added] == [3]
    pg.remove([3])
    assert [e.id for e in pg.add_many([make_entry(4)]).added] == [4]  # 3 is never handed out again
    stored = pg.get(1)
    assert stored.created_at and stored.updated_at and stored.expert == Expert(name="Pat Doe", expertise="Gardens")


def test_postgres_list_filters_sorts_and_pages_with_one_request(pg) -> None:
    pg.add_many(
        [
            make_entry(1, title="Zinc", category="Oncology (General Cancer)", tags=["Bone"]),
            make_entry(2, title="apple", category="Cardiology", expert=Expert(name="Donald Higby, M.D.")),
            make_entry(3, title="Mango", category="Oncology (General Cancer)", tags=["bone", "x"]),
        ]
    )
    assert [e.id for e in pg.list(Request(category="onc"))] == [1, 3]
    assert [e.id for e in pg.list(Request(expert="higby"))] == [2]
    assert [e.id for e in pg.list(Request(tag="BONE"))] == [1, 3]
    assert [e.title for e in pg.list(Request(sort="title"))] == ["apple", "Mango", "Zinc"]
    assert [e.id for e in pg.list(Request(sort="id", descending=True, limit=1, offset=1))] == [2]
    assert [e.id for e in pg.list(Request(sort="date", descending=True))] == [3, 2, 1]
    # "general" starts a word inside the name, as in the files backend (kb.search.reads.resolve_name)
    assert [e.id for e in pg.list(Request(category="general"))] == [1, 3]
    assert pg.count(Request(category="Oncology (General Cancer)")) == 2
    with pytest.raises(NotFound) as missing:
        pg.list(Request(category="Onkology"))
    assert "did you mean" in (missing.value.hint or "")
    assert pg.tags()[0][1] == 2 and dict(pg.categories())["Cardiology"] == 1
    summary = pg.expert("donald")
    assert summary.name == "Donald Higby, M.D." and summary.count == 1


def test_postgres_get_by_uid_prefix_and_raw_text(pg) -> None:
    entry = make_entry(1)
    entry.raw = "Q: the original\nA: text"
    (stored,) = pg.add_many([entry]).added
    assert pg.get(stored.uid[:6]).id == stored.id
    assert pg.raw(stored.uid[:6]) == "Q: the original\nA: text"
    with pytest.raises(NotFound):
        pg.get("zzzz")


def test_postgres_expert_profiles_are_stored_once_and_merged(pg) -> None:
    pg.add_many([make_entry(1, expert=Expert(name="Ann", expertise="Hearts"))])
    pg.add_many([make_entry(2, expert=Expert(name="Ann", education="MD"))])
    profile = pg.get(1).expert
    assert profile == Expert(name="Ann", expertise="Hearts", education="MD") == pg.get(2).expert
    assert pg.conn.execute("SELECT count(*) FROM experts").fetchone()[0] == 1


def test_postgres_edit_of_a_changed_entry_is_refused(pg) -> None:
    pg.add_many([make_entry(1)])
    mine, theirs = pg.get(1), pg.get(1)
    theirs.answer = "Their answer, saved first."
    theirs.refresh_uid()
    pg.update(theirs)
    mine.answer = "My answer, saved second."
    mine.refresh_uid()
    with pytest.raises(EditConflict, match="changed since you read it"):
        pg.update(mine)
    assert pg.get(1).answer == "Their answer, saved first."
    # Read again, the same edit goes through; every edit leaves a new updated_at.
    again = pg.get(1)
    again.answer = "My answer, saved second."
    again.refresh_uid()
    saved = pg.update(again)
    assert saved.updated_at != theirs.updated_at and pg.get(1).answer == "My answer, saved second."


def test_postgres_edit_into_another_entry_is_refused(pg) -> None:
    pg.add_many([make_entry(1), make_entry(2)])
    edited = pg.get(2)
    edited.question, edited.answer = make_entry(1).question, make_entry(1).answer
    edited.refresh_uid()
    with pytest.raises(InvalidEntry, match="entry 1 already has"):
        pg.update(edited)


def test_postgres_ingest_updates_a_changed_record_of_the_same_file(pg) -> None:
    def record(answer: str) -> Entry:
        return make_entry(1, answer=answer, source=Source(path="faq.txt", format="qa", key="0"))

    with pg.ingest_sink() as sink:
        first = sink.write([record("Water them weekly.")]).added[0]
    with pg.ingest_sink() as sink:
        result = sink.write([record("Water them daily.")])
        assert sink.saved() == 1
    assert [e.id for e in result.updated] == [first.id] and not result.added
    stored = pg.get(first.id)
    assert stored.answer == "Water them daily." and stored.created_at == first.created_at
    assert pg.count() == 1


def test_postgres_remove_returns_what_existed(pg) -> None:
    pg.add_many([make_entry(1), make_entry(2)])
    assert pg.remove([2, 7, 2]) == [2]
    assert pg.count() == 1


def test_postgres_check_and_repair_orphan_profiles(pg) -> None:
    pg.add_many([make_entry(1, expert=Expert(name="Gone")), make_entry(2)])
    pg.remove([1])
    assert [p.where for p in pg.check()] == ["experts"]
    assert pg.repair() == ["removed 1 expert profiles that no entry names"]
    assert pg.check() == []


def test_postgres_stores_text_with_a_nul_character_as_u_fffd(pg) -> None:
    (stored,) = pg.add_many([make_entry(1, answer="before\x00after", expert=Expert(name="N\x00ul"))]).added
    read = pg.get(stored.id)
    assert read.answer == "before\ufffdafter" and read.uid == stored.uid and read.expert.name == "N\ufffdul"


def test_postgres_reindex_rebuilds_vectors_postings_and_words(pg) -> None:
    pg.add_many([make_entry(1, answer="Prune the rhododendrons in spring."), make_entry(2)])
    pg.conn.execute("UPDATE entries SET body = ''::tsvector")
    pg.conn.execute("TRUNCATE postings, stems")
    pg.conn.execute("DELETE FROM words")
    assert pg.search("rhododendrons").hits == []
    assert pg.reindex() == 2
    assert [h.entry.id for h in pg.search("rhododendrons")] == [1]
    assert [h.entry.id for h in pg.search('"prune the rhododendrons"')] == [1]
    assert "rhododendrons" in pg.search("rhododendrns").suggestions


def test_postgres_export_stream_keeps_the_request_filters_and_the_raw_text(pg) -> None:
    first, second = make_entry(1, category="Roses"), make_entry(2, category="Tulips")
    first.raw = "the original page"
    pg.add_many([first, second])
    assert [(e.id, e.raw) for e in pg.iter_entries(with_raw=True)] == [(1, "the original page"), (2, None)]
    assert [e.id for e in pg.iter_entries(Request(category="tul"))] == [2]
    where = pg.locations()
    assert where["entries"] == 2 and where["store_bytes"] > 0 and "kb-test-only" not in where["store"]


def test_postgres_schema_name_comes_from_kb_pg_schema(monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:
    from kb.errors import ConfigError
    from kb.postgres.backend import PostgresBackend

    monkeypatch.setenv("KB_PG_SCHEMA", "Team_KB")
    assert PostgresBackend(pg_url).schema == "team_kb"
    monkeypatch.setenv("KB_PG_SCHEMA", "kb; DROP TABLE x")
    with pytest.raises(ConfigError, match="KB_PG_SCHEMA"):
        PostgresBackend(pg_url)


def test_postgres_schema_1_is_carried_forward_with_postings_for_the_stored_entries(pg) -> None:
    pg.add_many([make_entry(1, answer="Prune the rhododendrons in spring."), make_entry(2)])
    # As version 1 left it: no postings, the lexemes' snapshot instead.
    pg.conn.execute("DROP TABLE postings, stems, corpus, cjk")
    pg.conn.execute(
        "ALTER TABLE entries DROP COLUMN status, DROP COLUMN asked_by, DROP COLUMN asked_for,"
        " DROP COLUMN asked_at, DROP COLUMN answered_at, DROP COLUMN follows,"
        " ADD COLUMN head tsvector NOT NULL DEFAULT ''"
    )
    pg.conn.execute('CREATE TABLE terms (lexeme text COLLATE "C" PRIMARY KEY, df integer NOT NULL)')
    pg.conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    pg._version = None
    with pytest.raises(StoreError, match="version 1, older"):
        pg.search("rhododendrons")
    pg.add_many([make_entry(3, answer="Rhododendrons like acid soil.")])
    assert sorted(h.entry.id for h in pg.search("rhododendrons")) == [1, 3]
    assert pg.conn.execute("SELECT entries FROM corpus").fetchone()[0] == 3


@pytest.mark.parametrize("name", ["kb spaced", 'odd"quote', "back\\slash"])
def test_postgres_search_path_travels_with_the_login(pg_url: str, name: str) -> None:
    """The search path is an option of the login (no SET after it), with the URL's own options kept."""
    from kb.postgres.connection import connect

    conn = connect(pg_url + ("&" if "?" in pg_url else "?") + "options=-c%20statement_timeout%3D4321", schema=name)
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        assert conn.execute("SHOW search_path").fetchone()[0] == f"{quoted},pg_catalog"
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "4321ms"
    finally:
        conn.close()


def test_postgres_schema_version_outside_and_inside_a_transaction(pg) -> None:
    from kb.postgres import schema

    assert schema.version(pg.conn) == 0
    with pg.conn.transaction():
        assert schema.version(pg.conn) == 0
    pg.add_many([make_entry(1)])
    assert schema.version(pg.conn) == schema.LATEST
    with pg.conn.transaction():
        assert schema.version(pg.conn) == schema.LATEST


def _as_version_5(pg) -> None:
    """Take migration 6's additions away: the titles' counts and the CJK pairs."""
    pg.conn.execute("DROP TABLE cjk")
    pg.conn.execute("ALTER TABLE stems DROP COLUMN tdf")
    pg.conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")


def test_postgres_schema_5_gets_title_counts_and_cjk_rows_at_the_first_write(pg) -> None:
    from tests.search.test_cjk import make_entries as cjk_entries

    pg.add_many(cjk_entries())
    counted = dict(pg.conn.execute("SELECT term, tdf FROM stems WHERE tdf > 0"))
    _as_version_5(pg)
    pg._version = None
    with pytest.raises(StoreError, match="version 5, older"):
        pg.search("糖尿病")  # a reader never migrates
    pg.add_many([Entry(title="Seeds", question="How deep?", answer="Twice their width.")])  # a write does
    assert [h.entry.id for h in pg.search("糖尿病").hits][:1] == [1]
    counted["seed"] = 1
    assert dict(pg.conn.execute("SELECT term, tdf FROM stems WHERE tdf > 0")) == counted


def test_postgres_schema_4_loses_the_unread_head_vector_at_the_first_write(pg) -> None:
    pg.add_many([make_entry(1, answer="Prune the rhododendrons in spring.", tags=["garden"])])
    before = pg.get(1).to_dict()
    # As version 4 left it: every entry with its head's vector beside the body's.
    _as_version_5(pg)
    pg.conn.execute("ALTER TABLE entries ADD COLUMN head tsvector NOT NULL DEFAULT ''")
    pg.conn.execute("UPDATE entries SET head = ts_filter(body, '{a,b}')")
    pg.conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    pg._version = None
    with pytest.raises(StoreError, match="version 4, older"):
        pg.search("rhododendrons")  # a reader never migrates
    assert pg.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "4"
    pg.add_many([make_entry(2, answer="Rhododendrons like acid soil.")])  # a write does
    columns = {
        c
        for (c,) in pg.conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'entries'"
        )
    }
    assert "head" not in columns and "body" in columns
    assert pg.get(1).to_dict() == before
    assert sorted(h.entry.id for h in pg.search("rhododendrons")) == [1, 2]
    assert [h.entry.id for h in pg.search('"acid soil"')] == [2]
    pg.update(pg.get(1), read_at=pg.get(1).updated_at)  # an edit writes no head either


def test_postgres_schema_4_heads_count_a_repeated_title_once_after_the_first_write(pg) -> None:
    pg.add_many([Entry(title="Stroke", question="What causes Stroke?", answer="A blocked artery.")])

    def heads() -> list[tuple[int, int]]:
        return pg.conn.execute("SELECT htf, hlen FROM postings WHERE entry = 1 AND htf > 0 ORDER BY term").fetchall()

    counted_once = heads()
    assert counted_once and all(htf == 1 for htf, _ in counted_once)
    # As a version-4 store left them: the title's words counted again in the question.
    _as_version_5(pg)
    pg.conn.execute("ALTER TABLE entries ADD COLUMN head tsvector NOT NULL DEFAULT ''")
    pg.conn.execute("UPDATE postings SET htf = htf + 1, hlen = hlen + 1 WHERE entry = 1 AND htf > 0")
    pg.conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    pg._version = None
    pg.add_many([make_entry(2, answer="Prune the roses in spring.")])
    assert heads() == counted_once
    assert [h.entry.id for h in pg.search("stroke")] == [1]


def test_postgres_ingest_leaves_its_tables_vacuumed_for_index_only_scans(pg) -> None:
    with pg.ingest_sink() as sink:
        sink.write([make_entry(n) for n in range(1, 40)])
        sink.write([make_entry(n) for n in range(40, 60)])
    pages = dict(
        (name, (total, visible))
        for name, total, visible in pg.conn.execute(
            "SELECT relname, relpages, relallvisible FROM pg_class"
            " WHERE relnamespace = current_schema()::regnamespace AND relname IN ('entries', 'postings')"
        )
    )
    assert pages["postings"][0] >= 1 and pages["postings"] == (pages["postings"][0],) * 2
    assert pages["entries"][1] == pages["entries"][0] >= 1
    assert [h.entry.id for h in pg.search('"answer number 45"')] == [45]
