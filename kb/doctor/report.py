"""What `kb doctor` reports: findings (check, status, detail, fix) and the actions a repair took.

Every backend's doctor returns a Report; the helpers below it read the files backend's
catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OK, NOTE, PROBLEM = "ok", "note", "problem"


TABLES = ("meta", "entries", "experts", "raw", "shards")


CATALOG_TABLES = ("meta", "experts", "shards")


SHARD_TABLES = ("entries", "raw")


# How many bad entries (or files) a finding names before it says "and N more".
NAMED = 5


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

    store: Path | str
    findings: list[Finding] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    # Whether this is the check that follows a repair (so --repair is no advice to give).
    after_repair: bool = False
    # What a repair could not do (and so did not do), apart from ``actions``.
    unrepaired: list[str] = field(default_factory=list)
    # Entries a repair could not bring back: how many, and their ids where known.
    lost: int = 0
    lost_ids: list[int] = field(default_factory=list)

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
            "unrepaired": list(self.unrepaired),
            "lost": {"entries": self.lost, "ids": list(self.lost_ids)},
        }


def meta_of(data: dict[str, Any]) -> dict[str, Any]:
    """Return a store's meta record (schema version, last id...), or {} when there is none."""
    meta = data.get("meta", {}).get("1")
    return meta if isinstance(meta, dict) else {}


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def shard_size_of(catalog: dict[str, Any]) -> int:
    # Imported here: a backend on a server builds its Report without kb.store.
    from kb.store.shards import SHARD_SIZE

    return as_int(meta_of(catalog).get("shard_size")) or SHARD_SIZE


def name_some(items: list[str]) -> str:
    more = f" (and {len(items) - NAMED} more)" if len(items) > NAMED else ""
    return ", ".join(items[:NAMED]) + more
