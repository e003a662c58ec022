"""The post's one-parameter example model.

``f(x, w) = alpha * (w x + w^2 x + sin(exp(0.1 w))) * (w - w0)``, zero at ``w = w0`` for every x,
so that its linearisation around w0 is a line through (w0, 0) with slope ``alpha * g(x, w0)``.
"""

from __future__ import annotations

import torch


def toy_model(w: torch.Tensor, x: float, w0: float, alpha: float = 1.0) -> torch.Tensor:
    """The scaled model at input ``x`` for parameter values ``w`` (any shape, elementwise)."""
    return alpha * (w * x + w**2 * x + torch.sin(torch.exp(0.1 * w))) * (w - w0)
