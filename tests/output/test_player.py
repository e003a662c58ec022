"""The HTML player (-o fig.html): its data, and the page in a real browser (headless Chromium via
Selenium, loaded from file:// with the network off).

The browser tests skip, with the reason, where Chromium, its driver or Selenium is missing; with
NTKVIZ_REQUIRE_BROWSER=1 (set by .ci/run, which installs them) they fail instead.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, gif_frames, headless_chromium

from ntkviz.output import gif, player
from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource

# 8 pictures, the last one held 0.3 s more (3 frames at 10 fps): 11 frames written
FRAMES, HELD = 8, 3


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium, network off, that keeps the console log."""
    driver = headless_chromium(1100, 900)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def tiny_player(tmp_path_factory):
    """A toy-model player written by the CLI, with --frames-dir holding the writer's frames."""
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    folder = tmp_path_factory.mktemp("player")
    hold = TINY.index("--hold")  # TINY's own hold (0) replaced
    tiny = TINY[:hold] + TINY[hold + 2 :]
    args = ["toy-model", "--quick", "--frames", str(FRAMES), *tiny, "--hold", "0.3"]
    html = ["-o", str(folder / "toy.html"), "--frames-dir", str(folder / "frames")]
    result = CliRunner().invoke(app, [*args, *html])
    assert result.exit_code == 0, result.output
    # the same figure as a GIF: the player's pictures are the GIF's, pixel for pixel
    result = CliRunner().invoke(app, [*args, "-o", str(folder / "toy.gif")])
    assert result.exit_code == 0, result.output
    return folder


def gif_picture(folder: Path, picture: int) -> np.ndarray:
    """The GIF's frame ``picture`` (it merges held frames like the player), as Pillow shows it."""
    frames, _, _ = gif_frames(folder / "toy.gif")
    assert len(frames) == FRAMES
    return frames[picture]


def writer_frame(folder: Path, output_frame: int) -> np.ndarray:
    """The writer's frame (``--frames-dir`` holds the distinct ones; the held end repeats the last)."""
    from PIL import Image

    files = sorted((folder / "frames").glob("frame_*.png"))
    with Image.open(files[min(output_frame, len(files) - 1)]) as im:
        return np.asarray(im.convert("RGB"))


# -- the data, without a browser ----------------------------------------------------------------


def test_player_data_merges_held_frames_and_decodes_to_the_writers_frames(tiny_player):
    data = player.read_html(tiny_player / "toy.html")
    sidecar = json.loads((tiny_player / "toy.html.json").read_text())
    assert sidecar["format"] == "html" and sidecar["frames"] == FRAMES
    assert sidecar["hold_frames"] == HELD
    pictures = data["frames"]
    assert len(pictures) == FRAMES  # the held end is one picture shown longer
    assert [p["first"] for p in pictures] == list(range(FRAMES))
    assert pictures[-1]["ms"] == 100 * (1 + HELD) and pictures[0]["ms"] == 100
    assert pictures[0]["key"] and not all(p["key"] for p in pictures)  # patches between keys
    assert all(p["src"].startswith("data:image/webp;base64,") for p in pictures if p["key"])
    assert all("gif" in p and "src" not in p for p in pictures if not p["key"])
    for i, decoded in enumerate(player.decode_frames(data)):
        # the GIF's colours exactly (one palette for the animation), close to what was drawn
        np.testing.assert_array_equal(decoded, gif_picture(tiny_player, i))
        drawn = writer_frame(tiny_player, i)
        assert np.abs(decoded.astype(int) - drawn).mean() < 2.0
        white = (drawn == 255).all(axis=2)
        assert (decoded[white] == 255).all()  # white stays white


@pytest.mark.parametrize("jobs", [1, 2])
def test_encoding_round_trips(jobs, monkeypatch):
    """Synthetic frames: a square moving, held frames, a whole-picture change and key pictures
    every KEY_INTERVAL frames; decoding gives the frames back exactly (their few colours are all
    in the palette), and the data is the same for any number of drawing processes."""
    monkeypatch.setattr(gif, "KEY_INTERVAL", 3)
    monkeypatch.setattr("ntkviz.runtime.parallel.can_fork", lambda: True)
    rng = np.random.default_rng(0)
    base = rng.choice(np.array([[255, 255, 255], [0, 0, 0], [200, 30, 30]], np.uint8), (20, 30))
    frames = []
    for k in range(24):
        frame = base.copy()
        frame[5:9, k % 20 : k % 20 + 4] = [(30, 160, 7), (240, 200, 0)][k % 2]
        frames.append(frame)
    frames[4] = frames[3]  # held
    frames[6] = frames[5]  # held on a key frame's place: no key there
    frames[8] = 255 - frames[7]  # everything changes
    data = player.encode_frames(len(frames), lambda i: frames[i], 10, jobs=jobs)
    assert [p["first"] for p in data["frames"]] == [0, 1, 2, 3, 5, *range(7, 24)]
    assert data["frames"][3]["ms"] == 200
    keys = [p["first"] for p in data["frames"] if p["key"]]
    assert keys == [0, 3, 9, 12, 15, 18, 21]
    assert all(("src" in p) == p["key"] for p in data["frames"])
    decoded = list(player.decode_frames(data))
    for picture, entry in zip(decoded, data["frames"]):
        np.testing.assert_array_equal(picture, frames[entry["first"]])
    if jobs == 2:
        assert data == player.encode_frames(len(frames), lambda i: frames[i], 10, jobs=1)


def test_gif_and_player_together_draw_each_frame_once(tmp_path):
    """Written together (as the gallery does), the .gif and the .html come from one pass: every
    frame is drawn once, and the player's pictures are the GIF's."""
    from PIL import Image

    drawn = []

    def frame(i):
        drawn.append(i)
        picture = np.full((24, 32, 3), 255, np.uint8)
        picture[4:10, i : i + 6] = (30, 90, 200)
        return picture

    source = FrameSource(14, frame, keys=True)
    write_animation(tmp_path / "a.gif", source, fps=10)
    write_animation(tmp_path / "a.html", source, fps=10)
    assert sorted(drawn) == list(range(14))
    with Image.open(tmp_path / "a.gif") as im:
        gif = []
        for k in range(im.n_frames):
            im.seek(k)
            gif.append(np.asarray(im.convert("RGB")))
    pictures = list(player.decode_frames(player.read_html(tmp_path / "a.html")))
    assert len(pictures) == len(gif) == 14
    for a, b in zip(pictures, gif):
        np.testing.assert_array_equal(a, b)


def test_player_file_is_offline(tiny_player):
    text = (tiny_player / "toy.html").read_text()
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert re.search(r"https?://", text) is None  # nothing to fetch, no link out
    assert re.findall(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", text) == []
    assert "@import" not in text and "url(" not in text


def test_too_large_a_player_is_refused_in_one_line(tmp_path, monkeypatch, cli):
    monkeypatch.setattr(player, "MAX_BYTES", 1000)
    out = tmp_path / "big.html"
    result = cli("toy-model", "--quick", "--frames", "4", "-o", out, *TINY)
    assert result.exit_code == 1
    message = result.output.strip()
    assert message.count("\n") == 0 and "over the 0 MB limit" in message and "--quick" in message
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a sidecar


# -- in the browser -----------------------------------------------------------------------------


def _open(driver, path: Path, fragment: str = "") -> None:
    driver.get(path.as_uri() + fragment)
    driver.get_log("browser")  # start each page with an empty log


def _wait(driver, script: str, timeout: float = 20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def _canvas_pixels(driver, index: int = 0) -> np.ndarray:
    from PIL import Image

    url = driver.execute_script(
        "return document.querySelectorAll('.np-canvas')[arguments[0]].toDataURL('image/png');",
        index,
    )
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
        return np.asarray(im.convert("RGB"))


def _state(driver) -> dict:
    return driver.execute_script(
        "var p = window.ntkvizPlayers[0], r = document.querySelector('.ntkviz-player');"
        "return {frame: p.frame, playing: p.playing, count: p.count,"
        " shown: Number(r.getAttribute('data-frame')),"
        " slider: Number(r.querySelector('.np-slider').value),"
        " pos: r.querySelector('.np-pos').textContent, first: p.outputFrame(p.frame)};"
    )


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def test_player_in_a_browser(browser, tiny_player, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, tiny_player / "toy.html")
    _wait(browser, "return window.ntkvizPlayers && window.ntkvizPlayers[0].loaded")
    state = _state(browser)
    assert state["count"] == FRAMES and state["frame"] == 0 and not state["playing"]
    assert state["pos"].startswith(f"frame 1 / {FRAMES}")
    np.testing.assert_array_equal(_canvas_pixels(browser), gif_picture(tiny_player, 0))
    assert browser.find_elements(By.CSS_SELECTOR, ".np-poster") == []  # the canvas took over
    assert "tangent" in browser.find_element(By.CSS_SELECTOR, ".np-caption").text

    # play advances; pause stops
    browser.find_element(By.CSS_SELECTOR, ".np-speed option[value='4']").click()
    browser.find_element(By.CSS_SELECTOR, ".np-play").click()
    _wait(browser, "return window.ntkvizPlayers[0].frame >= 2")
    assert _state(browser)["playing"]
    browser.switch_to.active_element.send_keys(Keys.SPACE)  # focus left the button: one toggle
    paused = _state(browser)
    time.sleep(0.3)
    assert not paused["playing"] and _state(browser)["frame"] == paused["frame"]

    # the slider seeks, forwards and backwards (through a key picture), to the writer's pixels
    for target in (5, FRAMES - 1, 2, 0, 6):
        browser.execute_script(
            "var s = document.querySelector('.np-slider'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('input', {bubbles: true}));",
            target,
        )
        state = _state(browser)
        assert state["frame"] == state["shown"] == state["slider"] == target
        assert state["pos"].startswith(f"frame {target + 1} / {FRAMES}")
        np.testing.assert_array_equal(_canvas_pixels(browser), gif_picture(tiny_player, target))
        drawn = writer_frame(tiny_player, state["first"])  # the frame the writer was given
        assert np.abs(_canvas_pixels(browser).astype(int) - drawn).mean() < 2.0

    # keys: arrows step, Home/End jump, space plays and pauses
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT)
    assert _state(browser)["frame"] == 7
    body.send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT)
    assert _state(browser)["frame"] == 5
    body.send_keys(Keys.HOME)
    assert _state(browser)["frame"] == 0
    body.send_keys(Keys.END)
    assert _state(browser)["frame"] == FRAMES - 1
    np.testing.assert_array_equal(_canvas_pixels(browser), gif_picture(tiny_player, FRAMES - 1))
    body.send_keys(Keys.HOME, Keys.SPACE)
    assert _state(browser)["playing"]
    body.send_keys(Keys.SPACE)
    assert not _state(browser)["playing"]

    # once, not looping: playing stops at the end
    browser.execute_script("document.querySelector('.np-loop').click()")
    body.send_keys(Keys.END, Keys.SPACE)  # at the end and not looping: starts again from 0
    _wait(browser, "return !window.ntkvizPlayers[0].playing", timeout=15)
    assert _state(browser)["frame"] == FRAMES - 1

    browser.find_element(By.CSS_SELECTOR, ".ntkviz-player").screenshot(str(tmp_path / "player.png"))
    assert _errors(browser) == []

    # a link to a moment: page.html#frame=4 shows frame 4, when the hash changes ...
    _open(browser, tiny_player / "toy.html", "#frame=4")
    _wait(browser, "return window.ntkvizPlayers[0].frame == 3")
    np.testing.assert_array_equal(_canvas_pixels(browser), gif_picture(tiny_player, 3))
    # ... and when the page opens with it
    browser.get("about:blank")
    _open(browser, tiny_player / "toy.html", "#frame=6")
    _wait(browser, "return window.ntkvizPlayers && window.ntkvizPlayers[0].loaded")
    assert _state(browser)["frame"] == 5
    assert (tmp_path / "player.png").stat().st_size > 1000
    assert _errors(browser) == []


def test_api_player_inline_in_a_page(browser, tmp_path):
    """Two Animation._repr_html_ outputs on one page (as in a notebook) work independently."""
    import ntkviz

    anim = ntkviz.render("toy-model", quick=True, size="3x2", dpi=40, hold=0, frames=4)
    page = (
        "<!DOCTYPE html><html><body>" + anim._repr_html_() + anim._repr_html_() + "</body></html>"
    )
    (tmp_path / "notebook.html").write_text(page)
    _open(browser, tmp_path / "notebook.html")
    _wait(browser, "return window.ntkvizPlayers.length == 2 && window.ntkvizPlayers[1].loaded")
    browser.execute_script("window.ntkvizPlayers[1].seek(3)")
    assert browser.execute_script("return window.ntkvizPlayers.map(p => p.frame)") == [0, 3]
    data, _ = anim._html  # the encoded pictures, composited in Python
    expected = list(player.decode_frames(data))[3]
    np.testing.assert_array_equal(_canvas_pixels(browser, 1), expected)
    assert np.abs(expected.astype(int) - anim.frame(3)[..., :3]).mean() < 2.0
    assert _errors(browser) == []


def test_gallery_index_shows_players(browser, tmp_path, cli):
    from selenium.webdriver.common.by import By

    result = cli(
        "gallery",
        "--out",
        tmp_path,
        "--quick",
        "--only",
        "toy-model,kernel-change",
        "-j",
        "1",
        "-q",
    )
    assert result.exit_code == 0, result.output
    index = (tmp_path / "index.html").read_text()
    assert 'src="toy-model.html#embed"' in index and "kernel-change.png" in index
    assert (tmp_path / "toy-model.html").stat().st_size < 5e6
    from ntkviz import gallery

    # the player decodes and agrees with its sidecar (layout findings are another matter)
    assert [p for p in gallery.validate(tmp_path) if ": layout: " not in p] == []
    _open(browser, tmp_path / "index.html")
    frame = browser.find_element(By.CSS_SELECTOR, "iframe")
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    browser.switch_to.frame(frame)
    try:
        _wait(browser, "return window.ntkvizPlayers && window.ntkvizPlayers[0].loaded")
        # in view it plays by itself (tests/gallery/test_gallery_page.py); paused, it stays
        browser.execute_script("window.ntkvizPlayers[0].pause(); window.ntkvizPlayers[0].seek(3)")
        time.sleep(0.3)
        assert _state(browser)["frame"] == 3
        hidden = browser.execute_script(
            "return getComputedStyle(document.querySelector('.np-caption')).display"
        )
        assert hidden == "none"  # the index shows the caption itself
    finally:
        browser.switch_to.default_content()
    _wait(browser, "return parseFloat(document.querySelector('iframe').style.height) > 100")
    browser.save_screenshot(str(tmp_path / "index.png"))
    assert _errors(browser) == []


def test_a_replaced_source_does_not_share_the_encoding():
    """dataclasses.replace (the frames folder's source has fewer frames) starts a fresh cache:
    a GIF of the shorter source has its own frame count."""
    import dataclasses

    frames = [np.full((8, 8, 3), 20 * i, np.uint8) for i in range(6)]
    source = FrameSource(6, lambda i: frames[i])
    full = gif.encode_gif_frames(source, False, lambda n=1: None)
    short = dataclasses.replace(source, count=4)
    assert short.encoded == {} and len(full.blocks) == 6
    assert len(gif.encode_gif_frames(short, False, lambda n=1: None).blocks) == 4
