"""The files of a store: where they live, how they are named, written and parsed.

The layout (a TinyDB catalog ``kb.json`` and its shard files in ``kb.json.d/``) is
described in kb.store.base, which holds the logic; this module holds the file handling it
rests on: atomic writes with a backup, strict parsing, the disk and in-memory file sets,
and ``read_snapshot``, one consistent read of the catalog with the journal's ops sorted
by the shard they apply to.
"""

from __future__ import annotations

import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from kb.errors import StoreError
from kb.paths import store_signature
from kb.store import journal

# A shard file is written compressed (gzip, so `zcat` reads it) as JSON Lines, one line
# per entry id: ``{"entries": {"7": {...}}, "raw": {"7": {"text": ...}}}``. Each line is
# a small TinyDB document of the same shape as the whole, so the store reads the shard by
# merging them, and a salvage of a damaged file finds whole entries in what inflates.
# An entry and its original text sit side by side within deflate's 32 kB window, so the
# text, which mostly repeats the entry's fields, costs little more than once: a shard of
# MedQuAD takes 1.2 MB against 7.4 MB as one JSON document (level 1; level 6 saves
# another quarter for three times the time). Files of schema 2 (one JSON document) are
# read as before and replaced by this form when their shard is next written; a commit
# marks the store schema 3, so a kb that reads only plain shards refuses it as written by
# a newer kb instead of taking its files for damaged ones.
GZIP_MAGIC = b"\x1f\x8b"
PACK_LEVEL = 1
# Deflate by ISA-L where it is installed (isal, a dependency): the same gzip format, which
# zlib reads, made 3-4x faster than zlib's level 1 and a little smaller (a 10.8 MB shard of
# MedQuAD: 104 ms and 1.77 MB by zlib, 30 ms and 1.65 MB by ISA-L's level 1). Inflating
# stays with zlib, whose errors the salvage of a damaged file reads.
_deflater: ModuleType
try:
    from isal import isal_zlib as _deflater
except ImportError:  # pragma: no cover - a platform without isal's wheels
    _deflater = zlib
# The lines are compressed in gzip members of about this much text (a file of several
# members is still one gzip file): damage inside one loses that member's entries, not
# the rest of the shard (about 6% more bytes than one member; 64 kB members cost 12%).
MEMBER_BYTES = 256 * 1024
# How every member written by pack_shard starts (deflate, no flags, no time stamp).
MEMBER_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"

# Entries per shard in a new store (an existing store keeps the size in its meta). A
# shard of 2,048 MedQuAD entries with their original text is ~10 MB and parses in
# ~25 ms; 1M entries make ~490 files.
SHARD_SIZE = 2048

SHARD_FILE = re.compile(r"(\d{6,})-(\d+)\.json")
TEMP_FILE = re.compile(r"\..+\.\d+\.tmp")


def shard_folder(store_path: Path) -> Path:
    """Return the folder of a store's shards: ``kb.json`` -> ``kb.json.d``."""
    return store_path.with_name(store_path.name + ".d")


def shard_of(entry_id: int, size: int) -> int:
    """Return the number of the shard that holds ``entry_id``."""
    return (int(entry_id) - 1) // size + 1


def shard_file_name(number: int, generation: int) -> str:
    return f"{number:06d}-{generation}.json"


def parse_shard_file_name(name: str) -> tuple[int, int] | None:
    """Return (shard number, generation) of a shard file name, or None for other names."""
    m = SHARD_FILE.fullmatch(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def catalog_files(catalog: dict[str, Any]) -> set[str]:
    """Return the shard file names a catalog refers to."""
    shards = catalog.get("shards")
    if not isinstance(shards, dict):
        return set()
    return {doc["file"] for doc in shards.values() if isinstance(doc, dict) and isinstance(doc.get("file"), str)}


# -- files ----------------------------------------------------------------------------------


def write_atomically(path: Path, blob: bytes, *, backup: bool = True, sync_folder: bool = True) -> None:
    """Replace ``path`` with ``blob`` so that a crash leaves either the old or the new file.

    The temporary file is created owner-only (the store holds people's notes), fsynced
    before the rename, and the folder is fsynced after it so the rename itself survives
    a power cut. With ``backup`` the version being replaced is kept as ``<name>.bak``.
    """
    # A store file that is a symbolic link is written through it: the link stays, and
    # its target receives the new version (renamed in beside it, on its file system).
    real = Path(os.path.realpath(path)) if os.path.islink(path) else path
    folder = real.parent
    tmp = folder / f".{real.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        try:
            view = memoryview(blob)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if backup:
            _keep_backup(path)
        os.replace(tmp, real)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise StoreError(f"cannot write store {path}: {exc.strerror or exc}; the previous version was kept") from exc
    if sync_folder:
        journal.fsync_dir(folder)


def _keep_backup(path: Path) -> None:
    """Keep the file about to be replaced as ``<name>.bak``, the last good copy.

    A hard link to the old inode, renamed over the previous backup: it costs ~7 us
    whatever the file's size. Best effort: where links are not supported there is simply
    no backup. ``kb doctor --repair`` can restore it.
    """
    link = path.with_name(f".{path.name}.bak.{os.getpid()}.tmp")
    try:
        os.link(path, link)
        os.replace(link, path.with_name(path.name + ".bak"))
    except OSError:
        pass  # no store yet (first write), or a file system without hard links
    # rename() of two links to one inode does nothing, leaving `link` behind.
    try:
        link.unlink()
    except OSError:
        pass


def pack_shard(data: dict[str, Any]) -> bytes:
    """Serialise a shard's tables as compressed JSON Lines, each entry beside its raw text."""
    members = []
    group: list[bytes] = []
    size = 0
    for line in _shard_lines(data):
        group.append(line)
        size += len(line)
        if size >= MEMBER_BYTES:  # compressed as it fills: the text is never held whole
            members.append(_deflate(group))
            group, size = [], 0
    if group or not members:
        members.append(_deflate(group))
    return b"".join(members)


def _shard_lines(data: dict[str, Any]) -> Iterator[bytes]:
    entries: dict[str, Any] = data.get("entries") or {}
    raw: dict[str, Any] = data.get("raw") or {}
    for key, doc in entries.items():
        both: dict[str, Any] = {"entries": {key: doc}}
        if key in raw:
            both["raw"] = {key: raw[key]}
        yield orjson.dumps(both)
    for key, doc in raw.items():
        if key not in entries:
            yield orjson.dumps({"raw": {key: doc}})
    rest = {name: table for name, table in data.items() if name not in ("entries", "raw")}
    if rest:
        yield orjson.dumps(rest)


def _deflate(lines: list[bytes]) -> bytes:
    packer = _deflater.compressobj(PACK_LEVEL, _deflater.DEFLATED, 31)  # 31: the gzip wrapper
    return packer.compress(b"".join(line + b"\n" for line in lines)) + packer.flush()


def unpack(blob: bytes, *, tolerant: bool = False) -> bytes:
    """Inflate a compressed shard to its JSON Lines.

    With ``tolerant`` (a salvage), a damaged member gives what inflated of it before the
    damage, and the scan goes on at the next member's header.
    """
    out = []
    rest = blob
    while rest:
        inflater = zlib.decompressobj(31)
        try:
            out.append(inflater.decompress(rest))
        except zlib.error as exc:
            if not tolerant:
                raise orjson.JSONDecodeError(f"compressed data is damaged ({exc})", "", 0) from None
            out.append(_inflate_prefix(rest))
            found = rest.find(MEMBER_HEADER, 1)
            rest = rest[found:] if found > 0 else b""
            continue
        if not inflater.eof:
            if not tolerant:
                raise orjson.JSONDecodeError("compressed data is cut short", "", 0)
            break
        rest = inflater.unused_data
    return b"".join(out)


def _inflate_prefix(blob: bytes) -> bytes:
    """What inflates of a damaged member before the damage, a block of input at a time."""
    inflater = zlib.decompressobj(31)
    out = []
    for start in range(0, len(blob), 4096):
        try:
            out.append(inflater.decompress(blob[start : start + 4096]))
        except zlib.error:
            break
        if inflater.eof:
            break
    # The damaged line is cut where the output stops; it starts the next member's text
    # on a line of its own.
    return b"".join(out) + b"\n"


def _parse_lines(text: bytes) -> dict[str, Any]:
    # No line holds a raw newline (JSON escapes it in strings), so the lines joined by
    # commas are one JSON array: one orjson call instead of one per entry.
    docs = _loads(b"[" + text.strip(b"\n").replace(b"\n", b",") + b"]")
    # A shard whose entries were all removed has no lines: its tables are still there, empty.
    data: dict[str, Any] = {"entries": {}, "raw": {}}
    for doc in docs:
        if not isinstance(doc, dict):
            raise orjson.JSONDecodeError("a line of the shard is not an object", "", 0)
        for name, table in doc.items():
            if isinstance(table, dict) and isinstance(data.get(name), dict):
                data[name].update(table)
            else:
                data[name] = table
    return data


def parse_document(blob: bytes) -> Any:
    """Parse a store file: a compressed shard (see ``pack_shard``) or one JSON document.

    One JSON document is read by orjson, or by the standard library where orjson runs
    out of room.

    orjson refuses documents past a few GB ("Not enough memory to allocate buffer for
    parsing", seen on a 3.5 GB single-file store of 1M entries) however much memory is
    free; that is a limit of the parser, not damage, so the slower standard parser gets
    its turn.
    """
    if blob[:2] == GZIP_MAGIC:
        return _parse_lines(unpack(blob))
    return _loads(blob)


def _loads(blob: bytes) -> Any:
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        if "memory" not in str(exc).lower():
            raise
    import json

    try:
        return json.loads(blob)
    except json.JSONDecodeError as exc:
        raise orjson.JSONDecodeError(exc.msg, exc.doc, exc.pos) from None


def describe_damage(blob: bytes, exc: Exception) -> str:
    if not blob.strip():
        return "the file is empty"
    msg = str(exc)
    return f"not valid JSON: {msg}" if msg else "not valid JSON"


def damaged(path: Path | str, why: str) -> StoreError:
    return StoreError(
        f"store {path} is damaged ({why}); it was left untouched",
        hint="run 'kb doctor' to see the damage and the ways to recover",
    )


def load_tables(path: Path, blob: bytes, tables: tuple[str, ...]) -> dict[str, Any]:
    try:
        data = parse_document(blob)
    except MemoryError:
        raise StoreError(
            f"store {path} ({len(blob) / 1e9:.1f} GB) is too large to load into this "
            "machine's memory; it was left untouched"
        ) from None
    except orjson.JSONDecodeError as exc:
        raise damaged(path, describe_damage(blob, exc)) from exc
    if not isinstance(data, dict):
        raise StoreError(f"store {path} is not a kb store (top level is not an object); it was left untouched")
    for name in tables:
        if not isinstance(data.setdefault(name, {}), dict):
            raise damaged(path, f"table {name!r} is not an object")
    return data


class Files:
    """The catalog and shard files of a store on disk."""

    def __init__(self, path: Path, folder: Path | None = None) -> None:
        self.path = path
        self.folder = folder or shard_folder(path)

    def version(self) -> str | None:
        try:
            return store_signature(self.path)
        except OSError:
            return None

    def read_catalog(self) -> tuple[dict[str, Any] | None, list[journal.Op], str]:
        """Return the catalog (None when there is no store yet), the journal's ops, and
        what the journal is to the catalog (``journal.Journal.state``)."""
        try:
            with open(self.path, "rb") as fh:
                base_stat = os.fstat(fh.fileno())
                blob = fh.read()
        except FileNotFoundError:
            return None, [], journal.NONE
        except OSError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc.strerror or exc}") from exc
        data = load_tables(self.path, blob, ())
        try:
            ops, _, state = journal.read_ops(self.path, data, base_stat)
        except ValueError as exc:
            raise StoreError(
                f"store {self.path}: {exc}; it was left untouched",
                hint="run 'kb doctor' to see the damage and the ways to recover",
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot read the journal of {self.path}: {exc.strerror or exc}") from exc
        return data, ops, state

    def write_catalog(self, data: dict[str, Any], *, backup: bool = True) -> None:
        write_atomically(self.path, orjson.dumps(data), backup=backup)

    def backup_files(self) -> set[str]:
        """The shard files named by the backup catalog (``kb.json.bak``), if it parses."""
        try:
            data = orjson.loads(self.path.with_name(self.path.name + ".bak").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return set()
        return catalog_files(data) if isinstance(data, dict) else set()

    def read_shard(self, name: str) -> dict[str, Any]:
        """Parse one shard file; FileNotFoundError when it is gone."""
        path = self.folder / name
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read store {path}: {exc.strerror or exc}") from exc
        return load_tables(path, blob, ("entries", "raw"))

    def write_shard(self, name: str, data: dict[str, Any]) -> None:
        if not self.folder.is_dir():
            try:
                self.folder.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot write store {self.folder}: {exc.strerror or exc}") from exc
            journal.fsync_dir(self.folder.parent)
        # The folder is fsynced once, before the catalog that names the file is written.
        write_atomically(self.folder / name, pack_shard(data), backup=False, sync_folder=False)

    def sync(self) -> None:
        journal.fsync_dir(self.folder)

    def names(self) -> list[str]:
        try:
            return os.listdir(self.folder)
        except OSError:
            return []

    def remove(self, name: str) -> None:
        try:
            (self.folder / name).unlink()
        except OSError:
            pass


class MemoryFiles:
    """The same files kept in memory, for a throwaway store (tests, dry experiments)."""

    path = None

    def __init__(self) -> None:
        self.catalog: bytes | None = None
        self.shards: dict[str, bytes] = {}
        self.writes = 0

    def version(self) -> str | None:
        return f"memory:{self.writes}"

    def read_catalog(self) -> tuple[dict[str, Any] | None, list[journal.Op], str]:
        return (orjson.loads(self.catalog) if self.catalog is not None else None), [], journal.NONE

    def write_catalog(self, data: dict[str, Any], *, backup: bool = True) -> None:
        self.catalog = orjson.dumps(data)
        self.writes += 1

    def backup_files(self) -> set[str]:
        return set()

    def read_shard(self, name: str) -> dict[str, Any]:
        try:
            return orjson.loads(self.shards[name])
        except KeyError:
            raise FileNotFoundError(name) from None

    def write_shard(self, name: str, data: dict[str, Any]) -> None:
        self.shards[name] = orjson.dumps(data)

    def sync(self) -> None:
        pass

    def names(self) -> list[str]:
        return list(self.shards)

    def remove(self, name: str) -> None:
        self.shards.pop(name, None)


# -- what one process has read --------------------------------------------------------------


@dataclass
class Snapshot:
    """The catalog as read at one version, with what applies on top of its shard files.

    ``ops`` holds the journal's entry and raw ops by shard number; ``legacy`` holds the
    shards of a schema-1 store (entries inside the catalog), split in memory.
    """

    catalog: dict[str, Any]
    version: str | None
    shard_size: int
    ops: dict[int, list[journal.Op]] = field(default_factory=dict)
    legacy: dict[int, dict[str, Any]] | None = None
    journal_state: str = journal.NONE

    def files(self) -> set[str]:
        return catalog_files(self.catalog)

    def numbers(self) -> set[int]:
        numbers = {int(k) for k in self.catalog.get("shards", {}) if str(k).isdigit()}
        numbers.update(self.ops)
        if self.legacy:
            numbers.update(self.legacy)
        return numbers


def read_snapshot(files: Files | MemoryFiles, version: str | None) -> Snapshot:
    catalog, ops, state = files.read_catalog()
    catalog = catalog if catalog is not None else {}
    for name in ("meta", "experts", "shards"):
        if not isinstance(catalog.setdefault(name, {}), dict):
            raise damaged(files.path or "in memory", f"table {name!r} is not an object")
    meta = catalog["meta"].get("1")
    meta = meta if isinstance(meta, dict) else {}
    size = int(meta.get("shard_size") or SHARD_SIZE)
    legacy: dict[int, dict[str, Any]] | None = None
    if "entries" in catalog or "raw" in catalog:
        # Schema 1: the entries live in the catalog itself. Apply the journal to the whole
        # store as that version did, then split it into shards in memory.
        for op in ops:
            journal.apply_op(catalog, *op)
        ops = []
        legacy = {}
        for table in ("entries", "raw"):
            docs = catalog.pop(table, {})
            if not isinstance(docs, dict):
                raise damaged(files.path or "in memory", f"table {table!r} is not an object")
            for key, doc in docs.items():
                if not key.isdigit():
                    raise damaged(files.path or "in memory", f"{table} id {key!r} is not a number")
                shard = legacy.setdefault(shard_of(int(key), size), {"entries": {}, "raw": {}})
                shard[table][key] = doc
        highest = max((int(k) for s in legacy.values() for k in s["entries"]), default=0)
        meta = catalog["meta"].setdefault("1", {})
        meta["last_id"] = max(highest, int(meta.get("last_id") or 0))
    by_shard: dict[int, list[journal.Op]] = {}
    for op in ops:
        table, doc_id, _doc = op
        if table in ("entries", "raw"):
            if doc_id.isdigit():
                by_shard.setdefault(shard_of(int(doc_id), size), []).append(op)
        else:
            journal.apply_op(catalog, *op)
    return Snapshot(catalog, version, size, by_shard, legacy, state)
