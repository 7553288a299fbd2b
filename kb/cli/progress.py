"""Progress bars on stderr, for ingest and index rebuilds (Rich, imported on use)."""

from __future__ import annotations

from collections.abc import Callable


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


class IngestBar:
    """Ingest's bar: bytes read, entries and files done, then the saving and indexing step.

    While inputs are read the bar measures bytes; once they are all read, the store's
    last commit and the index still take a while (1.5 s of a 16k ingest), so the bar
    turns to a pulse labelled with that step instead of standing at 100%. A rebuild of
    a stale index before the ingest shows in the same bar (Rich allows one at a time).
    """

    def __init__(self, total_bytes: int, total_files: int) -> None:
        from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
        from rich.text import Text

        from kb.render import console

        class _Percent(ProgressColumn):
            def render(self, task):
                return Text("" if task.total is None else f"{task.percentage:>3.0f}%")

        self.total_bytes = max(total_bytes, 1)
        self.total_files = total_files
        self._read = 0
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            _Percent(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("Ingesting", total=self.total_bytes, counts="")

    def __enter__(self) -> IngestBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, nbytes: int) -> None:
        """Count bytes of input read."""
        self._read += nbytes
        self._progress.advance(self._task, nbytes)

    def status(self, stage: str, entries: int, files: int) -> None:
        """Show the entries and files done; ``stage`` "indexing" once every input is read."""
        counts = f"{entries:,} entries · {files:,}/{self.total_files:,} files"
        if stage == "indexing":
            # update(total=None) means "total unchanged" to Rich; a task without a total
            # draws a pulse, and that is what this step is: its length is not known.
            self._progress.update(self._task, description="Saving and indexing", counts=counts)
            for task in self._progress.tasks:
                if task.id == self._task:
                    task.total = None
        else:
            self._progress.update(self._task, counts=counts)

    def rebuild(self, total: int) -> Callable[[int], None]:
        """Show a rebuild of the search index (before the ingest reads on) in this bar."""
        self._progress.update(
            self._task,
            description="Rebuilding the search index",
            total=max(total, 1),
            completed=0,
            counts=f"0/{total:,} entries",
        )

        def update(done: int) -> None:
            self._progress.update(self._task, completed=done, counts=f"{done:,}/{total:,} entries")
            if done >= total:
                self._progress.update(
                    self._task, description="Ingesting", total=self.total_bytes, completed=self._read, counts=""
                )

        return update
