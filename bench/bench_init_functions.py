"""init-functions end to end against the notebook's way (:func:`bench.naive_nets.naive_init_functions_gif`).

Target: ours at least 20x faster at the post's full settings (100 nets of width 100, 100 frames of
5 steps, the first held 5 frames: 104 frames of 864 x 648 px with 100 curves each). The naive side
trains each net with its own SGD and draws each frame with pyplot through a PNG file; it takes
about a minute, so it runs ``naive_repeat`` times (default once) while ours runs ``repeat`` times.
Both sides run with ``threads`` torch threads (default 1: these are tiny tensors, and more threads
only contend on a shared machine); the row says so.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any

import torch

from bench.common import NO_HOLD, make_row, temp_folder, times
from bench.naive_nets import naive_init_functions_gif

SPEEDUP_TARGET = 20.0


def run(
    repeat: int = 3,
    frames: int | None = None,
    count: int | None = None,
    size: tuple[float, float] | None = None,
    dpi: float | None = None,
    threads: int = 1,
    naive_repeat: int = 1,
    jobs: int = 0,
) -> list[dict[str, Any]]:
    """Time both sides (medians) at the post's settings; ``frames``, ``count``, ``size`` and
    ``dpi`` shrink both sides alike (for tests)."""
    from ntkviz import figures
    from ntkviz.pipeline import RunOptions, run_figure

    spec = figures.get("init-functions")
    config = spec.config_cls(clock="linear", hold_first=5)  # the post's clock and hold
    overrides = {k: v for k, v in (("frames", frames), ("count", count)) if v is not None}
    config = dataclasses.replace(config, **overrides)
    style = spec.style
    if size is not None:
        style = style.resized(size)
    if dpi is not None:
        style = dataclasses.replace(style, dpi=dpi)

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with temp_folder() as folder:
            ours_gif, naive_gif = folder / "ours.gif", folder / "naive.gif"
            reports: list[dict[str, Any]] = []
            naive_steps: list[dict[str, float]] = []

            def ours() -> None:
                options = RunOptions(
                    output=ours_gif,
                    style=style,
                    fps=spec.fps,
                    sidecar=False,
                    jobs=jobs,
                    hold=NO_HOLD,
                )
                reports.append(run_figure(spec, config, options))

            def naive() -> None:
                with temp_folder("ntkviz-bench-naive-") as workdir:
                    naive_steps.append(
                        naive_init_functions_gif(
                            naive_gif,
                            workdir,
                            config,
                            size=style.size,
                            dpi=style.dpi,
                            font_size=style.font_size,
                            line_width=style.line_width,
                        )
                    )

            ours_times = times(ours, repeat)
            naive_times = times(naive, naive_repeat)
            ours_shape, naive_shape = gif_shape(ours_gif), gif_shape(naive_gif)
    finally:
        torch.set_num_threads(previous_threads)

    if ours_shape != naive_shape:
        raise RuntimeError(f"GIF durations/size differ: ours {ours_shape}, naive {naive_shape}")
    (width, height), output_frames = ours_shape[1], reports[0]["frames"]
    return [
        make_row(
            f"init-functions {config.count} nets, {output_frames}x{width}x{height}",
            statistics.median(ours_times),
            statistics.median(naive_times),
            SPEEDUP_TARGET,
            extra=where_time_goes(reports, naive_steps, threads, repeat, naive_repeat, jobs),
        )
    ]


def where_time_goes(
    reports, naive_steps, threads: int, repeat: int, naive_repeat: int, jobs: int = 0
) -> str:
    from ntkviz.runtime.parallel import resolve_jobs

    ours = median_split([report["seconds"] for report in reports])
    naive = median_split(naive_steps)
    return (
        "ours: "
        + ", ".join(f"{k} {v:.2f}" for k, v in ours.items())
        + "; naive: "
        + ", ".join(f"{k} {v:.2f}" for k, v in naive.items())
        + f" (s; medians of {repeat} / {naive_repeat}; {threads} torch thread(s); ours draws"
        f" and encodes frames in {resolve_jobs(jobs)} process(es), the naive side in 1)"
    )


def median_split(splits: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(split[key] for split in splits) for key in splits[0]}


def gif_shape(path: Path) -> tuple[int, tuple[int, int]]:
    """(total duration in ms, (width, height)): Pillow merges identical frames, so compare time."""
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        total = sum(frame.info.get("duration", 0) for frame in ImageSequence.Iterator(image))
        return int(total), image.size
