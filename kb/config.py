"""kb's settings from the environment: every ``KB_*`` variable is read here, when asked for.

Nothing is read at import time, so a test (or a long-lived process) that changes the
environment sees the change. A value that cannot be read falls back to its default,
except KB_MAX_SIZE, where a typo would silently lift or lower a safety limit.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_FIRST_BATCH = 2000


def _get(name: str) -> str:
    return os.environ.get(name, "").strip()


def db_path() -> Path | None:
    """``$KB_DB``: the store file, or None when unset."""
    value = _get("KB_DB")
    return Path(value).expanduser() if value else None


def db_location() -> str | None:
    """``$KB_DB`` as given: a path, or a URL that names another backend (``postgresql://...``).

    ``db_path`` makes a Path of it, which folds a URL's ``//``; a URL must travel as text.
    """
    return _get("KB_DB") or None


def pg_schema() -> str:
    """``$KB_PG_SCHEMA``: the PostgreSQL schema that holds kb's tables (default ``kb``).

    Raises:
        ConfigError: the value is not a plain SQL name (letters, digits, underscores).
    """
    value = _get("KB_PG_SCHEMA") or "kb"
    if not (value.replace("_", "a").isalnum() and value.isascii() and not value[0].isdigit() and len(value) <= 63):
        from kb.errors import ConfigError

        raise ConfigError(f"KB_PG_SCHEMA must be a plain name (letters, digits, _), not {value!r}")
    return value.lower()


def lock_timeout() -> float | None:
    """``$KB_LOCK_TIMEOUT``: seconds a write waits for another kb process (None: the default)."""
    value = _get("KB_LOCK_TIMEOUT")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def max_size_mb() -> float | None:
    """``$KB_MAX_SIZE``: the largest single-document file ingest reads, in MB (None: the default).

    Raises:
        ConfigError: the value is not a positive number.
    """
    value = _get("KB_MAX_SIZE")
    if not value:
        return None
    try:
        size = float(value)
    except ValueError:
        size = 0.0
    if not 0 < size <= 1_000_000:  # also refuses nan and inf
        from kb.errors import ConfigError

        raise ConfigError(f"KB_MAX_SIZE must be a positive number of MB (at most 1000000), not {value!r}")
    return size


def first_batch() -> int:
    """``$KB_BATCH_SIZE``: entries in ingest's first write batch (later batches double).

    Lowering it gives a small ingest many commit points (the crash tests use it).
    """
    value = _get("KB_BATCH_SIZE")
    return max(1, int(value)) if value.isdigit() else DEFAULT_FIRST_BATCH


def index_feed() -> str | None:
    """``$KB_INDEX_FEED``: "thread" or "process", how ingest feeds the index (None: by input size)."""
    value = _get("KB_INDEX_FEED")
    return value if value in ("thread", "process") else None


def semantic() -> bool | None:
    """``$KB_SEMANTIC``: "1" keeps and uses entry vectors (kb.search.semantic), "0" neither;
    None when unset (an index that keeps them goes on)."""
    value = _get("KB_SEMANTIC").lower()
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    return None
