"""StackExchange dumps: pairing, answer choice, tags, experts, skips, truncation, streaming."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb import parsers
from kb.errors import ParseError
from kb.models import Entry
from kb.parsers import Skipped, stackexchange

DUMP = Path(__file__).resolve().parents[2] / "data" / "stackexchange" / "beekeeping.stackexchange.com"


def _read(path: Path, **settings: str) -> list[object]:
    with open(path, "rb") as fh:
        return list(stackexchange.iter_parse_file(fh, str(path), settings, None))


def _entries(items: list[object]) -> list[Entry]:
    return [i for i in items if isinstance(i, Entry)]


def _row(**attrs: object) -> str:
    from xml.sax.saxutils import quoteattr

    return "  <row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items()) + " />\n"


def _dump(folder: Path, rows: list[str], users: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    posts = folder / "Posts.xml"
    posts.write_text('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "".join(rows) + "</posts>\n")
    if users is not None:
        (folder / "Users.xml").write_text("<?xml version='1.0'?>\n<users>\n" + "".join(users) + "</users>\n")
    return posts


def test_stackexchange_sample_accepted_answer_else_best():
    items = _read(DUMP / "Posts.xml")
    first, second = _entries(items)
    assert first.title == "How do I catch a swarm that is low on a branch?"
    # Accepted (score 9) wins over the higher-scored answer (15).
    assert first.answer.startswith("Hold the box right under the cluster")
    assert "1. Close the flaps halfway.\n2. Leave the box in the shade until dusk." in first.answer
    assert first.expert is not None and first.expert.name == "Ines Duarte"  # from Users.xml
    assert first.tags == ["swarming", "equipment"]
    assert first.category == "beekeeping.stackexchange.com"
    assert first.source.external_id == "1/3"
    # The answer came before its question in the file; no accepted answer: the best one.
    assert second.title == "Checking winter stores & weight without opening the hive"
    assert second.tags == ["winter", "feeding"]
    assert second.expert is not None and second.expert.name == "old_timer"  # OwnerDisplayName
    # Code blocks stay verbatim.
    assert "```\nweight_kg = 2 * side_reading_kg\nif weight_kg < 18: feed()\n```" in second.answer
    skipped = {i.reason: i.count for i in items if isinstance(i, Skipped)}
    assert skipped == {
        "StackExchange questions without an answer": 1,
        "StackExchange posts that are neither questions nor answers (tag wikis, ...)": 1,
    }


def test_stackexchange_answers_best_and_all():
    [best, _] = _entries(_read(DUMP / "Posts.xml", answers="best"))
    assert best.answer == "Wear a veil and just shake the branch." and best.source.external_id == "1/2"
    every = _entries(_read(DUMP / "Posts.xml", answers="all"))
    assert [e.source.external_id for e in every] == ["1/3", "1/2", "4/5"]
    assert len({e.uid for e in every}) == 3


def test_stackexchange_site_option_names_the_category(tmp_path):
    posts = _dump(
        tmp_path / "dump",
        [
            _row(Id=1, PostTypeId=1, Title="T", Body="<p>Q?</p>", Tags="<a>"),
            _row(Id=2, PostTypeId=2, ParentId=1, Score=1, Body="<p>A.</p>"),
        ],
    )
    [entry] = _entries(_read(posts, site="Cooking"))
    assert entry.category == "Cooking" and entry.expert is None


def test_stackexchange_truncated_dump_keeps_complete_questions(tmp_path):
    rows = []
    for n in range(1, 41, 2):
        rows.append(_row(Id=n, PostTypeId=1, Title=f"Question {n}", Body=f"<p>Body {n}?</p>"))
        rows.append(_row(Id=n + 1, PostTypeId=2, ParentId=n, Score=1, Body=f"<p>Answer {n}.</p>"))
    posts = _dump(tmp_path / "cut", rows)
    data = posts.read_bytes()
    cut = data.index(b'Id="31"') + 10  # in the middle of question 31's row
    posts.write_bytes(data[:cut])
    items = _read(posts)
    entries = _entries(items)
    assert [e.title for e in entries] == [f"Question {n}" for n in range(1, 31, 2)]
    [error] = [i for i in items if isinstance(i, ParseError)]
    assert error.line == data[:cut].count(b"\n") + 1
    assert "the dump breaks here" in error.reason and "kept" in error.reason


def test_stackexchange_truncated_dump_through_the_cli(tmp_path):
    rows = [
        _row(Id=1, PostTypeId=1, Title="Whole", Body="<p>Q?</p>"),
        _row(Id=2, PostTypeId=2, ParentId=1, Score=3, Body="<p>A.</p>"),
        _row(Id=3, PostTypeId=1, Title="Cut off", Body="<p>Q2?</p>"),
    ]
    posts = _dump(tmp_path / "site", rows)
    posts.write_bytes(posts.read_bytes()[:-40])
    db = tmp_path / "kb.json"
    run = subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(db), "ingest", "--json", str(posts)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["counts"]["added"] == 1
    [failure] = report["failures"]
    assert failure["path"].endswith("Posts.xml") and failure["line"] == 5
    assert "Traceback" not in run.stderr


def test_stackexchange_dump_folder_reads_posts_with_users(tmp_path):
    folder = tmp_path / "dumps" / "beekeeping.stackexchange.com"
    shutil.copytree(DUMP, folder)
    (folder / "Comments.xml").write_text("<?xml version='1.0'?>\n<comments>\n</comments>\n")
    db = tmp_path / "kb.json"
    run = subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(db), "ingest", "--json", str(tmp_path / "dumps")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["counts"]["added"] == 2 and not report["failures"]
    assert report["skipped"]["StackExchange questions without an answer"] == 1
    assert report["skipped"]["StackExchange dump files other than Posts.xml (Users.xml is read with it)"] == 2


def test_stackexchange_users_file_alone_is_a_one_line_failure(tmp_path):
    users = tmp_path / "Users.xml"
    users.write_bytes((DUMP / "Users.xml").read_bytes())
    with pytest.raises(ParseError) as err:
        _read(users)
    assert "ingest the dump's Posts.xml" in str(err.value)


def test_stackexchange_detected_by_content_and_progress_counts_bytes(tmp_path):
    renamed = tmp_path / "export.xml"
    renamed.write_bytes((DUMP / "Posts.xml").read_bytes())
    head = renamed.read_bytes()[:65536]
    assert parsers.detect_binary(head, str(renamed)) == "stackexchange"
    assert parsers.detect_binary(b"<html><body>", "page.xml") is None
    assert parsers.detect_binary(b'{"question": 1}', "x.json") is None
    seen: list[int] = []
    with open(renamed, "rb") as fh:
        items = list(stackexchange.iter_parse_file(fh, str(renamed), {}, seen.append))
    assert sum(seen) == renamed.stat().st_size
    assert len(_entries(items)) == 2


def test_stackexchange_parse_of_text_and_bad_mode():
    text = (DUMP / "Posts.xml").read_text(encoding="utf-8")
    assert len(stackexchange.parse(text, "Posts.xml")) == 2
    assert stackexchange.detect(text, "x") >= parsers.SURE
    with pytest.raises(ParseError):
        list(stackexchange.iter_parse_file(io.BytesIO(text.encode()), "Posts.xml", {"answers": "most"}, None))


def test_stackexchange_generated_dump_pairs_every_answered_question(tmp_path):
    # The benchmark's generator writes some answers before their question, tag wikis and
    # unanswered questions; every count must come back out.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from stackexchange import generate  # bench/stackexchange.py

    folder = tmp_path / "synthetic.stackexchange.com"
    counts = generate(folder, 400_000, seed=3)
    items = _read(folder / "Posts.xml")
    entries = _entries(items)
    skipped = {i.reason: i.count for i in items if isinstance(i, Skipped)}
    assert len(entries) == counts["answered"]
    assert skipped.get("StackExchange questions without an answer", 0) == counts["questions"] - counts["answered"]
    assert (
        skipped.get("StackExchange posts that are neither questions nor answers (tag wikis, ...)", 0) == counts["wikis"]
    )
    assert all(e.expert is not None for e in entries)  # a Users.xml name or OwnerDisplayName each
    assert len({e.source.key for e in entries}) == len(entries)


def test_stackexchange_skipped_counts_read_right_in_the_summary(tmp_path):
    folder = tmp_path / "beekeeping.stackexchange.com"
    shutil.copytree(DUMP, folder)
    run = subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(tmp_path / "kb.json"), "ingest", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = [" ".join(line.split()) for line in run.stderr.splitlines()]
    assert "skipped StackExchange questions without an answer: 1" in lines
    assert "skipped StackExchange dump files other than Posts.xml (Users.xml is read with it): 1" in lines


def test_stackexchange_deleted_user_is_credited_by_the_name_the_dump_gives(tmp_path):
    posts = _dump(
        tmp_path / "dump",
        [
            _row(Id=1, PostTypeId=1, Title="Smoker fuel", Body="<p>What burns longest?</p>", Tags="|smoker|"),
            _row(Id=2, PostTypeId=2, ParentId=1, Score=4, Body="<p>Pine needles.</p>", OwnerDisplayName="old_keeper"),
            _row(Id=3, PostTypeId=1, Title="Wax", Body="<p>How do I clean wax?</p>", Tags="|wax|"),
            _row(Id=4, PostTypeId=2, ParentId=3, Score=1, Body="<p>Melt it.</p>", OwnerUserId=-1),
        ],
        users=[_row(Id=-1, DisplayName="Community"), _row(Id=7, DisplayName="Ines")],
    )
    entries = _entries(_read(posts))
    got = [(e.title, e.question, e.answer, e.tags, e.expert.name if e.expert else None) for e in entries]
    assert got == [
        ("Smoker fuel", "What burns longest?", "Pine needles.", ["smoker"], "old_keeper"),
        ("Wax", "How do I clean wax?", "Melt it.", ["wax"], "Community"),
    ]
