"""Carrying entries out of the store: the export writers (JSON, JSON Lines, CSV, Markdown) and stats.

Both take entries one at a time from the store of record and write or count as they go,
so a big store is never held as one list of records. Each writer produces what the
matching parser reads back: `kb ingest` of an export gives the same uids and fields.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from kb.errors import KbError, UsageError
from kb.models import EXPERT_FIELDS, EXPORT_MARKER, EXPORT_VERSION, Entry
from kb.paths import file_size

FORMATS = ("jsonl", "json", "csv", "md")

# The columns of every CSV kb writes (export, and list/search/show --format csv). The
# expert's bio goes in expert_<section> columns, which the CSV parser reads back.
CSV_COLUMNS = (
    "id",
    "uid",
    "title",
    "category",
    "question",
    "answer",
    "tags",
    "expert",
    *(f"expert_{section}" for section in EXPERT_FIELDS),
    "created_at",
    "updated_at",
)


@dataclass
class FolderChanges:
    """What a Markdown export did to the files it had written before into its folder."""

    removed: list[str] = field(default_factory=list)  # files of entries no longer exported
    kept: list[str] = field(default_factory=list)  # such files changed since: left in place


def export_entries(
    entries: Iterable[Entry],
    fmt: str,
    dest: str | os.PathLike[str] | BinaryIO | None = None,
    *,
    complete: bool = True,
    changes: FolderChanges | None = None,
    force: bool = False,
    mode: int = 0o600,
) -> int:
    """Write ``entries`` in ``fmt`` to ``dest`` (a path, a binary stream, None for stdout).

    A file is written beside its final name and renamed into place at the end, so an
    interrupted export never leaves half a file under that name; an existing file is
    replaced only with ``force``. New files get ``mode`` (the store's permissions). For
    ``md``, ``dest`` is a folder (created if missing) that gets one ``<id>-<slug>.md``
    file per entry; files an earlier export wrote there for entries not written now are
    removed when ``complete`` (the export holds every entry), and noted in ``changes``;
    a file there that kb did not write, or that was changed since kb wrote it, is
    replaced only with ``force`` (the others are written, then ExportConflict names it).
    Returns the number of entries written.
    """
    if fmt == "md":
        if dest is None or not isinstance(dest, (str, os.PathLike)):
            raise ValueError("the md export writes one file per entry: give a folder")
    elif fmt not in _WRITERS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if isinstance(dest, (str, os.PathLike)) and fmt != "md" and not force and os.path.lexists(dest):
        raise UsageError(
            f"{dest} exists; kb export does not write over a file",
            hint="give another name, or --force to replace it",
        )
    try:
        if fmt == "md":
            return _write_markdown(
                entries,
                Path(dest),  # type: ignore[arg-type]  # md takes a folder path, never a stream
                complete=complete,
                changes=changes if changes is not None else FolderChanges(),
                force=force,
                mode=mode,
            )
        with _target(dest, mode) as out:
            return _WRITERS[fmt](entries, out)
    except BrokenPipeError:
        raise
    except OSError as exc:
        where = exc.filename or dest or "stdout"
        raise KbError(f"cannot write the export to {where}: {exc.strerror or exc}") from exc


class ExportConflict(KbError):
    """An export left files alone that it would have written over: changed or not kb's."""


def own_file(dest: str | os.PathLike[str], store: Path, index: Path) -> bool:
    """Whether ``dest`` is one of the store's own files (catalog, backup, journal, lock,
    shards, index, their temporary files), through any symbolic link."""
    target = Path(os.path.realpath(dest))
    for path in {Path(os.path.abspath(store)), Path(os.path.realpath(store))}:
        folder = path.parent
        shards = path.with_name(path.name + ".d")
        if target == shards or shards in target.parents:
            return True
        if target.parent == folder and target.name.lstrip(".").startswith((path.name, index.name)):
            return True
    return False


def _create(path: Path, mode: int) -> int:
    """Open a file for writing; a new one gets ``mode`` (less what the umask takes)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)


@contextmanager
def _target(dest: str | os.PathLike[str] | BinaryIO | None, mode: int = 0o600) -> Iterator[BinaryIO]:
    if dest is None:
        sys.stdout.flush()
        out = getattr(sys.stdout, "buffer", None)
        if out is None:  # a text-only stdout (some test runners): encode on the way
            yield _TextSink(sys.stdout)  # type: ignore[misc]
        else:
            yield out
            out.flush()
        return
    if not isinstance(dest, (str, os.PathLike)):
        yield dest
        return
    path = Path(dest)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with os.fdopen(_create(tmp, mode), "wb") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class _TextSink:
    """A binary-looking wrapper around a text stream."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> int:
        self.stream.write(data.decode("utf-8"))
        return len(data)

    def flush(self) -> None:
        self.stream.flush()


def _write_jsonl(entries: Iterable[Entry], out: BinaryIO) -> int:
    """Write one line per entry: the marker that makes ingest restore it, its JSON shape,
    and its original text (``raw``), so that nothing the store holds is left out."""
    count = 0
    for entry in entries:
        out.write(orjson.dumps({EXPORT_MARKER: EXPORT_VERSION, **entry.to_dict(), "raw": entry.raw}) + b"\n")
        count += 1
    return count


def _write_json(entries: Iterable[Entry], out: BinaryIO) -> int:
    count = 0
    for entry in entries:
        # orjson escapes newlines inside strings, so every raw newline is layout and
        # can take the array's indentation.
        body = orjson.dumps(entry.to_dict(), option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
        out.write((b"[\n  " if count == 0 else b",\n  ") + body)
        count += 1
    out.write(b"\n]\n" if count else b"[]\n")
    return count


def csv_row(entry: Entry) -> list[str]:
    """Return an entry's cells in CSV_COLUMNS order, formula-like cells defused (the CSV
    parser restores them when it reads kb's own CSV)."""
    from kb.parsers.csv import defuse

    expert = entry.expert
    bio = [(getattr(expert, s) or "") if expert else "" for s in EXPERT_FIELDS]
    cells = [
        "" if entry.id is None else str(entry.id),
        entry.uid,
        entry.title,
        entry.category,
        entry.question,
        entry.answer,
        ", ".join(entry.tags),
        expert.name if expert else "",
        *bio,
        entry.created_at or "",
        entry.updated_at or "",
    ]
    return [defuse(cell) for cell in cells]


def _write_csv(entries: Iterable[Entry], out: BinaryIO) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        count = 0
        for entry in entries:
            writer.writerow(csv_row(entry))
            count += 1
        text.flush()
        return count
    finally:
        text.detach()  # leave the underlying stream open for its owner


_WRITERS = {"jsonl": _write_jsonl, "json": _write_json, "csv": _write_csv}


def slug(text: str, length: int = 50) -> str:
    """Return a file-name-safe, lower-case ASCII slug of ``text`` ("entry" if none is left)."""
    ascii_text = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return words[:length].rstrip("-") or "entry"


def markdown_name(entry: Entry) -> str:
    """Return the file name an entry gets in a Markdown export: ``<id>-<slug>.md``."""
    prefix = entry.id if entry.id is not None else entry.uid
    return f"{prefix}-{slug(entry.display_title())}.md"


# The list of files a Markdown export wrote into its folder, with their ids and hashes:
# the next export into that folder removes those of entries it no longer writes, and
# only those (hidden, so ingest of the folder skips it).
MANIFEST = ".kb-export.json"


def _write_markdown(
    entries: Iterable[Entry], folder: Path, *, complete: bool, changes: FolderChanges, force: bool, mode: int
) -> int:
    import hashlib

    from kb.parsers.markdown import render_markdown

    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file; the md export writes one file per entry into a folder")
    if not folder.exists() and folder.suffix:
        # notes.txt is far more often a mistaken file name than a folder wanted.
        raise UsageError(
            f"{folder} looks like a file name; the md export writes one file per entry into a folder",
            hint=f"give a folder name, or create {folder} first if it is one",
        )
    folder.mkdir(mode=0o700 | (mode & 0o055), parents=True, exist_ok=True)
    before = _read_manifest(folder)
    written: dict[str, dict[str, Any]] = {}
    spared: list[str] = []
    count = 0
    for entry in entries:
        name = markdown_name(entry)
        path = folder / name
        if not force and _not_ours(path, before.get(name)):
            spared.append(name)
            if name in before:
                written[name] = before[name]
            continue
        data = render_markdown(entry).encode("utf-8")
        fd = _create(path, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        written[name] = {"id": entry.id, "sha256": hashlib.sha256(data).hexdigest()}
        count += 1
    ids = {item["id"] for item in written.values()}
    for name, item in before.items():
        if name in written:
            continue
        path = folder / name
        # An incomplete export leaves the other entries' files, unless their entry was
        # written now under a new name (its title changed).
        if not complete and item.get("id") not in ids:
            if path.is_file():
                written[name] = item
            continue
        try:
            current = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            continue
        if current == item.get("sha256"):
            path.unlink()
            changes.removed.append(name)
        else:
            changes.kept.append(name)
    _write_manifest(folder, written, mode)
    if spared:
        raise ExportConflict(
            f"exported {count} entries to {folder}, but left {len(spared)} files as they are: they "
            f"were changed since kb exported them, or kb did not write them: {', '.join(spared[:10])}"
            + (f" (and {len(spared) - 10} more)" if len(spared) > 10 else ""),
            hint="keep your changes elsewhere, or --force to write over them",
        )
    return count


def _not_ours(path: Path, item: dict[str, Any] | None) -> bool:
    """Whether writing ``path`` would lose something: a file kb did not write there, or
    one changed since (its hash is not the one the manifest recorded)."""
    import hashlib

    try:
        current = path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return item is None or hashlib.sha256(current).hexdigest() != item.get("sha256")


def _read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Return the files an earlier export wrote into ``folder`` (none if it left no list)."""
    try:
        data = orjson.loads((folder / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    # Only plain names in this folder: a hand-edited list must not reach other files.
    return {
        name: item
        for name, item in files.items()
        if isinstance(item, dict) and name == Path(name).name and name.endswith(".md")
    }


def _write_manifest(folder: Path, files: dict[str, dict[str, Any]], mode: int) -> None:
    with _target(folder / MANIFEST, mode) as out:
        out.write(orjson.dumps({"kb_export": EXPORT_VERSION, "files": files}, option=orjson.OPT_INDENT_2) + b"\n")


# -- stats -------------------------------------------------------------------------------


@dataclass
class Stats:
    """What a store holds (counts per category and per source format) and its files' sizes."""

    path: str
    entries: int = 0
    categories: list[tuple[str, int]] = field(default_factory=list)
    experts: int = 0
    tags: int = 0
    # Source files per format (an entry typed in has none), and entries per format.
    formats: dict[str, int] = field(default_factory=dict)
    format_entries: dict[str, int] = field(default_factory=dict)
    files: int = 0
    store_bytes: int = 0
    index_path: str = ""
    index_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.path,
            "entries": self.entries,
            "categories": len(self.categories),
            "experts": self.experts,
            "tags": self.tags,
            "sources": {"files": self.files, "formats": self.formats, "entries": self.format_entries},
            "store_bytes": self.store_bytes,
            "index": self.index_path,
            "index_bytes": self.index_bytes,
            "per_category": [{"category": name, "entries": n} for name, n in self.categories],
        }


def collect_stats(
    entries: Iterable[Entry], *, store_path: str | Path, index_path: Path | None, store_bytes: int | None = None
) -> Stats:
    """Count ``entries`` in one pass and measure the store and index files.

    ``store_bytes`` is the size of the store's files (catalog, shards, journal); by
    default, the size of the file at ``store_path``. ``index_path`` is None for a store
    whose search data is no file of its own (a server's).
    """
    categories: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    experts: set[str] = set()
    tags: set[str] = set()
    files: dict[str, str] = {}  # path -> the format it was read as
    total = 0
    for entry in entries:
        total += 1
        categories[entry.category] += 1
        formats[entry.source.format or "unknown"] += 1
        if entry.expert:
            experts.add(entry.expert.name)
        tags.update(entry.tags)
        if entry.source.path:
            files.setdefault(entry.source.path, entry.source.format or "unknown")
    # A file of many records is one source: count files, not the entries read from them.
    format_files = Counter(files.values())
    return Stats(
        path=str(store_path),
        entries=total,
        categories=sorted(categories.items(), key=lambda kv: (-kv[1], kv[0].casefold())),
        experts=len(experts),
        tags=len(tags),
        formats={name: format_files[name] for name, _ in formats.most_common() if format_files[name]},
        format_entries=dict(formats.most_common()),
        files=len(files),
        store_bytes=(file_size(store_path) or 0) if store_bytes is None else store_bytes,
        index_path="" if index_path is None else str(index_path),
        # SQLite keeps recent writes in a -wal file beside the index until a checkpoint.
        index_bytes=0 if index_path is None else (file_size(index_path) or 0) + (file_size(f"{index_path}-wal") or 0),
    )
