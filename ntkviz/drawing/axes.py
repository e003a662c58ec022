"""Pieces of panels that several figures draw alike: plain-number labels on log axes, the
polygon of a band between two curves, an ensemble's mean in its band, and the part of the
sequential colour map that reads on each theme."""

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


def mean_band(ax, style, x: np.ndarray, mean: np.ndarray, spread: np.ndarray, color) -> tuple:
    """An ensemble's mean over ``x`` as a line in ``color`` over a band from mean - ``spread`` to
    mean + ``spread``: (band, line), for :func:`move_mean_band` to move each frame."""
    band = ax.fill_between(x, mean - spread, mean + spread, **style.band(color))
    (line,) = ax.plot(x, mean, **style.look("run", color))
    return band, line


def move_mean_band(band, line, x: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> None:
    """:func:`mean_band`'s band and line at another frame's ``mean`` and ``spread``."""
    line.set_ydata(mean)
    band.set_verts(band_verts(x, mean - spread, mean + spread))
