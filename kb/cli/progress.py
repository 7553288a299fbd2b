"""Progress bars on stderr, for ingest and index rebuilds (Rich, imported on use)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from kb.render import console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    )


@contextmanager
def bar_context(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Show a bar for ``total`` units while the block runs; yield ``advance(n)``."""
    progress = _progress()
    with progress:
        task = progress.add_task(description, total=max(total, 1))
        yield lambda n: progress.advance(task, n)


def bar(description: str, total: int) -> Callable[[int], None]:
    """Start a bar for ``total`` items; the callback takes the count done so far and
    stops the bar when it reaches the total."""
    progress = _progress()
    progress.start()
    task = progress.add_task(description, total=max(total, 1))

    def update(done: int) -> None:
        progress.update(task, completed=done)
        if done >= total:
            progress.stop()

    return update
