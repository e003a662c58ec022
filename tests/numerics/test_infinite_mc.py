"""The closed-form infinite-width kernels (ntkviz.numerics.ntk_analytic) against Monte-Carlo estimates from wide
finite nets in the NTK parameterisation (ntkviz.numerics.nets), as neural-tangents checks its
``monte_carlo_kernel_fn`` against its analytic ``kernel_fn``.

Two independent routes to the same numbers: the recursion of infinite.py on one side; random
N(0, 1) weights, the forward pass with the sigma_w / sqrt(fan_in) multipliers, and the empirical
tangent kernel's layer-wise formula (itself tested against autograd) on the other.

Tolerances scale with the sampling error. One net's kernel differs from the limit by a random part
of order 1/sqrt(width) (measured: max_ij |Theta - Theta_inf| / max |Theta_inf| up to about
7 / sqrt(width) for one net at width 4096 over relu/erf, depth 1-3, bias on/off) plus a bias of order
1/width; the mean over S independent nets divides the random part by sqrt(S) (measured, mean of 4
nets, 4 draws of the 12 cases: at most 5.1 / sqrt(width S)).
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

from ntkviz.numerics.nets import ACTIVATIONS, Ensemble, NetSpec
from ntkviz.numerics.ntk_analytic import infinite_nngp, infinite_ntk
from ntkviz.numerics.ntk_empirical import ntk_layerwise

X = np.array([-2.0, -0.5, 0.3, 1.0, 2.5])
SIGMAS = dict(sigma_w=1.2, sigma_b=0.8)

NTK_WIDTH, NTK_SEEDS = 4096, 4
NTK_TOLERANCE = 8.0  # in units of 1 / sqrt(width * seeds); measured worst 5.1


def with_activation(ensemble: Ensemble, name: str) -> Ensemble:
    """The same nets (the draws do not depend on the activation) with another activation:
    spares drawing width^2 weights again."""
    other = copy.copy(ensemble)
    other.spec = dataclasses.replace(ensemble.spec, activation=name)
    other.activation = ACTIVATIONS[name]
    return other


def test_draws_do_not_depend_on_the_activation():
    spec = NetSpec(width=9, depth=2, parameterization="ntk", **SIGMAS)
    relu = Ensemble(spec, count=2, seed=1)
    erf = Ensemble(dataclasses.replace(spec, activation="erf"), count=2, seed=1)
    for a, b in zip(relu.params, erf.params, strict=True):
        assert torch.equal(a, b)
    x = torch.tensor(X, dtype=torch.float32)
    assert torch.equal(with_activation(relu, "erf")(x), erf(x))


@pytest.fixture(
    scope="module",
    params=[(d, b) for d in (1, 2, 3) for b in (True, False)],
    ids=lambda p: f"depth{p[0]}-{'bias' if p[1] else 'nobias'}",
)
def wide_nets(request):
    """NTK_SEEDS nets of width NTK_WIDTH as one float32 ensemble (drawn once per depth and bias)."""
    depth, bias = request.param
    spec = NetSpec(width=NTK_WIDTH, depth=depth, bias=bias, parameterization="ntk", **SIGMAS)
    return Ensemble(spec, count=NTK_SEEDS, seed=2024 + 10 * depth + bias, keep_initial=False)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_wide_net_tangent_kernel_matches_the_infinite_width_ntk(wide_nets, activation):
    ensemble = with_activation(wide_nets, activation)
    spec = ensemble.spec
    kernels = ntk_layerwise(ensemble, torch.tensor(X, dtype=torch.float32)).double().numpy()
    exact = infinite_ntk(X, depth=spec.depth, activation=activation, bias=spec.bias, **SIGMAS)
    scale = np.abs(exact).max()
    error = np.abs(kernels.mean(axis=0) - exact).max() / scale
    assert error < NTK_TOLERANCE / math.sqrt(NTK_WIDTH * NTK_SEEDS), error
    # And each net alone is within the single-net tolerance: the limit is approached by every
    # net, not only on average.
    single = np.abs(kernels - exact).max(axis=(1, 2)) / scale
    assert (single < 2 * NTK_TOLERANCE / math.sqrt(NTK_WIDTH)).all(), single


def test_a_standard_parameterised_net_does_not_match():
    """The check has teeth: the same widths in the standard parameterisation are far off."""
    spec = NetSpec(width=NTK_WIDTH, depth=1, init="lecun")
    ensemble = Ensemble(spec, count=2, seed=0, keep_initial=False)
    kernels = ntk_layerwise(ensemble, torch.tensor(X, dtype=torch.float32)).double().numpy()
    exact = infinite_ntk(X, depth=1, sigma_w=1.0, sigma_b=1.0)
    assert np.abs(kernels.mean(axis=0) - exact).max() / np.abs(exact).max() > 1.0


NNGP_WIDTH, NNGP_NETS = 256, 4000


@pytest.mark.parametrize("depth", [1, 2])
def test_output_covariance_over_many_nets_matches_the_nngp(depth):
    """The sample covariance (the mean is known to be 0) of the outputs of NNGP_NETS independent
    nets against Sigma from infinite_nngp. Each entry's standard error for Gaussian outputs is
    sqrt((S_ii S_jj + S_ij^2) / n); finite width adds a bias of order 1/width (measured about
    0.6 / width relative at width 16, depth 3), allowed as 2 / width. 4000 nets of width 256
    hold 1 GiB of float32 weights at depth 2."""
    spec = NetSpec(width=NNGP_WIDTH, depth=depth, parameterization="ntk", **SIGMAS)
    nets = Ensemble(spec, count=NNGP_NETS, seed=7 + depth, keep_initial=False)
    x = torch.tensor(X, dtype=torch.float32)
    for activation in ("relu", "erf"):
        with torch.no_grad():
            out = with_activation(nets, activation)(x).double().numpy()  # (n, 5)
        covariance = out.T @ out / NNGP_NETS
        exact = infinite_nngp(X, depth=depth, activation=activation, **SIGMAS)
        standard_error = np.sqrt((np.outer(np.diag(exact), np.diag(exact)) + exact**2) / NNGP_NETS)
        allowed = 5.0 * standard_error + 2.0 / NNGP_WIDTH * np.abs(exact).max()
        assert (np.abs(covariance - exact) < allowed).all(), (activation, covariance - exact)
