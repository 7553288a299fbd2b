"""Ingest's write path: store batches, the search index fed alongside, stored keys looked up.

``BatchWriter`` applies parsed entries to the store in chunks and commits in batches;
each chunk goes at once to a feeder that indexes it while parsing goes on. A bulk ingest
feeds a second process (``IndexProcess``, run as ``python -m kb.ingest.pipeline INDEX``): a
thread would share the interpreter's lock with parsing, and measured on 16k entries
that cost the two ~20% of their time; a small ingest, which could not repay the
process's start-up, feeds a thread (``IndexThread``). ``IndexLookup`` answers "is this
uid (or this file's record) stored?" from the index plus the chunks it has not taken in
yet, so an ingest never holds the keys of the whole store.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kb import config
from kb.errors import KbError, SearchIndexError
from kb.models import Entry

if TYPE_CHECKING:
    from kb.ingest.sources import IngestReport
    from kb.search.index import SearchIndex
    from kb.search.writes import Prepared
    from kb.store.store import Store

# A commit writes the catalog and the shards still held (the last one partly filled),
# not the whole store, so batches stop doubling here: a crash loses at most this many.
MAX_BATCH = 16_384
# How often (seconds) an ingest holding the lock looks for another writer waiting for
# it, and how long it then leaves the lock free for that writer to take.
LOOK_EVERY = 0.02
LET_IN_FOR = 1.0


class IndexedStore(Protocol):
    """What the batch writer needs of the store it writes and the index it feeds
    (kb.files.paired.StoreWithIndex has it)."""

    @property
    def store(self) -> Store: ...

    @property
    def index_path(self) -> Path: ...

    def make_index_current(self) -> None:
        """Rebuild the index if it does not reflect the store (the caller holds the lock)."""
        ...

    def key_lookup(self) -> IndexLookup | None:
        """Stored uids and source records as the index has them (None: scan the store)."""
        ...

    def index_write_failed(self, exc: SearchIndexError) -> None:
        """The index could not follow a committed write: leave it to be rebuilt."""
        ...


class Feeder(Protocol):
    """Where a BatchWriter sends entries to be indexed (see IndexThread, IndexProcess)."""

    index_error: SearchIndexError | None

    @property
    def done(self) -> int: ...

    def put(self, entries: list[Entry], signature: str | None) -> int: ...

    def wait(self, seq: int) -> None: ...

    def stopped(self) -> bool: ...

    def close(self) -> None: ...


class BatchWriter:
    """Store batches that double in size, under a lock kept until another writer waits.

    Parsed entries wait in memory (no lock) until the first batch is full; then the
    store's lock is taken and kept: the batch is applied in chunks of CHUNK, each chunk
    sent at once to the feeder that indexes it, and the transaction committed, the feeder
    recording the store's new version once it has indexed the batch, while parsing goes
    on. When another writer waits for the lock (Store.writer_waiting), the open batch is
    committed, the feeder waited for, and the lock let go, so the waiter's `kb add` finds
    store and index in agreement and writes both as with no ingest running; later
    entries wait in memory again until a batch is full, and the next batch starts from
    what the waiter left. A crash loses at most the batch being written; an index that
    got ahead of the store (a crash inside a batch) is noticed by its version and
    rebuilt. A dry run applies everything in one transaction, under the lock from its
    first entries to its end, and rolls it back.
    """

    CHUNK = 1000

    def __init__(self, kb: IndexedStore, report: IngestReport, dry_run: bool) -> None:
        self.kb = kb
        self.store = kb.store
        self.report = report
        self.dry_run = dry_run
        # Entries in the first write batch (config.first_batch); later batches double.
        self.first_batch = config.first_batch()
        self.size = self.first_batch
        self.pending: list[Entry] = []
        self.in_transaction = 0
        # What an interrupted ingest has saved: the entries added and updated in the
        # batches committed, and those of the open batch until its commit is settled.
        self.added_in_batch = 0
        self.added_saved = 0
        self.updated_in_batch = 0
        self.updated_saved = 0
        self.open = False
        self.started = False
        self.feeder: Feeder | None = None
        self.lookup: IndexLookup | None = None
        # The store's last id before this ingest: an entry already stored under a later
        # id was added by this ingest (or by a small write made between its batches,
        # which is new to it too), so a record that matches it is a repeat.
        self.last_id_before: int | None = None
        # One bit per earlier id: the stored entries this ingest has met already, so that
        # a record matching one a second time is a repeat too, not "unchanged" (a bitmap:
        # 125 kB at a million ids, where a set of them would take tens of MB).
        self.met = bytearray()
        # The store's lock: a dry run's, held from its first entries to its end; an
        # ingest's, from its first batch until another writer waits (see _let_in).
        self._lock = ExitStack()
        self._holding = False
        # The feeder's item that records the last batch committed, and when add() next
        # looks for a writer waiting for the lock.
        self._signed = 0
        self._next_look = 0.0
        # An indexing process started before the first batch (see _start_early).
        self._early: IndexProcess | None = None

    def add(self, entry: Entry) -> None:
        self.pending.append(entry)
        if self.dry_run:
            if len(self.pending) >= min(self.CHUNK, self.size):
                self._apply(bulk=True)
        elif not self._holding:
            if len(self.pending) == self.CHUNK and not self.started:
                self._start_early()
            if len(self.pending) >= self.size:
                self._write_batch(bulk=True)
        else:
            if len(self.pending) >= min(self.CHUNK, self.size):
                self._apply(bulk=True)
                if self.in_transaction >= self.size:
                    self._end_batch(let_in=True)
                    return
            now = time.monotonic()
            if now >= self._next_look:
                # A few stats a second: another writer waiting ends the batch early.
                self._next_look = now + LOOK_EVERY
                if self.store.writer_waiting():
                    self._apply(bulk=True)
                    self._end_batch(let_in=True)

    def finish(self) -> None:
        try:
            if self.dry_run:
                self._apply(bulk=False)
                self.abandon()
            else:
                # A bulk ingest is one whose input fills a chunk (see _start).
                self._write_batch(bulk=len(self.pending) >= min(self.CHUNK, self.size), last=True)
            self._close_feeder()
        finally:
            self._release()

    def saved(self) -> int:
        """Return how many entries this ingest has committed (after ``abandon``)."""
        if self.dry_run:
            return 0
        return self.added_saved + self.updated_saved

    def abandon(self) -> None:
        try:
            if self.open:
                self.store.rollback()
                self.open = False
            self._close_feeder()
        finally:
            self._release()

    def _write_batch(self, bulk: bool, last: bool = False) -> None:
        """Write the pending entries as one batch, taking the lock first if it is not held
        (the first batch, or the first after another writer was let in)."""
        if not self.pending and not self.open:
            return
        if not self._holding:
            self._lock.enter_context(self.store.locked())
            self._holding = True
            if self.started and self.feeder is not None:
                # A small write let in between batches keeps the index current; if it
                # could not, the index is rebuilt before this batch looks keys up in it.
                try:
                    self.kb.make_index_current()
                except SearchIndexError as exc:
                    # An index that may lack a small write's entries cannot answer this
                    # batch's lookups: the store answers them, and the index is rebuilt
                    # on its next use.
                    self.kb.index_write_failed(exc)
                    self._close_feeder()
                    self.lookup = None
        entries, self.pending = self.pending, []
        for start in range(0, len(entries), self.CHUNK):
            self.pending = entries[start : start + self.CHUNK]
            self._apply(bulk)
        del entries
        self._end_batch(let_in=not last)

    def _end_batch(self, let_in: bool) -> None:
        """Commit the open batch; if another writer waits for the lock, let it in."""
        self._commit()
        self.size = min(self.size * 2, max(MAX_BATCH, self.first_batch))
        if let_in and self.store.writer_waiting():
            self._let_in()

    def _let_in(self) -> None:
        """Let a waiting writer have the lock: wait until the feeder has indexed every
        batch committed, so the index is current whenever the lock is free, release the
        lock, and give the waiter a moment to take it. The next batch takes it again."""
        if self.feeder is not None:
            self.feeder.wait(self._signed)
            if self.feeder.stopped():
                # The index stays at an older version, to be rebuilt on its next use; the
                # next batches look keys up in the store itself, since small writes may
                # change it between batches behind the chunks the lookup still holds.
                self._close_feeder()
                self.lookup = None
        self._release()
        deadline = time.monotonic() + LET_IN_FOR
        while self.store.writer_waiting() and time.monotonic() < deadline:
            time.sleep(0.005)

    def _release(self) -> None:
        self._holding = False
        self._lock.close()

    def _start(self, bulk: bool) -> None:
        """Make the index current and start its feeder (the caller holds the lock): a
        process when the input fills a chunk before it ends (a bulk ingest), else a thread."""
        if self.dry_run:
            self._lock.enter_context(self.store.locked())
        self.started = True
        if not self.dry_run:
            try:
                self.kb.make_index_current()
                feed = config.index_feed()  # "thread" or "process" (default: by the input's size)
                process = feed == "process" or (bulk and feed != "thread")
                early, self._early = self._early, None
                if early is not None and not process:
                    early.close()
                    early = None
                self.feeder = early or (IndexProcess.start(self.kb.index_path) if process else None)
                self.feeder = self.feeder or IndexThread(self.kb.index_path)
            except SearchIndexError as exc:
                self._close_early()
                self.kb.index_write_failed(exc)
        if self.dry_run or self.feeder is not None:
            self.lookup = self.kb.key_lookup()

    def _start_early(self) -> None:
        """Start the indexing process once the input fills a chunk (a bulk ingest), while
        the first batch is still being read: its start-up and imports then overlap with
        parsing instead of holding up the first chunk. It opens the index only when the
        first chunk comes, after ``_start`` has made the index current under the lock."""
        if self.dry_run or self._early is not None or config.index_feed() == "thread":
            return
        self._early = IndexProcess.start(self.kb.index_path)

    def _close_early(self) -> None:
        early, self._early = self._early, None
        if early is not None:
            early.close()

    def _apply(self, bulk: bool) -> None:
        if not self.pending:
            return
        if not self.started:
            self._start(bulk)
        if not self.open:
            self.store.begin()
            self.open = True
            if self.last_id_before is None:
                self.last_id_before = self.store.last_id()
        lookup = self.lookup
        if lookup is not None and self.feeder is not None:
            lookup.forget_through(self.feeder.done)
        result = self.store.apply(self.pending, lookup=lookup)
        self.pending = []
        self.in_transaction += len(result.added) + len(result.updated) + len(result.unchanged)
        changed = result.added + result.updated
        self.added_in_batch += len(result.added)
        self.updated_in_batch += len(result.updated)
        for entry in changed + result.unchanged:
            # The store's shard holds the original text now; the report and the index
            # queue need not keep it for the rest of a long ingest.
            entry.raw = None
        before = self.last_id_before or 0
        for entry in result.updated:
            self._meet(entry.id)
        repeats: list[Entry] = []
        unchanged: list[Entry] = []
        for entry in result.unchanged:
            repeat = entry.id is not None and (entry.id > before or self._meet(entry.id))
            (repeats if repeat else unchanged).append(entry)
        self.report.record(result.added, result.updated, unchanged, repeats)
        if self.feeder is not None and changed:
            seq = self.feeder.put(changed, None)
            if lookup is not None:
                lookup.seal(seq)

    def _meet(self, entry_id: int | None) -> bool:
        """Note that this ingest met stored entry ``entry_id``; return whether it had already."""
        if entry_id is None:
            return False
        byte, bit = divmod(entry_id, 8)
        if byte >= len(self.met):
            self.met.extend(bytes(byte + 1 - len(self.met)))
        met = bool(self.met[byte] & (1 << bit))
        self.met[byte] |= 1 << bit
        return met

    def _commit(self) -> None:
        """Commit the open batch (the lock stays held) and send the store's new version
        to the feeder, to record once it has indexed the batch."""
        if not self.open:
            return
        self.open = False
        before = self.store.signature()
        try:
            self.store.commit()
        except BaseException:
            # Interrupted inside the commit: the lock is still held, so the store's
            # version tells on which side of the catalog's replacement it stopped.
            try:
                if self.store.signature() != before:
                    self._count_batch()
            except KbError:
                pass
            raise
        self._count_batch()
        self.in_transaction = 0
        if self.feeder is not None:
            # The feeder records the version once it has indexed the batch; the ingest
            # goes on parsing meanwhile, and waits for it only to let another writer in.
            self._signed = self.feeder.put([], self.store.signature())

    def _count_batch(self) -> None:
        self.added_saved += self.added_in_batch
        self.updated_saved += self.updated_in_batch
        self.added_in_batch = self.updated_in_batch = 0

    def _close_feeder(self) -> None:
        self._close_early()
        feeder, self.feeder = self.feeder, None
        if feeder is not None:
            feeder.close()
            if feeder.index_error is not None:
                self.kb.index_write_failed(feeder.index_error)


class IndexLookup:
    """The store's keys (uids, source records) as the index has them, plus recent changes.

    A write notes what it changed (``note_*``) in the open chunk; ``seal(seq)`` closes
    the chunk once it is queued for the index as item ``seq``, and
    ``forget_through(seq)`` drops the chunks the index has taken in. A lookup asks the
    chunks, newest first, then the index: so an ingest holds the keys of the chunks in
    flight (a few thousand), not of the whole store.
    """

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.chunks: list[tuple[int | None, _Changes]] = []
        self.open = _Changes()

    def seal(self, seq: int | None) -> None:
        if self.open.uids or self.open.dead or self.open.sources:
            self.chunks.append((seq, self.open))
            self.open = _Changes()

    def forget_through(self, seq: int) -> None:
        self.chunks = [(s, c) for s, c in self.chunks if s is None or s > seq]

    def _newest_first(self) -> Iterator[_Changes]:
        yield self.open
        for _seq, changes in reversed(self.chunks):
            yield changes

    def ids_for_uids(self, uids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        settled: set[str] = set()
        for changes in self._newest_first():
            for uid in uids:
                if uid in settled:
                    continue
                if uid in changes.uids:
                    found[uid] = changes.uids[uid]
                    settled.add(uid)
                elif uid in changes.dead:
                    settled.add(uid)
        rest = [uid for uid in uids if uid not in settled]
        if rest:
            found.update(self.index.ids_for_uids(rest))
        return found

    def ids_for_sources(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for changes in self._newest_first():
            for key in keys:
                if key not in found and key in changes.sources:
                    found[key] = changes.sources[key]
        rest = [key for key in keys if key not in found]
        if rest:
            found.update(self.index.ids_for_sources(rest))
        return found

    def note_added(self, entry: Entry) -> None:
        from kb.store.lookup import source_key

        self.open.uids[entry.uid] = entry.stored_id()
        self.open.dead.discard(entry.uid)
        if src := source_key(entry):
            self.open.sources[src] = entry.stored_id()

    def note_replaced(self, old_uid: str, entry: Entry) -> None:
        self.open.uids.pop(old_uid, None)
        self.open.dead.add(old_uid)
        self.note_added(entry)

    def note_removed(self, uid: str) -> None:
        self.open.uids.pop(uid, None)
        self.open.dead.add(uid)


class _Changes:
    """One chunk's changes to the store's keys (see IndexLookup)."""

    __slots__ = ("dead", "sources", "uids")

    def __init__(self) -> None:
        self.uids: dict[str, int] = {}
        self.dead: set[str] = set()
        self.sources: dict[tuple[str, str], int] = {}


# -- feeding the index ---------------------------------------------------------------------


class _Indexer:
    """What a feeder does with each item, in whichever thread or process it runs.

    Items come in order: entries (with no version), then the store version a commit
    reached; if the process dies in between, the version check rebuilds the index.
    After the last item the vocabularies are refreshed, once (a refresh reads the whole
    index). A SearchIndexError stops the indexing but not the ingest: the store holds
    the batches, and the index, left at an older version, is rebuilt on next use.
    """

    def __init__(self, index_path: str | os.PathLike[str]) -> None:
        self.index_path = index_path
        self.index: SearchIndex | None = None
        self.failed: SearchIndexError | None = None
        # Whether a group of prepared batches (a bulk ingest's) has come (see take_group).
        self.bulk = False

    def _open(self) -> SearchIndex:
        from kb.search.index import SearchIndex

        return SearchIndex(self.index_path)

    def take(self, entries: list[Entry] | Prepared, signature: str | None) -> bool:
        """Index one item (entries, or a batch prepared from them); return False once
        indexing has failed."""
        if self.failed is not None:
            return False
        from kb.search.writes import Prepared

        try:
            self.index = self.index or self._open()
            if isinstance(entries, Prepared):
                self.index.upsert_prepared([entries], signature, refresh=False)
            elif entries:
                self.index.upsert(entries, signature, refresh=False)
            elif signature is not None:
                self.index.set_signature(signature)
        except SearchIndexError as exc:
            self.failed = exc
            return False
        return True

    def take_group(self, batches: list[Prepared], signature: str | None) -> bool:
        """Index several prepared batches in one transaction, then record ``signature``
        (the store version they reach) if there is one: one commit instead of one per
        batch, which costs FTS5 a segment flush each time. Return False once indexing
        has failed."""
        if not batches:
            return self.take([], signature)
        if self.failed is not None:
            return False
        try:
            self.index = self.index or self._open()
            if not self.bulk:
                # The first group of a bulk write: into an empty index, the sort indexes
                # are made once the last group is in (SearchIndex.defer_sort_indexes).
                self.bulk = True
                self.index.defer_sort_indexes()
            self.index.for_bulk_writes()
            self.index.upsert_prepared(batches, signature, refresh=False)
        except SearchIndexError as exc:
            self.failed = exc
            return False
        return True

    def finish(self) -> None:
        if self.index is None:
            return
        try:
            if self.failed is None:
                if self.bulk:
                    self.index.make_sort_indexes()
                self.index.refresh_vocabulary()
        except SearchIndexError as exc:
            self.failed = exc
        self.index.close()


class IndexThread:
    """Feed the index from a second thread (small ingests, and where no process can start).

    SQLite releases the interpreter's lock while it works, so indexing overlaps with
    parsing; the Python around it does not.
    """

    def __init__(self, index_path: Path) -> None:
        import queue
        import threading

        self._queue: queue.Queue[tuple[int, list[Entry], str | None] | None] = queue.Queue(maxsize=4)
        self._indexer = _Indexer(index_path)
        self._error: BaseException | None = None
        self.index_error: SearchIndexError | None = None
        self._seq = 0
        self.done = 0
        # The last item dealt with, indexed or not (after a failure nothing more is written).
        self._handled = 0
        self._thread = threading.Thread(target=self._run, name="kb-index", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            seq, entries, signature = item
            if self._error is not None:
                self._handled = seq
                continue
            try:
                if self._indexer.take(entries, signature):
                    self.done = seq
            except BaseException as exc:
                self._error = exc
            self._handled = seq
        if self._error is None:
            self._indexer.finish()
        self.index_error = self._indexer.failed

    def put(self, entries: list[Entry], signature: str | None) -> int:
        """Queue entries (or a store version) for the index; return the item's number."""
        if self._error is not None:
            raise self._error
        self._seq += 1
        self._queue.put((self._seq, entries, signature))
        return self._seq

    def wait(self, seq: int) -> None:
        """Return once item ``seq`` has been dealt with (or the thread has stopped)."""
        _wait_for(lambda: self._handled >= seq or not self._thread.is_alive())

    def stopped(self) -> bool:
        """Whether indexing has stopped (failed, or the thread is gone)."""
        return self._handled > self.done or not self._thread.is_alive()

    def close(self) -> None:
        """Wait for the queued items; raise what the thread raised, if anything but an
        index error (see StoreWithIndex.index_write_failed)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


# Frames on the pipes: a 4-byte big-endian length, then that many bytes of JSON.
# The indexing process commits the chunks waiting for it together, up to this many: a
# commit costs FTS5 a segment flush, and one per chunk was about a quarter of its time.
GROUP = 8
_FRAME = struct.Struct(">I")


def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds: the feeders' answers come from their own thread."""
    pause = 0.0005
    while not condition():
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _send(stream: Any, payload: bytes) -> None:
    stream.write(_FRAME.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: Any) -> bytes | None:
    """Return the next frame, or None at the end of the stream."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    size = _FRAME.unpack(head)[0]
    body = stream.read(size)
    return body if len(body) == size else None


class IndexProcess:
    """Feed the index from a second process: ``python -m kb.ingest.pipeline INDEX``.

    Each item goes down the child's stdin as one frame (``[seq, prepared rows or null,
    signature]``, see kb.search.writes.Prepared), and ``["end"]`` after the last; the child
    answers on stdout with ``[seq]`` as each item is committed to the index (``[seq, false]``
    once indexing has failed and the item was dropped), and with ``["end", error or null]``
    once it has refreshed the vocabularies. A thread here reads the answers, so ``done``
    is current without asking. The child ignores Ctrl-C (the ingest decides
    what an interrupt means); if this process dies, the child's input ends without
    ``["end"]``, and it stops after the item in hand, claiming nothing.
    """

    def __init__(self, proc: Any) -> None:
        import threading

        self._proc = proc
        self._seq = 0
        self.done = 0
        self._handled = 0  # as IndexThread's
        self.index_error: SearchIndexError | None = None
        self._ended: list[Any] | None = None
        self._reader = threading.Thread(target=self._read_answers, name="kb-index-answers", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, index_path: Path) -> IndexProcess | None:
        """Start the child; None when no process can be started here (the caller then
        uses a thread)."""
        import subprocess

        import kb

        env = dict(os.environ)
        # The child imports this same kb, however the parent found it.
        root = str(Path(kb.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kb.ingest.pipeline", str(index_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except OSError:
            return None
        return cls(proc)

    def _read_answers(self) -> None:
        import orjson

        while (frame := _receive(self._proc.stdout)) is not None:
            answer = orjson.loads(frame)
            if answer and answer[0] == "end":
                self._ended = answer
                return
            if len(answer) == 1:
                self.done = answer[0]
            self._handled = answer[0]

    def put(self, entries: list[Entry], signature: str | None) -> int:
        import orjson

        from kb.search.writes import prepare

        self._seq += 1
        if self.index_error is None:
            # The rows are built here, where parsing leaves time to spare in a JSON Lines
            # ingest, rather than in the child, which indexing keeps busy.
            batch = prepare(entries).to_json() if entries else None
            payload = orjson.dumps([self._seq, batch, signature])
            try:
                _send(self._proc.stdin, payload)
            except OSError:
                self._lost()
        return self._seq

    def wait(self, seq: int) -> None:
        """Return once the child has dealt with item ``seq`` (or has gone, or the pipe has)."""
        _wait_for(lambda: self._handled >= seq or self.index_error is not None or not self._reader.is_alive())

    def stopped(self) -> bool:
        """Whether indexing has stopped (failed, or the child or its pipe is gone)."""
        return self._handled > self.done or self.index_error is not None or not self._reader.is_alive()

    def close(self) -> None:
        """Say the input is complete, wait for the child's last answer, and take its
        verdict: an index error is kept for StoreWithIndex.index_write_failed; anything else
        the child raised is raised here, as the thread feeder would."""
        import orjson

        try:
            if self.index_error is None:
                _send(self._proc.stdin, orjson.dumps(["end"]))
            self._proc.stdin.close()
        except OSError:
            pass
        self._reader.join()
        code = self._proc.wait()
        # The child's own word comes first: a child that stopped on a bug also broke the
        # pipe for the items sent after, and that must not pass for a lost index.
        verdict = self._ended[1] if self._ended is not None else None
        if verdict and verdict["kind"] == "index":
            self.index_error = SearchIndexError(verdict["message"])
            self.index_error.corrupt = verdict["corrupt"]
        elif verdict:
            raise RuntimeError(f"the indexing process failed:\n{verdict['message']}")
        elif self._ended is None and self.index_error is None:
            self._lost(code)

    def _lost(self, code: int | None = None) -> None:
        why = f" (exit code {code})" if code else ""
        self.index_error = SearchIndexError(f"the indexing process ended before the ingest did{why}")


def _serve(index_path: str) -> int:
    """The child's side of IndexProcess: index frames from stdin until the parent says
    it is done (then refresh the vocabularies) or goes away (then just stop)."""
    import queue
    import signal
    import threading
    import traceback

    import orjson

    from kb.search.writes import Prepared

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = sys.stdout.buffer
    # A reader thread takes frames off the pipe as they come, so the parent can send the
    # next chunks while this one is indexed.
    frames: queue.Queue[bytes | None] = queue.Queue(maxsize=4)

    def read() -> None:
        source = sys.stdin.buffer
        while (frame := _receive(source)) is not None:
            frames.put(frame)
        frames.put(None)

    def take(frame: bytes | None) -> list[Any] | None:
        return None if frame is None else orjson.loads(frame)

    threading.Thread(target=read, name="kb-index-input", daemon=True).start()
    # Imported while the first chunk is on its way rather than after it has come.
    import kb.search.index  # noqa: F401

    indexer = _Indexer(index_path)
    waiting: list[list[Any] | None] = []  # an item taken off the queue but not yet used
    try:
        while True:
            item = waiting.pop() if waiting else take(frames.get())
            if item is None:
                return 0  # the input ended without "end": the parent died, and nothing is claimed
            if item == ["end"]:
                indexer.finish()
                failed = indexer.failed
                error = {"kind": "index", "message": str(failed), "corrupt": bool(failed.corrupt)} if failed else None
                _send(answers, orjson.dumps(["end", error]))
                return 0
            # The items already waiting join this one's transaction, up to the first store
            # version among them: the index may claim a version only with nothing past it.
            seq, batch, signature = item
            batches = [Prepared.from_json(batch)] if batch else []
            while signature is None and len(batches) < GROUP:
                try:
                    item = take(frames.get_nowait())
                except queue.Empty:
                    break
                if item is None or item == ["end"]:
                    waiting.append(item)
                    break
                seq, batch, signature = item
                if batch:
                    batches.append(Prepared.from_json(batch))
            # [seq] once indexed; [seq, false] once indexing has failed (nothing more is
            # written, so the parent need not wait for this item).
            _send(answers, orjson.dumps([seq] if indexer.take_group(batches, signature) else [seq, False]))
    except BrokenPipeError:
        return 0  # the parent is gone
    except BaseException:
        _send(answers, orjson.dumps(["end", {"kind": "error", "message": traceback.format_exc()}]))
        return 1


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))
