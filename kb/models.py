"""The domain records: Entry, Expert and Source, their dict form, and the stable uid; and
Record, the base of the small value classes other layers define.

Plain dataclasses with no I/O, so parsers, the store, the index and scripts can all share
them. The dict form is the JSON shape of ``--format json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

EXPERT_FIELDS = (
    "expertise",
    "experience",
    "organizations",
    "publications",
    "education",
    "awards",
    "clients",
)

# Every line of kb's JSON Lines export opens with this key, its value the version of the
# line's shape: ingest reads such a line back as the entry it was (a restore), which a
# record of anyone else's, lacking the key, never is.
EXPORT_MARKER = "kb_export"
EXPORT_VERSION = 1

# An entry is an answered question, or an open one that waits for an expert's answer
# (``kb post``). Entries read from files, and every entry stored before questions could
# be posted, are answered.
OPEN = "open"
ANSWERED = "answered"
STATUSES = (OPEN, ANSWERED)
# The fields of an asked question, in the order its JSON shows them; each is left out of
# the JSON while it has no value, so an entry that was never asked looks as it always did.
ASKING_FIELDS = ("asked_by", "asked_for", "asked_at", "answered_at", "follows")
_ASKING_KEYS = frozenset(("status", *ASKING_FIELDS))


def is_export_record(record: Any) -> bool:
    """Tell whether a parsed record is a line of kb's own JSON Lines export."""
    if not isinstance(record, dict):
        return False
    version = record.get(EXPORT_MARKER)
    # type() and not isinstance(): JSON's true would otherwise pass for version 1.
    return type(version) is int and version == EXPORT_VERSION and isinstance(record.get("source"), dict)


def normalise_text(text: str) -> str:
    """Fold text to the form the uid hashes: NFKC, case-folded, whitespace collapsed.

    NFKC turns non-breaking spaces and other compatibility characters into their plain
    forms, so the same page saved as cp1252 or UTF-8, with CRLF or LF, hashes the same.
    """
    if text.isascii():
        if _single_spaced(text):
            return text.lower()  # what split/join would give back, without its ~200 words a text
    else:
        import unicodedata  # here: a C module that commands reading ASCII text never need

        text = unicodedata.normalize("NFKC", text)
    # split/join folds every run of white space, and is several times faster than a
    # regex substitution on long answers.
    return " ".join(text.split()).casefold()


# The ASCII characters str.split() takes for white space, besides the space.
_ASCII_BREAKS = ("\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def _single_spaced(text: str) -> bool:
    """Whether this ASCII text's only white space is single spaces between words, so
    collapsing it changes nothing (most texts: checking costs a few scans at memchr speed,
    where splitting a 1,200-character answer makes ~200 strings)."""
    if "  " in text or text[:1] == " " or text[-1:] == " ":
        return False
    for mark in _ASCII_BREAKS:
        if mark in text:
            return False
    return True


def make_uid(question: str, answer: str) -> str:
    """Return the 16-hex-digit content id of a question and its answer."""
    import hashlib  # here, not at the top: it loads OpenSSL (~3 ms), which only writes need

    key = normalise_text(question) + "\x1f" + normalise_text(answer)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class Record:
    """A small value class that costs nothing to define: a subclass names its fields in
    ``__slots__`` and writes its ``__init__``; this gives it a repr and an equality (the
    same class with equal fields), as @dataclass would.

    @dataclass writes each class's methods as source and compiles them when the module is
    imported, ~0.65 ms a class (1.1 ms frozen), and every command imported seventeen such
    classes of the search index, its results and the backend seam before doing anything.
    Entry, Expert and Source, which scripts build and copy (dataclasses.replace), stay
    dataclasses.
    """

    __slots__ = ()

    def _fields(self) -> tuple[str, ...]:
        names: tuple[str, ...] = self.__slots__
        return names

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields())
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq


class FrozenRecord(Record):
    """A Record whose fields cannot change once set, so it can be hashed (``__init__`` sets
    them once, with ``_set``)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def _set(self, *values: Any) -> None:
        """Set the fields once, in the order of ``__slots__`` (for ``__init__``)."""
        for name, value in zip(self._fields(), values, strict=True):
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())

    def __reduce__(self) -> tuple[type[FrozenRecord], tuple[Any, ...]]:
        # copy and pickle would set the fields one by one, which __setattr__ refuses; a
        # frozen record's __init__ takes its fields in the order of __slots__.
        return type(self), self._values()


def now_iso() -> str:
    """Return the current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Expert:
    """Who answered, with the bio sections an expert page carries (any may be missing)."""

    name: str
    expertise: str | None = None
    experience: str | None = None
    organizations: str | None = None
    publications: str | None = None
    education: str | None = None
    awards: str | None = None
    clients: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for name in EXPERT_FIELDS:
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | str | None) -> Expert | None:
        if not data:
            return None
        if isinstance(data, str):
            return cls(name=data.strip()) if data.strip() else None
        name = str(data.get("name") or "").strip()
        if not name:
            return None
        kwargs = {k: str(data[k]) for k in EXPERT_FIELDS if data.get(k)}
        return cls(name=name, **kwargs)

    def merged(self, other: Expert | None) -> Expert:
        """Return this profile with the sections it lacks filled in from ``other``."""
        if other is None:
            return self
        kwargs = {k: getattr(self, k) or getattr(other, k) for k in EXPERT_FIELDS}
        return Expert(name=self.name, **kwargs)


@dataclass
class Source:
    """Where an entry came from and how it was read.

    ``key`` tells entries of one file apart (a record's own id, or its position), so a
    changed file at the same path updates its entries instead of adding twins.
    ``split_guessed`` is true when the parser had to infer where the question ends.
    """

    path: str | None = None
    format: str | None = None
    sha256: str | None = None
    external_id: str | None = None
    copyright: str | None = None
    encoding: str | None = None
    key: str | None = None
    line: int | None = None
    split_guessed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "sha256": self.sha256,
            "external_id": self.external_id,
            "copyright": self.copyright,
            "encoding": self.encoding,
            "key": self.key,
            "line": self.line,
            "split_guessed": self.split_guessed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Source:
        if not data:
            return cls()
        return cls(**{k: v for k, v in data.items() if k in _SOURCE_FIELDS})


_SOURCE_FIELDS = frozenset(f.name for f in fields(Source))


@dataclass
class Entry:
    """One question with its answer, and what is known about it.

    ``raw`` is the original text the entry was parsed from (the whole page, or the one
    record of a JSONL/CSV file); it is kept in the store but not part of ``to_dict``.
    ``extra`` keeps the fields of an imported record that kb has no place for (MedQuAD's
    ``url`` and ``qtype``, say), as they were. ``status`` is ``"open"`` for a posted
    question that waits for its answer (``answer`` is then empty), ``"answered"``
    otherwise; ``asked_by``/``asked_for`` name who asked and the expert it is addressed
    to, ``asked_at``/``answered_at`` say when, and ``follows`` is the id of the entry a
    follow-up question follows. ``restored`` marks an entry read back from
    kb's own JSON Lines export: it keeps its source, dates and (where free) its id instead
    of taking the export file's.
    """

    question: str
    answer: str
    title: str = ""
    category: str = ""
    expert: Expert | None = None
    tags: list[str] = field(default_factory=list)
    source: Source = field(default_factory=Source)
    extra: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    uid: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    status: str = ANSWERED
    asked_by: str | None = None
    asked_for: str | None = None
    asked_at: str | None = None
    answered_at: str | None = None
    follows: int | None = None
    raw: str | None = field(default=None, repr=False, compare=False)
    restored: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.uid:
            self.uid = make_uid(self.question, self.answer)

    def stored_id(self) -> int:
        """Return the id of a stored entry; ValueError for one that has none yet."""
        if self.id is None:
            raise ValueError(f"entry {self.uid} has no id: it is not stored yet")
        return self.id

    def refresh_uid(self) -> None:
        """Recompute the uid after the question or answer changed."""
        self.uid = make_uid(self.question, self.answer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uid": self.uid,
            "title": self.title,
            "category": self.category,
            "question": self.question,
            "answer": self.answer,
            "expert": self.expert.to_dict() if self.expert else None,
            "tags": list(self.tags),
            "source": self.source.to_dict(),
            "extra": dict(self.extra),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            **{name: value for name in ASKING_FIELDS if (value := getattr(self, name)) is not None},
        }

    @property
    def is_open(self) -> bool:
        """Whether this is a posted question still waiting for its answer."""
        return self.status == OPEN

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        tags = data.get("tags") or []
        if isinstance(tags, str):
            tags = split_tags(tags)
        return cls(
            **asking_fields(data),
            question=str(data.get("question") or ""),
            answer=str(data.get("answer") or ""),
            title=str(data.get("title") or ""),
            category=str(data.get("category") or ""),
            expert=Expert.from_dict(data.get("expert")),
            tags=[str(t) for t in tags],
            source=Source.from_dict(data.get("source")),
            extra=dict(data["extra"]) if isinstance(data.get("extra"), dict) else {},
            id=data.get("id"),
            uid=str(data.get("uid") or ""),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
        )

    def url(self) -> str | None:
        """Return the address a record gave for itself (an ``url`` field kept in extra)."""
        for key, value in self.extra.items():
            if key.strip().lower() == "url" and isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def display_title(self) -> str:
        """Return the title, or the question's first line when there is none."""
        if self.title:
            return self.title
        first = self.question.strip().splitlines()[0] if self.question.strip() else ""
        return first[:80]


def asking_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The status and asking fields of an entry's dict, values of the wrong type dropped.

    A dict without ``status`` (every entry stored before questions could be posted) is
    answered; so is one whose status is not a known one.
    """
    if _ASKING_KEYS.isdisjoint(data):
        return {"status": ANSWERED}  # most records: none of these keys (one scan of a few keys)
    out: dict[str, Any] = {"status": OPEN if data.get("status") == OPEN else ANSWERED}
    for name in ASKING_FIELDS:
        value = data.get(name)
        if name == "follows":
            # An id: a number in JSON, digits in a CSV cell.
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if type(value) is int and value > 0:
                out[name] = value
        elif isinstance(value, str) and value:
            out[name] = value
    return out


def split_tags(text: str) -> list[str]:
    """Split a comma- or semicolon-separated tag string into clean, unique tags."""
    seen: list[str] = []
    for part in re.split(r"[,;]", text):
        tag = part.strip().strip("#").strip()
        if tag and tag not in seen:
            seen.append(tag)
    return seen
