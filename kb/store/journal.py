"""The store's append-only journal: small writes without rewriting shards and the catalog.

A small write (add, edit, remove) appends one fsynced line to ``kb.json.journal``
instead of rewriting the shard it touches and the catalog, and readers replay the
journal over what they read: its entry and raw-text ops over each shard, its expert and
meta ops over the catalog (kb.store.base). The next commit (an ingest batch, a repair, or
a small write once the journal has grown past MIN_COMPACT) rewrites the shards the
journal touches and a new catalog, and drops the journal: that is the compaction.

Format: the first line names the catalog file version it applies to
(``{"kb_journal": 1, "base": "<inode>:<size>:<mtime_ns>"}``); each further line is
one committed write, ``{"ops": [[table, doc_id, doc_or_null], ...]}``, applied in
order (null removes the document). A journal whose base does not match the catalog
is left over from before a compaction and is ignored. A last line without its newline
is a write that a crash interrupted: it is ignored, and cut off before the next append.
Ops set or remove whole documents, so applying one twice gives the same store.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import orjson

from kb.paths import journal_path_for

VERSION = 1
# Compact once the journal is larger than this share of the catalog file, or than
# MIN_COMPACT bytes (with shards the catalog is small, so in practice: past 1 MB, which
# a commit folds into the few shards it touches in well under a second).
COMPACT_SHARE = 0.05
MIN_COMPACT = 1 << 20

Op = tuple[str, str, Any]

# Pseudo-tables of ops that need the base's contents to apply: an expert's profile is
# filed by name (its document id in the base is not known to a small write, which does
# not read the base; the profile merges into what is there) and meta fields merge into
# meta document 1 (last_id only grows).
EXPERT_BY_NAME = "experts:by-name"
META_MERGE = "meta:merge"


def journal_path(store_path: Path) -> Path:
    return journal_path_for(store_path)


def base_version(st: os.stat_result) -> str:
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _read_lines(path: Path) -> tuple[bytes, list[bytes], int]:
    """Return (header line, whole op lines, byte length of the whole lines)."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return b"", [], 0
    end = blob.rfind(b"\n") + 1  # a torn last line (no newline) is not part of it
    lines = blob[:end].split(b"\n")[:-1]
    if not lines:
        return b"", [], 0
    return lines[0], lines[1:], end


def _header_base(header: bytes) -> str | None:
    try:
        data = orjson.loads(header)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and data.get("kb_journal") == VERSION:
        return str(data.get("base"))
    return None


def read_ops(store_path: Path, base_stat: os.stat_result, *, same_file: bool = False) -> tuple[list[Op], int]:
    """Return the journal's ops that apply to this base file, in order, and how many writes.

    ``same_file`` matches the journal to the base by inode alone, for a repair: damage
    written into the base in place changes its size and mtime but not its inode, while
    every full write makes a new inode.

    Raises ValueError when a whole line of the journal is damaged: its ops cannot be
    applied, and skipping them silently could lose a write.
    """
    header, lines, _ = _read_lines(journal_path(store_path))
    named = _header_base(header) if header else None
    if named is None:
        return [], 0
    if same_file:
        if named.split(":")[0] != str(base_stat.st_ino):
            return [], 0
    elif named != base_version(base_stat):
        return [], 0
    ops: list[Op] = []
    for number, line in enumerate(lines, start=2):
        try:
            for table, doc_id, doc in orjson.loads(line)["ops"]:
                if not isinstance(table, str) or not (doc is None or isinstance(doc, dict)):
                    raise ValueError("an op is not [table, id, document]")
                ops.append((table, str(doc_id), doc))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"journal line {number} is damaged ({exc})") from None
    return ops, len(lines)


def apply_op(data: dict[str, Any], table: str, doc_id: str, doc: Any) -> None:
    """Apply one op to a dict of tables (a whole store, the catalog, or one shard)."""
    if table == EXPERT_BY_NAME:
        experts = data.setdefault("experts", {})
        for key, old in experts.items():
            if old.get("name") == doc_id:
                experts[key] = {**doc, **{k: v for k, v in old.items() if v and not doc.get(k)}}
                return
        experts[str(max((int(k) for k in experts), default=0) + 1)] = doc
    elif table == META_MERGE:
        meta = data.setdefault("meta", {}).setdefault("1", {})
        for key, value in doc.items():
            meta[key] = max(value, meta.get(key, value)) if key == "last_id" else meta.get(key, value)
    elif doc is None:
        data.setdefault(table, {}).pop(doc_id, None)
    else:
        data.setdefault(table, {})[doc_id] = doc


def append(store_path: Path, ops: list[Op]) -> None:
    """Append one write to the journal, durably (the caller holds the store's lock).

    Starts a new journal when there is none or it belongs to an older base.
    """
    base = os.stat(store_path)
    path = journal_path(store_path)
    header, _, whole = _read_lines(path)
    line = orjson.dumps({"ops": [[t, str(i), d] for t, i, d in ops]}) + b"\n"
    fresh = not header or _header_base(header) != base_version(base)
    existed = path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, stat.S_IRUSR | stat.S_IWUSR)
    try:
        if fresh:
            os.ftruncate(fd, 0)
            head = orjson.dumps({"kb_journal": VERSION, "base": base_version(base)}) + b"\n"
            line = head + line
            offset = 0
        else:
            os.ftruncate(fd, whole)  # drop a torn last line left by a crash
            offset = whole
        os.lseek(fd, offset, os.SEEK_SET)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError:
        # Put the journal back as it was (a disk-full write can leave part of a line,
        # or an empty new journal that would make the store look changed).
        try:
            if existed and not fresh:
                os.ftruncate(fd, whole)
            elif not existed:
                path.unlink()
        except OSError:
            pass
        raise
    finally:
        os.close(fd)
    if fresh:
        fsync_dir(path.parent)


def discard(store_path: Path) -> None:
    """Remove the journal after a compaction wrote its ops into the base."""
    try:
        journal_path(store_path).unlink()
    except FileNotFoundError:
        pass


def wants_compaction(store_path: Path) -> bool:
    """Whether the journal has grown enough that the next write should rewrite the base."""
    try:
        size = journal_path(store_path).stat().st_size
        base = store_path.stat().st_size
    except OSError:
        return False
    return size > max(MIN_COMPACT, COMPACT_SHARE * base)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (best effort where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
