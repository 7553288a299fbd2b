"""From paths to entries: walk files, folders, globs and stdin; decode; detect; parse.

Nothing here prints or writes the store: ``read_source`` yields parsed entries and
failures, and ``KnowledgeBase.ingest`` (kb.api) batches them into the store and the
index and returns an ``IngestReport``. A bad file is a ``Failure`` with a one-line
reason; it never stops the other files.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from kb import parsers
from kb.entries import missing_fields
from kb.errors import KbError, ParseError
from kb.ingest.caps import (
    CHUNK,
    JSON_SHARE,
    FdReader,
    LineCapped,
    Prefixed,
    megabytes,
    read_capped,
    read_head,
    too_big,
)
from kb.models import Entry
from kb.parsers import Skipped

# Formats whose files are read record by record: the file's size is not capped, each
# record's is.
STREAMED = parsers.STREAMED
# Single-document formats (pages, Markdown, Q/A text) larger than this are refused, and
# so is one record of a streamed format: a 20 MB "page" is a mistake, and parsing one
# whole would take memory and time. Bytes are counted as read, after decompression.
DEFAULT_MAX_SIZE = 10_000_000  # bytes; --max-size takes MB (10^6 bytes) too
HEAD_SIZE = 64 * 1024
STDIN = "-"


@dataclass
class Failure:
    """An input that could not be read, or one record of it: where, and why."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "reason": self.reason}


@dataclass(slots=True)
class Repeat:
    """A record that repeats one read earlier in the same ingest: where, and which entry it is."""

    path: str
    line: int | None
    id: int | None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: same question and answer as entry {self.id}, read earlier in this ingest"

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "id": self.id}


# A report lists this many repeats (the count is always whole): a file of one record
# copied a million times must not fill memory with them.
MAX_REPEATS = 1000

# What an ingest report keeps of each entry: the entries themselves (the Python API's
# default), a brief record of each (what ``kb ingest --json`` prints), or only counts.
KEEP_ENTRIES, KEEP_BRIEF, KEEP_COUNTS = "entries", "brief", "counts"


@dataclass(slots=True)
class Brief:
    """What an ingest report keeps of an entry when it does not keep the entry."""

    id: int | None
    uid: str
    title: str
    path: str | None

    @classmethod
    def of(cls, entry: Entry) -> Brief:
        return cls(entry.id, entry.uid, entry.display_title(), entry.source.path)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "uid": self.uid, "title": self.title, "path": self.path}


@dataclass
class IngestReport:
    """What an ingest did, entry by entry, and what it could not read.

    ``counts`` is always complete. The lists hold the entries themselves, ``Brief``
    records, or nothing, as the ingest was asked to keep (``keep``): a report that keeps
    every entry grows with the input, which a bulk import of millions need not pay.
    """

    added: list[Entry | Brief] = field(default_factory=list)
    updated: list[Entry | Brief] = field(default_factory=list)
    unchanged: list[Entry | Brief] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    files: int = 0
    dry_run: bool = False
    keep: str = KEEP_ENTRIES
    counts: dict[str, int] = field(default_factory=lambda: {"added": 0, "updated": 0, "unchanged": 0, "duplicates": 0})
    # Records whose question and answer an earlier record of this same ingest had.
    duplicates: list[Repeat] = field(default_factory=list)
    # Input -> the fields of its records that kb has no place for and kept in ``extra``.
    kept_aside: dict[str, list[str]] = field(default_factory=dict)
    # Records left out on purpose (a dump's unanswered questions, ...): reason -> count.
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def record(
        self, added: list[Entry], updated: list[Entry], unchanged: list[Entry], duplicates: Sequence[Entry] = ()
    ) -> None:
        """Count one batch's entries and keep them as the report was asked to."""
        self.counts["duplicates"] += len(duplicates)
        room = MAX_REPEATS - len(self.duplicates)
        self.duplicates.extend(Repeat(e.source.path or "<stdin>", e.source.line, e.id) for e in duplicates[:room])
        for name, entries in (("added", added), ("updated", updated), ("unchanged", unchanged)):
            self.counts[name] += len(entries)
            if self.keep == KEEP_ENTRIES:
                getattr(self, name).extend(entries)
            elif self.keep == KEEP_BRIEF:
                getattr(self, name).extend(Brief.of(e) for e in entries)

    def note_kept_aside(self, path: str, entry: Entry) -> None:
        """Remember which fields of ``path``'s records went to ``extra`` (once per field)."""
        if entry.extra and not entry.restored:
            fields = self.kept_aside.setdefault(path, [])
            for key in entry.extra:
                if key not in fields:
                    fields.append(key)

    def to_dict(self) -> dict[str, object]:
        def brief(entries: list[Entry | Brief]) -> list[dict[str, object]]:
            return [(e if isinstance(e, Brief) else Brief.of(e)).to_dict() for e in entries]

        return {
            "dry_run": self.dry_run,
            "files": self.files,
            "counts": {**self.counts, "failed": len(self.failures)},
            "added": brief(self.added),
            "updated": brief(self.updated),
            "unchanged": brief(self.unchanged),
            "duplicates": [d.to_dict() for d in self.duplicates],
            "failures": [f.to_dict() for f in self.failures],
            "kept_aside": self.kept_aside,
            "skipped": dict(self.skipped),
        }


# -- finding the inputs ---------------------------------------------------------------


def expand_paths(paths: Iterable[str]) -> Iterator[str | Failure]:
    """Yield the files named by ``paths`` (files, folders walked recursively, globs, '-').

    Hidden files and folders inside a walked folder are skipped (``.git`` and the like);
    a file named explicitly is always read. Symbolic links are followed, and a link
    that leads back into a folder already walked is reported, not followed forever. A
    file reached twice (by two names, or through a link) is read once.
    """
    seen_files: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for raw in paths:
        if raw == STDIN:
            yield STDIN
            continue
        try:
            st = os.stat(raw)
        except OSError:
            if os.path.lexists(raw):
                yield Failure(raw, _why_unreadable(raw))
            elif glob.has_magic(raw):
                matches = sorted(glob.glob(raw, recursive=True))
                if not matches:
                    yield Failure(raw, "no file matches this pattern")
                for match in matches:
                    try:
                        yield from _expand_one(match, os.stat(match), seen_files, seen_dirs)
                    except OSError:
                        yield Failure(match, _why_unreadable(match))
            else:
                yield Failure(raw, "no such file or folder")
            continue
        yield from _expand_one(raw, st, seen_files, seen_dirs)


def _expand_one(
    path: str, st: os.stat_result, seen_files: set[tuple[int, int]], seen_dirs: set[tuple[int, int]]
) -> Iterator[str | Failure]:
    if stat.S_ISDIR(st.st_mode):
        yield from _walk(path, seen_files, seen_dirs)
    elif stat.S_ISREG(st.st_mode):
        if (st.st_dev, st.st_ino) not in seen_files:
            seen_files.add((st.st_dev, st.st_ino))
            yield path
    else:
        yield Failure(path, "not a regular file")


def _why_unreadable(path: str) -> str:
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == 40:  # ELOOP
                return "symbolic link loop"
            return "broken symbolic link"
    return "not a regular file"


def _walk(top: str, seen_files: set[tuple[int, int]], seen_dirs: set[tuple[int, int]]) -> Iterator[str | Failure]:
    """Walk a folder depth first, in name order, a folder's files before its subfolders.

    Files are told apart by (device, inode): a plain file's inode comes with the folder
    listing, so only symbolic links cost a stat() (resolving every path, as realpath
    does, cost 0.9 s for 16k files).
    """
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            fst = os.stat(folder)
        except OSError as exc:
            yield Failure(folder, f"cannot read folder: {exc.strerror or exc}")
            continue
        if (fst.st_dev, fst.st_ino) in seen_dirs:
            yield Failure(folder, f"symbolic link loop (leads back to {os.path.realpath(folder)}); not followed")
            continue
        seen_dirs.add((fst.st_dev, fst.st_ino))
        try:
            with os.scandir(folder) as it:
                listing = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Failure(folder, f"cannot read folder: {exc.strerror or exc}")
            continue
        subfolders: list[str] = []
        for item in listing:
            if item.name.startswith("."):
                continue
            try:
                if item.is_symlink():
                    target = item.stat()
                    kind, key = target.st_mode, (target.st_dev, target.st_ino)
                elif item.is_dir(follow_symlinks=False):
                    kind, key = stat.S_IFDIR, (0, 0)
                elif item.is_file(follow_symlinks=False):
                    kind, key = stat.S_IFREG, (fst.st_dev, item.inode())
                else:
                    kind, key = 0, (0, 0)
            except OSError:
                yield Failure(item.path, _why_unreadable(item.path))
                continue
            if stat.S_ISDIR(kind):
                subfolders.append(item.path)
            elif stat.S_ISREG(kind):
                if key not in seen_files:
                    seen_files.add(key)
                    yield item.path
            else:
                yield Failure(item.path, "not a regular file")
        stack.extend(reversed(subfolders))


# -- decoding ------------------------------------------------------------------------


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode a whole document: UTF-8 (BOM or not), UTF-16 by BOM, else a detected charset.

    Decoding is strict: a file is never silently stripped of bytes. Raises ParseError
    for binary data and for bytes no encoding explains.
    """
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError("binary file (contains NUL bytes), not Q&A text", path=name)
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", name), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", name), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = _detect_encoding(data, name)
    return _strict(data, encoding, name), encoding


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"undecodable bytes at offset {exc.start} (read as {encoding})", path=name) from None


def _detect_encoding(data: bytes, name: str) -> str:
    # Imported here: most files are UTF-8 and never pay for the detector.
    from charset_normalizer import from_bytes

    sample = data[: 512 * 1024]
    matches = from_bytes(sample)
    best = matches.best()
    if best is None or best.encoding in ("utf_16", "utf_32"):
        raise ParseError("undecodable bytes: not UTF-8, and no other text encoding fits", path=name)
    # Code pages that agree on these bytes are indistinguishable; scraped Western pages
    # are by far most often cp1252, so name it whenever it reads the text the same way.
    if best.encoding != "cp1252":
        try:
            western = sample.decode("cp1252")
        except UnicodeDecodeError:
            return _canonical(best.encoding)
        if western == str(best):
            return "cp1252"
        # A short text gives the detector little to go on: "Café" came out as Mac
        # Latin-2, "Crème" as cp1250. When another code page reads the bytes as well as
        # the best one, the detector is guessing: take the common Western one, provided it
        # reads as Western text does (accented letters among plain ones, not whole words
        # of them, as Cyrillic read as cp1252 gives).
        unsure = len(matches) > 1 and matches[1].chaos - best.chaos < 0.05
        if unsure and _reads_western(western):
            return "cp1252"
    return _canonical(best.encoding)


def _reads_western(text: str) -> bool:
    """Tell whether most letters of ``text`` are plain ASCII ones, as in Western languages."""
    letters = sum(1 for c in text if c.isalpha())
    accented = sum(1 for c in text if c.isalpha() and not c.isascii())
    return letters > 0 and accented * 4 <= letters


def _canonical(encoding: str) -> str:
    return {"cp1252": "cp1252", "latin_1": "latin-1", "utf_8": "utf-8"}.get(encoding, encoding.replace("_", "-"))


def _head_encoding(head: bytes, name: str) -> str:
    """Choose the encoding of a streamed file from its first bytes."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # what spreadsheet programs write as "Unicode text"
    if b"\x00" in head[:8192]:
        raise ParseError("binary file (contains NUL bytes), not Q&A text", path=name)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        # A multi-byte character may be cut at the end of the sample: not final.
        import codecs

        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return _detect_encoding(head, name)


# -- reading and parsing one input -------------------------------------------------------


@dataclass
class ReadOptions:
    """How inputs are read: a forced format, the single-document size cap, stdin."""

    format: str | None = None
    max_size: int = DEFAULT_MAX_SIZE
    stdin: BinaryIO | None = None
    progress: Callable[[int], None] | None = None
    # Format-specific settings (``answers``, ``site`` for StackExchange dumps).
    settings: dict[str, str] = field(default_factory=dict)
    # The working folder, read once (see _absolute).
    cwd: str | None = None


def _absolute(path: str, options: ReadOptions) -> str:
    """``os.path.abspath(path)``, without its getcwd() system call for every file of a folder."""
    if os.path.isabs(path):
        return os.path.normpath(path)
    if options.cwd is None:
        options.cwd = os.getcwd()
    return os.path.normpath(os.path.join(options.cwd, path))


def read_source(path: str, options: ReadOptions) -> Iterator[Entry | Failure | Skipped]:
    """Yield the entries of one input (a file path or '-') and a Failure for each bad part."""
    try:
        if path == STDIN:
            yield from _read_stdin(options)
        else:
            yield from _read_file(path, options)
    except ParseError as exc:
        yield Failure(exc.path or path, exc.reason, exc.line)
    except KbError as exc:
        yield Failure(path, str(exc))
    except OSError as exc:
        yield Failure(path, f"cannot read: {exc.strerror or exc}")
    except RecursionError:
        yield Failure(path, "nested too deeply to read")


def _read_stdin(options: ReadOptions) -> Iterator[Entry | Failure]:
    """Read standard input: JSON Lines and CSV record by record, anything else whole up
    to its cap (stdin has no size to check first, and may never end)."""
    stream = options.stdin if options.stdin is not None else sys.stdin.buffer
    head = read_head(stream, HEAD_SIZE)
    fmt = options.format or _guess_streamed(STDIN_NAME, head)
    if fmt in STREAMED and head.strip():
        fh = io.BufferedReader(Prefixed(head, stream), CHUNK)
        yield from _parse_stream(fh, STDIN_NAME, fmt, head, options, abspath=None)
        return
    data = head + read_capped(stream, _cap(options, fmt) - len(head), STDIN_NAME, already=len(head))
    if not data.strip():
        raise ParseError("standard input is empty", path=STDIN_NAME)
    yield from _parse_document(data, STDIN_NAME, None, options)


STDIN_NAME = "<stdin>"


def _cap(options: ReadOptions, fmt: str | None, name: str = "") -> int:
    """The most bytes one document of ``fmt`` may hold."""
    is_json = fmt == "json" or (fmt is None and name.lower().endswith(".json"))
    return options.max_size * JSON_SHARE if is_json else options.max_size


# Flags for reading a file by descriptor: no inheritance by child processes, and no
# newline translation where the platform has it.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _read_file(path: str, options: ReadOptions) -> Iterator[Entry | Failure | Skipped]:
    if path.lower().endswith(".gz"):
        yield from _read_compressed(path, options)
        return
    # A folder of small files is most of what kb reads: by descriptor, a file costs
    # open, two reads (the second finds the end) and close; Python's file objects add a
    # stat of the name, a stat, an isatty ioctl and a seek: 8 system calls instead of 4.
    fd = os.open(path, _READ_FLAGS)
    try:
        head = _read_up_to(fd, HEAD_SIZE)
        if not head:
            raise ParseError("empty file", path=path)
        fmt = options.format or parsers.detect_binary(head, path) or _guess_streamed(path, head)
        if fmt in parsers.BINARY or fmt in STREAMED:
            fh = open(fd, "rb")
            fd = -1  # the file object owns it now, and closes it
            with fh:
                fh.seek(0)
                if fmt in parsers.BINARY:
                    yield from _parse_binary(fh, path, fmt, options)
                else:
                    yield from _parse_stream(fh, path, fmt, head, options)
            return
        # A file shorter than the head has been read whole.
        if len(head) == HEAD_SIZE:
            _check_size(os.fstat(fd).st_size, path, path, options)
            # Read up to the cap still: a device or a growing file says nothing true first.
            cap = _cap(options, options.format, path)
            data = head + read_capped(FdReader(fd), cap - len(head), path, already=len(head))
        else:
            _check_size(len(head), path, path, options)
            data = head
    finally:
        if fd >= 0:
            os.close(fd)
    if options.progress:
        options.progress(len(data))
    yield from _parse_document(data, path, _absolute(path, options), options)


def _read_up_to(fd: int, size: int) -> bytes:
    """Read ``size`` bytes, or fewer at the end of the file (a read may return less)."""
    data = os.read(fd, size)
    while data and len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            break
        data += more
    return data


def _check_size(size: int, path: str, inner: str, options: ReadOptions) -> None:
    """Refuse a document over --max-size (a JSON document: over JSON_SHARE times it)."""
    cap = _cap(options, options.format, inner)
    if size > cap:
        raise ParseError(too_big(size, cap), path=path)


def _read_compressed(path: str, options: ReadOptions) -> Iterator[Entry | Failure | Skipped]:
    """Read a .gz file, decompressed on the fly; its name without .gz tells its format."""
    import gzip

    size = os.path.getsize(path)
    if size == 0:
        raise ParseError("empty file", path=path)
    inner = path[:-3]
    with cast(BinaryIO, gzip.open(path, "rb")) as fh:
        try:
            head = fh.read(HEAD_SIZE)
        except (OSError, EOFError) as exc:
            raise ParseError(f"cannot decompress: {exc}", path=path) from None
        fmt = options.format or parsers.detect_binary(head, inner) or _guess_streamed(inner, head)
        if fmt in parsers.BINARY:
            fh.seek(0)
            yield from _parse_binary(fh, path, fmt, options)
            return
        if fmt in STREAMED:
            fh.seek(0)
            yield from _parse_stream(fh, path, fmt, head, options)
            return
        # The size that counts is what it decompresses to, read up to the cap.
        cap = _cap(options, options.format, inner)
        try:
            data = head + read_capped(fh, cap - len(head), path, already=len(head)) if len(head) == HEAD_SIZE else head
        except (OSError, EOFError) as exc:
            raise ParseError(f"cannot decompress: {exc}", path=path) from None
    if options.progress:
        options.progress(len(data))
    yield from _parse_document(data, path, _absolute(path, options), options)


def _guess_streamed(path: str, head: bytes) -> str | None:
    """Tell JSONL/CSV files apart early, by extension or their first line, to stream them."""
    fmt = parsers.by_extension(path)
    if fmt is not None:
        return fmt
    if head.lstrip()[:1] == b"{":
        try:
            text = head.decode("utf-8", errors="ignore")
        except Exception:
            return None
        if parsers.get("jsonl").detect(text, path) >= 0.5:
            return "jsonl"
    return None


def _parse_document(data: bytes, name: str, abspath: str | None, options: ReadOptions) -> Iterator[Entry | Failure]:
    if not data.strip():
        raise ParseError("empty file", path=name)
    text, encoding = decode(data, name)
    if not text.strip():
        raise ParseError("empty file (only white space)", path=name)
    fmt = options.format or parsers.detect(text, name)
    parser = parsers.get(fmt)
    sha = hashlib.sha256(data).hexdigest()
    if hasattr(parser, "iter_parse"):
        # StringIO splits lines at \n and \r only (str.splitlines would also split at
        # U+2028 inside a JSON string), and newline="" keeps them for the csv module.
        lines = io.StringIO(text, newline="") if fmt in STREAMED else text
        items: Iterable[Entry | ParseError] = parser.iter_parse(lines, name, **_record_options(options))
    else:
        items = parser.parse(text, name)
    found = reported = False
    for item in items:
        if isinstance(item, ParseError):
            reported = True
            yield Failure(item.path or name, item.reason, item.line)
            continue
        stamped = _stamp(item, abspath, sha, encoding)
        found = found or isinstance(stamped, Entry)
        reported = reported or not isinstance(stamped, Entry)
        yield stamped
    if not found and not reported:
        raise ParseError("no question and answer found", path=name)


def _record_options(options: ReadOptions) -> dict[str, str]:
    """What record formats (CSV, JSON, JSONL) take from the command line: ``--map``."""
    return {"mapping": options.settings["map"]} if "map" in options.settings else {}


def _parse_stream(
    fh: BinaryIO, name: str, fmt: str, head: bytes, options: ReadOptions, *, abspath: str | None = ""
) -> Iterator[Entry | Failure]:
    """Parse a JSONL/CSV file (or standard input: ``abspath`` None) record by record, in
    bounded memory.

    Each record's sha256 is that of its own text: the file's hash would be known only
    at its end, which would mean holding every record until then. A line longer than
    --max-size is skipped unread (its record fails), so one huge record costs no more
    memory than the cap.
    """
    encoding = _head_encoding(head, name)
    # Progress counts bytes of the file on disk: for a .gz file, the compressed stream's
    # position, not the decompressed one (which would run past the file's size).
    position = getattr(fh, "fileobj", fh)
    text = io.TextIOWrapper(fh, encoding=encoding, errors="strict", newline="")
    parser = parsers.get(fmt)
    if abspath == "":
        abspath = os.path.abspath(name)
    progress = options.progress if abspath is not None else None
    found = failed = False
    line_no = 0
    reported = 0
    cap = options.max_size
    oversized: list[int] = []

    def counted() -> Iterator[str]:
        nonlocal line_no
        while line := text.readline(cap + 1):
            line_no += 1
            if len(line) > cap and not line.endswith("\n"):
                while (rest := text.readline(CHUNK)) and not rest.endswith("\n"):
                    pass
                oversized.append(line_no)
                yield "\n"  # a blank line in its place: the parsers skip those
                continue
            yield line

    def too_long() -> Iterator[Failure]:
        while oversized:
            number = oversized.pop(0)
            yield Failure(
                name,
                f"line {number} is over the {megabytes(cap, cap)[1]} MB limit for one record (raise it with --max-size)",
                number,
            )

    try:
        # The registry's Parser protocol names parse() only; streamed formats have iter_parse.
        for item in parser.iter_parse(counted(), name, **_record_options(options)):  # type: ignore[attr-defined]
            if oversized:
                failed = True
                yield from too_long()
            if isinstance(item, ParseError):
                failed = True
                yield Failure(item.path or name, item.reason, item.line)
                continue
            found = True
            sha = hashlib.sha256(item.raw.encode("utf-8")).hexdigest() if item.raw else None
            yield _stamp(item, abspath, sha, encoding)
            if progress and line_no % 2048 == 0:
                pos = position.tell()
                progress(pos - reported)
                reported = pos
    except UnicodeDecodeError:
        failed = True
        yield Failure(name, f"undecodable bytes after line {line_no} (read as {encoding}); the lines before were kept")
    if oversized:
        failed = True
        yield from too_long()
    if progress:
        progress(max(0, os.path.getsize(name) - reported))
    if not found and not failed:
        raise ParseError("no question and answer found", path=name)


def _parse_binary(fh: BinaryIO, name: str, fmt: str, options: ReadOptions) -> Iterator[Entry | Failure | Skipped]:
    """Hand a format that reads its own bytes (a StackExchange dump) the open file."""
    abspath = os.path.abspath(name)
    parser = parsers.get(fmt)
    fh = cast(BinaryIO, io.BufferedReader(LineCapped(fh, options.max_size, name), CHUNK))
    for item in parser.iter_parse_file(fh, name, options.settings, options.progress):  # type: ignore[attr-defined]
        if isinstance(item, ParseError):
            yield Failure(item.path or name, item.reason, item.line)
        elif isinstance(item, Entry):
            yield _stamp(item, abspath, item.source.sha256, "utf-8")
        else:
            yield item


def _stamp(entry: Entry, abspath: str | None, sha: str | None, encoding: str) -> Entry | Failure:
    if entry.restored:
        return entry  # read from kb's own export: its source is the file it first came from
    if abspath is not None:
        entry.source.path = abspath
    else:
        # Records from stdin have no file that could update them later.
        entry.source.path = None
        entry.source.key = None
    entry.source.sha256 = sha
    entry.source.encoding = encoding
    if missing_fields(entry):  # an open question (status "open") needs no answer yet
        return Failure(abspath or "<stdin>", "entry has an empty question or answer", entry.source.line)
    return entry


def total_size(paths: Iterable[str]) -> int:
    """Return the bytes to read for ``paths`` (files only), for a progress bar."""
    total = 0
    for path in paths:
        try:
            total += Path(path).stat().st_size
        except OSError:
            pass
    return total
