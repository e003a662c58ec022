"""The infinite-width NNGP and neural tangent kernels of fully connected nets, in closed form.

Definitions (NTK parameterisation, as in Jacot et al. 2018, Lee et al. 2019 and the
neural-tangents library): with all weights and biases drawn N(0, 1),

    z^1(x)     = sigma_w W^1 x / sqrt(d_0) + sigma_b b^1
    z^{l+1}(x) = sigma_w W^{l+1} phi(z^l(x)) / sqrt(n_l) + sigma_b b^{l+1},   l = 1 .. L
    f(x)       = z^{L+1}(x)                                       (L = depth hidden layers)

As every n_l -> infinity, f at initialisation is a Gaussian process with covariance (NNGP)
Sigma^{L+1} and its tangent kernel J J^T tends to the deterministic Theta^{L+1}:

    Sigma^1(x, x')     = sigma_w^2 <x, x'> / d_0 + sigma_b^2
    Sigma^{l+1}(x, x') = sigma_w^2 E[phi(u) phi(v)] + sigma_b^2
    Sdot^{l+1}(x, x')  = sigma_w^2 E[phi'(u) phi'(v)],   (u, v) ~ N(0, [[S(x,x), S(x,x')], [S(x',x), S(x',x')]])
    Theta^1 = Sigma^1,   Theta^{l+1} = Theta^l Sdot^{l+1} + Sigma^{l+1}

The expectations are closed forms: the arc-cosine kernels for ReLU (Cho & Saul 2009; Arora et al.
2019, "On Exact Computation with an Infinitely Wide Neural Net") and Williams' (1997) arcsine
formula for erf. Every other activation (and these two, on request) takes them by quadrature
(:mod:`ntkviz.numerics.ntk_quadrature`). With ``bias=False``, sigma_b = 0.

In the standard parameterisation the tangent kernel grows like the width; :func:`standard_limit`
is the limit of Theta / width.
"""

from __future__ import annotations

import math

import numpy as np

from ntkviz.errors import ConfigError
from ntkviz.numerics.ntk_quadrature import quadrature_expectations

ANALYTIC_ACTIVATIONS = ("relu", "erf")


def _relu_expectations(
    s11: np.ndarray, s12: np.ndarray, s22: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]])."""
    norm = np.sqrt(s11 * s22)
    cos = np.clip(np.divide(s12, norm, out=np.zeros_like(s12), where=norm > 0), -1.0, 1.0)
    theta = np.arccos(cos)
    value = norm / (2 * math.pi) * (np.sin(theta) + (math.pi - theta) * cos)
    slope = (math.pi - theta) / (2 * math.pi)
    return value, slope


def _erf_expectations(
    s11: np.ndarray, s12: np.ndarray, s22: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """E[erf(u) erf(v)] and E[erf'(u) erf'(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]])."""
    a, b = 1 + 2 * s11, 1 + 2 * s22
    value = 2 / math.pi * np.arcsin(np.clip(2 * s12 / np.sqrt(a * b), -1.0, 1.0))
    slope = 4 / math.pi / np.sqrt(a * b - 4 * s12**2)
    return value, slope


EXPECTATIONS = {"relu": _relu_expectations, "erf": _erf_expectations}
#: How :func:`infinite_kernels` takes the layer expectations: ``auto`` (the closed form where
#: there is one, else quadrature), ``closed`` (closed forms only) or ``quadrature`` (always).
EXPECTATION_METHODS = ("auto", "closed", "quadrature")


def _as_points(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def infinite_kernels(
    x1: np.ndarray,
    x2: np.ndarray | None = None,
    *,
    depth: int = 1,
    activation: str = "relu",
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    bias: bool = True,
    expectations: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) of the infinitely wide net, each (N1, N2).

    x1: (N1,) scalars or (N1, d) points; x2 likewise or None (= x1). ``depth`` hidden layers.
    ``activation``: a name in :data:`ntkviz.numerics.nets.ACTIVATIONS` or an elementwise torch
    function; ``expectations``: one of :data:`EXPECTATION_METHODS`. See the module docstring
    for the recursion.
    """
    if expectations not in EXPECTATION_METHODS:
        raise ConfigError(
            f"expectations must be one of {', '.join(EXPECTATION_METHODS)} (got {expectations!r})"
        )
    closed = isinstance(activation, str) and activation in EXPECTATIONS
    if expectations == "closed" and not closed:
        raise ConfigError(
            f"no closed form for activation {activation!r}: use one of "
            f"{', '.join(ANALYTIC_ACTIVATIONS)}, or expectations='auto'"
        )
    if closed and expectations != "quadrature":
        expect = EXPECTATIONS[activation]
    else:
        expect = quadrature_expectations(activation)
    a = _as_points(x1)
    b = a if x2 is None else _as_points(x2)
    d0 = a.shape[1]
    sb2 = sigma_b**2 if bias else 0.0
    sw2 = sigma_w**2
    cross = sw2 * (a @ b.T) / d0 + sb2
    diag1 = sw2 * np.sum(a * a, axis=1) / d0 + sb2
    diag2 = sw2 * np.sum(b * b, axis=1) / d0 + sb2
    ntk = cross.copy()
    for _ in range(depth):
        s11, s22 = (
            np.broadcast_to(diag1[:, None], cross.shape),
            np.broadcast_to(diag2[None, :], cross.shape),
        )
        value, slope = expect(s11, cross, s22)
        d1, _ = expect(diag1, diag1, diag1)
        d2, _ = expect(diag2, diag2, diag2)
        new_cross = sw2 * value + sb2
        ntk = ntk * (sw2 * slope) + new_cross
        cross, diag1, diag2 = new_cross, sw2 * d1 + sb2, sw2 * d2 + sb2
    return cross, ntk


def infinite_ntk(x1: np.ndarray, x2: np.ndarray | None = None, **kwargs) -> np.ndarray:
    """The infinite-width tangent kernel Theta(x1, x2): (N1, N2). Keywords as :func:`infinite_kernels`."""
    return infinite_kernels(x1, x2, **kwargs)[1]


def infinite_nngp(x1: np.ndarray, x2: np.ndarray | None = None, **kwargs) -> np.ndarray:
    """The infinite-width output covariance Sigma(x1, x2): (N1, N2). Keywords as :func:`infinite_kernels`."""
    return infinite_kernels(x1, x2, **kwargs)[0]


def standard_limit(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    depth: int,
    activation: str,
    sigma_w: float = 1.0,
    sigma_b: float = 0.0,
    bias: bool = True,
) -> np.ndarray:
    """lim Theta(x1, x2) / width of standard-parameterised nets, z = W h + b with W ~
    N(0, sigma_w^2 / fan_in) and b ~ N(0, sigma_b^2) (LeCun-normal, our ``init="lecun"``, is
    sigma_w = 1, sigma_b = 0): (N1, N2) for scalar inputs (Sohl-Dickstein et al. 2020, "On the
    infinite width limit of neural networks with a standard parameterization").

    The forward pass is the NTK-parameterised one in distribution, so hidden layer i has the
    covariance Sigma_i of the recursion above (the module docstring). Only the weights W_{i+1} fed by a hidden layer
    (i = 1 .. depth) contribute in proportion to the width: ``<h_i, h_i'> / width -> v_i =
    E_{Sigma_i}[phi(u) phi(v)]`` times ``<delta_{i+1}, delta_{i+1}'> -> prod_{k > i} sigma_w^2
    d_k`` with d_k = E_{Sigma_k}[phi'(u) phi'(v)]; the first layer's and the biases' terms stay
    O(1). So ``lim = sum_i v_i prod_{k=i+1}^{depth} sigma_w^2 d_k``, by the recursion
    T_1 = v_1, T_{i+1} = T_i sigma_w^2 d_{i+1} + v_{i+1}.
    """
    expect = EXPECTATIONS[activation]
    a = np.asarray(x1, dtype=np.float64)
    b = np.asarray(x2, dtype=np.float64)
    sw2, sb2 = sigma_w**2, (sigma_b**2 if bias else 0.0)
    cross = sw2 * np.outer(a, b) + sb2
    diag1, diag2 = sw2 * a * a + sb2, sw2 * b * b + sb2
    total = None
    for _ in range(depth):
        s11 = np.broadcast_to(diag1[:, None], cross.shape)
        s22 = np.broadcast_to(diag2[None, :], cross.shape)
        value, slope = expect(s11, cross, s22)
        total = value if total is None else total * (sw2 * slope) + value
        d1, _ = expect(diag1, diag1, diag1)
        d2, _ = expect(diag2, diag2, diag2)
        cross, diag1, diag2 = sw2 * value + sb2, sw2 * d1 + sb2, sw2 * d2 + sb2
    return total
