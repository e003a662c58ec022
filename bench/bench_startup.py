"""How long the command line takes to answer, against importing typer and rich alone.

Each command runs in a fresh subprocess (what a shell, or every TAB of shell completion, pays):
``ntkviz --help``, ``ntkviz toy-model --help`` and a completion request, each against
``python -c "import typer, rich"``. The runs of the two sides alternate, so a busy machine slows
both alike; the medians are compared.

Target: ``ntkviz --help`` costs at most 1.5x the bare import (ratio naive/ours >= 0.67).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import make_row

MAX_SLOWDOWN = 1.5
RUNS_PER_REPEAT = 5  # subprocess starts are noisy: several runs per timed repeat


def ntkviz_argv() -> list[str]:
    """The console script beside this Python, else ``python -m ntkviz``."""
    script = Path(sys.executable).with_name("ntkviz")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ntkviz"]


BASELINE = [sys.executable, "-c", "import typer, rich"]


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def compare(argv: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(median seconds of ``argv``, median seconds of the bare typer+rich import), alternating."""
    full = {**os.environ, **(env or {})}
    ours, naive = [], []
    _time(argv, full)  # warm the file cache once
    for _ in range(runs):
        ours.append(_time(argv, full))
        naive.append(_time(BASELINE, os.environ.copy()))
    return statistics.median(ours), statistics.median(naive)


def run(repeat: int = 3) -> list[dict[str, Any]]:
    runs = max(3, repeat * RUNS_PER_REPEAT)
    cases = [
        ("ntkviz --help", [*ntkviz_argv(), "--help"], None),
        ("ntkviz toy-model --help", [*ntkviz_argv(), "toy-model", "--help"], None),
        (
            "completion of 'ntkviz ntk-'",
            ntkviz_argv(),
            {"_NTKVIZ_COMPLETE": "complete_bash", "COMP_WORDS": "ntkviz ntk-", "COMP_CWORD": "1"},
        ),
    ]
    rows = []
    for name, argv, env in cases:
        ours, naive = compare(argv, runs, env)
        rows.append(
            make_row(
                f"startup: {name}",
                ours,
                naive,
                1 / MAX_SLOWDOWN,
                extra=f"{ours / naive:.2f}x 'import typer, rich' (target <= {MAX_SLOWDOWN:g}x), "
                f"median of {runs}",
            )
        )
    return rows
