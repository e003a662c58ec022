"""The NTK parameterisation of our nets: its forward pass written out by hand, its init, and the
fast tangent kernel and hand-written gradient against oracles (torch.func, a per-sample autograd
loop through PyTorch's own F.linear, and autograd), as tests/numerics/test_kernels.py does for standard."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_kernels import X1

from ntkviz.errors import ConfigError
from ntkviz.numerics.dynamics import Outer, mse_loss, train
from ntkviz.numerics.nets import Ensemble, NetSpec, init_member, member_seed
from ntkviz.numerics.ntk_empirical import (
    MseGradient,
    mse_loss_and_gradient,
    ntk_layerwise,
)

F64 = dict(dtype=torch.float64)
SIGMAS = dict(sigma_w=1.3, sigma_b=0.6)


def by_hand(spec: NetSpec, params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """One member's output, z = sigma_w W h / sqrt(fan_in) + sigma_b b written out: (N,)."""
    h = x.reshape(-1, 1)
    step = 2 if spec.bias else 1
    layers = len(spec.layer_sizes)
    for j, (fan_in, _) in enumerate(spec.layer_sizes):
        h = spec.sigma_w * h @ params[step * j].T / math.sqrt(fan_in)
        if spec.bias:
            h = h + spec.sigma_b * params[step * j + 1]
        if j < layers - 1:
            h = torch.relu(h)
    return h[:, 0]


def test_layer_scales():
    assert NetSpec(width=7, depth=2, **SIGMAS).layer_scales() == [(1.0, 1.0)] * 3
    scales = NetSpec(width=16, depth=2, parameterization="ntk", **SIGMAS).layer_scales()
    np.testing.assert_allclose(scales, [(1.3, 0.6), (1.3 / 4, 0.6), (1.3 / 4, 0.6)], rtol=1e-15)


@pytest.mark.parametrize("bias", [True, False])
def test_forward_is_the_formula_and_init_is_standard_normal(bias):
    spec = NetSpec(width=300, depth=2, bias=bias, parameterization="ntk", **SIGMAS)
    ensemble = Ensemble(spec, count=2, seed=3, dtype=torch.float64)
    x = torch.linspace(-3, 3, 7, **F64)
    for k in range(2):
        member = [p[k] for p in ensemble.params]
        torch.testing.assert_close(ensemble(x)[k], by_hand(spec, member, x), rtol=1e-12, atol=1e-12)
    weights = ensemble.params[2 if bias else 1]
    assert weights.mean().item() == pytest.approx(0.0, abs=0.01)
    assert weights.std().item() == pytest.approx(1.0, rel=0.01)
    if bias:
        assert ensemble.params[3].std().item() == pytest.approx(1.0, rel=0.15)
    # the same net in either dtype (drawn in float32, then cast)
    single = init_member(spec, member_seed(3, 1), torch.float32)
    for a, b in zip(single, ensemble.params, strict=True):
        torch.testing.assert_close(a.double(), b[1], rtol=0, atol=0)


def test_standard_ignores_the_sigmas_and_keep_initial():
    plain = Ensemble(NetSpec(width=9), count=2, seed=1)
    sigmas = Ensemble(NetSpec(width=9, **SIGMAS), count=2, seed=1, keep_initial=False)
    x = torch.linspace(-2, 2, 5)
    assert torch.equal(plain(x), sigmas(x))
    assert all(a is b for a, b in zip(sigmas.params, sigmas.params0, strict=True))
    assert all(a is not b for a, b in zip(plain.params, plain.params0, strict=True))
    with pytest.raises(ValueError, match="zero_output needs"):
        Ensemble(NetSpec(width=3, zero_output=True), count=1, seed=0, keep_initial=False)


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(parameterization="mup"), "--parameterization must be one of standard, ntk"),
        (dict(sigma_w=-1.0), "--sigma-w must be a finite number >= 0"),
        (dict(sigma_b=math.nan), "--sigma-b must be a finite number >= 0"),
    ],
)
def test_bad_specs_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        NetSpec(**changes).check()


def test_ntk_kernel_carries_the_multipliers():
    """Scaling sigma_w and sigma_b together by t scales a bias-free relu net's kernel by
    t^(2 (depth + 1)) (each layer's output is t times larger, and so is each gradient)."""
    base = dict(width=8, depth=2, bias=False, parameterization="ntk")
    one = Ensemble(NetSpec(**base), count=2, seed=0, dtype=torch.float64)
    two = Ensemble(NetSpec(**base, sigma_w=2.0), count=2, seed=0, dtype=torch.float64)
    torch.testing.assert_close(
        ntk_layerwise(two, X1), 2.0**6 * ntk_layerwise(one, X1), rtol=1e-12, atol=0
    )


@pytest.mark.parametrize(
    "spec,alphas",
    [
        (
            NetSpec(
                width=9,
                depth=3,
                activation="tanh",
                zero_output=True,
                parameterization="ntk",
                **SIGMAS,
            ),
            [0.1, 1.0, 7.0],
        ),
        (
            NetSpec(width=8, depth=1, bias=False, alpha=2.0, parameterization="ntk", sigma_w=0.7),
            None,
        ),
        (NetSpec(width=7, depth=2, activation="gelu", parameterization="ntk", sigma_b=0.0), None),
        (NetSpec(width=7, depth=2, activation="erf", parameterization="ntk", **SIGMAS), None),
    ],
)
def test_ntk_hand_written_gradient_equals_autograd(spec, alphas):
    ensemble = Ensemble(spec, count=3, seed=2, dtype=torch.float64, alphas=alphas)
    x = torch.tensor([-2.0, 0.5, 1.0], **F64)
    y = torch.tensor([3.0, -1.0, 2.0], **F64)
    params = [p.clone().requires_grad_(True) for p in ensemble.params]
    loss = mse_loss(ensemble, x, y, params)
    grads = torch.autograd.grad(loss.sum(), params)
    ours_loss, ours = mse_loss_and_gradient(ensemble, ensemble.params, x, y)
    reuse = MseGradient()
    reuse(ensemble, ensemble.params, x[:2], y[:2])  # other data: what it prepared is redone
    again_loss, factors = reuse(ensemble, ensemble.params, x, y)
    assert all(isinstance(g, Outer) for g in factors[:: 2 if spec.bias else 1])
    again = [g.dense() if isinstance(g, Outer) else g for g in factors]
    torch.testing.assert_close(ours_loss, loss.detach(), rtol=1e-13, atol=0)
    torch.testing.assert_close(again_loss, loss.detach(), rtol=1e-13, atol=0)
    for g, a, b in zip(grads, ours, again, strict=True):
        torch.testing.assert_close(a, g, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(b, g, rtol=1e-12, atol=1e-14)


def test_ntk_training_with_the_hand_written_gradient_follows_autograd():
    spec = NetSpec(width=10, depth=2, zero_output=True, parameterization="ntk", **SIGMAS)
    x, y = torch.tensor([-2.0, 0.5], **F64), torch.tensor([3.0, -1.0], **F64)
    runs = []
    for gradient in (None, MseGradient()):
        ensemble = Ensemble(spec, count=3, seed=5, dtype=torch.float64, alphas=[0.5, 1.0, 5.0])
        runs.append(train(ensemble, x, y, lr=1e-2, steps=60, snapshot_every=20, gradient=gradient))
    np.testing.assert_allclose(runs[1].loss, runs[0].loss, rtol=1e-9)
    assert (runs[0].loss[-1] < runs[0].loss[0]).all()
