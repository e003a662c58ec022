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


# -- a browser ------------------------------------------------------------------------------------

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def _which(candidates: tuple[str, ...], name: str) -> str | None:
    import shutil

    found = next((p for p in candidates if os.access(p, os.X_OK)), None)
    return found or shutil.which(name)


def headless_chromium(width: int, height: int):
    """Debian's Chromium, headless at ``width`` x ``height`` px, network off, keeping the console
    log; the test skips where it is missing (fails under NTKVIZ_REQUIRE_BROWSER=1, as in CI).
    Quit it when done."""
    reason = None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        reason = "selenium is not installed (pip install -e '.[dev]')"
    binary, driver_path = _which(CHROMIUM, "chromium"), _which(CHROMEDRIVER, "chromedriver")
    if reason is None and (binary is None or driver_path is None):
        reason = "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
    if reason is not None:
        if os.environ.get("NTKVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"NTKVIZ_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        # the network off: every request goes to a proxy that is not there
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--allow-file-access-from-files",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver path is given: Selenium Manager never downloads anything.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_network_conditions(offline=True, latency=0, throughput=0)
    except Exception:  # noqa: BLE001 - older drivers: the dead proxy above still holds
        pass
    return driver
