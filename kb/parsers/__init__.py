"""The parser registry: one record per input format, its module imported on first use.

Every parser module provides ``NAME``, ``detect(text, name) -> float`` (0 = surely not,
1 = surely) and ``parse(text, name) -> list[Entry]``, and raises ``ParseError`` naming the
file and line. Streamed formats (JSONL, CSV) may also provide ``iter_parse(lines, name)``
yielding entries, or ``ParseError`` objects for bad records, so huge files need not be
held in memory. Formats read from a binary stream (a StackExchange dump's XML) provide
``detect_head(head, name)`` and ``iter_parse_file(fh, name, options)`` instead; they may
also yield ``Skipped`` counts for what they deliberately leave out.

A format is described once, in ``REGISTRY``; the tables the rest of kb reads (names,
extensions, detection order, streamed formats, the ``--format`` help) derive from it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from kb.errors import ParseError

if TYPE_CHECKING:
    from kb.models import Entry


@dataclass(frozen=True)
class Format:
    """What kb knows about one input format before importing its parser."""

    name: str  # what `--format` takes and `source.format` records
    module: str
    help: str  # one line for `kb ingest --help` and the README
    extensions: tuple[str, ...] = ()  # file name endings that settle the format unread
    priority: int = 50  # detectors are asked in rising priority; cheap, specific ones first
    streamed: bool = False  # read record by record from text lines, size not capped
    binary: bool = False  # read from the binary stream itself (iter_parse_file)
    addable: bool = False  # what `kb add` accepts on stdin
    # Text holding any of these asks this detector at ``marked_priority`` instead.
    markers: tuple[str, ...] = ()
    marked_priority: int | None = None


REGISTRY: tuple[Format, ...] = (
    # HTML first: its detector looks at the first non-blank character only, and an expert
    # page saved as HTML carries the text page's footer markers too.
    Format(
        "html",
        "kb.parsers.html",
        "a web page: schema.org FAQPage/QAPage markup, else its main text",
        (".html", ".htm", ".xhtml"),
        priority=0,
    ),
    Format(
        "stackexchange",
        "kb.parsers.stackexchange",
        "a StackExchange dump: Posts.xml, or the dump's folder (Users.xml beside it)",
        (
            "posts.xml",
            "users.xml",
            "comments.xml",
            "votes.xml",
            "badges.xml",
            "tags.xml",
            "posthistory.xml",
            "postlinks.xml",
        ),
        priority=5,
        binary=True,
    ),
    Format(
        "json",
        "kb.parsers.json",
        "an array of objects (or one) with question, answer, ...",
        (".json",),
        priority=10,
        addable=True,
    ),
    Format(
        "jsonl",
        "kb.parsers.jsonl",
        "one JSON object per line",
        (".jsonl", ".ndjson"),
        priority=20,
        streamed=True,
        addable=True,
    ),
    Format("qa", "kb.parsers.qa", "Q:/A: or Question:/Answer: pairs", priority=30),
    Format(
        "markdown",
        "kb.parsers.markdown",
        "## Question / ## Answer sections, optional front matter",
        (".md", ".markdown"),
        priority=40,
        addable=True,
    ),
    Format("csv", "kb.parsers.csv", "a header row naming the columns", (".csv", ".tsv"), priority=50, streamed=True),
    # A scraped expert page carries its site's footer; such a text asks this detector
    # (nearly) first, so Q/A markers inside a page's question never take it for a FAQ.
    Format(
        "expert-page",
        "kb.parsers.expert_page",
        'a scraped "ask an expert" page (see seeds/)',
        priority=90,
        markers=("All Answers", "Answers by Expert", "Ask Experts"),
        marked_priority=6,
    ),
)
BY_NAME: dict[str, Format] = {f.name: f for f in REGISTRY}

# Registry name -> module name.
FORMATS: dict[str, str] = {f.name: f.module for f in REGISTRY}
# File name endings that settle the format without looking at the text.
EXTENSIONS: dict[str, str] = {ext: f.name for f in REGISTRY for ext in f.extensions}
# The order detectors are asked in: specific, cheap markers first (a page's "<", a JSON
# document's first character, a `Q:` line, Markdown's headings, a CSV header), the expert
# page's heuristics last. Detection of 16k one-pair files spent 2.3 s asking every detector.
DETECT_ORDER: tuple[str, ...] = tuple(f.name for f in sorted(REGISTRY, key=lambda f: f.priority) if not f.binary)
STREAMED: frozenset[str] = frozenset(f.name for f in REGISTRY if f.streamed)
_ENDINGS: tuple[str, ...] = tuple(EXTENSIONS)
_MARKED: tuple[Format, ...] = tuple(f for f in REGISTRY if f.markers and f.marked_priority is not None)
BINARY: tuple[str, ...] = tuple(f.name for f in REGISTRY if f.binary)
ADDABLE: tuple[str, ...] = tuple(f.name for f in REGISTRY if f.addable)

# Below this, no parser is sure enough and the file is reported as unrecognised.
MIN_CONFIDENCE = 0.3
# At or above this a detector is sure, and the ones after it are not asked.
SURE = 0.85


def format_help() -> str:
    """Return the list of format names, for `kb ingest --format`'s help."""
    return ", ".join(FORMATS)


@dataclass
class Skipped:
    """Records a parser left out on purpose (unanswered questions, ...): how many, and why."""

    path: str
    reason: str
    count: int = 1


class Parser(Protocol):
    NAME: str

    def detect(self, text: str, name: str) -> float: ...

    def parse(self, text: str, name: str) -> list[Entry]: ...


_loaded: dict[str, ModuleType] = {}


def get(name: str) -> Parser:
    """Return the parser registered as ``name``."""
    if name not in FORMATS:
        raise ParseError(f"unknown format {name!r}", hint=f"choose one of: {format_help()}")
    if name not in _loaded:
        _loaded[name] = importlib.import_module(FORMATS[name])
    return _loaded[name]


def by_extension(name: str) -> str | None:
    """Return the format a file name's ending settles, or None."""
    lowered = name.lower()
    if not lowered.endswith(_ENDINGS):  # most names of text files: one test, not one per ending
        return None
    for ending, fmt in EXTENSIONS.items():
        if lowered.endswith(ending):
            return fmt
    return None


def detect(text: str, name: str, among: tuple[str, ...] | None = None) -> str:
    """Pick the format of ``text`` (from file ``name``), or raise ParseError saying why not.

    ``among`` limits the formats considered (and then the file name is not consulted).
    """
    if among is None:
        fmt = by_extension(name)
        if fmt is not None and not BY_NAME[fmt].binary:
            return fmt
    candidates = [BY_NAME[f] for f in (DETECT_ORDER if among is None else among) if f in BY_NAME]

    def priority(f: Format) -> int:
        if f.marked_priority is not None and any(marker in text for marker in f.markers):
            return f.marked_priority
        return f.priority

    # Only a format whose markers the text holds moves in the order (DETECT_ORDER is
    # sorted by priority already), so the sort is skipped for most texts.
    if among is not None or any(any(m in text for m in f.markers) for f in _MARKED):
        candidates.sort(key=priority)
    best, best_score = None, 0.0
    for record in candidates:
        score = get(record.name).detect(text, name)
        if score > best_score:
            best, best_score = record.name, score
        if score >= SURE:
            break
    if best is None or best_score < MIN_CONFIDENCE:
        raise ParseError("no question and answer found (not a format kb reads)", path=name)
    return best


def detect_binary(head: bytes, name: str) -> str | None:
    """Return the binary-streamed format that a file's first bytes (or its name) show, or None."""
    fmt = by_extension(name)
    if fmt is not None:
        return fmt if BY_NAME[fmt].binary else None
    for fmt in BINARY:
        if get(fmt).detect_head(head, name):  # type: ignore[attr-defined]
            return fmt
    return None
