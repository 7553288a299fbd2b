"""The framework floor: the least a Typer + Rich command can cost, to measure kb against.

A minimal app shaped like kb (a group with a callback and two commands, a few typed
options) whose command prints one line through Rich and does nothing else. Run it with
the same interpreter as kb: ``python bench/floor.py search bone marrow --limit 10``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.callback()
def main(db: Annotated[Optional[Path], typer.Option("--db", help="Store file.")] = None) -> None:
    """A minimal app with kb's shape."""


@app.command()
def search(
    query: Annotated[list[str], typer.Argument(help="Words to look for.")],
    category: Annotated[Optional[str], typer.Option("--category", "-c", help="Only this category.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="At most this many.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Print one line about the query through Rich."""
    from rich.console import Console

    Console().print(f"{len(query)} word(s), limit {limit}, category {category or '-'}, json {as_json}")


@app.command()
def show(ref: Annotated[str, typer.Argument(help="An id.")]) -> None:
    """Print one line about the id through Rich."""
    from rich.console import Console

    Console().print(f"entry {ref}")


if __name__ == "__main__":
    app()
