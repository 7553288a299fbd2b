"""One ingest from start to end: inputs read in order, entries written in batches.

``KnowledgeBase.ingest`` (kb.api) is the way in and documents the behaviour; this is its
loop: each path expanded and read (kb.ingest.sources), each entry handed to the
backend's writer (kb.ingest.pipeline's for files, kb.ingest.sink's over a backend's
IngestSink), failures and skipped records counted in the report, and an
interrupt turned into IngestInterrupted with what was saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kb.errors import IngestInterrupted

if TYPE_CHECKING:
    from kb.backend import EntryWriter
    from kb.ingest.sources import IngestReport


def ingest(
    writer_for: Callable[[IngestReport], EntryWriter],
    paths: Iterable[str],
    *,
    format: str | None,
    dry_run: bool,
    max_size: int | None,
    stdin: Any,
    progress: Callable[[int], None] | None,
    keep: str,
    status: Callable[[str, int, int], None] | None,
    settings: dict[str, str] | None,
) -> IngestReport:
    """Read ``paths`` and hand each entry to the writer ``writer_for(report)`` gives (see
    KnowledgeBase.ingest): the backend's, which batches and commits them."""
    from kb.ingest.sources import DEFAULT_MAX_SIZE, Failure, IngestReport, ReadOptions, expand_paths, read_source
    from kb.parsers import Skipped

    if keep not in ("entries", "brief", "counts"):
        raise ValueError(f"keep must be 'entries', 'brief' or 'counts', not {keep!r}")
    options = ReadOptions(
        format=format,
        max_size=max_size or DEFAULT_MAX_SIZE,
        stdin=stdin,
        progress=progress,
        settings=dict(settings or {}),
    )
    report = IngestReport(dry_run=dry_run, keep=keep)
    writer = writer_for(report)
    entries = 0
    # No lock here: the writer takes the store's lock for each batch it writes and lets
    # it go after the commit, so reading and parsing (a slow pipe, a huge page, a long
    # file) keeps no other kb process waiting.
    try:
        for source in expand_paths(paths):
            if isinstance(source, Failure):
                report.failures.append(source)
                continue
            for item in read_source(source, options):
                if isinstance(item, Failure):
                    report.failures.append(item)
                elif isinstance(item, Skipped):
                    report.skipped[item.reason] = report.skipped.get(item.reason, 0) + item.count
                else:
                    report.note_kept_aside(source, item)
                    writer.add(item)
                    entries += 1
                    if status is not None and entries % 500 == 0:
                        status("reading", entries, report.files)
            report.files += 1
            if status is not None:
                status("reading", entries, report.files)
        if status is not None:
            status("indexing", entries, report.files)
        writer.finish()
    except KeyboardInterrupt:
        writer.abandon()
        raise IngestInterrupted(writer.saved(), dry_run=dry_run) from None
    except BaseException:
        writer.abandon()
        raise
    return report
