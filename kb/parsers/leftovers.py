"""Scraping leftovers in text pages: HTML entities, questioners' ratings, follow-up exchanges.

A page scraped to text often keeps entities the scraper did not decode (``&amp;``,
``&#39;``), the questioner's rating of the answer after it ("Questioner's Rating",
"Knowledgeability = 10", a comment), and a follow-up question with its answer further
down. Entities are decoded; rating blocks are kept out of the entry (the original text
still holds them); each follow-up becomes a section of its own, which the expert-page
parser turns into a linked entry.
"""

from __future__ import annotations

import html
import re

# Only complete references with their ";": "AT&T" and "&c" stay as written. (This reads
# plain text, never markup.)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# The start of a rating block: its heading, or one of its scores.
_RATING = re.compile(
    r"^\s*(?:questioner['\u2019]?s?\s+rating\b|rating\s*\(\s*1\s*-\s*10\s*\)|"
    r"(?:knowledgeability|clarity\s+of\s+response|politeness)\s*=\s*\d+)",
    re.IGNORECASE,
)
# A line on its own that opens a follow-up exchange.
_FOLLOW_UP = re.compile(r"^\s*+(?:follow[\s-]?up|additional\s++question)(?:\s++question)?\s*+:?\s*+$", re.IGNORECASE)

FOLLOW_UP_TAG = "follow-up"


def _decode(match: re.Match[str]) -> str:
    value = html.unescape(match.group(0))
    # A decoded line break would shift every line number after it.
    return " " if value in ("\n", "\r") else value


def decode_entities(text: str) -> str:
    """Decode HTML character references left in scraped text (``&amp;`` -> ``&``)."""
    return _ENTITY.sub(_decode, text) if "&" in text else text


def sections(lines: list[str], numbers: list[int]) -> list[tuple[list[str], list[int]]]:
    """Cut a page's body into the first exchange and its follow-ups, without rating blocks.

    A rating block runs from its first line to the next follow-up (or the end): the
    questioner's comment that closes it is feedback, not part of an answer.
    """
    found: list[tuple[list[str], list[int]]] = [([], [])]
    rating = False
    for line, number in zip(lines, numbers):
        if _FOLLOW_UP.match(line):
            found.append(([], []))
            rating = False
            continue
        if not rating and _RATING.match(line):
            rating = True
        if not rating:
            found[-1][0].append(line)
            found[-1][1].append(number)
    return found


def follow_up_title(title: str, n: int, count: int) -> str:
    """The title of follow-up ``n`` (1-based) of ``count`` on a page titled ``title``."""
    label = "follow-up" if count == 1 else f"follow-up {n}"
    return f"{title} ({label})" if title else ""
