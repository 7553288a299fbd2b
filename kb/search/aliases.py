"""Aliases the knowledge base defines itself: "ringing in the ears (tinnitus)", "TIAs,
sometimes called mini-strokes".

Writing for the public, an entry puts the everyday words and the term side by side in a few
constructions of English: a description followed by its term in parentheses ("weak muscle
tone (hypotonia)"), or a name followed by ", also called" (or "also known as", "sometimes
called", "commonly referred to as" ...) and another name. kb.search.vocabulary counts the
pairs these definitions make in every entry it indexes; a question that says one side then
also searches the other, where the entries' titles and questions use it more.

A definition's right side is bounded by its construction (the parenthesis, the clause after
"also called"); its left side is not: "stroke and transient ischemic attack (mini-stroke)".
So each definition is counted once for every extent of its left side, of one to
``MAX_WORDS`` content words back to the clause's start (punctuation, "and", "or"), and the
query side keeps an extent only where no longer one accounts for most of its definitions
(:func:`choose`): "ears" (tinnitus) is always "ringing in the ears" in the corpus, so the
word "ears" alone brings nothing.

Sides are compared by their keys: the content words (kb.search.query.STOP_WORDS aside),
folded, hyphens split, a plural's final "s" dropped, so that "ringing in my ears" says
"ringing in the ears" and "mini stroke" says "mini-strokes".

Pure string handling, no SQL: both backends learn and choose with these functions.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import NamedTuple

from kb.models import FrozenRecord
from kb.search.query import STOP_WORDS
from kb.search.schema import fold

# How many content words a side may have: a longer one is a description, not a name a
# person would type.
MAX_WORDS = 4
# A left extent is not a phrase of its own when one a word longer holds at least this share
# of its definitions ("ears" in "ringing in the ears (tinnitus)").
EXTEND_SHARE = 0.5

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_PIECE = re.compile(r"[^\W_]+")
# A left side starts after the last punctuation or line break before it, or after "and" or
# "or", which start another item of a list.
_LIST_WORDS = frozenset({"and", "or"})
# ", also called", "(also known as", ", sometimes called", ", commonly referred to as": the
# naming words are found first (str.find), then what stands before them.
_NAMING = ("called ", "known as ", "referred to as ")


class _Patterns:
    """What finds definitions in a text, compiled on first use: only a write learns
    definitions, and compiling these cost every command ~1.5 ms when kb.search loaded."""

    def __init__(self) -> None:
        # "(tinnitus)", "(Mini-Stroke)", "(\"mini-strokes\")": one word of letters, capitals
        # only at the start of its parts (two capitals elsewhere make it an abbreviation:
        # kb.search.abbreviations).
        self.one_word = re.compile(r"\(\s*[\"“']?([A-Za-z][a-z]{2,}(?:-[A-Za-z][a-z]+)*)[\"”']?\s*\)")
        # What stands before the naming words (_NAMING).
        self.named_after = re.compile(
            r"([,(])[\"”]?\s*(?:also|sometimes|commonly|often|more commonly)\s+$", re.IGNORECASE
        )
        # Where a left side starts: after the last punctuation or line break before it (or
        # after one of _LIST_WORDS).
        self.last_mark = re.compile(r".*[.,;:!?()\[\]{}\"“”\n]", re.DOTALL)
        self.alternative = re.compile(r"\s+or\s+", re.IGNORECASE)
        self.side_end = re.compile(r"[.,;:!?()\[\]{}\n]")


@cache
def _patterns() -> _Patterns:
    return _Patterns()


# How many characters beside a definition its sides are looked for in (MAX_WORDS words).
_REACH = 80


class Side(NamedTuple):
    """One side of an alias: its key (see the module) and its words as written, folded."""

    key: str
    text: str


def key(text: str) -> str:
    """The content words of a text, folded, hyphens split, plurals' final "s" dropped."""
    out: list[str] = []
    for word in _WORD.findall(text):
        found = _word_key(word)
        out.extend((fold(word),) if found is None else found)
    return " ".join(out)


@lru_cache(maxsize=1 << 16)
def _word_key(word: str) -> tuple[str, ...] | None:
    """The key's pieces of one word (a corpus repeats its words: each is keyed once); None
    for a word with a digit, which no side may hold."""
    if not word.isalpha() and any(ch.isdigit() for ch in word):
        return None
    out = []
    for piece in _PIECE.findall(word):
        folded = fold(piece)
        if folded in STOP_WORDS:
            continue
        if len(folded) > 3 and folded.endswith("s") and not folded.endswith("ss"):
            folded = folded[:-1]
        out.append(folded)
    return tuple(out)


def definitions(text: str) -> list[tuple[Side, Side]]:
    """The (left extent, right side) pairs the text's definitions make, every extent of
    each left side (see the module), in order."""
    out: list[tuple[Side, Side]] = []
    patterns = _patterns()
    if "(" in text:
        for found in patterns.one_word.finditer(text):
            right = _side(found.group(1))
            if right is not None and len(right.key.split()) <= 2:
                out.extend(
                    (left, right) for left in _lefts(text, found.start(), _shortest(right)) if left.key != right.key
                )
    for naming in _NAMING:
        at = text.find(naming)
        while at >= 0:
            before = patterns.named_after.search(text, max(0, at - 32), at)
            if before is not None:
                out.extend(_named(text, before.start(), before.group(1), at + len(naming)))
            at = text.find(naming, at + 1)
    return out


def _named(text: str, start: int, mark: str, end: int) -> list[tuple[Side, Side]]:
    """The pairs of one ", also called" construction: it starts with ``mark`` at ``start``
    and its names begin at ``end`` ("also called a TIA or a transient ischemic attack")."""
    rest = text[end : end + _REACH]
    patterns = _patterns()
    stop = patterns.side_end.search(rest)
    rights = [_side(part) for part in patterns.alternative.split(rest[: stop.start() if stop else len(rest)])]
    if mark == "," and text[:start].rstrip().endswith(")"):
        # "transient ischemic attack (TIA), also called ...": the name before the parenthesis.
        start = text.rfind("(", 0, start)
    lefts = _lefts(text, start) if start > 0 else []
    return [
        (left, right)
        for right in rights
        if right is not None
        for left in lefts
        if left.key != right.key and len(left.key.split()) >= _shortest(right)
    ]


def _shortest(right: Side) -> int:
    """How few words a left extent paired with this right side may have: a pair of one
    word with one word is never searched (kb.search.vocabulary.MIN_SAID_WORDS), while a
    right side of two words or more may bring back a left side of one ("mini-stroke" ->
    "TIA")."""
    return 1 if " " in right.key else 2


def _side(text: str) -> Side | None:
    """A side from its words, or None when it has no content word or too many."""
    return _extent(_WORD.findall(text))


def _extent(words: list[str]) -> Side | None:
    """A side of these words, from its first content word ("a TIA" is "tia"); None when it
    has no content word, too many, or a number."""
    pieces: list[str] = []
    first = None
    for index, word in enumerate(words):
        found = _word_key(word)
        if found is None:
            return None
        if found and first is None:
            first = index
        pieces.extend(found)
    if first is None or len(pieces) > MAX_WORDS:
        return None
    return Side(" ".join(pieces), fold(" ".join(words[first:])))


def _lefts(text: str, end: int, shortest: int = 1) -> list[Side]:
    """Every extent of the left side that ends at ``end``: ``shortest`` to MAX_WORDS content
    words back to the clause's start (a mark of punctuation, _LIST_WORDS)."""
    before = text[max(0, end - _REACH) : end]
    mark = _patterns().last_mark.match(before)
    words = _WORD.findall(before, mark.end() if mark else 0)
    out: list[Side] = []
    pieces: list[str] = []
    for start in range(len(words) - 1, -1, -1):
        found = _word_key(words[start])
        if found is None or words[start].lower() in _LIST_WORDS:
            break
        if not found:
            continue
        pieces[:0] = found
        if len(pieces) > MAX_WORDS:
            break
        if len(pieces) >= shortest:
            out.append(Side(" ".join(pieces), fold(" ".join(words[start:]))))
    return out


def windows(words: list[str]) -> dict[str, str]:
    """The keys of every run of one to MAX_WORDS of a question's words (its stop words
    already dropped), each with the run's text."""
    keyed = [(w, key(w)) for w in words]
    keyed = [(w, k) for w, k in keyed if k]
    out: dict[str, str] = {}
    for start in range(len(keyed)):
        for stop in range(start + 1, min(start + MAX_WORDS, len(keyed)) + 1):
            run = keyed[start:stop]
            found = " ".join(k for _, k in run)
            if len(found.split()) <= MAX_WORDS:
                out.setdefault(found, " ".join(w for w, _ in run))
    return out


class Alias(FrozenRecord):
    """A learned pair: the left side's key and text, the right side's, and how many
    definitions made it."""

    __slots__ = ("left", "right", "left_text", "right_text", "n")
    left: str
    right: str
    left_text: str
    right_text: str
    n: int

    def __init__(self, left: str, right: str, left_text: str, right_text: str, n: int) -> None:
        self._set(left, right, left_text, right_text, n)


def choose(rows: list[Alias], keys: set[str], min_definitions: int) -> list[tuple[str, str, int]]:
    """The (the question's side, the other side, definitions) that a question whose runs
    have these ``keys`` may also search, commonest first.

    ``rows`` are every pair whose right side is one of the keys or is paired with a left
    side that is. A left extent counts only where no extent a word longer holds
    EXTEND_SHARE of its definitions; a right side said by the question brings its commonest
    such left side.
    """
    by_right: dict[str, list[Alias]] = {}
    for row in rows:
        by_right.setdefault(row.right, []).append(row)
    out: list[tuple[str, str, int]] = []
    for right, group in by_right.items():
        longer: dict[str, int] = {}
        for row in group:
            shorter = row.left.split(" ", 1)
            if len(shorter) == 2:
                longer[shorter[1]] = max(longer.get(shorter[1], 0), row.n)
        closed = [r for r in group if r.n >= min_definitions and longer.get(r.left, 0) < EXTEND_SHARE * r.n]
        for row in closed:
            if row.left in keys and right not in keys:
                out.append((row.left_text, row.right_text, row.n))
        if right in keys and closed:
            best = max(closed, key=lambda r: (r.n, len(r.left)))
            if best.left not in keys:
                out.append((best.right_text, best.left_text, best.n))
    out.sort(key=lambda item: -item[2])
    return out
