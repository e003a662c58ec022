"""linearized: the real net and its linearisation trained side by side, and the gradient flow.

Beyond the post (its "Gradient Flow" section): the post's linearised model is the first-order
Taylor expansion around the initial parameters,

    f_lin(x, w) = f(x, w0) + J(x, w0) (w - w0),        J(x, w0) = d f(x, w) / d w at w0,

and in the kernel regime the real net trains like it. Here both are trained by the SAME full-batch
gradient descent on the loss ``L(w) = mean_i (f(x_i, w) - y_i)^2 / alpha^2``, beside the closed
form of the linear model's dynamics. With H = Theta(X, X) / alpha^2 the (alpha-normalised) tangent
kernel at initialisation on the N training inputs, the linear model's outputs u = f_lin(X) - Y obey

    u_{t+1} = (I - eta H) u_t,    eta = 2 lr / N,        so   u_t = (I - eta H)^t u_0   exactly,

because ``grad L = (2 / (N alpha^2)) J^T (f - Y)`` and ``J J^T = Theta``. The post's gradient flow
``u(t) = exp(-eta H t) u(0)`` (t in steps) is its continuous-time limit, within O(eta lambda_max)
of the discrete steps. With the post's two points N = 2, so eta = lr: the post's
``1/2 ||y - y_bar||^2`` with learning rate lr. In function space (Lee et al. 2019, eq. 9):

    f_lin(x, t) = f(x, w0) + Theta(x, X) Theta(X, X)^{-1} (I - exp(-eta H t)) (Y - f(X, w0)).

The linear model is trained by :func:`ntkviz.numerics.linearize.train_linear`: its steps
``-lr J(X, w0)^T r`` keep ``w - w0`` in the span of J(X, w0)^T, so it trains as kernel gradient
descent with the empirical kernel at w0, exactly the parameter-space descent of
:class:`ntkviz.numerics.linearize.LinearModel` (tested to 1e-12), without a P-wide Jacobian.

``--sweep alpha|width`` adds a log-log panel: how far apart the net and its linearisation get,
against alpha (lazy training, Chizat, Oyallon & Bach 2019: O(1/alpha)) or the width (Lee et al.
2019: O(1/sqrt(width))), as two distances: the largest gap between their outputs at the training
inputs over training (taken at every step), and the RMS gap between their functions over the x
grid after the last step. Measured at the defaults (ReLU, width 100, alpha 1 to 100, median of 3
nets): slope -0.93 for the first, -0.33 for the second. ReLU's kinks move with the weights, a
first-order change the linear model cannot follow, so the function-space gap falls slowly. With
``--activation tanh`` the function-space gap falls like 1/alpha (slope -0.98 in
tests/figures/test_linearized.py) and the output gap about as fast or faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ntkviz.config import param
from ntkviz.drawing.axes import padded_view, theory_line
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.drawing.panels import median_fits, output_plane, plane_marks
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.captions import sweep_facts, sweep_sentences
from ntkviz.figures.common import (
    NET_FIELDS,
    check_clock,
    check_data,
    check_distinct,
    check_ranges,
    clock_frames,
    clock_param,
    function_view,
    log_log_fit,
    net_spec,
    seed_of,
)
from ntkviz.numerics.dynamics import clock_steps
from ntkviz.numerics.function_space import flow_functions, flow_outputs
from ntkviz.numerics.linearize import alpha_sweep, train_pair, width_sweep
from ntkviz.numerics.nets import (
    ACTIVATIONS,
    INITS,
    PARAMETERIZATION_HELP,
    PARAMETERIZATIONS,
    NetSpec,
    check_memory,
)
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

LAYOUTS = ("both", "plane", "functions")
SWEEPS = ("none", "alpha", "width")
#: The theory's log-log slope of the real-minus-linearised distance against the swept value.
THEORY_SLOPE = {"alpha": -1.0, "width": -0.5}
FLOW_POINTS = 400  # times at which the closed-form path is drawn in the output plane


@dataclass(frozen=True)
class LinearizedConfig:
    alpha: float = param(
        1.0, "output scale alpha of the animated run (zeroed output times alpha)", gt=0
    )
    width: int = param(
        100,
        "hidden width m (of the animated run, and the reference width of --sweep width)",
        ge=1,
        le=100_000,
    )
    depth: int = param(2, "number of hidden layers", ge=1, le=100)
    activation: str = param("relu", "activation of the hidden layers", choices=tuple(ACTIVATIONS))
    bias: bool = param(True, "biases in every layer")
    init: str = param(
        "pytorch",
        "initialisation (standard parameterisation): PyTorch's nn.Linear default or LeCun normal",
        choices=INITS,
    )
    parameterization: str = param("standard", PARAMETERIZATION_HELP, choices=PARAMETERIZATIONS)
    sigma_w: float = param(1.0, "weight scale sigma_w of the ntk parameterisation", gt=0)
    sigma_b: float = param(1.0, "bias scale sigma_b of the ntk parameterisation", ge=0)
    zero_output: bool = param(
        True,
        "subtract the net at initialisation, so f(x, w0) = 0 (the "
        "lazy-training setting: the output scale alpha then only "
        "changes how far the weights move)",
    )
    lr: float = param(
        1e-3, "gradient-descent learning rate on the loss MSE / alpha^2 (for both models)", gt=0
    )
    # The default kernel's eigenvalues are about 7.5 and 28: the slow direction decays like
    # exp(-7.5 lr t), to 5e-4 of its start in 1000 steps. 50 frames (a frame every 20 steps on
    # the linear clock) spread the motion as evenly as 100 did (largest one-frame share 4%).
    steps: int = param(1000, "gradient-descent steps", ge=1, le=10_000_000)
    frames: int = clock_frames(50)
    # The fast direction (eigenvalue ~28) settles in the first tens of steps, the slow one
    # (~7.5) over the whole run: log time shows both turns of the path.
    clock: str = clock_param("log")
    x_train: tuple[float, ...] = param((-2.0, 0.5), "training inputs (the post's two points)")
    y_train: tuple[float, ...] = param((3.0, -1.0), "training targets, one per input")
    sweep: str = param(
        "alpha",
        "also train the pair at each of --alphas or --widths and plot how "
        "far apart they get (log-log, with the fitted slope)",
        choices=SWEEPS,
    )
    alphas: tuple[float, ...] = param(
        (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0), "output scales for --sweep alpha", gt=0
    )
    widths: tuple[int, ...] = param(
        (25, 50, 100, 200, 400),
        "hidden widths for --sweep "
        "width (standard parameterisation: each trains with lr * "
        "width / w, so that lr * kernel stays the same)",
        ge=1,
        le=100_000,
    )
    trials: int = param(
        3, "independent nets per swept value (the panel shows their median)", ge=1, le=1000
    )
    layout: str = param(
        "both",
        "output plane and functions side by side, or one of them "
        "(the plane needs exactly two training points)",
        choices=LAYOUTS,
    )
    x_limits: tuple[float, ...] = param(
        (-4.0, 3.0), "functions view and grid: x range, as MIN,MAX", length=2
    )
    y_limits: tuple[float, ...] = param(
        (-3.5, 5.5), "functions view: y range, as MIN,MAX", length=2
    )
    points: int = param(200, "grid points along x for the functions", ge=2, le=100_000)

    def check(self) -> None:
        check_data(self.x_train, self.y_train)
        check_distinct(self.x_train)
        if self.layout != "functions" and len(self.x_train) != 2:
            raise ConfigError(
                f"--layout {self.layout} draws the output plane (y1, y2): it needs "
                f"exactly 2 training points (got {len(self.x_train)}); use "
                f"--layout functions"
            )
        check_ranges(self, "x_limits", "y_limits")
        check_clock(self.clock, self.frames, self.steps)

    def snapshot_steps(self) -> np.ndarray:
        """The steps of the frames: step 0, then ``frames`` steps spaced by ``clock``."""
        return clock_steps(self.clock, self.steps, self.frames)

    def net(self, width: int | None = None) -> NetSpec:
        return net_spec(self, self.width if width is None else width, *NET_FIELDS)

    def sweep_lr(self, width: int) -> float:
        """The learning rate at ``width`` in a width sweep: lr in the ntk parameterisation (its
        kernel has a finite limit); lr * width / w in the standard one, whose kernel grows like w."""
        if self.parameterization == "ntk":
            return self.lr
        return self.lr * self.width / width


# -- the simulation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearizedResult:
    """The animated run (T = frames + 1 snapshots, N training inputs, G grid points) and the sweep
    (V swept values, R trials each; V = 0 without a sweep).

    steps (T,); x_train, y_train (N,); x_grid (G,); kernel (N, N): H = Theta(X, X) / alpha^2 at
    initialisation; rate: eta = 2 lr / N, so the linear model's outputs follow (I - rate H)^t;
    outputs_real, outputs_linear (T, N): f(x_i, w_t) of the net and of its linearisation, both
    trained by gradient descent; outputs_flow (T, N): the gradient flow y_bar + exp(-rate H t)
    (y0 - y_bar); outputs_discrete (T, N): its discrete twin (I - rate H)^t; flow_times (S,) and
    flow_path (S, N): the flow at S dense times (the plane's closed-form line); functions_real,
    functions_linear, functions_flow (T, G): the three on the grid; loss_real, loss_linear (T,).
    sweep: "none" | "alpha" | "width"; sweep_values (V,); sweep_lr (V,): each value's lr;
    trajectory_distance (V, R): max over every step of ||y_real(t) - y_lin(t)||_2 at the
    training inputs; function_distance (V, R): RMS over the grid of f_real - f_lin after the last
    step; trajectory_slope, function_slope (and _intercept): least-squares lines through
    log10(median over R) against log10(value) (NaN without a sweep); theory_slope: -1 (alpha),
    -0.5 (width).
    """

    steps: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_grid: np.ndarray
    kernel: np.ndarray
    rate: float
    outputs_real: np.ndarray
    outputs_linear: np.ndarray
    outputs_flow: np.ndarray
    outputs_discrete: np.ndarray
    flow_times: np.ndarray
    flow_path: np.ndarray
    functions_real: np.ndarray
    functions_linear: np.ndarray
    functions_flow: np.ndarray
    loss_real: np.ndarray
    loss_linear: np.ndarray
    alpha: float
    width: int
    sweep: str
    sweep_values: np.ndarray
    sweep_lr: np.ndarray
    trajectory_distance: np.ndarray
    function_distance: np.ndarray
    trajectory_slope: float
    trajectory_intercept: float
    function_slope: float
    function_intercept: float
    theory_slope: float


@numeric
def simulate(
    config: LinearizedConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> LinearizedResult:
    """Train the animated net and its linearisation; the closed forms from its kernel at w0; then
    the sweep's pairs (one ensemble for an alpha sweep, one per width)."""
    progress = progress or Progress()
    check_memory(  # the per-frame history: three (T, G) float64 functions, kept twice at most
        48 * (config.frames + 1) * config.points,
        f"{config.frames + 1} snapshots of {config.points}-point functions",
        "use fewer --frames or --points",
    )
    seed = seed_of(generator)
    dtype = torch.float64
    x_train = torch.tensor(config.x_train, dtype=dtype, device=device)
    y_train = torch.tensor(config.y_train, dtype=dtype, device=device)
    x_grid = torch.linspace(*config.x_limits, config.points, dtype=dtype, device=device)
    common = dict(
        x_train=x_train,
        y_train=y_train,
        x_grid=x_grid,
        steps=config.steps,
        interval=config.snapshot_steps(),
        progress=progress,
        device=device,
    )
    main = train_pair(config.net(), [0], [config.alpha], seed, lr=config.lr, **common)

    y_bar = np.asarray(config.y_train, dtype=np.float64)
    rate = 2.0 * config.lr / len(config.x_train)
    kernel, f0_train, f0_grid = main.kernel[0], main.outputs_real[0, 0], main.functions_real[0, 0]
    flow_times = np.linspace(0.0, config.steps, FLOW_POINTS)
    flow = flow_outputs(kernel, f0_train, y_bar, rate, main.steps)
    discrete = flow_outputs(kernel, f0_train, y_bar, rate, main.steps, discrete=True)
    functions_flow = flow_functions(
        main.kernel_grid[0], kernel, f0_grid, f0_train, y_bar, rate, main.steps
    )

    values, lrs = np.zeros(0), np.zeros(0)
    # The sweep's largest gap can fall between frames: its outputs are taken at every step.
    sweep_options = {**common, "interval": 1, "kernels": False, "functions": False}
    gap = rms = np.zeros((0, config.trials))
    if config.sweep == "alpha":
        values = np.asarray(config.alphas, dtype=np.float64)
        lrs = np.full(len(values), config.lr)
        gap, rms = alpha_sweep(
            config.net(), values, config.trials, seed, lr=config.lr, **sweep_options
        )
    elif config.sweep == "width":
        values = np.asarray(config.widths, dtype=np.float64)
        lrs = np.array([config.sweep_lr(int(w)) for w in config.widths])
        specs = [config.net(int(w)) for w in config.widths]
        gap, rms = width_sweep(specs, lrs, config.alpha, config.trials, seed, **sweep_options)
    (slope_t, intercept_t), (slope_f, intercept_f) = (
        log_log_fit(values, np.median(d, axis=1)) if len(values) else (np.nan,) * 2
        for d in (gap, rms)
    )

    return LinearizedResult(
        steps=main.steps,
        x_train=np.asarray(config.x_train, dtype=np.float64),
        y_train=y_bar,
        x_grid=x_grid.cpu().numpy(),
        kernel=kernel,
        rate=rate,
        outputs_real=main.outputs_real[:, 0],
        outputs_linear=main.outputs_linear[:, 0],
        outputs_flow=flow,
        outputs_discrete=discrete,
        flow_times=flow_times,
        flow_path=flow_outputs(kernel, f0_train, y_bar, rate, flow_times),
        functions_real=main.functions_real[:, 0],
        functions_linear=main.functions_linear[:, 0],
        functions_flow=functions_flow,
        loss_real=main.loss_real[:, 0],
        loss_linear=main.loss_linear[:, 0],
        alpha=config.alpha,
        width=config.width,
        sweep=config.sweep,
        sweep_values=values,
        sweep_lr=lrs,
        trajectory_distance=gap,
        function_distance=rms,
        trajectory_slope=float(slope_t),
        trajectory_intercept=float(intercept_t),
        function_slope=float(slope_f),
        function_intercept=float(intercept_f),
        theory_slope=THEORY_SLOPE.get(config.sweep, float("nan")),
    )


# -- drawing ---------------------------------------------------------------------------------------


def plane_view(result: LinearizedResult, margin: float = 0.08) -> tuple[tuple[float, float], ...]:
    """A (y1, y2) view holding the origin, the targets and every trajectory, with a margin."""
    paths = (result.y_train[None, :], result.outputs_real, result.outputs_linear, result.flow_path)
    return padded_view(np.concatenate([np.zeros((1, 2)), *paths]), margin)


def facts(result: LinearizedResult, config: LinearizedConfig) -> dict:
    gap = np.linalg.norm(result.outputs_real - result.outputs_linear, axis=-1)
    out = {
        "alpha": result.alpha,
        "width": int(result.width),
        "steps": int(result.steps[-1]),
        "gap_max": float(gap.max()),
        "start_distance": float(np.linalg.norm(result.y_train - result.outputs_real[0])),
        "loss_first": float(result.loss_real[0]),
        "loss_last": float(result.loss_real[-1]),
        **sweep_facts(result),
    }
    relu = config.activation == "relu"
    out["sweep_sentence"], out["reading_sweep"] = sweep_sentences(result, out, relu)
    return out


class LinearizedRenderer(Renderer):
    """Output frame i shows snapshot i (frame 0: step 0); the key frame is the last, where the
    whole paths in the output plane are drawn."""

    frames_of = "steps"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        self.real_color, self.linear_color = style.run_colors(2)
        self.sweep_colors = [style.run_color(2), style.run_color(4)]
        panels = ["plane", "functions"] if config.layout == "both" else [config.layout]
        sweep = r.sweep != "none" and len(r.sweep_values) > 0
        n = len(panels) + int(sweep)
        axes = self.figure.subplots(1, n, squeeze=False)[0]
        self.real_dots = self.linear_dots = self.flow_dot = None
        self.curves: list[Line2D] = []
        # label -> how it is drawn in each panel (a dot in the plane, a line among the functions)
        self.handles: dict[str, list[Line2D]] = {}
        for panel, ax in zip(panels, axes, strict=False):
            (self._setup_plane if panel == "plane" else self._setup_functions)(ax)
        if sweep:
            self._setup_sweep(axes[len(panels)])
        self.legend_below(self.handles, ncols=3, markerscale=1.5, handlelength=3.0)
        self.scale_text = rf"$\alpha$ = {r.alpha:g}, width {r.width}"
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        self.key_frame = self.count - 1

    def _setup_plane(self, ax) -> None:
        r, style = self.result, self.style
        output_plane(ax, plane_view(r), r.x_train)
        for axis in (ax.xaxis, ax.yaxis):  # a fixed number of ticks: the same in every frame
            axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        ax.set_title("outputs at the two data points", fontsize=style.small)
        (path,) = ax.plot(r.flow_path[:, 0], r.flow_path[:, 1], **style.look("theory"))
        # Hollow squares above the dashed path they follow, so both stay visible.
        (self.linear_dots,) = ax.plot([], [], **style.look("hollow", self.linear_color))
        (self.real_dots,) = ax.plot([], [], **style.look("trail", self.real_color))
        lw = style.line_width
        (self.flow_dot,) = ax.plot(
            [], [], **style.look("now", style.color("reference"), marker="X", ms=3.5 * lw)
        )
        # where the network and its linearisation are now: a big dot in a big hollow square
        (self.real_now,) = ax.plot([], [], **style.look("now", self.real_color))
        (self.linear_now,) = ax.plot(
            [], [], **style.look("hollow", self.linear_color, ms=4.4 * lw, mew=0.6 * lw)
        )
        target, origin = plane_marks(ax, style, r.y_train, ms=5.5 * lw)
        self.overlay(target, origin)
        self.animate(self.linear_dots, self.real_dots, self.flow_dot, self.real_now)
        self.animate(self.linear_now)
        self.handles.setdefault("network", []).append(self.real_dots)
        self.handles.setdefault("linearised model", []).append(self.linear_dots)
        self.handles.setdefault("gradient flow (closed form)", []).append(path)
        now = [self.real_now, self.linear_now, self.flow_dot]
        self.handles["now: network, linearised, flow"] = now
        self.handles["targets"] = [target]
        self.handles["origin"] = [origin]

    def _setup_functions(self, ax) -> None:
        r, config, style = self.result, self.config, self.style
        function_view(ax, config.x_limits, config.y_limits, "$f(x)$ now")
        ax.set_title("the functions now", fontsize=style.small)
        # a style, one meaning: solid network (measured), dashed theory, dotted fit, dash-dot linear
        looks = (
            ("network", style.look("run", self.real_color)),
            ("linearised model", style.look("linear-beside-theory", self.linear_color)),
            ("gradient flow (closed form)", style.look("theory")),
        )
        for (label, look), data in zip(
            looks, (r.functions_real, r.functions_linear, r.functions_flow), strict=True
        ):
            (curve,) = ax.plot(r.x_grid, data[0], **look)
            self.curves.append(curve)
            drawn = self.handles.setdefault(label, [])
            if label != "gradient flow (closed form)" or not drawn:  # the same dashes
                drawn.append(curve)
        (data_points,) = ax.plot(
            r.x_train, r.y_train, **style.look("target", ms=5.5 * style.line_width)
        )
        self.handles.setdefault("targets", [data_points])
        self.overlay(data_points)
        self.animate(*self.curves)

    def _setup_sweep(self, ax) -> None:
        r, style = self.result, self.style
        x = r.sweep_values
        labels = ("gap at the data (max over $t$)", "gap over $x$ (RMS, at the end)")
        samples = (r.trajectory_distance, r.function_distance)
        fits = (
            (r.trajectory_slope, r.trajectory_intercept),
            (r.function_slope, r.function_intercept),
        )
        median_fits(ax, style, x, labels, samples, fits, self.sweep_colors)
        if np.isfinite(r.theory_slope) and np.isfinite(r.trajectory_slope):
            fit = (r.trajectory_slope, r.trajectory_intercept)
            theory_line(ax, style, x, r.theory_slope, fit, f"theory: slope {r.theory_slope:g}")
        ax.set_xlabel(r"output scale $\alpha$" if r.sweep == "alpha" else "hidden width $m$")
        ax.set_ylabel("distance, network to linearised")
        ax.set_title("how far apart they get (median)", fontsize=style.small)
        for line in ax.get_lines():
            if not line.get_label().startswith("_"):
                self.handles[line.get_label()] = [line]

    def update(self, i: int) -> bool:
        r = self.result
        if self.real_dots is not None:
            self.real_dots.set_data(r.outputs_real[: i + 1, 0], r.outputs_real[: i + 1, 1])
            self.linear_dots.set_data(r.outputs_linear[: i + 1, 0], r.outputs_linear[: i + 1, 1])
            self.flow_dot.set_data([r.outputs_flow[i, 0]], [r.outputs_flow[i, 1]])
            self.real_now.set_data([r.outputs_real[i, 0]], [r.outputs_real[i, 1]])
            self.linear_now.set_data([r.outputs_linear[i, 0]], [r.outputs_linear[i, 1]])
        for curve, data in zip(
            self.curves, (r.functions_real, r.functions_linear, r.functions_flow), strict=False
        ):
            curve.set_ydata(data[i])
        self.title.set_text(f"{self.scale_text}: step {int(r.steps[i])}")
        return False


SPEC = figure_spec(
    globals(),
    summary="The net and its linearisation trained side by side with the gradient-flow closed "
    "form, in the output plane and as functions; how far apart they get against alpha.",
    style=Style(size=(18.0, 7.5)),
    quick={"steps": 500, "frames": 50, "points": 100, "trials": 1},
    caption="A net (alpha = {alpha:g}, width {width}) and its linearisation around its initial "
    "weights, trained by the same gradient descent for {steps} steps, beside the closed-form "
    "gradient flow of the post's 'Gradient Flow' section. Left: their outputs at the two data "
    "points, step by step (dots: network; squares: linearisation; the big ones where each is now; "
    "X: the gradient flow now, on its dashed path; star: the targets); the largest distance between network and "
    "linearisation there is {gap_max:.2g}. Middle: the three functions at the same step; the "
    "network's training loss falls from {loss_first:.3g} to {loss_last:.2g}.{sweep_sentence}",
    reading="The network's outputs stay close to its linearisation's all the way to the targets "
    "(at most {gap_max:.2g} apart, starting {start_distance:.2g} away from the targets)"
    "{reading_sweep}.",
)
