"""The curvature engine against independent oracles: autograd gradients, dense torch.func Hessians."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ntkviz.errors import ConfigError
from ntkviz.numerics import curvature

WIDTHS = (1, 3, 16, 64)


def draw(width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return curvature.init_params(width, torch.Generator().manual_seed(seed))


def dense_oracle(width: int, seed: int, x: float, act: str) -> tuple[float, float]:
    """(||grad||, ||H||_2) by autograd and a dense torch.func Hessian, written out here."""
    a, b = draw(width, seed)
    w = torch.cat([a, b]).requires_grad_(True)
    phi = curvature.activation(act).phi

    def f(w_):
        return (w_[width:] * phi(w_[:width] * x)).sum()

    (grad,) = torch.autograd.grad(f(w), w)
    eigenvalues = torch.linalg.eigvalsh(torch.func.hessian(f)(w.detach()))
    return float(grad.norm()), float(eigenvalues.abs().max())


# Every activation at one (seed, x); the post's tanh and a second one at two more.
CASES = [(m, 0, 1.3, act) for m in WIDTHS for act in curvature.ACTIVATIONS] + [
    (m, seed, x, act)
    for m in WIDTHS
    for seed, x in ((1, -0.4), (2, 2.7))
    for act in ("tanh", "erf")
]


@pytest.mark.parametrize("width,seed,x,act", CASES)
def test_exact_and_hvp_match_dense_hessian_and_autograd(width, seed, x, act):
    grad_oracle, hess_oracle = dense_oracle(width, seed, x, act)
    a, b = draw(width, seed)
    assert float(curvature.gradient_norm(a, b, x, act)) == pytest.approx(grad_oracle, rel=1e-12)
    exact = float(curvature.hessian_norm_exact(a, b, x, act))
    assert exact == pytest.approx(hess_oracle, rel=1e-10, abs=1e-300)
    fn, w = curvature.network(x, act), curvature.flatten(a, b)
    hvp = curvature.hessian_norm_hvp(fn, w, generator=torch.Generator().manual_seed(seed))
    assert hvp == pytest.approx(exact, rel=1e-6)
    assert hvp == pytest.approx(hess_oracle, rel=1e-6)
    assert curvature.hessian_norm_dense(fn, w) == pytest.approx(hess_oracle, rel=1e-10)


def test_exact_norms_batched_and_chunked(monkeypatch):
    a, b = curvature.init_params(50, torch.Generator().manual_seed(4))
    a2 = torch.stack([a, -a, 2 * a])
    b2 = torch.stack([b, b, -b])
    grad, hess = curvature.exact_norms(a2, b2, 0.8)
    assert grad.shape == hess.shape == (3,)
    for k in range(3):
        assert float(grad[k]) == pytest.approx(float(curvature.gradient_norm(a2[k], b2[k], 0.8)))
        assert float(hess[k]) == pytest.approx(
            float(curvature.hessian_norm_exact(a2[k], b2[k], 0.8))
        )
    # Chunk boundaries (7 does not divide 50) change nothing.
    monkeypatch.setattr(curvature, "CHUNK", 7)
    grad7, hess7 = curvature.exact_norms(a2, b2, 0.8)
    torch.testing.assert_close(grad7, grad, rtol=1e-13, atol=0)
    torch.testing.assert_close(hess7, hess, rtol=0, atol=0)


def test_derivatives_match_autograd():
    z = torch.linspace(-4, 4, 41, dtype=torch.float64)
    for name in curvature.ACTIVATIONS:
        act = curvature.activation(name, sharpness=3.0)
        phi, d1, d2 = act.derivatives(z.clone())
        zz = z.clone().requires_grad_(True)
        (g1,) = torch.autograd.grad(act.phi(zz).sum(), zz, create_graph=True)
        (g2,) = torch.autograd.grad(g1.sum(), zz, allow_unused=True)
        g2 = torch.zeros_like(z) if g2 is None else g2
        torch.testing.assert_close(phi, act.phi(z), rtol=1e-14, atol=1e-15)
        torch.testing.assert_close(d1, g1.detach(), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(d2, g2, rtol=1e-12, atol=1e-14)


def test_relu_hessian_is_only_the_cross_terms():
    a, b = draw(40, 5)
    x = -1.7
    # phi'' = 0: every block is [[0, x phi'], [x phi', 0]], eigenvalues +- |x| phi'.
    expected = abs(x) if bool((a * x > 0).any()) else 0.0
    assert float(curvature.hessian_norm_exact(a, b, x, "relu")) == pytest.approx(expected)


def test_lanczos_finds_a_negative_dominant_eigenvalue():
    generator = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(30, 30, generator=generator, dtype=torch.float64))
    eigenvalues = torch.linspace(-1.0, 3.0, 30, dtype=torch.float64)
    eigenvalues[7] = -5.0  # the largest magnitude is negative
    matrix = q @ torch.diag(eigenvalues) @ q.T
    result = curvature.lanczos_norm(lambda v: matrix @ v, 30)
    assert result.norm == pytest.approx(5.0, rel=1e-10)
    # The same through hessian_norm_hvp: f(w) = w^T M w / 2 has Hessian M.
    norm = curvature.hessian_norm_hvp(
        lambda w: 0.5 * w @ (matrix @ w), torch.zeros(30, dtype=torch.float64)
    )
    assert norm == pytest.approx(5.0, rel=1e-10)


def test_hvp_usable_at_larger_width():
    a, b = draw(1000, 9)
    exact = float(curvature.hessian_norm_exact(a, b, 0.9))
    hvp = curvature.hessian_norm_hvp(curvature.network(0.9), curvature.flatten(a, b), iters=150)
    # The top eigenvalues crowd together at this width: Lanczos stops a little below the top.
    assert hvp <= exact * (1 + 1e-12)
    assert hvp == pytest.approx(exact, rel=1e-3)


def test_hessian_of_a_linear_function_is_zero():
    assert (
        curvature.hessian_norm_hvp(lambda w: 3.0 * w.sum(), torch.ones(5, dtype=torch.float64))
        == 0.0
    )


def test_kappa_and_kappa_alpha():
    grad, hess = np.array([2.0, 10.0, 31.6]), np.array([1.5, 1.4, 1.45])
    kappa = curvature.kappa(hess, grad)
    np.testing.assert_allclose(kappa, hess / grad**2)
    for alpha in (1e-3, 0.5, 1.0, 7.0, 1e4):
        np.testing.assert_allclose(
            curvature.kappa_alpha(hess, grad, alpha) * alpha, kappa, rtol=1e-13
        )
    with pytest.raises(ConfigError, match="--alpha must be > 0"):
        curvature.kappa_alpha(hess, grad, 0.0)
    assert curvature.Curvature(grad_norm=2.0, hessian_norm=1.0).kappa == 0.25


def test_dense_refused_above_the_limit_with_the_estimate():
    a, b = draw(8, 0)
    fn, w = curvature.network(1.0), curvature.flatten(a, b)
    need = curvature.dense_bytes(16)
    with pytest.raises(ConfigError) as error:
        curvature.hessian_norm_dense(fn, w, limit_bytes=need - 1)
    message = str(error.value)
    assert "--method dense" in message and curvature.format_bytes(need) in message
    assert "\n" not in message
    assert curvature.hessian_norm_dense(fn, w, limit_bytes=need) > 0
    width = 100_000
    with pytest.raises(ConfigError) as error:
        curvature.check_dense(width)
    message = str(error.value)
    assert curvature.format_bytes(curvature.dense_bytes(2 * width)) in message
    assert curvature.format_bytes(curvature.memory_limit_bytes()) in message
    assert curvature.memory_limit_bytes() <= curvature.DENSE_CAP_BYTES


def test_init_is_lecun_and_uses_only_its_generator():
    state = torch.random.get_rng_state()
    a, b = curvature.init_params(200_000, torch.Generator().manual_seed(3))
    assert torch.equal(state, torch.random.get_rng_state())  # the global stream is untouched
    assert a.dtype == b.dtype == torch.float64
    assert float(a.var()) == pytest.approx(1.0, rel=0.02)
    assert float(b.var()) * 200_000 == pytest.approx(1.0, rel=0.02)
    a2, b2 = curvature.init_params(200_000, torch.Generator().manual_seed(3))
    assert torch.equal(a, a2) and torch.equal(b, b2)
    with pytest.raises(ConfigError):
        curvature.init_params(0, torch.Generator())


def test_unknown_activation_and_method():
    with pytest.raises(ConfigError, match="--activation must be one of"):
        curvature.activation("swish")
    with pytest.raises(ConfigError, match="--sharpness"):
        curvature.activation("relu-smooth", sharpness=0.0)
    a, b = draw(3, 0)
    with pytest.raises(ConfigError, match="--method must be one of"):
        curvature.measure(a, b, 1.0, method="magic")


def test_exact_scales_to_a_million_quickly():
    a, b = draw(1_000_000, 1)
    grad, hess = curvature.exact_norms(a, b, 0.5)
    # ||grad||^2 / m -> E[tanh(a x)^2] (plus O(1/m)); ||H|| -> |x| phi'(0) = |x|.
    expected = float(
        torch.tanh(
            torch.randn(10**6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
            * 0.5
        )
        .pow(2)
        .mean()
    )
    assert float(grad) ** 2 / 1e6 == pytest.approx(expected, rel=0.02)
    assert float(hess) == pytest.approx(0.5, rel=1e-3)
    assert math.isfinite(float(grad))
