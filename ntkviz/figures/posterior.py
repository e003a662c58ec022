"""posterior: the predictive distribution of an ensemble of nets trained by gradient descent.

Beyond the post (Lee et al. 2019, "Wide neural networks ... evolve as linear models", 2.3.1).
At initialisation an infinitely wide net (NTK parameterisation) is a draw from a Gaussian process
with covariance K, the NNGP kernel; gradient descent moves it like its linearisation: after t steps

    f_t(x) = f_0(x) + T_t(x) (Y - f_0(X)),    T_t(x) = Theta(x, X) Theta^{-1} (I - (I - eta Theta)^t)

with Theta = Theta(X, X) the NTK on the training inputs. f_t is therefore Gaussian too, with

    mean  T_t(x) Y
    cov   K(x, x') + T_t(x) K(X, X) T_t(x')^T - T_t(x) K(X, x') - K(x, X) T_t(x')^T.

Time: with L(w) = (1/N) sum_i (f(x_i, w) - y_i)^2 and w <- w - lr grad L, f(X) <- f(X) - eta
Theta (f(X) - Y), eta = 2 lr / N; t counts steps (exp(-eta Theta t): the flow, ``--time flow``).

At t = 0 this is the NNGP prior; as t -> infinity it is not the NNGP's Bayesian posterior (exact
GP regression with K, dotted beside it). For each width ``count`` real nets (NOT zeroed: the
prior is the point) are trained by full-batch gradient descent and drawn (mean, +-``band`` sd);
a last panel: against width, the moments' distances from the theory and each net's from its
own infinite-width linear model (theory: width^-1/2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.config import param
from ntkviz.drawing.axes import fitted_span, mean_band, move_mean_band, set_positive, steady_labels
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.drawing.panels import panel_grid, width_axis
from ntkviz.figures.base import NtkNets, figure_spec
from ntkviz.figures.common import (
    TARGETS,
    by_width_text,
    check_clock,
    check_ranges,
    clock_frames,
    clock_param,
    ensemble_widths,
    group_means,
    log_log_fit,
    rms,
    seed_of,
    spaced_inputs,
    train_mse,
    width_trend,
)
from ntkviz.figures.data import OwnPoints, along_line, check_invertible
from ntkviz.numerics.dynamics import clock_steps
from ntkviz.numerics.function_space import gd_moments, gp_posterior, marginal_sd, transfer
from ntkviz.numerics.nets import Ensemble, check_fits, chunked_outputs
from ntkviz.numerics.ntk_analytic import ANALYTIC_ACTIVATIONS as ACTIVATIONS
from ntkviz.numerics.ntk_analytic import infinite_kernels
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

TIMES = ("discrete", "flow")
#: Frames the prior (step 0) is held before training starts: 1 s at the default 10 fps.
PRIOR_HOLD = 10
#: Each width's nets also in this many groups, each's distance fitted alone: the slope's spread.
GROUPS = 5
RELU_NOTE = (
    "; for a relu net the kernel's change in training leaves a deviation common to all nets "
    "that falls more slowly, like width^-0.36 over 256-4096 (--activation erf gives -1/2)"
)


@dataclass(frozen=True)
class PosteriorConfig(NtkNets, OwnPoints):
    n_train: int = param(5, "number of training points, equally spaced over --x-span", ge=1, le=200)
    target: str = param("sin", "target function of the training points", choices=tuple(TARGETS))
    x_span: tuple[float, ...] = param(
        (-3.0, 3.0), "interval of the training inputs, as MIN,MAX", length=2
    )
    count: int = param(100, "nets per width (their mean and band are drawn)", ge=2, le=100_000)
    # erf, not relu: see RELU_NOTE.
    widths: tuple[int, ...] = ensemble_widths((32, 128, 512))
    depth: int = param(1, "number of hidden layers", ge=1, le=20)
    activation: str = param(
        "erf", "activation (closed-form kernel); relu's falls short of -1/2", choices=ACTIVATIONS
    )
    sigma_w: float = param(1.0, "weight scale sigma_w of the NTK parameterisation", gt=0)
    sigma_b: float = param(1.0, "bias scale sigma_b of the NTK parameterisation", gt=0)
    # erf on the default 5 points: eta lambda_max = 0.63, eta lambda_min t = 8 at step 480.
    lr: float = param(0.2, "gradient-descent learning rate on the MSE (eta = 2 lr / N)", gt=0)
    steps: int = param(480, "gradient-descent steps", ge=1, le=10_000_000)
    frames: int = clock_frames(40)  # log clock: 60 showed the same motion at 1.5x the bytes
    # The prior turns into the posterior within the first steps (the fastest mode's factor is
    # 1 - 1.36 a step), the slowest mode takes hundreds: log time shows both.
    clock: str = clock_param("log")
    time: str = param(
        "discrete",
        "the theory's time: discrete ((I - eta Theta)^t, what gradient descent does) or flow "
        "(exp(-eta Theta t), its continuous limit)",
        choices=TIMES,
    )
    band: float = param(2.0, "half-width of every band, in standard deviations", gt=0)
    nngp_noise: float = param(
        0.0, "observation noise variance of the Bayesian NNGP posterior (0: exact)", ge=0
    )
    x_limits: tuple[float, ...] = param((-3.5, 3.5), "view and grid: x range, as MIN,MAX", length=2)
    y_limits: tuple[float, ...] = param(
        (-4.0, 4.0),
        "view: the widest y range, as MIN,MAX (the view fits the bands in it)",
        length=2,
    )
    points: int = param(121, "grid points along x", ge=2, le=10_000)

    def check(self) -> None:
        check_ranges(self, "x_span", "x_limits", "y_limits")
        self.check_own()
        check_clock(self.clock, self.frames, self.steps)

    def snapshot_steps(self) -> np.ndarray:
        return clock_steps(self.clock, self.steps, self.frames)

    def inputs(self) -> np.ndarray:
        return spaced_inputs(self.x_span, self.n_train)


@dataclass(frozen=True)
class PosteriorResult:
    """W widths, K nets each, T = frames + 1 snapshots, N training points, G grid points.

    x_grid (G,); x_train, y_train (N,); inputs (N, d): the training points (x_train: where each
    lies on the line x = c + t u drawn when d > 1, line (2, d): [c, u]); steps (T,); widths (W,);
    rate: eta = 2 lr / N;
    nngp (G, G) and ntk_train (N, N), ntk_grid (G, N), nngp_grid_train (G, N), nngp_train (N, N):
    the infinite-width kernels; theory_mean, theory_sd (T, G): the infinite-width gradient-descent
    distribution after each snapshot's steps; theory_cov_end (G, G) at the last; bayes_mean,
    bayes_sd (G,): the NNGP posterior; mean, sd (T, W, G): each width's ensemble mean and standard
    deviation (ddof 1); cov_end (W, G, G): its covariance at the last step; deviation (T, W): RMS
    over nets and grid of each net minus its own infinite-width linear model
    f_0 + T_t (Y - f_0(X)); deviation_groups (T, W, B): the same over each of B = :data:`GROUPS`
    groups of K // B nets (independent draws of it, for its spread); mean_distance, sd_distance (T, W): RMS over the grid of the ensemble's
    mean and sd minus the theory's; floor (T,): the sampling error expected of the mean with K
    nets, RMS over the grid of theory_sd / sqrt(K); loss (T, W): the nets' mean loss.
    """

    x_grid: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    inputs: np.ndarray
    line: np.ndarray
    steps: np.ndarray
    widths: np.ndarray
    rate: float
    nngp: np.ndarray
    nngp_grid_train: np.ndarray
    nngp_train: np.ndarray
    ntk_grid: np.ndarray
    ntk_train: np.ndarray
    theory_mean: np.ndarray
    theory_sd: np.ndarray
    theory_cov_end: np.ndarray
    bayes_mean: np.ndarray
    bayes_sd: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    cov_end: np.ndarray
    deviation: np.ndarray
    deviation_groups: np.ndarray
    mean_distance: np.ndarray
    sd_distance: np.ndarray
    floor: np.ndarray
    loss: np.ndarray


@numeric
def simulate(
    config: PosteriorConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> PosteriorResult:
    """The infinite-width moments in closed form (float64), and each width's ensemble trained by
    gradient descent on the MSE (float32), its moments over the nets at every snapshot."""
    progress = progress or Progress()
    seed = seed_of(generator)
    inputs, y_train = config.training(config.inputs(), TARGETS[config.target])
    x_grid = np.linspace(*config.x_limits, config.points)  # d > 1: t along the line
    x_train, grid_points, line = along_line(inputs, x_grid)
    rate = 2.0 * config.lr / len(x_train)
    kind = config.kernel_options()
    nngp, _ = infinite_kernels(grid_points, **kind)
    nngp_grid_train, ntk_grid = infinite_kernels(grid_points, inputs, **kind)
    nngp_train, ntk_train = infinite_kernels(inputs, **kind)
    check_invertible(ntk_train, nngp_train, config.nngp_noise)
    steps = config.snapshot_steps()
    discrete = config.time == "discrete"
    t_grid = transfer(ntk_grid, ntk_train, rate, steps, discrete)
    theory_mean, theory_cov = gd_moments(t_grid, nngp, nngp_grid_train, nngp_train, y_train)
    theory_sd = marginal_sd(theory_cov)
    bayes_mean, bayes_cov = gp_posterior(
        nngp, nngp_grid_train, nngp_train, y_train, config.nngp_noise
    )
    # Each net's own infinite-width linear model needs the discrete transfer on the grid (what
    # gradient descent does), whatever --time draws.
    t_own = t_grid if discrete else transfer(ntk_grid, ntk_train, rate, steps, True)

    x32 = torch.as_tensor(inputs, dtype=torch.float32, device=device)
    y32 = torch.as_tensor(y_train, dtype=torch.float32, device=device)
    g32 = torch.as_tensor(grid_points, dtype=torch.float32, device=device)
    widths = np.asarray(config.widths, dtype=np.int64)
    T, W, G = len(steps), len(widths), len(x_grid)
    mean = np.zeros((T, W, G))
    sd = np.zeros((T, W, G))
    cov_end = np.zeros((W, G, G))
    deviation = np.zeros((T, W))
    groups = GROUPS if config.count >= 2 * GROUPS else 0
    deviation_groups = np.zeros((T, W, groups))
    loss = np.zeros((T, W))
    for w, width in enumerate(widths):
        spec = config.net(int(width))
        check_fits(spec, config.count, G + len(x_train), device)
        nets = Ensemble(spec, config.count, seed, device=device)
        start: dict[str, np.ndarray] = {}

        def record(ens: Ensemble, step: int, start=start) -> dict[str, np.ndarray]:
            grid = chunked_outputs(ens, g32)  # (K, G)
            if not start:  # step 0: each net's f_0 fixes its own infinite-width linear model
                start["grid"] = grid
                start["residual"] = y_train[None, :] - ens(x32).double().cpu().numpy()
            index = int(np.searchsorted(steps, step))
            own = start["grid"] + start["residual"] @ t_own[index].T  # (K, G)
            square = np.mean((grid - own) ** 2, axis=1)  # (K,)
            return {
                "moments": np.stack([grid.mean(axis=0), grid.std(axis=0, ddof=1)]),
                "deviation": np.sqrt(np.mean(square)),
                "groups": np.sqrt(group_means(square, groups)),
            }

        trajectory = train_mse(
            nets,
            x32,
            y32,
            config,
            progress,
            snapshot_at=steps,
            record=record,
            label=f"width {int(width)}",
        )
        final = chunked_outputs(nets, g32)
        moments = trajectory.records["moments"]
        mean[:, w], sd[:, w] = moments[:, 0], moments[:, 1]
        deviation[:, w] = trajectory.records["deviation"]
        deviation_groups[:, w] = trajectory.records["groups"]
        cov_end[w] = np.cov(final, rowvar=False)
        loss[:, w] = trajectory.loss.mean(axis=1)
    mean_distance = rms(mean - theory_mean[:, None])
    sd_distance = rms(sd - theory_sd[:, None])
    return PosteriorResult(
        x_grid=x_grid,
        x_train=x_train,
        y_train=y_train,
        inputs=inputs.reshape(len(y_train), -1),
        line=line,
        steps=steps,
        widths=widths,
        rate=rate,
        nngp=nngp,
        nngp_grid_train=nngp_grid_train,
        nngp_train=nngp_train,
        ntk_grid=ntk_grid,
        ntk_train=ntk_train,
        theory_mean=theory_mean,
        theory_sd=theory_sd,
        theory_cov_end=theory_cov[-1],
        bayes_mean=bayes_mean,
        bayes_sd=marginal_sd(bayes_cov),
        mean=mean,
        sd=sd,
        cov_end=cov_end,
        deviation=deviation,
        deviation_groups=deviation_groups,
        mean_distance=mean_distance,
        sd_distance=sd_distance,
        floor=rms(theory_sd) / math.sqrt(config.count),
        loss=loss,
    )


def facts(result: PosteriorResult, config: PosteriorConfig) -> dict:
    """The distances at the last step, their slopes against width, and the band's course."""
    widths = result.widths
    wide = int(np.argmax(widths))
    x, lo, hi = result.x_grid, result.x_train.min(), result.x_train.max()
    end_sd_data = float(np.max(np.interp(result.x_train, x, result.theory_sd[-1])))
    slope = log_log_fit(widths, result.deviation[-1], log=np.log)[0]
    slope_text, verdict_text, trend = width_trend(
        widths, result.deviation[-1], result.deviation_groups[-1].T, -0.5, "-1/2", config.count
    )
    trend += RELU_NOTE if len(widths) > 1 and config.activation == "relu" else ""
    bayes_gap = float(np.sqrt(np.mean((result.theory_mean[-1] - result.bayes_mean) ** 2)))
    floor = float(result.floor[-1])
    return {
        "count": int(config.count),
        "widths": ", ".join(str(int(w)) for w in widths),
        "n_train": len(result.x_train),
        "data_where": ""
        if (d := result.inputs.shape[1]) == 1
        else f" of {d} coordinates, drawn along their first principal direction",
        "steps": int(result.steps[-1]),
        "band": config.band,
        "lr": config.lr,
        "rate": result.rate,
        "prior_sd_mid": float(np.interp(0.5 * (lo + hi), x, result.theory_sd[0])),
        "end_sd_data": end_sd_data,
        "end_sd_between": float(rms(result.theory_sd[-1], (x >= lo) & (x <= hi))),
        "deviation_list": by_width_text(widths, result.deviation[-1]),
        "deviation_slope": slope,
        "deviation_slope_text": slope_text,
        "deviation_verdict": verdict_text,
        "activation": config.activation,
        "deviation_trend": trend,
        "mean_distance_list": by_width_text(widths, result.mean_distance[-1]),
        "sd_distance_list": by_width_text(widths, result.sd_distance[-1]),
        "mean_distance_wide": float(result.mean_distance[-1, wide]),
        "sd_distance_wide": float(result.sd_distance[-1, wide]),
        "mean_slope": log_log_fit(widths, result.mean_distance[-1], log=np.log)[0],
        "floor_end": float(result.floor[-1]),
        "width_wide": int(widths[wide]),
        "bayes_gap": bayes_gap,
        "floor_text": (
            f"far above the sampling error of a mean of {config.count} nets ({floor:.2g}): the "
            "gap is the finite width's, not the sample's"
            if result.mean_distance[-1].min() > 2 * floor
            else f"beside the sampling error of a mean of {config.count} nets ({floor:.2g})"
        ),
        "bayes_sd_gap": float(np.sqrt(np.mean((result.theory_sd[-1] - result.bayes_sd) ** 2))),
    }


class PosteriorRenderer(Renderer):
    """Output frame i shows snapshot i (frame 0: step 0, the prior). One panel per width: the
    nets' mean and +-band sd (colour), the infinite-width distribution at the same step (dashed),
    the NNGP posterior (dotted, fixed). The last panel: distances against width at this step.
    The key frame is the last (trained)."""

    frames_of = "steps"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        widths = r.widths
        panels = len(widths) + 1
        axes, nrows, ncols = panel_grid(self.figure, panels)
        self.colors = style.run_colors(len(widths))
        self.handles: dict[str, object] = {}
        self.bands, self.means, self.theory = [], [], []
        k = config.band
        # Each frame's y view holds the data and every band: it zooms in as the bands narrow.
        self.views = [self._view(i) for i in range(self.count)]
        self.function_axes = axes[: len(widths)]
        for w, ax in enumerate(self.function_axes):
            color = self.colors[w]
            ax.set_xlim(*config.x_limits)
            ax.set_ylim(*self.views[0])
            steady_labels(ax.yaxis)
            ax.set_title(f"{config.count} nets of width {int(widths[w])}", fontsize=style.small)
            if w % ncols == 0:
                ax.set_ylabel("$f(x)$")
            if w // ncols == nrows - 1 or w + ncols >= panels:
                ax.set_xlabel("$x$" if r.inputs.shape[1] == 1 else "$t$: $x = c + t u$ (first PC)")
            band, mean = mean_band(ax, style, r.x_grid, r.mean[0, w], k * r.sd[0, w], color)
            theory = [style.look("theory", lw=lw * style.line_width) for lw in (0.8, 0.5, 0.5)]
            lines = [ax.plot(r.x_grid, r.theory_mean[0], **look)[0] for look in theory]
            for sign, lw in ((0, 0.9), (-1, 0.5), (1, 0.5)):  # the NNGP posterior, mean first
                bayes = style.look("fit", color=style.color("muted"), lw=lw * style.line_width)
                ax.plot(r.x_grid, r.bayes_mean + sign * k * r.bayes_sd, **bayes)
            (data,) = ax.plot(r.x_train, r.y_train, **style.look("data"))
            self.overlay(data)
            self.bands.append(band)
            self.means.append(mean)
            self.theory.append(lines)
            self.handles[f"width {int(widths[w])}: nets' mean, band ±{k:g} sd"] = mean
            if w == 0:
                first_theory, first_bayes, first_data = lines[0], ax.lines[4], data
        self.handles[f"infinite width, same step: mean, ±{k:g} sd"] = first_theory
        self.handles[f"Bayesian NNGP posterior: mean, ±{k:g} sd"] = first_bayes
        self.handles["training data"] = first_data
        self.animate(*self.bands, *self.means, *(line for lines in self.theory for line in lines))
        self._setup_distance(axes[len(widths)])
        self.legend_below(self.handles, ncols=3)
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        # The prior (step 0) stays up PRIOR_HOLD frames before gradient descent starts.
        self.order = [0] * PRIOR_HOLD + list(range(1, self.count))
        self.key_frame = len(self.order) - 1

    def _setup_distance(self, ax) -> None:
        r, style = self.result, self.style
        fg = style.color("foreground")
        # the y view 8 times above the largest distance: room for the key above
        width_axis(ax, r.widths, [r.deviation, r.mean_distance, r.sd_distance, r.floor], 1.5, 8)
        ax.set_ylabel("RMS over the grid")
        (self.deviation,) = ax.plot(
            [], [], **style.look("run", fg, marker="o", ms=2.5 * style.line_width)
        )
        (self.mean_distance,) = ax.plot(
            [], [], **style.look("run", fg, linestyle="--", marker="s", ms=2.2 * style.line_width)
        )
        (self.sd_distance,) = ax.plot(
            [], [], **style.look("run", fg, linestyle=":", marker="^", ms=2.5 * style.line_width)
        )
        (self.floor,) = ax.plot([], [], **style.look("guide", lw=0.8 * style.line_width))
        (self.fit,) = ax.plot([], [], **style.look("fit"))
        self.distance_title = ax.set_title(" ", fontsize=style.small)
        self.animate(
            self.deviation,
            self.mean_distance,
            self.sd_distance,
            self.floor,
            self.fit,
            self.distance_title,
        )
        legend = ax.legend(
            [self.deviation, self.mean_distance, self.sd_distance, self.floor],
            [
                "each net to its infinite-width linear model",
                "nets' mean to infinite-width mean",
                "nets' sd to infinite-width sd",
                "sampling error of a mean of this many nets",
            ],
            loc="upper right",
            **style.legend(),
        )
        self.overlay(legend)

    def _view(self, i: int) -> tuple[float, float]:
        """The y view of frame ``i``: the data and every band at that step, within --y-limits."""
        r, k = self.result, self.config.band
        bands = [r.theory_mean[i] + s * k * r.theory_sd[i] for s in (-1, 1)]
        bands += [r.mean[i] + s * k * r.sd[i] for s in (-1, 1)]
        bands += [r.bayes_mean + s * k * r.bayes_sd for s in (-1, 1)]
        return fitted_span([*bands, r.y_train], tuple(self.config.y_limits))

    def update(self, i: int) -> bool:
        r, k = self.result, self.config.band
        moved = any(ax.get_ylim() != self.views[i] for ax in self.function_axes)
        for ax in self.function_axes:
            ax.set_ylim(*self.views[i])
        for w, (band, mean, lines) in enumerate(
            zip(self.bands, self.means, self.theory, strict=True)
        ):
            move_mean_band(band, mean, r.x_grid, r.mean[i, w], k * r.sd[i, w])
            lines[0].set_ydata(r.theory_mean[i])
            lines[1].set_ydata(r.theory_mean[i] - k * r.theory_sd[i])
            lines[2].set_ydata(r.theory_mean[i] + k * r.theory_sd[i])
        widths = r.widths.astype(np.float64)
        for line, values in (
            (self.deviation, r.deviation[i]),
            (self.mean_distance, r.mean_distance[i]),
            (self.sd_distance, r.sd_distance[i]),
        ):
            set_positive(line, widths, values)
        ends = np.array([widths.min() / 1.4, widths.max() * 1.4])
        self.floor.set_data(ends, [r.floor[i], r.floor[i]])
        slope, intercept = log_log_fit(r.widths, r.deviation[i], log=np.log)
        if np.isfinite(slope):
            self.fit.set_data(ends, np.exp(intercept) * ends**slope)
            self.distance_title.set_text(f"nets to theory; dotted fit: slope {slope:.2f}")
        else:
            self.fit.set_data([], [])
            self.distance_title.set_text("nets to theory (step 0: each net is its linear model)")
        self.title.set_text(
            f"Gradient descent on {len(r.x_train)} points, step {int(r.steps[i])} "
            f"(eta t = {r.rate * r.steps[i]:.3g})"
        )
        return moved  # a new view: the axes, ticks and grid drawn again


SPEC = figure_spec(
    globals(),
    summary="The predictive distribution of wide nets trained by gradient descent: the "
    "infinite-width NNGP/NTK mean and band over training time, beside real ensembles of each "
    "width and the Bayesian NNGP posterior.",
    style=Style(size=(16.0, 12.0)),
    quick={"steps": 200, "frames": 30, "count": 50, "widths": (32, 128), "points": 61},
    caption="{count} {activation} nets of each width ({widths}) in the NTK parameterisation, "
    "not zeroed, "
    "trained by gradient descent (lr {lr:g}, loss = mean squared error, so eta = 2 lr / N = "
    "{rate:.3g}) on {n_train} points{data_where}, against the infinite-width prediction at the SAME step "
    "(dashed: mean and +-{band:g} sd of f_0 + Theta(x, X) Theta^-1 (I - (I - eta Theta)^t) "
    "(Y - f_0(X)) with f_0 drawn from the NNGP) and the Bayesian NNGP posterior (dotted, fixed). "
    "Frame 0 is the prior, the NNGP (sd {prior_sd_mid:.2g} mid-data). Training pinches the band "
    "at the data (the infinite-width sd there is at most {end_sd_data:.2g} after {steps} steps) "
    "but leaves it open between (RMS sd {end_sd_between:.2g}) and beyond them; at the end its "
    "mean differs from the NNGP posterior's by {bayes_gap:.2g} RMS. The last panel is drawn at "
    "the current step; at the end the RMS distance of the nets' mean from the infinite-width "
    "one is {mean_distance_list}, of their sd {sd_distance_list}, {floor_text}; each net's "
    "distance from its own infinite-width linear model ({deviation_list}) {deviation_trend}.",
    reading="Training pinches the prior's band at the data; the nets' band follows the "
    "infinite-width one; each net's distance from its infinite-width linear model (RMS over "
    "the nets and the grid, at the end) {deviation_trend}.",
)
