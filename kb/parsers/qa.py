"""Q/A text: questions and answers marked ``Q:``/``A:`` or ``Question:``/``Answer:``.

One file may hold many pairs (an FAQ). Markers are case-insensitive and may be numbered
(``Q3:``) or bold (``**Q:**``); ``Q.``/``A.`` (capital letter, then a space) also work.
The first question marker fixes the punctuation for the file, so in a ``Q:`` file a
lettered list line such as ``A. Turn off the water`` stays answer text. A marker's text
runs to the next marker, blank lines (paragraphs) included.

Lines before the first question may set ``Title:``, ``Category:``, ``Tags:`` (comma
separated) and ``Expert:`` for every pair in the file. A ``Title:`` line directly above a
``Q:`` line (no blank line between) titles that pair only, and wins over the file's title.

A file with a question and no answer, an answer and no question, or an empty one is
reported as a whole (ParseError naming the first bad pair's line) rather than half
imported: an FAQ is one document, and fixing it then re-ingesting is cleaner than a store
holding part of it.
"""

from __future__ import annotations

import re

from kb.errors import ParseError
from kb.models import Entry, Expert, Source, split_tags
from kb.parsers.json import clean_text, question_key

NAME = "qa"

# Possessive quantifiers (``*+``) never give back what they took: two runs of blanks side
# by side cannot retry every split between them, which made a line of 10k spaces cost 4 s.
_MARKER = re.compile(
    r"^[ \t]*+(?:\*\*|__)?[ \t]*+(?P<word>question|answer|q|a)(?:[ \t]*+\d++)?[ \t]*+"
    r"(?:\*\*|__)?[ \t]*+(?P<punct>[:.])(?:\*\*|__)?",
    re.IGNORECASE,
)
_HEADER = re.compile(r"^[ \t]*+(?P<key>title|category|tags|expert)[ \t]*+:(?P<value>.*)$", re.IGNORECASE)


def _marker(line: str) -> tuple[str, str, str] | None:
    """Return (kind 'q'/'a', punctuation, text after the marker) for a marker line."""
    m = _MARKER.match(line)
    return None if m is None else _read_marker(m, line)


def _read_marker(m: re.Match[str], line: str) -> tuple[str, str, str] | None:
    word, punct, rest = m.group("word"), m.group("punct"), line[m.end() :]
    if punct == ".":
        # "Q." only as a capital letter or a whole word followed by a space: not "a.m."
        if word in ("q", "a") or (rest and not rest[0].isspace()):
            return None
    kind = "q" if word.lower().startswith("q") else "a"
    rest = rest.strip()
    for bold in ("**", "__"):
        # "**Q: How do I ...?**": the bold that opened before the marker closes here.
        if rest.endswith(bold) and rest.count(bold) % 2 == 1:
            rest = rest[:-2].rstrip()
    return kind, punct, rest


def _markers(lines: list[str]) -> list[tuple[int, str, str]]:
    """Return (line index, kind, text) of every marker in the file's punctuation style."""
    match = _MARKER.match
    found = [(i, _read_marker(m, line)) for i, line in enumerate(lines) if (m := match(line)) is not None]
    style = next((mk[1] for _, mk in found if mk is not None and mk[0] == "q"), None)
    if style is None:
        style = next((mk[1] for _, mk in found if mk is not None), None)
    return [(i, mk[0], mk[2]) for i, mk in found if mk is not None and mk[1] == style]


def _is_title(line: str) -> bool:
    m = _HEADER.match(line)
    return m is not None and m.group("key").lower() == "title"


def parse(text: str, name: str) -> list[Entry]:
    """Return the pairs of a Q/A text, or raise ParseError at the first bad pair."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    markers = _markers(lines)
    if not markers:
        raise ParseError("no 'Q:'/'A:' markers found", path=name)

    # File-wide headers: lines before the first marker, less a pair title right above it.
    first = markers[0][0]
    header_end = first - 1 if first > 0 and _is_title(lines[first - 1]) else first
    headers: dict[str, str] = {}
    for line in lines[:header_end]:
        m = _HEADER.match(line)
        if m:
            headers.setdefault(m.group("key").lower(), clean_text(m.group("value")))
    expert = Expert(name=headers["expert"]) if headers.get("expert") else None

    entries: list[Entry] = []
    keys: dict[str, int] = {}
    single = len(markers) == 2
    for n in range(0, len(markers), 2):
        q_at, kind, q_first = markers[n]
        if kind != "q":
            raise ParseError(f"answer at line {q_at + 1} has no question", path=name, line=q_at + 1)
        if n + 1 >= len(markers) or markers[n + 1][1] != "a":
            raise ParseError(f"question at line {q_at + 1} has no answer", path=name, line=q_at + 1)
        a_at, _, a_first = markers[n + 1]
        a_end = markers[n + 2][0] if n + 2 < len(markers) else len(lines)
        if n + 2 < len(markers) and a_end > a_at + 1 and _is_title(lines[a_end - 1]):
            a_end -= 1  # that line titles the next pair
        question = clean_text("\n".join([q_first, *lines[q_at + 1 : a_at]]))
        answer = clean_text("\n".join([a_first, *lines[a_at + 1 : a_end]]))
        if not question:
            raise ParseError(f"question at line {q_at + 1} is empty", path=name, line=q_at + 1)
        if not answer:
            raise ParseError(f"answer at line {a_at + 1} is empty", path=name, line=a_at + 1)
        start = q_at
        title = headers.get("title", "")
        if q_at > 0 and _is_title(lines[q_at - 1]):
            own = clean_text(_HEADER.match(lines[q_at - 1]).group("value"))  # type: ignore[union-attr]
            if own:
                title, start = own, q_at - 1
        raw = text if single else "\n".join(lines[start:a_end]).rstrip()
        entries.append(
            Entry(
                question=question,
                answer=answer,
                title=title,
                category=headers.get("category", ""),
                tags=split_tags(headers.get("tags", "")),
                expert=expert,
                source=Source(path=name, format=NAME, key=question_key(question, keys), line=start + 1),
                raw=raw,
            )
        )
    return entries


def detect(text: str, name: str) -> float:
    """Score how surely ``text`` is Q/A text: a question marker line, then an answer one."""
    # The first few thousand lines tell; a huge file need not be scanned to the end.
    lines = text.lstrip("\ufeff").replace("\r", "\n").split("\n", 5000)[:5000]
    # As _markers reads them: the first question fixes the punctuation, and an answer in
    # that punctuation after it makes a pair. Reading stops there, a few lines in.
    match = _MARKER.match
    style = None
    for line in lines:
        m = match(line)
        marker = _read_marker(m, line) if m is not None else None
        if marker is None:
            continue
        if style is None:
            if marker[0] == "q":
                style = marker[1]
        elif marker[0] == "a" and marker[1] == style:
            return 0.85 if style == ":" else 0.6
    if style is None:
        return 0.0
    colon = style == ":"
    # A question with no answer yet: claim it weakly, so the user hears what is missing.
    return 0.35 if colon else 0.0
