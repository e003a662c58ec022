"""ntk-ellipses end to end against the notebook's way (:mod:`bench.naive_ellipses`).

Target (issue 4): ours at least 20x faster at the post's full settings (8000 steps, 200 frames),
the same frame size on both sides. The naive side takes 80-110 s there, so the benchmark takes
about two minutes; ``steps=2000`` runs a quarter of it (50 frames, the same 40 steps a frame),
where our fixed costs (building the figure, its first full draw, the palette) weigh four times
more. The row says which size ran.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

from bench.common import NO_HOLD, make_row, temp_folder, times
from bench.naive_ellipses import naive_ellipses_gif

SPEEDUP_TARGET = 20.0


def run(
    repeat: int = 3,
    steps: int | None = None,
    frames: int | None = None,
    size: tuple[float, float] | None = None,
    dpi: float | None = None,
    jobs: int = 0,
) -> list[dict[str, Any]]:
    """Time ours ``repeat`` times (median) and the naive reference once (it is slow).

    ``steps=None`` runs the post's 8000 steps; ``frames`` defaults to steps / 40, the post's rate.
    ``size`` (inches) and ``dpi`` shrink the frames for tests; both sides get the same settings.
    """
    from ntkviz import figures
    from ntkviz.pipeline import RunOptions, run_figure
    from ntkviz.runtime.parallel import resolve_jobs
    from ntkviz.runtime.threads import single_thread

    spec = figures.get("ntk-ellipses")
    config = spec.config_cls()
    if steps is not None:
        config = dataclasses.replace(config, steps=steps)
    # the post's picture (both runs' planes overlaid beside the functions), like for like
    config = dataclasses.replace(
        config, frames=frames or config.steps // 40, layout="both", clock="linear"
    )
    style = spec.style
    if size is not None:
        style = style.resized(size)  # fonts and lines shrink with the figure
    if dpi is not None:
        style = dataclasses.replace(style, dpi=dpi)

    with temp_folder() as folder:
        ours_gif, naive_gif = folder / "ours.gif", folder / "naive.gif"
        reports: list[dict[str, Any]] = []

        def ours() -> None:
            options = RunOptions(
                output=ours_gif, style=style, fps=spec.fps, sidecar=False, jobs=jobs, hold=NO_HOLD
            )
            reports.append(run_figure(spec, config, options))

        naive_steps: list[dict[str, float]] = []

        def naive() -> None:
            with temp_folder("ntkviz-bench-naive-") as workdir:
                naive_steps.append(
                    naive_ellipses_gif(
                        naive_gif,
                        workdir,
                        config,
                        size=style.size,
                        dpi=style.dpi,
                        font_size=style.font_size,
                        line_width=style.line_width,
                    )
                )

        # One CPU thread for both sides (ours trains on one anyway): with intra-op threads on a
        # shared machine, the naive side's thousands of tiny ops would mostly time the spinning.
        with single_thread("cpu"):
            ours_times = times(ours, repeat)
            naive_times = times(naive, 1)
        count = reports[-1]["frames"]
        width, height = reports[-1]["width"], reports[-1]["height"]

    ours_split = {
        k: statistics.median(r["seconds"][k] for r in reports) for k in reports[0]["seconds"]
    }
    where = (
        f"1 thread, {config.steps} steps, {count} frames ({'full size' if config.steps == 8000 else 'reduced'}); "
        f"ours draws and encodes frames in {resolve_jobs(jobs)} process(es), the naive side in 1; "
        "ours: "
        + ", ".join(f"{k} {v:.2f}" for k, v in ours_split.items())
        + "; naive (1 run): "
        + ", ".join(f"{k} {v:.1f}" for k, v in naive_steps[0].items())
        + " (s)"
    )
    return [
        make_row(
            f"ntk-ellipses {count}x{width}x{height} time",
            statistics.median(ours_times),
            naive_times[0],
            SPEEDUP_TARGET,
            extra=where,
        )
    ]
