"""Aligned columns for pages of entries, cheaper than a Rich table.

Columns keep their natural width when they fit the console; otherwise the columns that
have a share of the room shrink in proportion and their cells end with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

GAP = "  "


def aligned(columns: Sequence[tuple[str, str | None, int]], rows: Sequence[tuple[str, ...]], width: int) -> Text:
    """Lay rows of cleaned cells out as aligned columns under a bold header, as one Text.

    Cheaper than a rich.table.Table for a page of rows (importing rich.table alone costs
    ~5 ms). Columns keep their natural width when they fit; otherwise the columns with a
    share shrink, in proportion, and their cells end with an ellipsis. The first column
    is right-aligned.
    """
    from rich.cells import cell_len
    from rich.text import Text

    table = [tuple(name for name, _, _ in columns), *rows]
    widths = [max(cell_len(row[i]) for row in table) for i in range(len(columns))]
    room = width - len(GAP) * (len(columns) - 1) - sum(w for w, (_, _, share) in zip(widths, columns) if not share)
    widths = fit(widths, [share for _, _, share in columns], room)
    last = len(columns) - 1
    lines = []
    for n, row in enumerate(table):
        line = Text(style="bold" if n == 0 else "")
        for i, (cell, (_, style, _), w) in enumerate(zip(row, columns, widths)):
            if i:
                line.append(GAP)
            if i == 0:
                line.append(cell.rjust(w), style=None if n == 0 else style)
                continue
            part = Text(cell, style=(style or "") if n else "")
            part.truncate(w, overflow="ellipsis", pad=i < last)
            line.append_text(part)
        lines.append(line)
    return Text("\n").join(lines)


def fit(widths: list[int], shares: list[int], room: int) -> list[int]:
    """Fit the columns with a share into ``room`` cells, in proportion to their shares.

    A column that needs less than its part keeps its natural width and leaves the rest to
    the others. Every shrinking column keeps at least one cell.
    """
    flexible = [i for i, share in enumerate(shares) if share]
    if sum(widths[i] for i in flexible) <= room:
        return widths
    out = list(widths)
    pending = sorted(flexible, key=lambda i: widths[i] / shares[i])
    while pending:
        unit = max(room, 0) / sum(shares[i] for i in pending)
        i = pending[0]
        if widths[i] <= unit * shares[i]:
            pending.pop(0)
            room -= widths[i]
            continue
        for i in pending:  # no column left that fits its part: all shrink
            out[i] = max(1, int(unit * shares[i]))
        widest = max(pending, key=lambda i: shares[i])
        out[widest] += max(0, room - sum(out[i] for i in pending))  # the cells rounding left over
        break
    return out
