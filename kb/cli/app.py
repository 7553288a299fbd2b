"""The `kb` entry point and the table of commands (the Typer app itself is kb.cli.root).

Commands live one family per module (ingest.py; lookup.py: search/list/show/experts/
reindex/path; browse.py: browse; asking.py: post/answer/inbox; write.py: add/edit/remove/export/stats; admin.py:
doctor) as plain functions. This module registers them on the app, and never the other
way round: the command modules import only kb.cli.options and what is below kb.cli
(browse.py also kb.tui, the full-screen app, inside its command). Like pip's
commands/__init__.py, a run imports only the module of the command it runs, and this
module imports Typer only through ``build``: a plain `kb browse` starts without it.

No `from __future__ import annotations` in the cli modules: Typer would then evaluate
every parameter's annotation string with eval() on each run (measured: ~30 ms).
"""

import atexit
import importlib
import os
import sys
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import typer


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


def build(names: list[str] | None = None) -> "typer.Typer":
    """Register the named commands on the app (all of them when None) and return it."""
    from kb.cli.root import app

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


def __getattr__(name: str) -> object:
    # ``kb.cli.app.app``, the Typer app, lives in kb.cli.root: imported on first use.
    if name == "app":
        from kb.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """Run the app, ending quietly on a closed pipe; raises SystemExit, as Typer does."""
    name = command_run(sys.argv)
    app = build([name] if name else None)
    from kb.cli.root import _end_on_closed_pipe

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
        run_quick() if quick_browse(sys.argv) else run()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)


def quick_browse(argv: list[str]) -> bool:
    """Whether this run is a plain `kb [--db X] browse [WORDS...]`, started without Typer.

    Importing Typer (and Click within it) is ~40 ms, which put `kb browse` 1.35-1.45x
    behind a bare Textual app with the same widgets; the full-screen app needs none of it.
    Help, any other option and shell completion still go through Typer.
    """
    if command_run(argv) != "browse":
        return False
    from kb.cli.browsing import plain_args

    return plain_args(argv) is not None


def run_quick() -> None:
    """``run`` for a plain `kb browse`: the same one-line errors and exit codes."""
    from kb.cli.browsing import plain_args, start
    from kb.errors import KbError

    plain = plain_args(sys.argv)
    assert plain is not None
    try:
        code = start(*plain)
    except KbError as exc:
        from kb import render

        render.error(str(exc), exc.hint)
        code = exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        code = 130
    sys.exit(code)
