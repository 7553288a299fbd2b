"""CSV input: a header row naming the columns, then one Q&A record per row, streamed.

Column names are matched as JSON keys are (``kb.parsers.fields``: "Question Text",
"Topic"...); the delimiter is sniffed from the header among
``,`` ``;`` tab and ``|``. Quoted fields may span lines. The tags column is split on commas
or semicolons; the expert column is a name. A row without question or answer, or with
more cells than the header (an unquoted comma split one), is reported with the line it
starts on and the other rows are kept; a header without those columns fails the whole
file, naming the columns found and a ``--map`` that would read them.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator

from kb.errors import ParseError
from kb.models import Entry
from kb.parsers.fields import advice, parse_mapping
from kb.parsers.json import collect, field_keys, record_to_entry

NAME = "csv"

DELIMITERS = (",", ";", "\t", "|")

# The csv module refuses fields over 128 KiB by default; a long answer can pass that.
_FIELD_LIMIT = 64 * 1024 * 1024


# A cell a spreadsheet would run as a formula starts with one of these (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: str) -> str:
    """Return a CSV cell that no spreadsheet runs as a formula: one that would (once any
    leading quotes are set aside) gets a leading ``'``, as OWASP recommends.

    ``restore`` undoes it exactly, so kb's own CSV reads back unchanged.
    """
    return "'" + cell if _formula_like(cell) else cell


def restore(cell: str) -> str:
    """Undo ``defuse`` (for CSV that kb wrote)."""
    return cell[1:] if cell.startswith("'") and _formula_like(cell) else cell


def _formula_like(cell: str) -> bool:
    """Whether a cell, leading quotes aside, starts like a formula (a plain number, such
    as a negative score, is left as it is: a spreadsheet reads it as that number)."""
    bare = cell.lstrip("'")
    return bare.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(bare)


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _header_cells(line: str, delimiter: str) -> list[str]:
    try:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []
    return [cell.strip().lstrip("\ufeff").strip() for cell in cells]


def _has_qa(cells: list[str], mapping: dict[str, str] | None = None) -> bool:
    keys = field_keys(cells, mapping)
    return "question" in keys and "answer" in keys


def sniff_delimiter(header: str, mapping: dict[str, str] | None = None) -> str:
    """Pick the delimiter that splits ``header`` into question/answer columns, or the most."""
    best, best_score = ",", (False, 0)
    for delimiter in DELIMITERS:
        cells = _header_cells(header, delimiter)
        score = (_has_qa(cells, mapping), len(cells))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def iter_parse(lines: str | Iterable[str], name: str, mapping: str | None = None) -> Iterator[Entry | ParseError]:
    """Yield an Entry per good row and a ParseError per bad one.

    ``lines`` is any iterable of lines with their line ends, e.g. a file opened with
    ``newline=""`` so that line breaks inside quoted fields survive.
    """
    fields = parse_mapping(mapping) if mapping else None
    if isinstance(lines, str):
        lines = io.StringIO(lines, newline="")
    source = iter(lines)
    skipped = 0
    header_line = None
    for line in source:
        skipped += 1
        if line.strip("\ufeff \t\r\n"):
            header_line = line
            break
    if header_line is None:
        yield ParseError("CSV is empty (no header row)", path=name)
        return
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)

    # Keep the physical lines of the record being read, so each row keeps its own text.
    consumed: list[str] = []

    def tracked() -> Iterator[str]:
        for line in itertools.chain([header_line], source):
            consumed.append(line)
            yield line

    # strict: a stray quote or an unclosed one is reported instead of silently
    # swallowing the following rows into one field.
    reader = csv.reader(tracked(), delimiter=sniff_delimiter(header_line, fields), strict=True)
    offset = skipped - 1
    try:
        header = [cell.strip().lstrip("\ufeff").strip() for cell in next(reader)]
    except (csv.Error, StopIteration) as exc:
        yield ParseError(f"unreadable CSV header: {exc}", path=name, line=skipped)
        return
    if not _has_qa(header, fields):
        found = ", ".join(cell for cell in header if cell) or "none"
        hint = advice(header, fields)
        yield ParseError(f"CSV has no question and answer columns (found: {found}){hint}", path=name, line=skipped)
        return
    # kb's own CSV (export, --format csv) starts with its id and uid columns, and has its
    # formula-like cells defused: they are read back as they were stored.
    own = header[:2] == ["id", "uid"]
    position = 0
    keys: dict[str, int] = {}
    while True:
        start = reader.line_num + 1 + offset
        consumed.clear()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            position += 1
            yield ParseError(f"malformed CSV row {position}: {exc}", path=name, line=start)
            if reader.line_num + 1 + offset == start:
                return  # nothing was consumed: the reader cannot move past this point
            continue
        if not any(cell.strip() for cell in row):
            continue
        position += 1
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
            # Text past the last column: an unquoted delimiter split a cell, and every cell
            # after it moved one column on. Storing it would put half an answer in the category.
            yield ParseError(
                f"row {position} has {len(row)} cells, the header {len(header)}: "
                "a delimiter inside a cell needs the cell in double quotes",
                path=name,
                line=start,
            )
            continue
        record: dict[str, str] = {}
        for column, value in zip(header, row):
            if column and column not in record:
                record[column] = restore(value) if own else value
        raw = "".join(consumed).rstrip("\r\n")
        yield record_to_entry(
            record, name=name, fmt=NAME, position=position, line=start, raw=raw, seen=keys, mapping=fields
        )


def parse(text: str, name: str) -> list[Entry]:
    """Return the entries of a CSV text; raise only if no row is good."""
    return collect(iter_parse(text, name))


def detect(text: str, name: str) -> float:
    """Score how surely ``text`` is CSV: its first line names question and answer columns."""
    body = text.lstrip("\ufeff \t\r\n")
    end = body.find("\n")
    header = (body if end < 0 else body[:end]).rstrip("\r")
    if not header:
        return 0.0
    for delimiter in DELIMITERS:
        if _has_qa(_header_cells(header, delimiter)):
            return 0.9
    return 0.0
