"""Where kb's files live, and the cheap version check of a store file.

Kept free of heavy imports: every command starts by resolving these.
"""

import os
from pathlib import Path


def default_db_path() -> Path:
    """Return the store path: ``$KB_DB``, else the platform's user data folder."""
    from kb import config

    env = config.db_path()
    if env is not None:
        return env
    from platformdirs import user_data_path

    return user_data_path("kb", appauthor=False) / "kb.json"


def index_path_for(store_path: str | os.PathLike[str]) -> Path:
    """Return where the search index of a store lives: ``kb.json`` -> ``kb.index.sqlite``."""
    path = Path(store_path)
    return path.with_name(path.stem + ".index.sqlite")


def drafts_path_for(store_path: str | os.PathLike[str] | None) -> Path:
    """Return the folder that keeps answers a store refused: ``kb.json`` -> ``kb.drafts``.

    A store that is not a file (a server's URL) keeps them in the user's data folder.
    """
    if store_path is None:
        from platformdirs import user_data_path

        return user_data_path("kb", appauthor=False) / "drafts"
    path = Path(store_path)
    return path.with_name(path.stem + ".drafts")


def journal_path_for(store_path: Path) -> Path:
    """Return where a store's journal of small writes lives: ``kb.json`` -> ``kb.json.journal``."""
    return store_path.with_name(store_path.name + ".journal")


def file_size(path: str | os.PathLike[str]) -> int | None:
    """Return a file's size in bytes, or None when it is missing or unreadable."""
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def store_signature(path: Path) -> str:
    """Return a token that changes whenever the store is written.

    A full write renames a new file into place and a small write appends to the
    journal beside it (kb.store.journal), so the inode, size and mtime of the two tell
    versions apart without parsing anything: that keeps the index check two stat()s.
    Raises OSError when the file exists but cannot be examined.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    token = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    try:
        jst = journal_path_for(path).stat()
    except FileNotFoundError:
        return token
    return f"{token}+{jst.st_ino}:{jst.st_size}:{jst.st_mtime_ns}"
