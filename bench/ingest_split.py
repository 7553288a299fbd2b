"""Time ingests of two or more versions of kb in turns, the CPU of each process apart.

``bench/versus.py`` gives the whole tree's CPU; an ingest is two processes (kb parses the
input and writes the store; its indexing child builds the SQLite index), and on two cores
its wall time follows the slower one. Here each ingest runs ``kb --db FRESH ingest
--quiet CORPUS`` through a few lines of Python that, at kb's exit (kb runs its exit
handlers before it leaves), write the process's own ``getrusage`` and its children's: the
indexing process, which kb has waited for by then. Versions alternate run by run after
one warm-up each; the medians come last.

    python bench/ingest_split.py --corpus medquad-16k.jsonl --runs 3 BEFORE .

Each version is a folder holding a ``kb`` package, put first on the path (as in versus.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as ``python -c``: kb's CLI with an exit handler, registered first so that it runs
# after kb's own (which close the index), that appends "SELF CHILDREN" CPU seconds to the
# file named by KB_SPLIT_OUT.
_WRAPPER = """
import atexit, os, resource, sys
def _report():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["KB_SPLIT_OUT"], "a") as out:
        out.write(f"{me.ru_utime + me.ru_stime:.3f} {kids.ru_utime + kids.ru_stime:.3f}\\n")
atexit.register(_report)
sys.argv = ["kb", *sys.argv[1:]]
from kb.cli.app import main
main()
"""


def ingest(version: Path, corpus: Path, scratch: Path) -> tuple[float, float, float]:
    """One ingest into a fresh store: (kb's CPU-s, the indexing process's, wall seconds)."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    report = scratch / "split"
    env = dict(os.environ, PYTHONPATH=str(version.resolve()), KB_SPLIT_OUT=str(report))
    argv = [sys.executable, "-c", _WRAPPER, "--db", str(scratch / "kb.json"), "ingest", "--quiet", str(corpus)]
    start = time.monotonic()
    # Run from the scratch folder, so that the interpreter finds the version's kb, not ./kb.
    subprocess.run(argv, env=env, cwd=scratch, check=True)
    wall = time.monotonic() - start
    own, children = (float(x) for x in report.read_text().split())
    return own, children, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs="+", type=Path, help="folders holding a kb package")
    parser.add_argument("--corpus", type=Path, required=True, help="a JSONL file or folder to ingest")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each version (after a warm-up)")
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    results: dict[Path, list[tuple[float, float, float]]] = {v: [] for v in args.versions}
    with tempfile.TemporaryDirectory(prefix="kb-split-") as tmp:
        for run in range(args.runs + 1):
            for version in args.versions:
                own, children, wall = ingest(version, corpus, Path(tmp) / "store")
                label = "warm-up" if run == 0 else f"run {run}"
                print(f"{version} {label}: kb {own:.2f} indexing {children:.2f} CPU-s, {wall:.2f} s", flush=True)
                if run:
                    results[version].append((own, children, wall))
    print("| version | kb process CPU-s | indexing process CPU-s | both | wall s |")
    print("|---|---|---|---|---|")
    for version, rows in results.items():
        own = statistics.median(r[0] for r in rows)
        children = statistics.median(r[1] for r in rows)
        both = statistics.median(r[0] + r[1] for r in rows)
        wall = statistics.median(r[2] for r in rows)
        print(f"| {version} | {own:.2f} | {children:.2f} | {both:.2f} | {wall:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
