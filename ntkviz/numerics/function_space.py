"""Gradient descent in function space with a fixed kernel, and the regressions it ends in.

A model that is linear in its parameters (a linearised net, or an infinitely wide one) trained by
full-batch gradient descent on the loss ``L = (1/N) sum_i (f(x_i) - y_i)^2`` moves in function
space as

    f_{t+1}(X) = f_t(X) - eta Theta (f_t(X) - Y),    eta = 2 lr / N,   Theta = Theta(X, X),

so with the eigen-decomposition Theta = V diag(lambda_k) V^T the residual's component along mode
k decays like ``(1 - eta lambda_k)^t`` (or ``exp(-eta lambda_k t)`` in the gradient-flow limit):
:func:`spectrum`, :func:`mode_decay`, and the outputs at the data follow :func:`flow_outputs`.
Away from the data,

    f_t(x) = f_0(x) + T_t(x) (Y - f_0(X)),   T_t(x) = Theta(x, X) Theta^{-1} (I - (I - eta Theta)^t)

(:func:`transfer`, :func:`flow_functions`; Lee et al. 2019, eq. 9), which at t -> infinity is kernel regression
``f(x) = f_0(x) + Theta(x, X) Theta^{-1} (Y - f_0(X))`` (:func:`kernel_regression`). When f_0 is a
Gaussian process with covariance K (the NNGP kernel), f_t is Gaussian too, with mean T_t(x) Y and
covariance

    K(x, x') + T_t(x) K(X, X) T_t(x')^T - T_t(x) K(X, x') - K(x, X) T_t(x')^T

(:func:`gd_moments`), which is not the Bayesian posterior of exact GP regression with K
(:func:`gp_posterior`).
"""

from __future__ import annotations

import numpy as np

from ntkviz.errors import ConfigError


def spectrum(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (..., N) in decreasing order and eigenvectors (..., N, N) as columns, each
    signed so that its largest-magnitude entry is positive (a fixed sign for drawing)."""
    lam, vec = np.linalg.eigh(0.5 * (kernel + np.swapaxes(kernel, -1, -2)))
    lam, vec = lam[..., ::-1], vec[..., ::-1]
    peak = np.take_along_axis(vec, np.abs(vec).argmax(axis=-2)[..., None, :], axis=-2)
    return lam, vec * np.sign(peak)


def mode_decay(
    lam: np.ndarray, rate: float, steps: np.ndarray, discrete: bool = True
) -> np.ndarray:
    """u_k(t) / u_k(0) of the linear model: (T, N), (1 - rate lam_k)^t or exp(-rate lam_k t)."""
    t = np.asarray(steps, dtype=np.float64)[:, None]
    return np.power(1.0 - rate * lam[None, :], t) if discrete else np.exp(-rate * lam[None, :] * t)


def transfer(
    th_test_train: np.ndarray,
    th_train: np.ndarray,
    rate: float,
    times: np.ndarray,
    discrete: bool = True,
) -> np.ndarray:
    """T_t = Theta(x, X) Theta^{-1} (I - (I - rate Theta)^t), or with exp(-rate Theta t): (T, G, N).

    Computed as Theta(x, X) V diag((1 - d_k(t)) / lambda_k) V^T, finite for a singular Theta."""
    lam, vec = np.linalg.eigh(0.5 * (th_train + th_train.T))
    t = np.asarray(times, dtype=np.float64)[:, None]
    decay = np.power(1.0 - rate * lam, t) if discrete else np.exp(-rate * lam * t)
    tiny = np.abs(lam) <= 1e-300
    weight = np.where(tiny, rate * t, (1.0 - decay) / np.where(tiny, 1.0, lam))  # (T, N)
    return np.einsum("gn,nk,tk,mk->tgm", th_test_train, vec, weight, vec)


def gd_moments(
    transfer_t: np.ndarray,
    k_test: np.ndarray,
    k_test_train: np.ndarray,
    k_train: np.ndarray,
    y_train: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (T, G) and covariance (T, G, G) of f_t = f_0 + T_t (Y - f_0(X)), f_0 ~ GP(0, K).

    transfer_t (T, G, N) from :func:`transfer`; k_test (G, G) = K(x, x); k_test_train (G, N);
    k_train (N, N); y_train (N,)."""
    mean = transfer_t @ y_train
    cross = transfer_t @ k_test_train.T  # T K(X, x): (T, G, G)
    cov = (
        k_test[None]
        + transfer_t @ k_train @ np.swapaxes(transfer_t, 1, 2)
        - cross
        - np.swapaxes(cross, 1, 2)
    )
    return mean, cov


def gp_posterior(
    k_test: np.ndarray,
    k_test_train: np.ndarray,
    k_train: np.ndarray,
    y_train: np.ndarray,
    noise: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact GP regression: mean (G,) and covariance (G, G) given Y = f(X) + N(0, noise)."""
    gram = k_train + noise * np.eye(len(k_train))
    solved = np.linalg.solve(gram, np.column_stack([y_train, k_test_train.T]))
    return k_test_train @ solved[:, 0], k_test - k_test_train @ solved[:, 1:]


def marginal_sd(cov: np.ndarray) -> np.ndarray:
    """The marginal standard deviations (..., G) of covariances (..., G, G), negative rounding
    on the diagonal clipped to 0."""
    return np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0.0, None))


#: Largest condition number of Theta(X, X) accepted: beyond it the solve amplifies rounding by
#: more than 1e-4 relative (float64) and the "prediction" is noise.
MAX_CONDITION = 1e12


def kernel_regression(
    k_test_train: np.ndarray,
    k_train_train: np.ndarray,
    y_train: np.ndarray,
    f0_test: np.ndarray | float = 0.0,
    f0_train: np.ndarray | float = 0.0,
    option: str = "--x-train",
) -> np.ndarray:
    """``f(x) = f0(x) + Theta(x, X) Theta(X, X)^{-1} (Y - f0(X))``, batched.

    k_test_train (..., G, N); k_train_train (..., N, N); y_train (N,); f0_test (..., G) and
    f0_train (..., N) the functions at initialisation (0: zeroed). Returns (..., G). A kernel
    matrix whose condition number exceeds 1e12 (e.g. two nearly equal inputs) raises ConfigError
    naming ``option``.
    """
    k_train_train = np.asarray(k_train_train, dtype=np.float64)
    condition = np.linalg.cond(k_train_train)
    if not np.all(np.isfinite(condition)) or np.max(condition) > MAX_CONDITION:
        raise ConfigError(
            f"{option}: the kernel matrix Theta(X, X) on the training inputs is "
            f"singular (condition number {np.max(condition):.3g}): the inputs are "
            f"(nearly) repeated; give distinct, well-separated inputs"
        )
    residual = np.asarray(y_train, dtype=np.float64) - np.asarray(f0_train, dtype=np.float64)
    shape = np.broadcast_shapes(k_train_train.shape[:-2], np.shape(residual)[:-1])
    residual = np.broadcast_to(residual, (*shape, residual.shape[-1]))
    weights = np.linalg.solve(
        np.broadcast_to(k_train_train, (*shape, *k_train_train.shape[-2:])), residual[..., None]
    )[..., 0]
    return np.asarray(f0_test) + np.einsum("...gn,...n->...g", k_test_train, weights)


def flow_outputs(
    kernel: np.ndarray,
    f0_train: np.ndarray,
    y_train: np.ndarray,
    rate: float,
    times: np.ndarray,
    discrete: bool = False,
) -> np.ndarray:
    """The linear model's outputs on the training inputs at each time: (T, N).

    ``y(t) = y_bar + exp(-rate H t) (y(0) - y_bar)`` (the post's gradient flow), or with
    ``discrete`` the gradient-descent steps ``y_bar + (I - rate H)^t (y(0) - y_bar)``.
    kernel H: (N, N) symmetric; f0_train, y_train: (N,); times (T,) in steps; rate = 2 lr / N.
    """
    lam, vec = np.linalg.eigh(0.5 * (kernel + kernel.T))
    u0 = vec.T @ (np.asarray(f0_train, dtype=np.float64) - y_train)
    return y_train + (mode_decay(lam, rate, times, discrete) * u0) @ vec.T


def flow_functions(
    k_test_train: np.ndarray,
    kernel: np.ndarray,
    f0_test: np.ndarray,
    f0_train: np.ndarray,
    y_train: np.ndarray,
    rate: float,
    times: np.ndarray,
    discrete: bool = False,
) -> np.ndarray:
    """The linear model's function at each time: (T, G) on G test inputs.

    ``f(x, t) = f(x, w0) + Theta(x, X) Theta(X, X)^{-1} (I - exp(-rate H t)) (Y - f(X, w0))``
    (Lee et al. 2019, eq. 9), computed as ``V diag((1 - exp(-rate lam t)) / lam) V^T`` so a
    near-singular kernel stays finite (the factor tends to rate t as lam -> 0); ``discrete``
    uses (1 - rate lam)^t. k_test_train: (G, N) and kernel: (N, N) on the same scale (both
    Theta / alpha^2 or both Theta); f0_test (G,), f0_train and y_train (N,); rate = 2 lr / N.
    """
    lam, vec = np.linalg.eigh(0.5 * (kernel + kernel.T))
    target = vec.T @ (y_train - np.asarray(f0_train, dtype=np.float64))
    decay = mode_decay(lam, rate, times, discrete)
    t = np.asarray(times, dtype=np.float64)[:, None]
    tiny = np.abs(lam) <= 1e-300
    safe = np.where(tiny, 1.0, lam)
    weight = np.where(tiny[None, :], rate * t, (1.0 - decay) / safe[None, :])  # (T, N)
    return f0_test + ((weight * target) @ vec.T) @ np.asarray(k_test_train).T
