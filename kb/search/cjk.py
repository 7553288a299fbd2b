"""Chinese, Japanese and Korean text: overlapping character pairs that FTS5 can match.

SQLite's unicode61 tokenizer keeps a run of these characters as one token ("糖尿病とは"),
so only the whole run would match. The ``cjk`` table (kb.search.schema) holds each
entry's runs as overlapping pairs of characters ("糖尿 尿病 病と とは"), and a run in a
query becomes the phrase of its pairs, so any run of two or more characters finds the
entries that contain it. Only entries with such characters get a row there.

Pure string handling; kb.search.writes fills the table and kb.search.ranking reads it.
The PostgreSQL backend keeps the same pairs as ``tsvector``s (kb.postgres.postings fills
its ``cjk`` table, kb.postgres.searching reads it): vector and query write them in the
types' own input syntax, which takes each pair as it is, whatever the server's parser and
locale would make of the characters.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.search.query import ParsedQuery


# A run's characters: Han ideographs (with extension A and the compatibility block), kana,
# and Hangul. The PostgreSQL backend finds the entries that have any with it too.
CLASS = (
    "[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\uff66-\uff9f]"
)


@cache
def _run() -> re.Pattern[str]:
    """A run of CLASS's characters.

    Compiled on first use: the class takes ~3 ms to compile, which every command that opens
    the index would pay at import, though most text has no such character (``has_cjk``).
    """
    return re.compile(CLASS + "+")


# Every byte but the first bytes in UTF-8 of the characters from U+3000 to U+DFFF and from
# U+F000 (all of the above but the rare Hangul jamo). Deleting them with bytes.translate
# leaves nothing for most text, ~10 times faster than a search with the class above,
# which costs ~50 us for an answer of typical length.
_NOT_LEAD = bytes(b for b in range(256) if not (0xE3 <= b <= 0xED or b == 0xEF))


def has_cjk(text: str) -> bool:
    """Whether the text holds any Chinese, Japanese or Korean character."""
    if text.isascii() or not text.encode("utf-8", "surrogatepass").translate(None, _NOT_LEAD):
        return False
    return _run().search(text) is not None


def runs(text: str) -> list[str]:
    """The runs of CJK characters in a text, normalised (NFKC: half-width kana made whole)."""
    import unicodedata  # here: most text has no such run (has_cjk)

    return _run().findall(unicodedata.normalize("NFKC", text))


def pairs(run: str) -> list[str]:
    """A run's overlapping pairs of characters; a single character stands alone."""
    if len(run) < 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def pairs_text(text: str) -> str:
    """The text as the ``cjk`` table indexes it: each run's pairs, the runs on separate lines."""
    return "\n".join(" ".join(pairs(run)) for run in runs(text))


def phrases(text: str) -> list[str]:
    """The FTS5 phrases (quoted) that find each CJK run of a query's text."""
    out = []
    for run in dict.fromkeys(runs(text)):
        out.append('"' + " ".join(pairs(run)) + '"')
    return out


def split(parsed: ParsedQuery) -> tuple[ParsedQuery, list[str]]:
    """Take the terms with Chinese, Japanese or Korean characters out of a query; return
    the rest and the CJK runs of the terms taken (each once)."""
    from kb.search.query import ParsedQuery

    found = [t for t in parsed.should + parsed.must if has_cjk(" ".join(t.words))]
    if not found:
        return parsed, []
    found_runs = list(dict.fromkeys(r for t in found for r in runs(" ".join(t.words))))
    rest = ParsedQuery(
        should=[t for t in parsed.should if t not in found],
        must=[t for t in parsed.must if t not in found],
        exclude=parsed.exclude,
        filters=parsed.filters,
        stopped=parsed.stopped,
    )
    return rest, found_runs


def vector(texts: list[str]) -> str:
    """PostgreSQL's ``tsvector`` input of these texts' pairs, positions running on from
    one text to the next as the tokens of the files backend's ``cjk`` table do (a pair has
    no quote, backslash or space to escape: only CJK characters)."""
    lexemes = []
    position = 1
    for text in texts:
        for run in runs(text):
            for pair in pairs(run):
                lexemes.append(f"'{pair}':{min(position, 16383)}")
                position += 1
    return " ".join(lexemes)


def tsquery(found_runs: list[str]) -> str:
    """PostgreSQL's ``tsquery`` input that finds any of these runs: each the phrase of its
    pairs (the ``<->`` of adjacent positions)."""
    return " | ".join("(" + " <-> ".join(f"'{p}'" for p in pairs(run)) + ")" for run in found_runs)
