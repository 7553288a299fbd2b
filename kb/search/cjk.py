"""Chinese, Japanese and Korean text: overlapping character pairs that FTS5 can match.

SQLite's unicode61 tokenizer keeps a run of these characters as one token ("糖尿病とは"),
so only the whole run would match. The ``cjk`` table (kb.search.schema) holds each
entry's runs as overlapping pairs of characters ("糖尿 尿病 病と とは"), and a run in a
query becomes the phrase of its pairs, so any run of two or more characters finds the
entries that contain it. Only entries with such characters get a row there.

Pure string handling; kb.search.writes fills the table and kb.search.ranking reads it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache


@cache
def _run() -> re.Pattern[str]:
    """A run of Han ideographs (with extension A and the compatibility block), kana, and Hangul.

    Compiled on first use: the class takes ~3 ms to compile, which every command that opens
    the index would pay at import, though most text has no such character (``has_cjk``).
    """
    return re.compile(
        "[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
        "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\uff66-\uff9f]+"
    )


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
