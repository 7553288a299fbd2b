"""The consoles kb prints through, and its one-line errors and notices on stderr."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from kb.render.text import clean

if TYPE_CHECKING:
    from rich.console import Console


def console(*, stderr: bool = False) -> Console:
    """A Console for stdout or stderr: colour only on a terminal and without NO_COLOR."""
    stream = sys.stderr if stderr else sys.stdout
    return _console_class()(
        file=stream,
        highlight=False,
        markup=False,
        emoji=False,
        no_color=bool(os.environ.get("NO_COLOR")),
        soft_wrap=False,
    )


_CONSOLE: type | None = None


def _console_class() -> type:
    """Rich's Console, except that a closed pipe raises BrokenPipeError.

    Rich's own handler exits 1, the code for "nothing found"; the cli ends with 0.
    """
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                self.quiet = True
                raise BrokenPipeError

        _CONSOLE = _Console
    return _CONSOLE


def error(message: str, hint: str | None = None) -> None:
    """Print a one-line error (and a hint line) to stderr."""
    err = console(stderr=True)
    from rich.text import Text

    line = Text("Error: ", style="bold red")
    line.append(clean(message).replace("\n", " "))
    err.print(line, soft_wrap=True)
    if hint:
        err.print(Text(clean(hint), style="dim"), soft_wrap=True)


def notice(message: str) -> None:
    """Print an informational line to stderr."""
    from rich.text import Text

    console(stderr=True).print(Text(clean(message), style="dim"), soft_wrap=True)
