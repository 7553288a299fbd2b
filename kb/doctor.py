"""Checking a store and its search index, and repairing what can be repaired: `kb doctor`.

``check`` reads the catalog, every shard file, the journal, the backup, the index, the
lock and leftover files, and returns a ``Report`` of findings; it changes nothing.
``repair`` fixes what it can, never deleting a damaged file: a damaged catalog is moved
aside and replaced by the better of its last good copy (``kb.json.bak``) and a catalog
rebuilt from the shard files on disk; a damaged or missing shard is replaced by the best
of its salvaged whole entries, the backup's version and older versions on disk; the
journal of small writes is replayed over the result; a stale, missing or corrupt index
is rebuilt; files of dead writers are removed. Both run under the store's lock, so no kb
process writes meanwhile. The store's layout is described in kb/store.py.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kb.api import KnowledgeBase
from kb.models import make_uid
from kb.store import journal
from kb.store.shards import (
    SHARD_SIZE,
    TEMP_FILE,
    catalog_files,
    parse_document,
    parse_shard_file_name,
    shard_folder,
    shard_of,
)
from kb.store.store import SCHEMA_VERSION, Store

OK, NOTE, PROBLEM = "ok", "note", "problem"
TABLES = ("meta", "entries", "experts", "raw", "shards")
CATALOG_TABLES = ("meta", "experts", "shards")
SHARD_TABLES = ("entries", "raw")
# How many bad entries (or files) a finding names before it says "and N more".
_NAMED = 5


@dataclass
class Finding:
    """One check's outcome: ``status`` is ok, note (kb copes by itself) or problem."""

    check: str
    status: str
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass
class Report:
    """What ``check`` found, and what ``repair`` did (``actions``)."""

    store: Path
    findings: list[Finding] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(f.status != PROBLEM for f in self.findings)

    def add(self, check: str, status: str, detail: str, fix: str | None = None) -> None:
        self.findings.append(Finding(check, status, detail, fix))

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": str(self.store),
            "healthy": self.healthy,
            "findings": [f.to_dict() for f in self.findings],
            "actions": list(self.actions),
        }


# -- reading files, strictly and tolerantly -------------------------------------------------


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
    if not out and doc.get("uid") != make_uid(question, answer):
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
    shards), in TinyDB's shape.
    """
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
    shards = {k: doc for k, doc in found["shards"].items()
              if isinstance(doc.get("file"), str) and parse_shard_file_name(doc["file"])}
    meta = _meta(found)
    last_id = max([int(k) for k in entries] + [_int(meta.get("last_id"))])
    out_meta = {"schema": _int(meta.get("schema")) or SCHEMA_VERSION, "created_at": meta.get("created_at"),
                "last_id": last_id}
    for key in ("shard_size", "generation"):
        if _int(meta.get(key)):
            out_meta[key] = _int(meta.get(key))
    return {
        "meta": {"1": out_meta},
        "entries": entries,
        "experts": {str(i): doc for i, doc in enumerate(experts, start=1)},
        "raw": raw,
        "shards": shards,
    }


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    """Return a store's meta record (schema version, last id...), or {} when there is none."""
    meta = data.get("meta", {}).get("1")
    return meta if isinstance(meta, dict) else {}


def _encodable(doc: dict[str, Any]) -> bool:
    """False for text holding undecodable bytes (kept as surrogates): damaged."""
    try:
        orjson.dumps(doc)
    except TypeError:
        return False
    return True


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _shard_size(catalog: dict[str, Any]) -> int:
    return _int(_meta(catalog).get("shard_size")) or SHARD_SIZE


def _named(items: list[str]) -> str:
    more = f" (and {len(items) - _NAMED} more)" if len(items) > _NAMED else ""
    return ", ".join(items[:_NAMED]) + more


# -- checking -----------------------------------------------------------------------------


def check(path: str | os.PathLike[str] | None = None) -> Report:
    """Check the store at ``path`` (default: $KB_DB / the user data folder) and its index."""
    kb = KnowledgeBase.open(path)
    report = Report(kb.path)
    if kb.path.is_dir():
        report.add("store", PROBLEM, f"{kb.path} is a folder, not a store file")
        return report
    if not kb.path.parent.is_dir():
        report.add("store", NOTE, f"{kb.path} does not exist yet (kb creates it on the first write)")
        return report
    held = _lock_held(kb)
    with kb.store.locked():
        walk = _check_store(kb, report)
        _check_backup(kb, report)
        _check_index(kb, walk, report)
        _check_files(kb, report, held)
    return report


@dataclass
class _Walk:
    """What one pass over every stored entry found (the store read shard by shard)."""

    ids: dict[int, str] = field(default_factory=dict)  # id -> uid
    bad: dict[str, list[str]] = field(default_factory=dict)
    twins: list[str] = field(default_factory=list)
    experts: set[str] = field(default_factory=set)
    orphans: int = 0
    misplaced: list[str] = field(default_factory=list)

    def add(self, key: str, doc: Any, raw_keys: set[str], seen: dict[str, str]) -> None:
        why = entry_problems(key, doc)
        if why:
            self.bad[key] = why
        if not key.isdigit() or not isinstance(doc, dict):
            return
        uid = doc.get("uid")
        if isinstance(uid, str):
            if uid in seen:
                self.twins.append(f"{seen[uid]} and {key}")
            seen.setdefault(uid, key)
            self.ids[int(key)] = uid
        if isinstance(doc.get("expert"), str):
            self.experts.add(doc["expert"])


def _check_store(kb: KnowledgeBase, report: Report) -> _Walk | None:
    path = kb.path
    folder = shard_folder(path)
    if not path.exists():
        if _shard_files(folder):
            report.add("store", PROBLEM, f"{path} is missing but its shard folder {folder.name} holds entries",
                       fix="kb doctor --repair rebuilds the catalog from the shard files")
        else:
            report.add("store", NOTE, f"{path} does not exist yet (kb creates it on the first write)")
        return None
    catalog, why = load_strict(path)
    if catalog is None:
        report.add("store", PROBLEM, f"{path} is damaged: {why}; kb leaves it untouched",
                   fix="kb doctor --repair moves it aside and restores the last good copy or a catalog "
                       "rebuilt from the shard files")
        return None
    legacy = "entries" in catalog or "raw" in catalog
    size = path.stat().st_size
    report.add("store", OK, f"{path} parses ({size:,} bytes" + (", the single-file layout kb converts at its "
                                                                "next write)" if legacy else ")"))
    try:
        ops, _ = journal.read_ops(path, path.stat())
    except ValueError as exc:
        ops = []
        report.add("journal", PROBLEM, f"{exc}", fix="not repaired automatically; the files are left as they are")
    except OSError as exc:
        ops = []
        report.add("journal", PROBLEM, f"cannot read the journal: {exc.strerror or exc}")
    _check_permissions(path, catalog, report)
    meta = _meta(catalog)
    schema = _int(meta.get("schema"))
    if schema > SCHEMA_VERSION:
        report.add("schema", PROBLEM, f"written by a newer kb (schema {schema}, this kb reads {SCHEMA_VERSION})",
                   fix="upgrade kb")
    elif (catalog.get("entries") or catalog.get("shards")) and not meta:
        report.add("schema", PROBLEM, "entries but no meta record (schema version, last id)")
    else:
        report.add("schema", OK, f"schema {schema or SCHEMA_VERSION}")
    catalog_ops = [op for op in ops if op[0] not in SHARD_TABLES]
    for op in catalog_ops:
        journal.apply_op(catalog, *op)
    walk = _walk(kb, catalog, [op for op in ops if op[0] in SHARD_TABLES], legacy, report)
    _report_entries(catalog, walk, report)
    return walk


def _walk(kb: KnowledgeBase, catalog: dict[str, Any], ops: list[journal.Op], legacy: bool,
          report: Report) -> _Walk:
    """Read every shard named by the catalog (with the journal's ops) and check its entries."""
    walk = _Walk()
    seen: dict[str, str] = {}
    size = _shard_size(catalog)
    by_shard: dict[int, list[journal.Op]] = {}
    for op in ops:
        if op[1].isdigit():
            by_shard.setdefault(shard_of(int(op[1]), size), []).append(op)
    if legacy:
        data = {"entries": catalog.get("entries", {}), "raw": catalog.get("raw", {})}
        for op in ops:
            journal.apply_op(data, *op)
        _walk_shard(walk, data, None, size, seen)
        return walk
    folder = shard_folder(kb.path)
    broken, counts = [], []
    shards = catalog.get("shards", {})
    for number in sorted(set(by_shard) | {int(k) for k in shards if k.isdigit()}):
        doc = shards.get(str(number))
        data: dict[str, Any] | None = {"entries": {}, "raw": {}}
        if isinstance(doc, dict) and doc.get("file"):
            data, why = load_strict(folder / str(doc["file"]), SHARD_TABLES)
            if data is None:
                broken.append(f"{doc['file']} ({why})")
                continue
            if _int(doc.get("entries")) != len(data["entries"]):
                counts.append(str(doc["file"]))
        for op in by_shard.get(number, ()):
            journal.apply_op(data, *op)
        _walk_shard(walk, data, number, size, seen)
    if broken:
        report.add("shards", PROBLEM, f"{len(broken)} of {len(shards)} shard files cannot be read: {_named(broken)}",
                   fix="kb doctor --repair replaces each by the best of its salvaged entries and its last good copy")
    elif counts:
        report.add("shards", NOTE, f"the catalog's entry counts differ from {len(counts)} shard files: "
                   f"{_named(counts)}", fix="kb doctor --repair rewrites the catalog's counts")
    else:
        report.add("shards", OK, f"{len(shards)} shard files, each whole, in {folder.name}")
    return walk


def _walk_shard(walk: _Walk, data: dict[str, Any], number: int | None, size: int, seen: dict[str, str]) -> None:
    entries, raw = data.get("entries", {}), data.get("raw", {})
    raw_keys = set(raw)
    for key, doc in entries.items():
        walk.add(key, doc, raw_keys, seen)
        if number is not None and key.isdigit() and shard_of(int(key), size) != number:
            walk.misplaced.append(key)
    walk.orphans += len(raw_keys - set(entries))


def _report_entries(catalog: dict[str, Any], walk: _Walk, report: Report) -> None:
    total = len(walk.ids) + len([k for k in walk.bad if not k.isdigit()])
    if walk.bad:
        named = "; ".join(f"id {k}: {', '.join(v)}" for k, v in list(walk.bad.items())[:_NAMED])
        more = f" (and {len(walk.bad) - _NAMED} more)" if len(walk.bad) > _NAMED else ""
        report.add("entries", PROBLEM, f"{len(walk.bad)} of {total} entries are not whole: {named}{more}",
                   fix="fix them with 'kb edit ID' or remove them with 'kb remove ID'")
    else:
        report.add("entries", OK, f"{total} entries, each with a question, an answer and a matching uid")
    if walk.twins:
        report.add("uids", PROBLEM, f"{len(walk.twins)} uids stored twice (ids {'; '.join(walk.twins[:_NAMED])})",
                   fix="remove one of each pair with 'kb remove ID'")
    last_id = _int(_meta(catalog).get("last_id"))
    highest = max(walk.ids, default=0)
    if _meta(catalog) and highest > last_id:
        report.add("ids", PROBLEM, f"the highest id ({highest}) is above the recorded last id ({last_id})")
    if walk.misplaced:
        report.add("ids", PROBLEM, f"{len(walk.misplaced)} entries sit in the wrong shard file: ids "
                   f"{_named(walk.misplaced)}")
    experts = {doc.get("name") for doc in catalog.get("experts", {}).values() if isinstance(doc, dict)}
    missing = sorted(walk.experts - experts)
    if missing:
        report.add("experts", NOTE, f"{len(missing)} experts have answers but no profile: {', '.join(missing[:_NAMED])}")
    else:
        report.add("experts", OK, f"{len(experts)} expert profiles; every expert named by an entry has one")
    if walk.orphans:
        report.add("raw", NOTE, f"original text kept for {walk.orphans} ids that are not entries")


def _check_permissions(path: Path, catalog: dict[str, Any], report: Report) -> None:
    loose = []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        loose.append(f"the store is readable by others (mode {mode:o})")
    folder = shard_folder(path)
    if folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) & 0o077:
        loose.append(f"{folder.name} is open to others (mode {stat.S_IMODE(folder.stat().st_mode):o})")
    open_files = [name for name in sorted(catalog_files(catalog))
                  if (folder / name).exists() and stat.S_IMODE((folder / name).stat().st_mode) & 0o077]
    if open_files:
        loose.append(f"{len(open_files)} shard files are readable by others")
    if loose:
        report.add("permissions", PROBLEM, "; ".join(loose),
                   fix="kb doctor --repair makes them owner-only (600, folder 700)")


def _check_backup(kb: KnowledgeBase, report: Report) -> None:
    bak = backup_path(kb.path)
    if not bak.exists():
        report.add("backup", NOTE, f"no last good copy yet ({bak.name} appears after the next write)")
        return
    count, why = _backup_entries(kb.path)
    if why is not None:
        report.add("backup", NOTE, f"{bak.name} cannot be used: {why}")
        return
    report.add("backup", OK, f"{bak.name}: {count} entries, the version before the last write")


def _backup_entries(path: Path) -> tuple[int, str | None]:
    """Count the backup's entries from the files it names: (count, None) or (0, why not)."""
    data, why = load_strict(backup_path(path))
    if data is None:
        return 0, why
    if "entries" in data:
        return len(data["entries"]), None
    folder = shard_folder(path)
    missing = sorted(name for name in catalog_files(data) if not (folder / name).exists())
    if missing:
        return 0, f"its shard files are gone: {_named(missing)}"
    return sum(_int(doc.get("entries")) for doc in data.get("shards", {}).values() if isinstance(doc, dict)), None


def _check_index(kb: KnowledgeBase, walk: _Walk | None, report: Report) -> None:
    path = kb.index_path
    if not path.exists():
        report.add("index", NOTE, "no search index: the next read builds it", fix="kb doctor --repair builds it now")
        return
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        report.add("index", PROBLEM, f"cannot open {path}: {exc}", fix="kb doctor --repair rebuilds it")
        return
    try:
        _check_index_db(kb, conn, walk, report)
    except sqlite3.DatabaseError as exc:
        report.add("index", PROBLEM, f"{path.name} is corrupt ({exc}); the next read rebuilds it",
                   fix="kb doctor --repair rebuilds it now")
    finally:
        conn.close()


def _check_index_db(kb: KnowledgeBase, conn: sqlite3.Connection, walk: _Walk | None, report: Report) -> None:
    from kb.search.index import SCHEMA_VERSION as INDEX_SCHEMA

    verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {verdict}")
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
        report.add("index", PROBLEM, f"{kb.index_path.name} is not a kb search index",
                   fix="move it away; kb keeps its index beside the store")
        return
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    if meta.get("schema") != INDEX_SCHEMA:
        report.add("index", NOTE, f"index schema {meta.get('schema')}: the next read rebuilds it",
                   fix="kb doctor --repair rebuilds it now")
        return
    # FTS5's own check that its index matches the text it indexes (read-only in effect:
    # it is a command, so it runs in a transaction that is rolled back).
    conn.execute("BEGIN")
    try:
        conn.execute("INSERT INTO fts(fts) VALUES ('integrity-check')")
    finally:
        conn.execute("ROLLBACK")
    report.add("index", OK, f"{kb.index_path.name} opens; SQLite and FTS5 integrity checks pass")
    if walk is None:
        return
    if meta.get("signature") != kb.store.signature():
        report.add("freshness", NOTE, "the index reflects an older version of the store: the next read rebuilds it",
                   fix="kb doctor --repair rebuilds it now")
        return
    indexed = 0
    differ = 0
    for entry_id, uid in conn.execute("SELECT id, uid FROM entries"):
        indexed += 1
        if walk.ids.get(entry_id) != uid:
            differ += 1
    differ += len(walk.ids) - (indexed - differ)
    if differ or _int(meta.get("count")) != len(walk.ids):
        report.add("freshness", PROBLEM,
                   f"the index claims to be current but differs from the store ({differ} ids differ; "
                   f"{indexed} indexed, {len(walk.ids)} stored)", fix="kb doctor --repair rebuilds it")
        return
    report.add("freshness", OK, f"the index is current: the same {indexed} entries as the store")


def _check_files(kb: KnowledgeBase, report: Report, held: bool) -> None:
    leftovers = temp_files(kb.path) + stray_shard_files(kb.path)
    if leftovers:
        size = sum(_size(p) for p in leftovers)
        report.add("temp files", NOTE,
                   f"{len(leftovers)} files left by interrupted writes ({size:,} bytes): "
                   + _named([p.name for p in leftovers]),
                   fix="kb doctor --repair removes them")
    else:
        report.add("temp files", OK, "no files left by interrupted writes")
    lock = kb.store.lock_path
    if held:
        report.add("lock", NOTE, f"{lock.name} was held by another kb process; the check waited for it")
    else:
        report.add("lock", OK, f"{lock.name} is free")


def _lock_held(kb: KnowledgeBase) -> bool:
    """Tell whether another process holds the store's lock right now (without waiting)."""
    from filelock import FileLock, Timeout

    lock_path = kb.store.lock_path
    if not lock_path.exists():
        return False
    probe = FileLock(lock_path, timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:
        return False
    probe.release()
    return False


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
    names = _shard_files(folder)
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


def _shard_files(folder: Path) -> list[str]:
    return [name for name in _listdir(folder) if parse_shard_file_name(name)]


def _listdir(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- repairing ----------------------------------------------------------------------------


def repair(path: str | os.PathLike[str] | None = None) -> Report:
    """Repair what ``check`` finds that can be repaired, then check again.

    Returns the second check's report, with ``actions`` saying what was done. A damaged
    file is never deleted: it is renamed to ``<name>.damaged-<time>``.
    """
    kb = KnowledgeBase.open(path)
    actions: list[str] = []
    if not kb.path.is_dir():
        with kb.store.locked():
            usable = _repair_catalog(kb, actions)
            if usable:
                usable = _repair_shards(kb, actions)
            _repair_permissions(kb.path, actions)
            leftovers = [(p, "the leftover temporary file") for p in temp_files(kb.path)]
            if usable:
                leftovers += [(p, "the shard file no catalog names (an interrupted write's)")
                              for p in stray_shard_files(kb.path)]
            for leftover, what in leftovers:
                try:
                    leftover.unlink()
                    actions.append(f"removed {what} {leftover.name}")
                except OSError as exc:
                    actions.append(f"could not remove {leftover.name}: {exc.strerror or exc}")
            if usable:
                _repair_index(kb, actions)
    kb.close()
    report = check(path)
    report.actions = actions
    return report


def _repair_catalog(kb: KnowledgeBase, actions: list[str]) -> bool:
    """Replace a damaged (or lost) catalog by its backup or one rebuilt from the shard
    files, whichever holds more entries; return whether the store is usable."""
    store = kb.path
    folder = shard_folder(store)
    exists = store.exists()
    if not exists and not _shard_files(folder):
        return True
    if exists and load_strict(store)[0] is not None:
        return True
    stamp = time.strftime("%Y%m%d-%H%M%S")
    blob = store.read_bytes() if exists else b""
    found = salvage(blob)
    ops: list[journal.Op] = []
    writes = 0
    if exists:
        # Small writes since the last commit sit in the journal, which names the damaged
        # catalog by its inode: its whole documents apply to what is recovered.
        try:
            ops, writes = journal.read_ops(store, store.stat(), same_file=True)
        except ValueError as exc:
            actions.append(f"the journal of small writes could not be replayed ({exc}); it was left in place")
    if found["entries"]:
        # The single-file layout: the entries themselves are in the damaged file.
        rebuilt, count = {k: found[k] for k in ("meta", "entries", "experts", "raw")}, len(found["entries"])
        kind = "salvaged entries"
    else:
        rebuilt, count = _catalog_from_files(folder, found)
        kind = "shard files on disk"
    backup_count, why_not = _backup_entries(store) if backup_path(store).exists() else (0, "there is none")
    usable_backup = why_not is None
    if count and found["entries"]:
        # Kept whichever way the choice goes: a store of its own, openable with --db.
        target = _unused(store.with_name(f"{store.name}.salvaged-{stamp}.json"))
        _write_new(target, orjson.dumps(rebuilt))
        actions.append(f"salvaged {count} whole entries from the damaged store into {target.name}")
    if usable_backup and backup_count >= count:
        new_blob = backup_path(store).read_bytes()
        what = (f"restored the store from {backup_path(store).name} ({backup_count} entries; "
                f"the {kind} hold {count})")
    elif count:
        new_blob = orjson.dumps(rebuilt)
        what = f"restored the store from the {count} entries of the {kind}" + (
            f" ({backup_path(store).name} holds only {backup_count})" if usable_backup else
            " (there is no usable last good copy)")
    else:
        actions.append("nothing could be recovered from the damaged store and there is no usable last good copy; "
                       "it was left in place")
        return False
    if exists:
        aside = _unused(store.with_name(f"{store.name}.damaged-{stamp}"))
        # Link first, then replace: the store's name always holds either the damaged file
        # or the repaired one, and the damaged bytes stay on disk under the new name.
        try:
            os.link(store, aside)
        except OSError:  # no hard links here: a rename, then a short moment without a store
            os.rename(store, aside)
        actions.append(f"kept the damaged store as {aside.name}")
    _replace(store, new_blob)
    actions.append(what)
    if ops:
        with _without_backup(kb.store) as repaired, repaired.transaction():
            repaired.apply_ops(ops)
        actions.append(f"replayed {writes} journalled writes over the recovered store")
    return True


def _catalog_from_files(folder: Path, found: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Build a catalog from the shard files on disk: for each shard, the file the damaged
    catalog still names (where that part of it survived), else its newest file that
    parses. Returns the catalog and how many entries it names."""
    meta = _meta(found)
    size = _int(meta.get("shard_size")) or SHARD_SIZE
    named = {int(k): doc["file"] for k, doc in found.get("shards", {}).items() if k.isdigit()}
    on_disk: dict[int, list[tuple[int, str]]] = {}
    for name in _shard_files(folder):
        number, generation = parse_shard_file_name(name)
        on_disk.setdefault(number, []).append((generation, name))
    shards: dict[str, Any] = {}
    total = highest = generation = 0
    for number in sorted(set(named) | set(on_disk)):
        candidates = [named[number]] if number in named else []
        candidates += [name for _gen, name in sorted(on_disk.get(number, []), reverse=True) if name not in candidates]
        for name in candidates:
            data, _why = load_strict(folder / name, SHARD_TABLES)
            if data is None:
                continue
            shards[str(number)] = {"file": name, "entries": len(data["entries"])}
            total += len(data["entries"])
            highest = max([highest, *(int(k) for k in data["entries"] if k.isdigit())])
            generation = max(generation, parse_shard_file_name(name)[1])
            break
    catalog_meta = {"schema": SCHEMA_VERSION, "created_at": meta.get("created_at"), "shard_size": size,
                    "last_id": max(highest, _int(meta.get("last_id"))), "generation": generation}
    return {"meta": {"1": catalog_meta}, "experts": found.get("experts", {}), "shards": shards}, total


def _repair_shards(kb: KnowledgeBase, actions: list[str]) -> bool:
    """Replace each unreadable shard by the best of its salvage, the backup's version and
    older versions on disk; return whether the store is usable afterwards."""
    store, folder = kb.path, shard_folder(kb.path)
    catalog, _ = load_strict(store)
    if catalog is None or "entries" in catalog:
        return catalog is not None
    size = _shard_size(catalog)
    backup, _ = load_strict(backup_path(store))
    backup_shards = backup.get("shards", {}) if backup is not None and "entries" not in backup else {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    replacements: dict[int, dict[str, Any]] = {}
    recount: dict[str, int] = {}
    for key, doc in catalog.get("shards", {}).items():
        if not key.isdigit() or not isinstance(doc, dict) or not isinstance(doc.get("file"), str):
            continue
        number, name = int(key), doc["file"]
        data, why = load_strict(folder / name, SHARD_TABLES)
        if data is not None:
            if _int(doc.get("entries")) != len(data["entries"]):
                recount[key] = len(data["entries"])
            continue
        best, said = _best_version(folder, name, number, size, backup_shards.get(key))
        replacements[number] = best
        if (folder / name).exists():
            aside = _unused(folder / f"{name}.damaged-{stamp}")
            os.rename(folder / name, aside)
            actions.append(f"kept the damaged shard file as {folder.name}/{aside.name}")
        actions.append(f"shard {number} ({name}: {why}): {said}")
    if not replacements and not recount:
        return True
    # The catalog being replaced names a damaged file: it must not become the backup.
    with _without_backup(kb.store) as fixed, fixed.transaction():
        for number, data in replacements.items():
            fixed.put_shard(number, data)
        fixed.set_shard_counts(recount)
    if recount:
        actions.append(f"corrected the catalog's entry counts of {len(recount)} shard files")
    return True


def _best_version(folder: Path, name: str, number: int, size: int,
                  backup_doc: Any) -> tuple[dict[str, Any], str]:
    """Choose what replaces an unreadable shard file; return it and a sentence saying so."""
    candidates: list[tuple[str, dict[str, Any]]] = []
    if isinstance(backup_doc, dict) and backup_doc.get("file") not in (None, name):
        data, _ = load_strict(folder / str(backup_doc["file"]), SHARD_TABLES)
        if data is not None:
            candidates.append((f"the last good copy's {backup_doc['file']}", data))
    for other in sorted(_shard_files(folder), reverse=True):
        parsed = parse_shard_file_name(other)
        if parsed and parsed[0] == number and other != name and not any(other in c[0] for c in candidates):
            data, _ = load_strict(folder / other, SHARD_TABLES)
            if data is not None:
                candidates.append((f"the older version {other}", data))
    if (folder / name).exists():
        found = salvage((folder / name).read_bytes())
        entries = {k: v for k, v in found["entries"].items() if shard_of(int(k), size) == number}
        raw = {k: v for k, v in found["raw"].items() if k in entries}
        candidates.append(("the whole entries salvaged from it", {"entries": entries, "raw": raw}))
    if not candidates:
        return {"entries": {}, "raw": {}}, "nothing could be recovered; its entries are lost"
    # The most entries wins; on a tie, the earlier candidate (a committed version).
    label, data = max(candidates, key=lambda c: len(c[1]["entries"]))
    others = ", ".join(f"{lbl} {len(d['entries'])}" for lbl, d in candidates if lbl != label)
    return data, f"restored {len(data['entries'])} entries from {label}" + (f" ({others})" if others else "")


@contextmanager
def _without_backup(store: Store) -> Iterator[Store]:
    """Commit a repair without keeping the replaced catalog as the last good copy.

    The store object is the one whose lock the repair holds (a second one in this
    process would wait for that lock).
    """
    store.rotate_backup = False
    try:
        yield store
    finally:
        store.rotate_backup = True


def _repair_permissions(store: Path, actions: list[str]) -> None:
    if not store.exists():
        return
    if stat.S_IMODE(store.stat().st_mode) & 0o077:
        os.chmod(store, 0o600)
        actions.append("made the store readable by its owner only (600)")
    folder = shard_folder(store)
    if folder.is_dir():
        if stat.S_IMODE(folder.stat().st_mode) & 0o077:
            os.chmod(folder, 0o700)
            actions.append(f"made {folder.name} open to its owner only (700)")
        opened = [n for n in _shard_files(folder) if stat.S_IMODE((folder / n).stat().st_mode) & 0o077]
        for name in opened:
            os.chmod(folder / name, 0o600)
        if opened:
            actions.append(f"made {len(opened)} shard files readable by their owner only (600)")


def _repair_index(kb: KnowledgeBase, actions: list[str]) -> None:
    """Rebuild the index unless every index check passes."""
    from kb.errors import KbError

    probe = Report(kb.path)
    walk = _check_store(kb, Report(kb.path)) if kb.path.exists() else None
    _check_index(kb, walk, probe)
    if all(f.status == OK for f in probe.findings):
        return
    if any(f.status == PROBLEM and "corrupt" in f.detail for f in probe.findings):
        # Damaged pages inside can pass the open and fail the rebuild: start afresh.
        kb.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{kb.index_path}{suffix}").unlink(missing_ok=True)
        actions.append(f"removed the corrupt search index {kb.index_path.name}")
    try:
        count = kb.rebuild_index()
    except KbError as exc:
        actions.append(f"could not rebuild the search index: {exc}")
        return
    actions.append(f"rebuilt the search index ({count} entries)")


def _unused(path: Path) -> Path:
    """Return ``path``, or ``path`` with -2, -3... appended when that name is taken."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _write_new(path: Path, blob: bytes) -> None:
    """Write a new owner-only file (never replacing one) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: Path, blob: bytes) -> None:
    """Atomically put ``blob`` in place of ``path`` (temp file, fsync, rename, folder fsync).

    Not ``store.write_atomically``: that keeps the replaced file as the backup, and the
    file replaced here is the damaged one, which must not push out the last good copy.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_new(tmp, blob)
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
