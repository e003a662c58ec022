"""The kernel at initialisation drawn through the hidden layers' products (ntkviz.numerics.ntk_sampler):
by construction, a real net's products give that net's kernel; in law, the sampled kernels'
means and variances are real nets'; where no layer is sampled, the draws are the Ensemble's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ntkviz.numerics import ntk_sampler
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_empirical import kernel_memory, ntk_layerwise
from ntkviz.numerics.ntk_sampler import (
    Draws,
    draw,
    sampled,
    sampled_flops,
    sampled_memory,
    sampled_ntk,
    tangent_kernels,
)

SPECS = [
    dict(depth=2, activation="relu", sigma_w=1.3, sigma_b=0.7),
    dict(depth=3, activation="erf", bias=False),
    dict(depth=3, activation="tanh", parameterization="standard", init="lecun"),
    dict(depth=2, activation="gelu", input_dim=2, alpha=0.3),
]


class RealNet(Draws):
    """A real net's weights as the sampler's numbers: every layer the sampler would draw whole is
    the net's W; a sampled one gets G1 = W Q (Q of its inputs) and G2 = Q_D^T W (Q_D of its
    derivatives), from which the sampler rebuilds W H = G1 R and D^T W exactly."""

    def __init__(self, nets: Ensemble, points: int) -> None:
        spec = nets.spec
        step = 2 if spec.bias else 1
        layers = len(spec.layer_sizes)
        self.weights = [nets.params[step * j] for j in range(layers)]
        which = sampled(spec, points)
        biases = [
            nets.params[step * j + 1] if spec.bias and spec.parameterization == "ntk" else None
            for j in range(layers)
        ]
        whole = [None if s else w for s, w in zip(which, self.weights, strict=True)]
        super().__init__(whole, [None] * layers, [None] * layers, biases, needs_q_delta=True)

    def g1(self, j, q):
        return torch.bmm(self.weights[j], q)

    def g2(self, j, q_delta):
        return torch.bmm(q_delta.transpose(1, 2), self.weights[j])


def _inputs(spec, n, seed):
    generator = torch.Generator().manual_seed(seed)
    shape = (n,) if spec.input_dim == 1 else (n, spec.input_dim)
    return torch.randn(shape, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("options", SPECS)
def test_a_real_nets_products_give_that_nets_kernel(options):
    spec = NetSpec(width=200, parameterization=options.pop("parameterization", "ntk"), **options)
    x1, x2 = _inputs(spec, 3, 1), _inputs(spec, 4, 2)
    assert any(sampled(spec, 7))  # the hidden 200 x 200 layers are sampled at 7 points
    nets = Ensemble(spec, 3, seed=11, dtype=torch.float64, keep_initial=False)
    expected = ntk_layerwise(nets, x1, x2)
    got = tangent_kernels(spec, RealNet(nets, 7), x1, x2)
    assert got.shape == (3, 3, 4)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10 * expected.abs().max())
    square = tangent_kernels(spec, RealNet(nets, 3), x1)  # x2 = None: Theta(x1, x1)
    torch.testing.assert_close(square, ntk_layerwise(nets, x1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_where_no_layer_is_sampled_the_draws_are_the_ensembles_nets(parameterization, dtype):
    spec = NetSpec(width=20, depth=2, parameterization=parameterization, init="lecun")
    assert not any(sampled(spec, 10))
    draws = draw(spec, [0, 1, 2], 5, 10, dtype)
    nets = Ensemble(spec, 3, 5, dtype=dtype, keep_initial=False)
    step = 2 if parameterization == "ntk" else 1  # lecun's zero biases are not drawn
    for weight, param in zip(draws.weight, nets.params[::2], strict=True):
        assert torch.equal(weight, param)
    for bias, param in zip(draws.bias, nets.params[1::2], strict=True):
        assert (bias is None) == (step == 1)
        assert bias is None or torch.equal(bias, param)
    x = torch.linspace(-2, 2, 10, dtype=dtype)
    torch.testing.assert_close(tangent_kernels(spec, draws, x), ntk_layerwise(nets, x))


def _z_scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The largest |z| over entries of the difference of two samples' means, and of their
    variances (standard error of a variance from the fourth central moment)."""
    count = a.shape[0]
    z_mean = (a.mean(0) - b.mean(0)) / np.sqrt((a.var(0) + b.var(0)) / count)

    def variance(x):
        d = x - x.mean(0)
        return (d**2).mean(0), ((d**4).mean(0) - (d**2).mean(0) ** 2) / count

    (va, sa), (vb, sb) = variance(a), variance(b)
    return float(np.abs(z_mean).max()), float(np.abs((va - vb) / np.sqrt(sa + sb)).max())


@pytest.mark.parametrize(
    "options",
    [
        dict(depth=2, activation="relu"),
        dict(depth=3, activation="erf", bias=False, sigma_w=1.5),
        dict(depth=2, activation="tanh", parameterization="standard", init="lecun"),
    ],
)
def test_sampled_kernels_have_the_mean_and_variance_of_real_nets(options):
    """4000 sampled kernels against 4000 real nets' at width 48 and 4 inputs (the hidden layers
    sampled): every entry's mean and variance agree within 4.5 standard errors (measured: at
    most 2.2). Leaving out the projection (I - Q Q^T) gives 14.6 (erf), R_D 18 and more."""
    parameterization = options.pop("parameterization", "ntk")
    spec = NetSpec(width=48, parameterization=parameterization, **options)
    x = torch.tensor([-1.5, -0.2, 0.4, 2.0], dtype=torch.float64)
    assert sampled(spec, 4)[1]
    count, upper = 4000, np.triu_indices(4)
    ours = sampled_ntk(spec, count, 1, x, dtype=torch.float64).numpy()[:, upper[0], upper[1]]
    nets = Ensemble(spec, count, 2, dtype=torch.float64, keep_initial=False)
    real = ntk_layerwise(nets, x).numpy()[:, upper[0], upper[1]]
    z_mean, z_variance = _z_scores(ours, real)
    assert z_mean < 4.5 and z_variance < 4.5, (z_mean, z_variance)


def test_member_k_does_not_depend_on_the_count():
    spec = NetSpec(width=300, depth=2, parameterization="ntk")
    x0, grid = torch.tensor([0.5]), torch.linspace(-3, 3, 11)
    assert sampled(spec, 12) == [False, True, False]
    five = sampled_ntk(spec, 5, 3, x0, grid)
    assert torch.equal(five[:2], sampled_ntk(spec, 2, 3, x0, grid))


@pytest.mark.parametrize("seed", range(5))
def test_the_qrs_signs_are_fixed_so_float32_and_float64_draw_the_same_kernels(seed):
    """The same draws in either dtype give the same kernels to float32's rounding, as real
    nets do, when the inputs are well-conditioned (10 points): the QRs' signs are fixed (R's
    diagonal >= 0). Householder QR picks a column's sign from rounding where a diagonal entry
    is small: without the fix seeds 0 and 3 differ by 7e-4 and 1e-4 (a column of G2 used with
    the other sign)."""
    spec = NetSpec(width=400, depth=3, parameterization="ntk")
    x = torch.cat([torch.tensor([-0.8]), torch.linspace(-3, 3, 9)]).double()
    assert sampled(spec, 10) == [False, True, True, False]
    single = tangent_kernels(spec, draw(spec, [0, 1, 2], seed, 10), x.float()).double()
    double = tangent_kernels(spec, draw(spec, [0, 1, 2], seed, 10, torch.float64), x)
    assert float((single - double).abs().max() / double.abs().max()) < 1e-6


def test_a_sampled_net_is_computed_in_float64_whatever_the_dtype():
    """At 122 points over [-3, 3] the relu features are nearly rank-deficient and float32's
    rounding would move the drawn kernels by about 1/width (measured: 1.6e-3 in the spread of
    the ntk-convergence dtype test): sampled nets are float64 in either dtype, the same kernels."""
    spec = NetSpec(width=1000, depth=2, parameterization="ntk")
    x0, grid = torch.tensor([0.5]), torch.linspace(-3, 3, 121)
    assert sampled(spec, 122)[1]
    single = sampled_ntk(spec, 2, 0, x0, grid)
    double = sampled_ntk(spec, 2, 0, x0.double(), grid.double(), torch.float64)
    assert single.dtype == torch.float32 and double.dtype == torch.float64
    assert torch.equal(single, double.float())
    draws = draw(spec, [0, 1], 0, 122)  # float32 all through: the same law, other kernels
    in_float32 = tangent_kernels(spec, draws, x0, grid).double()
    assert float((in_float32 - double).abs().max() / double.abs().max()) > 1e-5


def test_which_layers_are_sampled_and_what_they_cost():
    spec = NetSpec(width=10_000, depth=3, parameterization="ntk")
    assert sampled(spec, 122) == [False, True, True, False]
    assert sampled(NetSpec(width=316, parameterization="ntk"), 122) == [False] * 3
    # a whole 10^4 x 10^4 layer is 10^8 draws; sampled, 2 x 10^4 x 122
    draws = draw(NetSpec(width=1000, parameterization="ntk"), [0], 0, 122)
    assert draws.forward[1].shape == (1, 1000, 122) and draws.backward[1].shape == (1, 122, 1000)
    assert draws.weight[1] is None and draws.weight[0].shape == (1, 1000, 1)
    assert sampled_memory(spec, 8, 122) < kernel_memory(spec, 8, 122) / 2
    assert sampled_flops(spec, 8, 122) < 8 * 4 * 122 * spec.parameter_count / 10


def test_non_gaussian_weights_are_refused():
    spec = NetSpec(width=100, parameterization="standard", init="pytorch")
    with pytest.raises(ValueError, match="Gaussian weights"):
        sampled_ntk(spec, 2, 0, torch.linspace(-1, 1, 5))
    assert ntk_sampler.SAMPLE_ABOVE >= 1


def test_rank_deficient_inputs_real_nets_products_still_give_that_nets_kernel():
    """Repeated inputs make H and D rank-deficient (equal columns): the dependent columns are
    set aside and the kernel is still the real net's to 1e-10."""
    spec = NetSpec(width=200, depth=3, parameterization="ntk")
    x1 = torch.tensor([0.3, 0.3, -1.0], dtype=torch.float64)
    x2 = torch.tensor([0.3, 2.0, -1.0, 2.0], dtype=torch.float64)
    nets = Ensemble(spec, 3, seed=4, dtype=torch.float64, keep_initial=False)
    expected = ntk_layerwise(nets, x1, x2)
    got = tangent_kernels(spec, RealNet(nets, 7), x1, x2)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10 * expected.abs().max())


@pytest.mark.parametrize("depth", [2, 3])
def test_the_draws_do_not_move_with_rounding_of_nearly_rank_deficient_inputs(depth):
    """relu features over ntk-convergence's grid (122 points) are rank-deficient (intervals
    without a kink): inputs moved by 1e-14 move the kernels by under 1e-9 (measured: 5e-11).
    A plain QR takes directions from rounding there: DEPENDENT = 0 moves them by 1e-2 and 2e-2,
    as the code path does (pinned MKL against its default: 0.6 % in the width-1000 spread)."""
    spec = NetSpec(width=1000, depth=depth, parameterization="ntk")
    x = torch.tensor(np.concatenate([[0.5], np.linspace(-3, 3, 121)]))
    draws = draw(spec, list(range(4)), 0, 122, torch.float64)
    kernels = tangent_kernels(spec, draws, x)
    moved = tangent_kernels(spec, draws, x * (1 + 1e-14))
    assert float((moved - kernels).abs().max() / kernels.abs().max()) < 1e-9
