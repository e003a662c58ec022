"""kernel-change: how much the tangent kernel moves during training, against alpha (or width).

From the post's notebook (beyond the post's figures): train nets with their output scaled by
alpha (zeroed at initialisation, loss MSE / alpha^2) and measure the relative change of the kernel
on the training inputs, ``||H_end - H_0||_F / ||H_0||_F``. In the kernel regime it falls like
1/alpha; ``--vs width`` sweeps the hidden width at a fixed alpha instead. A still, log-log, with
the least-squares slope of the medians in the legend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.ticker import FixedLocator

from ntkviz.config import param
from ntkviz.drawing.canvas import Renderer
from ntkviz.drawing.style import Z
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    ARCHITECTURE,
    log_log_fit,
    net_spec,
    seed_of,
    slope_facts,
    train_mse,
)
from ntkviz.numerics.nets import ACTIVATIONS, INITS, Ensemble, NetSpec, check_fits
from ntkviz.numerics.ntk_empirical import empirical_ntk
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric, single_thread

SWEEPS = ("alpha", "width")
# 12 digits: numpy's power differs in the last bit between its SIMD paths (the pinned gallery's
# and the fast one), and a default must not depend on the CPU
DEFAULT_ALPHAS = tuple(float(f"{a:.12g}") for a in 10.0 ** np.linspace(-2, 3, 7))
DEFAULT_WIDTHS = tuple(int(round(w)) for w in 10.0 ** np.linspace(1, 3, 7))  # 10 ... 1000


@dataclass(frozen=True)
class KernelChangeConfig:
    vs: str = param("alpha", "sweep the output scale alpha or the hidden width", choices=SWEEPS)
    alphas: tuple[float, ...] = param(
        DEFAULT_ALPHAS, "output scales for --vs alpha (notebook: 10^linspace(-2, 3, 7))", gt=0
    )
    widths: tuple[int, ...] = param(
        DEFAULT_WIDTHS, "hidden widths for --vs width", ge=1, le=100_000
    )
    width: int = param(100, "hidden width m for --vs alpha", ge=1, le=100_000)
    alpha: float = param(
        3.0,
        "output scale alpha for --vs width (at 3 the default widths are in the lazy regime, "
        "where the slope is fitted; at 1 only the widest is)",
        gt=0,
    )
    trials: int = param(5, "independent nets per value", ge=1, le=10_000)
    depth: int = param(2, "number of hidden layers", ge=1, le=100)
    activation: str = param("relu", "activation of the hidden layers", choices=tuple(ACTIVATIONS))
    bias: bool = param(True, "biases in every layer")
    init: str = param(
        "pytorch", "initialisation: PyTorch's nn.Linear default or LeCun normal", choices=INITS
    )
    lr: float = param(3e-4, "gradient-descent learning rate on the loss MSE / alpha^2", gt=0)
    steps: int = param(4000, "gradient-descent steps", ge=1, le=10_000_000)
    lazy_below: float = param(
        0.5,
        "the kernel (lazy) regime, where the slope is fitted: the values from the largest down "
        "whose median relative kernel change stays below this",
        gt=0,
    )
    fit_from: float = param(
        10.0,
        "--vs alpha: fit the slope only to lazy alphas >= this (below alpha ~ 10 the "
        "rich-to-lazy crossover steepens it)",
        gt=0,
    )
    x_train: tuple[float, ...] = param((-2.0, 0.5), "training inputs, comma-separated")
    y_train: tuple[float, ...] = param((3.0, -1.0), "training targets, one per input")

    def check(self) -> None:
        if len(self.x_train) != len(self.y_train):
            raise ConfigError(
                f"--x-train and --y-train need the same number of values "
                f"(got {len(self.x_train)} and {len(self.y_train)})"
            )

    @property
    def values(self) -> tuple[float, ...]:
        return self.alphas if self.vs == "alpha" else tuple(float(w) for w in self.widths)


@dataclass(frozen=True)
class KernelChangeResult:
    """V swept values, R trials, N training inputs.

    vs: "alpha" or "width"; values (V,): the alphas or widths; change (V, R): the relative kernel
    change ||H_end - H_0||_F / ||H_0||_F of each net; median (V,); lazy (V,) bool: the kernel
    (lazy) regime, :func:`lazy_regime` of the medians below ``lazy_below``; slope, intercept: the
    least-squares line log10(median) = slope log10(value) + intercept over the lazy values from
    ``fit_from`` up only (``fitted`` (V,) bool; NaN if under 2); trial_slopes (R,): the same fit
    to each net alone (the slope's spread); slope_all: the same fit over every value (for the record: it mixes the two
    regimes); kernels_start, kernels_end (V, R, N, N): H/alpha^2 before and after; loss_end
    (V, R); steps: the number of training steps.
    """

    vs: str
    values: np.ndarray
    change: np.ndarray
    median: np.ndarray
    lazy: np.ndarray
    lazy_below: float
    fitted: np.ndarray
    trial_slopes: np.ndarray
    slope: float
    intercept: float
    slope_all: float
    kernels_start: np.ndarray
    kernels_end: np.ndarray
    loss_end: np.ndarray
    steps: int


def relative_kernel_change(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``||H_end - H_0||_F / ||H_0||_F`` over the last two axes: (..., N, N) -> (...)."""
    return np.linalg.norm(end - start, axis=(-2, -1)) / np.linalg.norm(start, axis=(-2, -1))


def lazy_regime(values: np.ndarray, median: np.ndarray, below: float) -> np.ndarray:
    """The kernel (lazy) regime as a mask over ``values``: the largest value and every smaller one
    down to the first whose median relative change reaches ``below`` (the regime is where the
    kernel barely moves, at the large end of both sweeps)."""
    values, median = np.asarray(values, dtype=np.float64), np.asarray(median, dtype=np.float64)
    lazy = np.zeros(values.shape, dtype=bool)
    for k in np.argsort(values)[::-1]:
        if not (np.isfinite(median[k]) and median[k] < below):
            break
        lazy[k] = True
    return lazy


def _train_group(
    spec: NetSpec,
    members: list[int],
    alphas: list[float],
    config,
    seed: int,
    device: str,
    progress: Progress,
):
    """Train one ensemble; return its kernels (start, end) as H/alpha^2 and its final loss."""
    dtype = torch.float64
    x_train = torch.tensor(config.x_train, dtype=dtype, device=device)
    y_train = torch.tensor(config.y_train, dtype=dtype, device=device)
    check_fits(spec, len(members), len(config.x_train), device, dtype)
    ensemble = Ensemble(
        spec, len(members), seed, device=device, dtype=dtype, members=members, alphas=alphas
    )
    alpha2 = (ensemble.alphas**2).view(-1, 1, 1)
    with single_thread(device):
        start = empirical_ntk(ensemble, x_train) / alpha2
        trajectory = train_mse(
            ensemble, x_train, y_train, config, progress, snapshot_every=config.steps
        )
        end = empirical_ntk(ensemble, x_train) / alpha2
    return start.cpu().numpy(), end.cpu().numpy(), trajectory.loss[-1]


@numeric
def simulate(
    config: KernelChangeConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> KernelChangeResult:
    """Train every (value, trial) net and measure its kernel's relative change (float64).

    ``--vs alpha``: one ensemble of V x R members; trial r starts from the same net at every alpha
    (member r), so the alphas differ only in their scale. ``--vs width``: one ensemble per width.
    """
    progress = progress or Progress()
    seed = seed_of(generator)
    values = np.asarray(config.values, dtype=np.float64)
    count, trials = len(values), config.trials
    if config.vs == "alpha":
        spec = net_spec(config, config.width, *ARCHITECTURE, zero_output=True)
        members = [r for _ in range(count) for r in range(trials)]
        alphas = [float(a) for a in values for _ in range(trials)]
        start, end, loss = _train_group(spec, members, alphas, config, seed, device, progress)
    else:
        parts = [
            _train_group(
                net_spec(config, int(w), *ARCHITECTURE, zero_output=True),
                list(range(trials)),
                [config.alpha] * trials,
                config,
                seed,
                device,
                progress,
            )
            for w in values
        ]
        start, end, loss = (np.concatenate(p) for p in zip(*parts, strict=True))
    n = len(config.x_train)
    start = start.reshape(count, trials, n, n)
    end = end.reshape(count, trials, n, n)
    change = relative_kernel_change(start, end)
    median = np.median(change, axis=1)
    lazy = lazy_regime(values, median, config.lazy_below)
    fitted = lazy & (values >= (config.fit_from if config.vs == "alpha" else 0.0))
    slope, intercept = log_log_fit(values[fitted], median[fitted])
    trial_slopes = np.array([log_log_fit(values[fitted], c[fitted])[0] for c in change.T])
    return KernelChangeResult(
        vs=config.vs,
        values=values,
        change=change,
        median=median,
        lazy=lazy,
        lazy_below=float(config.lazy_below),
        fitted=fitted,
        trial_slopes=trial_slopes,
        slope=slope,
        intercept=intercept,
        slope_all=log_log_fit(values, median)[0],
        kernels_start=start,
        kernels_end=end,
        loss_end=np.asarray(loss).reshape(count, trials),
        steps=config.steps,
    )


def decade_ticks(low: float, high: float, most: int = 8) -> np.ndarray:
    """Powers of ten inside [low, high], every one or every few so that at most ``most`` remain:
    major ticks that all lie in the view."""
    first, last = int(np.ceil(np.log10(low) - 1e-9)), int(np.floor(np.log10(high) + 1e-9))
    step = max(1, -(-(last - first + 1) // most))
    return 10.0 ** np.arange(first, last + 1, step)


def regime_boundary(values: np.ndarray, lazy: np.ndarray) -> float | None:
    """Where the lazy regime begins on the (log) axis: halfway, in log, between the smallest lazy
    value and the largest one below it; None when every value or none is lazy."""
    if not lazy.any() or lazy.all():
        return None
    first = values[lazy].min()
    below = values[values < first]
    return float(np.sqrt(first * below.max())) if below.size else None


class KernelChangeRenderer(Renderer):
    count = 1

    def setup(self) -> None:
        r, style = self.result, self.style
        lw = style.line_width
        ax = self.figure.add_subplot()
        ax.set_xscale("log")
        ax.set_yscale("log")
        color = style.run_color(0)
        trials = r.change.shape[1]
        low, high = self.span = (r.values.min() / 1.6, r.values.max() * 1.6)
        ax.set_xlim(low, high)
        positive = r.change[r.change > 0]
        bottom, top = (positive.min(), positive.max()) if positive.size else (1e-3, 1.0)
        # room above the data for the regime labels, below it for the legend
        ax.set_ylim(bottom / 10 ** (0.55 * np.log10(top / bottom) / 2), top * 40)
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            axis.set_major_locator(FixedLocator(decade_ticks(*limits)))

        # the two regimes: the lazy one shaded, a guide at the boundary
        boundary = regime_boundary(r.values, r.lazy)
        name = r"output scale $\alpha$" if r.vs == "alpha" else "hidden width $m$"
        if boundary is not None or r.lazy.all():
            start = boundary if boundary is not None else low
            ax.axvspan(start, high, **style.shade())
            if boundary is not None:
                ax.axvline(boundary, **style.look("guide"))
            # each label in its region's outer corner, so that a narrow region cannot spill it
            label = dict(transform=ax.transAxes, fontsize=style.small, va="top", zorder=Z.TEXT)
            ax.text(0.98, 0.97, "lazy: the kernel\nbarely moves", ha="right", **label)
            if boundary is not None:
                ax.text(0.02, 0.97, "rich: the kernel\nchanges", ha="left", **label)

        # the spread across trials: a band from the smallest to the largest change, and the nets
        ax.fill_between(
            r.values,
            r.change.min(axis=1),
            r.change.max(axis=1),
            **style.band(color),
            label=f"min to max of {trials} nets",
        )
        xs = np.repeat(r.values, trials)
        ys = r.change.reshape(-1)
        keep = ys > 0
        ax.plot(
            xs[keep],
            ys[keep],
            **style.look("sample"),
            label="each net",
        )
        ax.plot(
            r.values, r.median, **style.look("run", color, marker="o", ms=2.2 * lw), label="median"
        )
        if np.isfinite(r.slope):
            lazy = r.values[r.fitted]
            grid = np.geomspace(lazy.min(), lazy.max(), 50)
            ax.plot(
                grid,
                10 ** (r.intercept + r.slope * np.log10(grid)),
                **style.look("fit", lw=1.2 * lw),
                label=f"fit: slope {r.slope:.2f}",
            )
        if r.vs == "alpha" and r.lazy.any():
            # Lazy training (Chizat, Oyallon & Bach 2019): the kernel moves like 1/alpha. Drawn
            # through the lazy medians (their geometric mean) and across the whole sweep.
            lazy, med = r.values[r.lazy], r.median[r.lazy]
            anchor = np.mean(np.log10(med) + np.log10(lazy))
            grid = np.geomspace(low, high, 50)
            ax.plot(grid, 10**anchor / grid, **style.look("theory"), label=r"$1/\alpha$ (theory)")
        ax.set_xlabel(name)
        ax.set_ylabel(r"$\|H_{end} - H_0\|_F \,/\, \|H_0\|_F$")
        ax.set_title(f"Relative change of the tangent kernel after {r.steps} steps")
        ax.legend(loc="lower left", **style.legend())
        self.key_frame = 0

    def update(self, i: int) -> bool:
        return False


def facts(result: KernelChangeResult, config: KernelChangeConfig) -> dict:
    """The caption's numbers: the lazy fit's slope, its spread over the nets and range, the
    changes at the two ends, and the sentences about the regimes that those numbers make true."""
    fitted = result.values[result.fitted]
    order = np.argsort(result.values)
    what = "alpha" if result.vs == "alpha" else "width"
    slope = result.slope
    slope_text, verdict_text = slope_facts(
        slope, result.trial_slopes, -1.0, "-1", "nets fitted alone"
    )
    if not result.lazy.any():
        lazy_sentence = (
            f"No {what} reaches the lazy regime here (a median change below "
            f"{result.lazy_below:g}), so no slope is fitted."
        )
    elif not np.isfinite(slope):
        lazy_sentence = (
            f"Too few {what} values are in the lazy regime (shaded; median change below "
            f"{result.lazy_below:g}) and >= {config.fit_from:g} to fit a slope."
        )
    else:
        lazy_sentence = (
            f"Fitted to the median over {what} = {fitted.min():.3g} to {fitted.max():.3g} "
            f"({fitted.size} values, lazy"
            + (f" and >= {config.fit_from:g}" if result.vs == "alpha" else "")
            + f") the slope is {slope_text}"
        )
        if result.vs == "alpha":
            lazy_sentence += f": {verdict_text}. " + EXPECTED[config.activation == "relu"]
        else:
            lazy_sentence += "."
    mixed = ""
    if np.isfinite(result.slope_all) and not result.fitted.all():
        mixed = (
            f" One line through all the points would mix in the rich-to-lazy crossover "
            f"(slope {result.slope_all:.2f})."
        )
    if np.isfinite(slope):
        fit_clause = f"in the lazy regime the fitted slope is {slope_text}"
    else:
        fit_clause = "too few values are in the lazy regime to fit a slope"
    small, large = result.median[order[0]], result.median[order[-1]]
    return {
        "slope": slope,
        "slope_text": slope_text,
        "verdict": verdict_text,
        "trend": "falls" if large < small else "rises",
        "fit_clause": fit_clause,
        "slope_all": result.slope_all,
        "lazy_from": float(fitted.min()) if fitted.size else float("nan"),
        "lazy_points": int(result.fitted.sum()),
        "lazy_below": result.lazy_below,
        "trials": int(result.change.shape[1]),
        "steps": int(result.steps),
        "n_train": len(config.x_train),
        "activation": config.activation,
        "value_small": float(result.values[order[0]]),
        "value_large": float(result.values[order[-1]]),
        "median_small": float(result.median[order[0]]),
        "median_large": float(result.median[order[-1]]),
        "what": what,
        "lazy_sentence": lazy_sentence,
        "mixed_sentence": mixed,
    }


#: What theory expects of the lazy slope on training points, smooth activation / relu.
EXPECTED = {
    False: "Theory: the kernel moves like the weights, 1/alpha (slope -1 on training points and "
    "on a dense grid alike, for a smooth activation).",
    True: "Theory: the kernel moves like the weights, 1/alpha (slope -1), on training points "
    "that a relu kink seldom crosses; a kink that crosses one makes a jump, and on a dense grid "
    "the change falls like alpha^-1/2 while kinks still cross it (see rich-lazy).",
}


SPEC = figure_spec(
    globals(),
    summary="How much the tangent kernel changes while training, against alpha (or width): "
    "log-log with the fitted slope.",
    quick={"steps": 1000, "trials": 2},
    animated=False,
    caption="The relative change ||H_end - H_0|| / ||H_0|| of the tangent kernel of {activation} "
    "nets on the {n_train} training inputs over {steps} steps of training, against {what}, "
    "log-log: {trials} nets a value "
    "(dots; band: their min to max; line: the median). Shaded: the lazy regime, where the "
    "median change stays below --lazy-below ({lazy_below:g}); the slope is fitted there from "
    "--fit-from on. The "
    "median {trend} from {median_small:.3g} "
    "at {what} = {value_small:g} to {median_large:.2g} at {what} = {value_large:g}. "
    "{lazy_sentence}{mixed_sentence}",
    reading="Log-log: the kernel's relative change {trend} from {median_small:.3g} at {what} = "
    "{value_small:g} to {median_large:.2g} at {what} = {value_large:g}; {fit_clause}.",
)
