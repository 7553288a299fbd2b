"""The semantic option (kb.search.semantic): entry vectors kept in the index, used to re-rank.

The model tests need the ``semantic`` extra (the wordllama package, weights inside it) and
skip cleanly without it; a store that does not use the option is tested either way.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kb.search import fusion, semantic
from tests.conftest import make_entry

ROOT = Path(__file__).resolve().parents[2]
_no_model = pytest.mark.skipif(not semantic.installed(), reason="the semantic extra (wordllama) is not installed")


def needs_model(test):
    """Skipped without the extra; slow with it (loading the model takes 1-4 s)."""
    return pytest.mark.slow(_no_model(test))


def _vectors(ix) -> dict[int, bytes]:
    return dict(ix.conn.execute("SELECT id, v FROM vectors").fetchall())


def _has_table(ix) -> bool:
    return ix.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'vectors'").fetchone() is not None


def test_semantic_off_by_default_leaves_the_index_as_it_was(index_of, monkeypatch):
    monkeypatch.delenv("KB_SEMANTIC", raising=False)
    ix = index_of([make_entry(1, id=1), make_entry(2, id=2)])
    assert not semantic.kept(ix.conn) and not _has_table(ix)
    assert not semantic.usable(ix.conn)
    assert [h.entry.id for h in ix.search("gardening").hits]
    assert semantic.status(ix.conn).startswith("off")


@needs_model
def test_semantic_vectors_follow_the_entries(index_of, monkeypatch):
    monkeypatch.setenv("KB_SEMANTIC", "1")
    ix = index_of([make_entry(1, id=1), make_entry(2, id=2)])
    assert semantic.kept(ix.conn) and sorted(_vectors(ix)) == [1, 2]
    assert all(len(v) == semantic.DIM for v in _vectors(ix).values())
    before = _vectors(ix)[2]
    ix.upsert(
        [make_entry(2, id=2, title="Tinnitus", question="What is ringing in the ears?"), make_entry(3, id=3)], "s2"
    )
    after = _vectors(ix)
    assert sorted(after) == [1, 2, 3] and after[2] != before
    ix.delete([1], "s3")
    assert sorted(_vectors(ix)) == [2, 3]
    assert semantic.status(ix.conn).startswith("on: 2 vectors")


@needs_model
def test_semantic_unset_keeps_going_and_zero_drops_the_vectors(index_of, monkeypatch):
    monkeypatch.setenv("KB_SEMANTIC", "1")
    ix = index_of([make_entry(1, id=1)])
    monkeypatch.delenv("KB_SEMANTIC")
    ix.upsert([make_entry(2, id=2)], "s2")
    assert sorted(_vectors(ix)) == [1, 2] and semantic.usable(ix.conn)
    monkeypatch.setenv("KB_SEMANTIC", "0")
    assert not semantic.usable(ix.conn)
    ix.upsert([make_entry(3, id=3)], "s3")
    assert not semantic.kept(ix.conn) and not _has_table(ix)


@needs_model
def test_semantic_turned_on_later_embeds_every_entry(index_of, monkeypatch):
    monkeypatch.delenv("KB_SEMANTIC", raising=False)
    ix = index_of([make_entry(n, id=n) for n in range(1, 6)])
    assert not _has_table(ix)
    monkeypatch.setenv("KB_SEMANTIC", "1")
    ix.upsert([make_entry(6, id=6)], "s2")
    assert sorted(_vectors(ix)) == [1, 2, 3, 4, 5, 6]


@needs_model
def test_semantic_cosine_of_int8_vectors_is_close_to_the_float_one():
    a, b, c = semantic.embed(["atrial fibrillation", "afib", "how to repot a cactus"])
    close, far = semantic.cosines(a, [b, c])
    assert close > far + 0.3
    assert semantic.cosines(a, [a])[0] == pytest.approx(1.0, abs=0.02)


@needs_model
def test_semantic_breaks_a_tie_of_words_by_meaning(index_of, monkeypatch):
    # Both entries hold "ears" once in the same place; only one is about the ringing.
    monkeypatch.setenv("KB_SEMANTIC", "1")
    monkeypatch.setattr(fusion, "TOPIC_WEIGHT", 0.0)
    entries = [
        make_entry(1, id=1, title="Ear wax", question="What about the ears?", answer="Wax builds up in the canal."),
        make_entry(2, id=2, title="Tinnitus", question="What about the ears?", answer="A ringing or buzzing sound."),
    ]
    ix = index_of(entries)
    assert [h.entry.id for h in ix.search("buzzing noise in my ears").hits][0] == 2
    assert [h.entry.id for h in ix.search("ears ringing").hits][0] == 2
    hits = ix.search("wax in my ears").hits
    assert hits[0].entry.id == 1


def test_semantic_second_stage_is_pure_and_callable_on_candidates():
    fused = [(1, 2.0), (2, 1.9), (3, 0.5)]
    assert fusion.second_stage(fused, {}, {}) == fused
    # A question whose words name no entry's topic: the cosine decides.
    assert fusion.second_stage(fused, {}, {1: 0.0, 2: 0.5})[0][0] == 2
    # One whose words name an entry's topic: the cosine is left out.
    assert fusion.second_stage(fused, {1: 1.0}, {1: 0.0, 2: 0.9})[0][0] == 1
    assert fusion.add_meaning(fused, {3: 1.0}, 0.0) == fused


def test_semantic_index_without_the_table_reads_as_words_only(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.sqlite")
    conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    assert not semantic.kept(conn)
    semantic.forget(conn, "[1, 2]")  # nothing to forget, no table needed


@needs_model
def test_semantic_store_written_with_it_on_says_so_in_doctor(kb_db, monkeypatch):
    from kb.api import KnowledgeBase
    from kb.doctor.check import check

    monkeypatch.setenv("KB_SEMANTIC", "1")
    with KnowledgeBase.open(kb_db) as kb:
        kb.add(make_entry(1))
        kb.add(make_entry(2, title="Tinnitus", question="Why do my ears ring?"))
        assert kb.search("ringing in my ears").hits[0].entry.title == "Tinnitus"
    found = next(f for f in check(kb_db).to_dict()["findings"] if f["check"] == "semantic")
    assert found["detail"].startswith("on: 2 vectors"), found


@pytest.mark.slow  # a fresh Python process (~1 s)
def test_semantic_a_store_without_vectors_never_imports_the_model(tmp_path):
    # Even with KB_SEMANTIC unset and the extra installed, nothing loads the model.
    script = (
        "import sys\n"
        "from kb.search.index import SearchIndex\n"
        "from tests.conftest import make_entry\n"
        f"ix = SearchIndex({str(tmp_path / 'kb.index.sqlite')!r})\n"
        "ix.rebuild([make_entry(n, id=n) for n in range(1, 4)], 'sig')\n"
        "ix.upsert([make_entry(4, id=4)], 'sig2')\n"
        "assert ix.search('afib').total == 0 and ix.search('gardening').hits\n"
        "print('wordllama' in sys.modules, 'numpy' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KB_SEMANTIC"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


@needs_model
def test_semantic_a_model_that_does_not_load_leaves_words_alone(index_of, monkeypatch):
    monkeypatch.setenv("KB_SEMANTIC", "1")
    ix = index_of([make_entry(1, id=1), make_entry(2, id=2)])
    assert semantic.kept(ix.conn)
    monkeypatch.setattr(semantic, "_model", lambda: None)
    monkeypatch.setattr(fusion, "SEMANTIC_BELOW", 2.0)  # the cosine would be asked for every question
    assert ix.search("gardening").hits
    assert "does not load" in semantic.status(ix.conn)
    ix.upsert([make_entry(3, id=3)], "s2")
    assert not semantic.kept(ix.conn)


def _lay_entries():
    return [
        make_entry(
            1,
            id=1,
            title="Atrial fibrillation",
            category="Heart",
            question="What is atrial fibrillation?",
            answer="An irregular, often rapid heart rhythm.",
        ),
        make_entry(
            2,
            id=2,
            title="Repotting",
            category="Plants",
            question="How do I repot a cactus?",
            answer="Use gloves and a dry mix.",
        ),
        make_entry(
            3,
            id=3,
            title="Heart rhythm",
            category="Heart",
            question="What sets the heart's pace?",
            answer="The sinus node.",
        ),
    ]


@needs_model
def test_semantic_finds_by_meaning_an_entry_none_of_whose_words_the_question_uses(index_of, monkeypatch):
    monkeypatch.setenv("KB_SEMANTIC", "1")
    ix = index_of(_lay_entries())
    result = ix.search("afib")
    assert result.hits and result.hits[0].entry.id == 1 and result.reason is None
    # Filters and exclusions hold for the entries found by meaning as for those found by words.
    assert 1 not in [h.entry.id for h in ix.search("afib", category="Plants").hits]
    assert 1 not in [h.entry.id for h in ix.search("afib -irregular").hits]
    # Beyond SCAN_LIMIT entries the whole index is not scanned: words alone, as without vectors.
    monkeypatch.setattr(semantic, "SCAN_LIMIT", 2)
    assert not ix.search("afib").hits
    monkeypatch.setattr(semantic, "SCAN_LIMIT", 10)
    monkeypatch.setenv("KB_SEMANTIC", "0")
    assert not ix.search("afib").hits


@needs_model
def test_semantic_nearest_entries_join_the_candidates_of_the_words(index_of, monkeypatch):
    monkeypatch.setenv("KB_SEMANTIC", "1")
    monkeypatch.setattr(fusion, "NEIGHBOUR_WEIGHT", 3.0)
    ix = index_of(_lay_entries())
    # "pace" finds entry 3 by its words only; entry 1 joins by meaning.
    ids = [h.entry.id for h in ix.search("afib pace").hits]
    assert 1 in ids and 3 in ids
    assert 1 not in [h.entry.id for h in ix.search("afib pace", category="Plants").hits]


def test_semantic_nearer_entries_gain_only_when_the_first_answer_is_far_in_meaning(monkeypatch):
    monkeypatch.setattr(fusion, "NEIGHBOUR_WEIGHT", 1.0)
    monkeypatch.setattr(fusion, "NEIGHBOUR_MARGIN", 0.1)
    fused = [(1, 2.0), (2, 1.5)]
    # The first answer is at 0.2: each entry past 0.3 gains its cosine's share of the
    # nearest one's, and one the words did not find (3) joins the list.
    out = fusion.add_neighbours(fused, {1: 0.2, 2: 0.6, 3: 0.4, 4: 0.25})
    assert [(i, round(s, 3)) for i, s in out] == [(2, 2.5), (1, 2.0), (3, 0.667)]
    # The first answer is as near as any: the words decide alone.
    assert fusion.add_neighbours(fused, {1: 0.55, 2: 0.6, 3: 0.5}) == fused
    assert fusion.add_neighbours(fused, {}) == fused
    monkeypatch.setattr(fusion, "NEIGHBOUR_WEIGHT", 0.0)
    assert fusion.add_neighbours(fused, {3: 0.9}) == fused


def test_semantic_vectors_sql_honours_filters_and_exclusions():
    from kb.search import sql

    text, params = sql.vectors(sql.Filters(["e.category IN (?)"], ["Heart"]), '"irregular"')
    assert "JOIN entries e" in text and "NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)" in text
    assert params == ["Heart", '"irregular"']
    assert sql.vectors(sql.Filters([], []), None) == ("SELECT v.id, v.v FROM vectors v", [])
