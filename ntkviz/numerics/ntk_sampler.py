"""The tangent kernel of nets at initialisation, drawn without their wide hidden weight matrices.

At initialisation a wide net's empirical kernel (:func:`ntkviz.numerics.ntk_empirical.ntk_layerwise`)
sees a hidden weight matrix W (out x in) only through two products at the N inputs: the forward
``W H`` (H: the layer's in x N inputs) and the backward ``D^T W`` (D: the out x N derivatives of
the output with respect to the layer's pre-activations). Drawing W costs out x in numbers and the
products O(out in N); this module draws the two products themselves, O((out + in) N) numbers and
O((out + in) N^2) work: at width 10^4 and 122 inputs, 80 times fewer draws.

Why that is exact (Gaussian conditioning), for W with iid N(0, v) entries, independent of the
layers below (which fix H) and above (which, with W H, fix D). Let Q (in x N) have orthonormal
columns spanning H's, chosen from H alone (:func:`_basis`), C = Q^T H (so H = Q C) and
P = Q Q^T, the projection onto a space holding H's columns. Then

- ``W Q = G1`` (out x N) has iid N(0, v) entries, so ``W H = G1 C``;
- ``D^T W = (D^T G1) Q^T + D^T W (I - P)``, and ``W (I - P)`` is independent of ``W Q`` (of D
  too, since D depends on W only through W H): given everything else its columns are iid
  N(0, v I_out) along I - P, so ``D^T W (I - P)`` has the law of ``F^T G2 (I - P)`` with
  D = Q_D F (Q_D from D alone, the same way: F^T F = D^T D) and G2 (N x in) iid N(0, v),
  independent of G1.

Layer by layer, forward then backward in order, with independent G1 and G2 for every sampled
layer, gives the joint law of every product the kernel uses, hence the kernel's law: the same
distribution as the kernels of real nets, not an approximation. Fed the G1 = W Q and
G2 = Q_D^T W of one real W, :func:`tangent_kernels` returns that net's kernel to rounding
(tests/numerics/test_ntk_sampler.py). The draws are the same nets whatever the code path only
where Q and Q_D move no more than H and D do: :func:`_basis` keeps rounding out of them where a
layer's inputs are rank-deficient, and :func:`sampled_ntk` computes sampled nets in float64.

A layer is drawn this way when its fan-in exceeds N (the decomposition needs in > N) and its
weights outnumber the draws that replace them :data:`SAMPLE_ABOVE` times over; the others
(the first and the readout layers, narrow hidden ones) are drawn as they are. Needs Gaussian
weights: the NTK parameterisation, or ``standard`` with ``init="lecun"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.numerics.blas import bmm
from ntkviz.numerics.nets import ACTIVATIONS, NetSpec, member_seed
from ntkviz.numerics.ntk_empirical import _derivative

#: A column of a layer's inputs (or derivatives) that keeps less than this fraction of its norm
#: outside the columns before it counts as dependent (:func:`_basis`): in float64 rounding
#: leaves about 1e-16 of an exactly dependent column, a kink 1e-9 of a grid step from a point
#: about 1e-9 of an independent one.
DEPENDENT = 1e-9
#: The same for float32 (:func:`tangent_kernels` on float32 draws; :func:`sampled_ntk` computes
#: sampled nets in float64).
DEPENDENT_FLOAT32 = 1e-4

#: A layer is sampled through its products when its out x in weights are at least this many
#: times the (out + in) x N numbers drawn instead (the QRs' work then pays for itself).
SAMPLE_ABOVE = 4


def sampled(spec: NetSpec, points: int) -> list[bool]:
    """Which dense layers (input to output) are drawn through their products at ``points``
    inputs: fan-in above ``points`` and out x in >= SAMPLE_ABOVE (out + in) points."""
    return [
        fan_in > points and fan_in * fan_out >= SAMPLE_ABOVE * (fan_in + fan_out) * points
        for fan_in, fan_out in spec.layer_sizes
    ]


def _weight_scales(spec: NetSpec) -> list[float]:
    """The standard deviation v^(1/2) of each layer's weight entries: 1 (ntk), 1 / sqrt(fan_in)
    (``standard`` with ``lecun``)."""
    if spec.parameterization == "ntk":
        return [1.0] * len(spec.layer_sizes)
    if spec.init != "lecun":
        raise ValueError(
            "the sampled kernel needs Gaussian weights: parameterization='ntk' or init='lecun' "
            f"(got {spec.parameterization!r} with init={spec.init!r})"
        )
    return [fan_in**-0.5 for fan_in, _ in spec.layer_sizes]


@dataclass
class Draws:
    """Every member's random numbers, stacked (K, ...), with the weights' own scale: for each
    layer j, ``weight[j]`` (K, out, in) if drawn as it is, else ``forward[j]`` (K, out, N) = G1
    and ``backward[j]`` (K, N, in) = G2; ``bias[j]`` (K, out), or None where there is no bias
    or it starts at 0 (``lecun``: still a parameter of the kernel).

    :func:`tangent_kernels` asks for G1 and G2 through :meth:`g1` and :meth:`g2`, given the Q
    of the layer's inputs and of its derivatives: iid numbers that ignore them here; a real
    net's W Q and Q_D^T W in the test that proves the construction."""

    weight: list[torch.Tensor | None]
    forward: list[torch.Tensor | None]
    backward: list[torch.Tensor | None]
    bias: list[torch.Tensor | None]
    #: whether :meth:`g2` reads Q_D (else only R_D is computed where it is enough)
    needs_q_delta: bool = False

    def g1(self, j: int, q: torch.Tensor) -> torch.Tensor:
        """G1 (K, out, N) of layer j, given Q (K, in, N) of its inputs."""
        return self.forward[j]

    def g2(self, j: int, q_delta: torch.Tensor) -> torch.Tensor:
        """G2 (K, N, in) of layer j, given Q_D (K, out, N) of its derivatives."""
        return self.backward[j]


def draw(
    spec: NetSpec,
    members: list[int],
    seed: int,
    points: int,
    dtype=torch.float32,
    device: str = "cpu",
) -> Draws:
    """Member k's numbers from a generator seeded by ``member_seed(seed, k)`` (member k does not
    depend on the others drawn), in a fixed order: layer by layer its weight (or G1) and bias,
    then G2 of each sampled layer. Drawn as :class:`ntkviz.numerics.nets.Ensemble` draws its
    parameters (ntk: float32 N(0, 1), cast; lecun: float64 N(0, 1 / fan_in), cast; the same
    numbers in either dtype), so where no layer is sampled they are the Ensemble's nets."""
    which = sampled(spec, points)
    stds = _weight_scales(spec)
    gaussian_bias = spec.bias and spec.parameterization == "ntk"
    shapes = []  # (shape, std) in drawing order
    for (fan_in, fan_out), sample, std in zip(spec.layer_sizes, which, stds, strict=True):
        shapes.append(((fan_out, points) if sample else (fan_out, fan_in), std))
        if gaussian_bias:
            shapes.append(((fan_out,), 1.0))
    shapes += [((points, size[0]), std) for size, s, std in zip(spec.layer_sizes, which, stds) if s]
    ntk = spec.parameterization == "ntk"
    stacked = [
        torch.empty((len(members), *shape), dtype=torch.float32 if ntk else dtype)
        for shape, _ in shapes
    ]
    for slot, k in enumerate(members):
        generator = torch.Generator().manual_seed(member_seed(seed, k))
        for tensor, (shape, std) in zip(stacked, shapes, strict=True):
            if ntk:  # straight into the stacked float32 tensor
                tensor[slot].normal_(0.0, 1.0, generator=generator)
            else:
                number = torch.empty(shape, dtype=torch.float64)
                tensor[slot] = number.normal_(0.0, std, generator=generator)
    parts = iter([t.to(device=device, dtype=dtype) for t in stacked])
    layers = len(which)
    weight, forward, backward, bias = ([None] * layers for _ in range(4))
    for j, sample in enumerate(which):
        (forward if sample else weight)[j] = next(parts)
        if gaussian_bias:
            bias[j] = next(parts)
    for j, sample in enumerate(which):
        if sample:
            backward[j] = next(parts)
    return Draws(weight, forward, backward, bias)


def tangent_kernels(
    spec: NetSpec,
    draws: Draws,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
) -> torch.Tensor:
    """The tangent kernel Theta_k(x1, x2) of the nets whose numbers are ``draws``: (K, N1, N2),
    alpha^2 included, as :func:`ntkviz.numerics.ntk_empirical.ntk_layerwise` computes it from
    the nets' parameters (the same formula; x2=None meaning x1). The features are computed at
    the N = N1 + N2 inputs together (``draws`` must be for those N)."""
    spec.check()
    inputs = x1 if x2 is None else torch.cat([x1, x2])
    scales = spec.layer_scales()
    activation = ACTIVATIONS[spec.activation]
    first = next(t for t in (draws.weight + draws.forward) if t is not None)
    count = first.shape[0]
    h = inputs.to(first.dtype).reshape(1, -1, spec.input_dim).expand(count, -1, -1)
    layers = len(spec.layer_sizes)
    hs, zs, qs = [], [], []
    for j, (w_mult, b_mult) in enumerate(scales):
        hs.append(h)
        if draws.weight[j] is not None:
            z = bmm(h, draws.weight[j].transpose(1, 2)).mul_(w_mult)
            qs.append(None)
        else:  # W H = G1 C, with H = Q C
            q, coords = _basis(h.transpose(1, 2))
            z = bmm(coords.transpose(1, 2), draws.g1(j, q).transpose(1, 2)).mul_(w_mult)
            qs.append(q)
        if draws.bias[j] is not None:
            z.add_(draws.bias[j].unsqueeze(1), alpha=b_mult)
        zs.append(z)
        if j < layers - 1:
            h = activation(z)
    delta = torch.ones(count, h.shape[1], 1, dtype=h.dtype, device=h.device)
    deltas = [delta]
    for j in range(layers - 1, 0, -1):
        mult = scales[j][0]
        back = _backward(draws, j, delta, qs[j])
        z = zs[j - 1]
        if spec.activation == "relu":
            delta = torch.ops.aten.threshold_backward(back, z, 0.0).mul_(mult)
        else:
            delta = back.mul_(mult) * _derivative(spec.activation, activation, z, hs[j])
        deltas.append(delta)
    deltas.reverse()
    n1 = x1.shape[0]
    second = slice(None) if x2 is None else slice(n1, None)
    kernel = None
    for h, d, (w_mult, b_mult) in zip(hs, deltas, scales, strict=True):
        inner = bmm(h[:, :n1], h[:, second].transpose(1, 2)) * (w_mult * w_mult)
        if spec.bias:
            inner = inner + b_mult * b_mult
        term = bmm(d[:, :n1], d[:, second].transpose(1, 2)) * inner
        kernel = term if kernel is None else kernel + term
    return kernel * (spec.alpha * spec.alpha)


def _basis(a: torch.Tensor, with_q: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
    """For each (rows, N) matrix A in ``a``: Q (rows, N) with orthonormal columns spanning A's
    columns, and the coordinates C = Q^T A (N, N), so that A = Q C.

    Q is the QR's of A with its dependent columns set to 0 (a column is dependent when the QR
    leaves less than :data:`DEPENDENT` of its norm outside the columns before it): where A is
    rank-deficient, as relu features over a fine grid of scalar inputs are (a grid interval
    without a kink adds no dimension), a plain QR would take a direction from rounding for such
    a column and the drawn kernels would move by about 1 / width with the code path (pinned or
    not, float32 or float64); a zero column takes a direction fixed by the columns before it.
    R's diagonal is made >= 0 (the signs are not left to rounding either). A dependent
    column's part outside Q (under DEPENDENT of it) is dropped: W H is then exact to that.
    Without ``with_q`` Q is None unless a column is dependent (only R is computed: cheaper)."""
    dependent = DEPENDENT if a.dtype == torch.float64 else DEPENDENT_FLOAT32
    q, r = torch.linalg.qr(a, mode="reduced" if with_q else "r")
    residual = torch.diagonal(r, dim1=-2, dim2=-1).abs()
    drop = residual <= dependent * torch.linalg.vector_norm(a, dim=-2)
    dropped = bool(drop.any())
    if dropped:  # the other matrices' QRs come out the same, bit for bit
        q, r = torch.linalg.qr(a.masked_fill(drop.unsqueeze(-2), 0.0))
    signs = torch.where(torch.diagonal(r, dim1=-2, dim2=-1) < 0, -1.0, 1.0).to(r.dtype)
    coords = r * signs.unsqueeze(-1)
    q = q * signs.unsqueeze(-2) if with_q or dropped else None
    if dropped:  # each matrix's own way: a member does not depend on the others
        projected = bmm(q.transpose(1, 2), a)
        coords = torch.where(drop.any(dim=-1).view(-1, 1, 1), projected, coords)
    return q, coords


def _backward(draws: Draws, j: int, delta: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
    """D^T W of layer j, (K, N, in), from delta = D^T (K, N, out)."""
    if q is None:
        return bmm(delta, draws.weight[j])
    # (D^T G1) Q^T + F^T G2 (I - Q Q^T) = F^T G2 + (D^T G1 - F^T (G2 Q)) Q^T, with D = Q_D F
    q_delta, f = _basis(delta.transpose(1, 2), draws.needs_q_delta)
    g2 = draws.g2(j, q_delta)
    f_t = f.transpose(1, 2)
    inside = bmm(delta, draws.g1(j, q)).sub_(bmm(f_t, bmm(g2, q)))
    return bmm(f_t, g2).add_(bmm(inside, q.transpose(1, 2)))


def sampled_ntk(
    spec: NetSpec,
    count: int,
    seed: int,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    dtype=torch.float32,
    device: str = "cpu",
) -> torch.Tensor:
    """The tangent kernels at initialisation of ``count`` independent nets of ``spec``: (K, N1,
    N2) in ``dtype``, drawn as this module says (each sampled layer through its products),
    member k's numbers from (seed, k). In law the kernels of
    :class:`ntkviz.numerics.nets.Ensemble` nets; the same nets where no layer is sampled.

    Where a layer is sampled the whole net is computed in float64, whatever ``dtype``: the
    draws (not their law) enter through the QR of the layer's inputs, which moves far more than
    its inputs where they are nearly rank-deficient (scalar inputs on a fine grid: relu features
    gain a dimension only where some unit's kink falls between two grid points), so float32's
    rounding would move each kernel by about 1 / width and ``dtype`` would change the nets.
    """
    inputs = x1 if x2 is None else torch.cat([x1, x2])
    unique, index = _unique_points(inputs)
    points = unique.shape[0]
    work = torch.float64 if any(sampled(spec, points)) else dtype
    draws = draw(spec, list(range(count)), seed, points, work, device)
    with torch.no_grad():
        kernel = tangent_kernels(spec, draws, unique.to(device, work))
    index = index.to(kernel.device)
    rows, cols = index[: x1.shape[0]], (index if x2 is None else index[x1.shape[0] :])
    return kernel[:, rows][:, :, cols].to(dtype)


def _unique_points(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct input points in the order they first appear, and where each input is among
    them: a repeated point adds no dimension to any layer's features, only a dependent column
    (which :func:`_basis` would find, at the price of a second QR)."""
    flat = inputs.reshape(inputs.shape[0], -1).cpu().numpy()
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return inputs[torch.as_tensor(first[order])], torch.as_tensor(position[inverse.reshape(-1)])


def sampled_memory(spec: NetSpec, count: int, points: int, dtype=torch.float32) -> int:
    """Bytes :func:`sampled_ntk` holds at most: the draws (and their float32 originals) and
    per layer the inputs, pre-activations, Q, derivatives and two temporaries of N x width, in
    float64 where a layer is sampled."""
    which = sampled(spec, points)
    item = torch.empty((), dtype=torch.float64 if any(which) else dtype).element_size()
    numbers = 0
    for (fan_in, fan_out), sample in zip(spec.layer_sizes, which, strict=True):
        numbers += (fan_out + fan_in) * points if sample else fan_in * fan_out
        numbers += fan_out if spec.bias else 0
    activations = 6 * (spec.depth + 1) * points * spec.width
    return count * ((item + 4) * numbers + item * activations)


def sampled_flops(spec: NetSpec, count: int, points: int) -> float:
    """About the floating-point operations of :func:`sampled_ntk` at ``points`` inputs: forward
    and backward through each layer drawn whole (4 per weight and input), about 10 (in + out)
    N^2 through each sampled one (two QRs with their Q, 8 in N^2, and six products of 2 in N^2
    each, for in = out)."""
    total = 0.0
    for (fan_in, fan_out), sample in zip(spec.layer_sizes, sampled(spec, points), strict=True):
        total += (
            10.0 * (fan_in + fan_out) * points**2 if sample else 4.0 * fan_in * fan_out * points
        )
    return count * total
