"""ntk-convergence: the spread of the kernel across nets against its theoretical 1/sqrt(width),
the nets' median against the exact infinite-width kernel, the standard parameterisation's limit,
and the CLI at tiny sizes with every bad input."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from conftest import gif_frames

from ntkviz.drawing.style import Style
from ntkviz.errors import ConfigError
from ntkviz.figures.base import caption
from ntkviz.figures.ntk_convergence import (
    DEFAULT_WIDTHS,
    SPEC,
    NtkConvergenceConfig,
    NtkConvergenceRenderer,
    simulate,
    standard_limit,
    width_seed,
)
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_analytic import infinite_ntk
from ntkviz.numerics.ntk_empirical import ntk_layerwise
from ntkviz.numerics.ntk_sampler import sampled, sampled_ntk

# The default widths, 10 ... 10^4 (the wide hidden layers drawn through their products,
# ntkviz.numerics.ntk_sampler: a second or two a run). Measured slopes for run seeds 0-19:
# -0.43 to -0.57, mean -0.51 (seeds 0, 1, 2: -0.57, -0.54, -0.43).
WIDTHS = DEFAULT_WIDTHS


@pytest.fixture(scope="module")
def runs():
    config = NtkConvergenceConfig(widths=WIDTHS)
    return [simulate(config, torch.Generator().manual_seed(seed)) for seed in (0, 1, 2)]


def test_spread_falls_like_one_over_sqrt_width(runs):
    for result in runs:
        assert result.slope == pytest.approx(-0.5, abs=0.15), result.spread
        assert result.spread[-1] < result.spread[0] / 8
        assert math.isnan(result.running_slopes[0])
        assert np.isfinite(result.running_slopes[1:]).all()


def test_the_slope_is_the_fit_over_all_widths_and_running_slopes_over_the_first_k(runs):
    # Names that say what they hold (issue 24): ``running_slopes[k]`` fits the first k + 1
    # widths only (what frame k draws); ``slope`` fits them all, recomputed here with polyfit.
    for result in runs:
        logw, logs = np.log10(result.widths), np.log10(result.spread)
        slope, intercept = np.polyfit(logw, logs, 1)
        assert result.slope == pytest.approx(slope, abs=1e-9)
        assert result.intercept == pytest.approx(intercept, abs=1e-9)
        for k in range(1, len(result.widths)):
            running = np.polyfit(logw[: k + 1], logs[: k + 1], 1)[0]
            assert result.running_slopes[k] == pytest.approx(running, abs=1e-9)
        assert result.running_slopes[2] != pytest.approx(result.slope, abs=1e-3)


def test_median_of_the_widest_nets_is_the_infinite_width_kernel(runs):
    for result in runs:
        width = result.widths[-1]
        deviation = np.abs(result.median[-1] - result.analytic).max() / result.scale
        # a median of 8 nets, each off by about 1/sqrt(width) of the scale
        assert deviation < 3.0 / math.sqrt(width), deviation  # measured, seeds 0-5: <= 1.5
        assert result.error[-1] < result.error[0] / 5
        assert (result.low[-1] <= result.median[-1]).all()
        assert (result.median[-1] <= result.high[-1]).all()


def test_result_is_the_layerwise_kernel_of_each_widths_nets():
    config = NtkConvergenceConfig(
        widths=(7, 20),
        seeds=3,
        points=9,
        depth=3,
        activation="erf",
        bias=False,
        sigma_w=1.4,
        x0=-0.8,
        x_limits=(-2.0, 1.0),
    )
    result = simulate(config, torch.Generator().manual_seed(5))
    assert result.kernels.shape == (2, 3, 9) and result.median.shape == (2, 9)
    assert result.spread.shape == result.error.shape == result.running_slopes.shape == (2,)
    np.testing.assert_allclose(result.x, np.linspace(-2.0, 1.0, 9))
    for j, width in enumerate((7, 20)):
        nets = Ensemble(config.net(width), 3, width_seed(5, width), dtype=torch.float64)
        expected = ntk_layerwise(
            nets, torch.tensor([-0.8], dtype=torch.float64), torch.tensor(result.x)
        )[:, 0, :].numpy()
        np.testing.assert_allclose(result.kernels[j], expected, rtol=1e-4, atol=1e-5)  # float32
    exact = infinite_ntk(
        np.array([-0.8]), result.x, depth=3, activation="erf", bias=False, sigma_w=1.4
    )[0]
    np.testing.assert_allclose(result.analytic, exact, rtol=1e-12)
    assert result.scale == pytest.approx(np.abs(exact).mean())
    spread = result.kernels.std(axis=1, ddof=1).mean(axis=1) / result.scale
    np.testing.assert_allclose(result.spread, spread)
    np.testing.assert_allclose(result.median, np.median(result.kernels, axis=1))
    # the nets of one width do not depend on the other widths drawn
    alone = simulate(dataclasses.replace(config, widths=(20,)), torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(alone.kernels[0], result.kernels[1])


def test_wide_nets_kernels_are_the_sampled_kernels_of_their_draws():
    """At a width whose hidden layers are sampled, the figure's kernels are
    :func:`sampled_ntk`'s for that width's seed (in float64, to float32's rounding), and a
    narrow width's are still its Ensemble nets' (the test above)."""
    config = NtkConvergenceConfig(widths=(10, 400), seeds=3, points=9, depth=3, x0=-0.8)
    assert sampled(config.net(400), 10) == [False, True, True, False]
    assert not any(sampled(config.net(10), 10))
    result = simulate(config, torch.Generator().manual_seed(5))
    x0 = torch.tensor([-0.8], dtype=torch.float64)
    expected = sampled_ntk(
        config.net(400), 3, width_seed(5, 400), x0, torch.tensor(result.x), torch.float64
    )[:, 0, :].numpy()
    np.testing.assert_allclose(result.kernels[1], expected, rtol=1e-4, atol=1e-5)


def test_standard_mode_shows_theta_over_width():
    config = NtkConvergenceConfig(widths=(30,), seeds=2, points=5, parameterization="standard")
    result = simulate(config, torch.Generator().manual_seed(1))
    nets = Ensemble(config.net(30), 2, width_seed(1, 30), dtype=torch.float64)
    expected = (
        ntk_layerwise(nets, torch.tensor([0.5], dtype=torch.float64), torch.tensor(result.x))[
            :, 0, :
        ].numpy()
        / 30
    )
    np.testing.assert_allclose(result.kernels[0], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        result.analytic, standard_limit(np.array([0.5]), result.x, depth=2, activation="relu")[0]
    )


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_standard_limit_against_wide_standard_nets(activation):
    """Standard nets W_std = sigma_w W / sqrt(fan_in), b_std = sigma_b b made from NTK-parameterised
    ones compute the same function; their Theta / width tends to standard_limit (tolerance as in
    test_infinite_mc: 8 / sqrt(width * nets))."""
    width, count, sigmas = 4096, 4, dict(sigma_w=1.3, sigma_b=0.6)
    ntk = Ensemble(
        NetSpec(width=width, depth=2, activation=activation, parameterization="ntk", **sigmas),
        count,
        seed=3,
        keep_initial=False,
    )
    standard = copy.copy(ntk)
    standard.spec = dataclasses.replace(ntk.spec, parameterization="standard")
    scales = [m for pair in ntk.spec.layer_scales() for m in pair]
    standard.params = [m * p for m, p in zip(scales, ntk.params, strict=True)]
    x = np.array([-2.0, -0.5, 0.3, 1.0, 2.5])
    inputs = torch.tensor(x, dtype=torch.float32)
    torch.testing.assert_close(standard(inputs), ntk(inputs), rtol=1e-4, atol=1e-4)
    kernels = ntk_layerwise(standard, inputs).double().numpy() / width
    exact = standard_limit(x, x, depth=2, activation=activation, **sigmas)
    error = np.abs(kernels.mean(axis=0) - exact).max() / np.abs(exact).max()
    assert error < 8.0 / math.sqrt(width * count), error


def test_memory_is_refused_before_computing():
    config = NtkConvergenceConfig(widths=(10, 10**6), seeds=100)
    with pytest.raises(
        ConfigError,
        match=r"--widths: 100 nets of width 1000000 and depth 2 need "
        r"about [\d.]+ GiB on cpu; the limit is",
    ):
        simulate(config)


def test_cli_tiny(cli, tmp_path):
    out = tmp_path / "conv.gif"
    result = cli(
        "ntk-convergence",
        "-o",
        out,
        "--widths",
        "10,40",
        "--seeds",
        3,
        "--points",
        20,
        "--size",
        "6x3",
        "--dpi",
        30,
        "--no-progress",
        "--no-layout-check",  # 6x3 inches of an 18x7.5 figure: its small type is warned about
        "--still",
        tmp_path / "still.png",
        "--data",
        tmp_path / "numbers.npz",
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    frames, _, _ = gif_frames(out)
    assert len(frames) == 2 and frames[0].shape == (90, 180, 3)
    assert not np.array_equal(frames[0], frames[1])
    assert (tmp_path / "still.png").stat().st_size > 0
    data = np.load(tmp_path / "numbers.npz")
    assert data["kernels"].shape == (2, 3, 20) and data["spread"].shape == (2,)
    sidecar = json.loads((tmp_path / "conv.gif.json").read_text())
    assert sidecar["config"]["widths"] == [10, 40] and sidecar["config"]["seeds"] == 3
    assert sidecar["config"]["parameterization"] == "ntk"


@pytest.fixture(scope="module")
def small_run():
    config = NtkConvergenceConfig(widths=(10, 40, 160, 640), seeds=4, points=21)
    return simulate(config, torch.Generator().manual_seed(0)), config


def test_frame_i_draws_the_first_i_plus_1_widths(small_run):
    result, config = small_run
    style = Style(size=(9.0, 4.0), dpi=40)
    renderer = NtkConvergenceRenderer(result, config, style)
    assert renderer.count == 4 and renderer.key_frame == 3
    assert renderer.analytic in renderer.overlays and renderer.legend in renderer.overlays
    for i in range(renderer.count):
        renderer.frame(i)
        assert f"$m$ = {result.widths[i]:,}, {i + 1}/4" in renderer.title.get_text()
        for k in range(4):
            paths = renderer.bands[k].get_paths()
            if k <= i:
                vertices = paths[0].vertices[: 2 * len(result.x)]
                np.testing.assert_allclose(vertices[: len(result.x), 1], result.low[k])
                np.testing.assert_allclose(vertices[len(result.x) :, 1], result.high[k][::-1])
                np.testing.assert_array_equal(renderer.medians[k].get_ydata(), result.median[k])
            else:
                assert len(paths) == 0 and len(renderer.medians[k].get_xdata()) == 0
        offsets = renderer.dots.get_offsets()
        np.testing.assert_allclose(
            offsets, np.column_stack([result.widths[: i + 1], result.spread[: i + 1]])
        )
        x, y = renderer.fit.get_data()
        if i == 0:
            assert len(x) == 0  # one width: no slope yet
        else:
            measured = np.diff(np.log10(y)) / np.diff(np.log10(x))
            np.testing.assert_allclose(measured, result.running_slopes[i])
        assert renderer.legend.get_texts()[0].get_text() == (
            f"fit: slope {result.running_slopes[i]:+.2f}" if i else "fit: slope  --  "
        )
    for text in renderer.legend.get_texts():
        assert text.get_fontsize() >= style.small


def test_the_fit_legend_is_drawn_anew_when_its_slope_changes(small_run):
    """The legend's first label changes with the fit ("--" until two widths are in): the pixels
    of that label differ between the frames, and frames 2 and 3 (two different slopes) differ
    there too (a legend drawn once would show "--" in every frame)."""
    result, config = small_run
    renderer = NtkConvergenceRenderer(result, config, Style(size=(9.0, 4.0), dpi=60))
    pictures = [renderer.frame(i) for i in range(renderer.count)]
    box = renderer.legend.get_texts()[0].get_window_extent(renderer.figure.canvas.get_renderer())
    height = pictures[0].shape[0]
    rows = slice(int(height - box.y1) - 1, int(height - box.y0) + 1)
    cols = slice(int(box.x0) - 1, int(box.x1) + 1)
    labels = [p[rows, cols] for p in pictures]
    assert f"{result.running_slopes[2]:+.2f}" != f"{result.running_slopes[3]:+.2f}"
    for a, b in ((0, 1), (1, 2), (2, 3)):
        assert not np.array_equal(labels[a], labels[b]), (a, b)


def test_caption_numbers_are_the_results(small_run):
    result, config = small_run
    filled = caption(SPEC, result, config)
    # recomputed here from the kernels: the spread (std over nets, ddof 1, averaged over x, over
    # the mean |analytic|), its least-squares log-log slope over all widths, and the median's error
    scale = np.abs(result.analytic).mean()
    spread = result.kernels.std(axis=1, ddof=1).mean(axis=1) / scale
    slope = np.polyfit(np.log10(result.widths), np.log10(spread), 1)[0]
    median_error = np.abs(np.median(result.kernels, axis=1) - result.analytic).mean(axis=1) / scale
    text = filled["caption"]
    # its jackknife error over the nets: the slope recomputed leaving each net out in turn
    fits = []
    for k in range(4):
        keep = np.arange(4) != k
        part = result.kernels[:, keep].std(axis=1, ddof=1).mean(axis=1) / scale
        fits.append(np.polyfit(np.log10(result.widths), np.log10(part), 1)[0])
    error = np.sqrt(3 / 4 * np.sum((np.array(fits) - np.mean(fits)) ** 2))
    assert f"a fitted slope of {slope:.2f} +- {error:.2f} (jackknife over the 4 nets)," in text
    inside = abs(slope + 0.5) <= 2 * error
    assert ("consistent with theory -0.5, within two standard errors" in text) == inside
    assert f"from {spread[0]:.2f} to {spread[-1]:.3f}" in text
    assert f"from {median_error[0]:.1%} to {median_error[-1]:.1%}" in text
    assert "from m = 10 to 640" in text
    assert f"slope of {slope:.2f} +- {error:.2f}" in filled["reading"]
