"""The closed-form infinite-width kernels against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ntkviz.errors import ConfigError
from ntkviz.numerics.ntk_analytic import EXPECTATIONS, infinite_kernels, infinite_nngp, infinite_ntk

ERF = np.vectorize(math.erf)


def sample_pairs(s11: float, s12: float, s22: float, n: int = 2_000_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    cov = np.array([[s11, s12], [s12, s22]])
    return rng.multivariate_normal([0.0, 0.0], cov, size=n, method="cholesky").T


@pytest.mark.parametrize("s11,s12,s22", [(1.0, 0.3, 2.0), (0.5, -0.4, 0.7), (2.0, 1.9, 2.0)])
def test_relu_expectations_against_monte_carlo(s11, s12, s22):
    u, v = sample_pairs(s11, s12, s22)
    value, slope = EXPECTATIONS["relu"](np.array(s11), np.array(s12), np.array(s22))
    assert value == pytest.approx(np.mean(np.maximum(u, 0) * np.maximum(v, 0)), rel=1e-2)
    assert slope == pytest.approx(np.mean((u > 0) & (v > 0)), abs=2e-3)


@pytest.mark.parametrize("s11,s12,s22", [(1.0, 0.3, 2.0), (0.5, -0.4, 0.7)])
def test_erf_expectations_against_monte_carlo(s11, s12, s22):
    u, v = sample_pairs(s11, s12, s22, n=400_000)
    value, slope = EXPECTATIONS["erf"](np.array(s11), np.array(s12), np.array(s22))
    derivative = lambda z: 2 / math.sqrt(math.pi) * np.exp(-z * z)  # noqa: E731
    assert value == pytest.approx(np.mean(ERF(u) * ERF(v)), rel=1e-2, abs=2e-3)
    assert slope == pytest.approx(np.mean(derivative(u) * derivative(v)), rel=1e-2)


def test_one_hidden_layer_relu_equals_arc_cosine_closed_form():
    """Written out by hand: Theta = S1 * sw^2 k0 + sw^2 sqrt(S1(x,x) S1(x',x')) k1 + sb^2, with
    k0 = (pi - t) / (2 pi), k1 = (sin t + (pi - t) cos t) / (2 pi), cos t = S1(x,x') / sqrt(...)."""
    sw, sb = 1.3, 0.7
    x = np.array([-2.0, -0.3, 0.0, 0.8, 2.5])
    nngp, ntk = infinite_kernels(x, depth=1, activation="relu", sigma_w=sw, sigma_b=sb)
    for i, a in enumerate(x):
        for j, b in enumerate(x):
            s_ab, s_aa, s_bb = sw**2 * a * b + sb**2, sw**2 * a * a + sb**2, sw**2 * b * b + sb**2
            t = math.acos(max(-1.0, min(1.0, s_ab / math.sqrt(s_aa * s_bb))))
            k0 = (math.pi - t) / (2 * math.pi)
            k1 = (math.sin(t) + (math.pi - t) * math.cos(t)) / (2 * math.pi)
            expected_nngp = sw**2 * math.sqrt(s_aa * s_bb) * k1 + sb**2
            assert nngp[i, j] == pytest.approx(expected_nngp, rel=1e-12)
            assert ntk[i, j] == pytest.approx(s_ab * sw**2 * k0 + expected_nngp, rel=1e-12)


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_kernels_symmetric_psd_and_consistent(activation, depth, bias):
    x = np.linspace(-3, 3, 9)
    nngp, ntk = infinite_kernels(x, depth=depth, activation=activation, bias=bias)
    for k in (nngp, ntk):
        np.testing.assert_allclose(k, k.T, rtol=1e-12)
        assert np.linalg.eigvalsh(k).min() > -1e-9 * np.abs(k).max()
    # the NTK dominates the NNGP (it adds the earlier layers' contributions)
    assert np.all(np.diag(ntk) >= np.diag(nngp) - 1e-12)
    # cross kernels agree with the full one
    np.testing.assert_allclose(
        infinite_ntk(x[:4], x[4:], depth=depth, activation=activation, bias=bias),
        ntk[:4, 4:],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        infinite_nngp(x, depth=depth, activation=activation, bias=bias), nngp
    )


def test_relu_no_bias_is_positively_homogeneous():
    x = np.array([0.5, 1.0, -2.0])
    base = infinite_ntk(x, depth=2, bias=False)
    np.testing.assert_allclose(infinite_ntk(3 * x, depth=2, bias=False), 9 * base, rtol=1e-12)


def test_unknown_activation_is_refused():
    with pytest.raises(ConfigError, match="no closed form"):
        infinite_ntk(np.zeros(2), activation="tanh", expectations="closed")
    with pytest.raises(ConfigError, match="activation must be one of"):
        infinite_ntk(np.zeros(2), activation="swish")
