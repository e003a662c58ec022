"""Nets on points of several coordinates (NetSpec.input_dim) and the readout-layer NNGP, against
independent routes: torch.func Jacobians and PyTorch's own modules."""

from __future__ import annotations

import pytest
import torch

from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_empirical import ntk_jacobian, ntk_layerwise, readout_nngp


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("dim", [1, 3])
def test_layerwise_kernel_of_d_dimensional_nets_matches_jacobians(parameterization, dim):
    spec = NetSpec(
        width=7, depth=2, activation="tanh", input_dim=dim, parameterization=parameterization
    )
    nets = Ensemble(spec, count=3, seed=5, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    x1 = torch.randn(4, dim, dtype=torch.float64, generator=generator)
    x2 = torch.randn(5, dim, dtype=torch.float64, generator=generator)
    if dim == 1:
        x1, x2 = x1[:, 0], x2[:, 0]
    torch.testing.assert_close(ntk_layerwise(nets, x1, x2), ntk_jacobian(nets, x1, x2))
    # and the outputs are PyTorch's modules' (the first layer's multiplier sigma_w / sqrt(d))
    for k, module in enumerate(nets.member_modules()):
        torch.testing.assert_close(nets(x1)[k], module(x1.reshape(4, dim)).squeeze(-1))


@pytest.mark.parametrize(
    "parameterization,init", [("ntk", "pytorch"), ("standard", "pytorch"), ("standard", "lecun")]
)
def test_readout_nngp_is_the_readout_variance_times_the_feature_kernel(parameterization, init):
    spec = NetSpec(
        width=6, depth=2, input_dim=2, parameterization=parameterization, init=init, sigma_w=1.5
    )
    nets = Ensemble(spec, count=2, seed=1, dtype=torch.float64)
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    kernel = readout_nngp(nets, x)
    if parameterization == "ntk":
        weight_var, bias_var = 1.5**2 / 6, 1.0
    else:
        weight_var, bias_var = (1 / 18, 1 / 18) if init == "pytorch" else (1 / 6, 0.0)
    for k, module in enumerate(nets.member_modules()):
        hidden = module[:-1](x)  # the last hidden layer's activations, (5, 6)
        expected = weight_var * hidden @ hidden.T + bias_var
        torch.testing.assert_close(kernel[k], expected)
