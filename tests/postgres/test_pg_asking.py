"""Open questions on PostgreSQL: their columns (migration 2), the status filter of reads and
searches, follow-ups, answering once against another writer, and the lossless round trip
of a files store's open questions through PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.asking import answered_entry, new_question
from kb.backend import Request
from kb.errors import AlreadyAnswered
from kb.models import Entry, Expert
from kb.postgres import schema
from kb.postgres.backend import PostgresBackend
from tests.postgres.test_pg_roundtrip import _export, _restore


def _desk(pg: PostgresBackend) -> tuple[Entry, Entry]:
    """One answered entry and one open question that follows it up."""
    answered = Entry(
        question="Can chemotherapy make a bone scan miss a tumour?",
        answer="Yes: a flare after treatment can hide it.",
        category="Oncology",
        expert=Expert(name="Donald Higby, M.D."),
    )
    [first] = pg.add_many([answered]).added
    question = new_question("Does a PET scan miss it too?", asked_by="sue", asked_for="Donald Higby, M.D.")
    question.follows = first.stored_id()
    [posted] = pg.add_many([question]).added
    return first, posted


def test_open_questions_are_stored_and_filtered(pg: PostgresBackend) -> None:
    first, posted = _desk(pg)
    stored = pg.get(posted.stored_id())
    assert (stored.status, stored.asked_by, stored.follows) == ("open", "sue", first.id)
    assert stored.to_dict() == posted.to_dict()
    assert [e.id for e in pg.list(Request(status="open"))] == [posted.id]
    assert [e.id for e in pg.list(Request(status="answered"))] == [first.id]
    assert pg.count(Request(status="open")) == 1 and pg.count() == 2
    assert pg.search("PET", Request(status="answered")).total == 0
    assert [h.entry.id for h in pg.search("PET", Request(status=None))] == [posted.id]
    assert [e.id for e in pg.follow_ups(first.stored_id())] == [posted.id]


def test_answering_is_refused_once_answered(pg: PostgresBackend, pg_url: str, pg_schema: str) -> None:
    _, posted = _desk(pg)
    late = answered_entry(pg.get(posted.stored_id()), "No, it does not.", Expert(name="Bob"))
    other = PostgresBackend(pg_url, schema_name=pg_schema)
    try:
        other.answer_open(answered_entry(other.get(posted.stored_id()), "It can.", Expert(name="Ann")))
    finally:
        other.close()
    with pytest.raises(AlreadyAnswered):
        pg.answer_open(late)
    stored = pg.get(posted.stored_id())
    assert stored.answer == "It can." and stored.status == "answered" and stored.answered_at
    assert pg.search("PET", Request(status="answered")).total == 1


def test_two_writers_answering_at_once_one_wins(pg: PostgresBackend, pg_url: str, pg_schema: str) -> None:
    _, posted = _desk(pg)
    question = pg.get(posted.stored_id())
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def answer(name: str) -> None:
        backend = PostgresBackend(pg_url, schema_name=pg_schema)
        try:
            entry = answered_entry(question, f"{name} says yes.", Expert(name=name))
            start.wait()
            backend.answer_open(entry)
            outcomes[name] = "stored"
        except AlreadyAnswered:
            outcomes[name] = "refused"
        finally:
            backend.close()

    threads = [threading.Thread(target=answer, args=(n,)) for n in ("Ann", "Bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes.values()) == ["refused", "stored"]
    winner = next(n for n, o in outcomes.items() if o == "stored")
    assert pg.get(posted.stored_id()).answer == f"{winner} says yes."


def test_a_version_1_schema_is_carried_forward_and_reads_answered(
    pg_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr(schema, "LATEST", 1)
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {pg_schema}")
        schema.ensure(conn, pg_schema)
        conn.execute(
            "INSERT INTO entries (uid, title, label, category, tags, question, answer, source, extra, head, body)"
            " VALUES ('0123456789abcdef', '', 'q', '', '{}', 'Old question?', 'Old answer.', '{}', '{}', '', '')"
        )
    monkeypatch.undo()
    backend = PostgresBackend(pg_url, schema_name=pg_schema)
    try:
        backend.add_many([Entry(question="New question?", answer="New answer.")])  # a write migrates
        old = backend.list()[0]
        assert old.status == "answered" and old.to_dict()["status"] == "answered"
        assert schema.version(backend.conn) == schema.LATEST
    finally:
        backend.close()


def test_open_questions_round_trip_through_postgres_byte_for_byte(pg: PostgresBackend, tmp_path: Path) -> None:
    with KnowledgeBase.open(tmp_path / "files" / "kb.json") as files:
        files.add(question="How often should I water tomatoes?", answer="Twice a week.", expert="Ann")
        files.post("Can I water them with grey water?", asked_by="sam", asked_for="Ann", follows=1)
        done = files.post("Do tomatoes need a cage?", category="Gardening").entry
        files.answer(done.stored_id(), "A stake will do.", expert="Ann")
        backup = _export(files.iter_entries(with_raw=True))
    _restore(pg, backup)
    assert _export(pg.iter_entries(with_raw=True)) == backup


def test_follow_ups_are_read_with_the_entry(pg: PostgresBackend) -> None:
    """kb show reads an entry and its follow-ups in one statement; a write drops what was read."""
    from kb.postgres import reads

    first, posted = _desk(pg)
    entry = pg.get(first.stored_id())
    assert [e.id for e in pg.follow_ups(entry.stored_id())] == [posted.id]
    assert [e.id for e in reads.follow_ups(pg.conn, first.stored_id())] == [posted.id]
    pg.get(first.stored_id())
    again = new_question("And an MRI?", asked_by="sue", asked_for="Donald Higby, M.D.")
    again.follows = first.stored_id()
    [added] = pg.add_many([again]).added
    assert [e.id for e in pg.follow_ups(first.stored_id())] == [posted.id, added.id]
    assert pg.get(posted.stored_id()).follows == first.id and pg.follow_ups(posted.stored_id()) == []
