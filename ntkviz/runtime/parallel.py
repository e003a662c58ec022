"""Splitting a run of frames over worker processes, for the CPU-bound drawing and encoding.

Drawing with matplotlib holds Python's GIL, so threads cannot draw two frames at once; forked
processes can. A forked worker starts as a copy of this process (the figure already built, the
simulation's arrays in memory), so nothing has to be pickled or re-imported: it only sends back
what it made (compressed frame data) and how far it has got.

Only where the ``fork`` start method exists (Linux, and other POSIX systems where it is safe);
elsewhere, and for ``jobs=1``, everything runs in this process. The result never depends on the
split: each frame is made from its own index alone.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import warnings
from collections.abc import Callable
from typing import TypeVar

from ntkviz.errors import NtkvizError
from ntkviz.runtime.lifecycle import (
    SIGNAL_POLL_S,
    STOP_SIGNALS,
    die_with_parent,
    how_it_ended,
    quiet_section,
    stop_if_asked,
)

T = TypeVar("T")

#: (start, stop, report) -> results for frames start..stop-1; report(n) says n more are done.
RangeTask = Callable[[int, int, Callable[[int], None]], list[T]]


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_jobs(jobs: int) -> int:
    """``jobs`` <= 0 means one per available CPU, at most 4 (each worker holds a copy of the
    figure and draws one extra frame to start from, so a few go a long way)."""
    return max(1, jobs) if jobs > 0 else max(1, min(available_cpus(), 4))


def can_fork() -> bool:
    """Fork only where it is safe and allowed (not in a daemonic process: it may have no children)."""
    return (
        sys.platform != "darwin"
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous (start, stop) ranges covering 0..count, sizes differing by at most 1."""
    bounds = [round(count * p / parts) for p in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def run_ranges(
    count: int,
    task: RangeTask,
    jobs: int,
    advance: Callable[[int], None],
    min_per_job: int = 8,
) -> list:
    """``task`` over 0..count split into up to ``jobs`` ranges: the first in this process, the
    others in forked workers at the same time (at least ``min_per_job`` frames each). Returns the
    results in frame order; a worker's exception is raised here."""
    parts = min(jobs, count // min_per_job) if can_fork() else 1
    ranges = split(count, max(parts, 1))
    if len(ranges) == 1:
        return task(0, count, advance)
    context = multiprocessing.get_context("fork")
    for stream in (sys.stdout, sys.stderr):  # or a worker would write buffered output again
        if stream is not None:  # None: the stream was closed when we started
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    workers = []
    try:
        for start, stop in ranges[1:]:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_work,
                args=(send, receive, os.getpid(), task, start, stop),
                daemon=True,
                name="ntkviz-frames",
            )
            # Signals are held while forking: the worker sets its own handlers before any
            # can reach it (our SIGTERM handler in a worker would be a traceback).
            with warnings.catch_warnings(), quiet_section():
                warnings.simplefilter("ignore", DeprecationWarning)  # Python >= 3.12, at fork
                process.start()
            send.close()  # this process only reads; EOF then means the worker is gone
            workers.append(_Worker(process, receive, start, stop))
            # Draw nothing until the worker has let go of the font files it shares with us.
            workers[-1].wait_ready()

        def report(n: int) -> None:
            stop_if_asked()  # whatever ``advance`` is
            advance(n)
            for worker in workers:
                worker.poll(advance)

        results = list(task(*ranges[0], report))
        for worker in workers:
            results.extend(worker.wait(advance))
        return results
    finally:
        for worker in workers:
            worker.stop()


class _Worker:
    def __init__(self, process, connection, start: int = 0, stop: int = 0) -> None:
        self.process = process
        self.connection = connection
        self.frames = (start, stop)
        self.result: list | None = None

    def wait_ready(self) -> None:
        message = self._receive()
        if message[0] != "ready":
            self._handle(message, lambda n: None)  # an error before it began

    def _handle(self, message: tuple, advance: Callable[[int], None]) -> None:
        kind = message[0]
        if kind == "progress":
            advance(message[1])
        elif kind == "done":
            self.result = message[1]
        else:  # "error": the worker's exception, re-raised here
            raise message[1]

    def poll(self, advance: Callable[[int], None]) -> None:
        while self.result is None and self.connection.poll():
            self._handle(self._receive(), advance)

    def wait(self, advance: Callable[[int], None]) -> list:
        while self.result is None:
            if self.connection.poll(SIGNAL_POLL_S):
                self._handle(self._receive(), advance)
            stop_if_asked()
        self.process.join()
        return self.result

    def _receive(self) -> tuple:
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            how = how_it_ended(self.process)
            start, stop = self.frames
            raise NtkvizError(
                f"the frame worker process {self.process.pid} (frames {start}-{stop - 1}) {how}"
            ) from None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.connection.close()


def _forget_parent_fonts() -> None:
    """Make a forked worker open its own font files.

    FreeType reads glyphs lazily from the font file, and a forked worker shares the parent's
    open files, offsets included: two processes seeking and reading the same file race, and
    FreeType fails ("too many hints") or draws garbage. Matplotlib empties its font cache at
    fork itself, but its mathtext cache keeps the parent's fonts inside parsed expressions, so
    both are emptied here; closing an inherited font file can move the shared offset too, so
    the parent waits for this to finish (the "ready" message), and what is left of the
    parent's objects is frozen, never collected (and closed) later.
    """
    mathtext = sys.modules.get("matplotlib.mathtext")
    if mathtext is not None:
        mathtext.MathTextParser._parse_cached.cache_clear()
    font_manager = sys.modules.get("matplotlib.font_manager")
    if font_manager is not None:
        font_manager._get_font.cache_clear()
    gc.freeze()


def _work(connection, other_end, parent: int, task: RangeTask, start: int, stop: int) -> None:
    """In the forked worker: run the task, stream progress, send the results or the error.

    The worker dies with its parent (SIGKILL from the kernel, or the check right after asking
    for it), holds only its own end of the pipe (so a parent's death is EOF, never a hang), and
    leaves Ctrl-C to the parent, which stops it."""
    die_with_parent(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)
    other_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held since the fork
    try:
        _forget_parent_fonts()
        connection.send(("ready",))
        results = task(start, stop, lambda n: connection.send(("progress", n)))
        connection.send(("done", results))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        try:
            pickle.dumps(exc)
            connection.send(("error", exc))
        except Exception:
            with contextlib.suppress(Exception):  # the parent may be gone: nothing to tell
                connection.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        with contextlib.suppress(Exception):
            connection.close()
