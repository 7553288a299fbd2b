"""The `kb` app: the root group, the table of commands, error mapping, and the entry point.

Commands live one family per module (ingest.py; lookup.py: search/list/show/experts/
reindex/path; browse.py: browse; asking.py: post/answer/inbox; write.py: add/edit/remove/export/stats; admin.py:
doctor) as plain functions. This module registers them on the app, and never the other
way round: the command modules import only kb.cli.options and what is below kb.cli
(browse.py also kb.tui, the full-screen app, inside its command). Like pip's
commands/__init__.py, a run imports only the module of the command it runs.

No `from __future__ import annotations` in the cli modules: Typer would then evaluate
every parameter's annotation string with eval() on each run (measured: ~30 ms).
"""

import atexit
import importlib
import os
import sys
from typing import Annotated, NamedTuple

import typer
from typer.core import TyperGroup

from kb import __version__
from kb.cli.options import DbOption, root_options
from kb.errors import KbError


class _Group(TyperGroup):
    """Maps every KbError raised by a command to a one-line message and its exit code,
    and has bash completions quoted as shell words."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KbError as exc:
            from kb import render

            render.error(str(exc), exc.hint)
            raise typer.Exit(code=exc.exit_code) from None
        except BrokenPipeError:
            # Caught here, or Click would exit 1 ("not found") on EPIPE.
            _end_on_closed_pipe()
        except MemoryError:
            # Inputs are capped so that this should not happen; if it does, one line.
            from kb import render

            render.error("out of memory; nothing more was written", "raise the memory limit, or lower --max-size")
            raise typer.Exit(code=3) from None

    def _main_shell_completion(self, ctx_args, prog_name, complete_var=None):
        if any(key.endswith("_COMPLETE") for key in os.environ):
            from kb.cli.complete import quote_bash_completions

            quote_bash_completions()
        return super()._main_shell_completion(ctx_args, prog_name, complete_var)


class Command(NamedTuple):
    """Where a command's function lives, and how it is registered."""

    module: str
    function: str
    hidden: bool = False


# Every command, in the order `kb --help` lists them. A new command is one line here.
COMMANDS: dict[str, Command] = {
    "ingest": Command("kb.cli.ingest", "ingest"),
    "search": Command("kb.cli.lookup", "search"),
    "ask": Command("kb.cli.lookup", "ask"),
    "list": Command("kb.cli.lookup", "list_entries"),
    "show": Command("kb.cli.lookup", "show"),
    "browse": Command("kb.cli.browse", "browse"),
    "post": Command("kb.cli.asking", "post"),
    "answer": Command("kb.cli.asking", "answer"),
    "inbox": Command("kb.cli.asking", "inbox"),
    "experts": Command("kb.cli.lookup", "experts"),
    "reindex": Command("kb.cli.lookup", "reindex"),
    "path": Command("kb.cli.lookup", "path"),
    "add": Command("kb.cli.write", "add"),
    "edit": Command("kb.cli.write", "edit"),
    "remove": Command("kb.cli.write", "remove"),
    "rm": Command("kb.cli.write", "remove", hidden=True),
    "export": Command("kb.cli.write", "export"),
    "stats": Command("kb.cli.write", "stats"),
    "doctor": Command("kb.cli.admin", "doctor"),
}


app = typer.Typer(
    cls=_Group,
    help="kb: a knowledge base of questions and answers, in your terminal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


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
    root_options["db"] = db


def build(names: list[str] | None = None) -> typer.Typer:
    """Register the named commands on the app (all of them when None) and return it."""
    app.registered_commands = []
    for name in names if names is not None else list(COMMANDS):
        command = COMMANDS[name]
        function = getattr(importlib.import_module(command.module), command.function)
        app.command(name, hidden=command.hidden)(function)
    return app


def command_run(argv: list[str]) -> str | None:
    """Name the command this run asks for, or None when it must see them all.

    Typer turns every registered command's signature into Click parameters on each run
    (~5 ms for kb's fifteen, ~1 ms for one), though a run uses one. The command name is
    the first word after the root options; anything unusual (`--help`, `--version`,
    shell completion, a name that is not a command) keeps them all, so Typer still does
    all the parsing, help and error messages itself.
    """
    if any(key.endswith("_COMPLETE") for key in os.environ):
        return None
    args = iter(argv[1:])
    for token in args:
        if token == "--db":
            next(args, None)
        elif token.startswith("--db="):
            continue
        elif token.startswith("-"):
            return None
        else:
            return token if token in COMMANDS else None
    return None


def _end_on_closed_pipe() -> None:
    """The reader (`head`, say) went away: it has what it asked for, so end quietly with 0.

    Not 141 (SIGPIPE's status): under `set -o pipefail` that fails a script that only
    wanted the first lines. stdout is pointed at /dev/null so the flush at exit cannot
    fail again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _leave(code: str | int | None) -> None:
    """End the process with ``code`` (as ``sys.exit`` reads it), skipping the interpreter's teardown.

    Tearing the interpreter down (freeing every module, object and the import system)
    costs ~20 ms, a fifth of a search, and does nothing a command needs. What it would
    do that matters is run here first: the exit handlers (kb's own close the index, which
    folds SQLite's write-ahead log into the file) and the flush of stdout and stderr.
    With another thread still running, the interpreter's usual exit waits for it instead.
    """
    if "threading" in sys.modules and sys.modules["threading"].active_count() > 1:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        status = 0
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(status)


def run() -> None:
    """Run the app, ending quietly on a closed pipe; raises SystemExit, as Typer does."""
    name = command_run(sys.argv)
    build([name] if name else None)
    try:
        try:
            app()
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        _end_on_closed_pipe()
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        sys.exit(130)


def main() -> None:
    """Console-script entry point: ``run``, then leave without the interpreter's teardown.

    ``run`` ends by raising SystemExit, as Typer does, so code that calls it in-process
    (tests, probes) keeps its interpreter; only the process kb itself starts ends this way.
    """
    try:
        run()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)
