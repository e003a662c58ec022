"""Neural tangent and NNGP kernels of fully connected nets, NumPy in and NumPy out.

    import ntkviz.kernels as nk
    k = nk.infinite(x_train, depth=2, activation="tanh")      # k.nngp, k.ntk: (n, n)
    k_test_train = nk.infinite(x_test, x_train, depth=2, activation="tanh").ntk
    e = nk.empirical(x_train, width=512, depth=2, activation="tanh", seeds=8, seed=0)
    e.ntk.mean(axis=0)                                        # (n, n), -> k.ntk as width grows

The nets (NTK parameterisation, Jacot et al. 2018; all weights and biases N(0, 1)):

    z^1 = sigma_w W^1 x / sqrt(d_0) + sigma_b b^1,  z^{l+1} = sigma_w W^{l+1} phi(z^l) / sqrt(n_l) + sigma_b b^{l+1}

with ``depth`` hidden layers and a scalar output. Inputs are x1 of shape (n1,) (scalars) or
(n1, d) (points of d coordinates), x2 likewise with the same d, or None for x1 itself.
The work is done in :mod:`ntkviz.numerics` (ntk_analytic, ntk_quadrature, nets, ntk_empirical);
this module checks the arguments and converts. Bad arguments raise
:class:`ntkviz.errors.ConfigError` with a one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.errors import ConfigError
from ntkviz.numerics.nets import ACTIVATIONS, PARAMETERIZATIONS, Ensemble, NetSpec, check_fits
from ntkviz.numerics.ntk_analytic import EXPECTATION_METHODS, infinite_kernels
from ntkviz.numerics.ntk_empirical import empirical_ntk, readout_nngp

__all__ = ["ACTIVATIONS", "Kernels", "empirical", "infinite"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Kernels:
    """An NNGP kernel and a neural tangent kernel of the same nets at the same points.

    ``nngp``, ``ntk``: (n1, n2) from :func:`infinite`; (seeds, n1, n2), one per net, from
    :func:`empirical`.
    """

    nngp: np.ndarray
    ntk: np.ndarray


def infinite(
    x1: np.ndarray,
    x2: np.ndarray | None = None,
    *,
    depth: int = 1,
    activation: str | Callable[[torch.Tensor], torch.Tensor] = "relu",
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    bias: bool = True,
    expectations: str = "auto",
) -> Kernels:
    """The infinite-width NNGP and NTK of the nets above.

    ``Sigma^{l+1} = sigma_w^2 E[phi(u) phi(v)] + sigma_b^2``,
    ``Theta^{l+1} = Theta^l sigma_w^2 E[phi'(u) phi'(v)] + Sigma^{l+1}``, (u, v) ~ N(0, Sigma^l),
    from ``Sigma^1 = Theta^1 = sigma_w^2 <x, x'> / d_0 + sigma_b^2`` (Jacot et al. 2018; Lee et
    al. 2019; Arora et al. 2019; neural-tangents' ``stax`` kernels).

    Args:
        x1: (n1,) or (n1, d) inputs.
        x2: (n2,) or (n2, d) inputs, or None for x1 (the symmetric Gram matrix).
        depth: hidden layers, >= 1.
        activation: a name in :data:`ACTIVATIONS` (relu, tanh, erf, sigmoid, gelu, softplus,
            sin) or an elementwise torch function (phi' by autograd).
        sigma_w, sigma_b: the weight and bias scales, finite and >= 0.
        bias: False drops the biases (sigma_b = 0).
        expectations: ``auto`` uses the closed forms of relu and erf (arc-cosine and arcsine
            kernels) and quadrature for the rest; ``quadrature`` uses quadrature for all
            (1e-10 or better for variances up to 25; relu to rounding); ``closed`` refuses
            activations without a closed form. See :mod:`ntkviz.numerics.ntk_quadrature`.

    Returns:
        :class:`Kernels` with ``nngp`` and ``ntk`` float64 arrays of shape (n1, n2).
    """
    a, b = _inputs(x1, x2)
    _check_net(depth=depth, sigma_w=sigma_w, sigma_b=sigma_b)
    if not callable(activation):
        _check_activation(activation)
    if expectations not in EXPECTATION_METHODS:
        raise ConfigError(
            f"expectations must be one of {', '.join(EXPECTATION_METHODS)} (got {expectations!r})"
        )
    nngp, ntk = infinite_kernels(
        a,
        b,
        depth=depth,
        activation=activation,
        sigma_w=float(sigma_w),
        sigma_b=float(sigma_b),
        bias=bool(bias),
        expectations=expectations,
    )
    return Kernels(nngp=nngp, ntk=ntk)


def empirical(
    x1: np.ndarray,
    x2: np.ndarray | None = None,
    *,
    width: int,
    depth: int = 1,
    activation: str = "relu",
    parameterization: str = "ntk",
    seeds: int | Sequence[int] = 1,
    seed: int | torch.Generator = 0,
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    bias: bool = True,
    dtype: str = "float64",
    device: str = "cpu",
) -> Kernels:
    """The kernels of finite nets at initialisation, one pair per net.

    ``ntk[k] = J_k(x1) J_k(x2)^T``, J_k = d f_k / d w the Jacobian of net k's output with
    respect to all its weights and biases (Jacot et al. 2018), computed layer by layer.
    ``nngp[k] = E[f_k(x1) f_k(x2) | hidden layers] = v_w <h_L(x1), h_L(x2)> + v_b``: net k's
    output covariance over draws of its readout layer alone, (v_w, v_b) that layer's weight and
    bias variances. One net's ``nngp[k]`` tends to the NNGP as the width grows, as its ``ntk[k]``
    tends to the NTK; the sample covariance of outputs over many nets would need thousands of
    nets for the same accuracy (Lee et al. 2018, 2019; neural-tangents'
    ``monte_carlo_kernel_fn`` averages the same per-net kernels).

    Args:
        x1: (n1,) or (n1, d) inputs.
        x2: (n2,) or (n2, d) inputs with the same d, or None for x1.
        width: hidden units per layer, >= 1.
        depth: hidden layers, >= 1.
        activation: a name in :data:`ACTIVATIONS`.
        parameterization: ``ntk`` (the nets above; the kernels tend to :func:`infinite`'s) or
            ``standard`` (z = W h + b, nn.Linear's default initialisation; no limit without a
            1 / width factor).
        seeds: how many nets (members 0 .. seeds-1), or which members (a sequence of ints >= 0).
            Member k is the same net whatever the others: it depends on (seed, k) only.
        seed: the ensemble's seed, an int >= 0, or a torch.Generator from which one is drawn.
            The global torch seed is never used.
        sigma_w, sigma_b: the NTK parameterisation's scales, finite and >= 0.
        bias: False drops the biases.
        dtype: ``float64`` (default) or ``float32``.
        device: a torch device, ``cpu`` or ``cuda``.

    Returns:
        :class:`Kernels` with ``nngp`` and ``ntk`` arrays of shape (S, n1, n2), S the number of
        nets, always 3-D (``[0]`` for one net), in ``dtype``.
    """
    a, b = _inputs(x1, x2)
    _check_net(depth=depth, sigma_w=sigma_w, sigma_b=sigma_b)
    _check_activation(activation)
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ConfigError(f"width must be an integer >= 1 (got {width!r})")
    if parameterization not in PARAMETERIZATIONS:
        raise ConfigError(
            f"parameterization must be one of {', '.join(PARAMETERIZATIONS)} "
            f"(got {parameterization!r})"
        )
    if dtype not in _DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)} (got {dtype!r})")
    members = _members(seeds)
    spec = NetSpec(
        width=int(width),
        depth=int(depth),
        activation=activation,
        bias=bool(bias),
        parameterization=parameterization,
        sigma_w=float(sigma_w),
        sigma_b=float(sigma_b),
        input_dim=a.shape[1] if a.ndim == 2 else 1,
    )
    torch_dtype = _DTYPES[dtype]
    points = a.shape[0] + (0 if b is None else b.shape[0])
    check_fits(spec, len(members), points, device, torch_dtype)
    nets = Ensemble(
        spec,
        count=len(members),
        seed=_seed(seed),
        device=device,
        dtype=torch_dtype,
        members=members,
        keep_initial=False,
    )
    t1 = torch.as_tensor(a, dtype=torch_dtype, device=device)
    t2 = None if b is None else torch.as_tensor(b, dtype=torch_dtype, device=device)
    ntk = empirical_ntk(nets, t1, t2)
    nngp = readout_nngp(nets, t1, t2)
    return Kernels(nngp=nngp.cpu().numpy(), ntk=ntk.cpu().numpy())


def _inputs(x1, x2) -> tuple[np.ndarray, np.ndarray | None]:
    """x1, x2 as float64 arrays of (n,) or (n, d) with one d; ConfigError otherwise."""
    a = _points(x1, "x1")
    b = None if x2 is None else _points(x2, "x2")
    if b is not None and _dim(a) != _dim(b):
        raise ConfigError(
            f"x1 and x2 must have the same input dimension (got x1 {a.shape}, x2 {b.shape})"
        )
    return a, b


def _points(x, name: str) -> np.ndarray:
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an array of numbers (got {type(x).__name__})") from None
    if array.ndim not in (1, 2) or array.shape[0] < 1 or array.size < 1:
        raise ConfigError(
            f"{name} must have shape (n,) or (n, d) with n, d >= 1 (got {array.shape})"
        )
    if not np.isfinite(array).all():
        raise ConfigError(f"{name} has a NaN or infinite entry")
    return array


def _dim(x: np.ndarray) -> int:
    return 1 if x.ndim == 1 else x.shape[1]


def _check_activation(activation) -> None:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ConfigError(
            f"activation must be one of {', '.join(ACTIVATIONS)} (got {activation!r})"
        )


def _check_net(*, depth, sigma_w, sigma_b) -> None:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ConfigError(f"depth must be an integer >= 1 (got {depth!r})")
    for name, value in (("sigma_w", sigma_w), ("sigma_b", sigma_b)):
        if not isinstance(value, (int, float, np.floating, np.integer)) or not (
            math.isfinite(value) and value >= 0
        ):
            raise ConfigError(f"{name} must be a finite number >= 0 (got {value!r})")


def _members(seeds) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"seeds must be a count >= 1 or a list of members (got {seeds})")
        return list(range(int(seeds)))
    try:
        members = [int(k) for k in seeds]
        good = bool(members) and all(m == k and m >= 0 for m, k in zip(members, seeds))
    except (TypeError, ValueError):
        good = False
    if not good:
        raise ConfigError(
            f"seeds must be a count >= 1 or a non-empty list of integers >= 0 (got {seeds!r})"
        )
    return members


def _seed(seed) -> int:
    if isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**62, (), generator=seed))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0 or a torch.Generator (got {seed!r})")
    return int(seed)
