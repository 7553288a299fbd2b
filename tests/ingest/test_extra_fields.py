"""Fields kb has no place for (MedQuAD's url and qtype) are kept in ``extra``, shown, and carried out."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from kb.api import KnowledgeBase

RECORDS = [
    {
        "id": f"GHR_{n}",
        "title": f"Topic {n}",
        "category": "GHR",
        "qtype": "treatment",
        "url": f"https://ghr.example.org/condition/topic-{n}",
        "question": f"What is the treatment for topic {n}?",
        "answer": f"Rest and fluids for topic {n}.",
    }
    for n in (1, 2, 3)
]


def _medquad_like(folder: Path) -> Path:
    path = folder / "medquad.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS))
    return path


def test_extra_fields_kept_shown_and_reported_once(cli, tmp_path: Path) -> None:
    path = _medquad_like(tmp_path)
    result = cli("ingest", str(path))
    assert result.exit_code == 0
    assert result.stderr.count("kept aside") == 1
    assert "qtype, url" in result.stderr
    shown = json.loads(cli("show", "1", "--format", "json").stdout)
    record = shown[0] if isinstance(shown, list) else shown
    assert record["extra"] == {"qtype": "treatment", "url": "https://ghr.example.org/condition/topic-1"}
    assert record["source"]["external_id"] == "GHR_1"
    text = cli("show", "1", "--no-pager").stdout
    # The source line wraps at the console's width: read it back as one line.
    source_line = "".join(text[text.index("Source:") :].split("\n\n")[0].splitlines())
    assert "https://ghr.example.org/condition/topic-1" in source_line


def test_extra_fields_in_the_json_report(cli, tmp_path: Path) -> None:
    path = _medquad_like(tmp_path)
    report = json.loads(cli("ingest", "--json", str(path)).stdout)
    assert report["kept_aside"] == {str(path): ["qtype", "url"]}


def test_extra_fields_round_trip_through_json_and_jsonl(tmp_path: Path) -> None:
    source = KnowledgeBase.open(tmp_path / "a" / "kb.json")
    source.ingest([str(_medquad_like(tmp_path))])
    expected = {e.uid: e.extra for e in source.iter_entries()}
    assert all(extra["qtype"] == "treatment" for extra in expected.values())
    for fmt in ("jsonl", "json"):
        dest = tmp_path / f"out.{fmt}"
        source.export(fmt, dest)
        target = KnowledgeBase.open(tmp_path / fmt / "kb.json")
        report = target.ingest([str(dest)])
        assert {e.uid: e.extra for e in target.iter_entries()} == expected
        # A restore brings back what kb already kept; a JSON export's extra is named again.
        assert report.kept_aside == ({} if fmt == "jsonl" else {str(dest): ["qtype", "url"]})


def test_extra_fields_from_csv_leave_empty_cells_out(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("question,answer,url,note\nWhy?,Because.,https://x.example/1,\n", encoding="utf-8")
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    kb.ingest([str(path)])
    (entry,) = kb.iter_entries()
    assert entry.extra == {"url": "https://x.example/1"}


def test_extra_fields_hostile_url_is_shown_inert(cli, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        orjson.dumps({"question": "Q?", "answer": "A.", "url": "https://e.example/\x1b[31mred[/b]"}) + b"\n"
    )
    cli("ingest", str(path))
    text = cli("show", "1", "--no-pager").stdout
    assert "\x1b" not in text and "[/b]" in text
