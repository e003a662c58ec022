"""Gradient and Hessian norms of the post's one-hidden-layer net, and kappa.

The net (the post's "One Hidden Layer Network proof") is ``f(x, w) = sum_i b_i phi(a_i x)`` with
no biases, a scalar input ``x``, LeCun initialisation ``a_i ~ N(0, 1)``, ``b_i ~ N(0, 1/m)``, and
parameters stacked as ``w = (a_1..a_m, b_1..b_m)`` (length 2m). Its gradient and Hessian are
known in closed form:

    dy/da_i = b_i x phi'(a_i x),    dy/db_i = phi(a_i x)
    Hessian = block-diagonal in the pairs (a_i, b_i): [[b_i x^2 phi''(a_i x), x phi'(a_i x)],
                                                       [x phi'(a_i x),        0            ]]

so ``||grad||`` and the operator norm ``||Hessian||_2`` are exact in O(m) (:func:`gradient_norm`,
:func:`hessian_norm_exact`). Two general methods work for any scalar function of a flat parameter
vector and serve as oracles: Lanczos on Hessian-vector products (:func:`hessian_norm_hvp`) and the
post's own way, a dense Hessian and its eigenvalues (:func:`hessian_norm_dense`).

kappa(w0) = ||Hessian|| / ||grad||^2 is the post's measure of non-linearity (the ``||y - y_bar||``
factor dropped, as in the post), Chizat et al. 2019 "On Lazy Training"'s inverse relative scale;
for an output scaled by alpha, kappa_alpha = kappa / alpha.

Randomness only comes from an explicit ``torch.Generator``; every draw is on the CPU in float64.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.errors import ConfigError
from ntkviz.runtime.threads import single_thread

DTYPE = torch.float64
Fn = Callable[[torch.Tensor], torch.Tensor]

ACTIVATIONS = ("tanh", "sin", "erf", "relu-smooth", "relu")
ACTIVATION_HELP = (
    "tanh (the post's), sin, erf, relu-smooth (softplus(s z)/s with --sharpness s), "
    "relu (phi'' = 0 almost everywhere: only the a-b cross terms of the Hessian remain)"
)
METHODS = ("exact", "hvp", "dense")

GIB = 1024**3
DENSE_CAP_BYTES = 4 * GIB  # a laptop's worth; also never more than half of this machine's RAM
DENSE_COPIES = 6  # measured peak at m = 2000: the Hessian, its vmapped intermediates, eigvalsh


@dataclass(frozen=True)
class Activation:
    """An activation and its first two derivatives, elementwise on tensors.

    ``derivatives(z)`` returns ``(phi(z), phi'(z), phi''(z))`` sharing work where it can (tanh
    is evaluated once); ``phi`` alone is what autograd differentiates in the general methods.
    """

    name: str
    phi: Fn
    derivatives: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def _tanh_derivatives(z: torch.Tensor):
    t = torch.tanh(z)
    d = 1.0 - t * t
    return t, d, -2.0 * t * d


def _erf_derivatives(z: torch.Tensor):
    d = (2.0 / math.sqrt(math.pi)) * torch.exp(-z * z)
    return torch.erf(z), d, -2.0 * z * d


def activation(name: str = "tanh", sharpness: float = 5.0) -> Activation:
    """The activation called ``name`` (one of :data:`ACTIVATIONS`); ``sharpness`` is relu-smooth's s."""
    if name == "tanh":
        return Activation(name, torch.tanh, _tanh_derivatives)
    if name == "sin":
        return Activation(name, torch.sin, lambda z: (torch.sin(z), torch.cos(z), -torch.sin(z)))
    if name == "erf":
        return Activation(name, torch.erf, _erf_derivatives)
    if name == "relu-smooth":
        if not (sharpness > 0 and math.isfinite(sharpness)):
            raise ConfigError(f"--sharpness must be a finite number > 0 (got {sharpness:g})")
        s = float(sharpness)

        # logaddexp(0, s z) / s is softplus without torch's linear cut-off above a threshold,
        # so its autograd second derivative matches the closed form everywhere.
        def phi(z):
            return torch.logaddexp(torch.zeros_like(z), s * z) / s

        def derivatives(z):
            sig = torch.sigmoid(s * z)
            return phi(z), sig, s * sig * (1.0 - sig)

        return Activation(name, phi, derivatives)
    if name == "relu":
        return Activation(
            name, torch.relu, lambda z: (torch.relu(z), (z > 0).to(z.dtype), torch.zeros_like(z))
        )
    raise ConfigError(f"--activation must be one of {', '.join(ACTIVATIONS)} (got {name!r})")


def _as_activation(act: Activation | str) -> Activation:
    return activation(act) if isinstance(act, str) else act


def init_params(width: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """LeCun initialisation: ``a`` (m,) ~ N(0, 1), then ``b`` (m,) ~ N(0, 1/m); CPU float64.

    Reference: the post, "a_i ~ N(0, 1), b_i ~ N(0, 1/m) (adding m of these gives unit variance)".
    """
    if width < 1:
        raise ConfigError(f"width must be >= 1 (got {width})")
    a = torch.randn(width, generator=generator, dtype=DTYPE)
    b = torch.randn(width, generator=generator, dtype=DTYPE)
    b /= math.sqrt(width)
    return a, b


def width_generator(member_seed: int, width: int) -> torch.Generator:
    """The random stream of one (initialisation, width) pair.

    A hash of both numbers (numpy's SeedSequence, no randomness of its own) seeds it, so the net
    drawn at width m for member k is the same whatever the other widths and the number of seeds.
    """
    state = np.random.SeedSequence([member_seed, width]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def flatten(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``w = (a, b)``: (..., m) and (..., m) -> (..., 2m), the post's parameter vector."""
    return torch.cat([a, b], dim=-1)


def network(x: float, act: Activation | str = "tanh") -> Fn:
    """``w -> f(x, w) = sum_i b_i phi(a_i x)`` for a flat ``w = (a, b)`` of shape (2m,) -> ().

    A plain torch function, so autograd and torch.func can differentiate it (for the general
    methods and the tests); the exact methods below never call it.
    """
    act = _as_activation(act)

    def f(w: torch.Tensor) -> torch.Tensor:
        m = w.shape[-1] // 2
        return (w[..., m:] * act.phi(w[..., :m] * x)).sum(-1)

    return f


CHUNK = 1 << 16  # elements per pass: keeps the temporaries in cache at m = 10^7


def _exact(
    a: torch.Tensor, b: torch.Tensor, x: float, act: Activation, grad: bool, hess: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(||grad||, ||H||_2) of (..., m) parameters, chunk by chunk along m (None if not asked)."""
    if a.shape != b.shape or a.shape[-1] < 1:
        raise ValueError(
            f"a and b must have one shape (..., m), m >= 1 (got {tuple(a.shape)}, {tuple(b.shape)})"
        )
    squares = torch.zeros(a.shape[:-1], dtype=a.dtype)
    largest = torch.zeros(a.shape[:-1], dtype=a.dtype)
    with single_thread():
        for start in range(0, a.shape[-1], CHUNK):
            _exact_chunk(
                a[..., start : start + CHUNK],
                b[..., start : start + CHUNK],
                x,
                act,
                grad,
                hess,
                squares,
                largest,
            )
    return (torch.sqrt(squares) if grad else None), (largest if hess else None)


def _exact_chunk(
    a_c: torch.Tensor,
    b_c: torch.Tensor,
    x: float,
    act: Activation,
    grad: bool,
    hess: bool,
    squares: torch.Tensor,
    largest: torch.Tensor,
) -> None:
    """Add a chunk's squared gradient entries into ``squares``; max its block norms into ``largest``."""
    phi, dphi, d2phi = act.derivatives(a_c * x)
    if grad:
        da = b_c * dphi
        da *= x
        squares += (da * da).sum(-1) + (phi * phi).sum(-1)
    if hess:
        half_p = b_c * d2phi
        half_p *= 0.5 * x * x
        q = dphi * x
        norms = torch.hypot(half_p, q)
        norms += half_p.abs_()
        torch.maximum(largest, norms.amax(-1), out=largest)


def gradient_norm(
    a: torch.Tensor, b: torch.Tensor, x: float, act: Activation | str = "tanh"
) -> torch.Tensor:
    """||grad_w f(x, w)||_2 in O(m): ``a``, ``b`` (..., m) -> (...).

    ``||grad||^2 = sum_i (b_i x phi'(a_i x))^2 + phi(a_i x)^2`` (the post's "Gradient" section).
    """
    return _exact(a, b, x, _as_activation(act), grad=True, hess=False)[0]


def hessian_norm_exact(
    a: torch.Tensor, b: torch.Tensor, x: float, act: Activation | str = "tanh"
) -> torch.Tensor:
    """The operator norm ||Hessian_w f(x, w)||_2 exactly in O(m): ``a``, ``b`` (..., m) -> (...).

    The Hessian is block-diagonal in the pairs (a_i, b_i) with blocks [[p_i, q_i], [q_i, 0]],
    p_i = b_i x^2 phi''(a_i x), q_i = x phi'(a_i x) (the post's "Hessian" section, after its row
    swap); each block's eigenvalues are p/2 +- sqrt(p^2/4 + q^2), so
    ``||H||_2 = max_i |p_i|/2 + hypot(p_i/2, q_i)``.
    """
    return _exact(a, b, x, _as_activation(act), grad=False, hess=True)[1]


def exact_norms(
    a: torch.Tensor, b: torch.Tensor, x: float, act: Activation | str = "tanh"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(:func:`gradient_norm`, :func:`hessian_norm_exact`) in one pass: (..., m) -> (...), (...)."""
    return _exact(a, b, x, _as_activation(act), grad=True, hess=True)


def kappa(hessian_norm, grad_norm):
    """kappa(w0) = ||Hessian|| / ||grad||^2 (tensors, arrays or floats of one shape).

    The post's "relative change in model Jacobian" without its O(1) factor ||y(w0) - y_bar||;
    Chizat et al. 2019 ("On Lazy Training") call it the inverse relative scale.
    """
    return hessian_norm / grad_norm**2


def kappa_alpha(hessian_norm, grad_norm, alpha: float):
    """kappa of the scaled model alpha f: ||alpha H|| / ||alpha grad||^2 = kappa / alpha.

    Reference: the post, "Scaling the Output".
    """
    if not alpha > 0:
        raise ConfigError(f"--alpha must be > 0 (got {alpha:g})")
    return (alpha * hessian_norm) / (alpha * grad_norm) ** 2


# -- general methods ----------------------------------------------------------------------------


def hvp_fn(fn: Fn, params: torch.Tensor) -> Fn:
    """``v -> H v`` (n,) -> (n,), H the Hessian of scalar ``fn`` at ``params`` (n,).

    Autograd double-backward: the gradient's graph is built once and kept, so each product is
    one more backward pass, ``H v = d(grad . v)/dw`` (Pearlmutter 1994, "Fast exact
    multiplication by the Hessian").
    """
    w = params.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (gradient,) = torch.autograd.grad(fn(w), w, create_graph=True)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        if not gradient.requires_grad:  # fn is linear in w: the Hessian is zero
            return torch.zeros_like(v)
        (product,) = torch.autograd.grad(
            gradient, w, grad_outputs=v, retain_graph=True, allow_unused=True
        )
        return torch.zeros_like(v) if product is None else product.detach()

    return hvp


@dataclass(frozen=True)
class LanczosResult:
    """``norm`` = max |Ritz value|; ``residual`` bounds its distance to an eigenvalue; ``steps``."""

    norm: float
    residual: float
    steps: int


def lanczos_norm(
    matvec: Fn,
    n: int,
    iters: int = 300,
    tol: float = 1e-10,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = DTYPE,
) -> LanczosResult:
    """The spectral norm max |eigenvalue| of a symmetric operator ``matvec`` on R^n, by Lanczos.

    At most ``min(iters, n)`` products, with full reorthogonalisation (memory: that many n-vectors).
    Both ends of the spectrum come out of the tridiagonal matrix T_k, so a negative eigenvalue of
    largest magnitude is found as well as a positive one. Stops when the Ritz pair (theta, s) of
    largest |theta| has ``|beta_k s_k| <= tol |theta|`` (an eigenvalue of the operator lies that
    close to theta); after n steps the answer is exact up to rounding. ``generator`` draws the
    start vector (default: a fixed seed, so results repeat).

    Reference: Golub & Van Loan, "Matrix Computations", 4th ed., section 10.1.
    """
    import numpy as np

    if generator is None:
        generator = torch.Generator().manual_seed(0)
    steps = max(1, min(int(iters), n))
    basis = torch.empty((steps, n), dtype=dtype)
    v = torch.randn(n, generator=generator, dtype=DTYPE).to(dtype)
    v /= v.norm()
    alphas = np.zeros(steps)
    betas = np.zeros(steps)
    theta, residual = 0.0, math.inf
    for j in range(steps):
        basis[j] = v
        w = matvec(v)
        alphas[j] = float(w @ v)
        # Full reorthogonalisation, twice ("twice is enough"), keeps the Ritz values clean.
        for _ in range(2):
            w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        betas[j] = float(w.norm())
        last = j == steps - 1
        if j < 16 or j % 4 == 3 or last or betas[j] == 0.0:
            t = np.diag(alphas[: j + 1]) + np.diag(betas[:j], 1) + np.diag(betas[:j], -1)
            ritz, vectors = np.linalg.eigh(t)
            k = int(np.abs(ritz).argmax())
            theta = float(abs(ritz[k]))
            residual = betas[j] * float(abs(vectors[-1, k]))
            spread = max(abs(ritz[0]), abs(ritz[-1]))
            # Converged, or the Krylov space is invariant (exact Ritz values).
            if residual <= tol * theta or betas[j] <= 1e-13 * spread or spread == 0.0:
                return LanczosResult(theta, residual, j + 1)
        if not last:
            v = w / betas[j]
    return LanczosResult(theta, residual, steps)


def hessian_norm_hvp(
    fn: Fn,
    params: torch.Tensor,
    iters: int = 300,
    tol: float = 1e-10,
    generator: torch.Generator | None = None,
) -> float:
    """||Hessian of fn at params||_2 = max |eigenvalue|, by Lanczos on Hessian-vector products.

    ``fn`` maps a flat (n,) tensor to a scalar, ``params`` (n,). Works for any twice
    differentiable ``fn``: each step is one Hessian-vector product (:func:`hvp_fn`, a backward pass), never a
    Hessian; memory ``min(iters, n) * n`` floats; see :func:`lanczos_norm` for the stopping rule.
    Exact (to rounding) once ``iters >= n``; for a wide net whose top eigenvalues crowd together
    (the post's tanh net at m = 10^4: hundreds within 1e-4 of the top) it stops at ``iters`` a
    little below the top, about 1e-4 relative there.
    """
    params = params.detach().reshape(-1)
    return lanczos_norm(
        hvp_fn(fn, params),
        params.numel(),
        iters=iters,
        tol=tol,
        generator=generator,
        dtype=params.dtype,
    ).norm


def dense_bytes(n_params: int) -> int:
    """Estimated peak bytes of :func:`hessian_norm_dense` for n parameters: a few n x n float64."""
    return DENSE_COPIES * n_params * n_params * 8


def memory_limit_bytes() -> int:
    """The most a dense or stored-basis method may use: 4 GiB, and at most half of the RAM."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return DENSE_CAP_BYTES
    return int(min(DENSE_CAP_BYTES, ram // 2))


def format_bytes(n: float) -> str:
    for unit, size in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_dense(width: int, limit_bytes: int | None = None) -> None:
    """Raise ConfigError when the dense 2m x 2m Hessian of width ``width`` would not fit."""
    _check_dense_params(2 * width, limit_bytes, f" at width {width}")


def _check_dense_params(n: int, limit_bytes: int | None, where: str = "") -> None:
    limit = memory_limit_bytes() if limit_bytes is None else limit_bytes
    need = dense_bytes(n)
    if need > limit:
        raise ConfigError(
            f"--method dense{where} needs about {format_bytes(need)} for its dense {n} x {n} "
            f"Hessian, over the limit of {format_bytes(limit)}: use --method exact or "
            f"--method hvp, or a smaller width"
        )


def hessian_norm_dense(fn: Fn, params: torch.Tensor, limit_bytes: int | None = None) -> float:
    """||Hessian of fn at params||_2 the post's way: torch.func.hessian -> (n, n) -> eigvalsh.

    ``fn`` maps a flat (n,) tensor to a scalar, ``params`` (n,) with n = 2m. O(n^2) memory and
    O(n^3) time; refused (ConfigError, with the estimate) above ``limit_bytes`` (default
    :func:`memory_limit_bytes`), before anything is allocated.
    """
    from torch.func import hessian

    params = params.detach().reshape(-1)
    _check_dense_params(params.numel(), limit_bytes)
    matrix = hessian(fn)(params)
    return float(torch.linalg.eigvalsh(matrix).abs().max())


def hvp_bytes(width: int, iters: int) -> int:
    """Estimated bytes of the Lanczos basis of :func:`hessian_norm_hvp` at width m."""
    n = 2 * width
    return (min(iters, n) + 8) * n * 8


def check_hvp(width: int, iters: int, limit_bytes: int | None = None) -> None:
    """Raise ConfigError when the stored Lanczos basis at width ``width`` would not fit."""
    limit = memory_limit_bytes() if limit_bytes is None else limit_bytes
    need = hvp_bytes(width, iters)
    if need > limit:
        raise ConfigError(
            f"--method hvp at width {width} keeps {min(iters, 2 * width)} Lanczos vectors, about "
            f"{format_bytes(need)}, over the limit of {format_bytes(limit)}: use --method exact, "
            f"fewer --lanczos-iters, or a smaller width"
        )


# -- one measurement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Curvature:
    """One net's ``grad_norm`` = ||grad_w f|| and ``hessian_norm`` = ||Hessian_w f||_2 (floats)."""

    grad_norm: float
    hessian_norm: float

    @property
    def kappa(self) -> float:
        return kappa(self.hessian_norm, self.grad_norm)


def measure(
    a: torch.Tensor,
    b: torch.Tensor,
    x: float,
    act: Activation | str = "tanh",
    method: str = "exact",
    iters: int = 300,
    tol: float = 1e-10,
    generator: torch.Generator | None = None,
) -> Curvature:
    """Gradient and Hessian norms of the net with parameters ``a``, ``b`` (m,) at input ``x``.

    ``method``: "exact" (closed form, O(m)), "hvp" (Lanczos, :func:`hessian_norm_hvp`) or
    "dense" (:func:`hessian_norm_dense`). The gradient norm is always the exact one.
    """
    act = _as_activation(act)
    if method == "exact":
        grad_norm, hessian = exact_norms(a, b, x, act)
        return Curvature(float(grad_norm), float(hessian))
    grad_norm = float(gradient_norm(a, b, x, act))
    if method == "hvp":
        h = hessian_norm_hvp(
            network(x, act), flatten(a, b), iters=iters, tol=tol, generator=generator
        )
    elif method == "dense":
        h = hessian_norm_dense(network(x, act), flatten(a, b))
    else:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)} (got {method!r})")
    return Curvature(grad_norm, h)
