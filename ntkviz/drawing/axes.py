"""Pieces of panels that several figures draw alike: plain-number labels on log axes, the
polygon of a band between two curves, an ensemble's mean in its band, and the part of the
sequential colour map that reads on each theme, and a training-step axis on an animation's clock."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.ticker import Formatter, LogFormatterSciNotation, MaxNLocator

from ntkviz.drawing.layout import ASPECT, FLOWED
from ntkviz.drawing.style import SEQUENTIAL, SEQUENTIAL_RANGES, Z

#: The part of the sequential map a continuous quantity (a width, a mode) uses, per theme (the
#: style's decision, :data:`ntkviz.drawing.style.SEQUENTIAL_RANGES`; the name kept for figures).
COLOR_RANGES = SEQUENTIAL_RANGES


def mode_color(style, k: int, n: int) -> tuple:
    """Mode k of n (1-based) on the sequential map, by log k: a continuous quantity."""
    from matplotlib import colormaps

    low, high = COLOR_RANGES[style.theme]
    position = np.log(k) / np.log(n) if n > 1 else 0.0
    return colormaps[SEQUENTIAL](low + (high - low) * position)


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


def step_axis(ax, last: float, log: bool, first: float = 0.0) -> bool:
    """The x axis of a quantity over training steps, up to step ``last``: in log time when
    ``log`` (the snapshots are spaced in log time) and ``last`` > 1, from step 1 (step 0 has no
    place on it: a curve drawn there starts at step 1); else linear from ``first``. Returns
    whether it is logarithmic."""
    if log and last > 1:
        ax.set_xscale("log")
        ax.set_xlim(1, last)
        return True
    ax.set_xlim(first, last if last > first else first + 1)
    return False


def panel_text(ax, style, x: float, y: float, text: str, va: str) -> Any:
    """Small text at (``x``, ``y``) in axes coordinates, left-aligned, above the data."""
    return ax.text(
        x, y, text, transform=ax.transAxes, fontsize=style.small, ha="left", va=va, zorder=Z.TEXT
    )


def square_view(points: np.ndarray, margin: float = 0.08) -> tuple[tuple[float, float], ...]:
    """A square view ((x0, x1), (y0, y1)) holding the finite ``points`` (P, 2) with a ``margin``
    (a share of the larger side) around them; square so that, drawn with equal aspect, shapes
    (an ellipse) keep their true proportions."""
    pts = points[np.isfinite(points).all(axis=1)]
    low, high = pts.min(axis=0), pts.max(axis=0)
    half = 0.5 * (1.0 + 2.0 * margin) * max(float((high - low).max()), 1e-9)
    centre = 0.5 * (low + high)
    return tuple((float(c - half), float(c + half)) for c in centre)


def log_ylim(ax, values, below: float, above: float) -> None:
    """A log y view of the finite positive ``values`` (arrays of any shape): from the smallest
    / ``below`` to the largest x ``above`` (to the smallest x ``below`` x ``above`` when all are
    equal); the view is left as it is when there are none."""
    flat = np.concatenate([np.ravel(v) for v in values])
    positive = flat[np.isfinite(flat) & (flat > 0)]
    if positive.size:
        low, high = float(positive.min()), float(positive.max())
        ax.set_ylim(low / below, (high if high > low else low * below) * above)


def padded_view(points: np.ndarray, margin: float = 0.08) -> tuple[tuple[float, float], ...]:
    """A view ((x0, x1), (y0, y1)) holding the finite ``points`` (P, 2), each axis padded by
    ``margin`` of its range on either side (of at least 1e-3 of the larger range)."""
    pts = points[np.isfinite(points).all(axis=1)]
    low, high = pts.min(axis=0), pts.max(axis=0)
    pad = margin * np.maximum(high - low, 1e-3 * max(float((high - low).max()), 1e-9))
    return tuple((float(lo - p), float(hi + p)) for lo, hi, p in zip(low, high, pad, strict=True))


def fitted_span(
    curves, bounds: tuple[float, float], margin: float = 0.08, step: float = 0.1
) -> tuple[float, float]:
    """The smallest range holding the finite values of ``curves`` (arrays of any shape) with
    ``margin`` of their spread on either side, widened out to multiples of ``step`` (a view that
    follows narrowing curves then moves now and then, not in every frame) and kept inside
    ``bounds``; ``bounds`` themselves when nothing is finite."""
    flat = np.concatenate([np.ravel(c) for c in curves])
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return bounds
    pad = margin * max(float(flat.max() - flat.min()), step)
    low = max(float(np.floor((flat.min() - pad) / step) * step), bounds[0])
    high = min(float(np.ceil((flat.max() + pad) / step) * step), bounds[1])
    return (low, high) if low < high else bounds


def stepped_top(value: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten at or above ``value`` (> 0): the top of a
    view that follows shrinking data in a few zoom steps (each a factor of 2 or 2.5, the data
    then filling at least 40 % of it), not in every frame: a reader sees the data move, not the
    axis, and a GIF redraws the panel only at a step."""
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"stepped_top needs a positive number (got {value!r})")
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value * (1 - 1e-12)))


class SteadyFormatter(Formatter):
    """Tick labels with one decimal (-3.0, 1.5), or as many as ticks closer than 0.1 need."""

    decimals = 1

    def set_locs(self, locs) -> None:
        super().set_locs(locs)
        steps = np.diff(np.sort(np.asarray(locs, dtype=float)))
        step = float(steps.min()) if steps.size else 1.0
        self.decimals = max(1, int(np.ceil(-np.log10(step) - 1e-9))) if step > 0 else 1

    def __call__(self, x, pos=None) -> str:
        text = f"{round(float(x), self.decimals) + 0.0:.{self.decimals}f}"
        return text.replace("-", "\u2212")


def steady_labels(axis) -> None:
    """Tick labels of one width whatever the view, on ``axis`` (``ax.yaxis``): ticks at
    multiples of 1, 2 or 5 times a power of ten, each with one decimal (-3.0, 1.5). A view that
    changes between frames keeps the layout its first frame fixed (frozen after it), so its
    labels must not grow ("-2" to "-0.5") into the panel beside them."""
    axis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(SteadyFormatter())


# -- log-log panels: measured values, their fitted line and the theory's slope --------------------


def median_series(ax, style, x: np.ndarray, samples: np.ndarray, color, label: str) -> None:
    """Samples (V, R) at ``x`` (V,) on log-log axes: each a faint dot (when R > 1), their median
    a line with dots labelled ``label``; values <= 0, which a log axis cannot place, left out."""
    median = np.median(samples, axis=1)
    trials = samples.shape[1]
    xs, ys = np.repeat(x, trials), samples.reshape(-1)
    if trials > 1:
        ax.plot(xs[ys > 0], ys[ys > 0], **style.look("trail", color, alpha=0.35))
    keep = median > 0
    look = style.look("run", color, marker="o", ms=2.0 * style.line_width)
    ax.plot(x[keep], median[keep], **look, label=label)


def fit_line(ax, style, x: np.ndarray, slope: float, intercept: float, color, **kwargs) -> Any:
    """The line of a log-log fit, log10 y = intercept + slope log10 x, over ``x`` in the fit's
    look; None (nothing drawn) when the slope is not finite."""
    if not np.isfinite(slope):
        return None
    y = 10 ** (intercept + slope * np.log10(x))
    (line,) = ax.plot(x, y, **style.look("fit", color), **kwargs)
    return line


def theory_line(ax, style, x: np.ndarray, slope: float, fit: tuple[float, float], label: str):
    """The theory's log-log ``slope`` over ``x`` as a dashed line through the middle (in log x)
    of the fitted line ``fit`` = (slope, intercept), so the two slopes compare at a glance."""
    logs = np.log10(x)
    middle = 0.5 * (logs.min() + logs.max())
    level = fit[1] + fit[0] * middle
    (line,) = ax.plot(
        x, 10 ** (level + slope * (logs - middle)), **style.look("theory"), label=label
    )
    return line


def shared_panels(
    figure,
    count: int,
    xlabel: str,
    ylabel: str,
    columns: int | None = None,
    aspect: float | None = None,
) -> tuple[list, Any]:
    """``count`` panels with shared axes and one free panel after them, on a grid of one row
    (under 4 panels) or two, or of at most ``columns`` columns (a narrow figure's: see
    :meth:`ntkviz.drawing.style.Style.columns`); axis labels and tick labels only on the outer
    panels (x where no panel lies below, y in the first column). Returns the panels and the
    free one."""
    rows = 1 if count < 4 else 2
    cols = -(-(count + 1) // rows)
    if columns is not None and cols > columns:
        cols = max(1, columns)
        rows = -(-(count + 1) // cols)
    grid = figure.add_gridspec(rows, cols)
    setattr(grid, FLOWED, True)  # laid out for the width already: no re-flow
    setattr(grid, ASPECT, aspect)
    panels: list = []
    for k in range(count):
        row, col = divmod(k, cols)
        first = panels[0] if panels else None
        ax = figure.add_subplot(grid[row, col], sharex=first, sharey=first)
        if k + cols >= count:  # no panel below: x tick labels here
            ax.set_xlabel(xlabel)
        else:
            ax.tick_params(labelbottom=False)
        if col == 0:
            ax.set_ylabel(ylabel)
        else:
            ax.tick_params(labelleft=False)
        panels.append(ax)
    return panels, figure.add_subplot(grid[count // cols, count % cols])


def set_positive(line, x: np.ndarray, y: np.ndarray) -> None:
    """``line`` through the points (x, y) with y > 0: a log axis has no place for the others (a
    distance of exactly 0, at step 0 say)."""
    keep = y > 0
    line.set_data(x[keep], y[keep])


def above_floor(values: np.ndarray, floor: float) -> np.ndarray:
    """|values| for a log axis with a floor: NaN (not drawn) below it, never a line along it."""
    values = np.abs(np.asarray(values, dtype=float))
    return np.where(values >= floor, values, np.nan)


def floor_band(ax, style, floor: float, bottom: float, top: float, what: str = "learned") -> Any:
    """The floor of a log axis from ``bottom`` to ``top``: a muted band from ``bottom`` to
    ``floor``, labelled as the floor (values below it are not drawn: :func:`above_floor`, so no
    line of data runs along it). Returns the label."""
    ax.set_ylim(bottom, top)
    ax.axhspan(bottom, floor, color=style.color("muted"), alpha=0.25, lw=0, zorder=Z.BAND)
    return ax.text(
        0.99,
        np.sqrt(bottom * floor),
        f"floor: below {floor:g}, {what} (not drawn)",
        transform=ax.get_yaxis_transform(),
        ha="right",
        va="center",
        fontsize=style.small,
        color=style.foreground,
    )
