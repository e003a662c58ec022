"""loss-surface's picture: frame i draws the Result's frame i (defined by hand here), the view
keeps both losses on screen, and the caption's numbers are recomputed from the Result's arrays."""

from __future__ import annotations

import numpy as np
import pytest

from ntkviz.drawing.style import Style
from ntkviz.figures.base import caption
from ntkviz.figures.loss_surface import SPEC, LossSurfaceConfig, simulate


def g(w, x=1.5):
    return w * x + w**2 * x + np.sin(np.exp(0.1 * w))


@pytest.fixture(scope="module")
def run():
    config = LossSurfaceConfig(frames=9, points=80)
    return simulate(config), config


def test_fixed_view_is_the_normalised_loss_by_hand(run):
    result, _ = run
    w = result.w_fixed
    for i, alpha in enumerate(result.alphas):
        f = alpha * g(w) * (w - 0.4)
        np.testing.assert_allclose(result.actual_fixed[i], (3.0 - f) ** 2 / alpha**2, rtol=1e-10)
        f_lin = alpha * g(0.4) * (w - 0.4)
        np.testing.assert_allclose(
            result.linearized_fixed[i], (3.0 - f_lin) ** 2 / alpha**2, rtol=1e-10
        )


@pytest.mark.parametrize("view", ["both", "fixed", "zoom"])
def test_renderer_frame_i_shows_snapshot_i(run, view):
    result, config = run
    config = type(config)(**{**config.__dict__, "view": view})
    renderer = SPEC.renderer(result, config, Style(size=(8, 3.5), dpi=40))
    assert renderer.order[0] == 0
    for n in (0, 3, len(renderer) - 1):
        renderer.frame(n)
        i = renderer.order[n]
        for kind, _, actual, linear in renderer.panels:
            x = result.w_fixed if kind == "fixed" else result.u_zoom
            np.testing.assert_array_equal(actual.get_xdata(), x)
            np.testing.assert_array_equal(actual.get_ydata(), getattr(result, f"actual_{kind}")[i])
            np.testing.assert_array_equal(
                linear.get_ydata(), getattr(result, f"linearized_{kind}")[i]
            )
        assert f"{result.alphas[i]:.4g}" in renderer.title.get_text()
    assert renderer.key_frame != len(renderer) - 1  # the still is at alpha ~ 10


def test_caption_numbers_are_recomputed_from_the_result():
    config = LossSurfaceConfig(frames=25, points=101)
    result = simulate(config)
    filled = caption(SPEC, result, config)
    text = filled["caption"]
    distance = result.linear_minimum - 0.4
    np.testing.assert_allclose(distance, 3.0 / (result.alphas * g(0.4)), rtol=1e-12)
    slope = np.polyfit(np.log(result.alphas), np.log(distance), 1)[0]
    assert slope == pytest.approx(-1.0, abs=1e-9)
    assert f"slope {slope:.2f}" in text and f"slope {slope:.2f}" in filled["reading"]
    assert f"w0 + {distance[0]:.3g}" in text and f"w0 + {distance[-1]:.2g}" in text
    # the zoomed gap: the largest |actual - parabola| over the zoom window, over the parabola's max
    gaps = [
        np.max(np.abs(a - lin)) / np.max(lin)
        for a, lin in zip(result.actual_zoom, result.linearized_zoom, strict=True)
    ]
    assert gaps[-1] < 0.01 * gaps[0]
    assert f"{gaps[0]:.3g} times" in text and f"{gaps[-1]:.2%}" in text
    assert f"{gaps[-1]:.2%}" in filled["reading"]


def test_both_losses_mostly_on_screen_at_every_alpha():
    """The default views keep more than half of either loss inside them in every frame (the
    fixed view as each frame draws it, the zoom view at --loss-limits)."""
    config = LossSurfaceConfig(frames=40, points=200)
    result = simulate(config)
    renderer = SPEC.renderer(result, config, Style(size=(8, 3.5), dpi=20))
    for n in range(len(renderer)):
        renderer.frame(n)
        i = renderer.order[n]
        for kind, ax, *_ in renderer.panels:
            low, high = ax.get_ylim()
            for data in (
                getattr(result, f"actual_{kind}")[i],
                getattr(result, f"linearized_{kind}")[i],
            ):
                assert ((data >= low) & (data <= high)).mean() > 0.5, (kind, n)


def test_the_fixed_view_fits_the_parabola_of_each_frame(run):
    """Issue 21: at the post's largest alphas the parabola is at most ~3 high on the fixed range
    of w, and a view up to 16 squeezed both minima into its bottom 3 %. Each frame's view now
    holds the whole parabola and 0, the parabola filling at least 40 % of it, inside
    --loss-limits; the zoom view keeps --loss-limits."""
    result, config = run
    renderer = SPEC.renderer(result, config, Style(size=(8, 3.5), dpi=40))
    limits = config.loss_limits
    for n in range(len(renderer)):
        renderer.frame(n)
        i = renderer.order[n]
        (fixed, left, *_), (_, right, *_) = renderer.panels
        assert fixed == "fixed"
        bottom, top = left.get_ylim()
        parabola = min(result.linearized_fixed[i].max(), limits[1])
        assert limits[0] <= bottom <= 0 and parabola <= top <= limits[1], (n, bottom, top)
        assert parabola >= 0.4 * top, (n, (bottom, top), parabola)
        assert right.get_ylim() == tuple(limits)
    # the largest alpha: the minima (loss 0) sit well above the panel's bottom 3 %
    assert -bottom / (top - bottom) > 0.05 and top < 0.5 * limits[1]


def test_the_fixed_view_zooms_in_steps_not_every_frame():
    """Issue 21: a view fitted to every frame's parabola (half-unit steps) changed in 26 of the
    post's 100 frames, each change redrawing the panel: the reader saw the axis rescale, and the
    GIF paid for it. The view now zooms in steps of 1, 2 or 5 times a power of ten: 16 (the
    limit), 10 and 5 at the defaults, changing twice, only where the parabola would fill less
    than 40 % of it."""
    config = LossSurfaceConfig()
    result = simulate(config)
    renderer = SPEC.renderer(result, config, Style(size=(8, 3.5), dpi=20))
    views = [renderer._fixed_view(i) for i in range(len(result.alphas))]
    assert [top for _, top in dict.fromkeys(views)] == [16.0, 10.0, 5.0]
    changes = [i for i in range(1, len(views)) if views[i] != views[i - 1]]
    assert len(changes) == 2
    for i in changes:  # a step down only once the parabola fits the next, smaller view
        assert result.linearized_fixed[i].max() * 1.04 <= views[i][1] < views[i - 1][1]
        assert result.linearized_fixed[i - 1].max() * 1.04 > views[i][1]


@pytest.mark.parametrize(
    "value,top", [(3.0, 5.0), (5.0, 5.0), (5.01, 10.0), (0.011, 0.02), (1.0, 1.0), (1.5e3, 2e3)]
)
def test_stepped_top_is_the_next_1_2_5_value(value, top):
    from ntkviz.drawing.axes import stepped_top

    assert stepped_top(value) == pytest.approx(top)
