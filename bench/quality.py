"""The relevance benchmark: how often kb puts the right answer first.

Builds a fresh store with kb's own ingest from the corpus files, runs every question of a
queries TSV (``qid<TAB>text``) through exactly what ``kb search`` runs, and scores the
ranked lists against a qrels file (``qid 0 answer_id grade``; 4 excellent .. 1 incorrect),
identifying each entry by the ``id`` its record carried (kb keeps it as
``source.external_id``). Two baselines computed here sit in the same table: a plain FTS5
BM25 over every field, and one over question + title.

    python bench/quality.py                        # the shared dev set beside the checkout
    python bench/quality.py --smoke 10             # CI: the first 10 questions only
    python bench/quality.py --compare bench/out/quality-before.json

Measures (the quality set's README): MAP and MRR with "relevant" = grade >= 2 and >= 3,
nDCG@10 with gain = grade - 1, avgScore = mean (grade - 1) of the first answer (0 when it
is unjudged or missing), succ@k+ = share of questions whose first answer has grade >= k,
judged@1/@10 = share of returned answers that carry a judgment. Unjudged answers count as
grade 1 (pessimistic); the condensed view drops them from the list before scoring.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEFAULT_CORPORA = (SHARED / "corpora" / "medquad.jsonl.gz", SHARED / "quality" / "answers.jsonl")
DEFAULT_QUERIES = SHARED / "quality" / "queries.tsv"
DEFAULT_QRELS = SHARED / "quality" / "qrels.txt"
DEPTH = 100

Ranking = dict[str, list[str]]
Qrels = dict[str, dict[str, int]]


# -- reading the benchmark's files --------------------------------------------------------


def read_queries(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            qid, _, text = line.partition("\t")
            out.append((qid.strip(), text.strip()))
    return out


def read_qrels(path: Path) -> Qrels:
    out: Qrels = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4:
            qid, _, doc, grade = parts
            out.setdefault(qid, {})[doc] = max(int(grade), out.get(qid, {}).get(doc, 0))
    return out


def read_records(paths: Iterable[Path]) -> Iterable[dict]:
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


# -- scoring ----------------------------------------------------------------------------


def _grade(judged: dict[str, int], doc: str) -> int:
    return judged.get(doc, 1)


def average_precision(ranked: Sequence[str], judged: dict[str, int], threshold: int) -> float | None:
    relevant = sum(1 for g in judged.values() if g >= threshold)
    if not relevant:
        return None
    hits, total = 0, 0.0
    for rank, doc in enumerate(ranked, 1):
        if _grade(judged, doc) >= threshold:
            hits += 1
            total += hits / rank
    return total / relevant


def reciprocal_rank(ranked: Sequence[str], judged: dict[str, int], threshold: int) -> float | None:
    if not any(g >= threshold for g in judged.values()):
        return None
    for rank, doc in enumerate(ranked, 1):
        if _grade(judged, doc) >= threshold:
            return 1.0 / rank
    return 0.0


def ndcg(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float | None:
    ideal = sorted((g - 1 for g in judged.values()), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg <= 0:
        return None
    dcg = sum((_grade(judged, d) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    return dcg / idcg


def first_grade(ranked: Sequence[str], judged: dict[str, int]) -> int:
    """The grade of the first answer; 1 when unjudged, 0 when nothing was returned."""
    return _grade(judged, ranked[0]) if ranked else 0


def judged_share(ranked: Sequence[str], judged: dict[str, int], k: int) -> float:
    top = ranked[:k]
    return sum(1 for d in top if d in judged) / len(top) if top else 0.0


def per_question(ranked: Sequence[str], judged: dict[str, int]) -> dict[str, float | None]:
    grade = first_grade(ranked, judged)
    return {
        "ap2": average_precision(ranked, judged, 2),
        "ap3": average_precision(ranked, judged, 3),
        "rr2": reciprocal_rank(ranked, judged, 2),
        "rr3": reciprocal_rank(ranked, judged, 3),
        "ndcg10": ndcg(ranked, judged),
        "first": float(grade),
        "score": float(max(grade - 1, 0)),
        "judged1": judged_share(ranked, judged, 1),
        "judged10": judged_share(ranked, judged, 10),
    }


MEASURES = (
    ("MAP≥2", "ap2"),
    ("MAP≥3", "ap3"),
    ("MRR≥2", "rr2"),
    ("MRR≥3", "rr3"),
    ("nDCG@10", "ndcg10"),
    ("avgScore", "score"),
    ("succ@2+", "succ2"),
    ("succ@3+", "succ3"),
    ("succ@4+", "succ4"),
    ("judged@1", "judged1"),
    ("judged@10", "judged10"),
)


def score_run(run: Ranking, qrels: Qrels, qids: Sequence[str], *, condensed: bool = False) -> tuple[dict, dict]:
    """Return (averages, per-question values) of a run over the given questions."""
    rows: dict[str, dict[str, float | None]] = {}
    for qid in qids:
        judged = qrels.get(qid, {})
        ranked = run.get(qid, [])
        if condensed:
            ranked = [d for d in ranked if d in judged]
        rows[qid] = per_question(ranked, judged)
    means: dict[str, float] = {}
    for key in ("ap2", "ap3", "rr2", "rr3", "ndcg10", "score", "judged1", "judged10"):
        values = [r[key] for r in rows.values() if r[key] is not None]
        means[key] = sum(values) / len(values) if values else 0.0
    for k in (2, 3, 4):
        means[f"succ{k}"] = sum(1 for r in rows.values() if (r["first"] or 0) >= k) / max(len(rows), 1)
    return means, rows


# -- the runs ---------------------------------------------------------------------------


def build_store(path: Path, corpora: Sequence[Path]) -> float:
    """Ingest the corpora into a fresh store with kb's own ingest; return the seconds taken."""
    from kb.api import KnowledgeBase

    started = time.perf_counter()
    with KnowledgeBase.open(path) as kb:
        report = kb.ingest([str(p) for p in corpora], keep="counts")
        if report.failures:
            raise SystemExit(f"ingest failed: {report.failures[0]}")
    return time.perf_counter() - started


def kb_run(path: Path, queries: Sequence[tuple[str, str]], depth: int = DEPTH) -> tuple[Ranking, list[float]]:
    """Rank each question exactly as `kb search QUESTION --limit depth` does."""
    from kb.api import KnowledgeBase

    run: Ranking = {}
    times: list[float] = []
    with KnowledgeBase.open(path) as kb:
        kb.search("warm up", limit=1)
        for qid, text in queries:
            started = time.perf_counter()
            result = kb.search(text, limit=depth)
            times.append(time.perf_counter() - started)
            run[qid] = [_external_id(hit.entry) for hit in result.hits]
    return run, times


def _external_id(entry) -> str:
    return entry.source.external_id if entry.source and entry.source.external_id else f"kb:{entry.id}"


def bm25_runs(corpora: Sequence[Path], queries: Sequence[tuple[str, str]], depth: int = DEPTH) -> dict[str, Ranking]:
    """The two plain baselines: FTS5 BM25 (porter, stop words dropped, words OR-ed)."""
    from kb.search.query import STOP_WORDS

    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE all_fields USING fts5(ext UNINDEXED, title, question, answer, category,"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE q_title USING fts5(ext UNINDEXED, title, question,"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    seen: set[str] = set()
    for rec in read_records(corpora):
        ext = str(rec.get("id"))
        if ext in seen:
            continue
        seen.add(ext)
        title, question = rec.get("title") or "", rec.get("question") or ""
        conn.execute(
            "INSERT INTO all_fields VALUES (?,?,?,?,?)",
            (ext, title, question, rec.get("answer") or "", rec.get("category") or ""),
        )
        conn.execute("INSERT INTO q_title VALUES (?,?,?)", (ext, title, question))
    import re

    runs: dict[str, Ranking] = {"BM25 all fields": {}, "BM25 question+title": {}}
    for qid, text in queries:
        words = [w for w in re.findall(r"[^\W_]+", text.lower()) if w not in STOP_WORDS]
        match = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
        for name, table in (("BM25 all fields", "all_fields"), ("BM25 question+title", "q_title")):
            if not match:
                runs[name][qid] = []
                continue
            rows = conn.execute(
                f"SELECT ext FROM {table} WHERE {table} MATCH ? ORDER BY bm25({table}) LIMIT ?", (match, depth)
            ).fetchall()
            runs[name][qid] = [r[0] for r in rows]
    return runs


# -- ablation: each turns one part of kb's ranking off, in this process only -------------


def _no_head() -> None:
    from kb.search import fusion

    fusion.HEAD_WEIGHT = 0.0


def _old_weights() -> None:
    from kb.search import sql

    sql.SCORES["fts"] = "-bm25(fts, 10.0, 5.0, 2.0, 1.0, 1.0, 3.0)"


def _no_topic() -> None:
    from kb.search import fusion

    fusion.TOPIC_WEIGHT = 0.0


def _no_title_share() -> None:
    from kb.search import features

    features.TOPIC_TITLES = False


def _no_abbreviations() -> None:
    from kb.search.planning import Planner

    Planner._expansions = lambda self, should, known: []  # type: ignore[method-assign]


def _no_numbers() -> None:
    from kb.search import query

    query._numbers = lambda sequence, out: [t for t in sequence if t is not None]


def _no_long_cap() -> None:
    from kb.search import planning, ranking

    planning.MAX_QUERY_TERMS = ranking.MAX_QUERY_TERMS = 10**9


def _no_floor() -> None:
    from kb.search import features

    features.TOPIC_SHARE_FLOOR = 0.0


def _no_families() -> None:
    from kb.search import planning

    planning.FAMILY_WORDS = 0


def _no_short_families() -> None:
    from kb.search import planning

    planning.FAMILY_SHORT = planning.FAMILY_MIN_LENGTH


def _topic_guesses() -> None:
    from kb.search import features

    features.TOPIC_GUESSES = True


def _no_semantic() -> None:
    os.environ["KB_SEMANTIC"] = "0"


def _no_kinds() -> None:
    from kb.search import fusion

    fusion.KIND_WEIGHT = 0.0


def _no_conjunction() -> None:
    from kb.search import planning

    planning.MAX_CONJUNCTION_TERMS = 0


ABLATIONS = {
    "head": _no_head,
    "weights": _old_weights,
    "topic": _no_topic,
    "titles": _no_title_share,
    "abbreviations": _no_abbreviations,
    "numbers": _no_numbers,
    "long": _no_long_cap,
    "conjunction": _no_conjunction,
    "semantic": _no_semantic,
    "families": _no_families,
    "short-families": _no_short_families,
    "guesses": _topic_guesses,
    "floor": _no_floor,
    "kinds": _no_kinds,
}


ABLATION_RUNS = (
    ("without the head's BM25 (the whole entry only)", ["head"]),
    ("with the old field weights (title 10, question 5, answer 2)", ["weights"]),
    ("without both (kb before this benchmark)", ["head", "weights"]),
    ("without the topic stage (rare words' share of the head)", ["topic"]),
    ("topic stage with idf squared only (no title share)", ["titles"]),
    ("without the abbreviations the entries define", ["abbreviations"]),
    ("without bare numbers bound to their word", ["numbers"]),
    ("without the 48-word cap on long questions", ["long"]),
    ("without all the words first for 2-4 words", ["conjunction"]),
    ("without all five (issue 21's first round start)", ["topic", "abbreviations", "numbers", "long", "conjunction"]),
    ("without word families (pregnant -> pregnancy)", ["families"]),
    ("without the topic share's floor", ["floor"]),
    ("without short words' families (treat -> treatment)", ["short-families"]),
    ("with spelling guesses in the topic stage", ["guesses"]),
    ("without the meaning of the question (words only)", ["semantic"]),
    ("without families, floor and meaning (issue 21's second round start)", ["families", "floor", "semantic"]),
    ("without the kind of thing each entry asks (its question's words beyond its title)", ["kinds"]),
)


def ablation_table(
    store: Path, queries: Path, qrels: Path, corpora: Sequence[Path], full: dict[str, float], smoke: int | None
) -> list[str]:
    """Run kb with each part of its ranking turned off, each in a fresh process."""
    rows = {"kb (all parts)": full}
    for label, parts in ABLATION_RUNS:
        if "semantic" in parts and os.environ.get("KB_SEMANTIC") != "1":
            continue  # a store built without vectors: nothing to turn off
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run.json"
            argv = [
                sys.executable,
                __file__,
                "--store",
                str(store),
                "--queries",
                str(queries),
                "--qrels",
                str(qrels),
                "--no-baselines",
                "--json",
                str(out),
                "--results",
                str(Path(tmp) / "r.md"),
                *[a for p in corpora for a in ("--corpus", str(p))],
                *[a for p in parts for a in ("--ablate", p)],
            ]
            if smoke:
                argv += ["--smoke", str(smoke), "--keep-smoke-json"]
            subprocess.run(argv, check=True, capture_output=True)
            rows[label] = json.loads(out.read_text(encoding="utf-8"))["results"]["kb"]
    return ["", "## Ablation (pessimistic): what each part adds", "", *table(rows)]


# -- reporting --------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def table(results: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| run | " + " | ".join(label for label, _ in MEASURES) + " |", "|---|" + "---|" * len(MEASURES)]
    for name, means in results.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(means[key]) for _, key in MEASURES) + " |")
    return lines


def compare(rows: dict[str, dict], other_path: Path, queries: dict[str, str]) -> list[str]:
    other = json.loads(other_path.read_text(encoding="utf-8"))["per_question"]
    better, worse = [], []
    for qid, row in rows.items():
        if qid not in other:
            continue
        before, after = other[qid].get("ap2"), row.get("ap2")
        fb, fa = other[qid].get("first"), row.get("first")
        delta = (after or 0) - (before or 0)
        line = (
            f"| {qid} | {_fmt(before or 0)} → {_fmt(after or 0)} | {int(fb or 0)} → {int(fa or 0)} |"
            f" {queries.get(qid, '')[:70]} |"
        )
        if delta > 1e-9 or (fa or 0) > (fb or 0):
            better.append((delta, line))
        elif delta < -1e-9 or (fa or 0) < (fb or 0):
            worse.append((delta, line))
    out = [f"Compared with {other_path.name}: {len(better)} questions better, {len(worse)} worse.", ""]
    for title, items, rev in (("Better", better, True), ("Worse", worse, False)):
        out += [f"### {title}", "", "| qid | AP≥2 | first grade | question |", "|---|---|---|---|"]
        out += [line for _, line in sorted(items, key=lambda x: x[0], reverse=rev)]
        out.append("")
    return out


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", type=Path, help="JSONL corpus file (repeatable)")
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    ap.add_argument("--qrels", type=Path, default=DEFAULT_QRELS)
    ap.add_argument("--store", type=Path, help="store to use (built when missing); default a temp folder")
    ap.add_argument("--smoke", type=int, metavar="N", help="only the first N questions; writes nothing")
    ap.add_argument("--no-baselines", action="store_true", help="skip the two BM25 baselines")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS-quality.md")
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench" / "out" / "quality.json",
        help="per-question scores, for a later --compare",
    )
    ap.add_argument("--compare", type=Path, help="a --json file of an earlier run")
    ap.add_argument("--keep-smoke-json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--label", default="kb", help="name of kb's row in the table")
    ap.add_argument(
        "--ablate",
        action="append",
        default=[],
        choices=sorted(ABLATIONS),
        help="turn one part of kb's ranking off (repeatable)",
    )
    ap.add_argument(
        "--semantic",
        action="store_true",
        help="build the store with entry vectors (KB_SEMANTIC=1; needs the 'semantic' extra)",
    )
    ap.add_argument(
        "--ablation", action="store_true", help="also run kb with each part turned off and add the ablation table"
    )
    args = ap.parse_args(argv)

    corpora = args.corpus or [p for p in DEFAULT_CORPORA]
    missing = [p for p in [*corpora, args.queries, args.qrels] if not p.exists()]
    if missing:
        print(f"benchmark data not found ({missing[0]}), skipping", file=sys.stderr)
        return 0
    queries = read_queries(args.queries)
    if args.smoke:
        queries = queries[: args.smoke]
    qrels = read_qrels(args.qrels)
    qids = [q for q, _ in queries]

    if args.semantic:
        os.environ["KB_SEMANTIC"] = "1"
    tmp = None
    store = args.store
    if store is None:
        tmp = tempfile.TemporaryDirectory(prefix="kb-quality-")
        store = Path(tmp.name) / "kb.json"
    built = None
    if not store.exists():
        built = build_store(store, corpora)
        print(f"built the store in {built:.1f} s", file=sys.stderr)
    for part in args.ablate:
        ABLATIONS[part]()
    run, times = kb_run(store, queries)
    runs = {args.label: run}
    if not args.no_baselines:
        runs.update(bm25_runs(corpora, queries))

    results, condensed, per_q = {}, {}, {}
    for name, ranking in runs.items():
        results[name], rows = score_run(ranking, qrels, qids)
        condensed[name], _ = score_run(ranking, qrels, qids, condensed=True)
        if name == args.label:
            per_q = rows
    ablation_lines: list[str] = []
    if args.ablation:
        ablation_lines = ablation_table(store, args.queries, args.qrels, corpora, results[args.label], args.smoke)
    times.sort()
    median_ms = 1000 * times[len(times) // 2] if times else 0.0
    lines = [
        "## Pessimistic (unjudged = grade 1)",
        "",
        *table(results),
        "",
        "## Condensed (unjudged answers dropped)",
        "",
        *table(condensed),
        "",
        f"{len(queries)} questions; kb's search took {median_ms:.1f} ms per question (median, in-process).",
        *ablation_lines,
    ]
    print("\n".join(lines))
    if args.compare and args.compare.exists():
        print("\n".join(["", *compare(per_q, args.compare, dict(queries))]))
    if args.smoke and not args.keep_smoke_json:
        return 0 if all(run.get(q) is not None for q in qids) else 1

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"results": results, "condensed": condensed, "per_question": per_q}, indent=1), encoding="utf-8"
    )
    header = [
        "# Relevance benchmark results",
        "",
        f"`python bench/quality.py {' '.join(argv if argv is not None else sys.argv[1:])}`".replace("  ", " "),
        f"— commit {_commit()}, {time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores,"
        f" Python {platform.python_version()}.",
        "",
        "Data: MEDIQA 2019 task 3 questions and judged answers (Ben Abacha, Shivade and Demner-Fushman,"
        " ACL-BioNLP 2019) with the MedQuAD corpus (Ben Abacha and Demner-Fushman, BMC Bioinformatics"
        " 20:511, 2019; CC BY 4.0) as distractors.",
        "",
        *lines,
        "",
        "## Per question (kb)",
        "",
        "(questions by qid only: the data stays in its own folder, see its README)",
        "",
        "| qid | AP≥2 | AP≥3 | nDCG@10 | first grade |",
        "|---|---|---|---|---|",
    ]
    for qid in qids:
        r = per_q[qid]
        cells = [("–" if r[k] is None else _fmt(r[k])) for k in ("ap2", "ap3", "ndcg10")]
        header.append(f"| {qid} | {' | '.join(cells)} | {int(r['first'] or 0)} |")
    if args.compare and args.compare.exists():
        header += ["", *compare(per_q, args.compare, {})]
    args.results.write_text("\n".join(header) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
