"""`kb browse`: the interactive way in, a full-screen app (kb/tui) over the same search.

Textual is imported only inside the command, so that no other command starts slower:
the app's table imports this module only when `kb browse` runs (or help lists them all).
"""

from typing import Annotated, Optional

import typer

from kb.cli.options import DbOption


def browse(
    query: Annotated[Optional[list[str]], typer.Argument(help="Start with this search already typed.")] = None,
    include_open: Annotated[
        bool, typer.Option("--open", help="Include open questions (waiting for an answer), marked [open].")
    ] = False,
    db: DbOption = None,
) -> None:
    """Search as you type and read answers full screen, with the keyboard alone.

    The hits are ranked as `kb search` ranks them, with the same query syntax; the
    selected entry is previewed beside the list. Enter opens it, Escape goes back, c copies
    the answer, e edits it, r lists related entries, f filters by category or expert, o
    shows the open questions (oldest first, with their wait) and a answers one, ?
    (or F1) shows every key, Ctrl-Q quits. Needs a terminal: in scripts, use kb search.

    Example: kb browse "bone scan"
    """
    from kb.cli.browsing import start

    raise typer.Exit(code=start(query or [], db, include_open=include_open))
