"""Starting `kb browse` (kb/tui): the checks and the store, with no Typer in sight.

The Typer command (kb.cli.browse) and the quick start of a plain `kb browse`
(kb.cli.app.main, which skips Typer's ~40 ms of imports) both end here.
"""

import sys
from typing import Optional

from kb.cli.opening import open_kb


def start(query: list[str], db: Optional[str], *, include_open: bool = False) -> int:
    """Run the full-screen app on the store ``db`` names; return the exit code.

    Needs a terminal on stdin and stdout: without one it says so in one line (exit 2).
    ``include_open`` shows open questions among the hits (`kb browse --open`).
    """
    from kb import render

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        render.error("kb browse needs a terminal (stdin and stdout); in scripts use: kb search QUERY --format json")
        return 2
    kb = open_kb(db)
    # Bring the index up to date here, where a rebuild's progress bar can still be seen.
    empty = kb.count() == 0
    from kb.tui.app import BrowseApp

    browser = BrowseApp(kb, " ".join(query), empty=empty, include_open=include_open)
    browser.run()
    return browser.return_code or 0


def plain_args(argv: list[str]) -> tuple[list[str], Optional[str]] | None:
    """The query words and --db of a plain `kb [--db X] browse [--db X] [WORDS...]`.

    None for anything else (help, another option, a word that starts with "-", --db
    without a value), which Typer then parses, answers and refuses as for every command.
    The last --db given wins, the command's over the root's, as with Typer.
    """
    db: Optional[str] = None
    words: list[str] = []
    seen_command = False
    args = iter(argv[1:])
    for token in args:
        if token == "--db":
            value = next(args, None)
            if not value:
                return None
            db = value
        elif token.startswith("--db="):
            if token == "--db=":
                return None
            db = token[len("--db=") :]
        elif token.startswith("-"):
            return None
        elif not seen_command:
            if token != "browse":
                return None
            seen_command = True
        else:
            words.append(token)
    return (words, db) if seen_command else None
