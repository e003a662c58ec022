"""Pacing: the measure on made-up frames, the time axis, and every animated figure at --quick."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import ntkviz
from ntkviz.errors import ConfigError
from ntkviz.figures import FIGURES
from ntkviz.figures.common import check_clock
from ntkviz.numerics.dynamics import clock_steps, log_steps
from ntkviz.output.pacing import (
    MAX_SHARE,
    MAX_STATIC_RUN,
    MIN_FRAMES_FOR_SHARE,
    gif_frames,
    held,
    measure,
    pacing_problems,
)


def frames_with(changes: list[int], size: int = 40) -> list[np.ndarray]:
    """Frames where frame i differs from frame i - 1 in ``changes[i - 1]`` pixels (each change
    paints new pixels, so counts add up exactly)."""
    picture = np.zeros((size, size, 4), np.uint8)
    picture[..., 3] = 255
    frames, painted = [picture.copy()], 0
    for n in changes:
        flat = picture.reshape(-1, 4)
        flat[painted : painted + n, :3] = 255
        painted += n
        frames.append(picture.copy())
    return frames


def test_even_change_has_small_shares_and_no_static_run():
    pacing = measure(frames_with([10] * 20))
    assert pacing.frames == 21 and pacing.largest == pytest.approx(1 / 20)
    assert pacing.static_run == 0 and pacing.opening == 1
    assert pacing_problems(frames_with([10] * 20), fps=10) == []


def test_a_flash_then_stillness_is_two_problems():
    # frame 1 holds 80% of the change, then 18 frames change by 1 pixel each
    frames = frames_with([400] + [1] * 18 + [100 - 18])
    pacing = measure(frames)
    assert pacing.largest_at == 1 and pacing.largest == pytest.approx(0.8)
    assert pacing.static_start == 2 and pacing.static_length == 18
    problems = pacing_problems(frames, fps=10)
    assert len(problems) == 2
    assert "frame 1 holds 80% of the visible change" in problems[0]
    assert "18 near-static frames (1.8 s" in problems[1]


def test_the_end_hold_and_an_opening_hold_are_not_static_runs():
    frames = frames_with([0] * 9 + [10] * 20)  # the first frame shown 10 times
    frames += [frames[-1]] * 30  # the end hold
    pacing = measure(frames, hold_frames=30)
    assert pacing.frames == 30 and pacing.opening == 10 and pacing.static_run == 0
    assert pacing_problems(frames, fps=10, hold_frames=30, opening_s=1.0) == []
    # without telling it the hold, the hold is a static run
    assert measure(frames).static_length == 30
    # an opening of 10 frames is 1 s at 10 fps, not 1 s at 20
    assert "first frame is shown 0.5 s" in pacing_problems(frames, 20, 30, opening_s=1.0)[0]


def test_short_animations_may_put_a_large_share_in_one_frame():
    frames = frames_with([50, 10, 10, 10, 1, 1])  # a width a frame, the last ones adding little
    pacing = measure(frames)
    assert pacing.largest > MAX_SHARE and pacing.static_run > MAX_STATIC_RUN
    assert len(frames) < MIN_FRAMES_FOR_SHARE and pacing_problems(frames, fps=2) == []


def test_small_differences_are_not_visible_change():
    frames = frames_with([10] * 12)
    noisy = [f.copy() for f in frames]
    noisy[5][..., :3] = np.clip(noisy[5][..., :3].astype(int) + 5, 0, 255)  # under THRESHOLD
    np.testing.assert_array_equal(measure(noisy).changed, measure(frames).changed)


def test_gif_frames_repeat_each_frame_for_its_delay(tmp_path):
    frames = [f[..., :3] for f in frames_with([100, 100, 100])]
    path = tmp_path / "a.gif"
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=[300, 100, 100, 500])
    expanded = gif_frames(path, fps=10)
    assert len(expanded) == 10 and held(expanded) == 4
    assert measure(expanded, hold_frames=held(expanded)).opening == 3


# -- the time axis ----------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 2, 7, 60, 480, 1000, 8000])
def test_log_steps_are_distinct_increasing_and_end_at_the_last_step(steps):
    for frames in sorted({1, min(steps, 2), min(steps, 5), min(steps, 40), min(steps, 150), steps}):
        out = log_steps(steps, frames)
        assert len(out) == frames + 1 and out[0] == 0 and out[-1] == steps
        assert (np.diff(out) >= 1).all()


def test_log_steps_count_one_by_one_then_grow_by_a_constant_ratio():
    out = log_steps(480, 40)
    assert out[:11].tolist() == list(range(11))  # 1, 2, 3, ...: log spacing would repeat
    ratios = out[20:] / out[19:-1]
    assert ratios.max() - ratios.min() < 0.03  # then evenly spaced in log time


def test_the_linear_clock_keeps_even_spacing_and_its_divisibility_rule():
    np.testing.assert_array_equal(clock_steps("linear", 60, 3), [0, 20, 40, 60])
    np.testing.assert_array_equal(clock_steps("log", 60, 3), log_steps(60, 3))
    check_clock("log", 7, 100)
    with pytest.raises(ConfigError, match="multiple of --frames"):
        check_clock("linear", 7, 100)
    with pytest.raises(ConfigError, match="must not exceed --steps"):
        check_clock("log", 101, 100)


# -- every animated figure, at --quick ------------------------------------------------------

ANIMATED = [name for name, spec in FIGURES.items() if spec.animated]


def paced(name: str, **options):
    animation = ntkviz.render(name, quick=True, **options)
    frames = list(animation.frames())
    return animation, frames, measure(frames, animation.renderer.held)


@pytest.mark.parametrize("name", ANIMATED)
def test_every_animated_figure_spreads_its_motion(name):
    animation, frames, pacing = paced(name)
    if pacing.frames >= MIN_FRAMES_FOR_SHARE:
        assert pacing.largest <= MAX_SHARE, pacing.summary()
        assert pacing.static_run <= MAX_STATIC_RUN, pacing.summary()
    fps, hold = animation.options.fps, animation.renderer.held
    if name == "init-functions":  # step 0, the post's whole first figure, stays up 1 s
        assert pacing.opening / fps >= 1.0
    # the function the gallery check calls agrees
    opening = 1.0 if name == "init-functions" else 0.0
    assert pacing_problems(frames, fps, hold, opening_s=opening) == []


def test_the_posts_linear_clock_fails_where_the_log_clock_passes():
    """The check can fail: posterior on the post's clock turns prior into posterior in one
    frame (the same --quick run on the log clock passes the test above)."""
    animation, frames, pacing = paced("posterior", clock="linear", frames=20)
    assert pacing.largest > MAX_SHARE
    assert pacing_problems(frames, animation.options.fps, animation.renderer.held)


def test_gallery_validate_reports_a_badly_paced_gif(tmp_path):
    from ntkviz.gallery import validate
    from ntkviz.output.formats import write_animation
    from ntkviz.output.frames import FrameSource

    def write(name: str, changes: list[int], figure: str = "posterior", hold: int = 35) -> None:
        frames = frames_with(changes, size=60)
        frames += [frames[-1]] * hold  # the end hold, at 10 fps
        report = write_animation(tmp_path / name, FrameSource(len(frames), frames.__getitem__), 10)
        sidecar = {**report, "figure": figure, "fps": 10, "hold": hold / 10}
        (tmp_path / f"{name}.json").write_text(json.dumps(sidecar))

    write("flash.gif", [2000] + [2] * 15 + [200])
    write("even.gif", [100] * 16)
    problems = validate(tmp_path)
    assert len(problems) == 2 and all(p.startswith("'flash.gif': pacing: ") for p in problems)
    write("init.gif", [100] * 16, figure="init-functions")  # step 0 shown 0.1 s
    assert "'init.gif': pacing: the first frame is shown 0.1 s (at least 1 s)" in validate(tmp_path)


def test_gallery_validate_reports_a_loop_too_short_or_too_long(tmp_path):
    from ntkviz.gallery import validate
    from ntkviz.output.formats import write_animation
    from ntkviz.output.frames import FrameSource

    def write(name: str, count: int) -> None:  # count frames, each changing evenly, at 10 fps
        frames = frames_with([8] * (count - 21), size=60) + [None] * 20
        frames[-20:] = [frames[-21]] * 20  # a 2 s end hold
        report = write_animation(tmp_path / name, FrameSource(count, frames.__getitem__), 10)
        sidecar = {**report, "figure": "ntk-ellipses", "fps": 10, "hold": 2.0}
        (tmp_path / f"{name}.json").write_text(json.dumps(sidecar))

    write("long.gif", 221)  # the post's 200 frames and step 0, then the hold: 22.1 s
    write("short.gif", 45)
    write("fits.gif", 146)  # the gallery's 125 frames: 14.6 s
    assert sorted(validate(tmp_path)) == [
        "'long.gif': pacing: the loop lasts 22.1 s (5-20 s)",
        "'short.gif': pacing: the loop lasts 4.5 s (5-20 s)",
    ]
    sidecar = json.loads((tmp_path / "short.gif.json").read_text())
    (tmp_path / "short.gif.json").write_text(json.dumps({**sidecar, "quick": True}))
    assert validate(tmp_path) == ["'long.gif': pacing: the loop lasts 22.1 s (5-20 s)"]
