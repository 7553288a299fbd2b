"""The Typer side of the `kb` app: the root group, its options, and the app itself.

kb.cli.app imports this module only when a run goes through Typer (every command but a
plain `kb browse`, which starts without it: kb.cli.app.main), and registers the commands
on ``app`` (kb.cli.app.build).

No `from __future__ import annotations` in the cli modules: Typer would then evaluate
every parameter's annotation string with eval() on each run (measured: ~30 ms).
"""

import os
import sys
from typing import Annotated

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


def _end_on_closed_pipe() -> None:
    """The reader (`head`, say) went away: it has what it asked for, so end quietly with 0.

    Not 141 (SIGPIPE's status): under `set -o pipefail` that fails a script that only
    wanted the first lines. stdout is pointed at /dev/null so the flush at exit cannot
    fail again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)
