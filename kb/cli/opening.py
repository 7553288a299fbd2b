"""Opening the knowledge base a command names, with no Typer in sight.

``open_kb`` is what every command calls; kb.cli.options hands it on to the command
modules. It lives apart from the options, which import Typer, so that `kb browse` can
start without Typer (kb.cli.app.main) and still open the store as every command does.
"""

import atexit
import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from collections.abc import Callable

    from kb.api import KnowledgeBase


# Options given before the command name (`kb --db x.json list`); the root callback sets
# them on every invocation.
root_options: dict[str, object] = {}


def open_kb(db: Optional[str], *, must_exist: bool = True) -> "KnowledgeBase":
    """Open the knowledge base named by --db (on the command or before it), $KB_DB or the default.

    ``db`` is a path or a URL (``postgresql://...``). Reading a store that does not exist
    is an error (exit 1, naming where and how to create one) and creates nothing;
    commands that write pass ``must_exist=False``.
    """
    from kb.api import KnowledgeBase

    root_db = root_options.get("db")
    kb = KnowledgeBase.open(db if db is not None else root_db if isinstance(root_db, str) else None)
    if must_exist:
        kb.require()
    kb.hooks.on_rebuild = _rebuild_progress
    kb.hooks.on_stale = _stale_notice
    kb.hooks.on_temporary_index = _temporary_index_notice
    # Closing the index's last connection checkpoints SQLite's write-ahead log into the
    # file and deletes it; left open until exit, the log stays as large as the last write.
    if not opened:
        atexit.register(close_opened)
    opened.append(kb)
    return kb


# The knowledge bases commands opened in this process, closed at exit; code that runs
# commands in-process (tests) calls close_opened after each, or every run's files stay open.
opened: "list[KnowledgeBase]" = []


def close_opened() -> None:
    """Close every knowledge base a command opened (its index connections and files)."""
    while opened:
        opened.pop().close()


def _stale_notice() -> None:
    from kb import render

    render.notice("another kb process is writing to this store: results may miss its newest entries")


def _temporary_index_notice() -> None:
    from kb import render

    render.notice("the search index is missing or out of date and cannot be written here: reading the store instead")


def _rebuild_progress(total: int) -> "Callable[[int], None] | None":
    """Show a progress bar on stderr while the index is rebuilt (only when it takes a while)."""
    if total < 2000 or not sys.stderr.isatty():
        return None
    from kb.cli.progress import bar

    return bar("Rebuilding search index", total)
