"""The tangent kernel on two training inputs as an ellipse in the output plane (y1, y2).

Gradient descent on the squared loss moves the outputs u = f(X) - Y like
``u_{t+1} = (I - eta H) u_t`` with H the (alpha-normalised) kernel Theta(X, X) / alpha^2, a
2 x 2 symmetric positive definite matrix: the level sets ``u^T H u = c^2`` are ellipses around
the targets, with semi-axes c / sqrt(lambda_i) along H's eigenvectors (:func:`ellipse_points`).
How much the kernel moves during training is its relative change
``||H_t - H_0||_F / ||H_0||_F`` (:func:`relative_change`) and, in the picture, the ellipse's size
against its initial one (:func:`ellipse_size`).
"""

from __future__ import annotations

import numpy as np

ELLIPSE_POINTS = 96  # polygon vertices per ellipse


def ellipse_points(
    kernel: np.ndarray, centre: np.ndarray, scale: float, points: int = ELLIPSE_POINTS
) -> np.ndarray:
    """The contour ``(y - centre)^T H (y - centre) = scale^2`` of 2 x 2 SPD kernels as polygons.

    kernel: (..., 2, 2); centre: (2,) or (..., 2); returns (..., points, 2), closed (the last vertex
    repeats the first). With H = V diag(lam) V^T (V's COLUMNS the eigenvectors),
    ``y = centre + scale * V diag(1 / sqrt(lam)) (cos t, sin t)``: semi-axes scale / sqrt(lam_i)
    along the eigenvectors. Eigenvalues are floored at 1e-12 of the largest (a singular kernel
    would give an infinitely long ellipse).
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    sym = 0.5 * (kernel + np.swapaxes(kernel, -1, -2))
    lam, vec = np.linalg.eigh(sym)  # lam (..., 2) ascending; vec[..., :, i] is eigenvector i
    floor = np.maximum(lam.max(axis=-1, keepdims=True) * 1e-12, np.finfo(np.float64).tiny)
    lam = np.maximum(lam, floor)
    t = np.linspace(0.0, 2.0 * np.pi, points)
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, E)
    axes = vec * (scale / np.sqrt(lam))[..., None, :]  # column i scaled by scale / sqrt(lam_i)
    polygon = np.swapaxes(axes @ circle, -1, -2)  # (..., E, 2)
    return polygon + np.asarray(centre, dtype=np.float64)[..., None, :]


def relative_change(kernels: np.ndarray) -> np.ndarray:
    """Each run's relative kernel change since initialisation, ``||H_t - H_0||_F / ||H_0||_F``:
    kernels (T, K, 2, 2) -> (T, K)."""
    kernels = np.asarray(kernels, dtype=np.float64)
    return np.linalg.norm(kernels - kernels[:1], axis=(-2, -1)) / np.linalg.norm(
        kernels[:1], axis=(-2, -1)
    )


def ellipse_size(kernels: np.ndarray) -> np.ndarray:
    """Each ellipse's linear size against its size at initialisation, (T, K): the square root of
    the area ratio, ``(det H_0 / det H_t)^(1/4)`` (the semi-axes go like 1/sqrt(eigenvalue))."""
    det = np.linalg.det(np.asarray(kernels, dtype=np.float64))
    return (det[:1] / det) ** 0.25


def visible_ellipses(ellipses: np.ndarray, centre: np.ndarray, smallest: float) -> np.ndarray:
    """The ellipses (..., E, 2) as drawn: one whose larger semi-axis is under ``smallest`` is
    scaled about ``centre`` up to it (its shape kept); the others as they are."""
    offset = np.asarray(ellipses, dtype=np.float64) - centre
    radius = np.linalg.norm(offset, axis=-1).max(axis=-1)  # (...,): the larger semi-axis
    grow = np.where(radius < smallest, smallest / np.maximum(radius, 1e-300), 1.0)
    return centre + offset * grow[..., None, None]
