"""What every command shares: the output formats, the common options, and opening the store.

The options are ``Annotated`` aliases, defined once and used by each command module; the
root options (``kb --db X list``) are recorded here by the app's callback. This module
imports nothing of kb's but kb.api (lazily, in ``open_kb``) and kb.render.

No `from __future__ import annotations` in the cli modules: Typer would then evaluate
every parameter's annotation string with eval() on each run (measured: ~30 ms).
"""

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from kb.cli.opening import close_opened, open_kb, root_options

__all__ = ["close_opened", "open_kb", "root_options"]  # kept here for the command modules


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


def interactive() -> bool:
    """Whether prompts may be shown: stdin is a terminal."""
    return sys.stdin.isatty()
