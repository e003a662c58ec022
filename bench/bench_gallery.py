"""The whole gallery at the post's settings, as ``make gallery GALLERY_ARGS=--force`` builds it:
wall time of ``ntkviz gallery --force`` into a temporary folder (a fresh process, every figure
in every default format), against issue 21's target of 30 s on a 2-core machine.

Beside the wall time it prints what bounds it: the figures' summed seconds divided by the
workers (work spread perfectly), the longest figure (nothing ends before it), and the two long
simulations (generalization, ntk-ellipses). ``repeat`` is ignored beyond 1 (one build takes a
minute); run it on a quiet machine: the gallery fills every core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.common import make_row, temp_folder

TARGET_SECONDS = 30.0


def run(repeat: int = 1) -> list[dict[str, Any]]:
    with temp_folder() as folder:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ntkviz", "gallery", "--out", str(folder), "--force"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        seconds: dict[str, dict[str, float]] = {}
        for path in sorted(folder.glob("*.json")):
            report = json.loads(path.read_text())
            seconds[report["figure"]] = {k: float(v) for k, v in report["seconds"].items()}
    totals = {name: sum(parts.values()) for name, parts in seconds.items()}
    workers = min(os.cpu_count() or 1, len(totals))
    longest = max(totals, key=totals.get)
    simulate = ", ".join(
        f"{name} simulate {seconds[name]['simulate']:.1f} s"
        for name in ("generalization", "ntk-ellipses")
        if name in seconds
    )
    return [
        make_row(
            f"gallery --force ({len(totals)} figures, {workers} workers)",
            wall,
            TARGET_SECONDS,
            1.0,
            extra=f"naive = the target, {TARGET_SECONDS:g} s; figures' seconds "
            f"{sum(totals.values()):.0f} s in all, / {workers} workers = "
            f"{sum(totals.values()) / workers:.0f} s; longest {longest} {totals[longest]:.1f} s; "
            f"{simulate}; load {os.getloadavg()[0]:.2f}",
        )
    ]
