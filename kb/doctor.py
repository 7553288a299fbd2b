"""Checking a store and its search index, and repairing what can be repaired: `kb doctor`.

``check`` reads the store file, its index, its backup, lock and leftover temporary files,
and returns a ``Report`` of findings; it changes nothing. ``repair`` fixes what it can: a
damaged store is moved aside (renamed, never deleted) and replaced by the better of its
last good copy (``kb.json.bak``) and the entries a tolerant scan salvages from it; a
stale, missing or corrupt index is rebuilt; temporary files of dead writers are removed.
Both run under the store's lock, so no kb process writes meanwhile.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kb import journal
from kb.api import KnowledgeBase
from kb.models import make_uid

OK, NOTE, PROBLEM = "ok", "note", "problem"
TABLES = ("meta", "entries", "experts", "raw")
# How many bad entries a finding names before it says "and N more".
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


# -- reading the store, strictly and tolerantly -------------------------------------------


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


def _load_strict(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Parse the store as kb does: (data, None), or (None, why it cannot be used)."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read it: {exc.strerror or exc}"
    if not blob.strip():
        return None, "the file is empty"
    try:
        data = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, "the top level is not an object"
    bad = [name for name in TABLES if not isinstance(data.get(name, {}), dict)]
    if bad:
        return None, f"table {bad[0]!r} is not an object"
    return data, None


def _load_logical(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Read the store as kb does (the base file plus any journal of small writes)."""
    from kb.errors import KbError
    from kb.store import AtomicJSONStorage

    try:
        return AtomicJSONStorage(path).read() or {}, None
    except KbError as exc:
        return None, str(exc)


# A table name or a document id used as a key and followed by an object. A quote inside a
# JSON string is escaped (\"), so a key can only start at an unescaped one.
_KEY = re.compile(r'(?<!\\)"(?:(' + "|".join(TABLES) + r')|(\d+))"\s*:\s*(?=\{)')


def salvage(blob: bytes) -> dict[str, Any]:
    """Recover every whole entry (with its raw text and expert) from a damaged store file.

    A tolerant scan: each ``"<id>": {...}`` object is decoded on its own
    (``raw_decode``), so a truncated end or garbage in the middle loses only the
    entries it touches. An entry is kept only if it is whole: question, answer, and a
    uid that matches them. Returns a store document (the tables) that kb can open.
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
    names = {doc.get("expert") for doc in entries.values()}
    experts = [doc for doc in found["experts"].values() if isinstance(doc.get("name"), str) and doc["name"] in names]
    raw = {k: v for k, v in found["raw"].items() if k in entries and isinstance(v.get("text"), str)}
    meta = _meta(found)
    last_id = max([int(k) for k in entries] + [_int(meta.get("last_id"))])
    from kb.store import SCHEMA_VERSION

    return {
        "meta": {"1": {"schema": _int(meta.get("schema")) or SCHEMA_VERSION,
                       "created_at": meta.get("created_at"), "last_id": last_id}},
        "entries": entries,
        "experts": {str(i): doc for i, doc in enumerate(experts, start=1)},
        "raw": raw,
    }


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    """Return the store's meta record (schema version, last id), or {} when there is none."""
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
        data = _check_store(kb, report)
        _check_backup(kb, report)
        _check_index(kb, data, report)
        _check_files(kb, report, held)
    return report


def _check_store(kb: KnowledgeBase, report: Report) -> dict[str, Any] | None:
    path = kb.path
    if not path.exists():
        report.add("store", NOTE, f"{path} does not exist yet (kb creates it on the first write)")
        return None
    data, why = _load_strict(path)
    if data is None:
        report.add("store", PROBLEM, f"{path} is damaged: {why}; kb leaves it untouched",
                   fix="kb doctor --repair moves it aside and restores the last good copy or the salvaged entries")
        return None
    size = path.stat().st_size
    report.add("store", OK, f"{path} parses ({size:,} bytes)")
    logical, why = _load_logical(path)
    if logical is None:
        report.add("journal", PROBLEM, f"{why}", fix="not repaired automatically; the files are left as they are")
    else:
        data = logical
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        report.add("permissions", PROBLEM, f"the store is readable by others (mode {mode:o})",
                   fix="kb doctor --repair makes it owner-only (600)")
    meta = _meta(data)
    from kb.store import SCHEMA_VERSION

    schema = _int(meta.get("schema"))
    if schema > SCHEMA_VERSION:
        report.add("schema", PROBLEM, f"written by a newer kb (schema {schema}, this kb reads {SCHEMA_VERSION})",
                   fix="upgrade kb")
    elif data.get("entries") and not meta:
        report.add("schema", PROBLEM, "entries but no meta record (schema version, last id)")
    else:
        report.add("schema", OK, f"schema {schema or SCHEMA_VERSION}")
    _check_entries(data, report)
    return data


def _check_entries(data: dict[str, Any], report: Report) -> None:
    entries = data.get("entries", {})
    bad = {key: why for key, doc in entries.items() if (why := entry_problems(key, doc))}
    if bad:
        named = "; ".join(f"id {k}: {', '.join(v)}" for k, v in list(bad.items())[:_NAMED])
        more = f" (and {len(bad) - _NAMED} more)" if len(bad) > _NAMED else ""
        report.add("entries", PROBLEM, f"{len(bad)} of {len(entries)} entries are not whole: {named}{more}",
                   fix="fix them with 'kb edit ID' or remove them with 'kb remove ID'")
    else:
        report.add("entries", OK, f"{len(entries)} entries, each with a question, an answer and a matching uid")
    seen: dict[str, str] = {}
    twins = []
    for key, doc in entries.items():
        uid = doc.get("uid") if isinstance(doc, dict) else None
        if isinstance(uid, str):
            if uid in seen:
                twins.append(f"{seen[uid]} and {key}")
            seen.setdefault(uid, key)
    if twins:
        report.add("uids", PROBLEM, f"{len(twins)} uids stored twice (ids {'; '.join(twins[:_NAMED])})",
                   fix="remove one of each pair with 'kb remove ID'")
    last_id = _int(_meta(data).get("last_id"))
    highest = max((int(k) for k in entries if k.isdigit()), default=0)
    if _meta(data) and highest > last_id:
        report.add("ids", PROBLEM, f"the highest id ({highest}) is above the recorded last id ({last_id})")
    experts = {doc.get("name") for doc in data.get("experts", {}).values() if isinstance(doc, dict)}
    missing = sorted({doc["expert"] for doc in entries.values()
                      if isinstance(doc, dict) and isinstance(doc.get("expert"), str) and doc["expert"] not in experts})
    if missing:
        report.add("experts", NOTE, f"{len(missing)} experts have answers but no profile: {', '.join(missing[:_NAMED])}")
    else:
        report.add("experts", OK, f"{len(experts)} expert profiles; every expert named by an entry has one")
    orphans = [k for k in data.get("raw", {}) if k not in entries]
    if orphans:
        report.add("raw", NOTE, f"original text kept for {len(orphans)} ids that are not entries")


def _check_backup(kb: KnowledgeBase, report: Report) -> None:
    bak = backup_path(kb.path)
    if not bak.exists():
        report.add("backup", NOTE, f"no last good copy yet ({bak.name} appears after the next write)")
        return
    data, why = _load_strict(bak)
    if data is None:
        report.add("backup", NOTE, f"{bak.name} cannot be used: {why}")
        return
    report.add("backup", OK, f"{bak.name}: {len(data.get('entries', {}))} entries, the version before the last write")


def _check_index(kb: KnowledgeBase, data: dict[str, Any] | None, report: Report) -> None:
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
        _check_index_db(kb, conn, data, report)
    except sqlite3.DatabaseError as exc:
        report.add("index", PROBLEM, f"{path.name} is corrupt ({exc}); the next read rebuilds it",
                   fix="kb doctor --repair rebuilds it now")
    finally:
        conn.close()


def _check_index_db(kb: KnowledgeBase, conn: sqlite3.Connection, data: dict[str, Any] | None,
                    report: Report) -> None:
    from kb.index import SCHEMA_VERSION

    verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {verdict}")
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
        report.add("index", PROBLEM, f"{kb.index_path.name} is not a kb search index",
                   fix="move it away; kb keeps its index beside the store")
        return
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    if meta.get("schema") != SCHEMA_VERSION:
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
    ids = dict(conn.execute("SELECT id, uid FROM entries"))
    report.add("index", OK, f"{kb.index_path.name} opens; SQLite and FTS5 integrity checks pass")
    if data is None:
        return
    if meta.get("signature") != kb.store.signature():
        report.add("freshness", NOTE, "the index reflects an older version of the store: the next read rebuilds it",
                   fix="kb doctor --repair rebuilds it now")
        return
    stored = {int(k): doc.get("uid") for k, doc in data.get("entries", {}).items()
              if k.isdigit() and isinstance(doc, dict)}
    if ids != stored or _int(meta.get("count")) != len(stored):
        differ = len(set(ids.items()) ^ set(stored.items()))
        report.add("freshness", PROBLEM,
                   f"the index claims to be current but differs from the store ({differ} ids differ; "
                   f"{len(ids)} indexed, {len(stored)} stored)", fix="kb doctor --repair rebuilds it")
        return
    report.add("freshness", OK, f"the index is current: the same {len(ids)} entries as the store")


def _check_files(kb: KnowledgeBase, report: Report, held: bool) -> None:
    leftovers = temp_files(kb.path)
    if leftovers:
        size = sum(_size(p) for p in leftovers)
        report.add("temp files", NOTE,
                   f"{len(leftovers)} temporary files left by interrupted writes ({size:,} bytes): "
                   + ", ".join(p.name for p in leftovers[:_NAMED]),
                   fix="kb doctor --repair removes them")
    else:
        report.add("temp files", OK, "no temporary files left by interrupted writes")
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
    """Return the temporary files interrupted writes of this store left in its folder.

    Every write happens under the store's lock, so while the caller holds it any such
    file belongs to a writer that is gone.
    """
    pattern = re.compile(r"\." + re.escape(store.name) + r"\.(?:bak\.)?\d+\.tmp")
    try:
        names = os.listdir(store.parent)
    except OSError:
        return []
    return sorted(store.parent / n for n in names if pattern.fullmatch(n))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- repairing ----------------------------------------------------------------------------


def repair(path: str | os.PathLike[str] | None = None) -> Report:
    """Repair what ``check`` finds that can be repaired, then check again.

    Returns the second check's report, with ``actions`` saying what was done. A damaged
    store is never deleted: it is renamed to ``<name>.damaged-<time>``.
    """
    kb = KnowledgeBase.open(path)
    actions: list[str] = []
    if not kb.path.is_dir():
        with kb.store.locked():
            usable = _repair_store(kb, actions)
            for leftover in temp_files(kb.path):
                try:
                    leftover.unlink()
                    actions.append(f"removed the leftover temporary file {leftover.name}")
                except OSError as exc:
                    actions.append(f"could not remove {leftover.name}: {exc.strerror or exc}")
            if usable:
                _repair_index(kb, actions)
    kb.close()
    report = check(path)
    report.actions = actions
    return report


def _repair_store(kb: KnowledgeBase, actions: list[str]) -> bool:
    """Replace a damaged store by its backup or salvage; return whether the store is usable."""
    store = kb.path
    if not store.exists():
        return True
    data, _why = _load_strict(store)
    if data is not None:
        if stat.S_IMODE(store.stat().st_mode) & 0o077:
            os.chmod(store, 0o600)
            actions.append("made the store readable by its owner only (600)")
        return True
    stamp = time.strftime("%Y%m%d-%H%M%S")
    salvaged = salvage(store.read_bytes())
    # Small writes since the last full write sit in the journal, which names the damaged
    # base as its own: its whole documents apply to the salvage just as to the base.
    try:
        replayed = journal.replay(store, salvaged, store.stat(), same_file=True)
    except ValueError as exc:
        replayed = 0
        actions.append(f"the journal of small writes could not be replayed ({exc}); it was left in place")
    if replayed:
        actions.append(f"replayed {replayed} journalled writes over the salvaged entries")
    count = len(salvaged["entries"])
    backup, _ = _load_strict(backup_path(store))
    backup_count = len(backup.get("entries", {})) if backup is not None else -1
    if count:
        target = _unused(store.with_name(f"{store.name}.salvaged-{stamp}.json"))
        _write_new(target, orjson.dumps(salvaged))
        actions.append(f"salvaged {count} whole entries from the damaged store into {target.name}")
    if backup is not None and backup_count >= count:
        blob = backup_path(store).read_bytes()
        what = (f"restored the store from {backup_path(store).name} ({backup_count} entries; "
                f"salvage recovered {count})")
    elif count:
        blob = orjson.dumps(salvaged)
        what = f"restored the store from the {count} salvaged entries" + (
            f" ({backup_path(store).name} holds only {backup_count})" if backup is not None else
            " (there is no usable last good copy)")
    else:
        actions.append("nothing could be recovered from the damaged store and there is no usable last good copy; "
                       "it was left in place")
        return False
    aside = _unused(store.with_name(f"{store.name}.damaged-{stamp}"))
    # Link first, then replace: the store's name always holds either the damaged file or
    # the repaired one, and the damaged bytes stay on disk under the new name.
    try:
        os.link(store, aside)
    except OSError:  # no hard links here: a rename, then a short moment without a store
        os.rename(store, aside)
    _replace(store, blob)
    actions.append(f"kept the damaged store as {aside.name}")
    actions.append(what)
    return True


def _repair_index(kb: KnowledgeBase, actions: list[str]) -> None:
    """Rebuild the index unless every index check passes."""
    from kb.errors import KbError

    probe = Report(kb.path)
    _check_index(kb, _load_logical(kb.path)[0] if kb.path.exists() else None, probe)
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
