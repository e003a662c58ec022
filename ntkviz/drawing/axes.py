"""Pieces of panels that several figures draw alike: plain-number labels on log axes, the
polygon of a band between two curves, and the part of the sequential colour map that reads on
each theme."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import LogFormatterSciNotation

#: The part of the sequential map a continuous quantity (a width, a mode) uses, per theme: its
#: pale yellow end would not read on white, its dark purple end not on black.
COLOR_RANGES = {"light": (0.0, 0.8), "dark": (0.25, 1.0)}


class PlainLogFormatter(LogFormatterSciNotation):
    """Log-axis labels as plain numbers (0.6, 2, 30) on the ticks matplotlib chooses to label."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def plain_log_labels(axis) -> None:
    """Major and minor labels of a log ``axis`` (``ax.xaxis``, ``ax.yaxis``) as plain numbers:
    2, 30, 0.4 rather than 2 x 10^0 (which collide)."""
    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))


def band_verts(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> list[np.ndarray]:
    """The vertices of the band between ``low`` and ``high`` over ``x``, in the order
    ``fill_between`` draws them, for ``PolyCollection.set_verts``: along the upper curve, back
    along the lower."""
    return [np.concatenate([np.column_stack([x, high]), np.column_stack([x[::-1], low[::-1]])])]
