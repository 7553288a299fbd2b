"""Time kb's search index in-process on the MedQuAD corpus: build, 2-word and 20-word queries.

Builds indexes of ~16k entries (the corpus) and 100k (the corpus replicated with new ids
and shuffled words, so that no two entries are the same), then times, as medians of
several runs after a warm-up, a 2-word query and a 20-word question: the naive FTS5 OR of
every word against SearchIndex.search (planned query, snippets for the page only). It also
prints the top results of a few realistic questions.

Usage: python bench/search_inprocess.py PATH/TO/medquad.jsonl.gz [--sizes 16423,100000]
       [--runs 7] [--workdir DIR]

The corpus (MedQuAD, Ben Abacha & Demner-Fushman 2019, CC BY 4.0) is read from the given
path and never copied into the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.models import Entry, Source
from kb.search.index import SearchIndex
from kb.search.schema import WEIGHTS

TWO_WORDS = "bone marrow"
TWENTY_WORDS = (
    "can chemotherapy make a bone scan come back falsely negative when the cancer "
    "has already spread to my hips and spine"
)
REALISTIC = [
    "can chemo make a bone scan come back falsely negative?",
    "my mom has really bad pain in her joints every morning could it be arthritis",
    "what are the first signs of diabetes in kids",
    "is hepatitis b contagious through kissing",
    "how do they treat osteoporisis in older women",
    "what causes kidney stones and how can i prevent them",
    "is alzheimers inherited from your parents",
    "what is the outlook for someone with metastisis of breast cancer to the bones",
]


def load(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def entries(records: list[dict], count: int):
    """Yield ``count`` entries: the records, then shuffled-word copies with new ids."""
    rng = random.Random(7)
    for i in range(count):
        record = records[i % len(records)]
        question, answer = record["question"], record["answer"]
        if i >= len(records):
            q_words, a_words = question.split(), answer.split()
            rng.shuffle(q_words)
            rng.shuffle(a_words)
            question, answer = " ".join(q_words), " ".join(a_words)
        yield Entry(
            question=question,
            answer=answer,
            title=record["title"],
            category=record["category"],
            tags=[record["qtype"]] if record.get("qtype") else [],
            source=Source(path=record.get("url"), format="jsonl", external_id=f"{record['id']}#{i}"),
            id=i + 1,
            created_at=f"2024-01-01T00:00:{i % 60:02d}+00:00",
        )


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up: page cache and SQLite's own caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def naive(index: SearchIndex, text: str):
    """The baseline: every word quoted and OR-ed, ranked, snippets for the top 10 only."""
    words = [w for w in text.replace("?", " ").split() if w]
    match = " OR ".join('"' + w + '"' for w in words)
    weights = ", ".join(str(w) for w in WEIGHTS)
    conn = index.conn
    rows = conn.execute(
        f"SELECT rowid, bm25(fts, {weights}) AS s FROM fts WHERE fts MATCH ? ORDER BY s LIMIT 10", (match,)
    ).fetchall()
    ids = [r[0] for r in rows]
    return conn.execute(
        "SELECT rowid, snippet(fts, 2, '[', ']', '…', 24) FROM fts WHERE fts MATCH ?"
        " AND rowid IN (SELECT value FROM json_each(?))",
        (match, json.dumps(ids)),
    ).fetchall()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--sizes", default="16423,100000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"corpus not found: {args.corpus} (skipping the benchmark)", file=sys.stderr)
        return 0
    records = load(args.corpus)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kb-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"corpus: {len(records)} records; indexes in {workdir}")
    print("| entries | build s | naive 2-word ms | kb 2-word ms | naive 20-word ms | kb 20-word ms |")
    print("|---|---|---|---|---|---|")
    last = None
    for size in (int(s) for s in args.sizes.split(",")):
        path = workdir / f"bench-{size}.index.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        index = SearchIndex(path)
        items = list(entries(records, size))  # made first: the build time is the index's own
        start = time.perf_counter()
        index.rebuild(items, signature=f"bench-{size}")
        build = time.perf_counter() - start
        del items
        row = [
            median_ms(lambda: naive(index, TWO_WORDS), args.runs),
            median_ms(lambda: index.search(TWO_WORDS), args.runs),
            median_ms(lambda: naive(index, TWENTY_WORDS), max(3, args.runs // 2)),
            median_ms(lambda: index.search(TWENTY_WORDS), args.runs),
        ]
        print(f"| {size} | {build:.1f} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
        if last is not None:
            last.close()
        last = index
    if last is not None:
        print(f"\nTop 3 of realistic questions ({last.count()} entries):")
        for question in REALISTIC:
            start = time.perf_counter()
            result = last.search(question, limit=3)
            took = (time.perf_counter() - start) * 1000
            print(
                f"- {question!r} ({took:.1f} ms)"
                + (f" did you mean: {result.suggestions}" if result.suggestions else "")
            )
            for hit in result.hits:
                print(f"    {hit.score:6.2f}  [{hit.entry.category}] {hit.entry.title} | {hit.entry.question[:70]}")
        last.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
