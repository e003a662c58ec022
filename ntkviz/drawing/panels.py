"""Panels that several figures set up alike: the output plane (y1, y2) of nets on two training
inputs (its view, labels, target and origin, and its key), a log-log panel of distances against
width or a swept value, and a panel of distances over training steps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ntkviz.drawing.axes import (
    fit_line,
    log_ylim,
    median_series,
    panel_text,
    set_positive,
    step_axis,
)
from ntkviz.drawing.style import Z

# -- the output plane (y1, y2) = (f(x1, w), f(x2, w)) ----------------------------------------------


def output_plane(ax, view: tuple[tuple[float, float], ...], x_train, labels: bool = True) -> None:
    """The output plane of nets on the two training inputs ``x_train``: its ``view`` ((y1 range),
    (y2 range)) and, with ``labels``, its axis labels naming the inputs."""
    ax.set_xlim(*view[0])
    ax.set_ylim(*view[1])
    if labels:
        ax.set_xlabel(f"$y_1 = f({x_train[0]:g}, w)$")
        ax.set_ylabel(f"$y_2 = f({x_train[1]:g}, w)$")


def plane_marks(ax, style, y_train, **target: Any) -> tuple:
    """The targets (y1, y2) = ``y_train`` as a star (``target``: overrides of its look) and the
    origin, where zeroed nets start: (star, origin)."""
    (star,) = ax.plot([y_train[0]], [y_train[1]], **style.look("target", **target))
    (origin,) = ax.plot([0.0], [0.0], **style.look("landmark"))
    return star, origin


def plane_handles(style, colors, alphas, show_initial: bool, runs: bool = True) -> list[Line2D]:
    """Legend entries: each run's ellipse (a line in its colour; or, without ``runs``, one
    neutral line for them all), the initial ellipse, the trail and the target."""
    neutral = style.color("reference")
    if runs:
        handles = [
            Line2D([], [], **style.look("run", colors[k]), label=rf"$\alpha$ = {alpha:g}")
            for k, alpha in enumerate(alphas)
        ]
    else:
        handles = [Line2D([], [], **style.look("run", neutral), label="kernel now")]
    if show_initial:
        label = "at start" if runs else "kernel at start"
        handles.append(Line2D([], [], **style.look("initial", neutral), label=label))
    handles.append(
        Line2D(
            [],
            [],
            **style.look("trail", style.color("reference"), ms=2 * style.line_width),
            label="outputs so far",
        )
    )
    handles.append(Line2D([], [], **style.look("target"), label=r"target $\bar y$"))
    return handles


def words_and_number(ax, style, x: float, y: float, words: str) -> tuple:
    """Still ``words`` at (``x``, ``y``) in axes coordinates (:func:`panel_text`), and an empty
    text right after them for a number that changes each frame: (words, number)."""
    text = panel_text(ax, style, x, y, words, va="bottom")
    number = ax.annotate(
        " ",
        xy=(1.0, 0.0),
        xycoords=text,
        fontsize=style.small,
        ha="left",
        va="bottom",
        zorder=Z.TEXT,
    )
    return text, number


def sparse_ticks(ax, nbins: int) -> None:
    """At most ``nbins`` ticks on either axis, at 1, 2 or 5 times a power of ten."""
    # Fixed tick counts (not "auto"): the lowest y tick is left out, so that the corner's
    # x and y tick labels cannot collide.
    ax.xaxis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 5, 10], prune="lower"))


def panel_grid(figure, panels: int) -> tuple[np.ndarray, int, int]:
    """``panels`` panels on a grid of 2 columns (up to 4 panels) or 3, row by row, the grid's
    spare cells hidden: (the panels' axes, flat; rows; columns)."""
    ncols = 2 if panels <= 4 else 3
    nrows = math.ceil(panels / ncols)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return axes, nrows, ncols


# -- distances: against width or a swept value (log-log), over training steps ---------------------


def width_axis(ax, widths: np.ndarray, values, below: float, above: float) -> None:
    """A log-log panel of distances against width: the y view holding ``values``
    (:func:`log_ylim` with ``below`` and ``above``), the x axis over ``widths`` with a plain
    tick at each (twice either way around a single width)."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    log_ylim(ax, values, below, above)
    low, high = widths.min(), widths.max()
    if low == high:
        low, high = low / 2, high * 2
    ax.set_xlim(low / 1.4, high * 1.4)
    ax.set_xticks(widths, [str(int(w)) for w in widths])
    ax.minorticks_off()
    ax.set_xlabel("width")


def median_fits(ax, style, x: np.ndarray, labels, samples, fits, colors) -> None:
    """Log-log axes with, for each label, samples (V, R) at ``x`` (V,), fit (slope, intercept)
    and colour: the samples and their median (:func:`median_series`, labelled with the fitted
    slope) and the fitted line (:func:`fit_line`)."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    for label, values, (slope, intercept), color in zip(labels, samples, fits, colors, strict=True):
        fit = f": slope {slope:.2f}" if np.isfinite(slope) else ""
        median_series(ax, style, x, values, color, label + fit)
        fit_line(ax, style, x, slope, intercept, color)


def step_distances(ax, style, steps, colors, solid, dotted, log: bool) -> list[tuple]:
    """A log panel of distances (T, W) over training ``steps`` (T,): for each of the W runs, in
    ``colors[w]``, a solid line of ``solid[:, w]``, a dash-dotted one (the style's "second"
    role: dotted means another thing in the figure beside it) of ``dotted[:, w]`` and a dot at
    the current step, all empty until :func:`move_step_distances`; the y view holds both, the
    x axis is :func:`step_axis`'s. Returns the (line, values, kind) of each."""
    lines = []
    for w in range(solid.shape[1]):
        color = colors[w]
        (mean,) = ax.plot([], [], **style.look("run", color))
        (own,) = ax.plot([], [], **style.look("second", color))
        (now,) = ax.plot([], [], **style.look("now", color))
        lines += [
            (mean, solid[:, w], None),
            (own, dotted[:, w], None),
            (now, solid[:, w], "now"),
        ]
    ax.set_yscale("log")
    log_ylim(ax, [solid, dotted], 1.5, 1.5)
    step_axis(ax, steps[-1], log, steps[0])  # distances: from step 1
    ax.set_xlabel("step")
    return lines


def move_step_distances(lines: list[tuple], steps: np.ndarray, i: int) -> None:
    """:func:`step_distances`' lines at snapshot ``i``: each curve up to it, the dot on it."""
    for line, values, kind in lines:
        start = i if kind == "now" else 0  # the current dot, or the curve so far
        set_positive(line, steps[start : i + 1], values[start : i + 1])
