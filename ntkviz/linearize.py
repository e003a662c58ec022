"""First-order Taylor models with torch autograd: no derivative is written by hand.

``f_lin(w) = f(w0) + J_f(w0) (w - w0)`` is the post's "linearised model". For a scalar parameter
(the toy model) the slope comes from one reverse-mode ``autograd.grad``; for parameter vectors
:func:`linearize` uses a Jacobian-vector product, so no Jacobian is formed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


def derivative(fn: Fn, w0: torch.Tensor) -> torch.Tensor:
    """d fn / d w at a scalar ``w0`` (fn maps a scalar tensor to a scalar tensor), by autograd."""
    w = w0.detach().clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(fn(w), w)
    return slope.detach()


def tangent_line(fn: Fn, w0: torch.Tensor) -> Fn:
    """``w -> fn(w0) + fn'(w0) (w - w0)`` for a scalar parameter; ``w`` may be any shape."""
    value = fn(w0.detach()).detach()
    slope = derivative(fn, w0)
    return lambda w: value + slope * (w - w0)


def linearize(fn: Fn, w0: torch.Tensor) -> Fn:
    """``w -> fn(w0) + J_fn(w0) (w - w0)`` for a parameter tensor ``w0`` (same shape as ``w``).

    Reference: Lee et al. 2019, "Wide neural networks of any depth evolve as linear models".
    """
    from torch.func import jvp

    w0 = w0.detach()

    def f_lin(w: torch.Tensor) -> torch.Tensor:
        value, tangent = jvp(fn, (w0,), (w - w0,))
        return value + tangent

    return f_lin
