"""The `kb` command: a thin Typer layer over kb.api.KnowledgeBase and kb.render.

This module holds the app, the options every command shares, the mapping of library
errors to one-line messages and exit codes, and `ingest`. Command families live in
lookup.py (list/show/search/experts/...) and write.py (add/edit/remove/export/
stats) and register themselves on the same app. Heavy modules (the store, the index,
Rich) are imported inside commands, so `kb --help` and `kb search` start fast.

No `from __future__ import annotations` in the cli modules: Typer would then evaluate
every parameter's annotation string with eval() on each run (measured: ~30 ms).
"""

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.core import TyperGroup

from kb import __version__
from kb.errors import KbError

if TYPE_CHECKING:
    from kb.api import KnowledgeBase


class _Group(TyperGroup):
    """Maps every KbError raised by a command to a one-line message and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KbError as exc:
            from kb import render

            render.error(str(exc), exc.hint)
            raise typer.Exit(code=exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    help="kb: a knowledge base of questions and answers, in your terminal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    ids = "ids"


# -- options shared by commands (one definition each, as Annotated aliases) -----------

DbOption = Annotated[
    Optional[Path],
    typer.Option("--db", help="Store file (default: $KB_DB, else the user data folder).", show_default=False),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-F", help="Output format.", case_sensitive=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
LimitOption = Annotated[int, typer.Option("--limit", "-n", min=0, help="Show at most this many (0: all).")]
OffsetOption = Annotated[int, typer.Option("--offset", min=0, help="Skip this many first (paging).")]


# Options given before the command name (`kb --db x.json list`); the root callback sets
# them on every invocation.
_options: dict[str, object] = {}


def output_format(fmt: OutputFormat, as_json: bool) -> str:
    """Resolve --format/--json into one format name."""
    return "json" if as_json else fmt.value


def open_kb(db: Optional[Path]) -> "KnowledgeBase":
    """Open the knowledge base named by --db (on the command or before it), $KB_DB or the default."""
    from kb.api import KnowledgeBase

    kb = KnowledgeBase.open(db if db is not None else _options.get("db"))
    kb.on_rebuild = _rebuild_progress
    kb.on_stale = _stale_notice
    return kb


def _stale_notice() -> None:
    from kb import render

    render.notice("another kb process is writing to this store: results may miss its newest entries")


def _rebuild_progress(total: int):
    """Show a progress bar on stderr while the index is rebuilt (only when it takes a while)."""
    if total < 2000 or not sys.stderr.isatty():
        return None
    from kb.cli.progress import bar

    return bar("Rebuilding search index", total)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kb {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    db: DbOption = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print kb's version and exit.")
    ] = False,
) -> None:
    """kb keeps questions and answers and finds them again.

    Start with: kb ingest FILES... ; then kb search "your question".
    """
    _options["db"] = db


# -- ingest -------------------------------------------------------------------------


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (read recursively), globs, or - for stdin.")],
    parser_format: Annotated[
        Optional[str],
        typer.Option("--format", "-f", help="Read every input as this format instead of detecting it: "
                     "expert-page, qa, markdown, json, jsonl, csv."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse and report, write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    max_size: Annotated[
        Optional[float],
        typer.Option("--max-size", help="Largest single-document file to read, in MB (default 10).", min=0.001,
                     envvar="KB_MAX_SIZE"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Read Q&A files into the knowledge base.

    Formats are detected per file; re-ingesting the same content adds nothing, and a
    changed file updates its entries. Bad files are reported and the rest still read.
    Exit code 1 when any input failed.

    Example: kb ingest notes/ faq.txt 'exports/*.jsonl'
    """
    from kb import render

    if parser_format is not None:
        from kb.parsers import FORMATS

        if parser_format not in FORMATS:
            raise typer.BadParameter(f"{parser_format!r} is not one of: {', '.join(FORMATS)}", param_hint="--format")
    kb = open_kb(db)
    show_progress = not quiet and sys.stderr.isatty()
    with _ingest_progress(paths, show_progress) as advance:
        report = kb.ingest(
            paths,
            format=parser_format,
            dry_run=dry_run,
            max_size=int(max_size * 1_000_000) if max_size else None,
            progress=advance,
            keep="brief" if as_json else "counts",
        )
    if as_json:
        render.emit_json(report.to_dict())
    elif not quiet:
        render.ingest_summary(report)
    if report.failures:
        raise typer.Exit(code=1)


def _ingest_progress(paths: list[str], enabled: bool):
    from contextlib import nullcontext

    if not enabled:
        return nullcontext(None)
    from kb.cli.progress import bar_context
    from kb.ingest.sources import STDIN, expand_paths, total_size

    files = [p for p in expand_paths(paths) if isinstance(p, str) and p != STDIN]
    return bar_context("Ingesting", total_size(files))


def _command_name(info) -> str:
    return info.name or info.callback.__name__.lower().replace("_", "-")


def _keep_only_the_command_run(argv: list[str]) -> None:
    """Register on the app only the command this run asks for.

    Typer turns every registered command's signature into Click parameters on each run
    (~5 ms for kb's fourteen, ~1 ms for one), though a run uses one. The command name is
    the first word after the root options; anything unusual (`--help`, `--version`,
    shell completion, a name that is not a command) keeps them all, so Typer still does
    all the parsing, help and error messages itself.
    """
    if any(key.endswith("_COMPLETE") for key in os.environ):
        return
    args = iter(argv[1:])
    for token in args:
        if token == "--db":
            next(args, None)
        elif token.startswith("--db="):
            continue
        elif token.startswith("-"):
            return
        else:
            chosen = [c for c in app.registered_commands if _command_name(c) == token]
            if chosen:
                app.registered_commands = chosen
            return


def run() -> None:
    """Console-script entry point: run the app, ending quietly on a closed pipe."""
    _keep_only_the_command_run(sys.argv)
    try:
        try:
            app()
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly, like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        sys.exit(130)


# Importing the command families registers their commands on `app`.
from kb.cli import admin, lookup, write  # noqa: E402, F401
