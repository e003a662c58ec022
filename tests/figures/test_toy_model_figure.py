"""toy-model's picture: what the renderer draws is the Result's frame, defined by hand, and every
number its caption states is recomputed here from the Result's arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ntkviz.drawing.style import Style
from ntkviz.figures.base import caption
from ntkviz.figures.toy_model import SPEC, ToyModelConfig, simulate


def g(w, x):
    return w * x + w**2 * x + np.sin(np.exp(0.1 * w))


@pytest.fixture(scope="module")
def run():
    config = ToyModelConfig(frames=9, points=60)
    return simulate(config), config


def test_plotted_curves_are_alpha_f_and_its_tangent_on_the_rescaled_axis(run):
    result, _ = run
    x, w0 = 1.5, 0.4
    for i, alpha in enumerate(result.alphas):
        w = w0 + result.u / alpha
        np.testing.assert_allclose(result.actual[i], alpha * g(w, x) * (w - w0), atol=1e-12)
        np.testing.assert_allclose(result.linearized[i], g(w0, x) * result.u, atol=1e-12)
        gap = np.abs(alpha * g(w, x) * (w - w0) - g(w0, x) * result.u).max()
        assert result.deviation[i] == pytest.approx(gap, rel=1e-9)


def test_renderer_frame_i_shows_snapshot_i(run):
    result, config = run
    renderer = SPEC.renderer(result, config, Style(size=(8, 3.5), dpi=40))
    assert renderer.order[0] == 0  # output frame 0 is the first alpha
    for n in (0, 1, 4, len(renderer) - 1):
        renderer.frame(n)
        i = renderer.order[n]
        np.testing.assert_array_equal(renderer.actual.get_xdata(), result.u)
        np.testing.assert_array_equal(renderer.actual.get_ydata(), result.actual[i])
        np.testing.assert_array_equal(renderer.linear.get_ydata(), result.linearized[i])
        # the gap curve is drawn up to the current alpha, not beyond
        np.testing.assert_array_equal(renderer.gap_line.get_xdata(), result.alphas[: i + 1])
        np.testing.assert_array_equal(renderer.gap_line.get_ydata(), result.deviation[: i + 1])
        assert renderer.gap_now.get_xdata()[0] == result.alphas[i]
        assert f"{result.alphas[i]:.4g}" in renderer.title.get_text()


def test_key_frame_is_near_alpha_ten_not_the_degenerate_last_frame(run):
    result, config = run
    renderer = SPEC.renderer(result, config, Style(size=(8, 3.5), dpi=40))
    alpha = result.alphas[renderer.order[renderer.key_frame]]
    assert abs(math.log10(alpha) - 1.0) <= 0.5 * np.diff(np.log10(result.alphas)).max() + 1e-12
    assert renderer.key_frame != len(renderer) - 1


def test_caption_numbers_are_recomputed_from_the_result():
    config = ToyModelConfig(frames=30, points=101)
    result = simulate(config)
    filled = caption(SPEC, result, config)
    text = filled["caption"]
    slope = np.polyfit(np.log10(result.alphas), np.log10(result.deviation), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert f"{slope:.2f}" in text and f"{slope:.2f}" in filled["reading"]
    assert f"{result.deviation[0]:.3g}" in text
    assert f"{result.deviation[-1]:.2g}" in text
    relative = result.deviation[-1] / np.abs(result.linearized[-1]).max()
    assert f"{relative:.2%}" in text and f"{relative:.2%}" in filled["reading"]
    assert f"{result.alphas[-1]:.4g}" in text
    # the window shrinks like 1/alpha: the caption says so and the grids do so
    half = (result.w[:, -1] - result.w[:, 0]) / 2
    np.testing.assert_allclose(half * result.alphas, config.w_half_range)
    assert "shrinks like 1/alpha" in text
    # the reading speaks of the still: the frame whose alpha is nearest 10
    key = int(np.argmin(np.abs(np.log10(result.alphas) - 1.0)))
    assert f"alpha = {result.alphas[key]:.3g} (the still)" in filled["reading"]
    assert (
        f"largest gap {result.deviation[key]:.2g} against {result.deviation[0]:.3g}"
        in (filled["reading"])
    )
