"""The empirical tangent kernel: the fast layer-wise formula and the torch.func path against a
plain per-sample autograd loop (the oracle), its symmetry, positivity and output scaling, and the
hand-written loss gradient against autograd."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from ntkviz.errors import DivergenceError
from ntkviz.numerics.dynamics import Outer, mse_loss, train
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_empirical import (
    MseGradient,
    empirical_ntk,
    jacobian_kernel,
    mse_loss_and_gradient,
    ntk_jacobian,
    ntk_layerwise,
)

F64 = dict(dtype=torch.float64)
X1 = torch.tensor([-2.0, -0.7, 0.0, 0.5, 1.9], **F64)
X2 = torch.tensor([-1.3, 0.2, 0.9, 3.0], **F64)


def loop_kernel(ensemble: Ensemble, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """The oracle: for every member, one backward pass per input through PyTorch's own
    nn.Sequential, the gradients flattened into rows of J, then alpha^2 J(x1) J(x2)^T."""
    alphas = (
        ensemble.alphas
        if ensemble.alphas is not None
        else torch.full((ensemble.count,), ensemble.spec.alpha, **F64)
    )
    kernels = []
    for k, module in enumerate(ensemble.member_modules()):
        params = list(module.parameters())

        def jacobian(xs, module=module, params=params):
            rows = []
            for x in xs:
                out = module(x.reshape(1, 1)).squeeze()
                grads = torch.autograd.grad(out, params)
                rows.append(torch.cat([g.reshape(-1) for g in grads]))
            return torch.stack(rows)

        kernels.append(alphas[k] ** 2 * jacobian(x1) @ jacobian(x2).T)
    return torch.stack(kernels)


CASES = list(
    itertools.product(
        (1, 2, 3), ("relu", "tanh"), (True, False), (False, True), ("standard", "ntk")
    )
)
#: NetSpec settings per parameterisation (the ntk one with non-trivial multipliers).
PARAMETERIZATION = {"standard": {}, "ntk": dict(parameterization="ntk", sigma_w=1.3, sigma_b=0.6)}


@pytest.mark.parametrize(
    "depth,activation,bias,zeroed,parameterization",
    CASES,
    ids=[
        f"d{d}-{a}-{'bias' if b else 'nobias'}-{'zeroed' if z else 'plain'}-{p}"
        for d, a, b, z, p in CASES
    ],
)
def test_fast_and_torch_func_kernels_equal_the_per_sample_loop(
    depth, activation, bias, zeroed, parameterization
):
    spec = NetSpec(
        width=6,
        depth=depth,
        activation=activation,
        bias=bias,
        zero_output=zeroed,
        alpha=1.0 if zeroed else 2.5,
        **PARAMETERIZATION[parameterization],
    )
    alphas = [0.3, 1.0, 7.0] if zeroed else None
    ensemble = Ensemble(spec, count=3, seed=4, dtype=torch.float64, alphas=alphas)
    # Move away from initialisation, so that zeroing has something to subtract (by autograd, or
    # by the hand-written gradient for the ntk nets, so that both training paths are exercised).
    gradient = MseGradient() if parameterization == "ntk" else None
    y = torch.tensor([1.0, -1.0], **F64)
    train(ensemble, X1[:2], y, lr=1e-2, steps=5, gradient=gradient)
    expected = loop_kernel(ensemble, X1, X2)  # member_modules: F.linear(x, c W, s b) for ntk
    torch.testing.assert_close(ntk_layerwise(ensemble, X1, X2), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ntk_jacobian(ensemble, X1, X2), expected, rtol=1e-12, atol=1e-12)
    square = loop_kernel(ensemble, X1, X1)
    torch.testing.assert_close(empirical_ntk(ensemble, X1), square, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        empirical_ntk(ensemble, X1, method="jacobian"), square, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("activation", ["erf", "sigmoid", "gelu", "softplus", "sin"])
def test_other_activations_agree_with_torch_func(activation):
    ensemble = Ensemble(
        NetSpec(width=5, depth=2, activation=activation), count=2, seed=1, dtype=torch.float64
    )
    torch.testing.assert_close(
        ntk_layerwise(ensemble, X1, X2), ntk_jacobian(ensemble, X1, X2), rtol=1e-12, atol=1e-12
    )


def test_kernel_is_symmetric_and_positive_semidefinite():
    ensemble = Ensemble(NetSpec(width=20, depth=2), count=4, seed=0, dtype=torch.float64)
    x = torch.linspace(-3, 3, 9, **F64)
    kernel = empirical_ntk(ensemble, x)
    assert kernel.shape == (4, 9, 9)
    torch.testing.assert_close(kernel, kernel.transpose(1, 2), rtol=0, atol=1e-12)
    eigenvalues = torch.linalg.eigvalsh(kernel)
    assert (eigenvalues > -1e-10 * eigenvalues.abs().max()).all()


def test_scaled_kernel_is_alpha_squared_times_unscaled_and_zeroing_changes_nothing():
    plain = Ensemble(NetSpec(width=12, depth=2), count=3, seed=9, dtype=torch.float64)
    zeroed = Ensemble(
        NetSpec(width=12, depth=2, zero_output=True), count=3, seed=9, dtype=torch.float64
    )
    scalar = Ensemble(
        NetSpec(width=12, depth=2, zero_output=True, alpha=4.0),
        count=3,
        seed=9,
        dtype=torch.float64,
    )
    alphas = torch.tensor([0.01, 3.0, 50.0], **F64)
    vector = Ensemble(
        NetSpec(width=12, depth=2, zero_output=True),
        count=3,
        seed=9,
        dtype=torch.float64,
        alphas=alphas,
    )
    base = empirical_ntk(plain, X1, X2)
    torch.testing.assert_close(empirical_ntk(zeroed, X1, X2), base, rtol=0, atol=0)
    torch.testing.assert_close(empirical_ntk(scalar, X1, X2), 16.0 * base, rtol=1e-14, atol=0)
    torch.testing.assert_close(
        empirical_ntk(vector, X1, X2), alphas.view(-1, 1, 1) ** 2 * base, rtol=1e-14, atol=0
    )


def test_jacobian_kernel_of_a_model_linear_in_its_parameters():
    # f(w, x) = w0 x + w1 x^2: J(x) = (x, x^2), so Theta(x, x') = x x' + x^2 x'^2 for every member.
    def model(params, x):
        (w,) = params
        return w[0] * x + w[1] * x**2

    params = [torch.randn(3, 2, **F64)]
    kernel = jacobian_kernel(model, params, X1, X2)
    expected = torch.outer(X1, X2) + torch.outer(X1**2, X2**2)
    torch.testing.assert_close(kernel, expected.expand(3, -1, -1), rtol=1e-14, atol=1e-14)


def test_non_finite_kernel_is_a_divergence_error():
    ensemble = Ensemble(NetSpec(width=5), count=3, seed=0, dtype=torch.float64)
    ensemble.params[2][1, 0, 0] = float("nan")
    with pytest.raises(DivergenceError, match="tangent kernel of net 1 is not finite"):
        empirical_ntk(ensemble, X1)
    with pytest.raises(ValueError, match="method must be one of"):
        empirical_ntk(ensemble, X1, method="magic")


@pytest.mark.parametrize(
    "spec,alphas",
    [
        (NetSpec(width=9, depth=3, activation="tanh", zero_output=True), [0.1, 1.0, 7.0]),
        (NetSpec(width=8, depth=1, bias=False, alpha=2.0), None),
        (NetSpec(width=7, depth=2, activation="gelu"), None),
    ],
)
def test_hand_written_gradient_equals_autograd(spec, alphas):
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


def test_training_with_the_hand_written_gradient_follows_autograd():
    spec = NetSpec(width=10, depth=2, zero_output=True)
    x, y = torch.tensor([-2.0, 0.5], **F64), torch.tensor([3.0, -1.0], **F64)
    runs = []
    for gradient in (None, MseGradient()):
        ensemble = Ensemble(spec, count=3, seed=5, dtype=torch.float64, alphas=[0.5, 1.0, 5.0])
        runs.append(train(ensemble, x, y, lr=1e-2, steps=60, snapshot_every=20, gradient=gradient))
    np.testing.assert_allclose(runs[1].loss, runs[0].loss, rtol=1e-9)
    np.testing.assert_array_equal(runs[1].steps, [0, 20, 40, 60])


def test_kernel_bench_runs_at_a_tiny_size():
    from bench import bench_kernels
    from bench.common import check_row

    (row,) = bench_kernels.run(repeat=1, width=20, depth=2, inputs=5)
    check_row(row)
    assert row["ours_s"] > 0 and row["naive_s"] > 0 and "torch.func" in row["extra"]
