"""weight-matrix end to end against the notebook's way (:func:`bench.naive_nets.naive_weight_matrix_gif`).

Target: ours at least 20x faster. The naive side draws every frame with pyplot (three imshow of the
full matrices, 1000 x 1000 included, and their colour bars) through a PNG file: about 0.5 s a
frame, so the post's 1001 frames would take minutes. Both sides therefore run at ``steps`` (default
100: 101 frames of 1152 x 504 px, widths 10, 100, 1000) for the measured ratio; a second row times
ours at the post's full 1000 steps against the naive time extrapolated per frame from the first
row (marked as an estimate), unless ``naive_full`` runs the naive side at full size too.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import torch

from bench.bench_init_functions import gif_shape, where_time_goes
from bench.common import NO_HOLD, make_row, temp_folder, times
from bench.naive_nets import naive_weight_matrix_gif

SPEEDUP_TARGET = 20.0


def run(
    repeat: int = 3,
    steps: int = 100,
    widths: tuple[int, ...] | None = None,
    size: tuple[float, float] | None = None,
    dpi: float | None = None,
    threads: int = 1,
    naive_repeat: int = 1,
    full: bool = True,
    naive_full: bool = False,
) -> list[dict[str, Any]]:
    """Rows: both sides at ``steps`` (measured), and with ``full`` ours at the post's settings."""
    from ntkviz import figures
    from ntkviz.pipeline import RunOptions, run_figure

    spec = figures.get("weight-matrix")
    # the post's first figure (the three matrices) at its 16 x 7 in, like for like with the
    # naive side; the default layout adds the post's second figure below them
    post = dataclasses.replace(spec.config_cls(), layout="matrices", clock="linear")
    if widths is not None:
        post = dataclasses.replace(post, widths=widths)
    style = dataclasses.replace(spec.style, size=(16.0, 7.0))
    if size is not None:
        style = style.resized(size)
    if dpi is not None:
        style = dataclasses.replace(style, dpi=dpi)

    def measure(config, ours_repeat: int, naive_runs: int):
        reports: list[dict[str, Any]] = []
        naive_steps: list[dict[str, float]] = []
        with temp_folder() as folder:
            ours_gif, naive_gif = folder / "ours.gif", folder / "naive.gif"

            def ours() -> None:
                options = RunOptions(
                    output=ours_gif, style=style, fps=spec.fps, sidecar=False, hold=NO_HOLD
                )
                reports.append(run_figure(spec, config, options))

            def naive() -> None:
                with temp_folder("ntkviz-bench-naive-") as workdir:
                    naive_steps.append(
                        naive_weight_matrix_gif(
                            naive_gif,
                            workdir,
                            config,
                            size=style.size,
                            dpi=style.dpi,
                            font_size=style.font_size,
                            line_width=style.line_width,
                        )
                    )

            ours_times = times(ours, ours_repeat)
            naive_times = times(naive, naive_runs) if naive_runs else []
            if naive_runs:
                ours_shape, naive_shape = gif_shape(ours_gif), gif_shape(naive_gif)
                if ours_shape != naive_shape:
                    raise RuntimeError(
                        f"GIF durations/size differ: ours {ours_shape}, naive {naive_shape}"
                    )
        return ours_times, naive_times, reports, naive_steps

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        small = dataclasses.replace(post, steps=steps)
        ours_times, naive_times, reports, naive_steps = measure(small, repeat, naive_repeat)
        naive_s = statistics.median(naive_times)
        frames = reports[0]["frames"]
        size_px = f"{reports[0]['width']}x{reports[0]['height']}"
        label = "widths " + ",".join(str(w) for w in post.widths)
        rows.append(
            make_row(
                f"weight-matrix {label}, {steps} steps: {frames}x{size_px}",
                statistics.median(ours_times),
                naive_s,
                SPEEDUP_TARGET,
                extra=where_time_goes(reports, naive_steps, threads, repeat, naive_repeat),
            )
        )
        if full and post.steps != steps:
            start = time.perf_counter()
            full_ours, full_naive, full_reports, full_steps = measure(
                post, 1, naive_repeat if naive_full else 0
            )
            full_frames = full_reports[0]["frames"]
            if naive_full:
                naive_estimate, how = statistics.median(full_naive), "measured"
                extra = where_time_goes(full_reports, full_steps, threads, 1, naive_repeat)
            else:
                naive_estimate = naive_s * full_frames / frames
                how = f"naive ESTIMATED as {frames}-frame time x {full_frames}/{frames}"
                split = full_reports[0]["seconds"]
                extra = "ours: " + ", ".join(f"{k} {v:.2f}" for k, v in split.items()) + " (s)"
            rows.append(
                make_row(
                    f"weight-matrix {label}, {post.steps} steps (post): {full_frames}x{size_px}",
                    statistics.median(full_ours),
                    naive_estimate,
                    SPEEDUP_TARGET,
                    extra=f"{how}; {extra}; {time.perf_counter() - start:.0f} s",
                )
            )
    finally:
        torch.set_num_threads(previous_threads)
    return rows
