"""ntk-ellipses: each run's 2 x 2 tangent kernel as an ellipse while it trains, at several scales.

Post: "Visualizing the neural tangent kernel as training progresses for different model scales"
(left) and "On the right is the model functions as the training progresses". For two data points
the kernel H(w)/alpha^2 is a 2 x 2 positive definite matrix, drawn as the contour
``(y - y_bar)^T H (y - y_bar) = scale^2`` centred on the targets: axes along H's eigenvectors,
semi-axes ``scale / sqrt(eigenvalue)``. Large alpha keeps its ellipse still (the kernel regime);
small alpha's kernel grows many-fold while it trains, so its ellipse shrinks and changes shape.
``--layout grid`` (the default) gives each alpha its own panel; ``both`` overlays them as the
post did.

All runs train together as ONE ensemble whose members have their own output scale alpha_k, each
on its own loss ``MSE / alpha_k^2`` (so one learning rate means the same for every alpha).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ntkviz.config import param
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.drawing.style import Z
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    ARCHITECTURE,
    check_ranges,
    function_view,
    net_spec,
    seed_of,
    train_mse,
)
from ntkviz.numerics.kernel_ellipses import ellipse_points, ellipse_size, relative_change
from ntkviz.numerics.nets import ACTIVATIONS, INITS, Ensemble, check_fits
from ntkviz.numerics.ntk_empirical import empirical_ntk
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

LAYOUTS = ("both", "grid", "ellipses", "functions")


@dataclass(frozen=True)
class NtkEllipsesConfig:
    alphas: tuple[float, ...] = param(
        (0.01, 0.05, 0.5, 1.0, 5.0, 10.0, 50.0), "output scales alpha, one net each", gt=0
    )
    width: int = param(100, "hidden width m", ge=1, le=100_000)
    depth: int = param(2, "number of hidden layers", ge=1, le=100)
    activation: str = param("relu", "activation of the hidden layers", choices=tuple(ACTIVATIONS))
    bias: bool = param(True, "biases in every layer")
    init: str = param(
        "pytorch", "initialisation: PyTorch's nn.Linear default or LeCun normal", choices=INITS
    )
    lr: float = param(1e-4, "gradient-descent learning rate on the loss MSE / alpha^2", gt=0)
    steps: int = param(8000, "gradient-descent steps", ge=1, le=10_000_000)
    # The post's notes say 8000 steps, a snapshot every 20 steps and 200 frames, which cannot all
    # hold; we keep its 8000 steps and 200 frames: a frame (and a trajectory dot) every 40 steps.
    snapshot_every: int = param(
        40, "training steps between frames (and trajectory dots)", ge=1, le=10_000_000
    )
    frames: int = param(
        0,
        "number of frames; when given, sets --snapshot-every to steps / frames "
        "(0: steps / snapshot-every, the post's 200)",
        ge=0,
        le=100_000,
    )
    x_train: tuple[float, ...] = param((-2.0, 0.5), "the two training inputs x1,x2", length=2)
    y_train: tuple[float, ...] = param((3.0, -1.0), "the two training targets y1,y2", length=2)
    # Kernels of the post's nets start with eigenvalues of about 5 to 70, so scale 2 gives
    # semi-axes of 0.25 to 0.9: ellipses about a third of the way back to the origin, as in the post.
    ellipse_scale: float = param(
        2.0,
        "ellipse level: (y - y_bar)^T H (y - y_bar) = scale^2, so "
        "the semi-axes are scale / sqrt(eigenvalue)",
        gt=0,
    )
    layout: str = param(
        "grid",
        "both: every run's ellipse in one plane, the functions beside it; grid: one plane per "
        "alpha (shared axes) and the functions; ellipses or functions: one panel alone",
        choices=LAYOUTS,
    )
    # Not in the post's gif: a still needs it to show whether an ellipse has moved.
    show_initial: bool = param(True, "also draw each run's ellipse at initialisation, dashed")
    x_limits: tuple[float, ...] = param(
        (-4.0, 3.0), "functions view: x range, as MIN,MAX", length=2
    )
    y_limits: tuple[float, ...] = param(
        (-3.0, 5.0), "functions view: y range, as MIN,MAX", length=2
    )
    points: int = param(200, "grid points along x for the functions", ge=2, le=100_000)

    def check(self) -> None:
        check_ranges(self, "x_limits", "y_limits")
        if self.x_train[0] == self.x_train[1]:
            raise ConfigError(
                f"--x-train needs two different inputs (got {self.x_train[0]:g} twice)"
            )
        if self.frames > self.steps:
            raise ConfigError(f"--frames ({self.frames}) must not exceed --steps ({self.steps})")
        interval = self.interval
        if self.steps % interval:
            what = (
                f"--frames ({self.frames})"
                if self.frames
                else f"--snapshot-every ({self.snapshot_every})"
            )
            raise ConfigError(f"--steps ({self.steps}) must be a multiple of {what}")

    @property
    def interval(self) -> int:
        """Training steps between frames."""
        return max(self.steps // self.frames, 1) if self.frames else self.snapshot_every

    @property
    def frame_count(self) -> int:
        return self.steps // self.interval


@dataclass(frozen=True)
class NtkEllipsesResult:
    """T = frames + 1 snapshots (step 0 and after every interval), K runs, G grid points.

    alphas (K,); steps (T,): the step of each snapshot; kernels (T, K, 2, 2): H(w)/alpha^2 on the
    two training inputs; outputs (T, K, 2): (f(x1, w), f(x2, w)); loss (T, K): MSE / alpha^2;
    functions (T, K, G): f(x, w) on x_grid (G,); ellipses (T, K, E, 2): each kernel's contour
    polygon (E vertices) in the (y1, y2) plane; x_train, y_train (2,); ellipse_scale: its level.
    """

    alphas: np.ndarray
    steps: np.ndarray
    kernels: np.ndarray
    outputs: np.ndarray
    loss: np.ndarray
    functions: np.ndarray
    x_grid: np.ndarray
    ellipses: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    ellipse_scale: float


@numeric
def simulate(
    config: NtkEllipsesConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> NtkEllipsesResult:
    """Train the K nets as one ensemble (float64); at each snapshot record the kernel on the
    training inputs (layer-wise formula), the outputs there, and the functions on the grid."""
    progress = progress or Progress()
    seed = seed_of(generator)
    spec = net_spec(config, config.width, *ARCHITECTURE, zero_output=True)
    count = len(config.alphas)
    dtype = torch.float64
    check_fits(spec, count, config.points + 2, device, dtype)
    ensemble = Ensemble(spec, count, seed, device=device, dtype=dtype, alphas=config.alphas)
    x_train = torch.tensor(config.x_train, dtype=dtype, device=device)
    y_train = torch.tensor(config.y_train, dtype=dtype, device=device)
    x_grid = torch.linspace(*config.x_limits, config.points, dtype=dtype, device=device)
    alpha2 = (ensemble.alphas**2).view(-1, 1, 1)

    def record(ens: Ensemble, step: int) -> dict[str, np.ndarray]:
        kernel = empirical_ntk(ens, x_train) / alpha2
        return {
            "kernels": kernel.cpu().numpy(),
            "outputs": ens(x_train).cpu().numpy(),
            "functions": ens(x_grid).cpu().numpy(),
        }

    trajectory = train_mse(
        ensemble, x_train, y_train, config, progress, snapshot_every=config.interval, record=record
    )
    kernels = trajectory.records["kernels"]
    y_bar = np.asarray(config.y_train, dtype=np.float64)
    return NtkEllipsesResult(
        alphas=np.asarray(config.alphas, dtype=np.float64),
        steps=trajectory.steps,
        kernels=kernels,
        outputs=trajectory.records["outputs"],
        loss=trajectory.loss,
        functions=trajectory.records["functions"],
        x_grid=x_grid.cpu().numpy(),
        ellipses=ellipse_points(kernels, y_bar, config.ellipse_scale),
        x_train=np.asarray(config.x_train, dtype=np.float64),
        y_train=y_bar,
        ellipse_scale=config.ellipse_scale,
    )


def plane_limits(
    result: NtkEllipsesResult, margin: float = 0.08
) -> tuple[tuple[float, float], ...]:
    """A fixed, square (y1, y2) view holding the origin, the targets, every trajectory and the
    initial ellipses (ellipses that grow later may leave it); square so that, drawn with equal
    aspect, the ellipses keep their true shape."""
    pts = [
        np.zeros((1, 2)),
        result.y_train[None, :],
        result.outputs.reshape(-1, 2),
        result.ellipses[0].reshape(-1, 2),
    ]
    pts = np.concatenate(pts)
    pts = pts[np.isfinite(pts).all(axis=1)]
    low, high = pts.min(axis=0), pts.max(axis=0)
    half = 0.5 * (1.0 + 2.0 * margin) * max(float((high - low).max()), 1e-9)
    centre = 0.5 * (low + high)
    return tuple((float(c - half), float(c + half)) for c in centre)


def format_change(value: float) -> str:
    """A relative change for the picture and the caption: 2 significant digits, no exponent."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


class NtkEllipsesRenderer(Renderer):
    """Output frame i shows result snapshot i: frame 0 is step 0, every output at the origin and
    every ellipse at its initial kernel.

    Layouts: ``both`` (the post's picture: every run's ellipse in one (y1, y2) plane, the
    functions beside it), ``grid`` (one small plane per alpha with shared axes, and the
    functions), ``ellipses`` or ``functions`` alone.
    """

    frames_of = "steps"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        self.colors = style.run_colors(len(r.alphas))
        self.change = relative_change(r.kernels)
        self.trails: list[Line2D] = []
        self.ellipses: list[Line2D] = []
        self.curves: list[Line2D] = []
        self.change_texts = []
        layout = config.layout
        if layout == "grid":
            self._setup_grid()
        else:
            panels = ("ellipses", "functions") if layout == "both" else (layout,)
            for n, panel in enumerate(panels):
                ax = self.figure.add_subplot(1, len(panels), n + 1)
                if panel == "ellipses":
                    self._setup_plane(ax, range(len(r.alphas)))
                    self.overlay(ax.legend(handles=self._plane_handles(), **style.legend()))
                else:
                    self._setup_functions(ax, legend=layout == "functions")
        if layout == "grid":  # the key takes the top right: the step goes top left
            self.title = self.figure.suptitle(" ", x=0.01, ha="left")
        else:
            self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        # The last frame: every trail complete, every kernel at its most changed (against its
        # dashed start), every function through the data; training has settled by then.
        self.key_frame = self.count - 1

    # -- panels ----------------------------------------------------------------------------------
    def _setup_plane(self, ax, runs, labels: bool = True) -> None:
        """The (y1, y2) plane of the given runs: trails, initial and current ellipses, target."""
        r, config, style = self.result, self.config, self.style
        (y1_lim, y2_lim) = plane_limits(r)
        ax.set_xlim(*y1_lim)
        ax.set_ylim(*y2_lim)
        ax.set_aspect("equal", adjustable="box")
        if labels:
            ax.set_xlabel(f"$y_1 = f({r.x_train[0]:g}, w)$")
            ax.set_ylabel(f"$y_2 = f({r.x_train[1]:g}, w)$")
        for k in runs:
            color = self.colors[k]
            if config.show_initial:
                ax.plot(*r.ellipses[0, k].T, **style.look("initial", color))
            (trail,) = ax.plot(
                r.outputs[:1, k, 0], r.outputs[:1, k, 1], **style.look("trail", color)
            )
            (ellipse,) = ax.plot(*r.ellipses[0, k].T, **style.look("run", color))
            self.trails.append(trail)
            self.ellipses.append(ellipse)
            self.animate(trail, ellipse)
        (target,) = ax.plot([r.y_train[0]], [r.y_train[1]], **style.look("target"))
        (origin,) = ax.plot([0.0], [0.0], **style.look("landmark"))
        self.overlay(target, origin)

    def _plane_handles(self, runs: bool = True) -> list[Line2D]:
        """Legend entries: each run's ellipse (a line in its colour; or, without ``runs``, one
        neutral line for them all), the initial ellipse, the trail and the target."""
        r, style = self.result, self.style
        neutral = style.color("reference")
        if runs:
            handles = [
                Line2D([], [], **style.look("run", self.colors[k]), label=rf"$\alpha$ = {alpha:g}")
                for k, alpha in enumerate(r.alphas)
            ]
        else:
            handles = [Line2D([], [], **style.look("run", neutral), label="kernel now")]
        if self.config.show_initial:
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

    def _setup_grid(self) -> None:
        """One plane per alpha (shared axes, labels on the outer panels), the functions last."""
        r, style = self.result, self.style
        count = len(r.alphas)
        rows = 1 if count < 4 else 2
        cols = -(-(count + 1) // rows)
        grid = self.figure.add_gridspec(rows, cols)
        first = None
        for k, alpha in enumerate(r.alphas):
            row, col = divmod(k, cols)
            ax = self.figure.add_subplot(grid[row, col], sharex=first, sharey=first)
            first = first or ax
            self._setup_plane(ax, [k], labels=False)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 5, 10]))
            ax.set_title(rf"$\alpha$ = {alpha:g}")
            if k + cols >= count:  # no plane below: x tick labels here
                ax.set_xlabel("$y_1$")
            else:
                ax.tick_params(labelbottom=False)
            if col == 0:
                ax.set_ylabel("$y_2$")
            else:
                ax.tick_params(labelleft=False)
            # The unchanging words are drawn once (a still overlay); only the number after
            # them is drawn in every frame: a third of the glyphs.
            words = ax.text(
                0.04,
                0.04,
                "‖H − H₀‖ / ‖H₀‖ = ",
                transform=ax.transAxes,
                fontsize=style.small,
                ha="left",
                va="bottom",
                zorder=Z.TEXT,
            )
            text = ax.annotate(
                " ",
                xy=(1.0, 0.0),
                xycoords=words,
                fontsize=style.small,
                ha="left",
                va="bottom",
                zorder=Z.TEXT,
            )
            self.change_texts.append(text)
            self.overlay(words, text)
        ax = self.figure.add_subplot(grid[(count) // cols, count % cols])
        self._setup_functions(ax, legend=False, compact=True)
        # one key for every panel, above them (the panels' titles name the runs)
        key = self.figure.legend(
            handles=self._plane_handles(runs=False),
            loc="outside upper right",
            ncols=5,
            **style.legend(),
        )
        self.overlay(key)

    def _setup_functions(self, ax, legend: bool, compact: bool = False) -> None:
        r, config, style = self.result, self.config, self.style
        function_view(ax, config.x_limits, config.y_limits, "$f(x, w)$")
        # Fixed tick counts (not "auto"): the lowest y tick is left out, so that the corner's
        # x and y tick labels cannot collide.
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4 if compact else 8, steps=[1, 2, 5, 10]))
        ax.yaxis.set_major_locator(
            MaxNLocator(nbins=4 if compact else 8, steps=[1, 2, 5, 10], prune="lower")
        )
        for k, alpha in enumerate(r.alphas):
            (curve,) = ax.plot(
                r.x_grid,
                r.functions[0, k],
                **style.look("run", self.colors[k]),
                label=rf"$\alpha$ = {alpha:g}",
            )
            self.curves.append(curve)
        (data,) = ax.plot(r.x_train, r.y_train, **style.look("data"), label="data")
        self.animate(*self.curves)
        self.overlay(data)
        if legend:
            self.overlay(ax.legend(**style.legend()))

    def update(self, i: int) -> bool:
        r = self.result
        for k, trail in enumerate(self.trails):
            trail.set_data(r.outputs[: i + 1, k, 0], r.outputs[: i + 1, k, 1])
        for k, ellipse in enumerate(self.ellipses):
            ellipse.set_data(r.ellipses[i, k, :, 0], r.ellipses[i, k, :, 1])
        for k, curve in enumerate(self.curves):
            curve.set_ydata(r.functions[i, k])
        for k, text in enumerate(self.change_texts):
            # plain text, not mathtext: a new number would be parsed anew in every frame
            text.set_text(format_change(self.change[i, k]))
        self.title.set_text(f"step {int(r.steps[i])}")
        return False


def _style() -> Style:
    return Style(size=(18.0, 8.0))


STILL = 0.1  # a relative kernel change under this leaves the ellipse on its dashed start
DOT = 0.2  # an ellipse shrunk under this share of its initial size is a dot under the star


def facts(result: NtkEllipsesResult, config: NtkEllipsesConfig) -> dict:
    """The caption's numbers: the relative kernel change over training of the smallest and the
    largest alpha (as the panels print them), and how the smallest alpha's ellipse changed size."""
    change = relative_change(result.kernels)[-1]
    size = ellipse_size(result.kernels)[-1]
    small, large = int(np.argmin(result.alphas)), int(np.argmax(result.alphas))
    if change[large] < STILL:
        large_phrase = "its solid ellipse stays on its dashed start: the kernel regime"
    else:
        large_phrase = "its ellipse changes visibly too"
    size_small = float(size[small])
    if size_small < DOT:
        small_phrase = (
            f"its kernel grows so much that its ellipse shrinks to {size_small:.0%} of its "
            "initial size, a dot under the star"
        )
    elif size_small < 1:
        small_phrase = f"its ellipse shrinks to {size_small:.0%} of its initial size"
    else:
        small_phrase = f"its ellipse grows to {size_small:.0%} of its initial size"
    small_verb = (
        "shrinks to a dot" if size_small < DOT else ("shrinks" if size_small < 1 else "grows")
    )
    layout_sentence = {
        "grid": "One panel per output scale alpha (--layout both overlays them, as in the post); "
        "the last shows each run's function f(x) and the two data points.",
        "both": "Left: every run in one plane, one colour per output scale alpha, as in the post "
        "(--layout grid gives each its own panel); right: each run's function f(x) and the two "
        "data points.",
        "ellipses": "Every run in one plane, one colour per output scale alpha.",
        "functions": "Only each run's function f(x) is drawn here, one colour per output scale "
        "alpha, with the two data points; in the other layouts:",
    }[config.layout]
    return {
        "layout_sentence": layout_sentence,
        "printed": " (printed in each panel)" if config.layout == "grid" else "",
        "steps": int(result.steps[-1]),
        "alpha_small": float(result.alphas[small]),
        "alpha_large": float(result.alphas[large]),
        "change_small": float(change[small]),
        "change_large": float(change[large]),
        "change_small_shown": format_change(change[small]),
        "change_large_shown": format_change(change[large]),
        "size_small": size_small,
        "size_large": float(size[large]),
        "small_phrase": small_phrase,
        "large_phrase": large_phrase,
        "small_verb": small_verb,
        "large_verb": "coincide" if change[large] < STILL else "differ",
        "changes": {f"{a:g}": float(c) for a, c in zip(result.alphas, change, strict=True)},
    }


SPEC = figure_spec(
    globals(),
    summary="Each run's 2 x 2 tangent kernel as an ellipse while it trains, for alpha from 0.01 "
    "to 50 (one panel each), and the functions.",
    style=_style(),
    quick={"steps": 2000, "snapshot_every": 50, "points": 100},
    caption="{layout_sentence} Dots: each run's outputs (f(x1), f(x2)) so far, from the origin "
    "(+) to the target (star). Solid ellipse: the contour of its current tangent kernel "
    "H/alpha^2 around the target; dashed: its kernel at initialisation (a larger kernel draws a "
    "smaller ellipse). Over {steps} steps the relative kernel change ||H - H_0|| / ||H_0||"
    "{printed} goes from {change_large_shown} at alpha = {alpha_large:g} ({large_phrase}) to "
    "{change_small_shown} at alpha = {alpha_small:g} ({small_phrase}).",
    reading="Compare solid (kernel now) with dashed (kernel at start) for each alpha: at "
    "alpha = {alpha_large:g} they {large_verb} (relative change {change_large_shown}); at "
    "alpha = {alpha_small:g} the kernel changes by {change_small_shown} times its initial size "
    "and its ellipse {small_verb}.",
)
