"""Progress reporting: a Rich bar on stderr, or nothing.

Library code receives a :class:`Progress` and calls ``with progress.stage("train", total) as
advance: ... advance(1)``; it never knows whether anything is shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from ntkviz.runtime.lifecycle import stop_if_asked


class Progress:
    """Shows nothing. Subclasses display stages. Every step is also where a stop signal whose
    exception was lost is acted on (:func:`~ntkviz.runtime.lifecycle.stop_if_asked`)."""

    @contextlib.contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        def advance(n: int = 1) -> None:
            stop_if_asked()

        yield advance

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class RichProgress(Progress):
    """One Rich progress display on stderr; each stage is a row with a bar, count and times."""

    def __init__(self, title: str = "") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as _Progress

        self._progress = _Progress(
            TextColumn(f"[bold]{title}[/] " if title else "", markup=True),
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @contextlib.contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        task = self._progress.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            stop_if_asked()
            self._progress.advance(task, n)

        yield advance
        if total is not None:
            self._progress.update(task, completed=total)


class TqdmProgress(Progress):
    """One tqdm bar per stage (a widget in Jupyter, text elsewhere); tqdm is optional."""

    def __init__(self, title: str = "") -> None:
        self.title = title

    @contextlib.contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=f"{self.title} {description}", leave=False) as bar:

            def advance(n: int = 1) -> None:
                stop_if_asked()
                bar.update(n)

            yield advance


def notebook_progress(title: str) -> Progress:
    """The API's progress bars: tqdm's (a widget in a notebook) where tqdm is installed, else
    Rich's on stderr."""
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        return RichProgress(title)
    return TqdmProgress(title)
