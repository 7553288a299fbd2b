"""How often `kb ask` would tell a question of the relevance set "nothing close".

`kb ask` gives its best hit as the answer only when the hit holds at least
kb.asking.CLOSE_SHARE of the question's information (kb.search.closeness); otherwise it
lists the matches as "not close" and says how to post the question. The relevance set's
questions are ordinary questions whose topics the corpus covers, so few should be told
"nothing close", and fewer still of those whose first answer is a good one.

    python bench/closeness.py [--store STORE] [quality.py's --corpus/--queries/--qrels]
    KB_PG_SCHEMA=s python bench/closeness.py --store postgresql://...   # after kb ingest there

Builds the store as bench/quality.py does (kept with --store, reused when it exists) and
prints one line per question told "nothing close", then the counts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import quality  # noqa: E402

from kb.api import KnowledgeBase  # noqa: E402
from kb.asking import CLOSE_SHARE  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", type=Path, help="JSONL corpus file (repeatable)")
    ap.add_argument("--queries", type=Path, default=quality.DEFAULT_QUERIES)
    ap.add_argument("--qrels", type=Path, default=quality.DEFAULT_QRELS)
    ap.add_argument(
        "--store", help="store to use (a files store is built when missing; a PostgreSQL URL must hold the corpus)"
    )
    args = ap.parse_args(argv)
    corpora = args.corpus or list(quality.DEFAULT_CORPORA)
    queries = quality.read_queries(args.queries)
    qrels = quality.read_qrels(args.qrels)
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or str(Path(tmp) / "kb.json")
        if "://" not in store and not Path(store).exists():
            quality.build_store(Path(store), corpora)
        told = good = 0
        with KnowledgeBase.open(store) as kb:
            for qid, text in queries:
                result = kb.ask(text)
                if not result.hits:
                    continue
                best = result.hits[0]
                share = kb.closeness(text, [best])[best.entry.stored_id()]
                if share >= CLOSE_SHARE:
                    continue
                told += 1
                grade = qrels.get(qid, {}).get(quality._external_id(best.entry), 1)
                good += grade >= 3
                print(f"{qid}\t{share:.2f}\tgrade {grade}\t{text}\t-> {best.entry.display_title()}")
    print(f"nothing close: {told} of {len(queries)} questions ({told / max(len(queries), 1):.1%});")
    print(f"of them, {good} had a first answer graded 3 or 4 (CLOSE_SHARE {CLOSE_SHARE})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
