"""A pool of worker processes for independent tasks: the gallery's figures (and, later, many
variants of one figure), each task a whole run.

Unlike :mod:`ntkviz.runtime.parallel`, which forks copies of this process to split one run's
frames, the pool starts fresh interpreters (``spawn``: no copy of this process's threads, open
files or imported libraries' state), so a task is a picklable function and argument. The pool
owns its worker processes, one pipe each, which is how it knows every one of them:

* a worker dies with this process (SIGTERM from Linux, so it cleans up first), leaves Ctrl-C
  to this process, and turns SIGTERM and SIGHUP into :class:`~ntkviz.runtime.lifecycle.Interrupted`
  so that its task's ``try/finally`` blocks and transactions clean up;
* when this process is interrupted (or a task fails), every worker gets SIGTERM, then SIGKILL
  if it is still there after a grace period; tasks not yet started are dropped.

A worker is not daemonic, so a task may itself fork frame workers (:mod:`ntkviz.runtime.parallel`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ntkviz.errors import NtkvizError
from ntkviz.runtime.lifecycle import (
    SIGNAL_POLL_S,
    STOP_SIGNALS,
    die_with_parent,
    how_it_ended,
    install_stop_handlers,
    interrupt_code,
    quiet_section,
    stop_if_asked,
)

T = TypeVar("T")
R = TypeVar("R")

#: Seconds a worker has to clean up after SIGTERM before it is killed.
GRACE = 10.0


def run_tasks(
    task: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    on_done: Callable[[int, R], None] | None = None,
    grace: float = GRACE,
) -> list[R]:
    """``task(item)`` for every item, in up to ``workers`` worker processes (in this process
    when ``workers`` is 1 or there is one item). Items start in the given order as workers come
    free; ``on_done(index, result)`` is called here as each ends. Returns the results in the
    items' order. A task's exception, or a worker's death, is raised here once every worker has
    been stopped; so is an interrupt."""
    items = list(items)
    count = max(1, min(workers, len(items)))
    results: list[Any] = [None] * len(items)
    if count == 1:
        for index, item in enumerate(items):
            results[index] = task(item)
            if on_done:
                on_done(index, results[index])
        return results
    pool = _start(count)
    try:
        waiting = iter(enumerate(items))
        busy: list[_Worker] = [w for w in pool if w.give(task, next(waiting, None))]
        while busy:
            ready = multiprocessing.connection.wait(
                [w.connection for w in busy] + [w.process.sentinel for w in busy], SIGNAL_POLL_S
            )
            stop_if_asked()  # one caught by another thread while the workers started
            for worker in [w for w in busy if w.connection in ready or w.process.sentinel in ready]:
                index, result = worker.receive()
                results[index] = result
                if on_done:
                    on_done(index, result)
                if not worker.give(task, next(waiting, None)):
                    worker.retire()  # it exits now, while the others finish their tasks
                    busy.remove(worker)
        _finish(pool)
    except BaseException:
        stop(pool, grace)
        raise
    return results


def _start(count: int) -> list[_Worker]:
    """``count`` workers, started with the stop signals held: each sets its own handlers before
    one can reach it (ours in a starting worker would be a traceback)."""
    context = multiprocessing.get_context("spawn")
    pool: list[_Worker] = []
    try:
        with quiet_section():
            for _ in range(count):
                here, there = context.Pipe()
                process = context.Process(
                    target=_serve, args=(there, os.getpid()), name="ntkviz-worker"
                )
                process.start()
                there.close()  # the worker's end: EOF on ours then means it is gone
                pool.append(_Worker(process, here))
    except BaseException:
        stop(pool)
        raise
    return pool


def _finish(pool: list[_Worker]) -> None:
    """Tell every worker there is nothing more to do, and wait for it to exit."""
    for worker in pool:
        if not worker.retired:
            worker.retire()
    for worker in pool:
        worker.process.join()
        worker.connection.close()


def stop(pool: list[_Worker], grace: float = GRACE) -> None:
    """Stop every worker now: SIGTERM (each cleans up its temporary files and exits), then
    SIGKILL for any still there after ``grace`` seconds."""
    for worker in pool:
        if worker.process.is_alive():
            with contextlib.suppress(OSError):
                os.kill(worker.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for worker in pool:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(1)
        worker.connection.close()


class _Worker:
    def __init__(self, process, connection) -> None:
        self.process = process
        self.connection = connection
        self.retired = False

    def give(self, task: Callable, job: tuple[int, Any] | None) -> bool:
        """Send the worker its next (index, item); False when there is none."""
        if job is None:
            return False
        self.connection.send((job[0], task, job[1]))
        return True

    def retire(self) -> None:
        """Tell the worker there is nothing more to do: it exits (joined by :func:`_finish`)."""
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.retired = True

    def receive(self) -> tuple[int, Any]:
        """(index, result) of the task the worker has finished; its exception is raised."""
        try:
            kind, index, value = self.connection.recv()
        except (EOFError, OSError):
            how = how_it_ended(self.process)
            raise NtkvizError(f"the worker process {self.process.pid} {how}") from None
        if kind == "error":
            raise value
        return index, value


def _serve(connection, parent: int) -> None:
    """In a worker: run the tasks sent, one at a time, until told to stop (None) or the pipe
    closes; send back each result or exception. A stop signal ends the worker once the task's
    files are cleaned up (its transactions have aborted by the time the interrupt gets here)."""
    die_with_parent(signal.SIGTERM)
    install_stop_handlers()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held as we started
        if os.getppid() != parent:  # the parent died before the request was made
            os._exit(1)
        while (message := connection.recv()) is not None:
            index, task, item = message
            try:
                reply = ("done", index, task(item))
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent
                reply = ("error", index, _picklable(exc))
            connection.send(reply)
        # Done: every task's files are committed or cleaned up, and nothing of the interpreter's
        # own tear-down (torch's and matplotlib's modules unloading, ~0.7 s) is needed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    except KeyboardInterrupt as exc:
        os._exit(interrupt_code(exc)[0])
    except (EOFError, OSError):  # the parent is gone
        os._exit(1)


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
