"""kappa-scaling: the post's slopes, its widths, the methods agreeing, and the CLI at tiny sizes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import gif_frames

from ntkviz.errors import ConfigError
from ntkviz.figures.common import log_log_fit
from ntkviz.figures.kappa_scaling import (
    MIN_FIT_WIDTHS,
    KappaScalingConfig,
    KappaScalingRenderer,
    simulate,
    width_schedule,
)
from ntkviz.numerics import curvature

SMALL = ["--size", "6x2", "--dpi", "30", "--no-progress"]  # 180 x 60 px frames


def run(generator_seed: int = 0, **changes) -> object:
    config = dataclasses.replace(KappaScalingConfig(), **changes)
    config.check()
    return simulate(config, torch.Generator().manual_seed(generator_seed))


def test_default_widths_are_the_posts():
    post = np.round(10 ** np.linspace(1, 3.6, 10) / 2).astype(int)
    np.testing.assert_array_equal(width_schedule(KappaScalingConfig()), post)
    assert post[0] == 5 and post[-1] == 1991
    explicit = dataclasses.replace(KappaScalingConfig(), widths=(40, 3, 40, 7))
    np.testing.assert_array_equal(width_schedule(explicit), [3, 7, 40])
    # Rounding repeats are dropped: the frame count is the number of distinct widths.
    assert (
        len(
            width_schedule(
                dataclasses.replace(KappaScalingConfig(), min_width=1, max_width=4, widths_count=10)
            )
        )
        == 4
    )


@pytest.mark.parametrize("generator_seed", [0, 1, 2])
def test_slopes_match_theory_over_the_posts_widths(generator_seed):
    # With one initialisation per width the fitted slopes at the post's widths scatter by up to
    # ~0.06 (gradient) and ~0.12 (kappa) over seeds; the median over 5 initialisations stays
    # within ~0.04 of theory (checked over 20 seeds), so the test fits the median.
    result = run(generator_seed, seeds=5)
    grad_slope, hess_slope, kappa_slope, kappa_alpha_slope = result.slopes[-1]
    assert grad_slope == pytest.approx(0.5, abs=0.05)
    assert hess_slope == pytest.approx(0.0, abs=0.1)
    assert kappa_slope == pytest.approx(-1.0, abs=0.1)
    assert kappa_alpha_slope == pytest.approx(kappa_slope)
    np.testing.assert_array_equal(result.theory, [0.5, 0.0, -1.0, -1.0])


def test_result_shapes_fits_and_alpha():
    result = run(3, seeds=4, alpha=8.0, widths_count=6)
    widths = len(result.widths)
    assert widths == 6
    for name in ("grad_norm", "hessian_norm", "kappa", "kappa_alpha"):
        assert getattr(result, name).shape == (4, widths)
    assert result.median.shape == (4, widths)
    assert result.slopes.shape == result.intercepts.shape == (widths, 4)
    # No fit through fewer than MIN_FIT_WIDTHS (4) widths: rows 0-2 are NaN.
    assert np.isnan(result.slopes[:3]).all() and np.isfinite(result.slopes[3:]).all()
    np.testing.assert_allclose(result.kappa, result.hessian_norm / result.grad_norm**2)
    np.testing.assert_allclose(result.kappa_alpha * 8.0, result.kappa, rtol=1e-13)
    np.testing.assert_allclose(result.median[2], np.median(result.kappa, axis=0))
    slope, intercept = log_log_fit(result.widths, result.median[0])
    assert result.slopes[-1, 0] == pytest.approx(slope) and result.intercepts[
        -1, 0
    ] == pytest.approx(intercept)
    # Frame k fits the first k + 1 widths.
    assert result.slopes[3, 1] == pytest.approx(
        log_log_fit(result.widths[:4], result.median[1, :4])[0]
    )


def test_each_initialisation_is_its_own_stream():
    one = run(5, seeds=1, widths=(4, 30, 200))
    three = run(5, seeds=3, widths=(30, 200, 1000))
    # Member 0 at width 30 and 200 is the same net whatever the seed count and the other widths.
    np.testing.assert_array_equal(three.grad_norm[0, :2], one.grad_norm[0, 1:])
    assert one.x == three.x
    assert not np.allclose(three.grad_norm[0], three.grad_norm[1])


def test_methods_agree_and_x_is_used():
    exact = run(2, widths=(3, 10, 25), x=0.7, seeds=2)
    assert exact.x == 0.7
    for method in ("hvp", "dense"):
        other = run(2, widths=(3, 10, 25), x=0.7, seeds=2, method=method)
        np.testing.assert_array_equal(other.grad_norm, exact.grad_norm)
        np.testing.assert_allclose(other.hessian_norm, exact.hessian_norm, rtol=1e-6)


def test_renderer_final_frame_is_the_key_frame():
    config = dataclasses.replace(
        KappaScalingConfig(), widths=(5, 50, 500), seeds=3, show_alpha=True
    )
    result = simulate(config, torch.Generator().manual_seed(0))
    from ntkviz.drawing.canvas import Style

    style = dataclasses.replace(Style(size=(18.0, 6.0)).resized((6.0, 2.0)), dpi=30)
    renderer = KappaScalingRenderer(result, config, style)
    assert len(renderer) == 3 and renderer.key_frame == 2
    frames = [renderer.frame(i) for i in range(3)]
    assert frames[0].shape == (60, 180, 4)  # RGBA
    assert not np.array_equal(frames[0], frames[2])
    # Blitting draws the same picture as a full redraw, up to a few edge pixels; the cached
    # overlays (legends) are composited, which may round a covered pixel by 1-2 levels of 255.
    full = type("Unblitted", (KappaScalingRenderer,), {"blit": False})(result, config, style)
    full.frame(0)  # the layout freezes at the first frame drawn, as in the blitted renderer
    difference = np.abs(full.frame(2).astype(int) - frames[2].astype(int)).max(axis=-1)
    assert np.mean(difference > 2) < 0.005


@pytest.mark.parametrize(
    "changes,message",
    [
        (
            {"min_width": 50.0, "max_width": 10.0},
            "--min-width (50) must not exceed --max-width (10)",
        ),
        ({"method": "dense", "max_width": 1e5}, "--method dense at width 100000 needs about"),
        ({"x": 0.0}, "--x must not be 0"),
    ],
)
def test_config_check(changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dataclasses.replace(KappaScalingConfig(), **changes).check()


def test_cli_gif_and_still(cli, tmp_path):
    out, still = tmp_path / "x.gif", tmp_path / "x.png"
    result = cli(
        "kappa-scaling",
        "-o",
        out,
        "--still",
        still,
        "--max-width",
        50,
        "--widths-count",
        4,
        "--seeds",
        2,
        "--show-alpha",
        "--hold",
        0,
        *SMALL,
    )
    assert result.exit_code == 0, result.output
    frames, durations, _ = gif_frames(out)
    assert len(frames) == 4 and frames[0].shape == (60, 180, 3)
    assert durations == [500] * 4  # 2 frames a second: one width each
    from PIL import Image

    with Image.open(still) as image:
        assert image.size == (180, 60)
        png = np.asarray(image.convert("RGB")).astype(int)
    # The still is the last frame (the GIF's is palette-quantised, so only nearly equal).
    assert np.abs(png - frames[-1]).mean() < 2 < np.abs(png - frames[0]).mean()
    sidecar = json.loads((tmp_path / "x.gif.json").read_text())
    assert sidecar["figure"] == "kappa-scaling"
    assert sidecar["config"]["max_width"] == 50 and sidecar["config"]["x"] is None


def test_cli_same_seed_same_bytes(cli, tmp_path):
    args = ("--widths", "5,20,80", *SMALL, "--seed", 4)
    for name in ("a.gif", "b.gif"):
        assert cli("kappa-scaling", "-o", tmp_path / name, *args).exit_code == 0
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()


def test_dense_message_names_the_estimate(cli, tmp_path):
    result = cli(
        "kappa-scaling",
        "-o",
        tmp_path / "x.gif",
        "--method",
        "dense",
        "--max-width",
        "20000",
        *SMALL,
    )
    estimate = curvature.format_bytes(curvature.dense_bytes(40_000))
    assert estimate in result.stderr and "limit of" in result.stderr


def test_bench_rows_at_a_tiny_budget():
    from bench import bench_kappa
    from bench.common import check_row

    rows = bench_kappa.run(repeat=1, budget_s=0.05, exact_cap=2**14, dense_start=4, isolate=False)
    for row in rows:
        check_row(row)
    reach = rows[0]
    assert (
        reach["ratio"] > 1 and "dense m=" in reach["extra"] and "exact m=16,384" in reach["extra"]
    )


def test_frames_show_their_widths_and_fits_only_over_the_fitted_range():
    config = dataclasses.replace(KappaScalingConfig(), widths_count=6, seeds=3)
    r = simulate(config, torch.Generator().manual_seed(4))
    from ntkviz.drawing.canvas import Style

    renderer = KappaScalingRenderer(r, config, Style(size=(9.0, 3.0), dpi=30))
    assert renderer.order[0] == 0 and renderer.key_frame == len(renderer) - 1
    for i in range(len(renderer)):
        renderer.frame(i)
        for quantity, points, fit, _poly, index, legend in renderer.series:
            x, y = points.get_data()
            np.testing.assert_array_equal(x, r.widths[: i + 1])
            # by hand: the median over the seeds of each width's measured quantity
            samples = [r.grad_norm, r.hessian_norm, r.kappa, r.kappa_alpha][quantity]
            np.testing.assert_allclose(y, np.median(samples[:, : i + 1], axis=0))
            fx, fy = fit.get_data()
            text = legend.get_texts()[index].get_text()
            visible = legend.get_texts()[index].get_visible()
            assert visible == legend.legend_handles[index].get_visible()
            if i + 1 < MIN_FIT_WIDTHS:  # no fit yet: no line, and no legend entry for one
                assert len(fx) == 0 and not visible and "fit" not in text
                continue
            assert visible
            np.testing.assert_array_equal(fx, r.widths[[0, i]])  # only over the fitted widths
            slope, intercept = np.polyfit(
                np.log10(r.widths[: i + 1]), np.log10(np.median(samples[:, : i + 1], axis=0)), 1
            )
            np.testing.assert_allclose(np.log10(fy), intercept + slope * np.log10(fx), rtol=1e-9)
            assert f"slope {slope:+.2f}" in text


def test_caption_slopes_recomputed_from_the_result():
    from ntkviz.figures import get
    from ntkviz.figures.base import caption

    r = run(6, seeds=1)
    filled = caption(get("kappa-scaling"), r, KappaScalingConfig())
    logm = np.log10(r.widths)
    grad = np.polyfit(logm, np.log10(r.grad_norm[0]), 1)[0]
    hess = np.polyfit(logm, np.log10(r.hessian_norm[0]), 1)[0]
    kappa = np.polyfit(logm, np.log10(r.hessian_norm[0] / r.grad_norm[0] ** 2), 1)[0]
    assert f"grows with slope {grad:+.2f}" in filled["caption"]
    assert f"has slope {hess:+.2f}" in filled["caption"]
    assert f"falls with slope {kappa:+.2f}" in filled["caption"]
    assert f"Over all {len(r.widths)} widths" in filled["caption"]
    assert f"kappa {kappa:+.2f} (theory -1)" in filled["reading"]
    assert f"gradient norm {grad:+.2f} (theory +0.5)" in filled["reading"]


def test_the_fitted_slopes_appear_on_the_picture_once_fitted():
    """The legend's fit entries are drawn anew as the slopes come in: its pixels change from the
    last frame without a fit to the first with one, and again as the slope changes."""
    config = dataclasses.replace(KappaScalingConfig(), widths_count=6, seeds=2)
    r = simulate(config, torch.Generator().manual_seed(4))
    from ntkviz.drawing.canvas import Style

    renderer = KappaScalingRenderer(r, config, Style(size=(9.0, 3.0), dpi=60))
    pictures = [renderer.frame(i) for i in range(len(renderer))]
    legend = renderer.series[0][5]
    box = legend.get_window_extent(renderer.figure.canvas.get_renderer())
    height = pictures[0].shape[0]
    rows = slice(int(height - box.y1), int(height - box.y0))
    cols = slice(int(box.x0), int(box.x1))
    first = MIN_FIT_WIDTHS - 1  # the first frame with a fit
    crops = [p[rows, cols] for p in pictures]
    assert not np.array_equal(crops[first - 1], crops[first])
    assert not np.array_equal(crops[first], crops[-1])
