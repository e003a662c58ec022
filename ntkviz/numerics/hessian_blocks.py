"""The block structure of the post's one-hidden-layer Hessian, and its two reorderings.

For ``f(x, w) = sum_i b_i phi(a_i x)`` with ``w = (a_1..a_m, b_1..b_m)`` the Hessian of the output
has three diagonal blocks,

    d2f/da_i^2 = b_i x^2 phi''(a_i x),   d2f/da_i db_i = x phi'(a_i x),   d2f/db^2 = 0,

and every other entry 0. Swapping its top and bottom halves of rows (``P H``, the post's step)
makes it lower-triangular with the a-b block on the diagonal; reordering rows and columns as
(a_1, b_1, a_2, b_2, ...) (``P H P^T``) makes it 2 x 2 blocks on the diagonal
(:func:`permutation_index`, :func:`permute`). Since b_i ~ m^-1/2, the a-a block shrinks against
the a-b block as the width grows: :func:`block_ratios` measures it on a dense Hessian,
:func:`block_ratios_closed` without forming one (the output's or the loss's).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ntkviz.errors import ConfigError
from ntkviz.numerics import curvature

PERMUTATIONS = ("swap", "pairs")


def permutation_index(width: int, how: str) -> tuple[np.ndarray, np.ndarray]:
    """(row order, column order), each (2m,): the permuted form is ``H[np.ix_(rows, cols)]``.

    ``swap``: rows (b_1..b_m, a_1..a_m), columns unchanged -- the post's ``P H``.
    ``pairs``: rows and columns (a_1, b_1, a_2, b_2, ...) -- ``P H P^T``, block-diagonal.
    """
    order = np.arange(2 * width)
    if how == "swap":
        return np.roll(order, -width), order
    if how == "pairs":
        paired = order.reshape(2, width).T.ravel()
        return paired, paired
    raise ConfigError(f"--permutation must be one of {', '.join(PERMUTATIONS)} (got {how!r})")


def permute(hessian: np.ndarray, how: str) -> np.ndarray:
    """The permuted form of a (2m, 2m) Hessian in the order (a_1..a_m, b_1..b_m)."""
    rows, cols = permutation_index(hessian.shape[-1] // 2, how)
    return hessian[np.ix_(rows, cols)]


def block_ratios_closed(
    a: torch.Tensor, b: torch.Tensor, x: float, act: curvature.Activation, of: str, y: float
) -> tuple[float, float]:
    """:func:`block_ratios` of the Hessian at ``(a, b)`` without forming it, in O(m).

    Output: H_aa = diag(b x^2 phi''(a x)), H_ab = diag(x phi'(a x)). Loss 1/2 (f - y)^2: each
    block is r D + p q^T with r = f - y, D that diagonal and p q^T from grad grad^T
    (u = df/da = b x phi', v = df/db = phi): H_aa = r D_aa + u u^T, H_ab = r D_ab + u v^T.
    ||D + p q^T||_F^2 = sum D^2 + 2 sum D p q + |p|^2 |q|^2; the largest entry is on the
    diagonal (|D_i + p_i q_i|) or off it (the largest |p_i| |q_j|, i != j).
    """
    phi, d1, d2 = act.derivatives(a * x)
    d_aa, d_ab = b * x * x * d2, x * d1
    if of == "output":
        return (
            float(d_aa.abs().max() / d_ab.abs().max()),
            float(torch.linalg.vector_norm(d_aa) / torch.linalg.vector_norm(d_ab)),
        )
    r = float((b * phi).sum()) - y
    u = b * x * d1

    def norms(diag: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> tuple[float, float]:
        frob2 = (diag**2).sum() + 2 * (diag * p * q).sum() + (p @ p) * (q @ q)
        largest = float((diag + p * q).abs().max())
        if p.numel() > 1:
            ps, pi = p.abs().topk(2)
            qs, qi = q.abs().topk(2)
            off = ps[0] * qs[0] if pi[0] != qi[0] else max(ps[0] * qs[1], ps[1] * qs[0])
            largest = max(largest, float(off))
        return largest, math.sqrt(max(float(frob2), 0.0))

    max_aa, frob_aa = norms(r * d_aa, u, u)
    max_ab, frob_ab = norms(r * d_ab, u, phi)
    return max_aa / max_ab, frob_aa / frob_ab


def block_ratios(hessian: np.ndarray) -> tuple[float, float]:
    """(max |a-a entry| / max |a-b entry|, ||H_aa||_F / ||H_ab||_F) of a (2m, 2m) Hessian."""
    m = hessian.shape[-1] // 2
    aa, ab = hessian[:m, :m], hessian[:m, m:]
    return (
        float(np.abs(aa).max() / np.abs(ab).max()),
        float(np.linalg.norm(aa) / np.linalg.norm(ab)),
    )
