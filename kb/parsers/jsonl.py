"""JSON Lines input: one Q&A object per line, read as a stream.

Fields map as in JSON (``kb.parsers.json.record_to_entry``). ``iter_parse`` takes any
iterable of lines, such as an open text file, so a file of a million records is never
held in memory; a malformed line or a record without question/answer is reported with its
line number and the other lines are kept. MedQuAD's ``id`` becomes ``source.external_id``
and the key; its other keys (``qtype``, ``url``) are kept in the entry's ``extra``. ``qtype``
("treatment", "symptoms"...) repeats what the question already says, so it is not made
into a tag.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import orjson

from kb.errors import ParseError
from kb.models import Entry
from kb.parsers.fields import parse_mapping
from kb.parsers.json import collect, decode_error, field_keys, record_to_entry

NAME = "jsonl"


def iter_parse(lines: str | Iterable[str], name: str, mapping: str | None = None) -> Iterator[Entry | ParseError]:
    """Yield an Entry per good line and a ParseError per bad one; blank lines are skipped.

    Pass a file object (or ``io.StringIO``) rather than ``str.splitlines()``, which also
    breaks lines at U+2028 and other separators that JSON strings may hold literally.
    """
    if isinstance(lines, str):
        lines = io.StringIO(lines)
    position = 0
    keys: dict[str, int] = {}
    fields = parse_mapping(mapping) if mapping else None
    for lineno, line in enumerate(lines, 1):
        if lineno == 1:
            line = line.lstrip("\ufeff")
        record_text = line.rstrip("\r\n")
        if not record_text.strip():
            continue
        position += 1
        try:
            record = orjson.loads(record_text)
        except orjson.JSONDecodeError as exc:
            # orjson counts lines within the one line we gave it; the column is what helps.
            error = decode_error(exc, name=name)
            yield ParseError(error.reason, path=name, line=lineno)
            continue
        yield record_to_entry(
            record, name=name, fmt=NAME, position=position, line=lineno, raw=record_text, seen=keys, mapping=fields
        )


def parse(text: str, name: str) -> list[Entry]:
    """Return the entries of a JSONL text; raise only if no line holds a good record."""
    return collect(iter_parse(text, name))


def _first_lines(text: str, count: int) -> list[str]:
    """Return up to ``count`` non-blank lines from the start of ``text``, cheaply."""
    found: list[str] = []
    pos = 0
    while len(found) < count and pos < len(text):
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        line = text[pos:end].strip()
        if line:
            found.append(line)
        pos = end + 1
    return found


def _object(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def detect(text: str, name: str) -> float:
    """Score how surely ``text`` is JSON Lines: its first non-blank lines are objects."""
    lines = _first_lines(text.lstrip("\ufeff"), 2)
    if not lines:
        return 0.0
    first = _object(lines[0])
    if first is None:
        return 0.0
    keys = field_keys(first)
    qa = "question" in keys and "answer" in keys
    if len(lines) == 1:
        # One object on one line is also a JSON document; let JSON take it when sure.
        return 0.6 if qa else 0.3
    if _object(lines[1]) is None:
        return 0.4 if qa else 0.2
    return 0.9 if qa else 0.5
