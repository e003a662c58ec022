"""toy-model end to end against the notebook's way (:mod:`bench.naive_toy`).

Targets: ours at least 5x faster at the same frame size and count, and a GIF no larger.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any

from bench.common import NO_HOLD, make_row, temp_folder, times
from bench.naive_toy import naive_toy_gif

SPEEDUP_TARGET = 5.0
SIZE_TARGET = 1.0  # naive bytes / our bytes: ours no larger


def run(
    repeat: int = 3,
    frames: int | None = None,
    size: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> list[dict[str, Any]]:
    """Time both sides ``repeat`` times each, alternating; compare medians and the GIFs.

    Defaults are the post's: 100 frames of 864 x 648 px. ``frames``, ``size`` (inches) and
    ``dpi`` shrink the run for tests; both sides always get the same settings.
    """
    from ntkviz import figures
    from ntkviz.pipeline import RunOptions, run_figure

    spec = figures.get("toy-model")
    config = spec.config_cls()
    if frames is not None:
        config = dataclasses.replace(config, frames=frames)
    style = spec.style
    if size is not None:
        style = dataclasses.replace(style, size=size)
    if dpi is not None:
        style = dataclasses.replace(style, dpi=dpi)

    with temp_folder() as folder:
        ours_gif, naive_gif = folder / "ours.gif", folder / "naive.gif"
        reports: list[dict[str, Any]] = []

        def ours() -> None:
            options = RunOptions(output=ours_gif, style=style, fps=spec.fps, hold=NO_HOLD)
            reports.append(run_figure(spec, config, options))

        naive_steps: list[dict[str, float]] = []

        def naive() -> None:
            with temp_folder("ntkviz-bench-naive-") as workdir:
                naive_steps.append(
                    naive_toy_gif(
                        naive_gif,
                        workdir,
                        config,
                        size=style.size,
                        dpi=style.dpi,
                        font_size=style.font_size,
                        line_width=style.line_width,
                    )
                )

        # Alternate the two sides, so that a change in the machine's load (other jobs on shared
        # cores) hits both alike instead of skewing the ratio.
        ours_times: list[float] = []
        naive_times: list[float] = []
        for _ in range(repeat):
            ours_times += times(ours, 1)
            naive_times += times(naive, 1)
        ours_bytes, naive_bytes = _gif_bytes(ours_gif), _gif_bytes(naive_gif)
        ours_shape, naive_shape = _gif_shape(ours_gif), _gif_shape(naive_gif)

    if ours_shape != naive_shape:
        raise RuntimeError(f"frame count/size differ: ours {ours_shape}, naive {naive_shape}")
    count, (width, height) = ours_shape
    split = _median_split([report["seconds"] for report in reports])
    naive_split = _median_split(naive_steps)
    where = (
        "ours: "
        + ", ".join(f"{k} {v:.2f}" for k, v in split.items())
        + "; naive: "
        + ", ".join(f"{k} {v:.2f}" for k, v in naive_split.items())
        + " (s)"
    )
    return [
        make_row(
            f"toy-model {count}x{width}x{height} time",
            statistics.median(ours_times),
            statistics.median(naive_times),
            SPEEDUP_TARGET,
            extra=where,
        ),
        make_row(
            "toy-model gif size",
            ours_bytes,
            naive_bytes,
            SIZE_TARGET,
            unit="bytes",
            extra=f"ours {ours_bytes} B, naive {naive_bytes} B",
        ),
    ]


def _median_split(splits: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(split[key] for split in splits) for key in splits[0]}


def _gif_bytes(path: Path) -> int:
    return path.stat().st_size


def _gif_shape(path: Path) -> tuple[int, tuple[int, int]]:
    from PIL import Image

    with Image.open(path) as image:
        return image.n_frames, image.size
