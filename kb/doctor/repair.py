"""Repairing what ``check`` finds, never deleting a damaged file: ``repair``.

A damaged catalog is moved aside and replaced by the better of its last good copy
(``kb.json.bak``) and a catalog rebuilt from the shard files on disk; a damaged or missing
shard is replaced by the best of its salvaged whole entries, the backup's version and
older versions on disk; the journal of small writes is replayed over the result; a stale,
missing or corrupt index is rebuilt; files of dead writers are removed.
"""

from __future__ import annotations

import glob
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from kb.doctor.check import backup_entries, check, check_index, check_store
from kb.doctor.files import (
    NO_PERMISSION,
    backup_path,
    load_strict,
    replace_file,
    salvage,
    shard_files,
    stray_shard_files,
    temp_files,
    unused_name,
    write_new,
)
from kb.doctor.report import OK, PROBLEM, SHARD_TABLES, Report, as_int, meta_of, shard_size_of
from kb.files.paired import StoreWithIndex
from kb.search.health import indexed_ids, remove_index_files
from kb.store import journal
from kb.store.base import SCHEMA_VERSION
from kb.store.shards import (
    SHARD_SIZE,
    parse_shard_file_name,
    shard_folder,
    shard_of,
)
from kb.store.store import Store


def repair(path: str | os.PathLike[str] | None = None) -> Report:
    """Repair what ``check`` finds that can be repaired, then check again.

    Returns the second check's report, with ``actions`` saying what was done. A damaged
    file is never deleted: it is renamed to ``<name>.damaged-<time>``.
    """
    kb = StoreWithIndex(path)
    actions: list[str] = []
    unrepaired: list[str] = []
    lost: list[tuple[int, list[int]]] = []
    if not kb.path.is_dir():
        with kb.store.locked():
            modes = _modes(kb.path)
            usable = _repair_catalog(kb, actions, unrepaired)
            if usable:
                usable = _repair_shards(kb, actions, lost, unrepaired)
            _say_mode_changes(modes, _modes(kb.path), actions)
            _repair_permissions(kb.path, actions)
            leftovers = [(p, "the leftover temporary file") for p in temp_files(kb.path)]
            if usable:
                leftovers += [
                    (p, "the shard file no catalog names (an interrupted write's)") for p in stray_shard_files(kb.path)
                ]
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
    report.after_repair = True
    report.actions = actions
    report.unrepaired = unrepaired
    report.lost = sum(count for count, _ids in lost)
    report.lost_ids = sorted(i for _count, ids in lost for i in ids)
    if report.lost:
        unknown = report.lost - len(report.lost_ids)
        known = f": ids {id_ranges(report.lost_ids)}" if report.lost_ids else " (their ids are not known)"
        if report.lost_ids and unknown:
            known += f", and {unknown} whose ids are not known"
        report.actions.append(f"lost {report.lost} entries{known}")
    for finding in report.findings:
        # A repair has just run: what it left, running it again will not fix either.
        if finding.fix and "kb doctor --repair" in finding.fix:
            finding.fix = (
                None
                if finding.status != PROBLEM
                else (
                    "a repair could not fix this: restore it from a backup you made (an earlier "
                    "kb export --format jsonl, read back by kb ingest into a new store), or move the file aside to start afresh"
                )
            )
    return report


def id_ranges(ids: list[int], limit: int = 20) -> str:
    """Write sorted ids as ranges: [1, 2, 3, 7] -> "1–3, 7" (the first ``limit`` ranges)."""
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    shown = [str(a) if a == b else f"{a}–{b}" for a, b in runs[:limit]]
    more = f", ... ({len(runs) - limit} more ranges)" if len(runs) > limit else ""
    return ", ".join(shown) + more


def _modes(store: Path) -> dict[Path, int]:
    """The permission bits of the store's catalog file and shard folder, as they are now."""
    modes = {}
    for path in (store, shard_folder(store)):
        try:
            modes[path] = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            pass
    return modes


def _say_mode_changes(before: dict[Path, int], after: dict[Path, int], actions: list[str]) -> None:
    """Say which of the user's files a repair left with other permissions than it found."""
    for path, mode in before.items():
        if path in after and after[path] != mode:
            actions.append(
                f"{path.name} was rewritten, and kb writes its files owner-only: its mode is now "
                f"{after[path]:o} (it was {mode:o})"
            )


def _repair_catalog(kb: StoreWithIndex, actions: list[str], unrepaired: list[str]) -> bool:
    """Replace a damaged (or lost) catalog by its backup or one rebuilt from the shard
    files, whichever holds more entries; return whether the store is usable (if not,
    ``unrepaired`` says why)."""
    store = kb.path
    folder = shard_folder(store)
    exists = store.exists()
    if not exists and not shard_files(folder):
        return True
    if exists and load_strict(store)[0] is not None:
        return True
    stamp = time.strftime("%Y%m%d-%H%M%S")
    blob = store.read_bytes() if exists else b""
    found = salvage(blob)
    writes = _journal_of_damaged(store, found, actions) if exists else 0
    if found["entries"]:
        # The single-file layout: the entries themselves are in the damaged file.
        rebuilt, count = {k: found[k] for k in ("meta", "entries", "experts", "raw")}, len(found["entries"])
        kind = "salvaged entries"
    else:
        rebuilt, count = _catalog_from_files(folder, found)
        kind = "shard files on disk"
    backup_count, why_not = backup_entries(store) if backup_path(store).exists() else (0, "there is none")
    usable_backup = why_not is None
    if count and found["entries"]:
        # Kept whichever way the choice goes: a store of its own, openable with --db.
        target = unused_name(store.with_name(f"{store.name}.salvaged-{stamp}.json"))
        write_new(target, orjson.dumps(rebuilt))
        actions.append(f"salvaged {count} whole entries from the damaged store into {target.name}")
    if usable_backup and backup_count >= count:
        chosen = orjson.loads(backup_path(store).read_bytes())
        what = f"restored the store from {backup_path(store).name} ({backup_count} entries; the {kind} hold {count})"
    elif count:
        chosen = rebuilt
        what = f"restored the store from the {count} entries of the {kind}" + (
            f" ({backup_path(store).name} holds only {backup_count})"
            if usable_backup
            else " (there is no usable last good copy)"
        )
    else:
        unrepaired.append(
            "nothing could be recovered from the damaged store and there is no usable last good "
            "copy; it was left in place"
        )
        return False
    if exists:
        aside = unused_name(store.with_name(f"{store.name}.damaged-{stamp}"))
        # Link first, then replace: the store's name always holds either the damaged file
        # or the repaired one, and the damaged bytes stay on disk under the new name.
        try:
            os.link(store, aside)
        except OSError:  # no hard links here: a rename, then a short moment without a store
            os.rename(store, aside)
        actions.append(f"kept the damaged store as {aside.name}")
    # The journal of the damaged catalog is bound to the recovered one before that is put
    # in place: from the rename on, every reader replays it, and a repair killed at any
    # moment loses none of its writes. Its ops set whole documents, so they apply to
    # whichever version is recovered.
    token = journal.new_token()
    chosen.setdefault("meta", {}).setdefault("1", {})["commit"] = token
    rebound = journal.rebased(store, token) if writes else None
    if rebound is not None:
        replace_file(journal.journal_path(store), rebound)
    replace_file(store, orjson.dumps(chosen))
    actions.append(what)
    if writes:
        with _without_backup(kb.store) as repaired, repaired.transaction():
            repaired.fold_journal()
        actions.append(f"replayed {writes} journalled writes over the recovered store")
    return True


def _journal_of_damaged(store: Path, found: dict[str, Any], actions: list[str]) -> int:
    """How many small writes the journal holds for the damaged catalog (0 when it holds
    none, or belongs to another version).

    The journal names its catalog by a token inside it, which the salvage may have read
    back, and by the inode it was started on, which damage written in place keeps.
    """
    own = journal.read(journal.journal_path(store))
    if own.header is None:
        return 0
    token = meta_of(found).get("commit")
    assert own.header is not None
    if own.file != str(store.stat().st_ino) and not (token and token in (own.base, own.header.get("from"))):
        return 0
    try:
        own.ops()
    except ValueError as exc:
        actions.append(f"the journal of small writes could not be replayed ({exc}); it was left in place")
        return 0
    return len(own.lines)


def _catalog_from_files(folder: Path, found: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Build a catalog from the shard files on disk: for each shard, the file the damaged
    catalog still names (where that part of it survived), else its newest file that
    parses. Returns the catalog and how many entries it names."""
    meta = meta_of(found)
    size = as_int(meta.get("shard_size")) or SHARD_SIZE
    named = {int(k): doc["file"] for k, doc in found.get("shards", {}).items() if k.isdigit()}
    on_disk: dict[int, list[tuple[int, str]]] = {}
    for name in shard_files(folder):
        parsed = parse_shard_file_name(name)
        if parsed is not None:
            on_disk.setdefault(parsed[0], []).append((parsed[1], name))
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
            generation = max(generation, (parse_shard_file_name(name) or (0, 0))[1])
            break
    catalog_meta = {
        "schema": SCHEMA_VERSION,
        "created_at": meta.get("created_at"),
        "shard_size": size,
        "last_id": max(highest, as_int(meta.get("last_id"))),
        "generation": generation,
    }
    return {"meta": {"1": catalog_meta}, "experts": found.get("experts", {}), "shards": shards}, total


def _repair_shards(
    kb: StoreWithIndex, actions: list[str], lost: list[tuple[int, list[int]]], unrepaired: list[str]
) -> bool:
    """Replace each unreadable shard by the best of its salvage, the backup's version and
    older versions on disk; return whether the store is usable afterwards.

    For each replaced shard, ``lost`` gets how many of its entries the replacement lacks
    (by the catalog's count) and their ids, as the search index, if readable, lists them.
    """
    store, folder = kb.path, shard_folder(kb.path)
    catalog, _ = load_strict(store)
    if catalog is None or "entries" in catalog:
        return catalog is not None
    size = shard_size_of(catalog)
    backup, _ = load_strict(backup_path(store))
    backup_shards = backup.get("shards", {}) if backup is not None and "entries" not in backup else {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    replacements: dict[int, dict[str, Any]] = {}
    recount: dict[str, int] = {}
    damaged: list[str] = []
    for key, doc in catalog.get("shards", {}).items():
        if not key.isdigit() or not isinstance(doc, dict) or not isinstance(doc.get("file"), str):
            continue
        number, name = int(key), doc["file"]
        data, why = load_strict(folder / name, SHARD_TABLES)
        if data is not None:
            if as_int(doc.get("entries")) != len(data["entries"]):
                recount[key] = len(data["entries"])
            continue
        if why is not None and why.startswith(NO_PERMISSION):
            # Not damage: its entries are there, kb may not read them. Replacing the
            # file would lose them; the owner can give the permission back.
            unrepaired.append(f"shard file {folder.name}/{name}: {why}; give kb read access to it and run this again")
            continue
        best, said = _best_version(folder, name, number, size, backup_shards.get(key))
        replacements[number] = best
        kept = {int(k) for k in best["entries"] if k.isdigit()}
        listed = [i for i in indexed_ids(kb.index_path, (number - 1) * size + 1, number * size) if i not in kept]
        missing = max(as_int(doc.get("entries")) - len(kept), len(listed))
        if missing:
            lost.append((missing, listed))
        if (folder / name).exists():
            # A second name first: the damaged bytes stay on disk whatever happens next.
            aside = _keep_aside(folder / name, stamp)
            actions.append(f"kept the damaged shard file as {folder.name}/{aside.name}")
            damaged.append(name)
        actions.append(f"shard {number} ({name}: {why}): {said}")
    if not replacements and not recount:
        return not unrepaired
    # What was salvaged is committed before the damaged file loses its name, so a kill at
    # any moment leaves a catalog whose every file is whole or a damaged file still in
    # place for the next repair. The catalog being replaced names a damaged file: it
    # must not become the backup.
    with _without_backup(kb.store) as fixed, fixed.transaction():
        for number, data in replacements.items():
            fixed.put_shard(number, data)
        fixed.set_shard_counts(recount)
    for name in damaged:
        try:
            (folder / name).unlink()
        except OSError:
            pass  # the next commit removes it: no catalog names it now
    if recount:
        actions.append(f"corrected the catalog's entry counts of {len(recount)} shard files")
    return not unrepaired


def _keep_aside(path: Path, stamp: str) -> Path:
    """Give a damaged file a second name, ``<name>.damaged-<time>``, that no commit removes."""
    aside = unused_name(path.with_name(f"{path.name}.damaged-{stamp}"))
    try:
        os.link(path, aside)
    except OSError:  # no hard links here: a copy of its bytes
        write_new(aside, path.read_bytes())
    return aside


def _best_version(folder: Path, name: str, number: int, size: int, backup_doc: Any) -> tuple[dict[str, Any], str]:
    """Choose what replaces an unreadable shard file; return it and a sentence saying so."""
    candidates: list[tuple[str, dict[str, Any]]] = []
    if isinstance(backup_doc, dict) and backup_doc.get("file") not in (None, name):
        data, _ = load_strict(folder / str(backup_doc["file"]), SHARD_TABLES)
        if data is not None:
            candidates.append((f"the last good copy's {backup_doc['file']}", data))
    for other in sorted(shard_files(folder), reverse=True):
        parsed = parse_shard_file_name(other)
        if parsed and parsed[0] == number and other != name and not any(other in c[0] for c in candidates):
            data, _ = load_strict(folder / other, SHARD_TABLES)
            if data is not None:
                candidates.append((f"the older version {other}", data))
    # The file itself, and copies an interrupted earlier repair kept aside.
    damaged = [(folder / name, "it")] if (folder / name).exists() else []
    damaged += [(path, path.name) for path in sorted(folder.glob(f"{glob.escape(name)}.damaged-*"))]
    for path, label in damaged:
        try:
            found = salvage(path.read_bytes())
        except OSError:
            continue
        entries = {k: v for k, v in found["entries"].items() if shard_of(int(k), size) == number}
        raw = {k: v for k, v in found["raw"].items() if k in entries}
        candidates.append((f"the whole entries salvaged from {label}", {"entries": entries, "raw": raw}))
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
        opened = [n for n in shard_files(folder) if stat.S_IMODE((folder / n).stat().st_mode) & 0o077]
        for name in opened:
            os.chmod(folder / name, 0o600)
        if opened:
            actions.append(f"made {len(opened)} shard files readable by their owner only (600)")


def _repair_index(kb: StoreWithIndex, actions: list[str]) -> None:
    """Rebuild the index unless every index check passes."""
    from kb.errors import KbError

    probe = Report(kb.path)
    walk = check_store(kb, Report(kb.path)) if kb.path.exists() else None
    check_index(kb, walk, probe)
    if all(f.status == OK for f in probe.findings):
        return
    if any(f.status == PROBLEM and "corrupt" in f.detail for f in probe.findings):
        # Damaged pages inside can pass the open and fail the rebuild: start afresh.
        kb.close()
        remove_index_files(kb.index_path)
        actions.append(f"removed the corrupt search index {kb.index_path.name}")
    try:
        count = kb.rebuild_index()
    except KbError as exc:
        actions.append(f"could not rebuild the search index: {exc}")
        return
    actions.append(f"rebuilt the search index ({count} entries)")
