"""How a write finds which uids and source records are already stored.

The store can scan its own shards (``ScanLookup``); the files backend passes one backed by the
search index instead (kb.ingest.pipeline.IndexLookup).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from kb.models import Entry


class KeyLookup(Protocol):
    """Where ``Store.apply`` finds the ids of stored uids and source records.

    The store scans its shards for them (``ScanLookup``); the files backend passes one backed by
    the search index instead, so that an ingest never holds every key in memory. The
    ``note_*`` calls tell it what a write changed, before that reaches the index.
    """

    def ids_for_uids(self, uids: list[str]) -> dict[str, int]: ...

    def ids_for_sources(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]: ...

    def note_added(self, entry: Entry) -> None: ...

    def note_replaced(self, old_uid: str, entry: Entry) -> None: ...

    def note_removed(self, uid: str) -> None: ...


class ScanLookup:
    """Every uid and source key of the store in two dicts, built from its documents (the
    store's ``iter_documents()``: each shard read once)."""

    def __init__(self, documents: Iterable[tuple[int, dict[str, Any]]]) -> None:
        self.by_uid: dict[str, int] = {}
        self.by_source: dict[tuple[str, str], int] = {}
        for doc_id, doc in documents:
            self.by_uid[doc["uid"]] = doc_id
            src = doc.get("source") or {}
            if src.get("path") and src.get("key") is not None:
                self.by_source[(src["path"], str(src["key"]))] = doc_id

    def ids_for_uids(self, uids: list[str]) -> dict[str, int]:
        return {uid: self.by_uid[uid] for uid in uids if uid in self.by_uid}

    def ids_for_sources(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {key: self.by_source[key] for key in keys if key in self.by_source}

    def note_added(self, entry: Entry) -> None:
        self.by_uid[entry.uid] = entry.stored_id()
        if src := source_key(entry):
            self.by_source[src] = entry.stored_id()

    def note_replaced(self, old_uid: str, entry: Entry) -> None:
        self.by_uid.pop(old_uid, None)
        self.note_added(entry)

    def note_removed(self, uid: str) -> None:
        self.by_uid.pop(uid, None)


def source_key(entry: Entry) -> tuple[str, str] | None:
    """Return (file path, record key) for entries read from a named file, else None."""
    src = entry.source
    if not src.path or src.key is None:
        return None
    return (src.path, str(src.key))
