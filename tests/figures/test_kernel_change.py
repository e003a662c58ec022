"""kernel-change: the measure and the fit, the kernel regime at large alpha, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY

from ntkviz.drawing.style import Style
from ntkviz.figures.base import caption
from ntkviz.figures.common import log_log_fit
from ntkviz.figures.kernel_change import (
    DEFAULT_ALPHAS,
    DEFAULT_WIDTHS,
    SPEC,
    KernelChangeConfig,
    KernelChangeRenderer,
    lazy_regime,
    regime_boundary,
    relative_kernel_change,
    simulate,
)
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_empirical import ntk_layerwise


def test_defaults_are_the_notebooks():
    np.testing.assert_allclose(DEFAULT_ALPHAS, 10.0 ** np.linspace(-2, 3, 7))
    assert DEFAULT_WIDTHS == (10, 22, 46, 100, 215, 464, 1000)
    config = KernelChangeConfig()
    assert (config.trials, config.steps, config.lr, config.width, config.depth) == (
        5,
        4000,
        3e-4,
        100,
        2,
    )


def test_relative_change_and_log_log_fit():
    start = np.array([[[2.0, 1.0], [1.0, 2.0]]])
    end = start + np.array([[[0.0, 0.3], [0.3, 0.0]]])
    np.testing.assert_allclose(
        relative_kernel_change(start, end), np.sqrt(2 * 0.09) / np.sqrt(10.0)
    )
    values = np.array([1.0, 10.0, 100.0, 1000.0])
    slope, intercept = log_log_fit(values, 3.0 * values**-0.5)
    assert slope == pytest.approx(-0.5) and intercept == pytest.approx(np.log10(3.0))
    assert np.isnan(log_log_fit(np.array([1.0]), np.array([2.0]))[0])
    assert np.isnan(log_log_fit(values, np.zeros(4))[0])


def test_large_alpha_is_the_kernel_regime():
    config = KernelChangeConfig(alphas=(0.01, 1.0, 30.0, 300.0), width=30, trials=2, steps=300)
    result = simulate(config, torch.Generator().manual_seed(0))
    assert result.change.shape == (4, 2) and result.kernels_start.shape == (4, 2, 2, 2)
    assert (result.change[3] < 0.01).all()  # alpha = 300: the kernel barely moves
    assert (result.change[0] > 1.0).all()  # alpha = 0.01: it changes by more than itself
    assert (np.diff(result.median) < 0).all()
    # the fit is made in the lazy regime only (median change < 0.5): alpha = 30 and 300, whose
    # slope is about -1 (measured -1.07), while all four points mix the regimes (-1.44)
    assert result.lazy.tolist() == [False, False, True, True]
    assert -1.3 < result.slope < -0.8
    assert result.slope_all == pytest.approx(log_log_fit(result.values, result.median)[0])
    # Trial r starts from the same net at every alpha: the same kernel H/alpha^2 at the start.
    np.testing.assert_allclose(result.kernels_start[0], result.kernels_start[2], rtol=1e-12)
    plain = Ensemble(NetSpec(width=30), count=2, seed=0, dtype=torch.float64)
    x = torch.tensor(config.x_train, dtype=torch.float64)
    np.testing.assert_allclose(result.kernels_start[1], ntk_layerwise(plain, x).numpy(), rtol=1e-12)


def test_lazy_regime_runs_down_from_the_largest_value():
    values = np.array([100.0, 0.1, 10.0, 1.0])  # any order
    median = np.array([0.01, 5.0, 0.1, 0.7])
    assert lazy_regime(values, median, 0.5).tolist() == [True, False, True, False]
    assert lazy_regime(values, median, 1.0).tolist() == [True, False, True, True]
    # a value under the threshold below a rich one is not lazy: the regime is contiguous
    assert lazy_regime(values, np.array([0.01, 0.2, 0.1, 0.7]), 0.5).tolist() == [
        True,
        False,
        True,
        False,
    ]
    assert not lazy_regime(values, np.full(4, 2.0), 0.5).any()
    assert regime_boundary(values, lazy_regime(values, median, 0.5)) == pytest.approx(np.sqrt(10))


@pytest.fixture(scope="module")
def default_like():
    """The default sweep at fewer steps and a narrower net (a few seconds)."""
    config = KernelChangeConfig(width=30, steps=400, trials=3)
    return simulate(config, torch.Generator().manual_seed(0)), config


def test_caption_numbers_are_the_results(default_like):
    result, config = default_like
    # recomputed here: medians of the relative Frobenius change, the lazy values (largest down,
    # median under 0.5) and a least-squares line through them in log-log
    change = np.sqrt(((result.kernels_end - result.kernels_start) ** 2).sum(axis=(2, 3))) / np.sqrt(
        (result.kernels_start**2).sum(axis=(2, 3))
    )
    median = np.median(change, axis=1)
    lazy = np.zeros(len(median), dtype=bool)
    for k in range(len(median) - 1, -1, -1):  # the default alphas ascend
        if median[k] >= config.lazy_below:
            break
        lazy[k] = True
    assert lazy.sum() >= 2 and not lazy.all()
    fit = lazy & (result.values >= 10)  # --fit-from 10: past the rich-to-lazy crossover
    assert fit.sum() >= 2 and fit.sum() < lazy.sum()
    logs = np.log10(result.values[fit])
    slope = np.polyfit(logs, np.log10(median[fit]), 1)[0]
    slope_all = np.polyfit(np.log10(result.values), np.log10(median), 1)[0]
    # the spread: each net's own slope over the same alphas
    each = [np.polyfit(logs, np.log10(c[fit]), 1)[0] for c in change.T]
    filled = caption(SPEC, result, config)
    text = filled["caption"]
    spread = f"{slope:+.2f} ({min(each):+.2f} to {max(each):+.2f} over 3 nets fitted alone)"
    assert f"the slope is {spread}" in text
    assert f"(slope {slope_all:.2f})" in text
    lo, hi = result.values[fit].min(), result.values[fit].max()
    assert f"alpha = {lo:.3g} to {hi:.3g} ({fit.sum()} values, lazy and >= 10)" in text
    assert f"falls from {median[0]:.3g} at alpha = 0.01 to {median[-1]:.2g} at alpha = 1000" in text
    assert f"the fitted slope is {spread}" in filled["reading"]
    inside = min(each) <= -1 <= max(each)
    assert ("consistent with theory -1" in text) == inside
    assert ("theory -1 lies outside this spread" in text) == (not inside)
    assert "on the 2 training inputs" in text and "relu nets" in text


def test_picture_draws_the_result(default_like):
    result, config = default_like
    renderer = KernelChangeRenderer(result, config, Style(size=(8.0, 6.0), dpi=40))
    renderer.frame(0)
    ax = renderer.figure.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["median"].get_ydata(), result.median)
    fit = next(line for label, line in lines.items() if label.startswith("fit: "))
    assert f"slope {result.slope:.2f}" in fit.get_label()
    x, y = fit.get_data()
    lazy = result.values[result.fitted]
    # the fit spans the fitted values only, and is their least-squares line
    assert x.min() == pytest.approx(lazy.min()) and x.max() == pytest.approx(lazy.max())
    np.testing.assert_allclose(np.diff(np.log10(y)) / np.diff(np.log10(x)), result.slope)
    theory = lines[r"$1/\alpha$ (theory)"]
    tx, ty = theory.get_data()
    np.testing.assert_allclose(np.diff(np.log10(ty)) / np.diff(np.log10(tx)), -1.0)
    # the band runs from the smallest to the largest change of each value
    (band,) = ax.collections
    path = band.get_paths()[0].vertices
    for value, low, high in zip(
        result.values, result.change.min(axis=1), result.change.max(axis=1), strict=True
    ):
        at = path[np.isclose(path[:, 0], value)][:, 1]
        assert at.min() == pytest.approx(low) and at.max() == pytest.approx(high)
    # the lazy regime is shaded from the boundary on
    boundary = regime_boundary(result.values, result.lazy)
    assert any(np.isclose(p.get_x(), boundary) for p in ax.patches)


def test_dots_band_and_shading_stand_apart(default_like):
    """Issue 21: in the dark theme the nets' dots, the band and the lazy regime's shading merged.
    The colours each shows on the page (laid over what lies under it) differ by WCAG contrast
    ratios: the dots and the median from the band they sit on >= 3 (what one must see), the band
    from the page and from the shading >= 1.8, the shading from the page >= 1.1 (a tint, yet
    there). In the light theme only the dots are held to it: a pale blue tint on white differs
    from it in hue more than in luminance, which is all a contrast ratio measures."""
    from ntkviz.drawing.contrast import contrast_ratio, over

    result, config = default_like
    for theme in ("light", "dark"):
        style = Style(size=(8.0, 6.0), dpi=40, theme=theme)
        renderer = KernelChangeRenderer(result, config, style)
        renderer.frame(0)
        ax = renderer.figure.axes[0]
        page = style.color("background")
        lines = {line.get_label(): line for line in ax.get_lines()}
        (band,) = ax.collections
        (shading,) = ax.patches
        *tint, tint_alpha = shading.get_facecolor()
        shaded = over(tint, tint_alpha, page)
        *fill, fill_alpha = band.get_facecolor()[0]
        under = {"page": page, "shading": shaded}
        for where, below in under.items():
            seen = over(fill, fill_alpha, below)
            assert contrast_ratio(lines["each net"].get_markerfacecolor(), seen) >= 3, (
                theme,
                where,
            )
            if theme == "dark":
                assert contrast_ratio(seen, below) >= 1.8, where
                assert contrast_ratio(lines["median"].get_color(), seen) >= 3, where
        if theme == "dark":
            assert contrast_ratio(shaded, page) >= 1.1


def test_width_sweep():
    config = KernelChangeConfig(
        vs="width",
        widths=(5, 60),
        trials=2,
        steps=200,
        x_train=(-2.0, 0.0, 0.5),
        y_train=(3.0, 1.0, -1.0),
        lazy_below=10.0,  # both widths count as lazy: a slope through the two
    )
    result = simulate(config, torch.Generator().manual_seed(1))
    assert result.vs == "width" and list(result.values) == [5.0, 60.0]
    assert result.change.shape == (2, 2) and result.kernels_end.shape == (2, 2, 3, 3)
    assert result.lazy.all() and np.isfinite(result.slope) and result.slope == result.slope_all


def test_cli_default_output_is_a_png(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(
        "kernel-change",
        "--alphas",
        "0.1,10",
        "--width",
        10,
        "--trials",
        2,
        "--steps",
        50,
        "--data",
        "numbers.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kernel-change.png").stat().st_size > 0
    sidecar = json.loads((tmp_path / "kernel-change.png.json").read_text())
    assert sidecar["frames"] == 1 and sidecar["config"]["vs"] == "alpha"
    data = np.load(tmp_path / "numbers.npz")
    assert data["change"].shape == (2, 2)


def test_cli_width_sweep(cli, tmp_path):
    out = tmp_path / "kc.png"
    result = cli(
        "kernel-change",
        "-o",
        out,
        "--vs",
        "width",
        "--widths",
        "4,16",
        "--trials",
        1,
        "--steps",
        30,
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
