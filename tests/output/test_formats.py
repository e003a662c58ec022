"""The formats: each decodes back independently to what was asked; failures lose nothing; the
registry is the one list of formats."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import gif_frames, mp4_info, temp_leftovers
from PIL import Image

from ntkviz.errors import ConfigError
from ntkviz.output import formats
from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource, frame_durations_ms


def moving_square(count: int, height: int = 60, width: int = 80) -> FrameSource:
    """Distinct frames: a red square moving on white, with a blue bar growing."""

    def frame(i: int) -> np.ndarray:
        img = np.full((height, width, 3), 255, np.uint8)
        x = 2 + 3 * i
        img[10:20, x : x + 10] = (220, 30, 30)
        img[-6:, : (i + 1) * width // count] = (30, 60, 200)
        return img

    return FrameSource(count=count, frame=frame, key_frame=count - 1)


def test_gif_frames_size_loop_duration_and_palette(tmp_path):
    out = tmp_path / "a.gif"
    info = write_animation(out, moving_square(7), fps=20)
    frames, durations, meta = gif_frames(out)
    assert len(frames) == 7 == info["frames"]
    assert frames[0].shape == (60, 80, 3)
    assert (info["width"], info["height"]) == (80, 60)
    assert meta["loop"] == 0  # loops forever
    assert durations == [50] * 7  # 1/20 s stored per frame
    # colours are exact and identical across frames (one shared palette, no flicker)
    source = moving_square(7)
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, source.frame(i))


def test_gif_duration_tracks_fps_without_drift(tmp_path):
    out = tmp_path / "b.gif"
    write_animation(out, moving_square(9), fps=30)
    _, durations, _ = gif_frames(out)
    assert set(durations) <= {30, 40}
    assert sum(durations) == pytest.approx(9 * 1000 / 30, abs=10)
    assert frame_durations_ms(3, 30, 10) == [30, 40, 30]


def test_gif_dither_option_changes_nothing_for_exact_colours(tmp_path):
    out = tmp_path / "d.gif"
    write_animation(out, moving_square(4), fps=10, dither=True)
    frames, _, _ = gif_frames(out)
    assert len(frames) == 4


def test_gif_refuses_fps_browsers_cannot_play(tmp_path):
    with pytest.raises(ConfigError, match="--fps <= 50"):
        write_animation(tmp_path / "c.gif", moving_square(3), fps=60)
    assert list(tmp_path.iterdir()) == []


def test_mp4_awkward_size_padded_not_stretched(tmp_path):
    out = tmp_path / "odd.mp4"
    source = moving_square(6, height=99, width=201)
    info = write_animation(out, source, fps=12)
    count, size, fps, first = mp4_info(out)
    assert count == 6
    assert size == (202, 100) == (info["width"], info["height"])
    assert fps == pytest.approx(12)
    # padding, not scaling: the red square stays where it was (rows 10-19, cols 2-11)
    assert first[14, 6, 0] > 150 and first[14, 6, 2] < 100
    assert first[14, 20].min() > 200


def test_webp_animated(tmp_path):
    out = tmp_path / "a.webp"
    write_animation(out, moving_square(5), fps=10)
    with Image.open(out) as im:
        assert im.n_frames == 5
        assert im.size == (80, 60)
        assert im.info.get("loop", 0) == 0
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            im.load()
            durations.append(im.info["duration"])
            # lossless: every frame decodes to exactly what was drawn
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), moving_square(5).frame(k))
    assert durations == [100] * 5


def test_png_writes_key_frame(tmp_path):
    out = tmp_path / "still.png"
    source = moving_square(5)
    write_animation(out, source, fps=10)
    with Image.open(out) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), source.frame(4))


def test_still_beside_a_gif_is_its_key_frame_as_the_gif_shows_it(tmp_path):
    """Issue 21: a still beside a GIF (or player) of the same run is written in the GIF's
    palette: the very pixels the GIF shows at its key frame, at ~0.4 of a full-colour PNG's
    bytes. A still written alone keeps every colour of the frame."""
    ramp = np.linspace(0, 255, 400).astype(np.uint8)  # 400 greys and more: not one palette

    def frame(i: int) -> np.ndarray:
        img = np.zeros((60, 400, 3), np.uint8)
        img[:, :, 0] = ramp
        img[:, :, 1] = ramp[::-1]
        img[20:30, 10 * i : 10 * i + 20] = (0, 0, 255)
        return img

    source = FrameSource(count=4, frame=frame, key_frame=2)
    run = formats.Frames(source, 10)
    formats.lookup(tmp_path / "a.gif").write(tmp_path / "a.gif", run)
    formats.lookup(tmp_path / "a.png", "still").write_still(tmp_path / "a.png", run)
    frames, _, _ = gif_frames(tmp_path / "a.gif")
    with Image.open(tmp_path / "a.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), frames[2])
    assert not np.array_equal(frames[2], frame(2))  # the palette did change it
    alone = FrameSource(count=4, frame=frame, key_frame=2)
    formats.lookup(tmp_path / "b.png", "still").write_still(
        tmp_path / "b.png", formats.Frames(alone, 10)
    )
    with Image.open(tmp_path / "b.png") as im:
        assert im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), frame(2))


def test_unknown_suffix(tmp_path):
    with pytest.raises(ConfigError, match="unknown output format '.avi'"):
        write_animation(tmp_path / "x.avi", moving_square(2), fps=10)


@pytest.mark.parametrize("suffix", [".gif", ".mp4", ".webp", ".png"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_mid_write_keeps_old_file(tmp_path, suffix, error):
    out = tmp_path / f"keep{suffix}"
    out.write_bytes(b"precious bytes")
    good = moving_square(6)

    def failing(i: int) -> np.ndarray:
        if i == 3 or suffix == ".png":
            raise error("injected")
        return good.frame(i)

    with pytest.raises(error):
        write_animation(out, FrameSource(6, failing), fps=10)
    assert out.read_bytes() == b"precious bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def held_and_moving(count: int) -> FrameSource:
    """A held opening (frames 0-4 identical), then a moving square; long enough to be split."""
    moving = moving_square(count, width=160)
    return FrameSource(count, lambda i: moving.frame(max(i - 4, 0)), key_frame=0)


def test_gif_is_the_same_file_for_any_number_of_processes(tmp_path):
    source = held_and_moving(40)
    outputs = []
    for jobs in (1, 2, 3):
        out = tmp_path / f"j{jobs}.gif"
        write_animation(out, source, fps=10, jobs=jobs)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    frames, durations, meta = gif_frames(tmp_path / "j2.gif")
    # the 5 held frames are one frame shown 5 times as long; every picture is exact
    assert len(frames) == 36 and durations[0] == 500 and set(durations[1:]) == {100}
    assert meta.get("loop") == 0
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, source.frame(k + 4 if k else 0))


def test_gif_decodes_with_ffmpeg_too(tmp_path):
    """An independent decoder (ffmpeg) reads the hand-assembled file: frames and size."""
    import imageio_ffmpeg

    out = tmp_path / "f.gif"
    write_animation(out, held_and_moving(20), fps=10, jobs=2)
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = [np.frombuffer(raw, np.uint8).reshape(60, 160, 3) for raw in reader]
    assert tuple(meta["size"]) == (160, 60)
    # ffmpeg shows the file at a constant rate: the held first frame becomes 5 of them
    assert len(frames) == 20
    np.testing.assert_array_equal(frames[-1], held_and_moving(20).frame(19))


def test_error_in_a_frame_worker_reaches_the_caller_and_nothing_is_written(tmp_path):
    moving = moving_square(40)

    def frame(i: int) -> np.ndarray:
        if i == 35:  # in the second process's half
            raise ConfigError("frame 35 cannot be drawn")
        return moving.frame(i)

    out = tmp_path / "e.gif"
    with pytest.raises(ConfigError, match="frame 35 cannot be drawn"):
        write_animation(out, FrameSource(40, frame), fps=10, jobs=2)
    assert not out.exists() and temp_leftovers(tmp_path) == []


def test_run_ranges_keeps_order_and_counts_progress():
    from ntkviz.runtime.parallel import run_ranges, split

    assert split(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert split(2, 4) == [(0, 1), (1, 2)]
    done = []

    def task(start, stop, report):
        out = []
        for i in range(start, stop):
            out.append((i, os.getpid()))
            report(1)
        return out

    results = run_ranges(30, task, jobs=3, advance=done.append, min_per_job=5)
    assert [i for i, _ in results] == list(range(30)) and sum(done) == 30
    assert len({pid for _, pid in results}) == 3  # three processes did the work


def test_gif_hold_longer_than_one_delay_can_store(tmp_path):
    """A picture held for 700 s (past GIF's 655.35 s delay field) keeps its full length."""
    still = moving_square(1).frame(0)
    out = tmp_path / "long.gif"
    write_animation(out, FrameSource(1401, lambda i: still), fps=2, jobs=1)
    frames, durations, _ = gif_frames(out)
    assert sum(durations) == 700_500 and len(frames) == 2
    np.testing.assert_array_equal(frames[1], still)


def mathtext_frames(count: int) -> FrameSource:
    """Frames of changing mathtext drawn by matplotlib, whose glyphs FreeType reads from the
    font file as it draws them."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 1), dpi=60)
    canvas = FigureCanvasAgg(figure)
    text = figure.text(0.05, 0.3, " ", fontsize=14)
    figure.text(0.05, 0.7, r"$\alpha_{k} + \beta^{2}$", fontsize=14)  # parsed before the fork

    def frame(i: int) -> np.ndarray:
        text.set_text(rf"$\sum_{{k={i}}}^{{n}} \alpha_k \, x^{{{i}}} + \gamma_{{{i % 7}}}$")
        canvas.draw()
        return np.array(canvas.buffer_rgba())

    for i in range(count):  # parse every expression once here, as a renderer's first pass does
        frame(i)
    return FrameSource(count, frame)


def test_workers_draw_text_with_their_own_font_files(tmp_path):
    """A forked worker drawing text must not share the parent's open font files (their offsets
    race: FreeType errors or wrong glyphs); the file equals the one-process file, every time."""
    source = mathtext_frames(40)
    write_animation(tmp_path / "one.gif", source, fps=10, jobs=1)
    for attempt in range(3):
        out = tmp_path / f"two{attempt}.gif"
        write_animation(out, source, fps=10, jobs=2)
        assert out.read_bytes() == (tmp_path / "one.gif").read_bytes()


# -- the registry ---------------------------------------------------------------------------------


def test_every_list_of_formats_comes_from_the_registry():
    assert formats.FORMATS == (".gif", ".mp4", ".webp", ".html", ".png", ".pdf", ".svg")
    assert formats.ANIMATION_FORMATS == (".gif", ".mp4", ".webp", ".html")
    assert formats.STILL_FORMATS == (".png", ".pdf", ".svg")
    assert formats.suffixes("data") == (".npz",)
    named = [s for f in formats.REGISTRY for s in f.suffixes]
    assert len(named) == len(set(named))  # each suffix has one format
    for suffix in named:
        assert suffix in formats.find(suffix.upper()).suffixes


def test_lookup_by_role_names_what_may_be_used(tmp_path):
    assert isinstance(formats.lookup(tmp_path / "a.NPZ", "data"), formats.Npz)
    assert isinstance(formats.lookup(tmp_path / "a.svg", "still"), formats.Vector)
    with pytest.raises(
        ConfigError, match=r"use \.gif, \.mp4, \.webp, \.html, \.png, \.pdf or \.svg"
    ):
        formats.lookup(tmp_path / "a.npz")
    with pytest.raises(ConfigError, match=r"--still must name a \.png, \.pdf or \.svg file"):
        formats.lookup(tmp_path / "a.gif", "still")
    with pytest.raises(ConfigError, match=r"--data must name a \.npz file"):
        formats.lookup(tmp_path / "a.png", "data")


def test_a_new_format_is_one_registered_class(tmp_path, monkeypatch):
    """Registering a class is all it takes: the lists, the checks and the writer follow."""
    monkeypatch.setattr(formats, "REGISTRY", list(formats.REGISTRY))

    @formats.register
    class Raw(formats.Raster):
        suffixes = (".raw",)
        animated = True

        def check(self, fps):
            super().check(fps)
            if fps > 5:
                raise ConfigError("too fast for .raw")

        def encode(self, tmp, run, advance, target):
            frames = [run.source.frame(i) for i in range(run.source.count)]
            tmp.write_bytes(np.stack(frames).tobytes())
            advance(len(frames))
            return frames[0].shape[0], frames[0].shape[1], len(frames)

        def probe(self, path):
            return path.stat().st_size // (60 * 80 * 3), 80, 60

    assert ".raw" in formats.suffixes("output", animated=True)
    with pytest.raises(ConfigError, match="too fast for .raw"):
        formats.check_fps(10, ".raw")
    info = write_animation(tmp_path / "a.raw", moving_square(3), fps=5)
    assert info == {"format": "raw", "frames": 3, "width": 80, "height": 60, "bytes": 3 * 14400}
    assert (tmp_path / "a.raw").stat().st_size == 3 * 14400
