"""The index's `entries` table keeps each field once and gives every entry back whole.

Fields that have a column of their own (id, uid, title, category) are left out of the
row's JSON, a file's shared source fields live once in `sources`, and the source key is a
hash; the entries read back must still equal the ones written.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from kb.models import Source
from kb.search.index import SearchIndex
from kb.search.writes import source_ref
from tests.conftest import make_entry


def _stored(n: int, path: str, key: str, **fields) -> object:
    entry = make_entry(
        n,
        source=Source(
            path=path, format="jsonl", sha256=f"{n:064x}", external_id=key, key=key, line=n, encoding="utf-8"
        ),
        created_at="2026-01-01T00:00:00+00:00",
        **fields,
    )
    entry.id = n
    return entry


def test_entries_table_gives_every_entry_back_whole(tmp_path: Path) -> None:
    entries = [_stored(n, f"/data/file{n % 2}.jsonl", f"rec-{n}") for n in range(1, 7)]
    entries.append(replace(_stored(7, "", "x"), source=Source(format="manual")))
    with SearchIndex(tmp_path / "kb.index.sqlite") as index:
        index.rebuild(entries, "sig")
        for entry in entries:
            assert index.get(entry.id).to_dict() == entry.to_dict()
        listed = index.list(limit=None)
        assert [e.to_dict() for e in listed] == [e.to_dict() for e in entries]
    conn = sqlite3.connect(tmp_path / "kb.index.sqlite")
    assert conn.execute("SELECT count(*) FROM sources").fetchone()[0] == 3  # two files and no file
    data = conn.execute("SELECT data FROM entries WHERE id = 1").fetchone()[0]
    assert '"uid"' not in data and '"title"' not in data and "/data/file1.jsonl" not in data


def test_entries_table_finds_records_by_file_and_key(tmp_path: Path) -> None:
    entries = [_stored(1, "/data/a.jsonl", "7"), _stored(2, "/data/b.jsonl", "7"), _stored(3, "/data/a.jsonl", "8")]
    with SearchIndex(tmp_path / "kb.index.sqlite") as index:
        index.rebuild(entries, "sig")
        found = index.ids_for_sources([("/data/a.jsonl", "7"), ("/data/b.jsonl", "7"), ("/data/c.jsonl", "7")])
    assert found == {("/data/a.jsonl", "7"): 1, ("/data/b.jsonl", "7"): 2}
    assert source_ref("/data/a.jsonl", "7") != source_ref("/data/b.jsonl", "7")
    assert source_ref(None, "7") is None and source_ref("/data/a.jsonl", None) is None
