"""Parsing costs time in proportion to the input: hostile shapes of 1 MB cost seconds.

Every detector and parser is fed a megabyte of one repeated character, of blanks after a
marker's first letters, and deeply nested markup. A pattern with overlapping quantifiers
(the Q/A marker took 59 s on 40k spaces) or a tree builder walking its open elements for
each new one (100k nested lists took over 300 s) shows here as minutes; the alarm stops
such a run instead of hanging the suite.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from kb import parsers
from kb.errors import ParseError

MB = 1_000_000
# CPU seconds per call; linear code needs a fraction of this even on a loaded machine.
LIMIT = 5.0

_BLANKS = " " * MB
HOSTILE = {
    "spaces": _BLANKS,
    "tabs": "\t" * MB,
    "newlines": "\n" * MB,
    "letters": "a" * MB,
    "question marks": "?" * MB,
    "hashes": "#" * MB,
    "stars": "*" * MB,
    "colons": ":" * MB,
    "angles": "<" * MB,
    "marker then blanks": "Q" + _BLANKS + "x",
    "bold marker then blanks": "**" + _BLANKS + "x",
    "heading then blanks": "## question" + _BLANKS + "x",
    "title then blanks": "# a" + _BLANKS + "x",
    "front matter key then blanks": "---\na" + _BLANKS + "x\n---\n",
    "opener then blanks": "a" + _BLANKS + "x",
    "label then blanks": "education" + _BLANKS + "x",
}
_DEPTH = 100_000
NESTED = {
    "nested lists": "<html><body>" + "<ul><li>" * _DEPTH + "Q: x?<br>A: y" + "</li></ul>" * _DEPTH,
    "nested divs": "<html><body>" + "<div>" * _DEPTH + "Q: x?<br>A: y" + "</div>" * _DEPTH,
    "unclosed details": "<html><body>" + "<details><summary>Why?</summary>" * _DEPTH,
    "unclosed definitions": "<html><body>" + "<dl><dt>Why?</dt><dd>" * _DEPTH,
    # Not nested, but read through the page's text by the Q/A and Markdown readers.
    "code of blanks": "<html><body><pre>Q" + _BLANKS + "x</pre><p>## question" + _BLANKS + "x</p>",
}


def _timed(call, *args) -> float:
    def stop(*_: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(int(LIMIT * 12))
    start = time.process_time()
    try:
        call(*args)
    except ParseError:
        pass
    except TimeoutError:
        return float("inf")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return time.process_time() - start


@pytest.mark.parametrize("fmt", parsers.DETECT_ORDER)
def test_parsers_are_linear_on_hostile_text(fmt: str) -> None:
    parser = parsers.get(fmt)
    slow = {}
    for shape, text in HOSTILE.items():
        for step in ("detect", "parse"):
            spent = _timed(getattr(parser, step), text, "hostile")
            if spent > LIMIT:
                slow[f"{step} {shape}"] = spent
    assert slow == {}


@pytest.mark.parametrize("shape", NESTED)
def test_html_reads_deep_nesting_with_a_bounded_depth(shape: str) -> None:
    spent = _timed(parsers.get("html").parse, NESTED[shape], "deep.html")
    assert spent < LIMIT


def test_html_deep_nesting_keeps_its_text_below_the_bound() -> None:
    from kb.parsers.htmltext import MAX_DEPTH, bounded_markup

    text = "<div>" * (MAX_DEPTH + 10) + "deep words" + "</div>" * (MAX_DEPTH + 10)
    bounded = bounded_markup(text)
    assert bounded.count("<div>") == MAX_DEPTH
    assert bounded.count("</div>") == MAX_DEPTH
    assert "deep words" in bounded
    # A shallow page is passed through untouched, comments and scripts included.
    page = "<p>a<!-- <div><div> --><script>if (a<b) {}</script>" + "<li>x" * 600
    assert bounded_markup(page) == page


@pytest.mark.parametrize("where", ["stdin", "a file without extension"])
def test_ingest_of_a_megabyte_of_blanks_ends_in_seconds(tmp_path, where: str) -> None:
    db, path = tmp_path / "kb.json", tmp_path / "notes"
    blanks = ("Q" + " " * MB + "\n").encode()
    path.write_bytes(blanks)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(db), "ingest", "-" if where == "stdin" else str(path)],
        input=blanks if where == "stdin" else None,
        capture_output=True,
        timeout=120,
    )
    assert time.monotonic() - start < 30
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    assert (b"<stdin>" if where == "stdin" else str(path).encode()) in done.stderr
