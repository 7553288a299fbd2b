"""Time two versions of kb side by side: ingest of the same corpus, runs alternating.

On a shared machine a number measured an hour ago says little about one measured now;
two versions run in turns, in one run, compare fairly. Each version is a folder holding
a ``kb`` package (a git worktree of another commit, say), run as ``python -m kb`` with
that folder first on the path; the rest of the environment is this venv's.

    git worktree add /tmp/kb-before HEAD~3
    python bench/versus.py /tmp/kb-before . --corpus bench/out/corpora/medquad-16k.jsonl

Prints a Markdown table: median wall time, entries per second, CPU time, peak memory of
the process tree (kb and any indexing process), the disk the store takes after an ingest
(every file in its folder, and its ratio to the input) and the ratio of the second
version to the first.

With ``--sqlite-utils`` the same JSON Lines go into SQLite a third way, in the same turns:
``sqlite-utils insert DB entries FILE --nl``, then ``sqlite-utils enable-fts DB entries
title question answer`` (one FTS5 table over the text, no stemming), the plain-SQLite pace
issue 23 set kb's ingest against; its row gives kb's CPU time as a ratio to it.

With ``--store`` and ``--lookup`` it times commands on an existing store instead, the
two versions and the framework floor (``bench/floor.py``) in turns, and checks that both
versions print the same bytes. Give ``--store`` twice when the versions' stores differ
(the first is the first version's), so that neither rebuilds the other's index:

    python bench/versus.py /tmp/kb-before . --store bench/out/stores/16k/kb.json \
        --lookup "search bone marrow" --lookup "show 1" --runs 15
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import Sample, run_once  # noqa: E402 - bench/ is not a package


def _records(corpus: Path) -> int:
    if corpus.is_dir():
        return sum(1 for p in corpus.rglob("*") if p.is_file())
    with open(corpus, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _folder_bytes(folder: Path) -> int:
    """Every file kb left in a store's folder: catalog, shards, backup, index."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _ingest(checkout: Path, corpus: Path, scratch: Path, env: dict[str, str]) -> Sample:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    run_env = dict(env, PYTHONPATH=str(checkout.resolve()))
    argv = [sys.executable, "-m", "kb", "--db", str(scratch / "kb.json"), "ingest", "--quiet", str(corpus.resolve())]
    # Run from the scratch folder, so that `python -m kb` finds the checkout's kb, not ./kb.
    sample, _ = run_once(argv, run_env, cwd=scratch, tree=True)
    return sample


def _sqlite_utils(corpus: Path, scratch: Path, env: dict[str, str]) -> Sample:
    """Insert the JSON Lines with sqlite-utils and give them a full-text index."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    tool = shutil.which("sqlite-utils") or str(Path(sys.executable).with_name("sqlite-utils"))
    db = shlex.quote(str(scratch / "plain.db"))
    script = (
        f"{shlex.quote(tool)} insert {db} entries {shlex.quote(str(corpus.resolve()))} --nl"
        f" && {shlex.quote(tool)} enable-fts {db} entries title question answer"
    )
    sample, _ = run_once(["sh", "-c", script], env, cwd=scratch, tree=True)
    return sample


def _lookups(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    """Time each lookup by both versions and the floor in turns; the table's lines."""
    lines = [
        "| command | before s | after s | floor s | after / before | before / floor | after / floor "
        "| CPU ms before / after / floor | CPU after / floor | run by run: after / before, before / floor, "
        "after / floor (CPU) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    floor = [sys.executable, str(HERE / "floor.py"), "search", "bone", "marrow", "--limit", "10"]
    for lookup in args.lookup:
        words = shlex.split(lookup)
        stores = {"before": args.store[0], "after": args.store[-1]}
        argvs = {
            name: [sys.executable, "-m", "kb", "--db", str(stores[name].resolve()), *words]
            for name in ("before", "after")
        }
        envs = {
            name: dict(env, PYTHONPATH=str(folder.resolve()))
            for name, folder in (("before", args.before), ("after", args.after))
        }
        outputs = {}
        for name, argv in argvs.items():
            _, outputs[name] = run_once(argv, envs[name], ok=(0, 1), keep_stdout=True, cwd=stores[name].parent)
        if outputs["before"] != outputs["after"]:
            print(f"{lookup}: the two versions print different output", file=sys.stderr)
        walls: dict[str, list[float]] = {"before": [], "after": [], "floor": []}
        cpus: dict[str, list[float]] = {"before": [], "after": [], "floor": []}
        for _ in range(args.runs):
            for name in ("before", "after", "floor"):
                argv = floor if name == "floor" else argvs[name]
                sample, _ = run_once(argv, envs.get(name, env), ok=(0, 1), cwd=stores["after"].parent)
                walls[name].append(sample.wall)
                cpus[name].append(sample.cpu)
        med = {k: statistics.median(v) for k, v in walls.items()}
        cpu = {k: statistics.median(v) * 1000 for k, v in cpus.items()}
        # The machine's pace drifts over a long run; the three runs of one turn are
        # seconds apart, so the median of each turn's ratios is steadier than the ratio of
        # the medians.
        turns = list(zip(cpus["before"], cpus["after"], cpus["floor"], strict=True))
        paired = [
            statistics.median(a / b for a, b in pairs)
            for pairs in ([(t[1], t[0]) for t in turns], [(t[0], t[2]) for t in turns], [(t[1], t[2]) for t in turns])
        ]
        lines.append(
            f"| kb {lookup} | {med['before']:.3f} | {med['after']:.3f} | {med['floor']:.3f} | "
            f"{med['after'] / med['before']:.2f}x | {med['before'] / med['floor']:.2f}x | "
            f"{med['after'] / med['floor']:.2f}x | {cpu['before']:.0f} / {cpu['after']:.0f} / {cpu['floor']:.0f} | "
            f"{cpu['after'] / cpu['floor']:.2f}x | {paired[0]:.2f}x, {paired[1]:.2f}x, {paired[2]:.2f}x |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="folder holding the first version's kb package")
    parser.add_argument("after", type=Path, help="folder holding the second version's kb package")
    parser.add_argument(
        "--corpus",
        type=Path,
        action="append",
        default=[],
        help="a JSONL file or a folder of files to ingest (repeatable)",
    )
    parser.add_argument(
        "--store", type=Path, action="append", default=[], help="an existing store, for --lookup (twice: one each)"
    )
    parser.add_argument(
        "--lookup", action="append", default=[], help='a command to time on --store ("search bone marrow")'
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each version (after one warm-up each)")
    parser.add_argument(
        "--sqlite-utils", action="store_true", help="also time sqlite-utils insert + enable-fts of each JSONL corpus"
    )
    args = parser.parse_args(argv)
    for folder in (args.before, args.after):
        if not (folder / "kb" / "__init__.py").is_file():
            parser.error(f"{folder} holds no kb package")
    if bool(args.store) != bool(args.lookup) or not (args.corpus or args.lookup):
        parser.error("give --corpus, or --store with --lookup")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KB_DB")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.lookup:
        with tempfile.TemporaryDirectory(prefix="kb-versus-") as tmp:
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
            print("\n".join(_lookups(args, env)))
        return 0
    lines = [
        "| corpus | records | version | median s | entries/s | CPU s | peak MB (tree) | disk MB (x input) "
        "| after / before |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="kb-versus-") as tmp:
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for corpus in args.corpus:
            records = _records(corpus)
            samples: dict[str, list[Sample]] = {"before": [], "after": []}
            runs: list[tuple[str, Callable[[Path], Sample]]] = [
                ("before", lambda scratch: _ingest(args.before, corpus, scratch, env)),
                ("after", lambda scratch: _ingest(args.after, corpus, scratch, env)),
            ]
            if args.sqlite_utils and corpus.is_file():
                samples["sqlite-utils"] = []
                runs.append(("sqlite-utils", lambda scratch: _sqlite_utils(corpus, scratch, env)))
            disk: dict[str, int] = {}
            for n in range(args.runs + 1):
                for name, ingest in runs:
                    sample = ingest(Path(tmp) / name)
                    print(
                        f"{corpus.name} {name} {'warm-up' if n == 0 else f'run {n}'}: "
                        f"{sample.wall:.2f}s {sample.cpu:.2f} CPU-s {sample.rss_mb:.0f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
                    if n:
                        samples[name].append(sample)
                    disk[name] = _folder_bytes(Path(tmp) / name)
            wall = {k: statistics.median(s.wall for s in v) for k, v in samples.items()}
            cpu = {k: statistics.median(s.cpu for s in v) for k, v in samples.items()}
            size = corpus.stat().st_size if corpus.is_file() else _folder_bytes(corpus)
            peak = {k: max(s.rss_mb for s in v) for k, v in samples.items()}
            for name in samples:
                ratio = (
                    f"{wall['after'] / wall['before']:.2f}x time, {cpu['after'] / cpu['before']:.2f}x CPU, "
                    f"{peak['after'] / peak['before']:.2f}x memory"
                    if name == "after"
                    else "–"
                )
                if "sqlite-utils" in samples and name != "sqlite-utils":
                    ratio += f"; {cpu[name] / cpu['sqlite-utils']:.2f}x sqlite-utils' CPU"
                lines.append(
                    f"| {corpus.name} | {records:,} | {name} | {wall[name]:.2f} | "
                    f"{records / wall[name]:,.0f} | {cpu[name]:.2f} | {peak[name]:.0f} | "
                    f"{disk[name] / 1e6:.1f} ({disk[name] / size:.2f}x) | {ratio} |"
                )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
