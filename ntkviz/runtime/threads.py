"""How many threads torch's CPU work gets: the thread policy of every figure.

Our numerics are mostly thousands of small tensor ops (ensembles of small nets, chunked
elementwise norms, per-member draws). With intra-op threads each op pays a fork/join, and on a
shared, busy machine spinning threads made them 10-30 times slower (measured on two cores: a
training step at width 100 took 36 ms against 1.2 ms; exact norms at m = 10^7, 2-37 s against
0.3-0.6 s; drawing 4000 nets of width 256, 29 s against 4 s). So the policy is:

* every figure's ``simulate`` runs on one thread (:func:`numeric`, a decorator), whatever
  torch's default, in the CLI, the API and the gallery's workers alike;
* a single op large enough to pay for a fork/join (at least :data:`LARGE_OP_FLOPS`, a wide
  matmul) may use more, through :func:`for_op`: up to the thread budget, which is torch's
  thread count when the first simulate started (the gallery sets it to cores / workers), and
  no more than the cores nothing else is running on at that moment (:func:`free_cpus`). A
  thread on a core that another program keeps busy runs at half speed and the op waits for it:
  with one of two cores taken, two threads are no faster than one, and the op then takes its
  one-thread time, not twice its quiet time (measured: ntk-convergence ``--quick`` beside a
  busy loop, 1.34x its quiet wall time with two threads, 1.01x with one);
* threads that wait do not spin: ``OMP_WAIT_POLICY=PASSIVE`` is set by ``import ntkviz``
  (:func:`passive_wait`) when the user has not set it and torch is not imported yet (OpenMP
  reads it once, when torch loads). Work on a GPU is unaffected by any of this.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

#: An op of at least this many floating-point operations may use more than one thread: about
#: 10 ms of one core, against tens of microseconds for a fork/join.
LARGE_OP_FLOPS = 2e8

_budget: int | None = None

F = TypeVar("F", bound=Callable[..., Any])


def passive_wait() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it or torch is already loaded (then
    it would have no effect). Returns whether it was set here."""
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def budget() -> int:
    """The most threads one op may take: torch's thread count when first asked (the gallery's
    workers set theirs to cores / workers before), at least 1."""
    global _budget
    import torch

    if _budget is None:
        _budget = max(1, torch.get_num_threads())
    return _budget


def set_budget(threads: int | None) -> None:
    """Set (None: forget) the budget, e.g. in a gallery worker; torch's count follows it."""
    global _budget
    import torch

    _budget = None if threads is None else max(1, int(threads))
    if _budget is not None:
        torch.set_num_threads(_budget)


def free_cpus() -> int | None:
    """The CPUs this process may use that no other task is running on right now: the machine's
    CPUs minus the other runnable tasks in ``/proc/loadavg`` (machine-wide; its fourth field,
    "runnable/total", counts this thread too), at most the CPUs this process may use, at least
    1. The smallest of three readings a millisecond apart (a passing kernel thread is not a
    competitor). None where that cannot be read (not Linux)."""
    total = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = total
    readings = []
    for attempt in range(3):
        try:
            with open("/proc/loadavg", encoding="ascii") as f:
                runnable = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return None
        readings.append(runnable)
        if attempt < 2:
            time.sleep(0.001)
    return max(1, min(usable, total - (min(readings) - 1)))


def threads_for(flops: float, device: str = "cpu") -> int:
    """The threads the policy gives one op of ``flops`` floating-point operations: one for a
    small op; for a large one the budget, but no more than the CPUs free now."""
    if device != "cpu" or flops < LARGE_OP_FLOPS:
        return 1
    count = budget()
    if count > 1:
        free = free_cpus()
        if free is not None:
            count = min(count, free)
    return count


@contextlib.contextmanager
def threads(count: int, device: str = "cpu") -> Iterator[None]:
    """Run torch's CPU ops on ``count`` threads inside, then restore the thread count."""
    import torch

    before = torch.get_num_threads()
    if device != "cpu" or before == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def single_thread(device: str = "cpu") -> contextlib.AbstractContextManager[None]:
    """Run torch's CPU ops on one thread inside, then restore the thread count."""
    return threads(1, device)


def for_op(flops: float, device: str = "cpu") -> contextlib.AbstractContextManager[None]:
    """Inside a figure's simulate: the threads :func:`threads_for` gives an op of ``flops``."""
    return threads(threads_for(flops, device), device)


def numeric(simulate: F) -> F:
    """Decorate a figure's ``simulate(config, generator, progress, device)``: it runs on one
    thread (large ops ask for more with :func:`for_op`); the budget is read first."""

    @functools.wraps(simulate)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device = kwargs.get("device", args[3] if len(args) > 3 else "cpu")
        budget()
        with single_thread(str(device)):
            return simulate(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
