"""The layer expectations of the infinite-width kernels for any activation, by quadrature.

The recursion of :mod:`ntkviz.numerics.ntk_analytic` needs, for each pair of points, two Gaussian
expectations of the activation phi and its derivative phi':

    E[phi(u) phi(v)],  E[phi'(u) phi'(v)],   (u, v) ~ N(0, [[s11, s12], [s12, s22]])

They have closed forms for relu and erf only; here they are integrals done numerically, for any
elementwise torch function (Lee et al. 2018, "Deep Neural Networks as Gaussian Processes",
section 2.5; neural-tangents does the same for activations without a closed form).

Why polar coordinates and not a tensor Gauss-Hermite rule: write u = sqrt(s11) r cos(t) and
v = sqrt(s22) r cos(t - g), with cos g = s12 / sqrt(s11 s22) and (r, t) the polar coordinates of
a standard normal pair. Where phi is not smooth, at 0 (relu's kink; tanh or erf of a large
variance, nearly a step), the integrand is not smooth across the lines u = 0 and v = 0, which a
tensor rule on the Cholesky factor crosses obliquely: it then converges only algebraically
(measured for relu with 64 x 64 Gauss-Hermite nodes: E[relu relu] to 3e-3 relative, E[relu'
relu'] to 3e-2, halving per doubling of the order). Those lines are the four rays t = +-pi/2, g +- pi/2, so
splitting the angle there leaves four panels on which the integrand is smooth, and Gauss-Legendre
on each panel, times Gauss-Legendre in r on [0, R] (the weight r exp(-r^2 / 2) / (2 pi) is below
1e-22 past R = 10), converges exponentially: relu's expectations agree with the arc-cosine closed
form to rounding, and the smooth activations reach 1e-10 or better at the orders below for
variances up to :data:`VARIANCE_LIMIT` (tests/numerics/test_quadrature.py measures both).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ntkviz.errors import ConfigError
from ntkviz.numerics.nets import ACTIVATIONS

#: Gauss-Legendre nodes per angular panel (four panels) and in the radius, by the larger standard
#: deviation sqrt(max(s11, s22)) of the pair: a larger one makes phi(u) steeper around 0 and needs
#: more nodes. Measured worst absolute error of the value or the slope, against the closed forms
#: (relu, erf) or 128 x 160 nodes (tanh, sin, gelu, softplus, sigmoid), 300 random pairs per
#: tier: 2e-14 (standard deviations up to 1), 6e-14 (to 2), 1e-13 (to 3), 2e-12 (3 to 5, erf's
#: slope the worst), 2e-10 (5 to 7, erf's slope; tanh 3e-11; relu 1e-13).
ORDERS = ((1.0, 24, 40), (2.0, 32, 48), (3.0, 40, 56), (math.inf, 48, 64))
#: The radial integral stops here: the tail weight exp(-R^2 / 2) is about 2e-22 (times phi's
#: polynomial growth: relu, gelu and softplus grow linearly).
RADIUS = 10.0
#: The orders above reach 1e-11 or better for variances up to this (sqrt(s) = 5: inputs
#: |x| <= 3 with sigma_w = 1.5, sigma_b = 1, say); larger variances make tanh and erf steeper
#: steps and cost accuracy slowly, not abruptly (2e-10 at variance 49).
VARIANCE_LIMIT = 25.0
#: Quadrature nodes evaluated at once (over pairs): about 80 bytes of temporaries each.
_CHUNK_NODES = 1 << 20

Activation = Callable[[torch.Tensor], torch.Tensor]


def _legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return (nodes + 1) / 2, weights / 2


def activation_function(activation: str | Activation) -> Activation:
    """The torch function of an activation named in :data:`ntkviz.numerics.nets.ACTIVATIONS`, or
    ``activation`` itself if it is a callable; ConfigError for an unknown name."""
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"activation must be one of {', '.join(ACTIVATIONS)} or an elementwise torch "
            f"function (got {activation!r})"
        )
    return ACTIVATIONS[activation]


def _values_and_slopes(phi: Activation, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """phi(z) and phi'(z) elementwise, phi' by autograd (exact for any elementwise function)."""
    with torch.enable_grad():
        tensor = torch.from_numpy(z).requires_grad_(True)
        value = phi(tensor)
        (slope,) = torch.autograd.grad(value.sum(), tensor)
    return value.detach().numpy(), slope.numpy()


def gaussian_expectations(
    activation: str | Activation,
    s11: np.ndarray,
    s12: np.ndarray,
    s22: np.ndarray,
    *,
    angle_order: int | None = None,
    radius_order: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``E[phi(u) phi(v)]`` and ``E[phi'(u) phi'(v)]`` for (u, v) ~ N(0, [[s11, s12], [s12, s22]]).

    Args:
        activation: a name in :data:`ntkviz.numerics.nets.ACTIVATIONS` or an elementwise torch
            function (phi' by autograd; accurate to rounding if phi is smooth except at 0).
        s11, s12, s22: the covariances, arrays broadcast to one shape (s11, s22 >= 0).
        angle_order, radius_order: Gauss-Legendre nodes per angular panel and in the radius;
            by default from :data:`ORDERS`, for each pair.

    Returns:
        (value, slope), float64 arrays of the broadcast shape.

    Maths: E[g] = (1 / 2 pi) int_0^inf int_0^{2 pi} g(r cos t, r sin t) r exp(-r^2 / 2) dt dr,
    the angle split where u or v changes sign (module docstring). Reference: Lee et al. (2018);
    Novak et al. (2020), neural-tangents.
    """
    phi = activation_function(activation)
    s11, s12, s22 = np.broadcast_arrays(*(np.asarray(s, dtype=np.float64) for s in (s11, s12, s22)))
    shape = s11.shape
    # Each distinct pair once: both expectations are symmetric in (u, v), so (s11, s12, s22) and
    # (s22, s12, s11) are the same pair (a Gram matrix's two triangles, its repeated points).
    rows = np.stack([np.minimum(s11, s22).ravel(), s12.ravel(), np.maximum(s11, s22).ravel()], 1)
    rows, inverse = np.unique(rows, axis=0, return_inverse=True)
    if angle_order is not None or radius_order is not None:
        orders = [(math.inf, angle_order or ORDERS[-1][1], radius_order or ORDERS[-1][2])]
    else:
        orders = ORDERS
    value, slope = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    scale = np.sqrt(np.maximum(rows[:, 2], 0.0))
    below = -math.inf
    for top, angles, radii in orders:
        tier = (scale > below) & (scale <= top)
        if tier.any():
            value[tier], slope[tier] = _expectations(phi, *rows[tier].T, angles, radii)
        below = top
    inverse = inverse.reshape(-1)
    return value[inverse].reshape(shape), slope[inverse].reshape(shape)


def _expectations(
    phi: Activation,
    s11: np.ndarray,
    s12: np.ndarray,
    s22: np.ndarray,
    angle_order: int,
    radius_order: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gaussian_expectations` of 1-D arrays of pairs, in chunks."""
    sd1, sd2 = np.sqrt(np.maximum(s11, 0.0)), np.sqrt(np.maximum(s22, 0.0))
    norm = sd1 * sd2
    cos = np.divide(s12, norm, out=np.zeros_like(norm), where=norm > 0)
    gap = np.arccos(np.clip(cos, -1.0, 1.0))  # g in [0, pi]

    t_unit, t_weight = _legendre(angle_order)
    r_unit, r_weight = _legendre(radius_order)
    radius = RADIUS * r_unit
    radial = RADIUS * r_weight * radius * np.exp(-radius * radius / 2) / (2 * math.pi)  # (R,)

    pairs = gap.shape[0]
    value, slope = np.empty(pairs), np.empty(pairs)
    per_pair = 4 * angle_order * radius_order
    step = max(1, _CHUNK_NODES // per_pair)
    for lo in range(0, pairs, step):
        g = gap[lo : lo + step, None]
        # Four panels between the rays -pi/2, g - pi/2, pi/2, g + pi/2 (lengths g, pi - g, g, pi - g).
        starts = np.concatenate(
            [-np.pi / 2 + 0 * g, g - np.pi / 2, np.pi / 2 + 0 * g, g + np.pi / 2], 1
        )
        lengths = np.concatenate([g, np.pi - g, g, np.pi - g], 1)  # (P, 4)
        angle = starts[:, :, None] + lengths[:, :, None] * t_unit  # (P, 4, T)
        angular = (lengths[:, :, None] * t_weight).reshape(-1, 4 * angle_order)  # (P, 4T)
        angle = angle.reshape(-1, 4 * angle_order)
        uv = np.empty((2, *angle.shape, radius_order))  # u and v at the nodes: (2, P, 4T, R)
        np.multiply((sd1[lo : lo + step, None] * np.cos(angle))[:, :, None], radius, out=uv[0])
        np.multiply((sd2[lo : lo + step, None] * np.cos(angle - g))[:, :, None], radius, out=uv[1])
        f, df = _values_and_slopes(phi, uv)
        weights = angular[:, :, None] * radial  # (P, 4T, R)
        value[lo : lo + step] = np.einsum("pij,pij->p", f[0] * f[1], weights)
        slope[lo : lo + step] = np.einsum("pij,pij->p", df[0] * df[1], weights)
    return value, slope


def quadrature_expectations(
    activation: str | Activation,
) -> Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(s11, s12, s22) -> (E[phi(u) phi(v)], E[phi'(u) phi'(v)])`` for ``activation`` by
    :func:`gaussian_expectations`: the signature of :data:`ntkviz.numerics.ntk_analytic.EXPECTATIONS`'
    closed forms, so the kernel recursion takes either."""
    phi = activation_function(activation)

    def expect(s11: np.ndarray, s12: np.ndarray, s22: np.ndarray):
        return gaussian_expectations(phi, s11, s12, s22)

    return expect
