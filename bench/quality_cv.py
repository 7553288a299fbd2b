"""Choose ranking constants by k-fold cross-validation on the relevance benchmark.

Every combination of the given settings is run over all questions of a store built by
bench/quality.py (``--store``); then, for each fold, the combination with the best mean
of the chosen measure on the other folds is scored on the fold it has not seen. The note
reports those held-out scores, pooled, beside the scores of the current settings:

    python bench/quality_cv.py --store /tmp/kb-quality/kb.json \\
        --grid fusion.SEMANTIC_BELOW=0.3,0.5,0.7 --grid fusion.SEMANTIC_WEIGHT=0,0.5,1

A setting is ``module.NAME`` under kb.search; ``KB_SEMANTIC`` is read from the
environment as usual (the store must have been built with ``--semantic`` to use vectors).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality  # this folder's module, found through the path set above

MEASURES = ("ap2", "ap3", "rr3", "ndcg10", "score")


def _parse_grid(items: Sequence[str]) -> list[tuple[str, list[float]]]:
    grid = []
    for item in items:
        name, _, values = item.partition("=")
        if "." not in name or not values:
            raise SystemExit(f"--grid wants module.NAME=v1,v2,..., not {item!r}")
        grid.append((name, [float(v) for v in values.split(",")]))
    return grid


def _set(name: str, value: float) -> None:
    module, attr = name.rsplit(".", 1)
    setattr(importlib.import_module(f"kb.search.{module}"), attr, value)


def _mean(rows: dict[str, dict], qids: Sequence[str], key: str) -> float:
    values = [rows[q][key] for q in qids if rows[q][key] is not None]
    return sum(values) / len(values) if values else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True, help="a store built by bench/quality.py --store")
    ap.add_argument("--queries", type=Path, default=quality.DEFAULT_QUERIES)
    ap.add_argument("--qrels", type=Path, default=quality.DEFAULT_QRELS)
    ap.add_argument("--grid", action="append", default=[], help="module.NAME=v1,v2,... (repeatable)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--by", choices=MEASURES, default="ap2", help="the measure the folds choose by")
    ap.add_argument("--json", type=Path, help="also write every combination's per-question scores here")
    args = ap.parse_args(argv)
    if not (args.store.exists() and args.queries.exists() and args.qrels.exists()):
        print("store or benchmark data not found, skipping", file=sys.stderr)
        return 0
    grid = _parse_grid(args.grid)
    queries = quality.read_queries(args.queries)
    qrels = quality.read_qrels(args.qrels)
    qids = [q for q, _ in queries]

    current = tuple(
        getattr(importlib.import_module(f"kb.search.{n.rsplit('.', 1)[0]}"), n.rsplit(".", 1)[1]) for n, _ in grid
    )
    combos = list(itertools.product(*[values for _, values in grid]))
    runs: dict[tuple, dict[str, dict]] = {}
    for combo in combos:
        for (name, _), value in zip(grid, combo):
            _set(name, value)
        run, _ = quality.kb_run(args.store, queries)
        runs[combo] = quality.score_run(run, qrels, qids)[1]
        means = " ".join(f"{k} {_mean(runs[combo], qids, k):.3f}" for k in MEASURES)
        print(f"{combo}: {means}", file=sys.stderr, flush=True)

    shuffled = list(qids)
    random.Random(args.seed).shuffle(shuffled)
    folds = [shuffled[i :: args.folds] for i in range(args.folds)]
    names = ", ".join(n for n, _ in grid)
    lines = [
        f"| fold | chosen ({names}) | " + " | ".join(f"{m} held out" for m in MEASURES) + " |",
        "|---|---|" + "---|" * len(MEASURES),
    ]
    pooled: dict[str, dict] = {}
    for number, held in enumerate(folds, 1):
        seen = [q for q in qids if q not in held]
        best = max(combos, key=lambda c: (_mean(runs[c], seen, args.by), _mean(runs[c], seen, "score")))
        for q in held:
            pooled[q] = runs[best][q]
        cells = " | ".join(f"{_mean(runs[best], held, m):.3f}" for m in MEASURES)
        lines.append(f"| {number} | {', '.join(f'{v:g}' for v in best)} | {cells} |")
    lines.append("| pooled held-out folds | | " + " | ".join(f"{_mean(pooled, qids, m):.3f}" for m in MEASURES) + " |")
    if current in runs:
        cells = " | ".join(f"{_mean(runs[current], qids, m):.3f}" for m in MEASURES)
        lines.append(f"| the current settings ({', '.join(f'{v:g}' for v in current)}), all questions | | {cells} |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({repr(c): r for c, r in runs.items()}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
