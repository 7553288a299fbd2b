"""The files backend: a TinyDB store of record with its SQLite FTS5 index beside it.

kb's default, for every store location that is a path. ``paired`` keeps the store and
its index in step; ``backend`` holds the Backend class (kb.backend's protocol).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.files.backend import FilesBackend


def open_backend(location: str, **options: Any) -> FilesBackend:
    """Open the store at a path (kb.backend's registry calls this)."""
    from kb.files.backend import open_backend as _open

    return _open(location, **options)
