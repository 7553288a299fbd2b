"""PostgreSQL beside the files backend: ingest rate, search and show times, searches at once.

For each size (MedQuAD as it is, ~16k, and replicated to 100k by bench/corpus.py's
generator) this ingests the same JSON Lines into a files store (kb's own ingest) and into
PostgreSQL (parsed by kb's parser, written by the backend's COPY batches), then times, in
process, as medians after a warm-up: a 2-word search, a 20-word question, and `show`'s
reads (the entry and its related entries); and for PostgreSQL, 8 clients searching at
once (throughput and p95). The server is a throwaway cluster started here (tools/
pgcluster.py) unless ``--db`` names one; it runs on this machine, over loopback.

    python bench/postgres.py [--sizes 16k,100k] [--runs 7] [--db postgresql://...]

The corpus is read from ../shared/corpora/medquad.jsonl.gz and never copied into the
repository; generated files go to bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tools"))

import corpus as corpora  # noqa: E402
import pgcluster  # noqa: E402

from kb.api import KnowledgeBase  # noqa: E402
from kb.backend import Request  # noqa: E402
from kb.models import Entry  # noqa: E402
from kb.postgres.backend import PostgresBackend  # noqa: E402

TWO_WORDS = "bone marrow"
TWENTY_WORDS = (
    "can chemotherapy make a bone scan come back falsely negative when the cancer "
    "has already spread to my hips and spine"
)
OUT = REPO / "bench" / "out" / "pg-corpora"
FIRST_BATCH, LAST_BATCH = 2000, 16_384


def corpus_file(name: str, source: Path) -> Path:
    """The JSONL of one size, written once (without the one-file-per-record folders)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"medquad-{name}.jsonl"
    if path.exists():
        return path
    records = corpora.load_records(source)
    size = corpora.SIZES[name]
    chosen = records if size is None else corpora.scaled(records, size)
    info = corpora.write_corpus(chosen, OUT, name, files=False)
    return OUT / info["jsonl"]


def entries_of(path: Path) -> Iterator[Entry]:
    from kb import parsers

    with open(path, encoding="utf-8") as lines:
        for item in parsers.get("jsonl").iter_parse(lines, str(path)):
            if isinstance(item, Entry):
                yield item


def ingest_postgres(backend: PostgresBackend, path: Path) -> tuple[int, float, float]:
    """Parse and write in doubling batches; return (entries, seconds in all, seconds writing)."""
    started = time.perf_counter()
    writing = 0.0
    count = 0
    size = FIRST_BATCH
    batch: list[Entry] = []
    with backend.ingest_sink() as sink:

        def flush() -> None:
            nonlocal writing, count
            began = time.perf_counter()
            result = sink.write(batch)
            writing += time.perf_counter() - began
            count += len(result.added) + len(result.updated)
            batch.clear()

        for entry in entries_of(path):
            batch.append(entry)
            if len(batch) >= size:
                flush()
                size = min(size * 2, LAST_BATCH)
        if batch:
            flush()
        began = time.perf_counter()
    writing += time.perf_counter() - began  # the sink's close: the stems' frequencies
    return count, time.perf_counter() - started, writing


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times)


def clients_at_once(url: str, schema: str, clients: int, per_client: int) -> tuple[float, float]:
    """Searches per second and p95 (ms) of ``clients`` threads, each with its own connection."""
    questions = [TWO_WORDS, TWENTY_WORDS, "noonan syndrome treatment", "what causes high blood pressure"]
    latencies: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        with PostgresBackend(url, schema_name=schema) as backend:
            backend.search("warm up")
            gate.wait()
            mine = []
            for i in range(per_client):
                began = time.perf_counter()
                backend.search(questions[(k + i) % len(questions)])
                mine.append(time.perf_counter() - began)
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, 1000 * latencies[int(0.95 * (len(latencies) - 1))]


def _writer(url: str, schema: str, path: str, k: int, n: int, queue) -> None:
    """One writer process: ingest every n-th record from k, plus a share every writer
    ingests too, then add ten entries one at a time; put (stored, errors) on the queue."""
    errors = 0
    stored = 0
    try:
        with PostgresBackend(url, schema_name=schema) as backend:
            entries = [e for i, e in enumerate(entries_of(Path(path))) if i % n == k or i < 500]
            with backend.ingest_sink() as sink:
                for start in range(0, len(entries), 2000):
                    stored += len(sink.write(entries[start : start + 2000]).added)
            for i in range(10):
                one = Entry(question=f"Writer {k} question {i}?", answer=f"Writer {k} answer {i}.")
                stored += len(backend.add_many([one]).added)
    except Exception:
        errors += 1
    queue.put((stored, errors))


def writers_at_once(url: str, path: Path, n: int) -> tuple[int, int, int, float]:
    """``n`` processes ingesting slices of one corpus (and a share all of them ingest) and
    adding entries at once; return (stored by all, count after, errors, seconds)."""
    import multiprocessing

    schema = "kb_bench_writers"
    with PostgresBackend(url, schema_name=schema) as backend:
        backend.conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    queue: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_writer, args=(url, schema, str(path), k, n, queue)) for k in range(n)]
    began = time.perf_counter()
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - began
    with PostgresBackend(url, schema_name=schema) as backend:
        count = backend.count()
    return sum(r[0] for r in results), count, sum(r[1] for r in results), elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=corpora.DEFAULT_CORPUS)
    parser.add_argument("--sizes", default="16k,100k")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", help="a PostgreSQL URL to use instead of a throwaway cluster")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--writers", type=int, default=0, help="also run this many writer processes at once")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the stores (files: bench/out/pg-stores/, PostgreSQL: the schemas) and time searches on them"
        " when they are there, without ingesting again (the ingest rates are then not measured)",
    )
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found ({args.corpus}), skipping", file=sys.stderr)
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="kb-bench-pg-"))
    scratch.chmod(0o755)
    cluster = None
    url = args.db
    if url is None:
        cluster = pgcluster.start(scratch / "cluster")
        url = cluster.url()
    rows = []
    try:
        for name in args.sizes.split(","):
            path = corpus_file(name, args.corpus)
            store = (OUT.parent / "pg-stores" if args.reuse else scratch) / name / "kb.json"
            reused = args.reuse and store.exists()
            began = time.perf_counter()
            files = KnowledgeBase.open(store)
            if not reused:
                files.ingest([str(path)], keep="counts")
            files_s = time.perf_counter() - began
            schema = f"kb_bench_{name}"
            pg = PostgresBackend(url, schema_name=schema)
            if args.reuse and pg.count():
                count, pg_s, write_s = pg.count(), 0.0, 0.0
            else:
                pg.conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                count, pg_s, write_s = ingest_postgres(pg, path)
            some = files.list(limit=1, offset=min(count // 2, files.count() - 1))[0].id or 1

            def rate(seconds: float) -> str:
                return f"{count / seconds:,.0f}" if seconds else "(reused)"

            row = {
                "size": f"{count:,}",
                "files ingest (entries/s)": rate(0.0 if reused else files_s),
                "pg ingest, all (entries/s)": rate(pg_s),
                "pg writes only (entries/s)": rate(write_s),
            }
            for label, question in (("2 words", TWO_WORDS), ("20 words", TWENTY_WORDS)):
                row[f"files {label} (ms)"] = f"{median_ms(lambda q=question: files.search(q), args.runs):.1f}"
                row[f"pg {label} (ms)"] = f"{median_ms(lambda q=question: pg.search(q, Request()), args.runs):.1f}"
            row["files show (ms)"] = f"{median_ms(lambda: (files.get(some), files.related(some)), args.runs):.1f}"
            row["pg show (ms)"] = f"{median_ms(lambda: (pg.get(some), pg.related(some)), args.runs):.1f}"
            rate, p95 = clients_at_once(url, schema, args.clients, max(4, args.runs))
            row[f"pg {args.clients} clients (searches/s, p95 ms)"] = f"{rate:.1f}, {p95:.0f}"
            rows.append(row)
            print(row, file=sys.stderr)
            files.close()
            pg.close()
        if args.writers:
            path = corpus_file(args.sizes.split(",")[0], args.corpus)
            stored, count, errors, seconds = writers_at_once(url, path, args.writers)
            print(
                f"{args.writers} writers at once: {stored:,} entries stored in all, {count:,} counted after,"
                f" {errors} errors, {seconds:.1f} s",
                file=sys.stderr,
            )
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    keys = list(rows[0]) if rows else []
    print("| what | " + " | ".join(r["size"] for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys[1:]:
        print(f"| {key} | " + " | ".join(r[key] for r in rows) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
