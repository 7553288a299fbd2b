"""The relevance benchmark (bench/quality.py) run through the PostgreSQL backend's search.

An adapter, not a second benchmark: quality.py's own main runs unchanged, with its two
steps that touch a store (building it, and ranking each question) pointed at PostgreSQL.
The corpus is parsed by kb's parsers and written by the backend; each question is ranked
by ``PostgresBackend.search``, as ``kb search QUESTION --limit 100`` will be once wired.

    python bench/quality_postgres.py [--db postgresql://...] [quality.py's options]

Without ``--db`` a throwaway cluster is started here (tools/pgcluster.py) and stopped at
the end. Results go where quality.py's ``--results`` says (pass one: its default is the
files backend's bench/RESULTS-quality.md).
"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tools"))

import pgcluster  # noqa: E402
import quality  # noqa: E402

from kb.backend import Request  # noqa: E402
from kb.models import Entry  # noqa: E402
from kb.postgres.backend import PostgresBackend  # noqa: E402

SCHEMA = "kb_quality"


def _entries(path: Path) -> Iterator[Entry]:
    from kb import parsers

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for item in parsers.get("jsonl").iter_parse(lines, path.name):
            if isinstance(item, Entry):
                yield item


def adapt(url: str) -> None:
    """Point quality.py's store steps at the PostgreSQL database ``url``."""

    def build_store(path: Path, corpora: Sequence[Path]) -> float:
        started = time.perf_counter()
        with PostgresBackend(url, schema_name=SCHEMA) as backend:
            backend.conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            with backend.ingest_sink() as sink:
                for corpus in corpora:
                    batch: list[Entry] = []
                    for entry in _entries(corpus):
                        batch.append(entry)
                        if len(batch) == 4000:
                            sink.write(batch)
                            batch = []
                    if batch:
                        sink.write(batch)
        return time.perf_counter() - started

    def kb_run(path: Path, queries: Sequence[tuple[str, str]], depth: int = quality.DEPTH):
        run: quality.Ranking = {}
        times: list[float] = []
        with PostgresBackend(url, schema_name=SCHEMA) as backend:
            backend.search("warm up")
            for qid, text in queries:
                started = time.perf_counter()
                result = backend.search(text, Request(limit=depth))
                times.append(time.perf_counter() - started)
                run[qid] = [quality._external_id(hit.entry) for hit in result.hits]
        return run, times

    quality.build_store = build_store
    quality.kb_run = kb_run


def main(argv: list[str]) -> int:
    url = None
    if "--db" in argv:
        at = argv.index("--db")
        url = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
    scratch = Path(tempfile.mkdtemp(prefix="kb-quality-pg-"))
    scratch.chmod(0o755)
    cluster = None
    try:
        if url is None:
            cluster = pgcluster.start(scratch / "cluster")
            url = cluster.url()
        adapt(url)
        return quality.main(["--label", "kb (PostgreSQL)", *argv])
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
