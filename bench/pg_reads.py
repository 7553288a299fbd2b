"""PostgreSQL's reads against the files backend's, on two stores already built from one corpus.

Times ``kb search`` (two words, a 20-word question) and ``kb show ID`` three ways:

- whole processes (``python -m kb --db ... search ...``), the two backends in turns, run
  after run, so that a burst of load on a shared machine hits both alike: median wall
  time and median CPU time of the process (user + system);
- the same reads in one process (``KnowledgeBase.search``, and ``get``, ``related`` and
  ``follow_ups`` for show), again in turns: medians after a warm-up;
- 8 clients (processes, each with its own connection or store) searching at once:
  searches per second and p95.

Shows cycle through ``--entries`` ids spread over the store. Also timed: opening a
PostgreSQL connection as kb does (connect, search path, the schema's version).

    python bench/pg_reads.py --files STORE/kb.json --db postgresql://.../DB [--runs 11]

Build the stores first, e.g. ``kb --db STORE/kb.json ingest CORPUS.jsonl`` and ``kb --db
postgresql://.../DB ingest CORPUS.jsonl``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import run_once  # noqa: E402 - bench/ is not a package

# bench/postgres.py's two searches (not imported: it puts this checkout's kb first on the
# path, and this script times whichever kb the environment gives, e.g. an older one
# through PYTHONPATH, in process and in its ``python -m kb`` children alike).
TWO_WORDS = "bone marrow"
TWENTY_WORDS = (
    "can chemotherapy make a bone scan come back falsely negative when the cancer "
    "has already spread to my hips and spine"
)
QUESTIONS = [TWO_WORDS, TWENTY_WORDS, "noonan syndrome treatment", "what causes high blood pressure"]


def spread_ids(location: str, entries: int) -> list[int]:
    """``entries`` ids spread evenly over the store (its id order)."""
    from kb.api import KnowledgeBase
    from kb.backend import Request

    kb = KnowledgeBase.open(location)
    try:
        count = kb.count()
        ids = []
        for k in range(entries):
            found = kb.list(Request(limit=1, offset=count * (2 * k + 1) // (2 * entries)))
            ids.append(found[0].stored_id())
        return ids
    finally:
        kb.close()


def whole_processes(stores: dict[str, str], commands: dict[str, Callable[[int], list[str]]], runs: int) -> dict:
    """{(command, backend): ([wall s], [cpu s])} of ``runs`` turns after one warm-up."""
    env = dict(os.environ)
    found: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for turn in range(runs + 1):
        for name, argv_of in commands.items():
            order = list(stores.items()) if turn % 2 else list(stores.items())[::-1]
            for backend, location in order:
                argv = [sys.executable, "-m", "kb", "--db", location, *argv_of(turn)]
                sample, _ = run_once(argv, env)
                if sample.code != 0:
                    raise SystemExit(f"{' '.join(argv)} exited {sample.code}")
                if turn:
                    walls, cpus = found.setdefault((name, backend), ([], []))
                    walls.append(sample.wall)
                    cpus.append(sample.cpu)
    return found


def in_process(stores: dict[str, str], ids: list[int], runs: int) -> dict[tuple[str, str], list[float]]:
    """{(read, backend): [seconds]} of ``runs`` turns after one warm-up, in one process."""
    from kb.api import KnowledgeBase

    kbs = {backend: KnowledgeBase.open(location) for backend, location in stores.items()}

    def show(kb: Any, entry_id: int) -> None:
        entry = kb.get(entry_id)
        kb.related(entry.stored_id())
        kb.follow_ups(entry.stored_id())

    reads: dict[str, Callable[[Any, int], object]] = {
        "search, 2 words": lambda kb, _: kb.search(TWO_WORDS),
        "search, 20 words": lambda kb, _: kb.search(TWENTY_WORDS),
        "show: entry, related, follow-ups": show,
    }
    found: dict[tuple[str, str], list[float]] = {}
    try:
        for turn in range(runs + 1):
            for name, read in reads.items():
                order = list(kbs.items()) if turn % 2 else list(kbs.items())[::-1]
                for backend, kb in order:
                    began = time.perf_counter()
                    read(kb, ids[turn % len(ids)])
                    if turn:
                        found.setdefault((name, backend), []).append(time.perf_counter() - began)
    finally:
        for kb in kbs.values():
            kb.close()
    return found


def connect_times(url: str, runs: int) -> list[float]:
    """Seconds to open a connection as kb does and check the schema's version."""
    from kb.postgres.backend import PostgresBackend

    times = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        backend = PostgresBackend(url)
        backend.exists()
        times.append(time.perf_counter() - began)
        backend.close()
    return times[1:]


def _client(location: str, k: int, per_client: int, gate: Any, out: Any) -> None:
    from kb.api import KnowledgeBase

    kb = KnowledgeBase.open(location)
    kb.search("warm up")
    gate.wait()
    began = time.perf_counter()
    mine = []
    for i in range(per_client):
        start = time.perf_counter()
        kb.search(QUESTIONS[(k + i) % len(QUESTIONS)])
        mine.append(time.perf_counter() - start)
    out.put((began, time.perf_counter(), mine))
    kb.close()


def clients_at_once(location: str, clients: int, per_client: int) -> tuple[float, float]:
    """Searches per second and p95 (ms) of ``clients`` processes searching at once."""
    gate = multiprocessing.Barrier(clients)
    out: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_client, args=(location, k, per_client, gate, out)) for k in range(clients)]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(t for _, _, mine in results for t in mine)
    elapsed = max(r[1] for r in results) - min(r[0] for r in results)
    return len(latencies) / elapsed, 1000 * latencies[int(0.95 * (len(latencies) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", required=True, help="the files store (its kb.json)")
    parser.add_argument("--db", required=True, help="the PostgreSQL knowledge base's URL")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--entries", type=int, default=7, help="show cycles through this many ids")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--skip", default="", help="comma-separated: process, inprocess, clients")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    stores = {"files": args.files, "pg": args.db}
    ids = spread_ids(args.files, args.entries)
    if ids != spread_ids(args.db, args.entries):
        print("the two stores hold different ids; show compares different entries", file=sys.stderr)
    import kb

    print(
        f"kb from {Path(kb.__file__).parent}; ids shown: {ids}; load average before: {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    rows: list[tuple[str, float, float, str]] = []

    def add(what: str, files: list[float], pg: list[float], unit: float = 1000.0) -> None:
        f, p = unit * statistics.median(files), unit * statistics.median(pg)
        rows.append((what, f, p, f"{p / f:.2f}x"))
        print(rows[-1], file=sys.stderr)

    if "process" not in skip:
        commands: dict[str, Callable[[int], list[str]]] = {
            "kb search, 2 words": lambda _: ["search", TWO_WORDS],
            "kb search, 20 words": lambda _: ["search", TWENTY_WORDS],
            "kb show ID": lambda turn: ["show", str(ids[turn % len(ids)]), "--no-pager"],
        }
        found = whole_processes(stores, commands, args.runs)
        for name in commands:
            add(f"{name}: process wall (ms)", found[(name, "files")][0], found[(name, "pg")][0])
            add(f"{name}: process CPU (ms)", found[(name, "files")][1], found[(name, "pg")][1])
    if "inprocess" not in skip:
        timed = in_process(stores, ids, args.runs)
        for name in ("search, 2 words", "search, 20 words", "show: entry, related, follow-ups"):
            add(f"{name}, in process (ms)", timed[(name, "files")], timed[(name, "pg")])
        connect = 1000 * statistics.median(connect_times(args.db, args.runs))
        rows.append(("pg: connect, search path, schema version (ms)", 0.0, connect, ""))
    if "clients" not in skip:
        per_client = max(4, args.runs)
        f_rate, f_p95 = clients_at_once(args.files, args.clients, per_client)
        p_rate, p_p95 = clients_at_once(args.db, args.clients, per_client)
        rows.append((f"{args.clients} clients at once (searches/s)", f_rate, p_rate, f"{p_rate / f_rate:.2f}x"))
        rows.append((f"{args.clients} clients at once (p95 ms)", f_p95, p_p95, f"{p_p95 / f_p95:.2f}x"))
    print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print("| what | files | PostgreSQL | PostgreSQL / files |")
    print("|---|---|---|---|")
    for what, f, p, ratio in rows:
        print(f"| {what} | {f:.1f} | {p:.1f} | {ratio} |" if f else f"| {what} | | {p:.1f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
