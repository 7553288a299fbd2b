"""Moving between backends losslessly: kb's JSON Lines export from a files store, stored in
PostgreSQL and exported again, is the same bytes; and back into a files store, the same.

Both exports go through kb.export's one JSONL writer, so the bytes compare what each
backend stored. The MedQuAD corpus is used too when it is present beside the repository.
"""

from __future__ import annotations

import gzip
import io
import itertools
from pathlib import Path

import orjson
import pytest

from kb import parsers
from kb.api import KnowledgeBase
from kb.export import export_entries
from kb.models import Entry, Expert

ROOT = Path(__file__).resolve().parent.parent.parent
MEDQUAD = ROOT.parent / "shared" / "corpora" / "medquad.jsonl.gz"


def _restore(pg, jsonl: bytes, batch: int = 500) -> int:
    entries = [e for e in parsers.get("jsonl").iter_parse(jsonl.decode("utf-8"), "backup.jsonl")]
    assert all(isinstance(e, Entry) for e in entries)
    with pg.ingest_sink() as sink:
        for start in range(0, len(entries), batch):
            sink.write(entries[start : start + batch])  # type: ignore[arg-type]
    return len(entries)


def _export(entries) -> bytes:
    out = io.BytesIO()
    export_entries(entries, "jsonl", out)
    return out.getvalue()


def _files_store(path: Path, *inputs: str) -> KnowledgeBase:
    kb = KnowledgeBase.open(path)
    report = kb.ingest(list(inputs), keep="counts")
    assert not report.failures, report.failures
    return kb


def _round_trip(pg, tmp_path: Path, files: KnowledgeBase) -> bytes:
    backup = _export(files.iter_entries(with_raw=True))
    count = _restore(pg, backup)
    assert pg.count() == count
    again = _export(pg.iter_entries(with_raw=True))
    assert again == backup
    # And back: the PostgreSQL export restores a files store that exports the same bytes.
    (tmp_path / "back.jsonl").write_bytes(again)
    back = _files_store(tmp_path / "back" / "kb.json", str(tmp_path / "back.jsonl"))
    assert _export(back.iter_entries(with_raw=True)) == backup
    return backup


def test_postgres_round_trip_of_the_samples_is_byte_identical(pg, tmp_path: Path) -> None:
    files = _files_store(tmp_path / "a" / "kb.json", str(ROOT / "seeds"), str(ROOT / "data"))
    files.remove(2)  # a gap in the ids, which the round trip keeps
    files.add(
        question="Hostile: \x1b[31mred\x1b[0m [bold]markup[/bold] \u202eevil\u202c, emoji 🦴, accents café?",
        answer="Tabs\tand\nnew lines, 'quotes' \"double\" \\ backslashes, % and {braces}.",
        title="Ünïcödé & <html> 'title'",
        category="Tests",
        expert=Expert(name="Zoë Q. O'Brien", expertise="Edge cases"),
        tags=["ä", "B", "b"],
    )
    files.add(
        Entry(
            question="What is in extra?",
            answer="The fields kb has no place for, in their order.",
            extra={"url": "https://example.org/q?a=1", "qtype": "x", "z": 1.5, "a": [None, True, {"k": "v"}]},
        )
    )
    backup = _round_trip(pg, tmp_path, files)
    records = [orjson.loads(line) for line in backup.splitlines()]
    assert 2 not in [r["id"] for r in records] and any(r["raw"] for r in records)
    assert any(r["extra"] for r in records)  # the samples' fields kb has no place for


@pytest.mark.skipif(not MEDQUAD.exists(), reason="the MedQuAD corpus is not beside the repository")
def test_postgres_round_trip_of_medquad_is_byte_identical(pg, tmp_path: Path) -> None:
    sample = tmp_path / "medquad.jsonl"
    with gzip.open(MEDQUAD, "rb") as source:
        sample.write_bytes(b"".join(itertools.islice(source, 3000)))
    files = _files_store(tmp_path / "a" / "kb.json", str(sample))
    _round_trip(pg, tmp_path, files)


def test_postgres_restore_keeps_ids_of_entries_where_they_are_free(pg, tmp_path: Path) -> None:
    files = _files_store(tmp_path / "a" / "kb.json", str(ROOT / "data"))
    backup = _export(files.iter_entries(with_raw=True))
    _restore(pg, backup)
    top = max(e.id for e in pg.list())
    fresh = pg.add_many([Entry(question="A new question?", answer="A new answer.")]).added[0]
    assert fresh.id == top + 1  # the sequence moved past the restored ids
    count = pg.count()
    _restore(pg, backup)  # a second restore adds nothing
    assert pg.count() == count
