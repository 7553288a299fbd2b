"""Entry text made safe for a terminal, and snippets with their matched words styled.

Entry text is untrusted (scraped pages): ``clean`` turns control characters and the
escape sequences they start into visible symbols before any of it reaches Rich.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls; and the bidirectional overrides and
# isolates that can make text display in a different order from the one it has.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture": ESC shows as ␛
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def clean(text: str | None) -> str:
    """Return text safe for a terminal: escape sequences and controls made visible."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    return _UNSAFE.sub(_visible, text)


# A line that starts a list item ("- ", "* ", "• ", "1. ", "2) "), or a code fence.
_LIST_ITEM = re.compile(r"\s*(?:[-*+•]|\d{1,3}[.)])\s")
_FENCE = re.compile(r"\s*(```|~~~)")


def reflow(text: str) -> str:
    """Join the lines of paragraphs that the source hard-wrapped, so the console can wrap them.

    A line joins the one before when that one is prose that ran to about the width of
    its paragraph (a short line, such as "Hi Susan," or a sign-off, ended there on
    purpose). Blank lines, list items, indented lines and fenced code keep their breaks.
    """
    lines = text.split("\n")
    widest = _paragraph_widths(lines)
    out: list[str] = []
    fenced = joinable = False
    for n, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            out.append(line)
            joinable = False
            continue
        prose = bool(line.strip()) and not fenced and not line[:1].isspace() and not _LIST_ITEM.match(line)
        if prose and joinable and out:
            out[-1] = out[-1].rstrip() + " " + line.strip()
        else:
            out.append(line)
        # Wrapped lines run close to the widest of their paragraph; a Markdown hard break
        # (two trailing spaces) ends a line on purpose.
        long = len(line.rstrip()) >= max(40, int(widest[n] * 0.7))
        continues = prose or (_LIST_ITEM.match(line) is not None and not fenced)
        joinable = continues and long and not line.endswith("  ")
    return "\n".join(out)


def _paragraph_widths(lines: list[str]) -> list[int]:
    """For each line, the length of the longest line of its paragraph (blank lines part them)."""
    widths = [0] * len(lines)
    start = 0
    for end in range(len(lines) + 1):
        if end == len(lines) or not lines[end].strip():
            widest = max((len(lines[i].rstrip()) for i in range(start, end)), default=0)
            for i in range(start, end):
                widths[i] = widest
            start = end + 1
    return widths


def highlighted(text: str, spans: Sequence[tuple[int, int]], style: str = "bold yellow") -> Text:
    """Return plain text on one line (runs of white space folded) with the given spans styled."""
    from rich.text import Text

    pieces: list[tuple[str, str | None]] = []
    pos = 0
    for start, end in spans:
        pieces += [(text[pos:start], None), (text[start:end], style)]
        pos = end
    pieces.append((text[pos:], None))
    out = Text()
    space = False
    for part, part_style in pieces:
        if not part:
            continue
        space = space or part[0].isspace()
        words = part.split()
        if words:
            if space and out:
                out.append(" ")
            out.append(clean(" ".join(words)), style=part_style)
            space = part[-1].isspace()
    return out


def human_size(n: float) -> str:
    """Format a byte count for people: 1.2 MB."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
