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
