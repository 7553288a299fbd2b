"""Ingest's write path: the index fed by a second process or thread, and stored keys found
through the index plus the chunks it has not taken in yet (kb/ingest/pipeline.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from kb.api import KnowledgeBase
from kb.ingest import pipeline
from kb.ingest.pipeline import IndexLookup, IndexProcess, IndexThread
from kb.models import make_uid
from tests.conftest import make_entry


def _jsonl(path: Path, numbers, answer: str = "Answer {i}.") -> Path:
    path.write_bytes(
        b"".join(
            orjson.dumps({"id": f"rec-{i}", "question": f"Pipeline question {i}?", "answer": answer.format(i=i)})
            + b"\n"
            for i in numbers
        )
    )
    return path


@pytest.fixture
def feeders(monkeypatch) -> list[str]:
    """Record which feeder each ingest starts."""
    started: list[str] = []
    real_start = IndexProcess.start.__func__
    real_init = IndexThread.__init__

    def start(cls, index_path):
        started.append("process")
        return real_start(cls, index_path)

    def init(self, index_path):
        started.append("thread")
        real_init(self, index_path)

    monkeypatch.setattr(IndexProcess, "start", classmethod(start))
    monkeypatch.setattr(IndexThread, "__init__", init)
    return started


def _index_is_current(kb: KnowledgeBase) -> bool:
    return kb.backend._open_index().signature == kb.backend.store_version()


def test_bulk_ingest_feeds_a_second_process(tmp_path: Path, feeders: list[str]) -> None:
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    report = kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(2500)))], keep="counts")
    assert feeders == ["process"]
    assert report.counts == {"added": 2500, "updated": 0, "unchanged": 0, "duplicates": 0} and report.added == []
    assert _index_is_current(kb)
    assert kb.search("pipeline question 2499").hits[0].entry.answer == "Answer 2499."
    assert kb.count() == 2500


def test_bulk_ingest_counts_the_vocabulary_its_parsing_process_learned(tmp_path: Path, feeders: list[str]) -> None:
    # The abbreviations and aliases are learned where the batches are prepared (the parsing
    # process) and counted by the indexing one: the tables hold what a rebuild counts.
    answer = "A urinary tract infection (UTI) and ringing in the ears (tinnitus), number {i}."
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(2500), answer=answer))], keep="counts")
    assert feeders == ["process"]

    def tables() -> list[list[tuple[object, ...]]]:
        conn = kb.backend._open_index().conn
        return [conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("abbreviations", "aliases")]

    ingested = tables()
    assert ("uti", "urinary tract infection", 2500) in ingested[0]
    assert any(row[:2] == ("ringing ear", "tinnitu") and row[-1] == 2500 for row in ingested[1]), ingested[1]
    kb.reindex()
    assert tables() == ingested


def test_bulk_ingest_of_less_than_a_batch_uses_the_process_started_early(tmp_path: Path, feeders: list[str]) -> None:
    # The process starts once the input fills a chunk (1,000), before the first batch
    # (2,000) is full; an ingest that ends in between indexes through it all the same.
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    kb.ingest([str(_jsonl(tmp_path / "mid.jsonl", range(1500)))], keep="counts")
    assert feeders == ["process"]
    assert _index_is_current(kb) and kb.count() == 1500
    assert kb.search("pipeline question 1499").hits[0].entry.answer == "Answer 1499."


def test_a_thread_feed_starts_no_process_early(tmp_path: Path, feeders: list[str], monkeypatch) -> None:
    monkeypatch.setenv("KB_INDEX_FEED", "thread")
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(1500)))], keep="counts")
    assert feeders == ["thread"]
    assert _index_is_current(kb) and kb.count() == 1500


def test_small_ingest_feeds_a_thread(tmp_path: Path, feeders: list[str]) -> None:
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    kb.ingest([str(_jsonl(tmp_path / "few.jsonl", range(10)))])
    assert feeders == ["thread"]
    assert _index_is_current(kb) and kb.count() == 10


def test_twins_and_changes_across_chunks_are_found_before_the_index_has_them(tmp_path: Path) -> None:
    """Later chunks must see the earlier ones whether or not the index has caught up."""
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    records = [{"id": f"rec-{i}", "question": f"Pipeline question {i}?", "answer": f"Answer {i}."} for i in range(3000)]
    records[2600] = {"id": "rec-2600", "question": "Pipeline question 5?", "answer": "Answer 5."}  # a twin of 5
    path = tmp_path / "bulk.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    first = kb.ingest([str(path)], keep="brief")
    assert first.counts == {"added": 2999, "updated": 0, "unchanged": 0, "duplicates": 1}
    assert first.duplicates[0].id == 6 and first.duplicates[0].line == 2601
    # The same file changed in two records, one in the first chunk and one in the third:
    # each keeps its id.
    records[10]["answer"], records[2010]["answer"] = "Changed 10.", "Changed 2010."
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    second = kb.ingest([str(path)], keep="brief")
    # The twin of record 5 is a duplicate again, not a second "unchanged" (the store holds 2,999).
    assert second.counts == {"added": 0, "updated": 2, "unchanged": 2997, "duplicates": 1}
    assert sorted(b.id for b in second.updated) == [11, 2011]
    assert kb.get(11).answer == "Changed 10." and kb.count() == 2999
    assert _index_is_current(kb)


def test_index_lookup_prefers_newer_chunks_and_forgets_indexed_ones(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    stored = kb.add(make_entry(1))
    lookup = IndexLookup(kb.backend.index)
    new = make_entry(2)
    new.id = 7
    lookup.note_added(new)
    lookup.seal(1)
    replacement = make_entry(3)
    replacement.id = stored.id
    lookup.note_replaced(stored.uid, replacement)  # the stored entry's text changed
    lookup.seal(2)
    assert lookup.ids_for_uids([stored.uid, new.uid, replacement.uid]) == {new.uid: 7, replacement.uid: stored.id}
    lookup.forget_through(1)
    assert lookup.ids_for_uids([new.uid]) == {}  # "indexed" now, and the index does not have it
    lookup.forget_through(2)
    assert lookup.ids_for_uids([stored.uid]) == {stored.uid: stored.id}  # the index's view again


def test_index_process_error_leaves_the_store_whole(tmp_path: Path, monkeypatch) -> None:
    """The child cannot open the index: the ingest still stores everything, the index
    is left behind, and the next read rebuilds it."""
    real_start = IndexProcess.start.__func__
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the child's index folder would be")
    monkeypatch.setattr(
        IndexProcess, "start", classmethod(lambda cls, path: real_start(cls, blocker / "kb.index.sqlite"))
    )
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    report = kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(1500)))], keep="counts")
    assert report.counts["added"] == 1500 and not _index_is_current(kb)
    assert KnowledgeBase.open(tmp_path / "kb.json").search("pipeline question 1499").total >= 1


def test_index_process_killed_mid_ingest(tmp_path: Path, monkeypatch) -> None:
    real_put = IndexProcess.put

    def put_then_kill(self, entries, signature):
        seq = real_put(self, entries, signature)
        if seq == 2:
            self._proc.kill()
            self._proc.wait()
        return seq

    monkeypatch.setattr(IndexProcess, "put", put_then_kill)
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    report = kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(4000)))], keep="counts")
    assert report.counts["added"] == 4000
    fresh = KnowledgeBase.open(tmp_path / "kb.json")
    assert fresh.count() == 4000 and _index_is_current(fresh)


def test_index_process_bug_is_raised_not_hidden(tmp_path: Path, monkeypatch) -> None:
    """Anything but an index error in the child fails the ingest, as in the thread."""
    real_put = IndexProcess.put

    def put_garbage(self, entries, signature):
        seq = real_put(self, entries, signature)
        if seq == 1:
            pipeline._send(self._proc.stdin, b'[99, "not a prepared batch", null]')
            time.sleep(0.5)  # the child stops: later items meet a broken pipe
        return seq

    monkeypatch.setattr(IndexProcess, "put", put_garbage)
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    with pytest.raises(RuntimeError, match="indexing process failed"):
        kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(12_000)))])


def test_index_process_stops_when_the_ingest_dies(tmp_path: Path) -> None:
    """SIGKILL the ingest: its indexing child sees its input end, stops, claims nothing."""
    store = tmp_path / "kb.json"
    source = _jsonl(tmp_path / "big.jsonl", range(40_000), answer="Answer {i}: " + "words " * 60)
    env = dict(os.environ, KB_DB=str(store))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "ingest", "-q", str(source)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    children: list[int] = []
    deadline = time.monotonic() + 60
    while not children and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        children = [int(pid) for pid in found]
    assert children, "no indexing process was started"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(f"/proc/{children[0]}"):
        state = (
            Path(f"/proc/{children[0]}/stat").read_text().split()[2]
            if os.path.exists(f"/proc/{children[0]}/stat")
            else "X"
        )
        if state == "Z":
            break
        time.sleep(0.05)
    alive = (
        os.path.exists(f"/proc/{children[0]}/stat") and Path(f"/proc/{children[0]}/stat").read_text().split()[2] != "Z"
    )
    assert not alive, "the indexing process outlived the ingest"
    listed = subprocess.run(
        [sys.executable, "-m", "kb", "list", "--format", "ids", "--limit", "0"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert listed.returncode in (0, 1) and b"Traceback" not in listed.stderr
    kb = KnowledgeBase.open(store)
    entries = list(kb.backend.store.iter_entries())
    assert {int(x) for x in listed.stdout.split()} == {e.id for e in entries}
    assert {e.uid for e in entries} <= {
        make_uid(f"Pipeline question {i}?", f"Answer {i}: " + "words " * 60) for i in range(40_000)
    }


def _frames_to_child(tmp_path: Path, items: list[list], close_with_end: bool) -> tuple[list, Path]:
    """Write ``items`` to a real indexing process all at once (so they wait for it
    together), end its input, and return its answers and the index file."""
    from kb.search.writes import prepare

    index = tmp_path / "kb.index.sqlite"
    payload = b""
    for seq, numbers, signature in items:
        batch = None
        if numbers:
            entries = []
            for n in numbers:
                entry = make_entry(n)
                entry.id = n
                entries.append(entry)
            batch = prepare(entries).to_json()
        payload += _frame(orjson.dumps([seq, batch, signature]))
    if close_with_end:
        payload += _frame(orjson.dumps(["end"]))
    env = dict(os.environ, PYTHONPATH=str(Path(pipeline.__file__).resolve().parents[2]))
    done = subprocess.run(
        [sys.executable, "-m", "kb.ingest.pipeline", str(index)],
        input=payload,
        capture_output=True,
        env=env,
        timeout=60,
    )
    answers, rest = [], done.stdout
    while rest:
        size = int.from_bytes(rest[:4], "big")
        answers.append(orjson.loads(rest[4 : 4 + size]))
        rest = rest[4 + size :]
    return answers, index


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


def test_index_process_commits_waiting_chunks_together_up_to_a_store_version(tmp_path: Path) -> None:
    from kb.search.index import SearchIndex

    items = [[1, [1, 2], None], [2, [3, 4], None], [3, None, "v1"], [4, [5], None], [5, None, "v2"]]
    answers, index = _frames_to_child(tmp_path, items, close_with_end=True)
    assert answers[-1] == ["end", None]
    acked = [a[0] for a in answers[:-1]]
    assert acked == sorted(acked) and acked[-1] == 5  # every item is answered for, in order
    with SearchIndex(index) as opened:
        assert opened.signature == "v2" and opened.count() == 5


def test_index_process_never_claims_a_version_with_entries_past_it(tmp_path: Path) -> None:
    """Chunks sent after a store version, whose commit never came (the ingest died),
    may be indexed, but the index must not then claim that version: it is rebuilt."""
    from kb.search.index import SearchIndex

    items = [[1, [1, 2], None], [2, None, "v1"], [3, [3, 4], None]]
    answers, index = _frames_to_child(tmp_path, items, close_with_end=False)
    assert [a[0] for a in answers] in ([2, 3], [1, 2, 3])
    with SearchIndex(index) as opened:
        assert opened.signature != "v1"


def _sort_indexes(conn) -> set[str]:
    from kb.search.schema import SORT_INDEXES

    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return names & set(SORT_INDEXES)


def test_bulk_ingest_makes_the_sort_indexes_after_its_rows(tmp_path: Path, feeders: list[str]) -> None:
    from kb.search.schema import SORT_INDEXES

    kb = KnowledgeBase.open(tmp_path / "kb.json")
    kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(2500)))], keep="counts")
    assert feeders == ["process"]
    conn = kb.backend._open_index().conn
    assert _sort_indexes(conn) == set(SORT_INDEXES)
    assert conn.execute("SELECT value FROM meta WHERE key = 'sort_indexes'").fetchone() is None
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    titles = [e.title for e in kb.backend._open_index().list(sort="title", limit=3)]
    assert titles == sorted(titles) and len(titles) == 3
    # A second bulk ingest finds entries in the index: it keeps the sort indexes as they are.
    kb.ingest([str(_jsonl(tmp_path / "more.jsonl", range(2500, 5000)))], keep="counts")
    assert _sort_indexes(kb.backend._open_index().conn) == set(SORT_INDEXES) and kb.count() == 5000


def test_sort_indexes_a_stopped_bulk_write_left_out_are_made_by_the_next_write(tmp_path: Path) -> None:
    """An indexing process whose ingest died never makes the sort indexes it dropped:
    reads go on without them, and the next write, by anyone, makes them."""
    from kb.search.index import SearchIndex
    from kb.search.schema import SORT_INDEXES

    items = [[1, [3, 1, 2], None], [2, None, "v1"], [3, [4], None], [4, None, "v2"]]
    answers, index = _frames_to_child(tmp_path, items, close_with_end=False)
    assert answers[-1] == [4]
    with SearchIndex(index) as opened:
        assert _sort_indexes(opened.conn) == set()
        assert opened.signature == "v2"
        assert [e.id for e in opened.list(sort="title")] == [1, 2, 3, 4]
        assert [e.id for e in opened.list(category="general", sort="date", descending=True)] == [4, 3, 2, 1]
        extra = make_entry(5)
        extra.id = 5
        opened.upsert([extra], "v3")
        assert _sort_indexes(opened.conn) == set(SORT_INDEXES)
        assert opened.conn.execute("SELECT 1 FROM meta WHERE key = 'sort_indexes'").fetchone() is None
        assert opened.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert [e.id for e in opened.list(sort="title")] == [1, 2, 3, 4, 5]


def test_an_indexing_process_told_the_end_makes_the_sort_indexes(tmp_path: Path) -> None:
    from kb.search.index import SearchIndex
    from kb.search.schema import SORT_INDEXES

    answers, index = _frames_to_child(tmp_path, [[1, [1, 2], None], [2, None, "v1"]], close_with_end=True)
    assert answers[-1] == ["end", None]
    with SearchIndex(index) as opened:
        assert _sort_indexes(opened.conn) == set(SORT_INDEXES) and opened.signature == "v1"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_stale_wait_marker_neither_slows_nor_blocks_an_ingest(tmp_path: Path, monkeypatch) -> None:
    """A writer killed while it waited for the lock leaves its marker behind: an ingest
    that holds the lock across its batches must not take it for a live waiter."""
    monkeypatch.setenv("KB_BATCH_SIZE", "100")
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    marker = kb.backend.store.wait_marker_path
    assert marker is not None
    marker.write_bytes(str(_dead_pid()).encode())
    assert not kb.backend.store.writer_waiting()
    let_in: list[int] = []
    real_let_in = pipeline.BatchWriter._let_in
    monkeypatch.setattr(pipeline.BatchWriter, "_let_in", lambda self: let_in.append(1) or real_let_in(self))
    started = time.monotonic()
    report = kb.ingest([str(_jsonl(tmp_path / "bulk.jsonl", range(2500)))], keep="counts")
    assert time.monotonic() - started < 30
    assert report.counts["added"] == 2500 and kb.count() == 2500 and _index_is_current(kb)
    assert let_in == []  # the lock was kept from the first batch to the end


def test_a_wait_marker_counts_only_while_its_writer_lives_and_refreshes_it(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "kb.json")
    marker = kb.backend.store.wait_marker_path
    assert marker is not None and not kb.backend.store.writer_waiting()
    waiter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        marker.write_bytes(str(waiter.pid).encode())
        assert kb.backend.store.writer_waiting()
        old = time.time() - 60
        os.utime(marker, (old, old))  # no longer refreshed: its writer is stuck or gone
        assert not kb.backend.store.writer_waiting()
        marker.write_bytes(str(os.getpid()).encode())
        assert not kb.backend.store.writer_waiting()  # this process's own marker
    finally:
        waiter.kill()
        waiter.wait()
    marker.write_bytes(str(waiter.pid).encode())
    assert not kb.backend.store.writer_waiting()
    marker.write_bytes(b"garbage")
    assert not kb.backend.store.writer_waiting()
