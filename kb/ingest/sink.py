"""Ingest's entries in batches to a backend's IngestSink (kb.backend), with the report kept.

The files backend has its own writer (kb.ingest.pipeline's, which feeds the index while
parsing goes on); any other backend takes its batches through ``ingest_sink()`` and this
writer: batches that double in size as the files backend's do, each committed on its
own, and each batch's outcome recorded in the report the same way.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from kb import config
from kb.ingest.pipeline import MAX_BATCH

if TYPE_CHECKING:
    from kb.backend import IngestSink
    from kb.ingest.sources import IngestReport
    from kb.models import Entry


class _Abandoned(Exception):
    """Thrown into a sink's with block when its ingest stops: the open batch is dropped."""


class SinkWriter:
    """One ingest's entries to a sink (kb.backend.EntryWriter): buffered, written in batches."""

    def __init__(self, sink: AbstractContextManager[IngestSink], report: IngestReport, *, dry_run: bool) -> None:
        self._context = sink
        self._sink: IngestSink | None = None
        self.report = report
        self.dry_run = dry_run
        self.size = config.first_batch()
        self.pending: list[Entry] = []
        # Stored ids this ingest has written or met: a record matching one again is a
        # repeat within the input, not an entry stored before it.
        self._met: set[int] = set()

    def add(self, entry: Entry) -> None:
        self.pending.append(entry)
        if len(self.pending) >= self.size:
            self._write()
            self.size = min(self.size * 2, MAX_BATCH)

    def finish(self) -> None:
        self._write()
        if self._sink is not None:
            self._sink = None
            self._context.__exit__(None, None, None)

    def abandon(self) -> None:
        self.pending = []
        if self._sink is not None:
            self._sink = None
            self._context.__exit__(_Abandoned, _Abandoned(), None)

    def saved(self) -> int:
        # Each batch the sink took is committed (a dry run's are all rolled back).
        return 0 if self.dry_run else self.report.counts["added"] + self.report.counts["updated"]

    def _write(self) -> None:
        if not self.pending:
            return
        if self._sink is None:
            self._sink = self._context.__enter__()
        batch, self.pending = self.pending, []
        result = self._sink.write(batch)
        for entry in result.added + result.updated + result.unchanged:
            # The store holds the original text now; the report need not keep it.
            entry.raw = None
        repeats = [e for e in result.unchanged if e.id in self._met]
        unchanged = [e for e in result.unchanged if e.id not in self._met]
        self._met.update(e.stored_id() for e in result.added + result.updated + result.unchanged)
        self.report.record(result.added, result.updated, unchanged, repeats)
