"""The file-level tools of checking and repair: strict loads, salvage of whole entries, leftovers.

A damaged file is never written over: repairs write new files beside it and rename.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import orjson

from kb import paths
from kb.doctor.report import TABLES, as_int, meta_of
from kb.models import make_uid
from kb.store import journal
from kb.store.base import SCHEMA_VERSION
from kb.store.shards import (
    GZIP_MAGIC,
    TEMP_FILE,
    catalog_files,
    parse_document,
    parse_shard_file_name,
    shard_folder,
    unpack,
)

# What load_strict says of a file kb may not read: not damage, and not to be replaced.
NO_PERMISSION = "kb may not read it"


def entry_problems(doc_id: str, doc: Any) -> list[str]:
    """Return what is wrong with one stored entry document (empty when it is whole)."""
    if not doc_id.isdigit():
        return [f"id {doc_id!r} is not a number"]
    if not isinstance(doc, dict):
        return ["not an object"]
    out = []
    question, answer = doc.get("question"), doc.get("answer")
    if not isinstance(question, str) or not question.strip():
        out.append("no question")
    if not isinstance(answer, str) or not answer.strip():
        out.append("no answer")
    if not out and doc.get("uid") != make_uid(str(question), str(answer)):
        out.append("uid does not match its question and answer")
    if doc.get("expert") is not None and not isinstance(doc.get("expert"), str):
        out.append("expert is not a name")
    tags = doc.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        out.append("tags are not a list of words")
    return out


def load_strict(path: Path, tables: tuple[str, ...] = ()) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a store file as kb does: (data, None), or (None, why it cannot be used)."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None, "the file is missing"
    except PermissionError as exc:
        return None, f"{NO_PERMISSION} ({exc.strerror or exc})"
    except OSError as exc:
        return None, f"cannot read it: {exc.strerror or exc}"
    if not blob.strip():
        return None, "the file is empty"
    try:
        data = parse_document(blob)
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, "the top level is not an object"
    bad = [name for name in (*tables, *TABLES) if not isinstance(data.get(name, {}), dict)]
    if bad:
        return None, f"table {bad[0]!r} is not an object"
    return data, None


# A table name or a document id used as a key and followed by an object. A quote inside a
# JSON string is escaped (\"), so a key can only start at an unescaped one.
_KEY = re.compile(r'(?<!\\)"(?:(' + "|".join(TABLES) + r')|(\d+))"\s*:\s*(?=\{)')


def salvage(blob: bytes) -> dict[str, Any]:
    """Recover every whole document from a damaged store file (catalog, shard or old store).

    A tolerant scan: each ``"<id>": {...}`` object is decoded on its own
    (``raw_decode``), so a truncated end or garbage in the middle loses only the
    documents it touches. An entry is kept only if it is whole: question, answer, and a
    uid that matches them. Returns the tables found (meta, entries, experts, raw,
    shards), in TinyDB's shape. A compressed shard is scanned in what inflates of it.
    """
    if blob[:2] == GZIP_MAGIC:
        blob = unpack(blob, tolerant=True)
    text = blob.decode("utf-8", errors="surrogateescape")
    decoder = json.JSONDecoder()
    found: dict[str, dict[str, Any]] = {name: {} for name in TABLES}
    table = None
    pos = 0
    while (m := _KEY.search(text, pos)) is not None:
        if m.group(1):
            table, pos = m.group(1), m.end() + 1
            continue
        try:
            doc, end = decoder.raw_decode(text, m.end())
        except ValueError:
            pos = m.end() + 1
            continue
        pos = end
        if table is not None and isinstance(doc, dict) and _encodable(doc):
            found[table].setdefault(m.group(2), doc)
    entries: dict[str, dict[str, Any]] = {}
    uids: set[str] = set()
    for key, doc in found["entries"].items():
        if not entry_problems(key, doc) and doc["uid"] not in uids:
            uids.add(doc["uid"])
            entries[key] = doc
    experts = [doc for doc in found["experts"].values() if isinstance(doc.get("name"), str)]
    if entries:  # an old single-file store: keep the profiles its entries name
        names = {doc.get("expert") for doc in entries.values()}
        experts = [doc for doc in experts if doc["name"] in names]
    raw = {k: v for k, v in found["raw"].items() if isinstance(v.get("text"), str)}
    if entries or found["entries"]:
        raw = {k: v for k, v in raw.items() if k in entries}
    shards = {
        k: doc
        for k, doc in found["shards"].items()
        if isinstance(doc.get("file"), str) and parse_shard_file_name(doc["file"])
    }
    meta = meta_of(found)
    last_id = max([int(k) for k in entries] + [as_int(meta.get("last_id"))])
    out_meta = {
        "schema": as_int(meta.get("schema")) or SCHEMA_VERSION,
        "created_at": meta.get("created_at"),
        "last_id": last_id,
    }
    for key in ("shard_size", "generation"):
        if as_int(meta.get(key)):
            out_meta[key] = as_int(meta.get(key))
    if isinstance(meta.get("commit"), str):
        out_meta["commit"] = meta["commit"]
    return {
        "meta": {"1": out_meta},
        "entries": entries,
        "experts": {str(i): doc for i, doc in enumerate(experts, start=1)},
        "raw": raw,
        "shards": shards,
    }


def _encodable(doc: dict[str, Any]) -> bool:
    """False for text holding undecodable bytes (kept as surrogates): damaged."""
    try:
        orjson.dumps(doc)
    except TypeError:
        return False
    return True


def backup_path(store: Path) -> Path:
    """Return where the store keeps its last good copy: ``kb.json`` -> ``kb.json.bak``."""
    return store.with_name(store.name + ".bak")


def temp_files(store: Path) -> list[Path]:
    """Return the temporary files interrupted writes of this store left beside it and
    in its shard folder.

    Every write happens under the store's lock, so while the caller holds it any such
    file belongs to a writer that is gone.
    """
    pattern = re.compile(r"\." + re.escape(store.name) + r"\.(?:bak\.)?\d+\.tmp")
    found = []
    try:
        found += [store.parent / n for n in os.listdir(store.parent) if pattern.fullmatch(n)]
    except OSError:
        pass
    folder = shard_folder(store)
    found += [folder / n for n in _listdir(folder) if TEMP_FILE.fullmatch(n)]
    return sorted(found)


def stray_shard_files(store: Path) -> list[Path]:
    """Shard files that neither the catalog nor its backup names: a commit that never
    happened (a writer killed before it wrote the catalog) left them."""
    folder = shard_folder(store)
    names = shard_files(folder)
    if not names:
        return []
    catalog, _ = load_strict(store)
    if catalog is None:
        return []  # without the catalog, every file may be needed to rebuild it
    keep = catalog_files(catalog)
    backup, _ = load_strict(backup_path(store))
    if backup is not None:
        keep |= catalog_files(backup)
    return sorted(folder / name for name in names if name not in keep)


def shard_files(folder: Path) -> list[str]:
    return [name for name in _listdir(folder) if parse_shard_file_name(name)]


def _listdir(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def file_size(path: Path) -> int:
    """A file's size in bytes, 0 when it cannot be read."""
    return paths.file_size(path) or 0


def unused_name(path: Path) -> Path:
    """Return ``path``, or ``path`` with -2, -3... appended when that name is taken."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def write_new(path: Path, blob: bytes) -> None:
    """Write a new owner-only file (never replacing one) and fsync it."""
    journal.write_file(path, blob, exclusive=True)


def replace_file(path: Path, blob: bytes) -> None:
    """Atomically put ``blob`` in place of ``path`` (temp file, fsync, rename, folder fsync).

    Not ``store.write_atomically``: that keeps the replaced file as the backup, and the
    file replaced here is the damaged one, which must not push out the last good copy.
    """
    path = Path(os.path.realpath(path)) if os.path.islink(path) else path  # written through a link
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_new(tmp, blob)
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
