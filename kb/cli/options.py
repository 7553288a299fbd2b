"""What every command shares: the output formats, the common options, and opening the store.

The options are ``Annotated`` aliases, defined once and used by each command module; the
root options (``kb --db X list``) are recorded here by the app's callback. This module
imports nothing of kb's but kb.api (lazily, in ``open_kb``) and kb.render.

No `from __future__ import annotations` in the cli modules: Typer would then evaluate
every parameter's annotation string with eval() on each run (measured: ~30 ms).
"""

import atexit
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from kb.api import KnowledgeBase


class OutputFormat(str, Enum):
    """Formats of commands that print records with an identifier (entries, names)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    ids = "ids"


class RecordFormat(str, Enum):
    """Formats of a command that prints one record with no identifier (`kb path`)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class ReportFormat(str, Enum):
    """Formats of a nested report that has no flat form (`kb stats`)."""

    table = "table"
    json = "json"


DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db",
        help="Store file, or a PostgreSQL URL postgresql://... (default: $KB_DB, else the user data folder).",
        show_default=False,
    ),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-F", help="Output format.", case_sensitive=False)]
RecordFormatOption = Annotated[
    RecordFormat, typer.Option("--format", "-F", help="Output format.", case_sensitive=False)
]
ReportFormatOption = Annotated[
    ReportFormat, typer.Option("--format", "-F", help="Output format.", case_sensitive=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
# Counts beyond any store (and beyond SQLite's 64-bit integers) are usage errors (exit 2),
# refused by Click with the range, rather than overflowing deep in a query.
MAX_COUNT = 1_000_000_000
LimitOption = Annotated[
    int, typer.Option("--limit", "-n", min=0, max=MAX_COUNT, help="Show at most this many (0: all).")
]
OffsetOption = Annotated[int, typer.Option("--offset", min=0, max=MAX_COUNT, help="Skip this many first (paging).")]


# Options given before the command name (`kb --db x.json list`); the root callback sets
# them on every invocation.
root_options: dict[str, object] = {}


def given(name: str) -> bool:
    """Whether the running command's parameter ``name`` was given (command line or
    environment), not left at its default."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    source = ctx.get_parameter_source(name) if ctx is not None else None
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def refuse(option: str, why: str) -> None:
    """Stop with a usage error (exit 2): ``option`` does not apply here."""
    raise typer.BadParameter(why, param_hint=option)


def output_format(fmt: Enum, as_json: bool) -> str:
    """Resolve --format/--json into one format name; refuse the two disagreeing."""
    if as_json and fmt.value != "json" and given("fmt"):
        refuse("--format", f"--json and --format {fmt.value} ask for different formats: give one")
    return "json" if as_json else fmt.value


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
    atexit.register(kb.close)
    return kb


def interactive() -> bool:
    """Whether prompts may be shown: stdin is a terminal."""
    return sys.stdin.isatty()


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
