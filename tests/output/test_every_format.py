"""Every documented output (README's table: -o .gif .mp4 .webp .html .png .pdf .svg, --data .npz,
--frames-dir) written by the real command at its defaults (the end hold included), then decoded
independently: the right number of pictures, their durations and their size."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import gif_frames, mp4_info
from PIL import Image

from ntkviz.api import configure
from ntkviz.figures import get
from ntkviz.figures.base import defaults
from ntkviz.output import formats
from ntkviz.output.player import decode_frames, read_html

FIGURE = "toy-model"
#: toy-model --quick: its result frames, and its pixels (the --quick style, defaults otherwise)
FRAMES = configure(FIGURE, quick=True).frames
STYLE = defaults(get(FIGURE), True)[1]
WIDTH, HEIGHT = STYLE.pixels
HOLD_S = 2.0  # --hold's default: the last frame stays up this long


def run(cli, tmp_path, *args):
    result = cli(FIGURE, "--quick", "--no-progress", *args)
    assert result.exit_code == 0, result.output
    return result


def webp_pictures(path):
    """(RGB pictures, their durations in ms) of an animated WebP, by Pillow."""
    with Image.open(path) as im:
        pictures, durations = [], []
        for k in range(im.n_frames):
            im.seek(k)
            im.load()
            durations.append(im.info["duration"])
            pictures.append(np.asarray(im.convert("RGB")))
    return pictures, durations


def test_the_documented_suffixes_are_the_registry():
    assert formats.FORMATS == (".gif", ".mp4", ".webp", ".html", ".png", ".pdf", ".svg")
    assert formats.suffixes("data") == (".npz",)


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".html"])
def test_merging_animations_at_defaults(cli, tmp_path, suffix):
    """The held end is one picture shown HOLD_S longer: FRAMES pictures, lasting
    FRAMES / fps + HOLD_S seconds in all."""
    out = tmp_path / f"toy{suffix}"
    run(cli, tmp_path, "-o", out)
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    fps = sidecar["fps"]
    # distinct frames drawn; the hold recorded apart, in frames and seconds
    assert sidecar["frames"] == FRAMES
    assert sidecar["hold_frames"] == round(HOLD_S * fps) and sidecar["hold_s"] == HOLD_S
    if suffix == ".gif":
        pictures, durations, _ = gif_frames(out)
    elif suffix == ".webp":
        pictures, durations = webp_pictures(out)
    else:
        data = read_html(out)
        pictures = list(decode_frames(data))
        durations = [p["ms"] for p in data["frames"]]
    assert len(pictures) == FRAMES
    assert all(p.shape == (HEIGHT, WIDTH, 3) for p in pictures)
    assert sum(durations) == pytest.approx(1000 * (FRAMES / fps + HOLD_S), abs=10)
    assert durations[-1] == pytest.approx(1000 * (1 / fps + HOLD_S), abs=10)
    assert not any(np.array_equal(a, b) for a, b in zip(pictures, pictures[1:], strict=False))


@pytest.mark.parametrize("hold", ["0", "0.5", "3"])
def test_webp_with_holds(cli, tmp_path, hold):
    out = tmp_path / "toy.webp"
    run(cli, tmp_path, "-o", out, "--hold", hold, "--frames", 6)
    pictures, durations = webp_pictures(out)
    fps = json.loads(out.with_name("toy.webp.json").read_text())["fps"]
    assert len(pictures) == 6
    assert durations[:-1] == [round(1000 / fps)] * 5
    assert durations[-1] == pytest.approx(1000 * (1 / fps + float(hold)), abs=2)


def test_webp_merges_identical_frames_inside_too(tmp_path):
    """A frame that repeats the one before it, anywhere, is that picture shown longer."""
    from ntkviz.output.frames import FrameSource

    colours = [0, 0, 80, 80, 80, 160]
    source = FrameSource(6, lambda i: np.full((20, 30, 3), colours[i], np.uint8))
    info = formats.write_animation(tmp_path / "a.webp", source, fps=10)
    pictures, durations = webp_pictures(tmp_path / "a.webp")
    assert [int(p[0, 0, 0]) for p in pictures] == [0, 80, 160]
    assert durations == [200, 300, 100]
    assert info["frames"] == 6


def test_mp4_at_defaults(cli, tmp_path):
    out = tmp_path / "toy.mp4"
    run(cli, tmp_path, "-o", out)
    fps = json.loads(out.with_name("toy.mp4.json").read_text())["fps"]
    count, size, got_fps, first = mp4_info(out)
    assert count == FRAMES + round(HOLD_S * fps)  # every frame, the held ones too
    assert got_fps == pytest.approx(fps)
    assert size == (WIDTH + WIDTH % 2, HEIGHT + HEIGHT % 2)
    assert first.shape == (size[1], size[0], 3)


def test_png_at_defaults(cli, tmp_path):
    out = tmp_path / "toy.png"
    run(cli, tmp_path, "-o", out)
    with Image.open(out) as im:
        assert getattr(im, "n_frames", 1) == 1
        assert im.size == (WIDTH, HEIGHT)


@pytest.mark.parametrize("suffix", [".pdf", ".svg"])
def test_vector_at_defaults(cli, tmp_path, suffix):
    out = tmp_path / f"toy{suffix}"
    run(cli, tmp_path, "-o", out)
    points = tuple(round(v * 72) for v in STYLE.size)
    data = out.read_bytes()
    if suffix == ".pdf":
        assert data.startswith(b"%PDF-")
        assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
        box = re.search(rb"MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
        assert (round(float(box[1])), round(float(box[2]))) == points
    else:
        import xml.etree.ElementTree as ET

        root = ET.fromstring(data)
        got = (root.get("width"), root.get("height"))
        assert tuple(round(float(v.removesuffix("pt"))) for v in got) == points


def test_data_and_frames_dir_at_defaults(cli, tmp_path):
    """--data: the arrays and the config; --frames-dir: every distinct frame once (the held
    copies are playback, not frames)."""
    out, data, folder = tmp_path / "toy.gif", tmp_path / "toy.npz", tmp_path / "frames"
    run(cli, tmp_path, "-o", out, "--data", data, "--frames-dir", folder)
    with np.load(data) as arrays:
        meta = json.loads(str(arrays["__config__"]))
        assert meta["figure"] == FIGURE and meta["config"]["frames"] == FRAMES
        assert any(arrays[k].shape[:1] == (FRAMES,) for k in arrays.files if k != "__config__")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(FRAMES)]
    pictures = []
    for name in (names[0], names[-1]):
        with Image.open(folder / name) as im:
            assert im.size == (WIDTH, HEIGHT)
            pictures.append(np.asarray(im.convert("RGB")))
    assert not np.array_equal(*pictures)
