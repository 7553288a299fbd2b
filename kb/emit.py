"""The machine formats: json, jsonl, csv and ids on stdout, for scripts (no Rich here).

JSON keeps non-ASCII text as it is; a JSON format prints a valid empty document (``[]``)
when there is nothing. kb.render re-exports these, so commands reach every output
through one module.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.models import Entry
    from kb.search.results import Hit


# Characters JSON leaves raw that a terminal may act on: DEL, the C1 controls (0x9B is
# a one-byte CSI to some terminals) and the bidirectional overrides and isolates, as
# their UTF-8 bytes. They can only stand inside JSON strings, where \uXXXX means the same.
_RAW_UNSAFE = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _escaped(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode("utf-8"))


def _dumps(obj: Any, *, indent: bool) -> bytes:
    import orjson

    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return _RAW_UNSAFE.sub(_escaped, orjson.dumps(obj, option=option))


def _for_person() -> Callable[[str], str]:
    """How text cells are written: as they are to a pipe or file; with controls and
    escape sequences made visible on a terminal (``kb.render.text.clean``), where they
    would retitle the window, write the clipboard or type into the shell."""
    if not sys.stdout.isatty():
        return str
    from kb.render.text import clean

    return clean


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
        import csv

        from kb.parsers.csv import defuse

        safe = _for_person()
        cols = list(columns) or (list(records[0]) if records else [])
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([safe(c) for c in cols])
        for r in records:
            writer.writerow([safe(defuse(_csv_cell(r.get(c)))) for c in cols])
    else:
        raise ValueError(f"unknown output format {fmt!r}")


def emit_names(names: Iterable[str]) -> None:
    """Print names one per line (``--format ids`` of categories, tags and experts); a line
    break inside a name would split it, so it is shown as a space."""
    safe = _for_person()
    sys.stdout.write("".join(safe(" ".join(name.splitlines())) + "\n" for name in names))


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("name") or "")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def entry_record(entry: Entry, **extra: Any) -> dict[str, Any]:
    """The JSON shape of an entry (``Entry.to_dict``), plus extra fields such as score/snippet."""
    record = entry.to_dict()
    record.update(extra)
    return record


def emit_entries(
    entries: Sequence[Entry], fmt: str, extra: Sequence[dict[str, Any]] | None = None, extra_columns: Sequence[str] = ()
) -> None:
    """Print entries as json, jsonl, csv or ids; ``extra`` adds fields to each (score, snippet).

    CSV has the columns of ``kb export --format csv`` (kb.export.CSV_COLUMNS), then
    ``extra_columns`` (so that an empty result still has the whole header row).
    """
    extras = list(extra) if extra is not None else [{} for _ in entries]
    if fmt != "csv":
        emit_records([entry_record(e, **x) for e, x in zip(entries, extras)], fmt)
        return
    import csv

    from kb.export import CSV_COLUMNS, csv_row
    from kb.parsers.csv import defuse

    safe = _for_person()
    names = list(extra_columns)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *names])
    for entry, more in zip(entries, extras):
        cells = [*csv_row(entry), *(defuse(_csv_cell(more.get(n))) for n in names)]
        writer.writerow([safe(cell) for cell in cells])


def related_records(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    """Related entries as ``kb show --related N --format json`` lists them: enough to
    show each and fetch it (``kb show ID``), not the whole entry."""
    return [
        {
            "id": h.entry.id,
            "uid": h.entry.uid,
            "title": h.entry.title,
            "question": h.entry.question,
            "score": round(h.score, 4),
        }
        for h in hits
    ]


def hit_extras(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    """Search hits as records: the entry's fields plus score and a plain snippet."""
    return [{"score": round(h.score, 4), "snippet": h.snippet} for h in hits]
