"""One web page per entry against one JSONL file: what reading HTML costs kb's ingest.

    python bench/html_pages.py              # 16k MedQuAD pairs (bench/corpus.py builds them)
    python bench/html_pages.py --runs 5

From the 16k corpus this writes, beside the corpora (bench/out/corpora, git-ignored), the
same records as two kinds of saved pages, 1,000 per folder:

- ``html-faq-16k/``: a page with site furniture and a schema.org FAQPage in JSON-LD;
- ``html-text-16k/``: a page with the same furniture, no markup, and "Question"/"Answer"
  headings, read through the page-text path.

It then times, in-process (CPU time), the html parser per page and the html detector on texts that
are not HTML (what every other file pays for it), and, as whole ``kb ingest`` processes
run in turns (bench/run.py's ``run_once``), the JSONL file, the qa files and both page
folders. Results go to stdout and ``bench/RESULTS-html.md``.

Target (issue 12): one file per entry within 1.3x of the same entries as one JSONL.
"""

from __future__ import annotations

import argparse
import html as html_escape
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from corpus import DEFAULT_CORPUS, DEFAULT_OUT, FILES_PER_FOLDER, build  # noqa: E402
from results import append  # noqa: E402
from run import find_kb, run_once  # noqa: E402

RESULTS = BENCH / "RESULTS-html.md"
TARGET = 1.3

_FURNITURE_TOP = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Health Answers</title>
<link rel="canonical" href="https://health.example/answers/{n}">
<style>body {{ font: 16px sans-serif }}</style>
<script>window.analytics = window.analytics || [];</script>
{jsonld}</head>
<body>
<div class="cookie-banner">We use cookies. <button>OK</button></div>
<header><a href="/">Health Answers</a><nav><a href="/">Home</a> <a href="/topics/">Topics</a></nav>
<form action="/search"><input name="q"></form></header>
<main><nav class="breadcrumb"><a href="/">Home</a> / <a href="/topics/{slug}/">{category}</a></nav>
<article><h1>{title}</h1>
"""
_FURNITURE_BOTTOM = """</article></main>
<div class="ad-slot">Advertisement</div>
<footer><p>&copy; 2026 Health Answers</p></footer>
<script src="/js/site.js"></script>
</body></html>
"""


def _paragraphs(text: str) -> str:
    return "\n".join(f"<p>{html_escape.escape(p.strip())}</p>" for p in text.split("\n") if p.strip())


def faq_page(record: dict, n: int) -> str:
    """A page whose JSON-LD says it is an FAQPage of one question."""
    data = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "mainEntity": [
            {
                "@type": "Question",
                "name": record["question"],
                "acceptedAnswer": {"@type": "Answer", "text": _paragraphs(record["answer"])},
            }
        ],
    }
    # "</" inside a script would end it early: JSON may escape the slash.
    jsonld = '<script type="application/ld+json">' + json.dumps(data).replace("</", "<\\/") + "</script>\n"
    return _page(
        record, n, jsonld, f"<h2>{html_escape.escape(record['question'])}</h2>\n" + _paragraphs(record["answer"]) + "\n"
    )


def text_page(record: dict, n: int) -> str:
    """A page with no markup for machines: its headings label the question and the answer."""
    return _page(
        record,
        n,
        "",
        "<h2>Question</h2>\n"
        + _paragraphs(record["question"])
        + "\n<h2>Answer</h2>\n"
        + _paragraphs(record["answer"])
        + "\n",
    )


def _page(record: dict, n: int, jsonld: str, body: str) -> str:
    category = record.get("category") or "General"
    title = record.get("title") or record["question"][:60]
    top = _FURNITURE_TOP.format(
        title=html_escape.escape(title), n=n, jsonld=jsonld, category=html_escape.escape(category), slug=n % 50
    )
    return top + body + _FURNITURE_BOTTOM


def write_pages(jsonl: Path, out: Path, kind: str) -> Path:
    folder = out / f"html-{kind}-16k"
    stamp = folder / ".done"
    if stamp.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    render = faq_page if kind == "faq" else text_page
    with open(jsonl, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            shard = folder / f"{n // FILES_PER_FOLDER:03d}"
            if n % FILES_PER_FOLDER == 0:
                shard.mkdir(parents=True)
            (shard / f"{n:06d}.html").write_text(render(json.loads(line), n), encoding="utf-8")
    stamp.write_text("")  # hidden: kb skips it while walking
    return folder


def _cpu_us(fn, items: list, repeat: int = 5) -> float:
    """CPU µs per item, the best of ``repeat`` passes: on a shared machine, wall time
    per item mostly measures the other users."""
    best = []
    for _ in range(repeat):
        start = time.process_time()
        for item in items:
            fn(item)
        best.append((time.process_time() - start) / len(items) * 1e6)
    return min(best)


def in_process(qa_dir: Path, faq_dir: Path, text_dir: Path, jsonl: Path) -> list[str]:
    from kb import parsers
    from kb.parsers import html, qa

    def sample(folder: Path, k: int = 2000) -> list[tuple[str, str]]:
        return [(p.read_text(encoding="utf-8"), str(p)) for p in sorted(folder.rglob("*.html"))[:k]] or [
            (p.read_text(encoding="utf-8"), str(p)) for p in sorted(folder.rglob("*.txt"))[:k]
        ]

    faq, text, qa_files = sample(faq_dir), sample(text_dir), sample(qa_dir)
    with open(jsonl, encoding="utf-8") as fh:
        lines = [(fh.readline(), "x.jsonl") for _ in range(2000)]
    rows = [
        ("html.parse, FAQPage page (JSON-LD)", _cpu_us(lambda t: html.parse(*t), faq)),
        ("html.parse, page read through its text", _cpu_us(lambda t: html.parse(*t), text)),
        ("qa.parse, one qa file (for comparison)", _cpu_us(lambda t: qa.parse(*t), qa_files)),
        ("html.detect on a qa file (not HTML)", _cpu_us(lambda t: html.detect(t[0], "f"), qa_files)),
        ("html.detect on a JSON line (not HTML)", _cpu_us(lambda t: html.detect(t[0], "f"), lines)),
        ("parsers.detect, qa file without extension", _cpu_us(lambda t: parsers.detect(t[0], "f"), qa_files)),
        ("parsers.detect, page without extension", _cpu_us(lambda t: parsers.detect(t[0], "f"), faq)),
    ]
    return ["| in-process, per file | CPU µs |", "|---|---|"] + [f"| {name} | {us:,.1f} |" for name, us in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each input, after one warm-up")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print("corpus not found, skipping")
        return 0
    info = build(args.corpus, DEFAULT_OUT, ["16k"], log=lambda *a: print(*a, file=sys.stderr))["16k"]
    jsonl, qa_dir = Path(info["jsonl"]), Path(info["qa_dir"])
    faq_dir, text_dir = write_pages(jsonl, DEFAULT_OUT, "faq"), write_pages(jsonl, DEFAULT_OUT, "text")
    lines = in_process(qa_dir, faq_dir, text_dir, jsonl)
    kb = find_kb()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "KB_DB")}
    env["PYTHONPYCACHEPREFIX"] = str(BENCH / "out" / "pycache")
    inputs = {
        "one JSONL file": jsonl,
        "one qa file per entry": qa_dir,
        "one FAQPage page per entry": faq_dir,
        "one text page per entry": text_dir,
    }
    times: dict[str, list[float]] = {name: [] for name in inputs}
    peaks: dict[str, float] = {name: 0.0 for name in inputs}
    for run in range(args.runs + 1):
        for name, path in inputs.items():  # in turns, so load bursts hit every input alike
            with tempfile.TemporaryDirectory() as scratch:
                argv = [str(kb), "--db", str(Path(scratch) / "kb.json"), "ingest", "--quiet", str(path)]
                sample, _ = run_once(argv, env, tree=True)
            if run:  # run 0 warms the page cache
                times[name].append(sample.wall)
                peaks[name] = max(peaks[name], sample.rss_mb)
    base = statistics.median(times["one JSONL file"])
    lines += [
        "",
        f"| `kb ingest` of {info['records']:,} records | median s | vs JSONL | peak MB |",
        "|---|---|---|---|",
    ]
    for name in inputs:
        median = statistics.median(times[name])
        verdict = "" if name == "one JSONL file" else (" PASS" if median / base <= TARGET else " **MISS**")
        lines.append(f"| {name} | {median:.2f} | {median / base:.2f}x{verdict} | {peaks[name]:.0f} |")
    text = (
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.runs} runs each, "
        f"load average {os.getloadavg()[0]:.1f}\n\n" + "\n".join(lines) + "\n"
    )
    append(RESULTS, "Web pages against JSONL (bench/html_pages.py)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
