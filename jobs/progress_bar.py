"""A progress bar for long work on the command line (training, imports, summaries).

    with progress_bar("summarising series", total=len(series)) as bar:
        for item in series:
            ...
            bar.advance(message=str(item))

It draws on standard error, so a command's output on standard output stays clean for
pipes; when standard error is not a terminal it prints the final state once instead of
animating.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    """One bar: ``update`` to set where the work is, ``advance`` for one more step."""

    def __init__(self, progress: Progress, task: TaskID, description: str) -> None:
        self._progress = progress
        self._task = task
        self._description = description

    def update(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """``done`` of ``total`` steps; a total of None keeps the one known so far."""
        fields: dict = {"completed": done}
        if total is not None:
            fields["total"] = total
        self._progress.update(self._task, message=message or "", **fields)

    def advance(self, steps: int = 1, message: str | None = None) -> None:
        self._progress.update(self._task, advance=steps, message=message or "")

    @property
    def done(self) -> int:
        return int(self._progress.tasks[self._task].completed)


@contextmanager
def progress_bar(
    description: str, total: int | None = None, console: Console | None = None
) -> Iterator[ProgressBar]:
    """A bar for the duration of the ``with`` block; ``total`` None until it is known."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[message]}"),
        console=console or Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task(description, total=total, message="")
        yield ProgressBar(progress, task, description)
