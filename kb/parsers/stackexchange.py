"""StackExchange data dumps: Posts.xml (with Users.xml beside it) streamed into entries.

Each question (``PostTypeId="1"``) becomes an entry with its accepted answer, else its
highest-scored one (settings ``answers``: ``accepted``, the default; ``best``, highest
score whatever was accepted; ``all``, one entry per answer). Questions without an answer
and other post types are skipped and counted. The category is the site (setting ``site``,
else the dump folder's name), the expert the answerer's ``DisplayName`` from Users.xml
(else the post's ``OwnerDisplayName``), and ``source.external_id`` is
``QUESTION_ID/ANSWER_ID``.

A dump can be tens of gigabytes and answers may come before or after their question, so
rows are streamed with ``iterparse`` (each one cleared once read) into a temporary SQLite
file that pairs them: memory stays flat, and the temporary file (in ``$TMPDIR``) is about
the size of the dump.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from kb.errors import ParseError
from kb.models import Entry, Expert, Source
from kb.parsers import Skipped

if TYPE_CHECKING:
    import sqlite3

# sqlite3, tempfile and hashlib are imported where a dump is read: detect_head runs for
# every file kb ingests, and must cost nothing more than a look at its first bytes.

NAME = "stackexchange"
ANSWER_MODES = ("accepted", "best", "all")
# The other files of a dump: read (Users.xml) or passed over with Posts.xml.
COMPANIONS = ("users.xml", "comments.xml", "votes.xml", "badges.xml", "tags.xml", "posthistory.xml", "postlinks.xml")
_BATCH = 5000
_PROGRESS_STEP = 1 << 20


def detect(text: str, name: str) -> float:
    """Score how surely ``text`` is a dump's Posts.xml (for text handed over whole)."""
    return 0.95 if detect_head(text[:4096].encode("utf-8", "replace"), name) else 0.0


def detect_head(head: bytes, name: str) -> bool:
    """Tell a Posts.xml from its first bytes: an XML document whose root is ``<posts>``."""
    start = head[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"<"):
        return False
    top = head[:2048]
    return b"<posts>" in top or b"<posts " in top


def parse(text: str, name: str) -> list[Entry]:
    """Parse a whole Posts.xml given as text (from stdin, or a small file)."""
    entries: list[Entry] = []
    first_error: ParseError | None = None
    for item in iter_parse_file(io.BytesIO(text.encode("utf-8", "replace")), name, {}, None):
        if isinstance(item, Entry):
            entries.append(item)
        elif isinstance(item, ParseError) and first_error is None:
            first_error = item
    if not entries:
        raise first_error or ParseError("no answered question in this StackExchange dump", path=name)
    return entries


class _Counting:
    """A binary reader that reports the bytes read, a megabyte at a time."""

    def __init__(self, fh: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self.fh, self.progress, self.pending, self.offset = fh, progress, 0, 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.offset += len(data)
        if self.progress is not None:
            self.pending += len(data)
            if self.pending >= _PROGRESS_STEP or not data:
                self.progress(self.pending)
                self.pending = 0
        return data


def _sibling(path: str, wanted: str) -> str | None:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for candidate in (wanted, wanted + ".gz"):
        for found in names:
            if found.lower() == candidate:
                return os.path.join(folder, found)
    return None


def _site(path: str, settings: Mapping[str, str]) -> str:
    if settings.get("site"):
        return settings["site"]
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return folder


def _rows(fh: Any) -> Iterator[dict[str, str]]:
    """Yield each ``<row>``'s attributes, clearing the tree as it goes."""
    from xml.etree.ElementTree import iterparse

    events = iterparse(fh, events=("start", "end"))
    _, root = next(events)
    for event, element in events:
        if event == "end" and element.tag == "row":
            yield element.attrib
            root.clear()


def _tags(raw: str) -> list[str]:
    """``<a><b>`` (older dumps) or ``|a|b|`` (newer ones) into a list of tags."""
    raw = raw.strip()
    if raw.startswith("<"):
        return [t for t in raw[1:-1].split("><") if t]
    return [t for t in raw.split("|") if t]


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE questions (id INTEGER PRIMARY KEY, title TEXT, body TEXT, tags TEXT, accepted INTEGER);
CREATE TABLE answers (id INTEGER PRIMARY KEY, parent INTEGER, score INTEGER, body TEXT,
                      owner INTEGER, owner_name TEXT);
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
"""


def _load_users(db: sqlite3.Connection, path: str) -> None:
    """Read Id -> DisplayName from Users.xml; a damaged Users.xml only loses names."""
    import gzip

    opener = gzip.open if path.lower().endswith(".gz") else open
    batch: list[tuple[int, str]] = []
    try:
        with opener(path, "rb") as fh:
            for row in _rows(fh):
                if row.get("DisplayName"):
                    batch.append((_int(row.get("Id"), -1), row["DisplayName"]))
                if len(batch) >= _BATCH:
                    db.executemany("INSERT OR REPLACE INTO users VALUES (?, ?)", batch)
                    batch = []
    except (OSError, EOFError, SyntaxError):
        pass  # xml.etree's ParseError is a SyntaxError
    db.executemany("INSERT OR REPLACE INTO users VALUES (?, ?)", batch)


def iter_parse_file(
    fh: BinaryIO, name: str, settings: Mapping[str, str], progress: Callable[[int], None] | None
) -> Iterator[Entry | ParseError | Skipped]:
    """Stream one dump file into entries, ``Skipped`` counts and a ParseError where it broke."""
    base = os.path.basename(name).lower()
    if base.endswith(".gz"):
        base = base[:-3]
    if base in COMPANIONS:
        yield from _companion(name, base, progress)
        return
    mode = settings.get("answers") or "accepted"
    if mode not in ANSWER_MODES:
        raise ParseError(f"--answers must be one of {', '.join(ANSWER_MODES)}, not {mode!r}", path=name)
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kb-stackexchange-") as scratch:
        db = sqlite3.connect(os.path.join(scratch, "pairs.sqlite"))
        try:
            yield from _ingest(db, fh, name, mode, _site(name, settings), progress)
        except sqlite3.Error as exc:
            raise ParseError(
                f"cannot pair answers with questions in a temporary file ({exc}); set TMPDIR to a folder with room",
                path=name,
            ) from None
        finally:
            db.close()


def _companion(name: str, base: str, progress: Callable[[int], None] | None) -> Iterator[Skipped]:
    if progress is not None:
        try:
            progress(os.path.getsize(name))
        except OSError:
            pass
    if _sibling(name, "posts.xml") is None:
        raise ParseError(
            f"a StackExchange {base} holds no questions: ingest the dump's Posts.xml or its folder", path=name
        )
    yield Skipped(name, "StackExchange dump files other than Posts.xml (Users.xml is read with it)")


def _ingest(
    db: sqlite3.Connection, fh: BinaryIO, name: str, mode: str, site: str, progress: Callable[[int], None] | None
) -> Iterator[Entry | ParseError | Skipped]:
    db.executescript(_SCHEMA)
    users = _sibling(name, "users.xml")
    if users is not None:
        _load_users(db, users)
    reader = _Counting(fh, progress)
    questions: list[tuple[Any, ...]] = []
    answers: list[tuple[Any, ...]] = []
    other = 0
    broken: ParseError | None = None
    from xml.etree.ElementTree import ParseError as XMLError

    try:
        for row in _rows(reader):
            kind = row.get("PostTypeId")
            if kind == "1":
                questions.append(
                    (
                        _int(row.get("Id"), -1),
                        row.get("Title", ""),
                        row.get("Body", ""),
                        row.get("Tags", ""),
                        _int(row.get("AcceptedAnswerId"), -1),
                    )
                )
                if len(questions) >= _BATCH:
                    db.executemany("INSERT OR REPLACE INTO questions VALUES (?, ?, ?, ?, ?)", questions)
                    questions = []
            elif kind == "2":
                answers.append(
                    (
                        _int(row.get("Id"), -1),
                        _int(row.get("ParentId"), -1),
                        _int(row.get("Score")),
                        row.get("Body", ""),
                        # No OwnerUserId: a deleted user, named by OwnerDisplayName. (-1 is the
                        # dump's "Community" user, so it cannot stand for "none".)
                        _int(row.get("OwnerUserId")) or None,
                        row.get("OwnerDisplayName"),
                    )
                )
                if len(answers) >= _BATCH:
                    db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)", answers)
                    answers = []
            else:
                other += 1
    except XMLError as exc:
        line, column = getattr(exc, "position", (None, None))
        reason = str(exc).split(":")[0] or "malformed XML"
        broken = ParseError(
            f"the dump breaks here ({reason}, column {column}, near byte {reader.offset:,}); "
            "the questions complete before it were kept",
            path=name,
            line=line,
        )
    except (OSError, EOFError) as exc:
        broken = ParseError(
            f"cannot read the dump past byte {reader.offset:,} ({exc}); the questions complete before it were kept",
            path=name,
        )
    db.executemany("INSERT OR REPLACE INTO questions VALUES (?, ?, ?, ?, ?)", questions)
    db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)", answers)
    if progress is not None and reader.pending:
        progress(reader.pending)
    db.execute("CREATE INDEX answers_parent ON answers (parent, score DESC, id)")
    yield from _entries(db, name, mode, site)
    yield from _skipped_counts(db, name, other)
    if broken is not None:
        yield broken


_CHOSEN = {
    # Accepted answer first, then the highest score, then the earliest.
    "accepted": "a.id = coalesce((SELECT b.id FROM answers b WHERE b.id = q.accepted AND b.parent = q.id), "
    "(SELECT b.id FROM answers b WHERE b.parent = q.id ORDER BY b.score DESC, b.id LIMIT 1))",
    "best": "a.id = (SELECT b.id FROM answers b WHERE b.parent = q.id ORDER BY b.score DESC, b.id LIMIT 1)",
    "all": "a.parent = q.id",
}


def _entries(db: sqlite3.Connection, name: str, mode: str, site: str) -> Iterator[Entry]:
    import hashlib
    from html import unescape

    from selectolax.lexbor import LexborHTMLParser

    from kb.parsers.htmltext import bounded_markup, drop_controls, to_text

    def text(body: str) -> str:
        if "<" not in body and "&" not in body:
            return drop_controls(body).strip()
        root = LexborHTMLParser(bounded_markup(body)).body
        return to_text(root) if root is not None else ""

    query = (
        "SELECT q.id, q.title, q.body, q.tags, a.id, a.body, a.owner_name, u.name, a.id = q.accepted "
        f"FROM questions q JOIN answers a ON {_CHOSEN[mode]} LEFT JOIN users u ON u.id = a.owner "
        "ORDER BY q.id, a.id = q.accepted DESC, a.score DESC, a.id"
    )
    for qid, title, qbody, tags, aid, abody, owner_name, user_name, _accepted in db.execute(query):
        question = text(qbody) or title
        answer = text(abody)
        if not answer.strip():
            continue
        raw = f"<!-- Posts.xml row {qid} -->\n{qbody}\n<!-- Posts.xml row {aid} -->\n{abody}\n"
        expert = user_name or owner_name
        yield Entry(
            question=question,
            answer=answer,
            # Titles are plain text, yet some carry HTML entities ("&amp;", "&#39;").
            title=drop_controls(unescape(title)).strip() if "&" in title else drop_controls(title).strip(),
            category=site,
            expert=Expert(name=expert) if expert else None,
            tags=_tags(tags),
            source=Source(
                path=name,
                format=NAME,
                external_id=f"{qid}/{aid}",
                key=f"{qid}/{aid}",
                sha256=hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest(),
            ),
            raw=raw,
        )


def _skipped_counts(db: sqlite3.Connection, name: str, other: int) -> Iterator[Skipped]:
    unanswered = db.execute(
        "SELECT count(*) FROM questions q WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.parent = q.id)"
    ).fetchone()[0]
    orphans = db.execute(
        "SELECT count(*) FROM answers a WHERE NOT EXISTS (SELECT 1 FROM questions q WHERE q.id = a.parent)"
    ).fetchone()[0]
    for count, reason in (
        (unanswered, "StackExchange questions without an answer"),
        (orphans, "StackExchange answers whose question is not in the dump"),
        (other, "StackExchange posts that are neither questions nor answers (tag wikis, ...)"),
    ):
        if count:
            yield Skipped(name, reason, count)
