"""The quadrature of the layer expectations (ntkviz.numerics.ntk_quadrature) against oracles: the
closed forms of relu and erf (ntk_analytic) and of sin (E[sin u sin v] = exp(-(s11 + s22) / 2)
sinh(s12)), and, for the activations without one, a plain nested trapezoid rule on a fine grid
(exponentially accurate for integrands analytic in a strip, which all of these are) with the
derivatives written out by hand instead of autograd.

Accuracies reached (measured when written, asserted with some room): relu and erf agree with
their closed forms to about 1e-13 where |correlation| < 1; at correlation exactly +-1 the relu
slope (pi - theta) / (2 pi) has an infinite derivative in the correlation, so both routes carry
the rounding of s12 / sqrt(s11 s22) amplified to about sqrt(eps) = 1e-8 there (the closed form
as much as the quadrature). The smooth activations reach 1e-12 against the trapezoid oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ntkviz.errors import ConfigError
from ntkviz.numerics.ntk_analytic import EXPECTATIONS, infinite_kernels
from ntkviz.numerics.ntk_quadrature import gaussian_expectations


def covariances(count: int, top_sd: float, seed: int, edge: bool = False):
    """(s11, s12, s22) of ``count`` random pairs, standard deviations up to ``top_sd``; with
    ``edge``, correlations exactly +-1 and zero variances too."""
    rng = np.random.default_rng(seed)
    sd = rng.uniform(0.05, top_sd, size=(2, count))
    corr = rng.uniform(-0.999, 0.999, count)
    sd[:, :5] = top_sd  # the steepest case always in
    if edge:
        corr[:4] = [1.0, -1.0, 1.0, -1.0]
        sd[0, 4] = 0.0
    return sd[0] ** 2, corr * sd[0] * sd[1], sd[1] ** 2


@pytest.mark.parametrize("name", ["relu", "erf"])
def test_quadrature_matches_the_closed_forms(name):
    s11, s12, s22 = covariances(300, top_sd=5.0, seed=1)
    value, slope = gaussian_expectations(name, s11, s12, s22)
    exact_value, exact_slope = EXPECTATIONS[name](s11, s12, s22)
    assert np.abs(value - exact_value).max() < 1e-11 * max(1.0, np.abs(exact_value).max())
    assert np.abs(slope - exact_slope).max() < 1e-10


def test_relu_at_correlation_one_is_limited_by_conditioning_not_quadrature():
    s11, s12, s22 = covariances(20, top_sd=3.0, seed=2, edge=True)
    value, slope = gaussian_expectations("relu", s11, s12, s22)
    exact_value, exact_slope = EXPECTATIONS["relu"](s11, s12, s22)
    assert np.abs(value - exact_value).max() < 1e-12 * np.abs(exact_value).max()
    regular = np.arange(20) != 4
    # sqrt(eps) amplified by d theta / d cos at correlation +-1:
    assert np.abs(slope - exact_slope)[regular].max() < 3e-8
    # Zero variance, u = 0 exactly: the quadrature takes PyTorch's relu'(0) = 0, as a finite
    # net's gradient does (bias=False at x = 0); the closed form's arccos(0) gives 1/4 instead.
    assert value[4] == 0.0 and slope[4] == 0.0 and exact_slope[4] == 0.25


def test_sin_matches_its_closed_form():
    s11, s12, s22 = covariances(200, top_sd=5.0, seed=3, edge=True)
    value, slope = gaussian_expectations("sin", s11, s12, s22)
    damping = np.exp(-(s11 + s22) / 2)
    assert np.abs(value - damping * np.sinh(s12)).max() < 1e-12
    assert np.abs(slope - damping * np.cosh(s12)).max() < 1e-12


def _normal_cdf(z):
    return 0.5 * (1 + torch.special.erf(z / math.sqrt(2)))


# phi and phi' written out, for the oracle (the quadrature takes phi' by autograd).
HAND = {
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
    "softplus": (
        torch.nn.functional.softplus,
        torch.sigmoid,
    ),
    "gelu": (
        lambda z: z * _normal_cdf(z),
        lambda z: _normal_cdf(z) + z * torch.exp(-z * z / 2) / math.sqrt(2 * math.pi),
    ),
    "erf": (torch.erf, lambda z: 2 / math.sqrt(math.pi) * torch.exp(-z * z)),
}


def trapezoid_expectations(name: str, s11: float, s12: float, s22: float, points: int = 1201):
    """E[phi(u) phi(v)], E[phi'(u) phi'(v)] by the trapezoid rule in (z1, z2) on [-12, 12]^2,
    u = sqrt(s11) z1, v = (s12 z1 + sqrt(s11 s22 - s12^2) z2) / sqrt(s11)."""
    phi, slope = HAND[name]
    z = torch.linspace(-12.0, 12.0, points, dtype=torch.float64)
    h = float(z[1] - z[0])
    density = torch.exp(-z * z / 2) / math.sqrt(2 * math.pi) * h
    sd1 = math.sqrt(s11)
    u = sd1 * z
    v = (s12 * z[:, None] + math.sqrt(max(s11 * s22 - s12 * s12, 0.0)) * z[None, :]) / sd1
    results = []
    for fn in (phi, slope):
        inner = fn(v) @ density  # E[fn(v) | z1], (points,)
        results.append(float((fn(u) * inner) @ density))
    return results


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "erf"])
@pytest.mark.parametrize(
    "s11,s12,s22",
    [(1.0, 0.3, 2.0), (0.3, -0.25, 0.4), (25.0, 20.0, 16.0), (9.0, -8.9, 9.0), (4.0, 0.0, 0.01)],
)
def test_quadrature_against_a_trapezoid_oracle(name, s11, s12, s22):
    value, slope = gaussian_expectations(name, np.array(s11), np.array(s12), np.array(s22))
    oracle_value, oracle_slope = trapezoid_expectations(name, s11, s12, s22)
    assert abs(float(value) - oracle_value) < 1e-11 * max(1.0, abs(oracle_value))
    assert abs(float(slope) - oracle_slope) < 1e-11


def test_the_trapezoid_oracle_agrees_with_erf_closed_form():
    """The oracle itself is checked where a closed form exists."""
    value, slope = trapezoid_expectations("erf", 2.0, 1.1, 3.0)
    exact = EXPECTATIONS["erf"](np.array(2.0), np.array(1.1), np.array(3.0))
    assert abs(value - float(exact[0])) < 1e-13 and abs(slope - float(exact[1])) < 1e-13


def test_a_callable_activation_and_its_shape():
    """Any elementwise torch function; output shaped like the broadcast inputs."""
    s11 = np.full((3, 4), 1.5)
    s12 = np.linspace(-1.4, 1.4, 4)
    value, slope = gaussian_expectations(torch.sin, s11, s12, 1.5)
    assert value.shape == slope.shape == (3, 4)
    np.testing.assert_allclose(value[1], np.exp(-1.5) * np.sinh(s12), atol=1e-13)


@pytest.mark.parametrize("name", ["relu", "erf"])
@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_kernels_by_quadrature_match_the_closed_form_recursion(name, depth, dim, bias):
    """The whole recursion, quadrature against closed forms, 1-D and 3-D inputs. erf to 1e-10
    (measured 5e-12 relative); relu to 1e-12 where the first layer's correlation is not +-1,
    and on the diagonal and between collinear points (1-D inputs without bias) to the
    conditioning above (measured 7e-9 relative after three layers)."""
    rng = np.random.default_rng(depth + dim)
    x = rng.normal(size=(6, dim)) * 1.5 if dim > 1 else np.linspace(-2.5, 2.0, 6)
    sigma_w, sigma_b = 1.3, 0.6
    kind = dict(depth=depth, activation=name, sigma_w=sigma_w, sigma_b=sigma_b, bias=bias)
    closed = infinite_kernels(x, **kind, expectations="closed")
    quadrature = infinite_kernels(x, **kind, expectations="quadrature")
    points = x.reshape(6, -1)
    first = sigma_w**2 * points @ points.T / points.shape[1] + (sigma_b**2 if bias else 0.0)
    correlation = first / np.sqrt(np.outer(np.diag(first), np.diag(first)))
    collinear = np.abs(correlation) > 1 - 1e-12
    for c, q in zip(closed, quadrature, strict=True):
        error = np.abs(c - q) / np.abs(c).max()
        if name == "erf":
            assert error.max() < 1e-10
        else:
            assert error[~collinear].max(initial=0.0) < 1e-12
            assert error[collinear].max() < 3e-8


def test_auto_uses_the_closed_form_and_quadrature_for_the_rest():
    x = np.linspace(-2, 2, 5)
    for name in ("relu", "erf"):
        auto = infinite_kernels(x, activation=name, depth=2)
        closed = infinite_kernels(x, activation=name, depth=2, expectations="closed")
        assert all(np.array_equal(a, c) for a, c in zip(auto, closed, strict=True))
    nngp, ntk = infinite_kernels(x, activation="tanh", depth=2)
    assert np.allclose(ntk, ntk.T, rtol=1e-13) and np.linalg.eigvalsh(ntk).min() > 0
    with pytest.raises(ConfigError, match="no closed form"):
        infinite_kernels(x, activation="tanh", expectations="closed")
    with pytest.raises(ConfigError, match="activation must be one of"):
        infinite_kernels(x, activation="swish")
