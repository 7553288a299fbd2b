"""Read a search query as people type it into terms, phrases, exclusions and filters.

Pure string handling, no SQL: :func:`parse` turns any text into a :class:`ParsedQuery`,
and :meth:`Term.fts` quotes a term for FTS5 ``MATCH``. Nothing a person types is ever
passed to ``MATCH`` unquoted, so FTS5 operators and punctuation cannot break a search.
"""

from __future__ import annotations

import re

from kb.models import Record

# Words too common to say what a question is about. English function words, plus the
# question and filler words of people asking for help ("can", "please", "know"), plus
# FTS5's own operators so that "and"/"or"/"not" typed as words are never operators.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't
    do does doesn't doing don't down during each either else ever every few for from
    further get gets getting got had hadn't has hasn't have haven't having he he'd he'll
    he's her here here's hers herself him himself his how how's however i i'd i'll i'm
    i've if in into is isn't it it's its itself just let's like may me might more most
    much must mustn't my myself near neither no nor not now of off on once only or other
    ought our ours ourselves out over own please really same shall shan't she she'd she'll
    she's should shouldn't since so some such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've this those
    though through thus to too under until up upon us very was wasn't we we'd we'll we're
    we've were weren't what what's when when's where where's whether which while who who's
    whom whose why why's will with won't would wouldn't yet you you'd you'll you're you've
    your yours yourself yourselves anyone anything someone something thing things know
    tell thanks thank hi hello dear okay ok yes
    """.split()
)

#: Fields a person may name inside the query as ``field:value``.
FILTER_FIELDS = ("category", "expert", "tag")
_FIELD_ALIASES = {
    "category": "category",
    "cat": "category",
    "expert": "expert",
    "tag": "tag",
    "tags": "tag",
    "title": "title",
}

# A word piece as SQLite's unicode61 tokenizer sees it: letters and digits. Everything
# else (hyphens, dots, apostrophes, emoji, ...) separates pieces.
_PIECE = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


class Term(Record):
    """One searchable unit: a word, or a phrase of words that must stand together.

    ``words`` are the pieces as typed (FTS5 folds case, diacritics and stems them);
    ``text`` is the form shown back to people (e.g. in "did you mean"); ``count`` is how
    many times the query holds this term (a long pasted text repeats its topic).
    """

    __slots__ = ("words", "prefix", "column", "text", "count")
    words: list[str]
    prefix: bool
    column: str | None
    text: str
    count: int

    def __init__(
        self, words: list[str], prefix: bool = False, column: str | None = None, text: str = "", count: int = 1
    ) -> None:
        self.words = words
        self.prefix = prefix
        self.column = column
        self.text = text
        self.count = count

    def fts(self) -> str:
        """Return this term as a safe FTS5 expression (quoted, optional prefix/column)."""
        quoted = '"' + " ".join(self.words).replace('"', '""') + '"'
        if self.prefix:
            quoted += " *"
        if self.column:
            quoted = f"{{{self.column}}} : {quoted}"
        return quoted

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


class ParsedQuery(Record):
    """What a query asks for.

    ``should`` terms are OR-ed and ranked; ``must`` terms (quoted phrases, ``title:x``)
    are required; ``exclude`` terms remove entries; ``filters`` map a field to values.
    ``stopped`` lists the words dropped as stop words.
    """

    __slots__ = ("should", "must", "exclude", "filters", "stopped")
    should: list[Term]
    must: list[Term]
    exclude: list[Term]
    filters: dict[str, list[str]]
    stopped: list[str]

    def __init__(
        self,
        should: list[Term] | None = None,
        must: list[Term] | None = None,
        exclude: list[Term] | None = None,
        filters: dict[str, list[str]] | None = None,
        stopped: list[str] | None = None,
    ) -> None:
        self.should = [] if should is None else should
        self.must = [] if must is None else must
        self.exclude = [] if exclude is None else exclude
        self.filters = {} if filters is None else filters
        self.stopped = [] if stopped is None else stopped

    @property
    def has_text(self) -> bool:
        return bool(self.should or self.must)


def parse(query: str) -> ParsedQuery:
    """Parse a query string; never raises, whatever the input."""
    out = ParsedQuery()
    text = (query or "").translate(_APOSTROPHES)
    # The plain words in order, None for a dropped one, to pair bare numbers (_numbers).
    sequence: list[Term | None] = []
    for kind, name, value, quoted in _scan(text):
        if kind == "word" and not quoted:
            sequence.append(None)
        if kind == "field":
            if name == "title":
                term = _make_term(value, phrase=quoted, out=out)
                if term:
                    term.column = "title"
                    out.must.append(term)
            elif value.strip():
                out.filters.setdefault(name, []).append(value.strip())
            continue
        negative = kind == "exclude"
        term = _make_term(value, phrase=quoted, out=None if negative else out)
        if term is None:
            continue
        if negative:
            out.exclude.append(term)
        elif quoted:
            # Quoting says "this exactly": a quoted word or phrase is required.
            out.must.append(term)
        else:
            sequence[-1] = term
    out.should = _dedupe(_numbers(sequence, out))
    return out


def _numbers(sequence: list[Term | None], out: ParsedQuery) -> list[Term]:
    """The plain terms, with each bare number bound to a word beside it.

    A number names something only with its word ("type 2", "spastic paraplegia 39",
    "3 year"); alone it matches any entry that has it ("a fever of 39" is not about
    spastic paraplegia 39). So a number becomes a phrase with the word before it, or else
    the word after it, and is dropped when a stop word stands on both sides.
    """
    terms = [t for t in sequence if t is not None]
    if len(terms) < 2:
        return terms
    result: list[Term] = []
    for i, term in enumerate(sequence):
        if term is None:
            continue
        if len(term.words) != 1 or not term.words[0].isdigit() or term.prefix:
            result.append(term)
            continue
        before = sequence[i - 1] if i > 0 else None
        after = sequence[i + 1] if i + 1 < len(sequence) else None
        if before is not None and not before.prefix:
            words = [*before.words, *term.words]
        elif after is not None and not after.prefix:
            words = [*term.words, *after.words]
        else:
            out.stopped.append(term.words[0])
            continue
        result.append(Term(words, text=" ".join(words)))
    # Numbers alone ("39 and 40") are all there is to search.
    return result or terms


def loosened(parsed: ParsedQuery) -> ParsedQuery:
    """The same query with nothing required or excluded: its phrases and words all ranked.

    For a pasted text, whose quotation marks and dashes are punctuation, not operators.
    """
    terms = [Term(t.words, t.prefix, None, t.text, t.count) for t in parsed.should + parsed.must]
    return ParsedQuery(should=_dedupe(terms), filters=parsed.filters, stopped=parsed.stopped)


def _scan(text: str):
    """Yield (kind, field, value, quoted) tokens: kind is word, exclude or field."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        kind = "word"
        if ch == "-" and i + 1 < n and (text[i + 1] == '"' or _PIECE.match(text, i + 1)):
            kind = "exclude"
            i += 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end != -1:
                yield kind, "", text[i + 1 : end], True
                i = end + 1
                continue
            # An unbalanced quote is a typo, not a phrase: read on as plain words.
            i += 1
            continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        word = text[start:i]
        name, sep, rest = word.partition(":")
        field_name = _FIELD_ALIASES.get(name.lower()) if sep and kind == "word" else None
        if field_name:
            if rest.startswith('"'):
                end = text.find('"', start + len(name) + 2)
                if end != -1:
                    yield "field", field_name, text[start + len(name) + 2 : end], True
                    i = end + 1
                    continue
                rest = rest[1:]
            yield "field", field_name, rest, False
            continue
        yield kind, "", word, False


def _make_term(raw: str, *, phrase: bool, out: ParsedQuery | None) -> Term | None:
    """Turn one typed word or quoted phrase into a Term, or None when nothing is left."""
    word = raw.strip()
    prefix = False
    if not phrase and word.endswith("*"):
        word = word.rstrip("*")
        prefix = True
    lowered = word.lower().strip(".,;:!?()[]{}<>'\"")
    if not phrase:
        if lowered in STOP_WORDS:
            if out is not None:
                out.stopped.append(lowered)
            return None
        # A possessive ("Crohn's") searches for the name; FTS5 would otherwise need "crohn s".
        if lowered.endswith("'s"):
            word = word[: word.lower().rfind("'s")]
    pieces = _PIECE.findall(word)
    if not pieces:
        return None
    if len(pieces) == 1 and not phrase and pieces[0].lower() in STOP_WORDS:
        if out is not None:
            out.stopped.append(pieces[0].lower())
        return None
    # A prefix shorter than three letters would expand to a large share of the vocabulary.
    if prefix and (len(pieces) > 1 or len(pieces[0]) < 3):
        prefix = False
    return Term(words=pieces, prefix=prefix, text=" ".join(pieces) + ("*" if prefix else ""))


def _dedupe(terms: list[Term]) -> list[Term]:
    seen: dict[tuple, Term] = {}
    for term in terms:
        key = (tuple(w.lower() for w in term.words), term.prefix, term.column)
        if key in seen:
            seen[key].count += 1
        else:
            seen[key] = term
    return list(seen.values())
