"""ntk-ellipses: each run's 2 x 2 tangent kernel as an ellipse while it trains, at several scales.

Post: "Visualizing the neural tangent kernel as training progresses for different model scales"
(left) and "On the right is the model functions as the training progresses". For two data points
the kernel H(w)/alpha^2 is a 2 x 2 positive definite matrix, drawn as the contour
``(y - y_bar)^T H (y - y_bar) = scale^2`` centred on the targets: axes along H's eigenvectors,
semi-axes ``scale / sqrt(eigenvalue)``. Large alpha keeps its ellipse still (the kernel regime);
small alpha's kernel grows many-fold while it trains, so its ellipse shrinks and changes shape.
``--layout grid``: a panel per alpha; ``both`` overlays them as the post did.

All runs train together as ONE ensemble whose members have their own output scale alpha_k, each
on its own loss ``MSE / alpha_k^2`` (so one learning rate means the same for every alpha).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ntkviz.config import param
from ntkviz.drawing.axes import panel_text, shared_panels, square_view
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.drawing.panels import (
    output_plane,
    plane_handles,
    plane_marks,
    sparse_ticks,
    words_and_number,
)
from ntkviz.errors import ConfigError
from ntkviz.figures.base import Runs, figure_spec
from ntkviz.figures.captions import format_change, size_phrases
from ntkviz.figures.common import (
    ARCHITECTURE,
    check_ranges,
    function_view,
    net_spec,
    seed_of,
    train_mse,
)
from ntkviz.numerics.dynamics import run_clock_steps
from ntkviz.numerics.kernel_ellipses import (
    ellipse_points,
    ellipse_size,
    relative_change,
    visible_ellipses,
)
from ntkviz.numerics.nets import ACTIVATIONS, INITS, Ensemble, check_fits
from ntkviz.numerics.ntk_empirical import empirical_ntk
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

LAYOUTS = ("both", "grid", "ellipses", "functions")
#: own: each run on its own clock, from step 0 to the step its loss reaches --converged of its
#: start (alpha = 0.01 is done in ~80 steps, alpha = 50 needs ~6000: on one clock the small alphas
#: finish inside the first frame); log: one clock, snapshots spaced in log time; linear: one
#: clock, a snapshot every --snapshot-every steps (the post's).
CLOCKS = ("own", "log", "linear")
#: The smallest ellipse drawn: a larger semi-axis under this share of the plane's side is drawn
#: at this size (same shape and centre), so that a kernel grown many-fold (alpha = 0.01) still
#: shows an ellipse around the target instead of a dot under its star.
MIN_ELLIPSE = 0.04


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
    # The post: 8000 steps, a snapshot every 20, 200 frames (which cannot all hold). 125 frames
    # loop in 14.6 s (200 took 22 s, past 20 s) and each alpha's own clock still shows its path.
    snapshot_every: int = param(
        64,
        "training steps between frames (and trajectory dots) with --clock linear; with own or "
        "log, the frame count is still steps / this",
        ge=1,
        le=10_000_000,
    )
    frames: int = param(
        0,
        "number of frames; when given, sets --snapshot-every to steps / frames "
        "(0: steps / snapshot-every, 125; the post's 200)",
        ge=0,
        le=100_000,
    )
    clock: str = param(
        "own",
        "training time axis: own (each alpha on its own clock, from step 0 to the step its loss "
        "falls to --converged of its start), log (one clock, spaced evenly in log time) or "
        "linear (one clock, a frame every --snapshot-every steps: the post's)",
        choices=CLOCKS,
    )
    converged: float = param(
        1e-4,
        "with --clock own: a run's clock ends when its loss is this fraction of its start",
        gt=0,
        lt=1,
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
        if self.clock == "linear" and self.steps % interval:
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

    def run_steps(self, loss: np.ndarray) -> np.ndarray:
        """Each run's step in each frame, (frames + 1, K): :func:`run_clock_steps`."""
        args = (self.steps, self.frame_count, self.interval, loss, self.converged)
        return run_clock_steps(self.clock, *args)


@dataclass(frozen=True)
class NtkEllipsesResult:
    """T = frames + 1 snapshots, K runs, G grid points.

    alphas (K,); steps (T, K): the step of each run at each snapshot (the same for every run but
    with --clock own, where run k goes from step 0 to its own tau_k); kernels (T, K, 2, 2):
    H(w)/alpha^2 on the two training inputs; outputs (T, K, 2): (f(x1, w), f(x2, w)); loss
    (T, K): MSE / alpha^2; functions (T, K, G): f(x, w) on x_grid (G,); ellipses (T, K, E, 2): each kernel's contour
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
    members: list[int] | None = None,
) -> NtkEllipsesResult:
    """Train the K nets as one ensemble (float64); at each snapshot record the kernel on the
    training inputs (layer-wise formula), the outputs there, and the functions on the grid.
    ``members``: run k's initial net (default k; :class:`ntkviz.figures.base.Runs`)."""
    progress = progress or Progress()
    seed = seed_of(generator)
    spec = net_spec(config, config.width, *ARCHITECTURE, zero_output=True)
    count = len(config.alphas)
    dtype = torch.float64
    check_fits(spec, count, config.points + 2, device, dtype)
    nets = {"device": device, "dtype": dtype, "alphas": config.alphas, "members": members}
    ensemble = Ensemble(spec, count, seed, **nets)
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

    if config.clock == "own":
        # A first run for the loss at every step, which sets each run's own clock; then the
        # same nets again (same seed), recorded at every step some run shows.
        first = Ensemble(spec, count, seed, **nets)
        losses = train_mse(first, x_train, y_train, config, None).loss
        del first
        steps = config.run_steps(losses)
    else:
        steps = config.run_steps(np.zeros((1, count)))
    taken = np.unique(steps)
    to_last = replace(config, steps=int(taken[-1]))  # no step after the last one shown
    trajectory = train_mse(
        ensemble, x_train, y_train, to_last, progress, snapshot_at=taken, record=record
    )
    loss, records = trajectory.per_run(steps)  # snapshot t of run k: its step steps[t, k]
    kernels = records["kernels"]
    y_bar = np.asarray(config.y_train, dtype=np.float64)
    return NtkEllipsesResult(
        alphas=np.asarray(config.alphas, dtype=np.float64),
        steps=steps,
        kernels=kernels,
        outputs=records["outputs"],
        loss=loss,
        functions=records["functions"],
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
    initial ellipses (ellipses that grow later may leave it): :func:`square_view`."""
    points = (result.y_train[None, :], result.outputs.reshape(-1, 2), result.ellipses[0])
    return square_view(
        np.concatenate([np.zeros((1, 2)), *(p.reshape(-1, 2) for p in points)]), margin
    )


#: A plane's width in font widths: shared axes label only the outer panels, so panels may be
#: narrower than the house's.
PANEL_EMS = 12.0


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
        (y1_lim, _) = plane_limits(r)
        self.drawn = visible_ellipses(r.ellipses, r.y_train, MIN_ELLIPSE * (y1_lim[1] - y1_lim[0]))
        self.trails: list[Line2D] = []
        self.ellipses: list[Line2D] = []
        self.curves: list[Line2D] = []
        self.change_texts = []
        self.step_texts = []  # with --clock own and --layout grid: each panel's own step
        layout = config.layout
        if layout == "grid":
            self._setup_grid()
        else:
            panels = ("ellipses", "functions") if layout == "both" else (layout,)
            for n, panel in enumerate(panels):
                ax = self.figure.add_subplot(1, len(panels), n + 1)
                if panel == "ellipses":
                    self._setup_plane(ax, range(len(r.alphas)))
                    handles = plane_handles(style, self.colors, r.alphas, config.show_initial)
                    self.overlay(ax.legend(handles=handles, **style.legend()))
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
        output_plane(ax, plane_limits(r), r.x_train, labels)
        ax.set_aspect("equal", adjustable="box")
        for k in runs:
            color = self.colors[k]
            if config.show_initial:
                ax.plot(*r.ellipses[0, k].T, **style.look("initial", color))
            (trail,) = ax.plot(
                r.outputs[:1, k, 0], r.outputs[:1, k, 1], **style.look("trail", color)
            )
            (ellipse,) = ax.plot(*self.drawn[0, k].T, **style.look("run", color))
            self.trails.append(trail)
            self.ellipses.append(ellipse)
            self.animate(trail, ellipse)
        # The target is part of the still background: the current ellipse, however small, is
        # drawn over its star.
        self.overlay(plane_marks(ax, style, r.y_train)[1])

    def _setup_grid(self) -> None:
        """One plane per alpha (shared axes, labels on the outer panels), the functions last."""
        r, style = self.result, self.style
        n, columns = len(r.alphas), style.columns(len(r.alphas) + 1, ems=PANEL_EMS)
        panels, functions = shared_panels(self.figure, n, "$y_1$", "$y_2$", columns, aspect=1.0)
        for k, (alpha, ax) in enumerate(zip(r.alphas, panels, strict=True)):
            self._setup_plane(ax, [k], labels=False)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 5, 10]))
            ax.set_title(rf"$\alpha$ = {alpha:g}")
            # The unchanging words are drawn once (a still overlay); only the number after
            # them is drawn in every frame: a third of the glyphs.
            words, text = words_and_number(ax, style, 0.04, 0.04, "‖H − H₀‖ / ‖H₀‖ = ")
            self.change_texts.append(text)
            self.overlay(words, text)
            if self.config.clock == "own":  # each panel on its own clock: its real step
                step = panel_text(ax, style, 0.04, 0.96, " ", va="top")
                self.step_texts.append(step)
                self.overlay(step)
        self._setup_functions(functions, legend=True, compact=True)
        # one key for every panel, above them (the panels' titles name the runs)
        handles = plane_handles(style, self.colors, r.alphas, self.config.show_initial, False)
        self.figure_legend({h.get_label(): h for h in handles}, ncols=5, loc="outside upper right")

    def _setup_functions(self, ax, legend: bool, compact: bool = False) -> None:
        r, config, style = self.result, self.config, self.style
        function_view(ax, config.x_limits, config.y_limits, "$f(x, w)$")
        sparse_ticks(ax, 4 if compact else 8)
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
        if legend and compact:  # the grid's small panel: which colour is which alpha
            curves = ax.legend(
                handles=self.curves,
                loc="upper right",
                ncols=2,
                **style.legend(handlelength=1.0, columnspacing=0.6, labelspacing=0.2),
            )
            self.overlay(curves)
        elif legend:
            self.overlay(ax.legend(**style.legend()))

    def update(self, i: int) -> bool:
        r = self.result
        for k, trail in enumerate(self.trails):
            trail.set_data(r.outputs[: i + 1, k, 0], r.outputs[: i + 1, k, 1])
        for k, ellipse in enumerate(self.ellipses):
            ellipse.set_data(self.drawn[i, k, :, 0], self.drawn[i, k, :, 1])
        for k, curve in enumerate(self.curves):
            curve.set_ydata(r.functions[i, k])
        for k, text in enumerate(self.change_texts):
            # plain text, not mathtext: a new number would be parsed anew in every frame
            text.set_text(format_change(self.change[i, k]))
        for k, text in enumerate(self.step_texts):
            text.set_text(f"step {int(r.steps[i, k])}")
        self.title.set_text(self._title(i))
        return False

    def _title(self, i: int) -> str:
        r, config = self.result, self.config
        if config.clock != "own":
            return f"step {int(r.steps[i, 0])}"
        share = i / max(len(r.steps) - 1, 1)
        text = f"each alpha on its own clock: {share:.0%}"
        if not self.step_texts:  # no panel of its own to print it: the steps here
            text += " (steps " + ", ".join(str(int(s)) for s in r.steps[i]) + ")"
        return text


#: The Result fields with one entry per run, on axis 1 (after the snapshots).
RUN_FIELDS = ("steps", "kernels", "outputs", "loss", "functions", "ellipses")


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
    small_phrase, small_verb = size_phrases(size_small, DOT)
    end = result.steps[-1]
    if config.clock == "own":
        over = (
            f"Each alpha runs on its own clock, to the step its loss is {config.converged:g} of "
            f"its start ({int(end[small])} steps at alpha = {result.alphas[small]:g}, "
            f"{int(end[large])} at alpha = {result.alphas[large]:g}); by then"
        )
    else:
        over = f"Over {int(end.max())} steps"
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
        "steps": int(result.steps[-1].max()),
        "over": over,
        "smallest": MIN_ELLIPSE,
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
    "smaller ellipse; one under {smallest:.1%} of the plane is drawn at that size). {over} the "
    "relative kernel change ||H - H_0|| / ||H_0||"
    "{printed} goes from {change_large_shown} at alpha = {alpha_large:g} ({large_phrase}) to "
    "{change_small_shown} at alpha = {alpha_small:g} ({small_phrase}).",
    # the runs' values are --alphas: nine one-alpha variants of an explore page train at once
    runs=Runs("alphas", {"alphas": 0} | dict.fromkeys(RUN_FIELDS, 1)),
    reading="Compare solid (kernel now) with dashed (kernel at start) for each alpha: at "
    "alpha = {alpha_large:g} they {large_verb} (relative change {change_large_shown}); at "
    "alpha = {alpha_small:g} the kernel changes by {change_small_shown} times its initial size "
    "and its ellipse {small_verb}.",
)
