"""Everything kb shows: Rich renderables for people, and json/jsonl/csv/ids for scripts.

Entry text is untrusted (scraped pages): it is made inert by ``clean`` (control
characters and escape sequences become visible symbols) and handed to Rich only as
``Text``, never as markup. Results go to stdout; notices and progress to stderr.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from kb.ingest import IngestReport
    from kb.models import Entry

FORMATS = ("table", "json", "jsonl", "csv", "ids")

# C0 controls but tab and newline, DEL, C1 controls; and the bidirectional overrides and
# isolates that can make text display in a different order from the one it has.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HIGHLIGHT_START, HIGHLIGHT_END = "\x02", "\x03"


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture": ESC shows as ␛
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def clean(text: str | None, *, keep: str = "") -> str:
    """Return text safe for a terminal: escape sequences and controls made visible.

    ``keep`` names control characters to leave alone (the search highlight markers).
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    if keep:
        return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _visible(m), text)
    return _UNSAFE.sub(_visible, text)


def highlighted(snippet: str, style: str = "bold yellow") -> Text:
    """Turn a snippet with \\x02...\\x03 markers into a Text with those spans styled."""
    from rich.text import Text

    out = Text()
    safe = clean(snippet, keep=HIGHLIGHT_START + HIGHLIGHT_END)
    for i, part in enumerate(re.split("[\x02\x03]", safe)):
        out.append(part, style=style if i % 2 else None)
    return out


def plain_snippet(snippet: str) -> str:
    """Drop the highlight markers, for machine output."""
    return snippet.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")


# -- consoles --------------------------------------------------------------------------


def console(*, stderr: bool = False) -> Console:
    """A Console for stdout or stderr: colour only on a terminal and without NO_COLOR."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(
        file=stream,
        highlight=False,
        markup=False,
        emoji=False,
        no_color=bool(os.environ.get("NO_COLOR")),
        soft_wrap=False,
    )


def error(message: str, hint: str | None = None) -> None:
    """Print a one-line error (and a hint line) to stderr."""
    err = console(stderr=True)
    from rich.text import Text

    line = Text("Error: ", style="bold red")
    line.append(clean(message).replace("\n", " "))
    err.print(line, soft_wrap=True)
    if hint:
        err.print(Text(clean(hint), style="dim"), soft_wrap=True)


def notice(message: str) -> None:
    """Print an informational line to stderr."""
    from rich.text import Text

    console(stderr=True).print(Text(clean(message), style="dim"), soft_wrap=True)


# -- machine formats -------------------------------------------------------------------


def _dumps(obj: Any, *, indent: bool) -> bytes:
    import orjson

    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(obj, option=option)


def write_bytes(data: bytes) -> None:
    """Write raw bytes to stdout (fast path for JSON)."""
    out = sys.stdout
    out.flush()
    try:
        out.buffer.write(data)
        out.buffer.flush()
    except AttributeError:  # a text-only stream (test runners)
        out.write(data.decode("utf-8"))


def emit_json(obj: Any) -> None:
    """Print one JSON document (non-ASCII kept as is) to stdout."""
    write_bytes(_dumps(obj, indent=True) + b"\n")


def emit_records(records: Sequence[dict[str, Any]], fmt: str, *, columns: Sequence[str] = ()) -> None:
    """Print records as json (an array, ``[]`` when empty), jsonl, csv or ids."""
    if fmt == "json":
        emit_json(list(records))
    elif fmt == "jsonl":
        write_bytes(b"".join(_dumps(r, indent=False) + b"\n" for r in records))
    elif fmt == "ids":
        sys.stdout.write("".join(f"{r.get('id')}\n" for r in records))
    elif fmt == "csv":
        cols = list(columns) or (list(records[0]) if records else [])
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cols)
        for r in records:
            writer.writerow([_csv_cell(r.get(c)) for c in cols])
    else:
        raise ValueError(f"unknown output format {fmt!r}")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("name") or "")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def entry_record(entry: Entry, **extra: Any) -> dict[str, Any]:
    """The JSON shape of an entry (DESIGN.md), plus extra fields such as score/snippet."""
    record = entry.to_dict()
    record.update(extra)
    return record


# -- people's formats ------------------------------------------------------------------


def ingest_summary(report: IngestReport) -> None:
    """Print the ingest summary table and each failure's file and reason, to stderr."""
    from rich.table import Table
    from rich.text import Text

    err = console(stderr=True)
    title = "Dry run: nothing was written" if report.dry_run else None
    table = Table(title=title, show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("added", "updated", "unchanged", "failed"):
        table.add_column(col, justify="right")
    table.add_row(
        Text(str(len(report.added)), style="green" if report.added else None),
        Text(str(len(report.updated)), style="cyan" if report.updated else None),
        str(len(report.unchanged)),
        Text(str(len(report.failures)), style="red" if report.failures else None),
    )
    err.print(table)
    for failure in report.failures[:200]:
        line = Text("failed ", style="red")
        line.append(clean(str(failure)).replace("\n", " "))
        err.print(line, soft_wrap=True)
    if len(report.failures) > 200:
        err.print(Text(f"... and {len(report.failures) - 200} more failures (use --json for all)", style="red"))


def entry_lines(entries: Iterable[Entry]) -> None:
    """Print entries one per line: id, title, category, expert (plain, fast for many)."""
    from rich.text import Text

    out = console()
    for e in entries:
        line = Text(f"{e.id:>6}  ", style="bold cyan")
        line.append(clean(e.display_title()))
        if e.category:
            line.append(f"  [{clean(e.category)}]", style="magenta")
        if e.expert:
            line.append(f"  — {clean(e.expert.name)}", style="dim")
        out.print(line, overflow="ellipsis", no_wrap=True)


def entry_full(entry: Entry) -> None:
    """Print one entry for reading: header, question and answer panels, expert, source."""
    from rich.panel import Panel
    from rich.text import Text

    out = console()
    header = Text(f"#{entry.id} ", style="bold cyan")
    header.append(clean(entry.display_title()), style="bold")
    if entry.category:
        header.append(f"  [{clean(entry.category)}]", style="magenta")
    out.print(header)
    out.print(Panel(Text(clean(entry.question)), title="Question", title_align="left", border_style="blue"))
    out.print(Panel(Text(clean(entry.answer)), title="Answer", title_align="left", border_style="green"))
    if entry.expert:
        out.print(Text("Expert: ", style="bold").append(clean(entry.expert.name), style=None))
    if entry.source.path:
        out.print(Text(f"Source: {clean(entry.source.path)}", style="dim"))


def search_results(result: Any) -> None:
    """Print ranked hits with their snippets, or the reason nothing matched (stderr)."""
    from rich.text import Text

    out = console()
    for hit in result.hits:
        e = hit.entry
        line = Text(f"{e.id:>6}  ", style="bold cyan")
        line.append(clean(e.display_title()), style="bold")
        if e.category:
            line.append(f"  [{clean(e.category)}]", style="magenta")
        if e.expert:
            line.append(f"  — {clean(e.expert.name)}", style="dim")
        out.print(line, overflow="ellipsis", no_wrap=True)
        if hit.snippet:
            out.print(Text("        ").append(highlighted(hit.snippet.replace("\n", " "))))
    if result.suggestions:
        notice("did you mean: " + ", ".join(result.suggestions))
    if not result.hits:
        notice(result.reason or "nothing matched")
