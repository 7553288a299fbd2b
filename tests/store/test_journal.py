"""Small writes through the store's journal: kept, replayed, compacted, and crash-safe."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from kb.api import KnowledgeBase
from kb.errors import StoreError
from kb.models import Expert
from kb.store import journal
from kb.store.shards import parse_document
from kb.store.store import Store, read_whole
from tests.conftest import make_entry, run_kb


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    base = KnowledgeBase.open(tmp_path / "kb.json")
    base.add_many([make_entry(i) for i in range(1, 4)])  # no base yet: a full write
    assert (tmp_path / "kb.json").exists()
    assert not journal.journal_path(tmp_path / "kb.json").exists()
    return base


def stored(path: Path) -> dict:
    return read_whole(path)


def test_journal_add_appends_and_leaves_base_alone(kb: KnowledgeBase) -> None:
    before = kb.backend.path.stat()
    entry = kb.add(make_entry(10, expert=Expert(name="New Person", awards="Prize")))
    after = kb.backend.path.stat()
    assert (before.st_ino, before.st_size) == (after.st_ino, after.st_size)
    assert journal.journal_path(kb.backend.path).stat().st_size > 0
    data = stored(kb.backend.path)
    assert data["entries"][str(entry.id)]["uid"] == entry.uid
    assert any(doc["name"] == "New Person" and doc["awards"] == "Prize" for doc in data["experts"].values())
    assert data["meta"]["1"]["last_id"] == entry.id
    # The index follows, and a fresh process sees the same thing.
    assert kb.get(entry.id).expert.awards == "Prize"
    assert KnowledgeBase.open(kb.backend.path).search("Question number 10").hits[0].entry.id == entry.id


def test_journal_update_keeps_raw_and_created_at(kb: KnowledgeBase) -> None:
    raw_entry = make_entry(20)
    raw_entry.raw = "Q: original\nA: text\n"
    with kb.backend.store.locked():
        with kb.backend.store.transaction():
            kb.backend.store.apply([raw_entry])  # a full write with raw text, as ingest does
    kb.backend.rebuild_index()
    created = kb.get(raw_entry.id).created_at
    updated = kb.update(raw_entry.id, answer="A rewritten answer.")
    assert journal.journal_path(kb.backend.path).exists()
    assert kb.raw(raw_entry.id) == "Q: original\nA: text\n"
    assert kb.get(raw_entry.id).answer == "A rewritten answer."
    assert kb.get(raw_entry.id).created_at == created
    assert Store(kb.backend.path).get(raw_entry.id).uid == updated.uid


def test_journal_remove_and_ids_never_reused(kb: KnowledgeBase) -> None:
    top = kb.add(make_entry(30))
    assert [e.id for e in kb.remove(top.id)] == [top.id]
    assert str(top.id) not in stored(kb.backend.path)["entries"]
    again = kb.add(make_entry(31))
    assert again.id == top.id + 1
    fresh = KnowledgeBase.open(kb.backend.path)
    fresh.reindex()
    assert fresh.add(make_entry(32)).id == top.id + 2


def test_journal_duplicate_is_found_through_the_index(kb: KnowledgeBase) -> None:
    added, dups = kb.add_many([make_entry(1), make_entry(40), make_entry(40)])
    assert [e.id for e in dups] == [1, added[0].id]
    assert len(added) == 1


def test_journal_full_write_compacts(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.add(make_entry(50))
    assert journal.journal_path(kb.backend.path).exists()
    faq = tmp_path / "faq.txt"
    faq.write_text("Q: compaction?\nA: folds the journal into the base.\n")
    kb.ingest([str(faq)])
    assert not journal.journal_path(kb.backend.path).exists()
    # The folded writes are in the shard files the catalog names, not in a journal.
    shards = [
        parse_document((kb.backend.store.shard_folder / doc["file"]).read_bytes())
        for doc in orjson.loads(kb.backend.path.read_bytes())["shards"].values()
    ]
    assert sum(len(shard["entries"]) for shard in shards) == 5


def test_journal_over_its_share_triggers_a_full_write(kb: KnowledgeBase, monkeypatch) -> None:
    monkeypatch.setattr(journal, "MIN_COMPACT", 10)
    kb.add(make_entry(60))  # the journal is empty: this one is journalled
    assert journal.journal_path(kb.backend.path).exists()
    monkeypatch.setattr(journal, "COMPACT_SHARE", 0.0)
    kb.add(make_entry(61))  # now over its share: a full rewrite folds it in
    assert not journal.journal_path(kb.backend.path).exists()
    assert len(stored(kb.backend.path)["entries"]) == 5


def test_journal_torn_last_line_is_ignored_then_cut(kb: KnowledgeBase) -> None:
    kb.add(make_entry(70))
    path = journal.journal_path(kb.backend.path)
    whole = path.read_bytes()
    torn = b'{"ops": [["entries", "999", {"uid": "x"'
    path.write_bytes(whole + torn)  # a crash mid-append
    assert "999" not in stored(kb.backend.path)["entries"]
    entry = KnowledgeBase.open(kb.backend.path).add(make_entry(71))
    assert path.read_bytes().startswith(whole)
    # The torn line itself is gone (not "999" anywhere: the journal's header names the
    # store file by a token of digits, which may hold it).
    assert torn not in path.read_bytes() and path.read_bytes().endswith(b"\n")
    assert str(entry.id) in stored(kb.backend.path)["entries"]


def test_journal_damaged_whole_line_refuses_and_keeps_files(kb: KnowledgeBase) -> None:
    kb.add(make_entry(80))
    path = journal.journal_path(kb.backend.path)
    damaged = path.read_bytes() + b"this is not json\n"
    path.write_bytes(damaged)
    base = kb.backend.path.read_bytes()
    with pytest.raises(StoreError, match="journal line 3 is damaged"):
        read_whole(kb.backend.path)
    proc = run_kb("--db", str(kb.backend.path), "ingest", "-q", "-", input=b'{"question": "q?", "answer": "a"}')
    assert proc.returncode == 3
    assert b"journal line 3 is damaged" in proc.stderr and b"Traceback" not in proc.stderr
    assert path.read_bytes() == damaged and kb.backend.path.read_bytes() == base


def test_journal_of_an_older_base_is_ignored(kb: KnowledgeBase) -> None:
    kb.add(make_entry(90))
    path = journal.journal_path(kb.backend.path)
    old_journal = path.read_bytes()
    with kb.backend.store.locked(), kb.backend.store.transaction():
        kb.backend.store.apply([make_entry(91)])  # a full write: new base, journal dropped
    path.write_bytes(old_journal)  # as if the crash came between rename and unlink
    data = stored(kb.backend.path)
    assert len(data["entries"]) == 5  # the stale journal's entry is already in the base
    assert KnowledgeBase.open(kb.backend.path).count() == 5


def test_journal_cli_add_and_remove_round(tmp_path: Path) -> None:
    db = tmp_path / "kb.json"
    env = {"KB_DB": str(db)}
    first = run_kb("add", "-Q", "First question?", "-a", "First answer.", env=env)
    second = run_kb("add", "-Q", "Second question?", "-a", "Second answer.", env=env)
    assert first.returncode == second.returncode == 0, second.stderr
    assert journal.journal_path(db).exists()
    gone = run_kb("remove", "--yes", first.stdout.decode().strip(), env=env)
    assert gone.returncode == 0, gone.stderr
    listed = run_kb("list", "--format", "ids", env=env)
    assert listed.stdout.split() == [second.stdout.strip()]
    assert os.stat(db).st_mode & 0o777 == 0o600
    assert journal.journal_path(db).stat().st_mode & 0o777 == 0o600


def test_journal_failed_append_leaves_it_as_it_was(kb: KnowledgeBase, monkeypatch) -> None:
    import errno

    real_write = os.write

    def full_disk(fd: int, data) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))  # part of the line lands, then no space
        raise OSError(errno.ENOSPC, "No space left on device")

    path = journal.journal_path(kb.backend.path)
    signature = kb.backend.store_version()
    monkeypatch.setattr(journal.os, "write", full_disk)
    with pytest.raises(StoreError, match="No space left"):
        kb.add(make_entry(100))
    assert not path.exists() and kb.backend.store_version() == signature  # no empty journal left behind
    monkeypatch.setattr(journal.os, "write", real_write)
    kb.add(make_entry(101))
    before = path.read_bytes()
    monkeypatch.setattr(journal.os, "write", full_disk)
    with pytest.raises(StoreError):
        kb.add(make_entry(102))
    assert path.read_bytes() == before
    monkeypatch.setattr(journal.os, "write", real_write)
    assert [e.question for e in kb.list()][-1] == make_entry(101).question


def _ids(db: Path) -> list[str]:
    listed = run_kb("--db", str(db), "list", "--format", "ids")
    assert listed.returncode in (0, 1), listed.stderr
    return listed.stdout.decode().split()


def _journalled_store(db: Path) -> list[str]:
    """A store whose last writes (two adds, a remove) are in the journal only; its ids."""
    stdin = b"".join(b'{"question": "Question %d?", "answer": "Answer %d."}\n' % (i, i) for i in range(3))
    assert run_kb("--db", str(db), "ingest", "-q", "-F", "jsonl", "-", input=stdin).returncode == 0
    for i in (3, 4):
        added = run_kb("--db", str(db), "add", "-Q", f"Question {i}?", "-a", f"Answer {i}.")
        assert added.returncode == 0, added.stderr
    assert run_kb("--db", str(db), "remove", "--yes", "2").returncode == 0
    assert journal.journal_path(db).exists()
    return _ids(db)


def test_journal_survives_a_copy_of_the_store(tmp_path: Path) -> None:
    import subprocess

    db = tmp_path / "store" / "kb.json"
    db.parent.mkdir()
    ids = _journalled_store(db)
    assert ids == ["1", "3", "4", "5"]
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(db.parent), str(copy)], check=True)
    copied = copy / "kb.json"
    assert _ids(copied) == ids
    doctor = run_kb("--db", str(copied), "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    # The next write on the copy takes a new id and keeps every earlier write.
    added = run_kb("--db", str(copied), "add", "-Q", "Question 9?", "-a", "Answer 9.")
    assert added.stdout.strip() == b"6"
    assert _ids(copied) == [*ids, "6"]


def test_journal_survives_touch_of_the_catalog(tmp_path: Path) -> None:
    db = tmp_path / "kb.json"
    ids = _journalled_store(db)
    later = db.stat().st_mtime_ns + 5_000_000_000
    os.utime(db, ns=(later, later))
    assert _ids(db) == ids
    assert run_kb("--db", str(db), "add", "-Q", "Question 9?", "-a", "Answer 9.").stdout.strip() == b"6"


def test_journal_that_does_not_belong_is_kept_aside_and_named(tmp_path: Path) -> None:
    db = tmp_path / "kb.json"
    _journalled_store(db)
    other = tmp_path / "other.json"
    _journalled_store(other)
    # A journal from another store's history lands beside this catalog (a sync folder
    # mixing two versions): kb does not read it, and never drops it.
    foreign = journal.journal_path(other).read_bytes()
    journal.journal_path(db).write_bytes(foreign)
    assert _ids(db) == ["1", "2", "3"]
    doctor = run_kb("--db", str(db), "doctor", "--json")
    assert doctor.returncode == 1
    found = [f for f in orjson.loads(doctor.stdout)["findings"] if f["check"] == "journal"]
    assert found[0]["status"] == "problem" and "does not belong" in found[0]["detail"]
    assert "ids 4, 5" in found[0]["detail"] and "removed: ids 2" in found[0]["detail"]
    added = run_kb("--db", str(db), "add", "-Q", "Question 9?", "-a", "Answer 9.")
    assert added.returncode == 0, added.stderr
    aside = journal.kept_aside(db)
    assert len(aside) == 1 and aside[0].read_bytes() == foreign
    doctor = run_kb("--db", str(db), "doctor", "--json")
    named = [f["detail"] for f in orjson.loads(doctor.stdout)["findings"] if f["check"] == "journal"]
    assert any(aside[0].name in d and "ids 4, 5" in d for d in named)


def test_journal_of_a_catalog_before_tokens_still_applies(kb: KnowledgeBase) -> None:
    """A journal written by an earlier kb names the catalog's inode, size and mtime."""
    kb.add(make_entry(30))
    path = journal.journal_path(kb.backend.path)
    lines = path.read_bytes().split(b"\n")
    old_head = {"kb_journal": 1, "base": journal.base_version(kb.backend.path.stat())}
    path.write_bytes(orjson.dumps(old_head) + b"\n" + b"\n".join(lines[1:]))
    assert len(stored(kb.backend.path)["entries"]) == 4
    KnowledgeBase.open(kb.backend.path).add(make_entry(31))  # appends, rebinding it to the token
    assert len(stored(kb.backend.path)["entries"]) == 5
    assert orjson.loads(path.read_bytes().split(b"\n")[0])["kb_journal"] == journal.VERSION
