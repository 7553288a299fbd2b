"""The knowledge base's own vocabulary: the abbreviations and aliases its entries define,
counted as they are written and used by a question that says one side of them.

Both backends keep the counts in two tables, ``abbreviations`` (short, long, n) and
``aliases`` (left, right, left_text, right_text, n), and change them with every write: an
entry added counts its answer's definitions in, one removed or replaced counts them out
(:func:`learn` gives both). At query time :func:`expansions` chooses what a question also
searches, through the backend's :class:`Lookup`. What is found and how is described in
kb.search.abbreviations and kb.search.aliases.

Pure: no SQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

from kb.models import Record
from kb.search import abbreviations, aliases
from kb.search.query import Term
from kb.search.schema import WORD, fold

# An abbreviation is expanded in queries once the entries define it this many times: one
# definition may be a one-off or a misreading.
MIN_DEFINITIONS = 2
# ... and, typed in small letters, when the entries that use the word write it in capitals
# at least as often (abbreviations.mostly_capitals), judged on this many of them: "men"
# is not MEN (multiple endocrine neoplasia).
ABBREVIATION_SAMPLE = 20
# An alias is searched once this many definitions made it: its left side is a guess at
# where a description starts, which one definition does not settle.
MIN_ALIAS_DEFINITIONS = 2
# At most this many aliases are added to a question.
MAX_ALIASES = 2
# The question's side of an alias must have this many content words: one word alone has
# other senses in other texts ("loss (atrophy)", "both ears (bilateral)"); a phrase
# ("ringing in the ears", "mini-stroke") pins its sense. (A short form is an
# abbreviation's business.)
MIN_SAID_WORDS = 2


class Learned(Record):
    """The definitions some texts make: each pair's count, and each alias's texts (the
    first seen)."""

    __slots__ = ("abbreviations", "aliases", "texts")
    abbreviations: Counter[tuple[str, str]]
    aliases: Counter[tuple[str, str]]
    texts: dict[tuple[str, str], tuple[str, str]]

    def __init__(self) -> None:
        self.abbreviations = Counter()
        self.aliases = Counter()
        self.texts = {}

    def abbreviation_rows(self, sign: int = 1) -> list[tuple[str, str, int]]:
        """(short, long, n) rows, n times ``sign``, in key order (writers then lock rows
        in one order)."""
        return [(short, long, sign * n) for (short, long), n in sorted(self.abbreviations.items())]

    def alias_rows(self, sign: int = 1) -> list[tuple[str, str, str, str, int]]:
        """(left, right, left_text, right_text, n) rows, n times ``sign``, in key order."""
        return [(*pair, *self.texts[pair], sign * n) for pair, n in sorted(self.aliases.items())]

    def __bool__(self) -> bool:
        return bool(self.abbreviations or self.aliases)


def learn(answers: Iterable[str]) -> Learned:
    """Count the abbreviations and aliases these answers define."""
    out = Learned()
    for text in answers:
        out.abbreviations.update(abbreviations.definitions(text))
        for left, right in aliases.definitions(text):
            pair = (left.key, right.key)
            out.aliases[pair] += 1
            out.texts.setdefault(pair, (left.text, right.text))
    return out


class Lookup(Protocol):
    """What :func:`expansions` asks a backend."""

    def definitions(self, shorts: list[str], keys: list[str]) -> tuple[list[tuple[str, str]], list[aliases.Alias]]:
        """The (short, long) pairs of these short forms defined at least MIN_DEFINITIONS
        times, commonest first; and every alias whose right side is one of ``keys`` or is
        paired with a left side that is (see kb.search.aliases.choose)."""

    def heads_naming(self, text: str) -> int:
        """How many entries' heads (title, question, tags) hold this phrase, up to 1000."""

    def texts_using(self, word: str, most: int) -> list[str]:
        """The titles, questions and answers of up to ``most`` entries that hold this word."""


def expansions(should: list[Term], known: set[str], lookup: Lookup) -> list[Term]:
    """The other sides of the abbreviations and aliases the question's words say, where
    the entries' titles and questions use them more than the question's side.

    "UTIs" also searches "urinary tract infection", "ringing in my ears" "tinnitus": the
    knowledge base's name for what the question says (the name is left alone where the
    entries use the question's own words: "COPD", "high blood pressure"). ``known`` holds
    the folded words the query already searches; what is added joins it.
    """
    forms: dict[str, str] = {}
    for term in should:
        if term.is_phrase or term.prefix:
            continue
        for form in abbreviations.short_forms(fold(term.words[0])):
            forms.setdefault(form, term.words[0])
    words: list[str] = []
    for term in should:
        if term.prefix or term.column:
            continue
        for word in term.words:
            if not words or words[-1] != word:
                words.append(word)
    keys = [k for k in aliases.windows(words) if len(k.split()) >= MIN_SAID_WORDS] if MAX_ALIASES else []
    if not forms and not keys:
        return []
    long_forms, rows = lookup.definitions(sorted(forms), keys)
    heads: dict[str, int] = {}

    def naming(text: str) -> int:
        if text not in heads:
            heads[text] = lookup.heads_naming(text)
        return heads[text]

    def written_short(short: str) -> bool:
        typed = forms[short]
        if sum(ch.isupper() for ch in typed) >= 2:
            return True
        return abbreviations.mostly_capitals(short, lookup.texts_using(short, ABBREVIATION_SAMPLE))

    return _long_forms(forms, long_forms, known, naming, written_short) + _aliases(keys, rows, known, naming)


def _long_forms(
    forms: dict[str, str],
    found: list[tuple[str, str]],
    known: set[str],
    naming: Callable[[str], int],
    written_short: Callable[[str], bool],
) -> list[Term]:
    """The long forms ``found`` for the question's words (``forms``: each short form
    looked up, with the word it came from): a word's commonest long form, where more
    heads use it than the short form, and the word is one the entries write as an
    abbreviation (``written_short``) or the question typed in capitals."""
    out: list[Term] = []
    expanded: set[str] = set()
    for short, long in found:
        if forms[short] in expanded or long in known:
            continue
        expanded.add(forms[short])
        if naming(long) <= naming(short) or not written_short(short):
            continue
        known.add(long)
        out.append(Term(long.split(), text=long))
    return out


def _aliases(keys: list[str], rows: list[aliases.Alias], known: set[str], naming: Callable[[str], int]) -> list[Term]:
    """The other sides of the aliases whose side of MIN_SAID_WORDS or more words the
    question says (``keys``; kb.search.aliases.choose), at most MAX_ALIASES."""
    out: list[Term] = []
    seen: set[str] = set()
    for said, other, _ in aliases.choose(rows, set(keys), MIN_ALIAS_DEFINITIONS):
        pieces = WORD.findall(other)
        text = " ".join(pieces)
        if not pieces or text in known or aliases.key(text) in seen:
            continue
        seen.add(aliases.key(text))
        if naming(text) <= naming(" ".join(WORD.findall(said))):
            continue
        known.add(text)
        out.append(Term(pieces, text=text))
        if len(out) >= MAX_ALIASES:
            break
    return out
