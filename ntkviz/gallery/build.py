"""Building the gallery: every figure at the post's defaults, in parallel, then its index.

``ntkviz gallery`` (and ``make gallery``) writes ``<figure>.gif`` plus a ``<figure>.png`` still for
each animated figure, ``<figure>.png`` for stills, sidecars, ``README.md`` and ``index.html``.
A figure whose sidecar says it was made with the same config, seed, style and ntkviz version is
skipped unless ``force``. The figures run in the worker pool of :mod:`ntkviz.runtime.pool`, the
long ones first (:func:`ntkviz.gallery.plan.schedule`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ntkviz.errors import ConfigError
from ntkviz.gallery.index import write_index
from ntkviz.gallery.plan import FORMATS, SKIPPED, Job, is_current, outputs, plan, schedule
from ntkviz.runtime.pool import run_tasks


def build_one(job: Job) -> dict[str, Any]:
    """Build (or skip) one figure; return a summary row. Runs in a worker process."""
    from ntkviz.pipeline import run_figure
    from ntkviz.runtime.threads import set_budget

    set_budget(job.threads)
    spec, config, options = plan(job)
    start = time.perf_counter()
    reason = None
    if not job.force and is_current(config, options):
        report = json.loads((options.output.parent / (options.output.name + ".json")).read_text())
        status, reason = "skipped", SKIPPED
    else:
        report = run_figure(spec, config, options)
        status = "built"
    made = outputs(options)
    return {
        "figure": job.name,
        "status": status,
        "reason": reason,
        "frames": report["frames"],
        "size": f"{report['width']}x{report['height']}",
        "bytes": sum(p.stat().st_size for p in made),
        "seconds": round(time.perf_counter() - start, 1),
        "files": [p.name for p in made],
    }


def build(
    out: Path,
    names: Sequence[str],
    formats: Sequence[str],
    jobs: int,
    quick: bool = False,
    force: bool = False,
    seed: int = 0,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Build the figures ``names`` into ``out`` with ``jobs`` worker processes; rows in order."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"--format must be a list of {', '.join(FORMATS)} (got {', '.join(bad)})")
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs, len(names)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    tasks = [
        Job(name, out, tuple(formats), quick, seed, force, threads) for name in schedule(names, out)
    ]
    rows: dict[str, dict[str, Any]] = {}

    def done(_index: int, row: dict[str, Any]) -> None:
        rows[row["figure"]] = row
        if on_done:
            on_done(row)

    run_tasks(_guarded, tasks, jobs, done)
    ordered = [rows[name] for name in names]
    write_index(out, ordered)
    return ordered


def _error_line(exc: BaseException) -> str:
    from ntkviz.errors import NtkvizError
    from ntkviz.runtime.lifecycle import describe_os_error

    if isinstance(exc, NtkvizError):
        text = str(exc)
    elif isinstance(exc, OSError):
        text = describe_os_error(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _guarded(job: Job) -> dict[str, Any]:
    try:
        return build_one(job)
    except Exception as exc:  # one failed figure must not hide the others
        return {
            "figure": job.name,
            "status": "failed",
            "error": _error_line(exc),
            "frames": 0,
            "size": "-",
            "bytes": 0,
            "seconds": 0.0,
            "files": [],
        }
