"""The store's append-only journal: small writes without rewriting shards and the catalog.

A small write (add, edit, remove) appends one fsynced line to ``kb.json.journal``
instead of rewriting the shard it touches and the catalog, and readers replay the
journal over what they read: its entry and raw-text ops over each shard, its expert and
meta ops over the catalog (kb.store.base). The next commit (an ingest batch, a repair, or
a small write once the journal has grown past MIN_COMPACT) rewrites the shards the
journal touches and a new catalog, and drops the journal: that is the compaction.

Format: the first line names the catalog it applies to by its content, the commit
token written inside the catalog's meta (``{"kb_journal": 2, "base": "<token>",
"file": "<inode>"}``); each further line is one committed write,
``{"ops": [[table, doc_id, doc_or_null], ...]}``, applied in order (null removes the
document). File metadata is never the binding: a copy, a restore, ``touch`` or a sync
folder changes a file's inode and times, and its journal must still apply. A journal
naming the token of the catalog's predecessor (the ``folded`` token) was folded in by
the commit that wrote this catalog and is stale. Any other journal does not belong to
this catalog: it is never applied and never dropped, but kept aside under the lock as
``kb.json.journal.unmatched-<time>`` for ``kb doctor`` to name. A last line without its
newline is a write that a crash interrupted: it is ignored, and cut off before the next
append. Ops set or remove whole documents, so applying one twice gives the same store.
Journals written before commit tokens (version 1) name the catalog by
``<inode>:<size>:<mtime_ns>``; they apply when the size matches with the inode or the
modification time, which a copy or a ``touch`` keeps.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kb.paths import journal_path_for

VERSION = 2
# What a journal is to a catalog (``Journal.state``).
APPLIES, STALE, FOREIGN, NONE = "applies", "stale", "foreign", "none"
UNMATCHED = "unmatched"
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
    """The version-1 binding: a catalog file's ``<inode>:<size>:<mtime_ns>``."""
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def new_token() -> str:
    """A fresh commit token: every commit writes one into the catalog it makes."""
    return secrets.token_hex(8)


def commit_token(catalog: dict[str, Any] | None) -> str | None:
    """The commit token written inside a catalog, or None (one written before tokens)."""
    meta = catalog.get("meta") if isinstance(catalog, dict) else None
    doc = meta.get("1") if isinstance(meta, dict) else None
    token = doc.get("commit") if isinstance(doc, dict) else None
    return token if isinstance(token, str) else None


def _folded_token(catalog: dict[str, Any] | None) -> str | None:
    meta = catalog.get("meta") if isinstance(catalog, dict) else None
    doc = meta.get("1") if isinstance(meta, dict) else None
    token = doc.get("folded") if isinstance(doc, dict) else None
    return token if isinstance(token, str) else None


@dataclass
class Journal:
    """A journal as read from disk: its header (None when there is none) and whole lines."""

    header: dict[str, Any] | None
    lines: list[bytes]
    whole: int  # byte length of the whole lines: a torn last line starts here

    @property
    def base(self) -> str | None:
        return str(self.header.get("base")) if self.header else None

    @property
    def file(self) -> str | None:
        """The inode of the catalog file the journal was started on (a repair's hint)."""
        if not self.header:
            return None
        if self.header.get("kb_journal") == 1:
            return str(self.header.get("base")).split(":")[0]
        return str(self.header.get("file"))

    def state(self, catalog: dict[str, Any] | None, base_stat: os.stat_result | None) -> str:
        """Whether the journal APPLIES to this catalog, is STALE (folded in), FOREIGN, or NONE."""
        if self.header is None:
            return NONE
        if self.header.get("kb_journal") == 1:
            if base_stat is None:
                return FOREIGN
            ino, _, rest = str(self.base).partition(":")
            size, _, mtime = rest.partition(":")
            same_size = size == str(base_stat.st_size)
            if same_size and (ino == str(base_stat.st_ino) or mtime == str(base_stat.st_mtime_ns)):
                return APPLIES
            return FOREIGN
        token = commit_token(catalog)
        if token is not None and self.base == token:
            return APPLIES
        if self.base is not None and self.base == _folded_token(catalog):
            return STALE
        return FOREIGN

    def ops(self) -> list[Op]:
        """Every op of the whole lines, in order.

        Raises ValueError when a whole line is damaged: its ops cannot be applied, and
        skipping them silently could lose a write.
        """
        ops: list[Op] = []
        for number, line in enumerate(self.lines, start=2):
            try:
                for table, doc_id, doc in orjson.loads(line)["ops"]:
                    if not isinstance(table, str) or not (doc is None or isinstance(doc, dict)):
                        raise ValueError("an op is not [table, id, document]")
                    ops.append((table, str(doc_id), doc))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"journal line {number} is damaged ({exc})") from None
        return ops


def read(path: Path) -> Journal:
    """Read a journal file (``kb.json.journal`` or one kept aside)."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return Journal(None, [], 0)
    end = blob.rfind(b"\n") + 1  # a torn last line (no newline) is not part of it
    lines = blob[:end].split(b"\n")[:-1]
    if not lines:
        return Journal(None, [], 0)
    return Journal(_header(lines[0]), lines[1:], end)


def _header(line: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and data.get("kb_journal") in (1, VERSION) and data.get("base") is not None:
        return data
    return None


def read_ops(
    store_path: Path, catalog: dict[str, Any] | None, base_stat: os.stat_result | None
) -> tuple[list[Op], int, str]:
    """Return the journal's ops that apply to this catalog, how many writes it holds, and its state.

    Ops come back only when the journal APPLIES; raises ValueError when one of its whole
    lines is damaged.
    """
    found = read(journal_path(store_path))
    state = found.state(catalog, base_stat)
    if state != APPLIES:
        return [], len(found.lines), state
    return found.ops(), len(found.lines), state


def keep_aside(store_path: Path) -> Path | None:
    """Rename a journal that does not belong to the catalog to ``<journal>.unmatched-<time>``.

    Never overwrites a file; the caller holds the store's lock. Returns the new path.
    """
    path = journal_path(store_path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{UNMATCHED}-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{UNMATCHED}-{stamp}-{n}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    fsync_dir(path.parent)
    return target


def kept_aside(store_path: Path) -> list[Path]:
    """The journals kept aside beside a store, oldest first."""
    path = journal_path(store_path)
    prefix = f"{path.name}.{UNMATCHED}-"
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return sorted(path.parent / n for n in names if n.startswith(prefix))


def rebased(store_path: Path, token: str) -> bytes | None:
    """The journal rewritten to name the catalog with ``token`` (None when there is none).

    For a repair putting a catalog back, which writes it atomically; the header keeps
    the inode hint of the catalog the journal was started on and the token it named, so
    a repair interrupted before it put the new catalog in place still finds it.
    """
    found = read(journal_path(store_path))
    if found.header is None:
        return None
    # "from" keeps the token it named before, for a repair run again on the same damage.
    head = {"kb_journal": VERSION, "base": token, "file": found.file, "from": found.header.get("from", found.base)}
    return orjson.dumps(head) + b"\n" + b"".join(line + b"\n" for line in found.lines)


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


def append(store_path: Path, ops: list[Op], catalog: dict[str, Any]) -> None:
    """Append one write to the journal, durably (the caller holds the store's lock).

    ``catalog`` is the catalog as the caller read it, which names its commit token.
    Starts a new journal when there is none or it was folded into this catalog; keeps a
    journal that does not belong aside first.
    """
    token = commit_token(catalog)
    if token is None:
        raise ValueError("a catalog without a commit token cannot take a journal")
    base = os.stat(store_path)
    path = journal_path(store_path)
    found = read(path)
    state = found.state(catalog, base)
    if state == FOREIGN:
        keep_aside(store_path)
    elif state == APPLIES and found.header is not None and found.header.get("kb_journal") != VERSION:
        # A version-1 journal: bound to the token from now on (a new file, renamed in).
        blob = rebased(store_path, token)
        assert blob is not None
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write_file(tmp, blob)
        os.replace(tmp, path)
        found = read(path)
    whole = found.whole
    line = orjson.dumps({"ops": [[t, str(i), d] for t, i, d in ops]}) + b"\n"
    fresh = state != APPLIES
    existed = path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, stat.S_IRUSR | stat.S_IWUSR)
    try:
        if fresh:
            os.ftruncate(fd, 0)
            head = orjson.dumps({"kb_journal": VERSION, "base": token, "file": str(base.st_ino)}) + b"\n"
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


def discard(store_path: Path, state: str) -> None:
    """Remove the journal after a commit folded its ops into the catalog.

    ``state`` is what the journal was to the catalog the commit replaced: one that did
    not belong (FOREIGN) was not folded in, so it is kept aside instead.
    """
    if state == FOREIGN:
        keep_aside(store_path)
        return
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


def write_file(path: Path, blob: bytes, *, exclusive: bool = False) -> None:
    """Write an owner-only file and fsync it (``exclusive``: only if it does not exist)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


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
