"""Markdown notes: one heading (or bold line) per question, its paragraphs and code as the answer.

How people keep Q&A in Markdown: ``## How do I undo the last commit?`` followed by
paragraphs, lists and code blocks; a bold question on a line of its own followed by its
paragraph; or ``**Q: ...**`` / ``A: ...`` lines (read by the Q/A parser). A heading that
does not ask is a section: the nearest one above a question is its category (the file's
``# Title`` when there is no other), unless the front matter names one. A heading below
the question's rank stays in its answer; code blocks are never read as structure. Where
most questions share one rank, a heading that asks above it is a section ("Still have
questions?"), and in a FAQ every heading at that rank is a question, asking or not.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from kb.errors import ParseError
from kb.models import Entry, Source
from kb.parsers.json import clean_text, question_key


def heading_text(text: str) -> str:
    """Return an ATX heading's text without its closing ``#`` run (one after a blank only)."""
    text = text.strip(" \t")
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        return bare.rstrip(" \t")
    return text


_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]++(.*))?$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BOLD = re.compile(r"^[ \t]*+(\*\*|__)(.+)\1[ \t]*+$")
_Q_LABEL = re.compile(r"^(?:q|question)[ \t]*+\d*+[ \t]*+[:.)][ \t]*+", re.IGNORECASE)
# Below every heading: a bold question is ended by any heading.
_BOLD_LEVEL = 7


def asks(text: str) -> bool:
    """Tell whether a heading or bold line asks a question."""
    return text.rstrip(" *_\"')\u201d\u2019").endswith("?")


def _bold_question(line: str) -> str | None:
    m = _BOLD.match(line)
    if m is None or m.group(1) in m.group(2):
        return None
    text = m.group(2).strip()
    return text if asks(text) else None


def find_questions(
    lines: list[str], start: int, rank: int | None = None, faq: bool = False
) -> list[tuple[int, str, list[str], str]]:
    """Return (line index, question, answer lines, section) for each question from ``start``.

    With ``rank`` (the rank most questions have), a heading that asks above that rank is
    a section ("## Still have questions?"), and in a FAQ (``faq``) every heading at that
    rank is a question, asking or not ("### The app is not responding").
    """

    def is_question(heading_rank: int, text: str) -> bool:
        if rank is None:
            return asks(text)
        return (asks(text) and heading_rank >= rank) or (faq and heading_rank == rank and bool(text))

    found: list[tuple[int, str, list[str], str]] = []
    sections: list[tuple[int, str]] = []
    current: tuple[int, str, list[str], str] | None = None
    level = 0  # the current question's rank
    fence = ""
    for i in range(start, len(lines)):
        line = lines[i]
        if fence:
            if line.lstrip(" ").startswith(fence):
                fence = ""
        else:
            opened = _FENCE.match(line)
            if opened:
                fence = opened.group(1)
            else:
                heading = _HEADING.match(line)
                if heading is not None:
                    text = heading_text(heading.group(2) or "")
                    heading_rank = len(heading.group(1))
                    if is_question(heading_rank, text) or current is None or heading_rank <= level:
                        if is_question(heading_rank, text):
                            while sections and sections[-1][0] >= heading_rank:
                                sections.pop()
                            current = (i, text, [], sections[-1][1] if sections else "")
                            found.append(current)
                            level = heading_rank
                            continue
                        current = None
                        while sections and sections[-1][0] >= heading_rank:
                            sections.pop()
                        if text:
                            sections.append((heading_rank, text))
                        continue
                else:
                    bold = _bold_question(line)
                    if bold is not None and (current is None or level == _BOLD_LEVEL or not current[2]):
                        current = (i, bold, [], sections[-1][1] if sections else "")
                        found.append(current)
                        level = _BOLD_LEVEL
                        continue
        if current is not None:
            current[2].append(line)
    return found


def _says_faq(text: str) -> bool:
    lowered = text.lower()
    return "faq" in lowered or "frequently asked" in lowered or "questions" in lowered


def _title(lines: list[str], start: int) -> str:
    """The text of the first ``# Title`` from ``start``, or empty."""
    for line in lines[start:]:
        m = _HEADING.match(line)
        if m is not None and len(m.group(1)) == 1:
            return heading_text(m.group(2) or "")
    return ""


def parse_notes(lines: list[str], start: int, meta: tuple[str, list[str], Any], name: str) -> list[Entry]:
    """Return the entries of a notes file, or raise ParseError when it asks nothing.

    ``meta`` is what the front matter gave every entry: category, tags and expert.
    """
    from kb.parsers import qa

    category, tags, expert = meta
    found = find_questions(lines, start)
    ranks = Counter(len(_HEADING.match(lines[at]).group(1)) for at, _, _, _ in found if _HEADING.match(lines[at]))  # type: ignore[union-attr]
    if ranks:
        rank, count = ranks.most_common(1)[0]
        if count >= 2:
            # Most questions share one rank: read the file again knowing it, and whether the
            # file calls itself a FAQ (its title or a section above that rank says so).
            faq = any(
                _says_faq(heading_text(m.group(2) or ""))
                for line in lines[start:]
                if (m := _HEADING.match(line)) is not None and len(m.group(1)) < rank
            )
            found = find_questions(lines, start, rank, faq)
    headed = any(lines[at].lstrip().startswith("#") for at, _, _, _ in found)
    body = "\n".join(lines[start:]) if not headed else ""
    # "**Q: ...**" then "A: ..." lines: Q/A pairs, though their questions are bold lines.
    if not headed and qa.detect(body, name) >= (0.6 if not found else 0.85):
        entries = qa.parse(body, name)
        for entry in entries:
            entry.source.format = "markdown"
            entry.source.line = (entry.source.line or 1) + start
            entry.category = entry.category or category or _title(lines, start)
        return entries
    if not found:
        raise ParseError(
            "no question found: no '## Question' section, no heading or bold line that asks "
            "(ending in '?'), and no 'Q:'/'A:' lines",
            path=name,
            hint="see `kb export --format md` for kb's own layout",
        )
    keys: dict[str, int] = {}
    entries = []
    for at, heading, answer_lines, section in found:
        question = clean_text(_Q_LABEL.sub("", heading, count=1))
        answer = clean_text("\n".join(answer_lines))
        if not question or not answer:
            continue  # a question not answered yet: nothing to look up
        entries.append(
            Entry(
                question=question,
                answer=answer,
                category=category or section,
                tags=list(tags),
                expert=expert,
                source=Source(path=name, format="markdown", key=question_key(question, keys), line=at + 1),
                raw="\n".join([lines[at], *answer_lines]).strip("\n"),
            )
        )
    if not entries:
        at = found[0][0]
        raise ParseError(f"question at line {at + 1} has no answer under it", path=name, line=at + 1)
    return entries
