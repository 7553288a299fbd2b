"""Backup and restore: kb's JSON Lines export read back by ingest gives the store it came from.

Real stores on disk throughout: a store is filled from the bundled samples (and, when it
is present beside the repository, the whole MedQuAD corpus), exported, restored into an
empty store and exported again, and the two exports must be the same bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from kb.api import KnowledgeBase
from kb.export import markdown_name

ROOT = Path(__file__).resolve().parent.parent
# Found as tests/parsers/test_jsonl.py finds it: ../shared/corpora beside the repository.
MEDQUAD = ROOT.parent / "shared" / "corpora" / "medquad.jsonl.gz"


def _filled(path: Path, *inputs: Path) -> KnowledgeBase:
    kb = KnowledgeBase.open(path)
    report = kb.ingest([str(p) for p in inputs], keep="counts")
    assert not report.failures, report.failures
    return kb


def _stored(kb: KnowledgeBase) -> dict[int, tuple[dict, str | None]]:
    return {e.id: (e.to_dict(), e.raw) for e in kb.iter_entries(with_raw=True)}


def test_roundtrip_jsonl_export_restores_the_store_as_it_was(tmp_path: Path, store: str) -> None:
    """From a files store into either backend (``store``), and out again, byte for byte."""
    source = _filled(tmp_path / "a" / "kb.json", ROOT / "seeds", ROOT / "data")
    source.remove(2)  # a gap in the ids, which the restore must keep
    backup = tmp_path / "backup.jsonl"
    count = source.export("jsonl", backup)
    target = KnowledgeBase.open(store)
    report = target.ingest([str(backup)])
    assert report.counts["added"] == count and not report.failures
    assert _stored(target) == _stored(source)
    again = tmp_path / "again.jsonl"
    target.export("jsonl", again)
    assert again.read_bytes() == backup.read_bytes()
    # And back into a files store: the same bytes again.
    back = KnowledgeBase.open(tmp_path / "c" / "kb.json")
    back.ingest([str(again)])
    back.export("jsonl", tmp_path / "back.jsonl")
    assert (tmp_path / "back.jsonl").read_bytes() == backup.read_bytes()
    seed = next(e for e in target.iter_entries(with_raw=True) if e.source.format == "expert-page")
    assert seed.source.path.endswith("000_6ad11ddbde19ba67.txt")
    assert seed.source.copyright == "©2017 About.com"
    assert seed.raw and seed.raw.startswith("Oncology")
    assert seed.expert is not None and seed.expert.expertise


def test_roundtrip_restore_from_stdin_keeps_the_sources(tmp_path: Path) -> None:
    source = _filled(tmp_path / "a" / "kb.json", ROOT / "data")
    stream = io.BytesIO()
    source.export("jsonl", stream)
    target = KnowledgeBase.open(tmp_path / "b" / "kb.json")
    target.ingest(["-"], stdin=io.BytesIO(stream.getvalue()))
    assert _stored(target) == _stored(source)


def test_roundtrip_restore_gives_a_taken_id_a_new_one(tmp_path: Path) -> None:
    source = _filled(tmp_path / "a" / "kb.json", ROOT / "data")
    backup = tmp_path / "backup.jsonl"
    source.export("jsonl", backup)
    target = KnowledgeBase.open(tmp_path / "b" / "kb.json")
    mine = target.add(question="Is this mine?", answer="Yes, added before the restore.")
    assert mine.id == 1
    target.ingest([str(backup)])
    restored = {e.uid: e.id for e in target.iter_entries()}
    originals = {e.uid: e.id for e in source.iter_entries()}
    assert restored[mine.uid] == 1
    moved = [uid for uid, old in originals.items() if old == 1]
    assert restored[moved[0]] == max(originals.values()) + 1
    for uid, old in originals.items():
        if old != 1:
            assert restored[uid] == old


def test_roundtrip_restore_twice_adds_nothing(tmp_path: Path, store: str) -> None:
    source = _filled(tmp_path / "a" / "kb.json", ROOT / "data")
    backup = tmp_path / "backup.jsonl"
    source.export("jsonl", backup)
    target = KnowledgeBase.open(store)
    target.ingest([str(backup)])
    report = target.ingest([str(backup)])
    assert report.counts["added"] == 0 and report.counts["updated"] == 0


@pytest.mark.parametrize("marker", [None, True, "1", 2])
def test_roundtrip_foreign_jsonl_is_not_taken_for_a_backup(tmp_path: Path, marker) -> None:
    record = {
        "id": 7,
        "question": "Q?",
        "answer": "A.",
        "created_at": "2020-01-01T00:00:00+00:00",
        "source": {"path": "/elsewhere/x.txt", "format": "qa"},
    }
    if marker is not None:
        record["kb_export"] = marker
    path = tmp_path / "theirs.jsonl"
    path.write_bytes(orjson.dumps(record) + b"\n")
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    kb.ingest([str(path)])
    (entry,) = kb.iter_entries()
    assert entry.source.path == str(path.resolve())
    assert entry.source.format == "jsonl"
    assert entry.source.external_id == "7"


def test_roundtrip_backup_line_of_wrong_types_is_read_safely(tmp_path: Path) -> None:
    line = {
        "kb_export": 1,
        "id": "x",
        "question": "Q?",
        "answer": "A.",
        "expert": ["no"],
        "tags": "t",
        "source": {"path": 3, "format": "qa", "line": True},
        "created_at": 5,
        "raw": {"no": 1},
    }
    bad = {"kb_export": 1, "question": "", "answer": "A.", "source": {}}
    path = tmp_path / "backup.jsonl"
    path.write_bytes(orjson.dumps(line) + b"\n" + orjson.dumps(bad) + b"\n")
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    report = kb.ingest([str(path)])
    assert [f.line for f in report.failures] == [2]
    (entry,) = kb.iter_entries(with_raw=True)
    assert entry.id == 1 and entry.expert is None and entry.tags == []
    assert entry.source.path is None and entry.source.format == "qa" and entry.source.line is None
    assert entry.raw is None and entry.created_at != 5


def test_roundtrip_markdown_keeps_updated_at_of_unchanged_text(tmp_path: Path) -> None:
    dated = tmp_path / "dated.jsonl"
    dated.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "question": f"Question {n}?",
                    "answer": f"Answer {n}.",
                    "created_at": "2020-01-01T00:00:00+00:00",
                    "updated_at": f"2021-0{n}-01T00:00:00+00:00",
                }
            )
            + b"\n"
            for n in (1, 2, 3)
        )
    )
    source = _filled(tmp_path / "a" / "kb.json", dated)
    folder = tmp_path / "notes"
    source.export("md", folder)
    first = next(source.iter_entries())
    edited = folder / markdown_name(first)
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("## Answer\n\n", "## Answer\n\nEdited. "), encoding="utf-8"
    )
    target = KnowledgeBase.open(tmp_path / "b" / "kb.json")
    target.ingest([str(folder)])
    dates = {e.question: e.updated_at for e in target.iter_entries()}
    for entry in source.iter_entries():
        if entry.uid == first.uid:
            assert dates[entry.question] > "2026"
        else:
            assert dates[entry.question] == entry.updated_at


@pytest.mark.skipif(not MEDQUAD.exists(), reason=f"the MedQuAD corpus is not at {MEDQUAD}")
def test_roundtrip_medquad_backup_restores_byte_identical(tmp_path: Path) -> None:
    source = _filled(tmp_path / "a" / "kb.json", MEDQUAD)
    backup = tmp_path / "backup.jsonl"
    count = source.export("jsonl", backup)
    assert count > 16_000
    target = KnowledgeBase.open(tmp_path / "b" / "kb.json")
    report = target.ingest([str(backup)], keep="counts")
    assert report.counts["added"] == count and not report.failures
    again = tmp_path / "again.jsonl"
    assert target.export("jsonl", again) == count
    assert again.read_bytes() == backup.read_bytes()
