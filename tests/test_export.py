"""Export round trips: export from one store, ingest into an empty one, same entries back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.api import KnowledgeBase
from kb.export import CSV_COLUMNS, markdown_name, slug
from kb.models import Entry, Expert
from kb.parsers.json import clean_text
from tests.conftest import make_entry

HIGBY = Expert(
    name="Donald Higby, M.D.",
    expertise='Oncology, "hard" cases; second opinions',
    experience="30 years.\n\nTaught at two schools.",
    organizations="ASCO",
    education="M.D., Harvard",
)


def sample_entries() -> list[Entry]:
    """Entries that stress every format: bios, tags, paragraphs, unicode, CSV's specials."""
    return [
        make_entry(
            1,
            title="false negative on bone scan",
            category="Oncology (General Cancer)",
            question='I have breast cancer, stage "IIb".\n\nCan a bone scan be falsely negative?',
            answer="You are right.\n\nChemo can do that, see:\n- point one\n- point two\n\nHope this helps.",
            expert=HIGBY,
            tags=["bone scan", "chemo"],
        ),
        make_entry(
            2,
            title="Grüße aus Köln — naïve café, 日本語 🌱",
            category="Gardening",
            question="Wie gießt man Rosen, \"richtig\"?\r\nMit Kommas, Semikolons; und 'Zitaten'.",
            answer="Morgens; nicht mittags.\n\n## Answer\nThat heading line is part of the answer.",
            expert=Expert(name="Pat Doe", expertise="Gardens"),
            tags=["rosen", "ünïcode"],
        ),
        make_entry(3, title="", category="", expert=None, tags=[], question="Bare question?", answer="Bare answer."),
        make_entry(
            4,
            title="same expert, no bio given here",
            expert=Expert(name="Donald Higby, M.D."),
            question="---\nLooks like front matter?",
            answer='A line with a trailing backslash \\\nand "quotes", commas, and a tab\there.',
        ),
    ]


def _store(path: Path, entries: list[Entry]) -> KnowledgeBase:
    kb = KnowledgeBase.open(path)
    added, duplicates = kb.add_many(entries)
    assert len(added) == len(entries) and not duplicates
    return kb


def _by_uid(kb: KnowledgeBase) -> dict[str, Entry]:
    return {e.uid: e for e in kb.iter_entries()}


def _assert_same(a: KnowledgeBase, b: KnowledgeBase, *, bios: bool = True, updated: bool = True) -> None:
    left, right = _by_uid(a), _by_uid(b)
    assert set(left) == set(right)
    for uid, old in left.items():
        new = right[uid]
        assert (new.title, new.category, new.question, new.answer, new.tags) == (
            old.title,
            old.category,
            old.question,
            old.answer,
            old.tags,
        ), uid
        assert (new.expert.name if new.expert else None) == (old.expert.name if old.expert else None)
        if bios:
            assert new.expert == old.expert
        assert new.created_at == old.created_at
        if updated:
            assert new.updated_at == old.updated_at


def _round_trip(tmp_path: Path, fmt: str, entries: list[Entry]) -> tuple[KnowledgeBase, KnowledgeBase, Path]:
    source = _store(tmp_path / "a" / "kb.json", entries)
    dest = tmp_path / ("out" if fmt == "md" else f"export.{fmt}")
    assert source.export(fmt, dest) == len(entries)
    target = KnowledgeBase.open(tmp_path / "b" / "kb.json")
    report = target.ingest([str(dest)])
    assert not report.failures, [str(f) for f in report.failures]
    assert len(report.added) == len(entries)
    return source, target, dest


def test_export_jsonl_round_trip(tmp_path: Path) -> None:
    source, target, dest = _round_trip(tmp_path, "jsonl", sample_entries())
    _assert_same(source, target)
    assert len(dest.read_text(encoding="utf-8").splitlines()) == 4


def test_export_json_round_trip(tmp_path: Path) -> None:
    source, target, dest = _round_trip(tmp_path, "json", sample_entries())
    _assert_same(source, target)
    records = json.loads(dest.read_text(encoding="utf-8"))
    assert [r["uid"] for r in records] == [e.uid for e in source.iter_entries()]


def test_export_md_round_trip(tmp_path: Path) -> None:
    source, target, dest = _round_trip(tmp_path, "md", sample_entries())
    # Markdown front matter carries created_at, and updated_at with the uid it dates.
    _assert_same(source, target)
    names = sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))
    assert names == sorted(markdown_name(e) for e in source.iter_entries())
    assert "1-false-negative-on-bone-scan.md" in names


def test_export_csv_round_trip(tmp_path: Path) -> None:
    source, target, dest = _round_trip(tmp_path, "csv", sample_entries())
    # The bio travels in expert_<section> columns, which the CSV parser reads back.
    _assert_same(source, target)
    rows = list(csv.DictReader(io.StringIO(dest.read_text(encoding="utf-8"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["expert_experience"] == "30 years.\n\nTaught at two schools."


def test_export_filters_by_category_expert_and_tag(tmp_path: Path) -> None:
    kb = _store(tmp_path / "kb.json", sample_entries())
    out = tmp_path / "x.jsonl"
    assert kb.export("jsonl", out, category="gardening") == 1
    assert json.loads(out.read_text(encoding="utf-8"))["category"] == "Gardening"
    assert kb.export("jsonl", out, expert="Donald Higby, M.D.", force=True) == 2
    assert kb.export("jsonl", out, tag="chemo", force=True) == 1


def test_export_to_a_binary_stream(tmp_path: Path) -> None:
    kb = _store(tmp_path / "kb.json", sample_entries()[:2])
    buffer = io.BytesIO()
    assert kb.export("json", buffer) == 2
    assert len(json.loads(buffer.getvalue())) == 2


def test_export_empty_store_is_valid_json(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    assert KnowledgeBase.open(tmp_path / "none.json").export("json", buffer) == 0
    assert json.loads(buffer.getvalue()) == []


def test_export_cli_json_to_stdout(cli, kb_db: Path) -> None:
    _store(kb_db, sample_entries())
    result = cli("export", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 4
    assert result.stderr == ""


def test_export_cli_md_needs_output(cli, kb_db: Path) -> None:
    _store(kb_db, sample_entries()[:1])
    result = cli("export", "--format", "md")
    assert result.exit_code == 2
    assert "--output" in result.stderr


def test_export_cli_filter_that_matches_nothing_exits_1(cli, kb_db: Path) -> None:
    _store(kb_db, sample_entries())
    result = cli("export", "--format", "json", "--tag", "no-such-tag")
    assert result.exit_code == 1
    assert "no-such-tag" in result.stderr


def test_export_cli_output_file_reports_on_stderr(cli, kb_db: Path, tmp_path: Path) -> None:
    _store(kb_db, sample_entries())
    out = tmp_path / "all.csv"
    result = cli("export", "-F", "csv", "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "exported 4 entries" in result.stderr
    assert out.read_text(encoding="utf-8").startswith("id,uid,title")


def test_export_cli_unwritable_output_is_a_clean_error(cli, kb_db: Path, tmp_path: Path) -> None:
    _store(kb_db, sample_entries()[:1])
    result = cli("export", "-o", str(tmp_path / "no" / "such" / "folder" / "x.jsonl"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write the export")


def test_slug_is_ascii_and_never_empty() -> None:
    assert slug("Grüße aus Köln — naïve café") == "grusse-aus-koln-naive-cafe"
    assert slug("日本語") == "entry"
    assert len(slug("word " * 40)) <= 50


# -- property: any clean text survives every format -----------------------------------------

_TEXT = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85")
        | st.sampled_from("\n\n\t\"',;#-"),
        min_size=1,
        max_size=80,
    )
    .map(clean_text)
    .filter(bool)
)
_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30).map(str.strip)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=_TEXT, answer=_TEXT, title=_LINE, category=_LINE, fmt=st.sampled_from(["jsonl", "json", "csv", "md"]))
def test_export_round_trip_property(tmp_path_factory, question, answer, title, category, fmt) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    entry = Entry(question=question, answer=answer, title=title, category=category, tags=["t"])
    source, target, _ = _round_trip(tmp, fmt, [entry])
    _assert_same(source, target, updated=fmt != "md")


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_export_writes_each_entry_before_reading_the_next(fmt: str) -> None:
    from kb.export import export_entries

    buffer = io.BytesIO()
    written_before: list[int] = []

    def entries():
        for n in range(1, 4):
            written_before.append(len(buffer.getvalue()))
            entry = make_entry(n)
            entry.id = n
            yield entry

    assert export_entries(entries(), fmt, buffer) == 3
    assert written_before[0] < written_before[1] < written_before[2]


def test_source_round_trips_every_field() -> None:
    """Source.to_dict names its fields by hand (it runs for every entry): none may be missed."""
    from dataclasses import fields

    from kb.models import Source

    values = {
        f.name: (True if f.type in (bool, "bool") else 7 if f.name == "line" else f"v-{f.name}") for f in fields(Source)
    }
    source = Source(**values)
    assert source.to_dict() == values
    assert Source.from_dict({**values, "unknown": 1}) == source


def test_list_search_and_export_write_the_same_csv(cli) -> None:
    from tests.conftest import DATA

    assert cli("ingest", "--quiet", str(DATA)).exit_code == 0
    exported = list(csv.reader(io.StringIO(cli("export", "--format", "csv").stdout)))
    listed = list(csv.reader(io.StringIO(cli("list", "--format", "csv", "--limit", "0").stdout)))
    assert exported[0] == listed[0] == list(CSV_COLUMNS)
    # The entry's own fields agree cell for cell. (Bio cells may not: export joins each
    # expert's merged profile from the store, list shows what the entry itself carried.)
    own = [CSV_COLUMNS.index(c) for c in ("id", "uid", "title", "category", "question", "answer", "tags", "expert")]
    assert sorted([row[i] for i in own] for row in exported[1:]) == sorted([row[i] for i in own] for row in listed[1:])
    found = list(csv.reader(io.StringIO(cli("search", "water", "--format", "csv").stdout)))
    assert found[0] == [*CSV_COLUMNS, "score", "snippet"]
    assert [found[1][i] for i in own] in [[row[i] for i in own] for row in exported[1:]]


def test_export_never_writes_over_the_stores_own_files(kb_db: Path, kb_run, tmp_path: Path) -> None:
    import os

    for i in (1, 2):
        assert kb_run("add", "-Q", f"Question {i}?", "-a", f"Answer {i}.").returncode == 0
    link = tmp_path / "innocent.json"
    link.symlink_to(kb_db)
    shard = next((kb_db.parent / "kb.json.d").iterdir())
    targets = [kb_db, shard, kb_db.with_name("kb.json.bak"), kb_db.with_name("kb.json.journal")]
    targets += [kb_db.with_name("kb.index.sqlite"), kb_db.with_name("kb.index.sqlite-wal"), link]
    before = {p: p.read_bytes() for p in targets if p.exists()}
    for target in targets:
        done = kb_run("export", "-o", str(target), "--force")
        assert done.returncode == 2, (target, done.stderr)
        assert b"store's own files" in done.stderr and b"Traceback" not in done.stderr
    assert {p: p.read_bytes() for p in targets if p.exists()} == before
    assert not os.path.exists(shard.parent / "notes")
    assert kb_run("export", "-F", "md", "-o", str(shard.parent / "notes")).returncode == 2


def test_export_does_not_write_over_a_file_without_force(kb_db: Path, kb_run, tmp_path: Path) -> None:
    assert kb_run("add", "-Q", "Question?", "-a", "Answer.").returncode == 0
    out = tmp_path / "mine.jsonl"
    out.write_bytes(b"precious\n")
    done = kb_run("export", "-o", str(out))
    assert done.returncode == 2 and b"--force" in done.stderr and out.read_bytes() == b"precious\n"
    forced = kb_run("export", "-o", str(out), "--force")
    assert forced.returncode == 0 and b"Question?" in out.read_bytes()


def test_export_files_get_the_stores_permissions(kb_db: Path, kb_run, tmp_path: Path) -> None:
    import os
    import stat

    assert kb_run("add", "-Q", "Question?", "-a", "Answer.").returncode == 0
    assert stat.S_IMODE(kb_db.stat().st_mode) == 0o600
    old = os.umask(0o022)
    try:
        assert kb_run("export", "-o", str(tmp_path / "all.csv"), "-F", "csv").returncode == 0
        assert kb_run("export", "-F", "md", "-o", str(tmp_path / "notes")).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "all.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "notes").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "notes").iterdir()} == {0o600}


def test_export_csv_defuses_formulas_and_reads_back_the_same(kb_db: Path, kb_run, tmp_path: Path) -> None:
    """Cells a spreadsheet would run get a leading ' (OWASP); kb reads its own CSV back unchanged."""
    import csv

    records = [
        {
            "title": '=HYPERLINK("http://evil.example","click")',
            "category": "@SUM(1+1)",
            "question": "+cmd|' /C calc'!A0 is it safe?",
            "answer": "-2+3 is what it says.",
            "tags": ["=tag", "'=quoted"],
            "expert": "=Dr Formula",
        },
        {"title": "'=already quoted", "category": "-5", "question": "\t=1+1 with a tab?", "answer": "Plain."},
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(orjson_line(r) for r in records))
    assert kb_run("ingest", "-q", str(source)).returncode == 0
    out = tmp_path / "out.csv"
    assert kb_run("export", "-F", "csv", "-o", str(out)).returncode == 0
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t")) and not (cell.startswith("-") and cell != "-5"), cell
    assert '\'=HYPERLINK("http://evil.example","click")' in rows[1]
    again = tmp_path / "again" / "kb.json"
    assert kb_run("ingest", "-q", str(out), env={"KB_DB": str(again)}).returncode == 0
    _assert_same(KnowledgeBase.open(kb_db), KnowledgeBase.open(again), bios=False)


def orjson_line(record: dict) -> bytes:
    import orjson

    return orjson.dumps(record) + b"\n"
