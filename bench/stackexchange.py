"""Ingest a generated StackExchange dump: questions per second and peak memory.

    python bench/stackexchange.py                 # a ~1 GB dump (generated once, then cached)
    python bench/stackexchange.py --size-mb 200   # a smaller one, for a loaded machine
    python bench/stackexchange.py --parse-only    # time the parser alone, in-process

The dump is written into ``bench/out/stackexchange/`` (git-ignored) as a site folder
holding Posts.xml and Users.xml, shaped like a real dump: rows with every attribute a
real Posts.xml carries, bodies of HTML paragraphs with lists and code blocks (text from
the MedQuAD corpus when it is there, else a built-in vocabulary), 1.6 answers per
question, 12% of questions unanswered, 55% with an accepted answer, 1% tag wikis, and
one answer in twenty written before its question. ``kb --db FRESH ingest --quiet FOLDER``
runs as a separate process; wall time, CPU time and the peak summed RSS of kb and its
indexing process are measured as bench/run.py measures them, and appended to
``bench/RESULTS-stackexchange.md``.

Targets (issue 12): at least 3,000 questions per second and under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from corpus import DEFAULT_CORPUS, load_records, synthetic_records  # noqa: E402
from results import append  # noqa: E402
from run import find_kb, machine, run_once  # noqa: E402

OUT = BENCH / "out" / "stackexchange"
RESULTS = BENCH / "RESULTS-stackexchange.md"
GENERATOR_VERSION = 1
RATE_TARGET, MEMORY_TARGET_MB = 3000, 300
TAGS = [
    "diagnosis",
    "treatment",
    "genetics",
    "nutrition",
    "symptoms",
    "children",
    "medication",
    "surgery",
    "prevention",
    "research",
    "heart",
    "skin",
    "sleep",
    "pain",
    "vision",
]


def _texts() -> list[tuple[str, str, str]]:
    """(title, question, answer) triples to build bodies from."""
    try:
        records = load_records(DEFAULT_CORPUS)
    except OSError:
        records = synthetic_records(2000)
    return [(r.get("title") or r["question"][:80], r["question"], r["answer"]) for r in records]


def _body(text: str, rng: random.Random, n: int) -> str:
    paras = [p.strip() for p in text.replace("\r", "").split("\n") if p.strip()] or [text]
    parts = [f"<p>{p}</p>" for p in paras[:6]]
    roll = rng.random()
    if roll < 0.25:
        parts.insert(1, "<pre><code>dose_mg = weight_kg * 0.5\nif dose_mg &gt; 40:\n    dose_mg = 40\n</code></pre>")
    elif roll < 0.5:
        parts.append("<ul><li>first point</li><li>second point, with <em>emphasis</em></li></ul>")
    parts.append(f"<p>(post {n})</p>")
    return "\n".join(parts) + "\n"


def _row(**attrs: object) -> str:
    return "  <row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items() if v is not None) + " />\n"


def generate(folder: Path, size_bytes: int, seed: int = 12) -> dict:
    """Write Posts.xml and Users.xml of about ``size_bytes``; return counts."""
    rng = random.Random(seed)
    texts = _texts()
    folder.mkdir(parents=True, exist_ok=True)
    users = 5000
    counts = {"questions": 0, "answered": 0, "answers": 0, "wikis": 0}
    post_id = 0
    with open(folder / "Posts.xml.tmp", "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
        while fh.tell() < size_bytes:
            title, question, answer = texts[rng.randrange(len(texts))]
            post_id += 1
            qid = post_id
            if rng.random() < 0.01:
                fh.write(
                    _row(
                        Id=qid,
                        PostTypeId=rng.choice((4, 5)),
                        CreationDate="2020-01-01T00:00:00.000",
                        Score=0,
                        Body=_body(answer, rng, qid),
                        ContentLicense="CC BY-SA 4.0",
                    )
                )
                counts["wikis"] += 1
                continue
            n_answers = 0 if rng.random() < 0.12 else rng.choice((1, 1, 2, 2, 3))
            answer_ids = list(range(qid + 1, qid + 1 + n_answers))
            post_id += n_answers
            accepted = answer_ids[rng.randrange(n_answers)] if n_answers and rng.random() < 0.625 else None
            tags = rng.sample(TAGS, rng.randint(1, 4))
            tag_text = "".join(f"<{t}>" for t in tags) if qid % 2 else "|" + "|".join(tags) + "|"
            rows = [
                _row(
                    Id=qid,
                    PostTypeId=1,
                    AcceptedAnswerId=accepted,
                    CreationDate="2021-03-04T05:06:07.890",
                    Score=rng.randint(-2, 40),
                    ViewCount=rng.randint(10, 90000),
                    Body=_body(question, rng, qid),
                    OwnerUserId=rng.randint(1, users),
                    LastActivityDate="2022-01-01T00:00:00.000",
                    Title=f"{title} ({qid})",
                    Tags=tag_text,
                    AnswerCount=n_answers,
                    CommentCount=2,
                    ContentLicense="CC BY-SA 4.0",
                )
            ]
            for aid in answer_ids:
                owner = rng.randint(1, users) if rng.random() < 0.9 else None
                rows.append(
                    _row(
                        Id=aid,
                        PostTypeId=2,
                        ParentId=qid,
                        CreationDate="2021-03-05T05:06:07.890",
                        Score=rng.randint(-1, 60),
                        Body=_body(answer, rng, aid),
                        OwnerUserId=owner,
                        OwnerDisplayName=None if owner else f"guest{aid % 97}",
                        LastActivityDate="2022-01-01T00:00:00.000",
                        CommentCount=0,
                        ContentLicense="CC BY-SA 4.0",
                    )
                )
            counts["questions"] += 1
            counts["answered"] += bool(n_answers)
            counts["answers"] += n_answers
            if n_answers and rng.random() < 0.05:
                rows.reverse()  # the answers go out before their question
            fh.writelines(rows)
        fh.write("</posts>\n")
    os.replace(folder / "Posts.xml.tmp", folder / "Posts.xml")
    with open(folder / "Users.xml", "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="utf-8"?>\n<users>\n')
        for uid in range(1, users + 1):
            fh.write(
                _row(
                    Id=uid,
                    Reputation=rng.randint(1, 90000),
                    CreationDate="2019-01-01T00:00:00.000",
                    DisplayName=f"user {uid}",
                    Views=3,
                    UpVotes=1,
                    DownVotes=0,
                )
            )
        fh.write("</users>\n")
    counts["posts_bytes"] = (folder / "Posts.xml").stat().st_size
    return counts


def dump_for(size_mb: int) -> tuple[Path, dict]:
    folder = OUT / f"synthetic-{size_mb}mb.stackexchange.com"
    manifest = OUT / f"{folder.name}.json"  # beside the dump: kb would read it inside
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if info.get("version") == GENERATOR_VERSION and (folder / "Posts.xml").exists():
            return folder, info
    print(f"generating a {size_mb} MB dump in {folder} ...", file=sys.stderr)
    start = time.perf_counter()
    info = generate(folder, size_mb * 1_000_000)
    info["version"] = GENERATOR_VERSION
    manifest.write_text(json.dumps(info))
    print(f"  {info['questions']:,} questions in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return folder, info


def parse_only(folder: Path) -> tuple[float, int]:
    """Time the parser alone, in this process: (seconds, entries)."""
    from kb.parsers import stackexchange

    start = time.perf_counter()
    n = 0
    with open(folder / "Posts.xml", "rb") as fh:
        for item in stackexchange.iter_parse_file(fh, str(folder / "Posts.xml"), {}, None):
            n += type(item).__name__ == "Entry"
    return time.perf_counter() - start, n


def cpu_split(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run ``argv`` once; return (wall s, CPU s of kb's process, CPU s of its children).

    /proc is read every 50 ms while it runs: kb's own CPU and its indexing process's are
    told apart, which says what two free cores would allow (the larger of the two).
    """
    import subprocess

    tick = os.sysconf("SC_CLK_TCK")
    seen: dict[str, float] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    while proc.poll() is None:
        try:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except OSError:
            children = []
        for pid in [str(proc.pid), *children]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                seen[pid] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    own = seen.pop(str(proc.pid), 0.0)
    return wall, own, sum(seen.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1000, help="size of Posts.xml (default 1000)")
    parser.add_argument("--parse-only", action="store_true", help="time the parser in-process, no store")
    parser.add_argument(
        "--cpu-split", action="store_true", help="also run once more, reading kb's and its indexing process's CPU apart"
    )
    args = parser.parse_args(argv)
    folder, info = dump_for(args.size_mb)
    if args.parse_only:
        seconds, entries = parse_only(folder)
        print(f"parser alone: {entries:,} entries in {seconds:.1f} s = {entries / seconds:,.0f} questions/s")
        return 0
    kb = find_kb()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(BENCH / "out" / "pycache")
    with tempfile.TemporaryDirectory(dir=OUT) as scratch:
        db = Path(scratch) / "kb.json"
        argv = [str(kb), "--db", str(db), "ingest", "--quiet", str(folder)]
        sample, _ = run_once(argv, env, ok=(0,), tree=True)
    split = ""
    if args.cpu_split:
        with tempfile.TemporaryDirectory(dir=OUT) as scratch:
            argv = [str(kb), "--db", str(Path(scratch) / "kb.json"), "ingest", "--quiet", str(folder)]
            wall, own, children = cpu_split(argv, env)
        split = (
            f"\n- CPU apart (a second run, {wall:.1f} s wall): kb {own:.1f} s "
            f"({info['answered'] / own:,.0f} questions per CPU-second), its indexing process {children:.1f} s; "
            f"two free cores would allow about {info['answered'] / max(own, children):,.0f} questions/s"
        )
    rate = info["answered"] / sample.wall
    mb = info["posts_bytes"] / 1e6
    python = sys.executable
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {mb:,.0f} MB Posts.xml\n",
        f"- dump: {info['questions']:,} questions ({info['answered']:,} answered, so that many entries), "
        f"{info['answers']:,} answers, {info['wikis']:,} tag wikis",
        f"- `kb --db FRESH ingest --quiet {folder.name}`: {sample.wall:.1f} s wall, {sample.cpu:.1f} s CPU, "
        f"peak {sample.rss_mb:.0f} MB (kb and its indexing process together)",
        f"- rate: {rate:,.0f} questions/s (target {RATE_TARGET:,}); {mb / sample.wall:.1f} MB/s of Posts.xml; "
        f"memory {'under' if sample.rss_mb < MEMORY_TARGET_MB else 'OVER'} the {MEMORY_TARGET_MB} MB target",
        f"- machine: {machine(python).get('cpu', '?')}, load average {os.getloadavg()[0]:.1f} at the end",
    ]
    text = "\n".join(lines) + split + "\n"
    append(RESULTS, "StackExchange dump ingest (bench/stackexchange.py)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
