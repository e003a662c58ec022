"""Batched ensembles and their training against PyTorch's own modules and optimiser."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ntkviz.errors import ConfigError, DivergenceError
from ntkviz.numerics.dynamics import Outer, descend, mse_loss, relative_change, train
from ntkviz.numerics.nets import Ensemble, NetSpec, check_fits, init_member, member_seed
from ntkviz.numerics.ntk_empirical import MseGradient

X = torch.tensor([-3.0, 0.5], dtype=torch.float64)
Y = torch.tensor([2.0, -1.0], dtype=torch.float64)


@pytest.mark.parametrize(
    "spec",
    [
        NetSpec(width=8, depth=2),
        NetSpec(width=6, depth=3, activation="tanh", bias=False),
        NetSpec(width=5, depth=1, zero_output=True, alpha=3.0, init="lecun"),
    ],
)
def test_batched_training_equals_modules_trained_one_by_one(spec):
    ensemble = Ensemble(spec, count=3, seed=11, dtype=torch.float64)
    modules = ensemble.member_modules()
    frozen = [m.__class__(*list(m)) for m in ensemble.member_modules()]  # copies at w0
    lr, steps = 1e-2, 25
    trajectory = train(ensemble, X, Y, lr=lr, steps=steps)
    for k, (module, start) in enumerate(zip(modules, frozen)):
        optimiser = torch.optim.SGD(module.parameters(), lr=lr)
        losses = []
        with torch.no_grad():
            offset = start(X[:, None]).squeeze(-1) if spec.zero_output else 0.0
        for step in range(steps + 1):
            out = module(X[:, None]).squeeze(-1)
            if spec.zero_output:
                out = spec.alpha * (out - offset)
            loss = ((out - Y) ** 2).mean() / spec.alpha**2
            losses.append(loss.item())
            if step == steps:
                break
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        np.testing.assert_allclose(trajectory.loss[:, k], losses, rtol=1e-10)
        grid = torch.linspace(-4, 4, 9, dtype=torch.float64)
        with torch.no_grad():
            expected = module(grid[:, None]).squeeze(-1)
            if spec.zero_output:
                expected = spec.alpha * (expected - start(grid[:, None]).squeeze(-1))
        torch.testing.assert_close(ensemble(grid)[k].detach(), expected)


def test_member_k_does_not_depend_on_ensemble_size():
    small = Ensemble(NetSpec(width=7), count=3, seed=5)
    large = Ensemble(NetSpec(width=7), count=10, seed=5)
    for a, b in zip(small.params, large.params):
        torch.testing.assert_close(a, b[:3], rtol=0, atol=0)
    other_seed = Ensemble(NetSpec(width=7), count=3, seed=6)
    assert not torch.equal(small.params[0], other_seed.params[0])


def test_pytorch_init_matches_nn_linear_bounds():
    spec = NetSpec(width=400, depth=2)
    params = init_member(spec, member_seed(0, 0))
    for (fan_in, _), weight in zip(spec.layer_sizes, params[::2]):
        bound = 1 / math.sqrt(fan_in)
        assert weight.abs().max() <= bound
        # uniform on [-b, b] has standard deviation b / sqrt(3)
        if weight.numel() > 1000:
            assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_lecun_init_variance():
    params = init_member(NetSpec(width=500, depth=2, init="lecun"), 1)
    assert params[2].std().item() == pytest.approx(1 / math.sqrt(500), rel=0.02)
    assert torch.count_nonzero(params[1]) == 0


def test_zeroed_output_is_zero_at_init_and_scaled():
    spec = NetSpec(width=10, zero_output=True, alpha=7.0)
    ensemble = Ensemble(spec, count=4, seed=2)
    assert torch.count_nonzero(ensemble(torch.linspace(-2, 2, 5))) == 0


def test_early_stop_per_member_and_relative_change():
    ensemble = Ensemble(NetSpec(width=50), count=2, seed=0, dtype=torch.float64)
    trajectory = train(ensemble, X, Y, lr=5e-2, steps=400, stop_below=1e-3)
    assert trajectory.loss[-1].max() < 1e-3
    assert (trajectory.stopped < 400).all()
    assert (relative_change(ensemble) > 0).all()


@pytest.mark.parametrize("masked", [False, True])
def test_fused_update_equals_dense_update(masked):
    """descend() with a factored gradient moves each weight exactly as ``W - lr * G`` does, and a
    masked-out member not at all."""
    gen = torch.Generator().manual_seed(4)
    weight = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
    grad = Outer(
        torch.randn(3, 5, 2, generator=gen, dtype=torch.float64),
        torch.randn(3, 2, 4, generator=gen, dtype=torch.float64),
        mult=0.5,
    )
    mask = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64) if masked else None
    expected = weight - 0.1 * grad.dense() * (1.0 if mask is None else mask.view(-1, 1, 1))
    descend(weight, grad, 0.1, mask)
    torch.testing.assert_close(weight, expected, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(
        grad.dense(), 0.5 * torch.bmm(grad.left, grad.right), rtol=1e-15, atol=0
    )


def test_early_stop_with_the_hand_written_gradient_follows_autograd():
    runs = []
    for gradient in (None, MseGradient()):
        ensemble = Ensemble(NetSpec(width=30), count=3, seed=1, dtype=torch.float64)
        runs.append(train(ensemble, X, Y, lr=5e-2, steps=300, stop_below=1e-2, gradient=gradient))
    np.testing.assert_array_equal(runs[1].stopped, runs[0].stopped)
    assert (runs[0].stopped < 300).any()
    np.testing.assert_allclose(runs[1].loss, runs[0].loss, rtol=1e-9, atol=1e-15)


def test_divergence_is_one_clear_error():
    ensemble = Ensemble(NetSpec(width=20), count=2, seed=0)
    with pytest.raises(DivergenceError, match=r"diverged at step \d+ .* --lr 50; try a smaller"):
        train(ensemble, X.float(), Y.float(), lr=50.0, steps=200)


def test_memory_check_refuses_with_estimate():
    with pytest.raises(ConfigError, match=r"need about [\d.]+ GiB .* the limit is"):
        check_fits(NetSpec(width=10**6), count=100, points=2)


def test_loss_is_post_half_squared_norm():
    ensemble = Ensemble(NetSpec(width=5), count=1, seed=0, dtype=torch.float64)
    out = ensemble(X)[0]
    assert mse_loss(ensemble, X, Y).item() == pytest.approx(0.5 * ((out - Y) ** 2).sum().item())


@pytest.mark.parametrize("shape", [(3, 40, 1), (3, 1, 40), (3, 40, 30), (3, 1, 1)])
@pytest.mark.parametrize("masked", [False, True])
def test_descend_with_an_outer_gradient_is_the_dense_step(shape, masked):
    """descend() applies a factored (rank-N) gradient in place, a first-layer column weight by
    its transpose: the same as subtracting the formed gradient, with the stopped members kept."""
    generator = torch.Generator().manual_seed(0)
    count, out, inn = shape
    param = torch.randn(shape, generator=generator, dtype=torch.float64)
    grad = Outer(
        torch.randn(count, out, 5, generator=generator, dtype=torch.float64),
        torch.randn(count, 5, inn, generator=generator, dtype=torch.float64),
        mult=0.7,
    )
    mask = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64) if masked else None
    expected = param - 0.01 * grad.dense() * (1.0 if mask is None else mask.view(-1, 1, 1))
    descend(param, grad, 0.01, mask)
    torch.testing.assert_close(param, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("width", [10, 300, 1000, 3000])
@pytest.mark.parametrize("count", [1, 2, 3, 5, 10, 17, 100])
def test_cache_groups_cover_the_members_in_groups_of_two_or_more(width, count):
    from ntkviz.numerics.nets import CACHE_BYTES, cache_groups

    spec = NetSpec(width=width, depth=2)
    groups = cache_groups(spec, count)
    assert [m for g in groups for m in g] == list(range(count))  # consecutive, all, once
    per_net = 4 * spec.parameter_count
    for group in groups:
        assert len(group) >= min(2, count)
        assert len(group) == 1 or len(group) * per_net <= max(2 * CACHE_BYTES, 3 * per_net)
    assert cache_groups(spec, count, device="cuda") == [list(range(count))]
