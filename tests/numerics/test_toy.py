"""The toy model and its linearisation against closed-form theory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ntkviz.figures.common import alpha_schedule
from ntkviz.figures.loss_surface import LossSurfaceConfig, normalized_loss
from ntkviz.figures.loss_surface import simulate as simulate_loss
from ntkviz.figures.toy_model import ToyModelConfig
from ntkviz.figures.toy_model import simulate as simulate_toy
from ntkviz.numerics.linearize import derivative, linearize, tangent_line
from ntkviz.numerics.toy import toy_model


def g(w: float, x: float) -> float:
    return w * x + w**2 * x + math.sin(math.exp(0.1 * w))


def g_prime(w: float, x: float) -> float:
    return x + 2 * w * x + math.cos(math.exp(0.1 * w)) * math.exp(0.1 * w) * 0.1


@pytest.mark.parametrize("x,w0", [(1.5, 0.4), (-0.7, 1.3), (2.0, -0.5)])
def test_zero_at_w0(x, w0):
    for alpha in (1.0, 37.0, 1e4):
        assert toy_model(torch.tensor(w0, dtype=torch.float64), x, w0, alpha).item() == 0.0


@pytest.mark.parametrize("w", [0.4, -1.2, 2.5])
def test_autograd_derivative_equals_analytic(w):
    x, w0, alpha = 1.5, 0.4, 3.0
    fn = lambda v: toy_model(v, x, w0, alpha)  # noqa: E731
    analytic = alpha * (g_prime(w, x) * (w - w0) + g(w, x))
    assert derivative(fn, torch.tensor(w, dtype=torch.float64)).item() == pytest.approx(
        analytic, rel=1e-12
    )


def test_tangent_line_equals_jvp_linearisation():
    fn = lambda v: toy_model(v, 1.5, 0.4, 5.0)  # noqa: E731
    w0 = torch.tensor(0.4, dtype=torch.float64)
    w = torch.linspace(-1, 2, 11, dtype=torch.float64)
    by_grad = tangent_line(fn, w0)(w)
    by_jvp = torch.stack([linearize(fn, w0)(v) for v in w])
    torch.testing.assert_close(by_grad, by_jvp)


def test_toy_simulation_tangent_and_schedule():
    config = ToyModelConfig(frames=7, points=50)
    result = simulate_toy(config)
    assert result.actual.shape == result.linearized.shape == (7, 50)
    np.testing.assert_allclose(result.alphas, np.logspace(0, 10 / 3, 7))
    # slope of the tangent = alpha * g(w0) (the product rule at w0, where (w - w0) = 0)
    np.testing.assert_allclose(result.slope, result.alphas * g(0.4, 1.5), rtol=1e-12)
    # the tangent line passes through (w0, 0) with that slope
    expected = result.slope[:, None] * (result.w - 0.4)
    np.testing.assert_allclose(result.linearized, expected, rtol=1e-12, atol=1e-12)
    # each frame's grid is w0 + u / alpha: the view shrinks like 1 / alpha
    np.testing.assert_allclose(result.w, 0.4 + result.u[None, :] / result.alphas[:, None])
    np.testing.assert_allclose(result.u, np.linspace(-1.0, 1.0, 50))


def test_linearised_loss_is_parabola_with_minimum_closing_in_like_one_over_alpha():
    config = LossSurfaceConfig(frames=5, points=301, alpha_min=1.0, alpha_max=1e4)
    result = simulate_loss(config)
    y, x, w0 = 3.0, 1.5, 0.4
    expected_min = w0 + y / (result.alphas * g(w0, x))
    np.testing.assert_allclose(result.linear_minimum, expected_min, rtol=1e-12)
    for i in range(5):
        coeffs, residual, *_ = np.polyfit(result.w_fixed, result.linearized_fixed[i], 2, full=True)
        assert residual[0] < 1e-16 * max(1.0, np.abs(result.linearized_fixed[i]).max()) * 301
        assert -coeffs[1] / (2 * coeffs[0]) == pytest.approx(expected_min[i], rel=1e-9)
    # (minimum - w0) * alpha is constant: the distance closes in like 1 / alpha
    np.testing.assert_allclose(
        (result.linear_minimum - w0) * result.alphas, y / g(w0, x), rtol=1e-12
    )


def test_gap_between_actual_and_linearised_loss_shrinks_with_alpha():
    """Near w0 (a window that scales with the linear minimum's distance y / f'(w0)), the
    relative gap between the normalised losses falls like 1 / alpha."""
    x, y, w0 = 1.5, 3.0, 0.4
    gaps = []
    alphas = [10.0, 100.0, 1000.0, 10000.0]
    for alpha in alphas:
        fn = lambda v, a=alpha: toy_model(v, x, w0, a)  # noqa: E731
        w0_t = torch.tensor(w0, dtype=torch.float64)
        reach = 2 * y / (alpha * g(w0, x))
        w = torch.linspace(w0 - reach, w0 + reach, 201, dtype=torch.float64)
        actual = normalized_loss(fn(w), y, alpha)
        linear = normalized_loss(tangent_line(fn, w0_t)(w), y, alpha)
        gaps.append(((actual - linear).abs().max() / linear.max()).item())
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    slope = np.polyfit(np.log10(alphas), np.log10(gaps), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)


def test_zoom_view_follows_w0_like_one_over_alpha():
    config = LossSurfaceConfig(frames=4, points=11)
    result = simulate_loss(config)
    np.testing.assert_allclose(result.u_zoom, np.linspace(-1.0, 2.5, 11))
    np.testing.assert_allclose(
        (result.w_zoom - 0.4) * result.alphas[:, None], np.broadcast_to(result.u_zoom, (4, 11))
    )
    # the zoom view shows alpha^2 times the normalised loss: (y - alpha f)^2
    for i, alpha in enumerate(result.alphas):
        w = result.w_zoom[i]
        f = alpha * np.array([g(v, 1.5) for v in w]) * (w - 0.4)
        np.testing.assert_allclose(result.actual_zoom[i], (3.0 - f) ** 2, rtol=1e-10)
        np.testing.assert_allclose(
            result.linearized_zoom[i], (3.0 - g(0.4, 1.5) * result.u_zoom) ** 2, rtol=1e-10
        )


def test_alpha_schedule_matches_post():
    np.testing.assert_allclose(
        alpha_schedule(1.0, 10 ** (10 / 3), 100), 10 ** np.linspace(0, 10 / 3, 100)
    )
