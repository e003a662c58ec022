"""A weight matrix shown in at most ``max_pixels`` a side: the means of f x f blocks."""

from __future__ import annotations

import torch


def block_factor(width: int, max_pixels: int) -> int:
    return -(-width // max_pixels)


def block_mean(matrix: torch.Tensor, max_pixels: int) -> torch.Tensor:
    """(m, m) -> (ceil(m/f), ceil(m/f)) means of f x f blocks, f = ceil(m / max_pixels); the
    blocks at the edge average the entries they hold. f = 1 returns ``matrix`` itself."""
    f = block_factor(max(matrix.shape), max_pixels)
    if f == 1:
        return matrix
    return torch.nn.functional.avg_pool2d(matrix[None, None], f, ceil_mode=True)[0, 0]
