"""The parser registry: one module per input format, imported on first use.

Every parser module provides ``NAME``, ``detect(text, name) -> float`` (0 = surely not,
1 = surely) and ``parse(text, name) -> list[Entry]``, and raises ``ParseError`` naming the
file and line. Streamed formats (JSONL, CSV) may also provide ``iter_parse(lines, name)``
yielding entries, or ``ParseError`` objects for bad records, so huge files need not be
held in memory.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from kb.errors import ParseError

if TYPE_CHECKING:
    from kb.models import Entry

# Registry name -> module name; the name is what `--format` takes and what
# `source.format` records.
FORMATS: dict[str, str] = {
    "expert-page": "kb.parsers.expert_page",
    "qa": "kb.parsers.qa",
    "markdown": "kb.parsers.markdown",
    "json": "kb.parsers.json",
    "jsonl": "kb.parsers.jsonl",
    "csv": "kb.parsers.csv",
}

# File name endings that settle the format without looking at the text.
EXTENSIONS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
}

# Below this, no parser is sure enough and the file is reported as unrecognised.
MIN_CONFIDENCE = 0.3
# At or above this a detector is sure, and the ones after it are not asked.
SURE = 0.85
# The order detectors are asked in: specific, cheap markers first (a JSON document's
# first character, a `Q:` line, Markdown's headings, a CSV header), the expert page's
# heuristics last. Detection of 16k one-pair files spent 2.3 s asking every detector.
DETECT_ORDER = ("json", "jsonl", "qa", "markdown", "csv", "expert-page")
# A scraped expert page carries its site's footer; such a text asks that detector first,
# so Q/A markers inside a page's question never take it for a FAQ.
EXPERT_PAGE_MARKERS = ("All Answers", "Answers by Expert", "Ask Experts")


class Parser(Protocol):
    NAME: str

    def detect(self, text: str, name: str) -> float: ...

    def parse(self, text: str, name: str) -> list[Entry]: ...


_loaded: dict[str, ModuleType] = {}


def get(name: str) -> Parser:
    """Return the parser registered as ``name``."""
    if name not in FORMATS:
        known = ", ".join(FORMATS)
        raise ParseError(f"unknown format {name!r}", hint=f"choose one of: {known}")
    if name not in _loaded:
        _loaded[name] = importlib.import_module(FORMATS[name])
    return _loaded[name]  # type: ignore[return-value]


def detect(text: str, name: str) -> str:
    """Pick the format of ``text`` (from file ``name``), or raise ParseError saying why not."""
    lowered = name.lower()
    for ending, fmt in EXTENSIONS.items():
        if lowered.endswith(ending):
            return fmt
    order = DETECT_ORDER
    if any(marker in text for marker in EXPERT_PAGE_MARKERS):
        order = ("expert-page",) + tuple(f for f in DETECT_ORDER if f != "expert-page")
    best, best_score = None, 0.0
    for fmt in order:
        score = get(fmt).detect(text, name)
        if score > best_score:
            best, best_score = fmt, score
        if score >= SURE:
            break
    if best is None or best_score < MIN_CONFIDENCE:
        raise ParseError("no question and answer found (not a format kb reads)", path=name)
    return best
