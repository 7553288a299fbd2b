"""Ingest end to end: real files on disk, the real store, and the report.

Each bad-input case of the ingest issue has a test: the file gets a one-line reason, the
good files beside it are still ingested, and the exit code is 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from tests.conftest import DATA, SEEDS, run_kb

FAQ = "Title: Watering\nCategory: Gardening\n\nQ: How often should I water tomatoes?\nA: Deeply, twice a week.\n"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


@pytest.fixture
def kb(kb_db: Path) -> KnowledgeBase:
    return KnowledgeBase.open(kb_db)


def test_ingest_seed_and_samples(kb: KnowledgeBase) -> None:
    report = kb.ingest([str(SEEDS), str(DATA)])
    assert report.failures == []
    assert len(report.added) >= 6
    seed = next(e for e in report.added if e.source.format == "expert-page" and "bone scan" in e.title)
    assert seed.expert.name == "Donald Higby, M.D."
    assert seed.source.sha256 and seed.source.encoding == "utf-8"
    assert Path(seed.source.path).is_absolute()


def test_ingest_twice_adds_nothing(kb: KnowledgeBase) -> None:
    first = kb.ingest([str(SEEDS), str(DATA)])
    again = kb.ingest([str(SEEDS), str(DATA)])
    assert again.added == [] and again.updated == []
    assert len(again.unchanged) == len(first.added)


def test_ingest_same_page_under_two_names_is_one_entry(kb: KnowledgeBase, tmp_path: Path) -> None:
    text = FAQ
    write(tmp_path / "in" / "a.txt", text)
    write(tmp_path / "in" / "b.txt", text.replace("\n", "\r\n"))
    report = kb.ingest([str(tmp_path / "in")])
    assert len(report.added) == 1 and report.counts["duplicates"] == 1
    assert report.duplicates[0].id == report.added[0].id and report.duplicates[0].path.endswith("b.txt")


def test_ingest_changed_file_updates_its_entry(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = write(tmp_path / "faq.txt", FAQ)
    first = kb.ingest([str(path)])
    write(path, FAQ.replace("twice a week", "every three days"))
    second = kb.ingest([str(path)])
    assert second.added == [] and [e.id for e in second.updated] == [first.added[0].id]
    assert kb.get(first.added[0].id).answer == "Deeply, every three days."
    assert kb.count() == 1


def test_ingest_again_with_site_moves_the_dump_to_that_category(kb: KnowledgeBase) -> None:
    dump = str(DATA / "stackexchange" / "beekeeping.stackexchange.com")
    first = kb.ingest([dump])
    assert first.added and {e.category for e in first.added} == {"beekeeping.stackexchange.com"}
    again = kb.ingest([dump], settings={"site": "Other"})
    assert again.added == [] and again.unchanged == []
    assert sorted(e.id for e in again.updated) == sorted(e.id for e in first.added)
    for old in first.added:
        new = kb.get(old.id)
        assert new.category == "Other" and new.uid == old.uid
        assert new.created_at == old.created_at and new.updated_at and new.updated_at >= old.updated_at
    assert kb.count() == len(first.added)
    assert [c for c, _ in kb.categories()] == ["Other"]


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        (
            "faq.md",
            "# Garden\n\n## How often should I water tomatoes?\n\nDeeply, twice a week.\n",
            "# Vegetables\n\n## How often should I water tomatoes?\n\nDeeply, twice a week.\n",
        ),
        (
            "faq.jsonl",
            '{"question": "How often should I water tomatoes?", "answer": "Deeply, twice a week.",'
            ' "category": "Garden", "tags": ["water"]}\n',
            '{"question": "How often should I water tomatoes?", "answer": "Deeply, twice a week.",'
            ' "category": "Vegetables", "tags": ["water", "tomato"]}\n',
        ),
    ],
    ids=["markdown", "jsonl"],
)
def test_ingest_same_text_new_category_updates_the_entry(
    kb: KnowledgeBase, tmp_path: Path, name: str, before: str, after: str
) -> None:
    path = write(tmp_path / name, before)
    first = kb.ingest([str(path)])
    assert len(first.added) == 1 and first.added[0].category == "Garden"
    write(path, after)
    second = kb.ingest([str(path)])
    assert second.added == [] and second.unchanged == []
    assert [e.id for e in second.updated] == [first.added[0].id]
    entry = kb.get(first.added[0].id)
    assert entry.category == "Vegetables" and entry.uid == first.added[0].uid
    assert entry.question == "How often should I water tomatoes?" and entry.answer == "Deeply, twice a week."
    assert kb.count() == 1
    third = kb.ingest([str(path)])
    assert third.updated == [] and [e.id for e in third.unchanged] == [entry.id]


def test_ingest_same_text_in_another_file_leaves_the_stored_entry(kb: KnowledgeBase, tmp_path: Path) -> None:
    first = kb.ingest([str(write(tmp_path / "a.txt", FAQ))])
    other = kb.ingest([str(write(tmp_path / "b.txt", FAQ.replace("Gardening", "Cooking")))])
    assert other.updated == [] and other.added == [] and len(other.unchanged) == 1
    assert kb.get(first.added[0].id).category == "Gardening"


def test_ingest_dry_run_writes_nothing(kb: KnowledgeBase, kb_db: Path) -> None:
    report = kb.ingest([str(DATA)], dry_run=True)
    assert report.added and report.dry_run
    assert not kb_db.exists()


def test_ingest_cp1252_page_records_encoding(kb: KnowledgeBase, tmp_path: Path) -> None:
    text = FAQ.replace("Deeply", "Deeply \u2014 the caf\u00e9 way \u2019til dusk")
    path = write(tmp_path / "faq.txt", text.encode("cp1252"))
    report = kb.ingest([str(path)])
    assert report.failures == []
    entry = report.added[0]
    assert "caf\u00e9" in entry.answer and "\u2014" in entry.answer
    assert entry.source.encoding in {"cp1252", "windows-1252"}


def test_ingest_utf8_bom(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = write(tmp_path / "faq.txt", b"\xef\xbb\xbf" + FAQ.encode())
    report = kb.ingest([str(path)])
    assert report.added[0].title == "Watering"
    assert report.added[0].source.encoding == "utf-8-sig"


def test_ingest_glob(kb: KnowledgeBase, tmp_path: Path) -> None:
    write(tmp_path / "x" / "one.txt", FAQ)
    write(tmp_path / "x" / "two.md", "## Question\nWhy?\n\n## Answer\nBecause.\n")
    report = kb.ingest([str(tmp_path / "x" / "*.txt")])
    assert len(report.added) == 1
    missing = kb.ingest([str(tmp_path / "nothing-*.txt")])
    assert missing.failures[0].reason == "no file matches this pattern"


def test_ingest_jsonl_reports_bad_line_and_keeps_good(kb: KnowledgeBase, tmp_path: Path) -> None:
    lines = [
        json.dumps({"question": "q1?", "answer": "a1"}),
        "{not json",
        json.dumps({"question": "q3?", "answer": "a3"}),
    ]
    path = write(tmp_path / "x.jsonl", "\n".join(lines) + "\n")
    report = kb.ingest([str(path)])
    assert len(report.added) == 2
    assert [(f.line, Path(f.path).name) for f in report.failures] == [(2, "x.jsonl")]


def test_ingest_csv_without_needed_columns(kb: KnowledgeBase, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", "name,comment\nx,y\n")
    good = write(tmp_path / "good.txt", FAQ)
    report = kb.ingest([str(bad), str(good)])
    assert len(report.added) == 1
    assert len(report.failures) == 1 and "question" in report.failures[0].reason


BAD_INPUTS = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
    "empty": (b"", "empty"),
    "blank": (b"  \n\n \t\n", "empty"),
    "no-qa": (b"Just a shopping list.\nMilk\nEggs\n", "no question and answer"),
    "undecodable": (bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 50 + b"\xff\xfe\xfa" * 40, "undecodable"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_ingest_bad_input_one_line_reason_others_kept(kb: KnowledgeBase, tmp_path: Path, case: str) -> None:
    content, reason = BAD_INPUTS[case]
    write(tmp_path / "in" / f"bad-{case}.txt", content)
    write(tmp_path / "in" / "good.txt", FAQ)
    report = kb.ingest([str(tmp_path / "in")])
    assert len(report.added) == 1
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert Path(failure.path).name == f"bad-{case}.txt"
    assert reason in failure.reason
    assert "\n" not in str(failure)


def test_ingest_oversized_document_is_refused_clearly(kb: KnowledgeBase, tmp_path: Path) -> None:
    big = write(tmp_path / "big.txt", ("Q: what?\nA: " + "word " * 4_200_000 + "\n"))
    assert big.stat().st_size > 20_000_000
    write(tmp_path / "good.txt", FAQ)
    report = kb.ingest([str(big), str(tmp_path / "good.txt")])
    assert len(report.added) == 1
    assert "MB limit" in report.failures[0].reason and "--max-size" in report.failures[0].reason


def test_ingest_large_jsonl_is_streamed_not_capped(kb: KnowledgeBase, tmp_path: Path) -> None:
    record = {"question": "q?", "answer": "x" * 2000}
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        for i in range(5200):
            fh.write(json.dumps({**record, "question": f"question {i}?"}) + "\n")
    assert path.stat().st_size > 10_000_000
    report = kb.ingest([str(path)])
    assert report.failures == [] and len(report.added) == 5200


def test_ingest_symlink_loop_is_reported_not_followed(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    write(root / "sub" / "good.txt", FAQ)
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "self-link", root / "self-link")
    report = kb.ingest([str(root)])
    assert len(report.added) == 1
    reasons = " ".join(f.reason for f in report.failures)
    assert "loop" in reasons


def test_ingest_unreadable_file(tmp_path: Path) -> None:
    """A file without read permission is reported; the file beside it is ingested.

    Root reads any file, so there a forked child drops to 'nobody' before it ingests.
    """
    if os.geteuid() != 0:
        path = write(tmp_path / "in" / "secret.txt", FAQ)
        path.chmod(0)
        write(tmp_path / "in" / "good.txt", FAQ.replace("tomatoes", "peppers"))
        report = KnowledgeBase.open(tmp_path / "kb.json").ingest([str(tmp_path / "in")])
        assert len(report.added) == 1
        assert "secret.txt" in str(report.failures[0]) and "Permission denied" in report.failures[0].reason
        return
    import importlib
    import pwd
    import shutil
    import tempfile

    # pytest's own temp folders are private to root: use one 'nobody' can enter.
    top = Path(tempfile.mkdtemp(prefix="kb-nobody-"))
    top.chmod(0o777)
    folder = top / "in"
    write(folder / "secret.txt", FAQ).chmod(0)
    write(folder / "good.txt", FAQ.replace("tomatoes", "peppers")).chmod(0o644)
    store = top / "store"
    store.mkdir()
    for p in (folder, store):
        p.chmod(0o777)
    base = KnowledgeBase.open(store / "kb.json")
    # The interpreter's own library may be unreadable to 'nobody': import it all now.
    for module in (
        "kb.ingest.sources",
        "kb.ingest.pipeline",
        "kb.store.store",
        "kb.search.index",
        "kb.parsers.qa",
        "kb.parsers.markdown",
        "kb.parsers.expert_page",
        "kb.parsers.json",
        "kb.parsers.jsonl",
        "kb.parsers.csv",
        "filelock",
        "charset_normalizer",
        "gzip",
        "tinydb",
        "orjson",
        "rapidfuzz",
    ):
        importlib.import_module(module)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, ingest, send the outcome back
        try:
            os.close(read_end)
            nobody = pwd.getpwnam("nobody")
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            report = base.ingest([str(folder)])
            message = json.dumps({"added": len(report.added), "failures": [str(f) for f in report.failures]})
        except BaseException:
            import traceback

            message = json.dumps({"error": traceback.format_exc()})
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        outcome = json.loads(fh.read())
    os.waitpid(pid, 0)
    shutil.rmtree(top, ignore_errors=True)
    assert outcome.get("added") == 1, outcome
    assert len(outcome["failures"]) == 1
    assert "secret.txt" in outcome["failures"][0] and "Permission denied" in outcome["failures"][0]


def test_cli_ingest_exit_codes_and_json_report(tmp_path: Path) -> None:
    write(tmp_path / "in" / "good.txt", FAQ)
    ok = run_kb("ingest", "--json", str(tmp_path / "in"))
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["counts"] == {"added": 1, "updated": 0, "unchanged": 0, "duplicates": 0, "failed": 0}
    write(tmp_path / "in" / "empty.txt", b"")
    bad = run_kb("ingest", "--json", str(tmp_path / "in"))
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["counts"]["unchanged"] == 1 and report["counts"]["failed"] == 1
    assert report["failures"][0]["reason"] == "empty file"


def test_cli_ingest_summary_on_stderr_and_quiet(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", FAQ)
    proc = run_kb("ingest", str(tmp_path / "good.txt"))
    assert proc.returncode == 0
    assert proc.stdout == b""
    assert b"added" in proc.stderr
    quiet = run_kb("ingest", "-q", str(tmp_path / "good.txt"))
    assert quiet.returncode == 0 and quiet.stdout == b"" and quiet.stderr == b""


def test_cli_ingest_stdin(tmp_path: Path) -> None:
    data = json.dumps([{"question": "From stdin?", "answer": "Yes.", "id": "s-1"}]).encode()
    proc = run_kb("ingest", "--json", "-", input=data)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["added"] == 1
    empty = run_kb("ingest", "-", input=b"")
    assert empty.returncode == 1
    assert b"standard input is empty" in empty.stderr


def test_cli_ingest_forced_format(tmp_path: Path) -> None:
    path = write(tmp_path / "records.txt", json.dumps({"question": "Forced?", "answer": "Yes."}) + "\n")
    proc = run_kb("ingest", "--json", "--format", "jsonl", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["added"] == 1
    wrong = run_kb("ingest", "--format", "nope", str(path))
    assert wrong.returncode == 2


def test_cli_truncated_store_is_refused_and_kept(tmp_path: Path, kb_db: Path) -> None:
    write(tmp_path / "good.txt", FAQ)
    assert run_kb("ingest", "-q", str(tmp_path / "good.txt")).returncode == 0
    blob = kb_db.read_bytes()
    kb_db.write_bytes(blob[: len(blob) // 2])
    write(tmp_path / "more.txt", FAQ.replace("tomatoes", "beans"))
    proc = run_kb("ingest", str(tmp_path / "more.txt"))
    assert proc.returncode not in (0, 1, 2)
    err = proc.stderr.decode()
    assert str(kb_db) in err and "damaged" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2
    assert kb_db.read_bytes() == blob[: len(blob) // 2]


def test_cli_ingest_missing_path(tmp_path: Path) -> None:
    proc = run_kb("ingest", str(tmp_path / "nope.txt"))
    assert proc.returncode == 1
    assert b"no such file or folder" in proc.stderr


def test_cli_ingest_gz_broken_past_its_first_64_kb_is_one_failure(tmp_path: Path) -> None:
    """A .gz document cut short after its head: one line naming the file, the others kept."""
    import gzip

    body = "".join(f"Q: What is question {i} about?\nA: It is answer {i}, in a few words.\n\n" for i in range(3000))
    packed = gzip.compress(body.encode())
    write(tmp_path / "in" / "broken.txt.gz", packed[: len(packed) * 2 // 3])
    write(tmp_path / "in" / "good.txt", FAQ)
    proc = run_kb("ingest", "--json", str(tmp_path / "in"))
    assert proc.returncode == 1, proc.stderr
    assert b"Traceback" not in proc.stderr and b"Aborted" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["counts"]["added"] == 1 and report["counts"]["failed"] == 1
    [failure] = report["failures"]
    assert failure["path"].endswith("broken.txt.gz") and failure["reason"].startswith("cannot decompress")
