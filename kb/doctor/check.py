"""Checking a store and its search index: ``check`` reads everything and changes nothing.

It reads the catalog, every shard file, the journal, the backup, the index, the lock and
leftover files, under the store's lock, and returns a ``Report`` of findings.
"""

from __future__ import annotations

import os
import stat
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.doctor.files import (
    backup_path,
    entry_problems,
    file_size,
    load_strict,
    shard_files,
    stray_shard_files,
    temp_files,
)
from kb.doctor.report import NAMED, NOTE, OK, PROBLEM, SHARD_TABLES, Report, as_int, meta_of, name_some, shard_size_of
from kb.errors import StoreBusy, StoreError
from kb.files.paired import StoreWithIndex
from kb.search.health import CORRUPT, FOREIGN, MISSING, OLD_SCHEMA, UNOPENABLE, check_health, indexed_uids
from kb.store import journal
from kb.store.base import SCHEMA_VERSION
from kb.store.shards import (
    catalog_files,
    shard_folder,
    shard_of,
)


def check(path: str | os.PathLike[str] | None = None) -> Report:
    """Check the store at ``path`` (default: $KB_DB / the user data folder) and its index."""
    kb = StoreWithIndex(path)
    report = Report(kb.path)
    if kb.path.is_dir():
        report.add("store", PROBLEM, f"{kb.path} is a folder, not a store file")
        return report
    if not kb.path.parent.is_dir():
        report.add("store", NOTE, f"{kb.path} does not exist yet (kb creates it on the first write)")
        return report
    held = _lock_held(kb)
    with ExitStack() as stack:
        unlocked = None
        try:
            stack.enter_context(kb.store.locked())
        except StoreBusy:
            raise
        except StoreError as exc:
            # Read-only media: no lock can be taken there, and no kb process can write
            # there either. A check reads only, so it goes on, and says so.
            unlocked = str(exc)
        walk = check_store(kb, report)
        _check_backup(kb, report)
        check_index(kb, walk, report)
        _check_files(kb, report, held, unlocked)
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


def check_store(kb: StoreWithIndex, report: Report) -> _Walk | None:
    path = kb.path
    folder = shard_folder(path)
    if not path.exists():
        if shard_files(folder):
            report.add(
                "store",
                PROBLEM,
                f"{path} is missing but its shard folder {folder.name} holds entries",
                fix="kb doctor --repair rebuilds the catalog from the shard files",
            )
        else:
            report.add("store", NOTE, f"{path} does not exist yet (kb creates it on the first write)")
        return None
    catalog, why = load_strict(path)
    if catalog is None:
        report.add(
            "store",
            PROBLEM,
            f"{path} is damaged: {why}; kb leaves it untouched",
            fix="kb doctor --repair moves it aside and restores the last good copy or a catalog "
            "rebuilt from the shard files",
        )
        return None
    legacy = "entries" in catalog or "raw" in catalog
    size = path.stat().st_size
    report.add(
        "store",
        OK,
        f"{path} parses ({size:,} bytes"
        + (", the single-file layout kb converts at its next write)" if legacy else ")"),
    )
    ops = _check_journal(path, catalog, report)
    _check_permissions(path, catalog, report)
    meta = meta_of(catalog)
    schema = as_int(meta.get("schema"))
    if schema > SCHEMA_VERSION:
        report.add(
            "schema",
            PROBLEM,
            f"written by a newer kb (schema {schema}, this kb reads {SCHEMA_VERSION})",
            fix="upgrade kb",
        )
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


def _check_journal(path: Path, catalog: dict[str, Any], report: Report) -> list[journal.Op]:
    """Check the journal of small writes and those kept aside; return the ops that apply."""
    ops: list[journal.Op] = []
    try:
        ops, writes, state = journal.read_ops(path, catalog, path.stat())
    except ValueError as exc:
        report.add("journal", PROBLEM, f"{exc}", fix="not repaired automatically; the files are left as they are")
        return []
    except OSError as exc:
        report.add("journal", PROBLEM, f"cannot read the journal: {exc.strerror or exc}")
        return []
    name = journal.journal_path(path).name
    if state == journal.APPLIES:
        report.add("journal", OK, f"{name}: {writes} small writes since the last commit, read with the store")
    elif state == journal.STALE:
        report.add("journal", NOTE, f"{name} was already folded into {path.name}; the next write removes it")
    elif state == journal.FOREIGN:
        report.add(
            "journal",
            PROBLEM,
            f"{name} does not belong to this {path.name} (it was written on another version of it, "
            f"as when files of two copies are mixed), so kb does not read it; it holds "
            + describe_journal(journal.read(journal.journal_path(path))),
            fix="kb keeps it aside at the next write; nothing in it is deleted",
        )
    for aside in journal.kept_aside(path):
        report.add(
            "journal",
            PROBLEM,
            f"{aside.name} was kept aside: it did not belong to {path.name} when kb found it, "
            f"so its writes are not in the store; it holds " + describe_journal(journal.read(aside)),
            fix="see each entry it names with 'kb show ID', add back what is missing, then delete the file",
        )
    return ops


def describe_journal(found: journal.Journal) -> str:
    """Say what a journal holds: how many writes, the ids it sets and the ids it removes."""
    try:
        ops = found.ops()
    except ValueError as exc:
        return f"{len(found.lines)} writes ({exc})"
    written = sorted({int(i) for t, i, d in ops if t == "entries" and d is not None and i.isdigit()})
    removed = sorted({int(i) for t, i, d in ops if t == "entries" and d is None and i.isdigit()})
    parts = [f"{len(found.lines)} writes"]
    if written:
        parts.append("entries added or edited: ids " + name_some([str(i) for i in written]))
    if removed:
        parts.append("entries removed: ids " + name_some([str(i) for i in removed]))
    return "; ".join(parts)


def _walk(kb: StoreWithIndex, catalog: dict[str, Any], ops: list[journal.Op], legacy: bool, report: Report) -> _Walk:
    """Read every shard named by the catalog (with the journal's ops) and check its entries."""
    walk = _Walk()
    seen: dict[str, str] = {}
    size = shard_size_of(catalog)
    by_shard: dict[int, list[journal.Op]] = {}
    for op in ops:
        if op[1].isdigit():
            by_shard.setdefault(shard_of(int(op[1]), size), []).append(op)
    if legacy:
        whole = {"entries": catalog.get("entries", {}), "raw": catalog.get("raw", {})}
        for op in ops:
            journal.apply_op(whole, *op)
        _walk_shard(walk, whole, None, size, seen)
        return walk
    folder = shard_folder(kb.path)
    broken: list[str] = []
    counts: list[str] = []
    shards = catalog.get("shards", {})
    for number in sorted(set(by_shard) | {int(k) for k in shards if k.isdigit()}):
        doc = shards.get(str(number))
        data: dict[str, Any] = {"entries": {}, "raw": {}}
        if isinstance(doc, dict) and doc.get("file"):
            loaded, why = load_strict(folder / str(doc["file"]), SHARD_TABLES)
            if loaded is None:
                broken.append(f"{doc['file']} ({why})")
                continue
            data = loaded
            if as_int(doc.get("entries")) != len(data["entries"]):
                counts.append(str(doc["file"]))
        for op in by_shard.get(number, ()):
            journal.apply_op(data, *op)
        _walk_shard(walk, data, number, size, seen)
    if broken:
        report.add(
            "shards",
            PROBLEM,
            f"{len(broken)} of {len(shards)} shard files cannot be read: {name_some(broken)}",
            fix="kb doctor --repair replaces each by the best of its salvaged entries and its last good copy",
        )
    elif counts:
        report.add(
            "shards",
            NOTE,
            f"the catalog's entry counts differ from {len(counts)} shard files: {name_some(counts)}",
            fix="kb doctor --repair rewrites the catalog's counts",
        )
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
        named = "; ".join(f"id {k}: {', '.join(v)}" for k, v in list(walk.bad.items())[:NAMED])
        more = f" (and {len(walk.bad) - NAMED} more)" if len(walk.bad) > NAMED else ""
        report.add(
            "entries",
            PROBLEM,
            f"{len(walk.bad)} of {total} entries are not whole: {named}{more}",
            fix="fix them with 'kb edit ID' or remove them with 'kb remove ID'",
        )
    else:
        report.add("entries", OK, f"{total} entries, each with a question, an answer and a matching uid")
    if walk.twins:
        report.add(
            "uids",
            PROBLEM,
            f"{len(walk.twins)} uids stored twice (ids {'; '.join(walk.twins[:NAMED])})",
            fix="remove one of each pair with 'kb remove ID'",
        )
    last_id = as_int(meta_of(catalog).get("last_id"))
    highest = max(walk.ids, default=0)
    if meta_of(catalog) and highest > last_id:
        report.add("ids", PROBLEM, f"the highest id ({highest}) is above the recorded last id ({last_id})")
    if walk.misplaced:
        report.add(
            "ids",
            PROBLEM,
            f"{len(walk.misplaced)} entries sit in the wrong shard file: ids {name_some(walk.misplaced)}",
        )
    experts = {doc.get("name") for doc in catalog.get("experts", {}).values() if isinstance(doc, dict)}
    missing = sorted(walk.experts - experts)
    if missing:
        report.add("experts", NOTE, f"{len(missing)} experts have answers but no profile: {', '.join(missing[:NAMED])}")
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
    open_files = [
        name
        for name in sorted(catalog_files(catalog))
        if (folder / name).exists() and stat.S_IMODE((folder / name).stat().st_mode) & 0o077
    ]
    if open_files:
        loose.append(f"{len(open_files)} shard files are readable by others")
    if loose:
        report.add(
            "permissions", PROBLEM, "; ".join(loose), fix="kb doctor --repair makes them owner-only (600, folder 700)"
        )


def _check_backup(kb: StoreWithIndex, report: Report) -> None:
    bak = backup_path(kb.path)
    if not bak.exists():
        report.add("backup", NOTE, f"no last good copy yet ({bak.name} appears after the next write)")
        return
    count, why = backup_entries(kb.path)
    if why is not None:
        report.add("backup", NOTE, f"{bak.name} cannot be used: {why}")
        return
    report.add("backup", OK, f"{bak.name}: {count} entries, the version before the last write")


def backup_entries(path: Path) -> tuple[int, str | None]:
    """Count the backup's entries from the files it names: (count, None) or (0, why not)."""
    data, why = load_strict(backup_path(path))
    if data is None:
        return 0, why
    if "entries" in data:
        return len(data["entries"]), None
    folder = shard_folder(path)
    missing = sorted(name for name in catalog_files(data) if not (folder / name).exists())
    if missing:
        return 0, f"its shard files are gone: {name_some(missing)}"
    return sum(as_int(doc.get("entries")) for doc in data.get("shards", {}).values() if isinstance(doc, dict)), None


def check_index(kb: StoreWithIndex, walk: _Walk | None, report: Report) -> None:
    path = kb.index_path
    health = check_health(path)
    if health.state == MISSING:
        report.add("index", NOTE, "no search index: the next read builds it", fix="kb doctor --repair builds it now")
        return
    if health.state == UNOPENABLE:
        report.add("index", PROBLEM, f"cannot open {path}: {health.error}", fix="kb doctor --repair rebuilds it")
        return
    if health.state == CORRUPT:
        report.add(
            "index",
            PROBLEM,
            f"{path.name} is corrupt ({health.error}); the next read rebuilds it",
            fix="kb doctor --repair rebuilds it now",
        )
        return
    if health.state == FOREIGN:
        report.add(
            "index",
            PROBLEM,
            f"{path.name} is not a kb search index",
            fix="move it away; kb keeps its index beside the store",
        )
        return
    if health.state == OLD_SCHEMA:
        report.add(
            "index",
            NOTE,
            f"index schema {health.schema}: the next read rebuilds it",
            fix="kb doctor --repair rebuilds it now",
        )
        return
    if health.fts_checked:
        report.add("index", OK, f"{path.name} opens; SQLite and FTS5 integrity checks pass")
    else:
        report.add(
            "index",
            OK,
            f"{path.name} opens; SQLite's quick_check passes (FTS5's integrity-check needs to write "
            "beside the file, which is not possible here, so it was not run)",
        )
    if health.semantic:
        report.add("semantic", OK, health.semantic)
    if walk is None:
        return
    if health.signature != kb.store.signature():
        report.add(
            "freshness",
            NOTE,
            "the index reflects an older version of the store: the next read rebuilds it",
            fix="kb doctor --repair rebuilds it now",
        )
        return
    indexed = 0
    differ = 0
    for entry_id, uid in indexed_uids(path):
        indexed += 1
        if walk.ids.get(entry_id) != uid:
            differ += 1
    differ += len(walk.ids) - (indexed - differ)
    if differ or health.count != len(walk.ids):
        report.add(
            "freshness",
            PROBLEM,
            f"the index claims to be current but differs from the store ({differ} ids differ; "
            f"{indexed} indexed, {len(walk.ids)} stored)",
            fix="kb doctor --repair rebuilds it",
        )
        return
    report.add("freshness", OK, f"the index is current: the same {indexed} entries as the store")


def _check_files(kb: StoreWithIndex, report: Report, held: bool, unlocked: str | None) -> None:
    leftovers = temp_files(kb.path) + stray_shard_files(kb.path)
    if leftovers:
        size = sum(file_size(p) for p in leftovers)
        report.add(
            "temp files",
            NOTE,
            f"{len(leftovers)} files left by interrupted writes ({size:,} bytes): "
            + name_some([p.name for p in leftovers]),
            fix="kb doctor --repair removes them",
        )
    else:
        report.add("temp files", OK, "no files left by interrupted writes")
    lock = kb.store.lock_path
    assert lock is not None  # a store on disk has a lock file
    if unlocked is not None:
        report.add(
            "lock",
            NOTE,
            f"checked without the store's lock ({unlocked}); a kb process writing to the store "
            "meanwhile could make this report mix two versions",
        )
    elif held:
        report.add("lock", NOTE, f"{lock.name} was held by another kb process; the check waited for it")
    else:
        report.add("lock", OK, f"{lock.name} is free")


def _lock_held(kb: StoreWithIndex) -> bool:
    """Tell whether another process holds the store's lock right now (without waiting)."""
    from filelock import FileLock, Timeout

    lock_path = kb.store.lock_path
    if lock_path is None or not lock_path.exists():
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
