"""ntk-convergence: the tangent kernel at initialisation becomes deterministic as the width grows.

Post: "as we take the hidden widths to infinity ... the kernel at initialization becomes
deterministic! There is one fixed NTK for a given depth and activation function ... can be
computed exactly" (Jacot et al. 2018; Arora et al. 2019). Left: the empirical kernel
Theta(x0, x) across x of several independent nets at each width (their min-max band and median),
closing in on the closed-form infinite-width kernel (:mod:`ntkviz.numerics.ntk_analytic`, dashed). Right:
the spread across nets against width, log-log, with its fitted slope against the theory's -1/2
(the kernel is a sum over ``width`` units, so its fluctuations fall like 1/sqrt(width)).
One frame per width.

The kernels are exact draws of real nets' kernels at initialisation; a wide hidden layer is
drawn through its products at the inputs, never as a width x width matrix
(:mod:`ntkviz.numerics.ntk_sampler`: the same law, 80 times fewer random numbers at 10^4).

The nets are in the NTK parameterisation (:class:`ntkviz.numerics.nets.NetSpec`), whose kernel has a
finite limit as it is. ``--parameterization standard`` draws z = W h + b with LeCun-normal
weights instead, whose kernel grows like the width: Theta / width is shown, against its own limit
(:func:`standard_limit`), to compare shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.collections import PolyCollection
from matplotlib.colors import ListedColormap, LogNorm, to_hex
from matplotlib.lines import Line2D

from ntkviz.config import param
from ntkviz.drawing.axes import COLOR_RANGES, plain_log_labels
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.drawing.style import SEQUENTIAL, Z
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    check_ranges,
    jackknife,
    jackknife_facts,
    kernel_options,
    log_log_fit,
    net_spec,
    seed_of,
)
from ntkviz.numerics.nets import (
    ACTIVATIONS,
    PARAMETERIZATIONS,
    NetSpec,
    check_memory,
    width_seed,
)
from ntkviz.numerics.ntk_analytic import ANALYTIC_ACTIVATIONS, infinite_ntk, standard_limit
from ntkviz.numerics.ntk_sampler import sampled_flops, sampled_memory, sampled_ntk
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import for_op, numeric

THEORY_SLOPE = -0.5
COLORMAP = SEQUENTIAL  # width is a continuous quantity (log scale): a sequential map and a colorbar
DEFAULT_WIDTHS = (10, 32, 100, 316, 1000, 3162, 10000)  # round(10^(1 + k/2))


@dataclass(frozen=True)
class NtkConvergenceConfig:
    widths: tuple[int, ...] = param(
        DEFAULT_WIDTHS,
        "hidden widths m, one frame each (default: 10^1 ... 10^4, two a decade)",
        ge=1,
        le=1_000_000,
    )
    seeds: int = param(
        8, "independent nets per width (at least 2: the spread needs two)", le=10_000
    )
    depth: int = param(2, "number of hidden layers", ge=1, le=10)
    activation: str = param(
        "relu",
        "activation of the hidden layers: relu or erf, the two "
        "with a closed-form infinite-width kernel",
    )
    bias: bool = param(True, "biases in every layer")
    parameterization: str = param(
        "ntk",
        "the nets' parameterisation. ntk: z = sigma_w W h / sqrt(fan_in) + sigma_b b, all "
        "W, b ~ N(0, 1), whose kernel tends to the closed form as it is; standard: z = W h + b with LeCun-normal init "
        "(W ~ N(0, 1/fan_in), b = 0; --sigma-w/--sigma-b unused), whose kernel grows like the "
        "width: Theta / width is shown, against its own limit, to compare shapes",
        choices=PARAMETERIZATIONS,
    )
    sigma_w: float = param(1.0, "weight scale sigma_w of the NTK parameterisation", gt=0)
    sigma_b: float = param(1.0, "bias scale sigma_b of the NTK parameterisation", ge=0)
    x0: float = param(0.5, "the fixed first argument: Theta(x0, x) is drawn across x")
    x_limits: tuple[float, ...] = param((-3.0, 3.0), "x range, as MIN,MAX", length=2)
    points: int = param(121, "grid points along x", ge=2, le=100_000)
    dtype: str = param(
        "float32",
        "the nets' arithmetic: float32 (default; the spreads, errors and slope agree with "
        "float64's to 1e-3, tested) or float64 (twice the memory and time); the same nets either "
        "way (wide nets, whose hidden layers are drawn through their products, are computed in "
        "float64 in both)",
        choices=("float32", "float64"),
    )

    def check(self) -> None:
        if self.seeds < 2:
            raise ConfigError(
                f"--seeds must be >= 2: the spread across nets needs at least two "
                f"(got {self.seeds})"
            )
        if self.activation not in ANALYTIC_ACTIVATIONS:
            reason = (
                "has no closed-form infinite-width kernel here"
                if self.activation in ACTIVATIONS
                else "is unknown"
            )
            raise ConfigError(
                f"--activation {self.activation} {reason}: use one of "
                f"{', '.join(ANALYTIC_ACTIVATIONS)}"
            )
        check_ranges(self, "x_limits")
        if not self.bias and self.x0 == 0:
            raise ConfigError(
                "--x0 must not be 0 without biases: every layer's output is then 0 "
                "and so is Theta(0, x)"
            )

    def net(self, width: int) -> NetSpec:
        # standard: LeCun-normal, so that every layer is Gaussian and the limit a closed form
        # (PyTorch's uniform init leaves the first layer's units uniform: no CLT at fan-in 1).
        fields = ("depth", "activation", "bias", "parameterization", "sigma_w", "sigma_b")
        return net_spec(self, int(width), *fields, init="lecun")


@dataclass(frozen=True)
class NtkConvergenceResult:
    """W widths, S nets per width, P grid points.

    widths (W,) int64; x (P,): the grid; x0: the fixed argument; kernels (W, S, P): each net's
    Theta(x0, x) (divided by the width for ``standard``); analytic (P,): the infinite-width limit;
    median (W, P): the median over nets; low, high (W, P): their min and max; scale: mean_x
    |analytic|; spread (W,): mean over x of the standard deviation over nets (ddof 1) / scale;
    error (W,): mean over x of |median - analytic| / scale; running_slopes, running_intercepts
    (W,): running fits, the log10-log10 least-squares fit of spread over the first k + 1 widths
    only (entry k, what frame k shows; NaN for k = 0); slope, intercept: the fit over all widths
    (the last running fit: the figure's slope); theory_slope: -1/2; parameterization: "ntk" or
    "standard".
    """

    widths: np.ndarray
    x: np.ndarray
    x0: float
    kernels: np.ndarray
    analytic: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    scale: float
    spread: np.ndarray
    error: np.ndarray
    running_slopes: np.ndarray
    running_intercepts: np.ndarray
    slope: float
    intercept: float
    theory_slope: float
    parameterization: str


def analytic_kernel(config: NtkConvergenceConfig, x: np.ndarray) -> np.ndarray:
    """The limit of what is plotted, Theta(x0, x) (/ width for ``standard``): (P,)."""
    x0 = np.array([config.x0])
    if config.parameterization == "standard":
        return standard_limit(
            x0, x, depth=config.depth, activation=config.activation, bias=config.bias
        )[0]
    return infinite_ntk(x0, x, **kernel_options(config))[0]


@numeric
def simulate(
    config: NtkConvergenceConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> NtkConvergenceResult:
    """For each width, the kernels Theta(x0, x) of ``seeds`` independent nets (``dtype``) on
    ``device`` by the layer-wise formula; then the spread over nets and its log-log fits.

    The wide hidden layers are drawn through their products at the P + 1 inputs
    (:mod:`ntkviz.numerics.ntk_sampler`: exact in law, 80 times fewer draws at width 10^4);
    narrower nets (no layer sampled) are the :class:`~ntkviz.numerics.nets.Ensemble` nets
    themselves. Refuses (ConfigError, before computing anything) a width whose draws would not
    fit in half the device's free memory. The nets of width m come from a hash of (seed, m)
    (:func:`width_seed`).
    """
    progress = progress or Progress()
    seed = seed_of(generator)
    widths = np.asarray(config.widths, dtype=np.int64)
    dtype = getattr(torch, config.dtype)
    for width in widths:
        check_memory(
            sampled_memory(config.net(width), config.seeds, config.points + 1, dtype),
            f"--widths: {config.seeds} nets of width {width} and depth {config.depth}",
            "use smaller --widths or fewer --seeds",
            device,
        )
    x = np.linspace(*config.x_limits, config.points)
    analytic = analytic_kernel(config, x)
    scale = float(np.mean(np.abs(analytic)))
    if not scale > 0:
        raise ConfigError(
            f"the infinite-width kernel Theta({config.x0:g}, x) is 0 across "
            f"--x-limits: choose another --x0 or range"
        )
    # float64 inputs: the sampler rounds them to ``dtype`` only for nets it computes in it
    x0_tensor = torch.tensor([config.x0], dtype=torch.float64, device=device)
    grid = torch.tensor(x, dtype=torch.float64, device=device)
    kernels = np.zeros((len(widths), config.seeds, config.points))
    with progress.stage("simulate", len(widths)) as advance:
        for j, width in enumerate(widths):
            spec = config.net(width)
            with for_op(sampled_flops(spec, config.seeds, config.points + 1), device):
                kernel = sampled_ntk(
                    spec, config.seeds, width_seed(seed, width), x0_tensor, grid, dtype, device
                )[:, 0, :]
            if config.parameterization == "standard":
                kernel = kernel / float(width)
            kernels[j] = kernel.double().cpu().numpy()
            del kernel
            advance(1)
    median = np.median(kernels, axis=1)
    spread = kernels.std(axis=1, ddof=1).mean(axis=1) / scale
    error = np.abs(median - analytic).mean(axis=1) / scale
    fits = np.full((len(widths), 2), np.nan)
    for k in range(1, len(widths)):
        fits[k] = log_log_fit(widths[: k + 1], spread[: k + 1])
    return NtkConvergenceResult(
        widths=widths,
        x=x,
        x0=float(config.x0),
        kernels=kernels,
        analytic=analytic,
        median=median,
        low=kernels.min(axis=1),
        high=kernels.max(axis=1),
        scale=scale,
        spread=spread,
        error=error,
        running_slopes=fits[:, 0],
        running_intercepts=fits[:, 1],
        slope=float(fits[-1, 0]),
        intercept=float(fits[-1, 1]),
        theory_slope=THEORY_SLOPE,
        parameterization=config.parameterization,
    )


# -- drawing ------------------------------------------------------------------------------------


def width_colors(widths: np.ndarray, theme: str = "light") -> np.ndarray:
    """One RGBA colour per width from a sequential colormap, by log width (narrow: dark)."""
    logs = np.log10(np.asarray(widths, dtype=np.float64))
    span = logs.max() - logs.min()
    position = (logs - logs.min()) / span if span > 0 else np.full_like(logs, 0.5)
    low, high = COLOR_RANGES[theme]
    return colormaps[COLORMAP](low + (high - low) * position)


def _fit_label(slope: float) -> str:
    return "fit: slope  --  " if not math.isfinite(slope) else f"fit: slope {slope:+.2f}"


def _band(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.column_stack([np.concatenate([x, x[::-1]]), np.concatenate([low, high[::-1]])])


def kernel_limits(result: NtkConvergenceResult, pad: float = 0.06) -> tuple[float, float]:
    """Fixed y limits: the analytic curve and every band, but the narrowest nets' bands clipped
    to one kernel scale beyond the analytic curve (they would otherwise squash the rest)."""
    a = result.analytic
    reach = np.abs(a).max()
    low = max(min(a.min(), result.low.min()), a.min() - reach)
    high = min(max(a.max(), result.high.max()), a.max() + reach)
    margin = pad * (high - low) if high > low else 1.0
    return float(low - margin), float(high + margin)


class NtkConvergenceRenderer(Renderer):
    frames_of = "widths"

    def setup(self) -> None:
        r, style = self.result, self.style
        lw = style.line_width
        self.colors = [to_hex(c) for c in width_colors(r.widths, style.theme)]
        seeds = r.kernels.shape[1]
        standard = r.parameterization == "standard"

        ax = self.figure.add_subplot(1, 2, 1)
        ax.set_xlim(r.x[0], r.x[-1])
        ax.set_ylim(*kernel_limits(r))
        ax.set_xlabel("$x$")
        ax.set_ylabel(rf"$\Theta({r.x0:g}, x)$" + (" / width" if standard else ""))
        ax.axvline(r.x0, **style.look("guide", linestyle=":"))
        self.bands, self.medians = [], []
        for k in range(self.count):
            band = PolyCollection(
                [np.zeros((0, 2))], **style.band(self.colors[k]), edgecolors="none"
            )
            ax.add_collection(band, autolim=False)
            (median,) = ax.plot([], [], **style.look("run", self.colors[k], lw=0.6 * lw))
            self.bands.append(band)
            self.medians.append(median)
        (self.analytic,) = ax.plot(
            r.x, r.analytic, **style.look("theory", lw=1.2 * lw), label="infinite width (exact)"
        )
        muted = style.color("muted")
        handles = [
            self.analytic,
            PolyCollection(
                [np.zeros((0, 2))], **style.band(muted), label=f"min to max of {seeds} nets"
            ),
            Line2D([], [], **style.look("run", muted), label=f"median of {seeds} nets"),
        ]
        legend = ax.legend(handles=handles, loc="upper left", **style.legend())
        # the colorbar shows the part of the map that the widths use
        cmap = ListedColormap(colormaps[COLORMAP](np.linspace(*COLOR_RANGES[style.theme], 256)))
        mappable = ax.scatter([], [], c=[], cmap=cmap, norm=LogNorm(*self._color_range()))
        colorbar = self.figure.colorbar(mappable, ax=ax, pad=0.01, aspect=30)
        colorbar.set_label("width $m$")
        self.animate(*self.bands, *self.medians)
        # The exact kernel and the legend are static but must stay on top of the bands.
        self.overlay(self.analytic, legend)

        ax2 = self.figure.add_subplot(1, 2, 2)
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        widths = r.widths.astype(float)
        self.span = np.array([widths.min(), widths.max()])
        ax2.set_xlim(widths.min() / 1.5, widths.max() * 1.5)
        positive = r.spread[r.spread > 0]
        low, high = (positive.min(), positive.max()) if positive.size else (0.1, 1.0)
        decades = max(math.log10(high / low), 1.0)
        middle = 0.5 * math.log10(high * low)
        ax2.set_ylim(10 ** (middle - 0.5 * decades - 0.15), 10 ** (middle + 0.5 * decades + 0.15))
        ax2.set_xlabel("width $m$")
        ax2.set_ylabel(r"spread: std over nets / mean $|\Theta_\infty|$")
        plain_log_labels(ax2.yaxis)
        (self.points,) = ax2.plot([], [], **style.look("guide", lw=0.4 * lw))
        self.dots = ax2.scatter(
            widths,
            r.spread,
            s=(3 * lw) ** 2,
            edgecolors=style.color("background"),
            linewidths=0.15 * lw,
            zorder=Z.NOW,
        )
        (self.fit,) = ax2.plot(
            [], [], **style.look("fit", style.foreground, lw=1.1 * lw), label=_fit_label(math.nan)
        )
        keep = r.spread > 0
        intercept = (
            np.mean(np.log10(r.spread[keep]) - THEORY_SLOPE * np.log10(widths[keep]))
            if keep.any()
            else 0.0
        )
        (theory,) = ax2.plot(
            self.span,
            10 ** (intercept + THEORY_SLOPE * np.log10(self.span)),
            **style.look("theory"),
            label="theory: slope -1/2",
        )
        self.legend = ax2.legend(handles=[self.fit, theory], loc="upper right", **style.legend())
        self.animate(self.points, self.dots, self.fit)
        self.overlay(self.legend)

        what = "standard param., $\\Theta$ / width" if standard else "NTK parameterisation"
        self.heading = (
            f"Tangent kernel at initialisation, depth-{self.config.depth} "
            f"{self.config.activation} nets, {what}"
        )
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        self.key_frame = self.count - 1

    def _color_range(self) -> tuple[float, float]:
        widths = self.result.widths.astype(float)
        low, high = widths.min(), widths.max()
        if high <= low:
            low, high = low / 2, high * 2
        return low, high

    def update(self, i: int) -> bool:
        r = self.result
        for k in range(self.count):
            shown = k <= i
            self.bands[k].set_verts([_band(r.x, r.low[k], r.high[k])] if shown else [])
            if shown:
                self.medians[k].set_data(r.x, r.median[k])
            else:
                self.medians[k].set_data([], [])
            current = k == i
            self.medians[k].set_linewidth((1.0 if current else 0.45) * self.style.line_width)
            # the current width stands out; the narrower ones stay as faint context
            self.bands[k].set_alpha(0.5 if current else 0.12)
        widths = r.widths[: i + 1].astype(float)
        order = np.argsort(widths)
        self.points.set_data(widths[order], r.spread[: i + 1][order])
        self.dots.set_offsets(np.column_stack([widths, r.spread[: i + 1]]))
        self.dots.set_facecolors(self.colors[: i + 1])
        slope, intercept = r.running_slopes[i], r.running_intercepts[i]
        if math.isfinite(slope):
            self.fit.set_data(self.span, 10 ** (intercept + slope * np.log10(self.span)))
        else:
            self.fit.set_data([], [])
        self.legend.get_texts()[0].set_text(_fit_label(slope))
        self.title.set_text(f"{self.heading}  ($m$ = {r.widths[i]:,}, {i + 1}/{self.count})")
        return False


def facts(result: NtkConvergenceResult, config: NtkConvergenceConfig) -> dict:
    """The caption's numbers: the spread and the median's error at the first and last widths,
    and the log-log slope of the spread over all widths (what the last frame shows)."""
    slope = float(result.slope)
    theory = float(result.theory_slope)
    nets = result.kernels.shape[1]

    def fitted(keep: np.ndarray) -> float:  # the figure's slope from the nets in ``keep``
        spread = result.kernels[:, keep].std(axis=1, ddof=1).mean(axis=1) / result.scale
        return log_log_fit(result.widths, spread)[0]

    _, error = jackknife(fitted, nets)
    slope_text, near = jackknife_facts(slope, error, theory, f"{theory:g}", f"the {nets} nets")
    first, last = float(result.error[0]), float(result.error[-1])
    return {
        "seeds": int(result.kernels.shape[1]),
        "width_first": int(result.widths[0]),
        "width_last": int(result.widths[-1]),
        "spread_first": float(result.spread[0]),
        "spread_last": float(result.spread[-1]),
        "error_first": first,
        "error_last": last,
        "slope": slope,
        "slope_error": error,
        "slope_text": slope_text,
        "theory_slope": theory,
        "near": near,
        "approach": "closing in on" if last < first else "not closing in on",
    }


SPEC = figure_spec(
    globals(),
    summary="The tangent kernel at initialisation becomes deterministic as the width grows: "
    "nets of width 10 to 10^4 close in on the exact infinite-width kernel.",
    style=Style(size=(18.0, 7.5)),
    fps=1.0,
    quick={"widths": (10, 32, 100, 316, 1000), "points": 61},
    caption="Left: Theta(x0, x) of {seeds} independent nets per width (band: min to max; line: "
    "median), one width a frame from m = {width_first:,} to {width_last:,}, {approach} the exact "
    "infinite-width kernel (dashed): the median's mean distance from it goes from "
    "{error_first:.1%} to {error_last:.1%} of the kernel's mean size. Right: the spread across "
    "nets (standard deviation over the nets / mean |Theta_inf|) against width, log-log: it goes "
    "from {spread_first:.2f} to {spread_last:.3f}, a fitted slope of {slope_text}, {near} "
    "(fluctuations of a sum over m units fall like 1/sqrt(m)).",
    reading="Wider nets' kernels at initialisation agree: the band of {seeds} nets narrows onto "
    "the exact kernel, and its spread falls with a fitted log-log slope of {slope_text} "
    "({near}).",
)
