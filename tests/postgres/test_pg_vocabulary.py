"""The knowledge base's own vocabulary in PostgreSQL: abbreviations and aliases learned from
the entries (kb.search.vocabulary, as in the files backend), kept current by writes, and
counted for the entries of a store that a write carries to schema 7."""

from __future__ import annotations

import pytest

from kb.errors import StoreError
from kb.models import Entry
from tests.search.test_abbreviations import _entries as abbreviation_entries
from tests.search.test_aliases import _defining
from tests.search.test_aliases import _entries as alias_entries


def _fresh(entries: list[Entry]) -> list[Entry]:
    """The entries without ids: PostgreSQL hands them out."""
    return [Entry(title=e.title, question=e.question, answer=e.answer) for e in entries]


def _titles(pg, query: str) -> list[str]:
    return [hit.entry.title for hit in pg.search(query)]


def _count(pg, table: str) -> int:
    return int(pg.conn.execute(f"SELECT coalesce(sum(n), 0) FROM {table}").fetchone()[0])


def test_postgres_abbreviation_finds_the_spelled_out_topic(pg) -> None:
    pg.add_many(_fresh(abbreviation_entries()))
    assert _titles(pg, "I keep getting UTIs")[0] == "Urinary tract infections"
    # COPD: the heads use the short form, which is left alone.
    assert "Lungs" not in _titles(pg, "what is copd")


def test_postgres_alias_finds_the_entries_term_and_follows_writes(pg) -> None:
    pg.add_many(_fresh(alias_entries()))
    assert _titles(pg, "ringing in my ears")[0] == "Tinnitus"
    assert _count(pg, "aliases") > 0
    added = pg.add_many(_fresh(_defining(100, 1))).added
    defining = [h.entry.id for h in pg.search("hearing note")]
    assert len(defining) == 3
    pg.remove(defining[:2])
    assert "Tinnitus" not in _titles(pg, "ringing in my ears")  # one definition left
    # An edit counts the old answer out and the new one in.
    edited = pg.get(added[0].stored_id())
    edited.answer = "Nothing is defined here."
    pg.update(edited, read_at=edited.updated_at)
    assert _count(pg, "aliases") == 0
    edited = pg.get(added[0].stored_id())
    edited.answer = _defining(0, 1)[0].answer
    pg.update(edited, read_at=edited.updated_at)
    before = _count(pg, "aliases")
    assert before > 0
    pg.add_many(_fresh(_defining(200, 1)))
    assert _count(pg, "aliases") == 2 * before
    assert _titles(pg, "ringing in my ears")[0] == "Tinnitus"
    # The words "did you mean" reads follow the edit too: Tinnitus, the edited entry, the new one.
    assert pg.conn.execute("SELECT df FROM words WHERE word = 'tinnitus'").fetchone()[0] == 3


def test_postgres_vocabulary_counted_afresh_by_a_reindex(pg) -> None:
    pg.add_many(_fresh(alias_entries()))
    before = pg.conn.execute("SELECT * FROM aliases ORDER BY 1, 2").fetchall()
    pg.conn.execute("UPDATE aliases SET n = n + 5")
    pg.reindex()
    assert pg.conn.execute("SELECT * FROM aliases ORDER BY 1, 2").fetchall() == before


def test_postgres_schema_6_counts_the_stored_definitions_at_the_first_write(pg) -> None:
    pg.add_many(_fresh(abbreviation_entries()) + _fresh(alias_entries()))
    # As version 6 left it: no vocabulary tables.
    pg.conn.execute("DROP TABLE abbreviations, aliases")
    pg.conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema'")
    pg._version = None
    with pytest.raises(StoreError, match="version 6, older"):
        pg.search("ringing in my ears")  # a reader never migrates
    pg.add_many([Entry(title="Earwax", question="What is earwax?", answer="A waxy oil.")])  # a write does
    assert _count(pg, "abbreviations") == 4  # UTI twice, COPD twice
    assert _titles(pg, "ringing in my ears")[0] == "Tinnitus"
    assert _titles(pg, "I keep getting UTIs")[0] == "Urinary tract infections"
