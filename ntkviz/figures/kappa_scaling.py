"""kappa-scaling: gradient norm, Hessian norm and kappa of the one-hidden-layer net against width.

Post: "Norm of the gradient ... grows as sqrt(m)", "Operator norm of the hessian ... remains
roughly constant", "The decay of kappa(w0) with width ... falls as O(1/m)". The net is
``f(x, w) = sum_i b_i tanh(a_i x)`` with a_i ~ N(0, 1), b_i ~ N(0, 1/m) at one fixed x; widths
enter one by one and the least-squares log-log slopes (theory 0.5, 0, -1) update as they come.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.collections import PolyCollection

from ntkviz.config import param
from ntkviz.drawing.axes import plain_log_labels
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.drawing.style import Z
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import curvature_activation, log_log_fit
from ntkviz.numerics import curvature
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

#: The plotted quantities, in Result column order, and their theoretical log-log slopes.
QUANTITIES = ("grad_norm", "hessian_norm", "kappa", "kappa_alpha")
THEORY = np.array([0.5, 0.0, -1.0, -1.0])
#: A log-log slope is fitted (and drawn) only once this many widths are in: through two or three
#: points a least-squares line follows the scatter of single draws, not the trend.
MIN_FIT_WIDTHS = 4


@dataclass(frozen=True)
class KappaScalingConfig:
    # The post: widths = 10**linspace(1, 3.6, 10) / 2, i.e. log-spaced from 5 to about 1991.
    min_width: float = param(
        5.0, "smallest width m of the log-spaced range (post: 10^1 / 2)", ge=1, le=1e15
    )
    max_width: float = param(
        10**3.6 / 2,
        "largest width m (post: 10^3.6 / 2); --method exact reaches 10^7 in seconds",
        ge=1,
        le=1e15,  # beyond, widths are not integers we can count (memory refuses far sooner)
    )
    widths_count: int = param(
        10,
        "number of log-spaced widths, one frame each (repeats after "
        "rounding to integers are dropped)",
        ge=1,
        le=1000,
    )
    widths: tuple[int, ...] = param(
        (),
        "explicit widths M1,M2,... instead of the log-spaced range (default: none)",
        ge=1,
        min_length=0,
    )
    x: float | None = param(
        None, "the fixed input x (default: drawn once from N(0, 1) with --seed, as the author did)"
    )
    seeds: int = param(
        1,
        "initialisations per width; with N > 1 the plot shows their median "
        "and a min-max band, and the slopes are fitted to the median",
        ge=1,
        le=10_000,
    )
    activation: str = curvature_activation()
    sharpness: float = param(5.0, "sharpness s of relu-smooth, softplus(s z) / s", gt=0)
    method: str = param(
        "exact",
        "Hessian norm: exact (closed form, O(m)), hvp (Lanczos on "
        "Hessian-vector products, any net) or dense (the post's dense 2m x 2m "
        "Hessian, refused when it would not fit in memory)",
        choices=curvature.METHODS,
    )
    lanczos_iters: int = param(
        300, "--method hvp: most Lanczos steps per Hessian", ge=1, le=100_000
    )
    alpha: float = param(
        1.0,
        "output scale alpha: kappa_alpha = kappa / alpha (the post's 'Scaling the Output')",
        gt=0,
    )
    show_alpha: bool = param(
        False, "also plot kappa_alpha = kappa / alpha (always plotted when --alpha is not 1)"
    )

    def check(self) -> None:
        if not self.widths and self.min_width > self.max_width:
            raise ConfigError(
                f"--min-width ({self.min_width:g}) must not exceed --max-width ({self.max_width:g})"
            )
        if self.x is not None and self.x == 0:
            raise ConfigError(
                "--x must not be 0: there the gradient and Hessian vanish and kappa is 0/0"
            )
        largest = int(width_schedule(self).max())
        option = "--widths" if self.widths else "--max-width"
        limit = curvature.memory_limit_bytes()
        if self.method == "dense":
            curvature.check_dense(largest, limit)
        elif self.method == "hvp":
            curvature.check_hvp(largest, self.lanczos_iters, limit)
        need = 2 * 8 * largest  # a and b in float64; the exact norms then work chunk by chunk
        if need > limit:
            raise ConfigError(
                f"{option}: width {largest} needs about "
                f"{curvature.format_bytes(need)} for its parameters, over the "
                f"limit of {curvature.format_bytes(limit)}"
            )

    @property
    def plots_alpha(self) -> bool:
        return self.show_alpha or self.alpha != 1.0


def width_schedule(config: KappaScalingConfig) -> np.ndarray:
    """The widths (W,) int64, increasing: ``--widths``, or round(10**linspace(...)) without repeats.

    With the defaults this is the post's ``10**linspace(1, 3.6, 10) / 2`` rounded: 5 ... 1991.
    """
    if config.widths:
        return np.unique(np.asarray(config.widths, dtype=np.int64))
    low, high = math.log10(2 * config.min_width), math.log10(2 * config.max_width)
    widths = np.round(10 ** np.linspace(low, high, config.widths_count) / 2)
    return np.unique(np.maximum(widths, 1).astype(np.int64))


@dataclass(frozen=True)
class KappaScalingResult:
    """widths (W,) int64; grad_norm, hessian_norm, kappa, kappa_alpha (S, W) for S initialisations;
    median (4, W): the median over seeds of those four, in :data:`QUANTITIES` order;
    slopes, intercepts (W, 4): the log10-log10 least-squares fit of ``median`` over the first
    k + 1 widths (row k, what frame k shows; NaN while k + 1 < :data:`MIN_FIT_WIDTHS`), the last
    row over all widths;
    theory (4,): 0.5, 0, -1, -1; x: the input; alpha: the output scale."""

    widths: np.ndarray
    grad_norm: np.ndarray
    hessian_norm: np.ndarray
    kappa: np.ndarray
    kappa_alpha: np.ndarray
    median: np.ndarray
    slopes: np.ndarray
    intercepts: np.ndarray
    theory: np.ndarray
    x: float
    alpha: float


@numeric
def simulate(
    config: KappaScalingConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> KappaScalingResult:
    """Gradient and Hessian norms at every (seed, width) on the CPU in float64, then the fits.

    From ``generator``: x (unless given), then one seed per initialisation; each (seed, width)
    pair has its own stream (:func:`width_generator`). ``device`` is ignored: the exact method
    is O(m) and memory-bound, and the draws must match across machines.
    """
    progress = progress or Progress()
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    widths = width_schedule(config)
    x = config.x
    if x is None:
        x = float(torch.randn((), generator=generator, dtype=torch.float64))
    member_seeds = [
        int(torch.randint(0, 2**62, (1,), generator=generator)) for _ in range(config.seeds)
    ]
    act = curvature.activation(config.activation, config.sharpness)
    grad = np.zeros((config.seeds, len(widths)))
    hess = np.zeros((config.seeds, len(widths)))
    with progress.stage("simulate", len(widths) * config.seeds) as advance:
        for j, width in enumerate(widths):
            for s, member in enumerate(member_seeds):
                stream = curvature.width_generator(member, int(width))
                a, b = curvature.init_params(int(width), stream)
                measured = curvature.measure(
                    a, b, x, act, method=config.method, iters=config.lanczos_iters, generator=stream
                )
                grad[s, j], hess[s, j] = measured.grad_norm, measured.hessian_norm
                del a, b
                advance(1)
    kappa = curvature.kappa(hess, grad)
    kappa_alpha = curvature.kappa_alpha(hess, grad, config.alpha)
    median = np.median(np.stack([grad, hess, kappa, kappa_alpha]), axis=1)
    fits = np.full((len(widths), len(QUANTITIES), 2), np.nan)
    for k in range(MIN_FIT_WIDTHS - 1, len(widths)):
        for q in range(len(QUANTITIES)):
            fits[k, q] = log_log_fit(widths[: k + 1], median[q, : k + 1])
    return KappaScalingResult(
        widths=widths,
        grad_norm=grad,
        hessian_norm=hess,
        kappa=kappa,
        kappa_alpha=kappa_alpha,
        median=median,
        slopes=fits[..., 0],
        intercepts=fits[..., 1],
        theory=THEORY.copy(),
        x=float(x),
        alpha=float(config.alpha),
    )


# -- drawing ------------------------------------------------------------------------------------

PANELS = (
    (0, r"Gradient norm $\Vert\nabla_w y\Vert_2$", "upper left"),
    (1, r"Hessian norm $\Vert\nabla_w^2 y\Vert_2$", "lower right"),
    (2, r"$\kappa = \Vert\nabla_w^2 y\Vert \,/\, \Vert\nabla_w y\Vert^2$", "upper right"),
)


def _fit_label(slope: float) -> str:
    """The fit's legend label: its slope, or nothing before there is a fit (the entry is hidden
    until then)."""
    return f"fit: slope {slope:+.2f}" if math.isfinite(slope) else ""


def _log_limits(
    values: np.ndarray, pad: float = 1.35, min_decades: float = 1.0
) -> tuple[float, float]:
    """Log-axis limits around the positive ``values``, padded, at least ``min_decades`` tall."""
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 0.1, 10.0
    low, high = math.log10(values.min() / pad), math.log10(values.max() * pad)
    if high - low < min_decades:
        middle = 0.5 * (low + high)
        low, high = middle - 0.5 * min_decades, middle + 0.5 * min_decades
    return 10**low, 10**high


class KappaScalingRenderer(Renderer):
    """One panel per quantity: the measured points (median over seeds, min-max band) enter one
    width a frame; the fitted line is drawn only over the widths it was fitted to, once there are
    :data:`MIN_FIT_WIDTHS` of them; the dashed theory slope is a fixed guide."""

    frames_of = "widths"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        widths = r.widths.astype(float)
        self.span = np.array([widths[0], widths[-1]]) if len(widths) > 1 else widths[[0, 0]]
        x_limits = (widths[0] / 1.5, widths[-1] * 1.5)
        band = r.grad_norm.shape[0] > 1
        # [quantity, points, fit line, band or None, index of the fit in its legend, legend]
        self.series = []
        for column, (q, title, where) in enumerate(PANELS):
            ax = self.figure.add_subplot(1, len(PANELS), column + 1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(*x_limits)
            ax.set_title(title)
            ax.set_xlabel("width $m$")
            quantities = (q, 3) if q == 2 and config.plots_alpha else (q,)
            shown = []
            handles = []
            bands, lines = [], []
            for quantity in quantities:
                color = style.run_color(quantity)
                stack = self._samples(quantity)
                shown.append(stack.ravel())
                poly = None
                if band:
                    # over the grid (z 1.5), as blitting draws it
                    band_look = style.band(color, zorder=Z.RUN - 0.2)
                    poly = PolyCollection([np.zeros((0, 2))], **band_look)
                    ax.add_collection(poly, autolim=False)
                # Points only: the dotted fit through them must not hide behind a joining line.
                # Measured points over their fit over the (static) theory line, as blitted.
                run = style.look("run", color, marker="o", ms=2.5 * style.line_width)
                run.update(linestyle="none", zorder=Z.REFERENCE + 0.2)
                (points,) = ax.plot([], [], **run)
                fit_look = style.look("fit", color, zorder=Z.REFERENCE + 0.1)
                (fit,) = ax.plot([], [], **fit_look, label=_fit_label(0.0))
                theory_line = self._theory(quantity)
                shown.append(theory_line)
                # One dashed theory line per panel in the legend; kappa_alpha's is its colour.
                (theory,) = ax.plot(
                    self.span,
                    theory_line,
                    **style.look("theory", color if quantity == 3 else None),
                    label=f"theory: slope {THEORY[quantity]:g}",
                )
                handles.append(fit)
                if quantity != 3:
                    handles.append(theory)
                self.series.append([quantity, points, fit, poly, None, None])
                bands += [poly] if poly is not None else []
                # the theory line too: blitted in z-order over the bands, as a full draw has it
                lines += [theory, points, fit]
            ax.set_ylim(*_log_limits(np.concatenate(shown)))
            plain_log_labels(ax.yaxis)
            legend = ax.legend(handles=handles, **style.legend(loc=where))
            # Bands and lines are blitted each frame in z-order; the legend, whose fit labels
            # change as the widths come in, is drawn over them.
            self.animate(*bands, *lines)
            self.overlay(legend)
            for item in self.series:
                if item[5] is None:
                    item[4], item[5] = handles.index(item[2]), legend
        label = config.activation
        seeds = r.grad_norm.shape[0]
        self.heading = (
            f"One-hidden-layer {label} net at $x$ = {r.x:.3g}"
            + (f", median of {seeds} initialisations" if seeds > 1 else "")
            + (rf", $\alpha$ = {r.alpha:g}" if config.plots_alpha else "")
        )
        self.title = self.figure.suptitle(" ")
        self.overlay(self.title)
        self.key_frame = self.count - 1  # every width in, the fits over all of them

    def _samples(self, quantity: int) -> np.ndarray:
        return getattr(self.result, QUANTITIES[quantity])

    def _theory(self, quantity: int) -> np.ndarray:
        """The theoretical slope through the full data (least-squares intercept, slope fixed)."""
        r = self.result
        slope = THEORY[quantity]
        values = r.median[quantity]
        keep = np.isfinite(values) & (values > 0)
        if not keep.any():
            return np.full(2, np.nan)
        intercept = np.mean(np.log10(values[keep]) - slope * np.log10(r.widths[keep]))
        return 10 ** (intercept + slope * np.log10(self.span))

    def update(self, i: int) -> bool:
        r = self.result
        shown = r.widths[: i + 1].astype(float)
        fitted = shown[[0, -1]]  # the fit is drawn over the widths it was fitted to
        for quantity, points, fit, poly, index, legend in self.series:
            points.set_data(shown, r.median[quantity, : i + 1])
            if poly is not None:
                stack = self._samples(quantity)[:, : i + 1]
                low, high = stack.min(axis=0), stack.max(axis=0)
                poly.set_verts(
                    [
                        np.column_stack(
                            [
                                np.concatenate([shown, shown[::-1]]),
                                np.concatenate([low, high[::-1]]),
                            ]
                        )
                    ]
                )
            slope, intercept = r.slopes[i, quantity], r.intercepts[i, quantity]
            if math.isfinite(slope):
                fit.set_data(fitted, 10 ** (intercept + slope * np.log10(fitted)))
            else:
                fit.set_data([], [])
            prefix = r"$\kappa_\alpha = \kappa / \alpha$, " if quantity == 3 else ""
            # no fit yet: no entry (a line and a label for a fit that does not exist)
            fitted_now = math.isfinite(slope)
            legend.get_texts()[index].set_text(prefix + _fit_label(slope) if fitted_now else " ")
            legend.get_texts()[index].set_visible(fitted_now)
            legend.legend_handles[index].set_visible(fitted_now)
        self.title.set_text(f"{self.heading}   (width $m$ = {r.widths[i]:,}, {i + 1}/{self.count})")
        return False


def facts(result: KappaScalingResult, config: KappaScalingConfig) -> dict:
    """The caption's numbers: the slopes fitted over all widths (what the last frame shows)."""
    slopes = result.slopes[-1]
    return {
        "count": len(result.widths),
        "min_width": int(result.widths[0]),
        "max_width": int(result.widths[-1]),
        "seeds": int(result.grad_norm.shape[0]),
        "min_fit": MIN_FIT_WIDTHS,
        "grad_slope": float(slopes[0]),
        "hessian_slope": float(slopes[1]),
        "kappa_slope": float(slopes[2]),
        "samples": (
            "one initialisation each"
            if result.grad_norm.shape[0] == 1
            else f"the median of {result.grad_norm.shape[0]} initialisations, band: their range"
        ),
        "grad_verb": "grows" if slopes[0] > 0 else "changes",
        "kappa_verb": "falls" if slopes[2] < 0 else "changes",
    }


SPEC = figure_spec(
    globals(),
    summary="Gradient norm, Hessian norm and kappa of a one-hidden-layer tanh net against width: "
    "slopes 0.5, 0 and -1.",
    style=Style(size=(18.0, 6.0)),
    fps=2.0,
    quick={"widths_count": 5},
    caption="Widths {min_width} to {max_width} enter one by one (log-log axes; {samples}). Once {min_fit} widths are in, a least-squares line is fitted "
    "to them and drawn over the widths it fits. Over all {count} widths the gradient norm "
    "{grad_verb} with slope {grad_slope:+.2f} (theory +0.5: sqrt(m)), the Hessian's operator norm "
    "has slope {hessian_slope:+.2f} (theory 0: flat), so kappa = ||H|| / ||grad||^2 {kappa_verb} "
    "with slope {kappa_slope:+.2f} (theory -1: 1/m) and the wide net is close to its "
    "linearisation.",
    reading="Log-log slopes against width ({min_width} to {max_width}): gradient norm "
    "{grad_slope:+.2f} (theory +0.5), Hessian norm {hessian_slope:+.2f} (theory 0), kappa "
    "{kappa_slope:+.2f} (theory -1).",
)
