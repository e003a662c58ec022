"""generalization: what kernel regression with the NTK predicts between the data, beside wide nets.

Beyond the post: in the kernel regime a net trained to convergence on (X, Y) by gradient descent
on the squared loss becomes kernel regression with its tangent kernel (Jacot et al. 2018; Lee et
al. 2019, eq. 9 at t -> infinity; Arora et al. 2019):

    f(x) = f(x, w0) + Theta(x, X) Theta(X, X)^{-1} (Y - f(X, w0)).

The figure draws it with the analytic infinite-width NTK (:mod:`ntkviz.numerics.ntk_analytic`, the NTK
parameterisation) and with each net's empirical NTK at initialisation, beside an ensemble of nets
of each width trained by full-batch gradient descent: their mean and a band of +-``band`` standard
deviations, between and beyond the data. The animation runs over the training steps; its dashed
grey curve is the infinite-width kernel's own gradient-descent prediction at that step (the
discrete closed form of :func:`ntkviz.numerics.function_space.flow_functions`), which the nets follow
all the way, not only at the end.

By default the nets are zeroed (f(x, w0) = 0), so the infinite-width prediction is exactly
``Theta(x, X) Theta(X, X)^{-1} Y``. With ``--no-zero-output`` the empirical predictions keep the
initial-function term; the nets' MEAN then tends to the analytic formula (the initial function has
mean zero) and the band widens to the spread of the initial functions that training leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.config import param
from ntkviz.drawing.axes import mean_band, move_mean_band
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.drawing.panels import move_step_distances, step_distances
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.captions import data_text, distance_course
from ntkviz.figures.common import (
    NET_FIELDS,
    TARGETS,
    analytic_activation,
    between_data,
    by_width_text,
    check_clock,
    check_data,
    check_distinct,
    check_ranges,
    clock_frames,
    clock_param,
    ensemble_widths,
    function_view,
    kernel_options,
    net_spec,
    rms,
    seed_of,
    spaced_inputs,
    train_mse,
)
from ntkviz.numerics.dynamics import Trajectory, clock_steps, train_grouped
from ntkviz.numerics.function_space import flow_functions, kernel_regression
from ntkviz.numerics.nets import (
    INITS,
    PARAMETERIZATION_HELP,
    PARAMETERIZATIONS,
    Ensemble,
    NetSpec,
    check_fits,
    check_memory,
)
from ntkviz.numerics.ntk_analytic import infinite_ntk
from ntkviz.numerics.ntk_empirical import initial_kernels
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

LAYOUTS = ("both", "functions")


@dataclass(frozen=True)
class GeneralizationConfig:
    n_train: int = param(
        6,
        "number of training points, equally spaced over --x-span (when --x-train is not given)",
        ge=1,
        le=1000,
    )
    target: str = param(
        "sin",
        "target function y = target(x) of the training points (abs: |x| - 1; step: sign)",
        choices=tuple(TARGETS),
    )
    x_span: tuple[float, ...] = param(
        (-3.0, 3.0), "interval of the equally spaced training inputs, as MIN,MAX", length=2
    )
    x_train: tuple[float, ...] = param(
        (), "explicit training inputs (replace --n-train and --x-span)", min_length=0
    )
    y_train: tuple[float, ...] = param(
        (),
        "explicit training targets, one per --x-train input (default: the target function)",
        min_length=0,
    )
    noise: float = param(0.0, "standard deviation of Gaussian noise added to the targets", ge=0)
    count: int = param(10, "nets per width (their mean and band are drawn)", ge=1, le=10_000)
    # 1000 is wide enough for the nets to sit on the kernel prediction; 100 shows the gap.
    widths: tuple[int, ...] = ensemble_widths((100, 1000))
    depth: int = param(2, "number of hidden layers", ge=1, le=100)
    activation: str = analytic_activation()
    bias: bool = param(True, "biases in every layer")
    parameterization: str = param(
        "ntk",
        PARAMETERIZATION_HELP + " (the analytic kernel is the ntk one)",
        choices=PARAMETERIZATIONS,
    )
    sigma_w: float = param(
        1.0, "weight scale sigma_w (ntk parameterisation and analytic kernel)", gt=0
    )
    sigma_b: float = param(
        1.0, "bias scale sigma_b (ntk parameterisation and analytic kernel)", ge=0
    )
    init: str = param("pytorch", "initialisation of the standard parameterisation", choices=INITS)
    zero_output: bool = param(
        True,
        "subtract the net at initialisation, so f(x, w0) = 0 and the "
        "kernel prediction is exactly Theta(x, X) Theta(X, X)^-1 Y",
    )
    # The default kernel's eigenvalues on the 6 points are 0.21 to 22: with eta = 2 lr / N the
    # fastest direction is multiplied by 1 - 0.053 * 22.4 = -0.19 a step (stable) and the slowest
    # has decayed to 1e-3 after 625 steps. The same time as lr 0.1 over 1000 steps (lr * steps =
    # 100) at 5/8 of the cost, distances and gaps within 1e-3; lr 0.2 was at the edge for narrow
    # nets (float32 and float64 functions 5e-3 apart at width 50 after 300 steps; 2e-4 here).
    lr: float = param(0.16, "gradient-descent learning rate on the MSE", gt=0)
    steps: int = param(625, "gradient-descent steps", ge=1, le=10_000_000)
    # 50 log-spaced frames show the whole run (largest one-frame share 4%, no near-static run)
    # at about 60% of the bytes and drawing time of 100.
    frames: int = clock_frames(50)
    # The fastest direction moves 0.75 of the way a step, the slowest over the whole run: log
    # time gives the first steps (the nets leaving zero) as many frames as the long settling.
    clock: str = clock_param("log")
    band: float = param(
        2.0, "half-width of the nets' band, in standard deviations across the ensemble", ge=0
    )
    dtype: str = param(
        "float32",
        "the trained nets' arithmetic: float32 (default; the distances agree with float64's to "
        "1e-3 of the targets' scale, tested) or float64 (twice the memory, about four times the "
        "time); the same nets either way (the kernels are float64 always)",
        choices=("float32", "float64"),
    )
    layout: str = param(
        "both",
        "the functions beside their distance to the kernel predictions "
        "over training, or the functions alone",
        choices=LAYOUTS,
    )
    x_limits: tuple[float, ...] = param(
        (-5.0, 5.0),
        "view and grid: x range, as MIN,MAX (wider than the data: beyond it too)",
        length=2,
    )
    y_limits: tuple[float, ...] = param((-1.3, 1.3), "view: y range, as MIN,MAX", length=2)
    points: int = param(201, "grid points along x", ge=2, le=100_000)

    def check(self) -> None:
        check_ranges(self, "x_span", "x_limits", "y_limits")
        if self.y_train and not self.x_train:
            raise ConfigError("--y-train needs --x-train (one target per explicit input)")
        if self.y_train:
            check_data(self.x_train, self.y_train)
        check_distinct(self.x_train)
        check_clock(self.clock, self.frames, self.steps)

    def snapshot_steps(self) -> np.ndarray:
        return clock_steps(self.clock, self.steps, self.frames)

    def inputs(self) -> np.ndarray:
        """The training inputs X: (N,)."""
        if self.x_train:
            return np.asarray(self.x_train, dtype=np.float64)
        return spaced_inputs(self.x_span, self.n_train)

    def net(self, width: int) -> NetSpec:
        return net_spec(self, width, *NET_FIELDS)


@dataclass(frozen=True)
class GeneralizationResult:
    """W widths, K nets each, T = frames + 1 snapshots, N training points, G grid points.

    x_grid (G,); x_train, y_train (N,) (y with any noise); steps (T,); widths (W,);
    functions (T, W, K, G): every net's f(x, w_t) on the grid; loss (T, W, K): its MSE;
    analytic (G,): infinite-width kernel regression Theta(x, X) Theta(X, X)^{-1} Y;
    analytic_flow (T, G): the infinite-width kernel's gradient-descent prediction after each
    snapshot's steps (from f = 0); kernel_analytic (N, N); empirical (W, K, G): kernel regression
    with each net's empirical NTK at initialisation, with its initial-function term;
    kernel_empirical (W, K, N, N); distance_analytic (T, W): RMS, over the grid points between the
    smallest and largest training input, of the ensemble mean minus analytic_flow;
    distance_empirical (T, W): the mean over the nets of the same RMS of each net minus its own
    empirical kernel's gradient-descent prediction at that step; empirical_flow (T, W, G): the
    mean over each width's nets of those predictions (the same width, the same step); truth (G,):
    the target function on the grid (NaN when the targets are given explicitly); rate: 2 lr / N.
    """

    x_grid: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    steps: np.ndarray
    widths: np.ndarray
    functions: np.ndarray
    loss: np.ndarray
    analytic: np.ndarray
    analytic_flow: np.ndarray
    kernel_analytic: np.ndarray
    empirical: np.ndarray
    kernel_empirical: np.ndarray
    distance_analytic: np.ndarray
    distance_empirical: np.ndarray
    empirical_flow: np.ndarray
    truth: np.ndarray
    rate: float


def _train_width(
    config: GeneralizationConfig,
    width: int,
    seed: int,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_grid: np.ndarray,
    device: str,
    progress: Progress,
):
    """One width: the nets' functions over training (``config.dtype``), and (float64) each net's
    empirical kernel and function at initialisation."""
    spec = config.net(width)
    dtype = getattr(torch, config.dtype)
    check_fits(spec, config.count, len(x_grid) + len(x_train), device, dtype)
    kernels = initial_kernels(spec, config.count, seed, x_train, x_grid, device)
    grid = torch.as_tensor(x_grid, device=device).to(dtype)

    def record(ens: Ensemble, step: int) -> dict[str, np.ndarray]:
        return {"functions": ens(grid).cpu().numpy()}

    x, y = (
        torch.as_tensor(v, dtype=torch.float64, device=device).to(dtype) for v in (x_train, y_train)
    )

    def run(nets: Ensemble, part: str) -> Trajectory:
        at, label = config.snapshot_steps(), f"train width {width}{part}"
        return train_mse(nets, x, y, config, progress, snapshot_at=at, record=record, label=label)

    return (train_grouped(spec, config.count, seed, device, dtype, run), *kernels)


@numeric
def simulate(
    config: GeneralizationConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> GeneralizationResult:
    """Kernel regression with the analytic and the empirical NTKs, and each width's ensemble
    trained by gradient descent on the MSE (``dtype`` nets, float64 kernels)."""
    progress = progress or Progress()
    check_memory(  # the per-frame history: functions (T, W, K, G), kept twice at most
        16 * (config.frames + 1) * len(config.widths) * config.count * config.points,
        f"{config.frames + 1} snapshots of {len(config.widths) * config.count} nets' functions",
        "use fewer --frames, --count, --widths or --points",
    )
    seed = seed_of(generator)
    option = "--x-train" if config.x_train else "--n-train/--x-span"
    x_train = config.inputs()
    if config.y_train:
        y_train = np.asarray(config.y_train, dtype=np.float64)
    else:
        y_train = TARGETS[config.target](x_train).astype(np.float64)
    if config.noise > 0:
        noise = torch.randn(len(x_train), generator=generator, dtype=torch.float64).numpy()
        y_train = y_train + config.noise * noise
    x_grid = np.linspace(*config.x_limits, config.points)
    rate = 2.0 * config.lr / len(x_train)

    kind = kernel_options(config)
    kernel_analytic = infinite_ntk(x_train, **kind)
    k_grid_analytic = infinite_ntk(x_grid, x_train, **kind)
    analytic = kernel_regression(k_grid_analytic, kernel_analytic, y_train, option=option)

    runs = [
        _train_width(config, int(w), seed, x_train, y_train, x_grid, device, progress)
        for w in config.widths
    ]
    steps = runs[0][0].steps
    analytic_flow = flow_functions(
        k_grid_analytic,
        kernel_analytic,
        np.zeros(len(x_grid)),
        np.zeros(len(x_train)),
        y_train,
        rate,
        steps,
        discrete=True,
    )
    functions = np.stack([r[0].records["functions"] for r in runs], axis=1).astype(np.float64)
    loss = np.stack([r[0].loss for r in runs], axis=1)
    kernel_empirical = np.stack([r[1] for r in runs])
    empirical = np.stack(
        [
            kernel_regression(k_grid, k_train, y_train, f0_grid, f0_train, option=option)
            for _, k_train, k_grid, f0_train, f0_grid in runs
        ]
    )
    between = between_data(x_grid, x_train)
    distance_empirical = np.zeros((len(steps), len(runs)))
    empirical_flow = np.zeros((len(steps), len(runs), len(x_grid)))
    for w, (_, k_train, k_grid, f0_train, f0_grid) in enumerate(runs):
        for k in range(config.count):
            flow = flow_functions(
                k_grid[k], k_train[k], f0_grid[k], f0_train[k], y_train, rate, steps, discrete=True
            )
            distance_empirical[:, w] += rms(functions[:, w, k] - flow, between) / config.count
            empirical_flow[:, w] += flow / config.count
    distance_analytic = rms(functions.mean(axis=2) - analytic_flow[:, None, :], between)
    return GeneralizationResult(
        x_grid=x_grid,
        x_train=x_train,
        y_train=y_train,
        steps=steps,
        widths=np.asarray(config.widths, dtype=np.int64),
        functions=functions,
        loss=loss,
        analytic=analytic,
        analytic_flow=analytic_flow,
        kernel_analytic=kernel_analytic,
        empirical=empirical,
        kernel_empirical=kernel_empirical,
        distance_analytic=distance_analytic,
        distance_empirical=distance_empirical,
        empirical_flow=empirical_flow,
        truth=(
            np.full(len(x_grid), np.nan)
            if config.y_train
            else TARGETS[config.target](x_grid).astype(np.float64)
        ),
        rate=rate,
    )


def facts(result: GeneralizationResult, config: GeneralizationConfig) -> dict:
    """The distances at the last step and their peaks over training, per width."""
    end_mean = result.distance_analytic[-1]
    end_own = result.distance_empirical[-1]
    peak = result.distance_analytic.argmax(axis=0)
    narrow, wide = int(np.argmin(result.widths)), int(np.argmax(result.widths))
    between = between_data(result.x_grid, result.x_train)
    truth = result.truth
    kernel_to_truth = (
        float(rms(result.analytic_flow[-1] - truth, between))
        if np.isfinite(truth).all()
        else float("nan")
    )
    start_sentence, course = distance_course(result.widths, result.steps, result.distance_analytic)
    given = not np.isfinite(truth).all()
    points = data_text(len(result.x_train), given, config.target, config.noise)
    several = len(result.widths) > 1 and end_mean[wide] > 0
    ratio_text = (
        f" (the width-{int(result.widths[narrow])} mean {end_mean[narrow] / end_mean[wide]:.2g} "
        f"times farther than the width-{int(result.widths[wide])} one)"
        if several
        else ""
    )
    return {
        "who": "Wider nets stay closer to" if several else "The nets stay close to",
        "ratio_text": ratio_text,
        "data_text": points,
        "band": config.band,
        "start_sentence": start_sentence,
        "course": course,
        "steps": int(result.steps[-1]),
        "count": int(result.functions.shape[2]),
        "n_train": len(result.x_train),
        "widths": ", ".join(str(int(w)) for w in result.widths),
        "width_narrow": int(result.widths[narrow]),
        "width_wide": int(result.widths[wide]),
        "end_mean_narrow": float(end_mean[narrow]),
        "end_mean_wide": float(end_mean[wide]),
        "end_ratio": float(end_mean[narrow] / end_mean[wide]) if end_mean[wide] > 0 else np.nan,
        "end_mean_list": by_width_text(result.widths, end_mean),
        "end_own_list": by_width_text(result.widths, end_own),
        "peak_mean_list": by_width_text(result.widths, result.distance_analytic.max(axis=0)),
        "peak_step_first": int(result.steps[peak].min()),
        "peak_step_last": int(result.steps[peak].max()),
        "kernel_to_truth": kernel_to_truth,
    }


class GeneralizationRenderer(Renderer):
    """Output frame i shows snapshot i (frame 0: step 0, every function 0 when zeroed); the
    distances are drawn up to the current step. The key frame is the last: trained nets and the
    whole distance curves."""

    frames_of = "steps"

    def setup(self) -> None:
        config, style = self.config, self.style
        self.colors = style.run_colors(len(self.result.widths))
        self.handles: dict[str, object] = {}
        both = config.layout == "both"
        axes = self.figure.subplots(1, 2 if both else 1, squeeze=False)[0]
        self._setup_functions(axes[0])
        self.distance_lines: list[tuple[object, np.ndarray]] = []
        if both:
            self._setup_distance(axes[1])
        self.legend_below(self.handles, ncols=min(len(self.handles), 4))
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        self.key_frame = self.count - 1

    def _setup_functions(self, ax) -> None:
        r, config, style = self.result, self.config, self.style
        function_view(ax, config.x_limits, config.y_limits, "$f(x)$ at this step")
        ax.set_title("the functions now", fontsize=style.small)
        if np.isfinite(r.truth).all():
            (truth,) = ax.plot(
                r.x_grid,
                r.truth,
                **style.look("guide", lw=0.9 * style.line_width, color=style.color("muted")),
            )
            self.handles[f"true function ({config.target})"] = truth
        self.means = []
        self.bands = []
        self.own = []
        mean, spread = self._stats(0)
        for w, width in enumerate(r.widths):
            color = self.colors[w]
            band, line = mean_band(ax, style, r.x_grid, mean[w], spread[w], color)
            (own,) = ax.plot(
                r.x_grid, r.empirical_flow[0, w], **style.look("run", color, linestyle=":")
            )
            self.bands.append(band)
            self.means.append(line)
            self.own.append(own)
            self.handles[f"nets, width {width}: mean ±{config.band:g} sd"] = line
            self.handles[f"width {width}: their own NTKs, same step"] = own
        (self.flow,) = ax.plot(r.x_grid, r.analytic_flow[0], **style.look("theory"))
        self.handles["infinite-width NTK, same step"] = self.flow
        (data,) = ax.plot(r.x_train, r.y_train, **style.look("data"))
        self.handles["training data"] = data
        self.overlay(data)
        self.animate(*self.bands, *self.means, *self.own, self.flow)

    def _setup_distance(self, ax) -> None:
        r, style, log = self.result, self.style, self.config.clock == "log"
        self.distance_lines += step_distances(
            ax, style, r.steps, self.colors, r.distance_analytic, r.distance_empirical, log
        )
        ax.set_ylabel("RMS distance between the data")
        ax.set_title(
            "solid: nets' mean to infinite-width NTK; dash-dot: each net to its own",
            fontsize=style.small,
        )
        self.animate(*(line for line, _, _ in self.distance_lines))

    def _stats(self, now: int) -> tuple[np.ndarray, np.ndarray]:
        functions = self.result.functions[now]  # (W, K, G)
        return functions.mean(axis=1), self.config.band * functions.std(axis=1)

    def update(self, i: int) -> bool:
        r = self.result
        mean, spread = self._stats(i)
        for w, (band, line, own) in enumerate(zip(self.bands, self.means, self.own, strict=True)):
            move_mean_band(band, line, r.x_grid, mean[w], spread[w])
            own.set_ydata(r.empirical_flow[i, w])
        self.flow.set_ydata(r.analytic_flow[i])
        move_step_distances(self.distance_lines, r.steps, i)
        self.title.set_text(f"Trained nets and NTK predictions: step {int(r.steps[i])}")
        return False


SPEC = figure_spec(
    globals(),
    summary="Kernel regression with the NTK (infinite-width and each net's own) between and beyond "
    "the data, beside ensembles of nets of each width trained by gradient descent: near it, not "
    "on it, by a gap that shrinks with width.",
    style=Style(size=(18.0, 8.0)),
    quick={"steps": 500, "frames": 50, "widths": (100, 500), "points": 121},
    caption="{count} nets of each width ({widths}), trained by gradient descent on {data_text}, "
    "against what the neural tangent kernel predicts at the SAME "
    "step: the infinite-width kernel's gradient-descent prediction (dashed) and each net's own "
    "empirical kernel's (dotted, averaged over the nets of a width). Left: the functions at the "
    "current step (solid: the nets' mean, band: +-{band:g} sd across nets). Right, drawn up to the "
    "current step: how far, between the data, the nets' mean is from the infinite-width "
    "prediction (solid) and each net from its own kernel's (dash-dot). {start_sentence}; they "
    "{course}: at step {steps} the mean's distance is {end_mean_list}{ratio_text}; each net's "
    "distance from its "
    "own kernel's prediction averages {end_own_list}.",
    reading="{who} the NTK's prediction at the same step, but not on it: "
    "after {steps} steps the nets' mean is {end_mean_list} from the infinite-width one.",
)
