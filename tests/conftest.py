"""Shared test helpers: independent decoders for what ntkviz writes."""

from __future__ import annotations

import os
from pathlib import Path

from ntkviz.runtime.pins import PINS

# Before numpy and torch load: this process's code paths are pinned as a --reproducible run's
# and the gallery's are, so that those run in-process here (a gallery of --jobs 1) as well.
os.environ.update(PINS)

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")
os.environ.setdefault("COLUMNS", "200")  # wide help output in CliRunner

# 120 x 80 px frames, the last one not held (test_cli checks --hold)
# tiny frames for speed: their 5 pt type is no layout to check (tests/drawing/test_paper.py does)
TINY = ["--size", "3x2", "--dpi", "40", "--no-progress", "--hold", "0", "--no-layout-check"]


def gif_frames(path: Path) -> tuple[list[np.ndarray], list[int], dict]:
    """(RGB frames, per-frame durations in ms, first frame's info) decoded with Pillow."""
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        info = dict(im.info)
        frames, durations = [], []
        for frame in ImageSequence.Iterator(im):
            durations.append(frame.info.get("duration"))
            frames.append(np.asarray(frame.convert("RGB")))
    return frames, durations, info


def mp4_info(path: Path) -> tuple[int, tuple[int, int], float, np.ndarray]:
    """(frame count, (width, height), fps, first frame) decoded with imageio-ffmpeg."""
    import imageio.v2 as iio2

    reader = iio2.get_reader(path, format="FFMPEG")
    try:
        meta = reader.get_meta_data()
        frames = [frame for frame in reader]
    finally:
        reader.close()
    return len(frames), tuple(meta["size"]), meta["fps"], frames[0]


def temp_leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if ".part" in p.name or p.name.endswith(".probe")
    )


@pytest.fixture
def cli():
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke
