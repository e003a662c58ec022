"""Every figure beside a competing CPU-bound process: its wall time with the competitor running,
as a ratio to its time without (the thread policy, :mod:`ntkviz.runtime.threads`, is what keeps this
near 1 on a busy laptop).

The competitor is one ``while True: pass`` process pinned to one core. It is started once and
paused (SIGSTOP) for the quiet runs, resumed (SIGCONT) for the busy ones, which alternate, so that
both sides see the same drift of a shared machine; medians of ``repeat`` runs each. Each run is
a whole figure at its ``--quick`` settings (the defaults' numerics at fewer steps and frames):
simulate, render and a GIF written, in this process (``jobs=1``). A figure that takes under
:data:`MIN_SECONDS` is run several times per timing, so that a millisecond of scheduling noise
is not read as a slowdown. Target: busy / quiet <= 1.3 for every figure (as a row: quiet / busy
>= 1 / 1.3, the table's "bigger is better").
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import NO_HOLD, make_row, temp_folder

MAX_SLOWDOWN = 1.3
#: A timing lasts at least about this long (a short figure is run several times).
MIN_SECONDS = 0.5


@contextlib.contextmanager
def competitor(core: int = 0) -> Iterator[subprocess.Popen]:
    """A busy-looping process pinned to ``core``, stopped and reaped on exit."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(process.pid, {core})
        yield process
    finally:
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.wait()


def spin_once() -> float:
    """The control: pure Python on one thread, no torch. Its busy/quiet ratio is what this
    machine allows a one-thread job (1.0 on an otherwise idle machine with a free core; up to
    2 where other work already fills the other cores)."""
    start = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i
    return time.perf_counter() - start


def figure_once(name: str, folder: Path) -> float:
    """One whole figure at ``--quick``: simulate, render, write a GIF (no end hold)."""
    from ntkviz.figures import get
    from ntkviz.figures.base import defaults
    from ntkviz.pipeline import RunOptions, run_figure

    spec = get(name)
    config, style = defaults(spec, True)
    options = RunOptions(
        output=folder / f"{name}.gif",
        style=style,
        fps=spec.fps,
        quick=True,
        jobs=1,
        hold=NO_HOLD,
        sidecar=False,
    )
    start = time.perf_counter()
    run_figure(spec, config, options)
    return time.perf_counter() - start


def repeated(once: Callable[[], float], seconds: float) -> Callable[[], float]:
    """``once`` run often enough to take about ``MIN_SECONDS`` (``seconds``: one run's time);
    returns the time per run."""
    count = max(1, math.ceil(MIN_SECONDS / max(seconds, 1e-4)))

    def timed() -> float:
        return sum(once() for _ in range(count)) / count

    return timed


def run(repeat: int = 3, names: list[str] | None = None) -> list[dict[str, Any]]:
    from ntkviz.figures import FIGURES

    rows = []
    with competitor() as busy, temp_folder() as folder:
        for name in ["control", *(names or list(FIGURES))]:
            once = spin_once if name == "control" else (lambda name=name: figure_once(name, folder))
            os.kill(busy.pid, signal.SIGSTOP)
            once = repeated(once, once())  # the first run warms up: imports, first-call costs
            quiet, loaded = [], []
            for _ in range(repeat):
                os.kill(busy.pid, signal.SIGSTOP)
                quiet.append(once())
                os.kill(busy.pid, signal.SIGCONT)
                time.sleep(0.05)
                loaded.append(once())
            os.kill(busy.pid, signal.SIGSTOP)
            q, b = statistics.median(quiet), statistics.median(loaded)
            load = os.getloadavg()[0]
            rows.append(
                make_row(
                    f"contention {name} (--quick, whole figure)"
                    if name != "control"
                    else "contention control (pure Python, 1 thread)",
                    b,
                    q,
                    1.0 / MAX_SLOWDOWN,
                    extra=f"busy/quiet {b / q:.2f}x (target <= {MAX_SLOWDOWN}x); "
                    f"ours = with a busy core, naive = quiet; load {load:.2f}",
                )
            )
    return rows
