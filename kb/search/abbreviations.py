"""Abbreviations the knowledge base defines itself: "urinary tract infection (UTI)".

Writing for the public, an entry spells a term out once and puts its short form after it
in parentheses. kb.search.writes finds these definitions in every entry it indexes and
counts them in the ``abbreviations`` table; a search for the short form ("UTIs", "afib")
then also looks for the long one, which is what the entries' titles and questions use.

The long form is matched to the short one as in Schwartz and Hearst's algorithm ("A simple
algorithm for identifying abbreviation definitions in biomedical text", PSB 2003): each
letter of the short form, from its end, is found in the words before the parenthesis,
and its first letter must start a word.

Pure string handling, no SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


@cache
def _definition() -> re.Pattern[str]:
    """A short form in parentheses, "(UTI)", "(AFib)", "(COPD)", "(TIAs)": two to ten
    letters or digits, two of them capitals. Compiled on first use: only a write looks
    for definitions."""
    return re.compile(r"\(([A-Za-z][A-Za-z0-9-]{1,9})\)")


# How many words before the parenthesis the long form may take, beyond one per letter.
_SLACK = 3


def definitions(text: str) -> list[tuple[str, str]]:
    """The (short form folded, long form folded) pairs a text defines, in order."""
    out = []
    for found in _definition().finditer(text):
        short = found.group(1)
        if short.islower() or sum(ch.isupper() for ch in short) < 2:
            continue
        letters = [ch for ch in short.lower() if ch.isalnum()]
        if short.endswith("s") and short[-2:-1].isupper():
            letters = letters[:-1]  # "TIAs": the plural of TIA
        long = _long_form(letters, text[max(0, found.start() - 12 * (len(letters) + _SLACK)) : found.start()])
        if long:
            out.append(("".join(letters), long))
    return out


def _long_form(letters: list[str], before: str) -> str | None:
    """The shortest end of ``before`` whose letters spell ``letters`` (see the module)."""
    if len(letters) < 2:
        return None
    text = before.lower()
    pos = len(text) - 1
    for index in range(len(letters) - 1, -1, -1):
        letter = letters[index]
        pos = text.rfind(letter, 0, pos + 1)
        # The first letter must start a word.
        while index == 0 and pos > 0 and text[pos - 1].isalnum():
            pos = text.rfind(letter, 0, pos)
        if pos < 0:
            return None
        pos -= 1
    words = _WORD.findall(text, pos + 1)
    # A long form as short as its abbreviation, or one word for three letters, is a guess;
    # one of more words than letters and slack has skipped a sentence.
    if not words or len(words) > len(letters) + _SLACK or (len(words) == 1 and len(letters) > 2):
        return None
    long = " ".join(words)
    return long if len(long) > len(letters) else None


def short_forms(word: str) -> list[str]:
    """The forms of a typed word to look up: itself and, for a plural, its singular."""
    folded = word.lower()
    out = [folded]
    if len(folded) > 2 and folded.endswith("s"):
        out.append(folded[:-1])
    return out


def mostly_capitals(short: str, texts: Iterable[str]) -> bool:
    """Whether these texts write ``short`` (folded; its plural too) in capitals ("UTI",
    "UTIs", "AFib") at least as often as in small letters ("men"). A word that starts a
    sentence or a title in one capital says neither."""
    pattern = re.compile(rf"\b{re.escape(short)}s?\b", re.IGNORECASE)
    capitals = small = 0
    for text in texts:
        for found in pattern.finditer(text):
            word = found.group()
            upper = sum(ch.isupper() for ch in word)
            if upper >= 2:
                capitals += 1
            elif not upper:
                small += 1
    return capitals >= small
