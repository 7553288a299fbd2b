"""What a PostgreSQL ingest of MedQuAD costs at the least on this machine: each step's wall
time and CPU seconds, for the server's steps (plain COPY, the text parser, a stored
tsvector with and without its GIN index, kb's postings rows with and without their
indexes) and for kb's own Python steps (parsing, counting the postings, words).

    python bench/pg_floor.py --db postgresql://... [--corpus medquad.jsonl.gz] [--rounds 3]

The server's CPU is read from /proc for the connection's backend process, so the server
must run on this machine and its processes be readable (as root or its own user);
otherwise only wall times are given. Parallel query is off except where a step says so:
one core per step, as an INSERT runs. Everything goes in a schema of its own
(``kb_floor``), dropped at the end. Results: bench/RESULTS-postgres.md ("Round six").
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kb import parsers  # noqa: E402
from kb.models import Entry  # noqa: E402
from kb.postgres import postings, rows  # noqa: E402
from kb.postgres.backend import PostgresBackend  # noqa: E402
from kb.postgres.writes import _texts, word_counts  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "medquad.jsonl.gz"
SCHEMA = "kb_floor"
TICK = os.sysconf("SC_CLK_TCK")
# The three fields a full-text vector of a question and answer needs: title A, question B, answer.
GENERATED = (
    "setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', question), 'B')"
    " || to_tsvector('english', answer)"
)
BODY = "body_vector(s.title, s.question, s.answer, s.tags, s.expert, s.category)"


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process on this machine (None when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def read_corpus(path: Path) -> tuple[str, bytes]:
    """The corpus's JSON Lines, and as CSV of (title, question, answer)."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    out = io.StringIO()
    writer = csv.writer(out)
    with opener(path, "rt", encoding="utf-8") as lines:
        text = lines.read()
    for line in text.splitlines():
        if line.strip():
            record = json.loads(line)
            writer.writerow([record.get(k) or "" for k in ("title", "question", "answer")])
    return text, out.getvalue().encode()


def parse(text: str, name: str) -> list[Entry]:
    jsonl: Any = parsers.get("jsonl")
    return [e for e in jsonl.iter_parse(io.StringIO(text), name) if isinstance(e, Entry)]


def server_steps(conn: Any, table_csv: bytes, postings_text: str) -> list[tuple[str | None, Callable[[], None]]]:
    def run(*statements: str) -> Callable[[], None]:
        def action() -> None:
            for statement in statements:
                conn.execute(statement)

        return action

    def copy(statement: str, data: bytes | str) -> Callable[[], None]:
        def action() -> None:
            with conn.cursor().copy(statement) as stream:
                stream.write(data)

        return action

    three = "(title text, question text, answer text"
    return [
        (
            None,
            run(
                "DROP TABLE IF EXISTS f_plain, f_gen, f_gengin, f_post, f_postidx",
                f"CREATE TABLE f_plain {three})",
                f"CREATE TABLE f_gen {three}, v tsvector GENERATED ALWAYS AS ({GENERATED}) STORED)",
                f"CREATE TABLE f_gengin {three}, v tsvector GENERATED ALWAYS AS ({GENERATED}) STORED)",
                "CREATE INDEX ON f_gengin USING gin (v)",
                "CREATE TABLE f_post (LIKE postings)",
                "CREATE TABLE f_postidx (LIKE postings INCLUDING ALL)",
                "SET max_parallel_workers_per_gather = 0",
            ),
        ),
        ("COPY of title, question, answer (no index)", copy("COPY f_plain FROM STDIN (FORMAT csv)", table_csv)),
        (
            "to_tsvector('simple', answer), 2 workers + leader ¹",
            run(
                "SET max_parallel_workers_per_gather = 2",
                "SELECT sum(length(to_tsvector('simple', answer))) FROM f_plain",
                "SET max_parallel_workers_per_gather = 0",
            ),
        ),
        ("to_tsvector('simple', answer)", run("SELECT sum(length(to_tsvector('simple', answer))) FROM f_plain")),
        ("to_tsvector('english', answer)", run("SELECT sum(length(to_tsvector('english', answer))) FROM f_plain")),
        ("english vector: title A, question B, answer", run(f"SELECT sum(length({GENERATED})) FROM f_plain")),
        ("kb's body_vector (four to_tsvector)", run(f"SELECT sum(length({BODY})) FROM f_stage s")),
        (
            "COPY into a table with that vector stored (generated)",
            copy("COPY f_gen (title, question, answer) FROM STDIN (FORMAT csv)", table_csv),
        ),
        (
            "the same with a GIN index on the vector",
            copy("COPY f_gengin (title, question, answer) FROM STDIN (FORMAT csv)", table_csv),
        ),
        ("the GIN index built after the load instead", run("CREATE INDEX ON f_gen USING gin (v)")),
        ("COPY of kb's postings rows, no index", copy("COPY f_post FROM STDIN", postings_text)),
        ("COPY of kb's postings rows into kb's two indexes", copy("COPY f_postidx FROM STDIN", postings_text)),
        (
            "the postings' two indexes built after the load instead",
            run(
                "CREATE INDEX ON f_post (term, entry) INCLUDE (tf, htf, len, hlen)",
                "CREATE INDEX ON f_post (term, entry) INCLUDE (htf, hlen) WHERE htf > 0",
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL (a database to make a schema in)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=3, help="medians of this many rounds")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found ({args.corpus}), skipping", file=sys.stderr)
        return 0
    times: dict[str, list[tuple[float, float | None]]] = {}

    def timed(label: str, action: Callable[[], Any], cpu: Callable[[], float | None]) -> Any:
        began_cpu, began = cpu(), time.perf_counter()
        out = action()
        spent = cpu()
        used = spent - began_cpu if spent is not None and began_cpu is not None else None
        times.setdefault(label, []).append((time.perf_counter() - began, used))
        return out

    here = time.process_time
    lines, table_csv = read_corpus(args.corpus)
    entries = timed("kb's parser: JSON Lines to entries (Python)", lambda: parse(lines, str(args.corpus)), here)
    for number, entry in enumerate(entries, 1):
        entry.id = number
    counted = timed("counting the postings, FTS5's stems (Python)", lambda: postings.Tokenizer().count(entries), here)
    text = timed("the postings' COPY text (Python)", lambda: "".join(map(postings._LINE.__mod__, counted.rows)), here)
    timed("the words for did-you-mean (Python)", lambda: word_counts(_texts(entries)), here)
    staged = [rows.stage_row(e) for e in entries]

    backend = PostgresBackend(args.db, schema_name=SCHEMA)
    conn = backend.conn
    try:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        backend.add_many([])  # the first write creates kb's tables and body_vector
        conn.execute(f"CREATE TABLE f_stage AS SELECT {', '.join(rows.STAGE_COLUMNS)} FROM entries")
        with conn.cursor().copy(f"COPY f_stage ({', '.join(rows.STAGE_COLUMNS)}) FROM STDIN") as stream:
            for row in staged:
                stream.write_row(row)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        for _ in range(args.rounds):
            for label, action in server_steps(conn, table_csv, text):
                if label is None:
                    action()
                else:
                    timed(label, action, lambda: process_cpu(pid))
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        backend.close()

    print(f"{len(entries):,} entries, {len(counted.rows):,} postings rows; load {os.getloadavg()[0]:.1f}")
    print("| step | wall (s) | CPU (s) | µs of CPU per entry |")
    print("|---|---|---|---|")
    for label, runs in times.items():
        wall = statistics.median(r[0] for r in runs)
        used = [r[1] for r in runs if r[1] is not None]
        cpu = statistics.median(used) if used else None
        cpu_text = f"{cpu:.2f} | {1e6 * cpu / len(entries):,.0f}" if cpu is not None else "- | -"
        print(f"| {label} | {wall:.2f} | {cpu_text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
