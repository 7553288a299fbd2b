"""JSON input: an array of Q&A objects, one object, or an object wrapping a list.

Also home to what the record formats share: ``FIELD_ALIASES`` (which keys or column names
mean which field), ``record_to_entry`` (one mapping turned into an Entry, or a ParseError
saying what it lacks) and ``clean_text`` (the text normalisation every parser applies).
JSONL and CSV import these, so the three formats read a record the same way.

Field names are matched case-insensitively: question (or ``q``), answer (or ``a``), title,
category, tags (a list or a comma/semicolon string), expert (a name or an object with
name/expertise/experience/...), id (kept as ``source.external_id`` and used as the key),
created_at, updated_at. Other keys (MedQuAD's ``qtype`` and ``url``, say) are kept aside,
as they were, in the entry's ``extra``; the record's original text stays in ``raw``. A bad
record is reported with its number and line and the others are kept.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from kb.errors import ParseError
from kb.models import (
    ASKING_FIELDS,
    EXPERT_FIELDS,
    OPEN,
    STATUSES,
    Entry,
    Expert,
    Source,
    asking_fields,
    is_export_record,
    normalise_text,
    split_tags,
)
from kb.parsers.fields import FIELD_ALIASES, advice, field_keys, parse_mapping

__all__ = ["FIELD_ALIASES", "clean_text", "field_keys", "question_key", "record_to_entry"]

NAME = "json"

# Keys of a top-level object that hold the list of records.
WRAPPER_KEYS = ("entries", "items", "data")

# Detection parses the whole text to be sure; beyond this size it trusts the first bytes.
_DETECT_PARSE_LIMIT = 8 * 1024 * 1024


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Normalise line ends to LF, drop trailing blanks per line and whitespace at the edges.

    Blank lines inside are kept (they are paragraphs). Edge whitespace includes the
    non-breaking spaces scraped pages carry. Lone surrogates (from bytes decoded with
    ``surrogateescape``) become U+FFFD, since the uid hashes UTF-8 and would fail on them.
    """
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    if "\r" not in text and ("\n" not in text or (text.isascii() and not any(b in text for b in _BLANK_ENDS))):
        return text.strip()  # most text: one line, or ASCII lines that end without blanks
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def question_key(question: str, seen: dict[str, int] | None = None) -> str:
    """Return the key of a record that has no id of its own: what it asks, hashed.

    Keyed by its question, a record keeps its key when records are inserted or removed
    around it, or when its answer changes. A question asked again in the same file gets
    ``#2``, ``#3``...: ``seen`` counts how often each question was keyed so far, so a file
    of many repeats costs one look-up each, not a walk over the earlier ones.
    """
    key = "q:" + hashlib.sha256(normalise_text(question).encode("utf-8")).hexdigest()[:16]
    if seen is not None:
        n = seen[key] = seen.get(key, 0) + 1
        if n > 1:
            key = f"{key}#{n}"
    return key


# An ASCII character that rstrip() takes from a line's end (str.isspace), before the LF.
_BLANK_ENDS = tuple(f"{ch}\n" for ch in " \t\x0b\x0c\x1c\x1d\x1e\x1f")


def _scalar_text(value: Any) -> str | None:
    """Return a string or number as cleaned text; None for anything else."""
    if isinstance(value, str):
        return clean_text(value)
    # Numbers read as text (ids are often numbers); true/false are not a question's text.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return split_tags(value)
    if isinstance(value, list):
        tags: list[str] = []
        for item in value:
            text = _scalar_text(item)
            if text and text not in tags:
                tags.append(text)
        return tags
    text = _scalar_text(value)
    return [text] if text else []


def _expert(value: Any) -> Expert | None:
    if isinstance(value, dict):
        sections = {str(k).strip().lower(): v for k, v in value.items()}
        name = _scalar_text(sections.get("name"))
        if not name:
            return None
        bio = {k: _scalar_text(sections.get(k)) or None for k in EXPERT_FIELDS}
        return Expert(name=name, **bio)
    name = _scalar_text(value)
    return Expert(name=name) if name else None


def _flat_bio(record: dict[str, Any], expert: Expert) -> Expert:
    """Fill an expert's bio from flat ``expert_<section>`` fields (as CSV exports carry)."""
    flat: dict[str, str] = {}
    for key, value in record.items():
        folded = str(key).strip().lower()
        if folded.startswith("expert_") and folded[7:] in EXPERT_FIELDS:
            text = _scalar_text(value)
            if text:
                flat[folded[7:]] = text
    return expert.merged(Expert(name=expert.name, **flat)) if flat else expert


def _found(record: dict[str, Any]) -> str:
    keys = [str(k) for k in record]
    shown = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
    return shown or "no fields"


def record_to_entry(
    record: Any,
    *,
    name: str,
    fmt: str,
    position: int,
    line: int | None,
    raw: str | None,
    seen: dict[str, int] | None = None,
    mapping: dict[str, str] | None = None,
) -> Entry | ParseError:
    """Turn one record (a parsed JSON object or CSV row) into an Entry, or say why not.

    ``position`` is the record's 1-based number in its file, how an error names it. A
    record without an id of its own is keyed by its question (the keys the file gave so far, ``seen``, see question_key).
    """
    if not isinstance(record, dict):
        kind = type(record).__name__ if record is not None else "null"
        kind = {"str": "string", "dict": "object", "list": "array"}.get(kind, kind)
        return ParseError(f"record {position} is not an object (found {kind})", path=name, line=line)
    if is_export_record(record):
        return _restored(record, name=name, position=position, line=line)
    keys = field_keys(record, mapping)
    values: dict[str, str] = {"answer": ""}
    # kb's own JSON (``--format json``) says whether each entry is answered, and who asked.
    asking = asking_fields(record)
    for required in ("question",) if asking["status"] == OPEN else ("question", "answer"):
        key = keys.get(required)
        value = record.get(key) if key is not None else None
        text = _scalar_text(value)
        if value is not None and text is None:
            return ParseError(
                f"record {position}: {required!r} must be text, not {type(value).__name__}",
                path=name,
                line=line,
            )
        if not text:
            what = "is empty" if key is not None else f"is missing (found: {_found(record)})"
            if key is None:
                what += advice(record, mapping)
            return ParseError(f"record {position}: {required!r} {what}", path=name, line=line)
        values[required] = text

    # The optional fields this record has (most records have a few of them).
    given = {field: record[key] for field, key in keys.items() if key in record}
    external_id = _scalar_text(given.get("id")) or None
    expert = _expert(given.get("expert"))
    if expert is not None:
        expert = _flat_bio(record, expert)
    # Taken only when they read as kb's own: another system's "status" stays in extra.
    used = set(keys.values())
    used.update(name for name in ASKING_FIELDS if name in asking)
    if record.get("status") in STATUSES:
        used.add("status")
    return Entry(
        **asking,
        extra=_extra(record, used),
        question=values["question"],
        answer=values["answer"],
        title=_text_of(given, "title") or "",
        category=_text_of(given, "category") or "",
        expert=expert,
        tags=_tags(given.get("tags")),
        source=Source(
            path=name,
            format=fmt,
            external_id=external_id,
            key=external_id or question_key(values["question"], seen),
            line=line,
        ),
        created_at=_text_of(given, "created_at") or None,
        updated_at=_text_of(given, "updated_at") or None,
        raw=raw,
    )


def _text_of(given: dict[str, Any], fieldname: str) -> str | None:
    """An optional field's value as cleaned text (None when the record has none)."""
    value = given.get(fieldname)
    return None if value is None else _scalar_text(value)


# The types of Source's fields, as a restored record must carry them (others are dropped).
_SOURCE_TYPES: dict[str, type | tuple[type, ...]] = {
    "path": str,
    "format": str,
    "sha256": str,
    "external_id": str,
    "copyright": str,
    "encoding": str,
    "key": str,
    "line": int,
    "split_guessed": bool,
}


def _verbatim(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _restored(record: dict[str, Any], *, name: str, position: int, line: int | None) -> Entry | ParseError:
    """Read back a line of kb's own JSON Lines export as the entry it was.

    The text is taken as stored, not cleaned again (it already was), so a restore gives
    the same bytes; the uid is computed from it, so a line edited by hand gets its own.
    Values of the wrong type (the line is still untrusted input) are dropped, not fatal.
    """
    asking = asking_fields(record)
    # An open question (kb post) waits for its answer: it has none yet.
    for required in ("question",) if asking["status"] == OPEN else ("question", "answer"):
        if not _verbatim(record.get(required)).strip():
            return ParseError(f"record {position}: {required!r} is missing or empty", path=name, line=line)
    src = record["source"]
    source: dict[str, Any] = {
        k: v
        for k, v in src.items()
        if k in _SOURCE_TYPES and isinstance(v, _SOURCE_TYPES[k]) and not (k == "line" and isinstance(v, bool))
    }
    expert = record.get("expert")
    tags = record.get("tags")
    entry_id = record.get("id")
    entry = Entry(
        question=record["question"],
        answer=_verbatim(record.get("answer")),
        title=_verbatim(record.get("title")),
        category=_verbatim(record.get("category")),
        expert=Expert.from_dict(expert) if isinstance(expert, (dict, str)) else None,
        tags=[t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        source=Source(**source),
        created_at=record.get("created_at") if isinstance(record.get("created_at"), str) else None,
        updated_at=record.get("updated_at") if isinstance(record.get("updated_at"), str) else None,
        raw=record.get("raw") if isinstance(record.get("raw"), str) else None,
        extra=dict(record["extra"]) if isinstance(record.get("extra"), dict) else {},
        restored=True,
        **asking,
    )
    if type(entry_id) is int and entry_id > 0:
        entry.id = entry_id  # the id it had: the store keeps it where it is free
    return entry


# Keys of kb's own JSON shape that a record read back may carry: the uid is computed
# again, the source is the file being read, and a record's extra is its extra.
_OWN_KEYS = frozenset({"uid", "source", "extra"})


def _extra(record: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """Return the fields of ``record`` that no Entry field took, empty values left out."""
    extra: dict[str, Any] = {}
    own = record.get("extra")
    if isinstance(own, dict):
        extra.update(own)
    for key, name in _extra_keys(tuple(record), frozenset(used)):
        value = record[key]
        if value is not None and value != "":
            extra[name] = value
    return extra


# The keys that go to extra, by the record's keys and those used: records of one file
# share their shape, so each shape is sorted out once (as kb.parsers.fields.field_keys).
_extra_cache: dict[tuple[tuple[Any, ...], frozenset[str]], list[tuple[Any, str]]] = {}


def _extra_keys(keys: tuple[Any, ...], used: frozenset[str]) -> list[tuple[Any, str]]:
    """Each key of a record that may go to extra, in order, with the name it takes there."""
    found = _extra_cache.get((keys, used))
    if found is not None:
        return found
    found = []
    for key in keys:
        folded = str(key).strip().lower()
        if key in used or folded in _OWN_KEYS or (folded.startswith("expert_") and folded[7:] in EXPERT_FIELDS):
            continue
        found.append((key, str(key)))
    if len(_extra_cache) > 256:  # a few shapes at most in one file
        _extra_cache.clear()
    _extra_cache[(keys, used)] = found
    return found


def collect(items: Iterable[Entry | ParseError]) -> list[Entry]:
    """Return the good entries of a record stream; raise its first error only if none is good."""
    entries: list[Entry] = []
    first_error: ParseError | None = None
    for item in items:
        if isinstance(item, Entry):
            entries.append(item)
        elif first_error is None:
            first_error = item
    if not entries and first_error is not None:
        raise first_error
    return entries


def decode_error(exc: ValueError, *, name: str, line_offset: int = 0) -> ParseError:
    """Turn a JSON decoding error into a ParseError naming the line and column."""
    msg = getattr(exc, "msg", None) or str(exc)
    lineno = getattr(exc, "lineno", None)
    colno = getattr(exc, "colno", None)
    if lineno is None:
        return ParseError(f"invalid JSON: {msg}", path=name, line=line_offset or None)
    return ParseError(f"invalid JSON: {msg} (column {colno})", path=name, line=lineno + line_offset)


# Tokens of well-formed JSON that matter for finding where records start and end: strings
# (skipped whole, so brackets inside them do not count) and structural characters.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]', re.DOTALL)
_SPACE = re.compile(r"\s*")


def _array_start(text: str, wrapper: str | None) -> int | None:
    """Return the index of the '[' that opens the record list, or None."""
    if wrapper is None:
        start = _SPACE.match(text).end()  # type: ignore[union-attr]
        return start if text.startswith("[", start) else None
    depth, key, found, last = 0, None, None, None
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if depth == 1 and tok == "[" and last == ":" and key == wrapper:
            found = m.start()  # duplicate keys: the last one wins, as when parsing
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
        elif depth == 1 and tok.startswith('"') and last in ("{", ","):
            key = orjson.loads(tok)
        last = tok
    return found


def _record_spans(text: str, open_at: int) -> list[tuple[int, int]]:
    """Return (start, end) of each element of the array opening at ``open_at``."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = None
    for m in _TOKEN.finditer(text, open_at):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth == 1:
                start = _SPACE.match(text, m.end()).end()  # type: ignore[union-attr]
            continue
        if tok in "]}" and depth > 1:
            depth -= 1
            continue
        if depth == 1 and tok in ",]":
            end = m.start()
            if start is not None and text[start:end].strip():
                spans.append((start, len(text[start:end].rstrip()) + start))
            start = _SPACE.match(text, m.end()).end()  # type: ignore[union-attr]
            if tok == "]":
                break
    return spans


def _holds_records(value: Any, mapping: dict[str, str] | None) -> bool:
    return isinstance(value, list) and _looks_like_qa(value, mapping)


def _find_list(data: dict[str, Any], mapping: dict[str, str] | None, depth: int = 0) -> list[Any] | None:
    """The first list of Q&A records under any key, a few levels down (``{"meta": .., "faqs": [..]}``)."""
    for value in data.values():
        if _holds_records(value, mapping):
            return value
    if depth < 3:
        for value in data.values():
            found = _find_list(value, mapping, depth + 1) if isinstance(value, dict) else None
            if found is not None:
                return found
    return None


def _records(data: Any, mapping: dict[str, str] | None = None) -> tuple[list[Any], str | None] | None:
    """Return the records of a parsed document and the top-level key holding them (if one)."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        if "question" not in field_keys(data, mapping):
            for key in WRAPPER_KEYS:
                if isinstance(data.get(key), list):
                    return data[key], key
            for key, value in data.items():
                if _holds_records(value, mapping):
                    return value, key
            found = _find_list(data, mapping)
            if found is not None:
                return found, None
        return [data], None
    return None


def iter_parse(
    text_or_lines: str | Iterable[str], name: str, mapping: str | None = None
) -> Iterator[Entry | ParseError]:
    """Yield an Entry for each good record and a ParseError for each bad one.

    A document that is not valid JSON, or not an object or array, yields one ParseError.
    ``mapping`` is ``--map``'s value: which keys hold which fields.
    """
    fields = parse_mapping(mapping) if mapping else None
    if isinstance(text_or_lines, str):
        text = text_or_lines
    else:
        text = "".join(text_or_lines)
    text = text.lstrip("\ufeff")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        yield decode_error(exc, name=name)
        return
    found = _records(data, fields)
    if found is None:
        kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(type(data), "null")
        yield ParseError(f"expected an object or an array of objects, found {kind}", path=name, line=1)
        return
    records, wrapper = found
    spans: list[tuple[int, int]] | None = None
    if wrapper is None and isinstance(data, dict) and (len(records) != 1 or records[0] is not data):
        pass  # a list further down: each record is written out again as its raw text
    elif len(records) == 1 and wrapper is None and isinstance(data, dict):
        start = _SPACE.match(text).end()  # type: ignore[union-attr]
        spans = [(start, len(text.rstrip()))]
    else:
        open_at = _array_start(text, wrapper)
        spans = _record_spans(text, open_at) if open_at is not None else None
        if spans is not None and len(spans) != len(records):
            spans = None  # cannot happen for JSON orjson accepted; fall back rather than mislabel
    line, counted_to = 1, 0
    keys: dict[str, int] = {}
    for position, record in enumerate(records, 1):
        raw: str | None
        if spans is not None:
            start, end = spans[position - 1]
            line += text.count("\n", counted_to, start)
            counted_to = start
            raw = text if len(records) == 1 and wrapper is None else text[start:end]
            at: int | None = line
        else:
            raw = orjson.dumps(record).decode()
            at = None
        yield record_to_entry(
            record, name=name, fmt=NAME, position=position, line=at, raw=raw, seen=keys, mapping=fields
        )


def parse(text: str, name: str) -> list[Entry]:
    """Return the entries of a JSON document; raise only if none of its records is good."""
    return collect(iter_parse(text, name))


def _looks_like_qa(records: list[Any], mapping: dict[str, str] | None = None) -> bool:
    for record in records[:20]:
        if isinstance(record, dict):
            keys = field_keys(record, mapping)
            if "question" in keys and "answer" in keys:
                return True
    return False


def detect(text: str, name: str) -> float:
    """Score how surely ``text`` is a JSON document of Q&A records."""
    body = text.lstrip("\ufeff \t\r\n")
    if not body or body[0] not in "[{":
        return 0.0
    if len(body) > _DETECT_PARSE_LIMIT:
        # Too big to parse twice: a '[' or a multi-line object is JSON, not JSONL.
        first_line = body.split("\n", 1)[0].strip()
        return 0.8 if body[0] == "[" or not first_line.endswith("}") else 0.2
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        # A broken array is still ours to report; several objects are likely JSONL.
        return 0.35 if body[0] == "[" else 0.1
    found = _records(data)
    if found is None:
        return 0.0
    return 0.95 if _looks_like_qa(found[0]) else 0.35
