"""init-functions: 100 random nets at initialisation, then all 100 trained by gradient descent.

Post: "100 randomly initialized 2-hidden layer, width-100 relu networks" (the still) and
"Training 100 ReLU nets using gradient descent on square loss" (the animation). The 100 nets are
one :class:`~ntkviz.numerics.nets.Ensemble` trained in one batched program; each frame's 100 curves are one
``LineCollection``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.ticker import MaxNLocator

from ntkviz.config import param
from ntkviz.drawing.canvas import Renderer
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    ARCHITECTURE,
    check_data,
    check_ranges,
    clock_param,
    data_tensors,
    fan_in_init,
    function_view,
    net_spec,
    seed_of,
    train_mse,
)
from ntkviz.numerics.dynamics import clock_steps
from ntkviz.numerics.nets import ACTIVATIONS, Ensemble, NetSpec, check_fits, check_memory
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric


@dataclass(frozen=True)
class InitFunctionsConfig:
    count: int = param(100, "number of nets (drawn and trained together)", ge=1, le=100_000)
    width: int = param(100, "hidden layer width m", ge=1, le=10_000_000)
    depth: int = param(2, "number of hidden layers", ge=1, le=1000)
    activation: str = param("relu", "activation of the hidden layers", choices=tuple(ACTIVATIONS))
    init: str = fan_in_init()
    bias: bool = param(True, "give every layer a bias")
    lr: float = param(1e-3, "learning rate of full-batch gradient descent", gt=0)
    steps_per_frame: int = param(
        20,
        "gradient descent steps a frame: the run is --frames x this many steps (between frames "
        "with --clock linear; --clock log spaces the frames in log time over the run)",
        ge=1,
        le=10_000_000,
    )
    # Frame 0 is the nets at initialisation (the post's still); the post's "100 frames of 5 steps
    # each" is 500 steps. We keep its 500 steps in 25 frames of 20: on the log clock they show
    # both phases (the farther point reached, the nearer settled) with the largest one-frame
    # share 5% and no near-static run, in a 5.5 s loop (1 s of step 0, 2.5 s of training, the
    # 2 s hold), at a quarter of the bytes of 100 frames: each frame redraws 100 curves, whose
    # pixels nearly all move (~20 kB of GIF a frame at the gallery's 59 dpi).
    frames: int = param(
        25,
        "number of training frames after the initial one, --steps-per-frame steps each",
        ge=1,
        le=100_000,
    )
    # The post held its first frame 5 frames (0.5 s): too short to take in its whole first
    # figure, so step 0 stays up 1 s at the default 10 fps.
    hold_first: int = param(10, "show the initial functions for this many frames", ge=1, le=10_000)
    # The nets reach the farther point within ~50 steps and settle on the nearer one over the
    # remaining 450: the log clock gives both phases their share of the loop (--clock linear
    # is the post's 100 frames of 5 steps, whose second half shows a slow settling).
    clock: str = clock_param("log")
    x_train: tuple[float, ...] = param((-3.0, 0.5), "training inputs, as X1,X2,...")
    y_train: tuple[float, ...] = param((2.0, -1.0), "training targets, one per input, as Y1,Y2,...")
    x_range: tuple[float, ...] = param(
        (-5.0, 5.0), "inputs at which the nets are evaluated, as MIN,MAX", length=2
    )
    points: int = param(
        100,
        "evaluation points along x (a ReLU net is piecewise linear: 100 "
        "points over [-5, 5] draw it smoothly)",
        ge=2,
        le=1_000_000,
    )
    xlim: tuple[float, ...] = param((-4.0, 4.0), "view: x range, as MIN,MAX", length=2)
    ylim: tuple[float, ...] = param((-4.0, 4.0), "view: y range, as MIN,MAX", length=2)

    def check(self) -> None:
        check_data(self.x_train, self.y_train)
        check_ranges(self, "x_range", "xlim", "ylim")

    @property
    def net(self) -> NetSpec:
        return net_spec(self, self.width, *ARCHITECTURE)

    @property
    def steps(self) -> int:
        return self.frames * self.steps_per_frame


@dataclass(frozen=True)
class InitFunctionsResult:
    """x_grid (G,); outputs (T, K, G): every net's f(x, w) on the grid at each snapshot;
    steps (T,): the step of each snapshot; loss (T, K); fitted (T, K, N): every net's f at the
    training inputs at each snapshot; x_train, y_train (N,)."""

    x_grid: np.ndarray
    outputs: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    fitted: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray


@numeric
def simulate(
    config: InitFunctionsConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> InitFunctionsResult:
    """K nets from (seed, k), trained together by full-batch GD on the MSE; snapshots of f on the grid."""
    progress = progress or Progress()
    spec = config.net.check()
    check_fits(spec, config.count, max(config.points, len(config.x_train)), device)
    check_memory(
        4 * (config.frames + 1) * config.count * config.points,
        f"{config.frames + 1} snapshots of {config.count} nets at {config.points} points",
        "use fewer --frames, --count or --points",
    )
    ensemble = Ensemble(spec, config.count, seed_of(generator), device=device)
    x_grid = torch.linspace(*config.x_range, config.points, device=device)
    x_train, y_train = data_tensors(config.x_train, config.y_train, device)

    def record(ens: Ensemble, step: int) -> dict[str, np.ndarray]:
        return {"outputs": ens(x_grid).cpu().numpy(), "fitted": ens(x_train).cpu().numpy()}

    trajectory = train_mse(
        ensemble,
        x_train,
        y_train,
        config,
        progress,
        snapshot_at=clock_steps(config.clock, config.steps, config.frames),
        record=record,
    )
    return InitFunctionsResult(
        x_grid=x_grid.cpu().numpy(),
        outputs=trajectory.records["outputs"],
        steps=trajectory.steps,
        loss=trajectory.loss,
        fitted=trajectory.records["fitted"],
        x_train=np.asarray(config.x_train, dtype=np.float32),
        y_train=np.asarray(config.y_train, dtype=np.float32),
    )


class InitFunctionsRenderer(Renderer):
    """All K nets in one muted run colour (they are samples of one random function, not K
    different things), the training data on top; frame 0 is step 0, held ``--hold-first``."""

    frames_of = "steps"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        ax = self.figure.add_subplot()
        function_view(ax, config.xlim, config.ylim, "$f(x, w)$")
        # Both axes end at -4: the lowest y label would sit on the leftmost x label.
        ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", prune="lower"))
        count = r.outputs.shape[1]
        ax.set_title(f"{count} random ReLU nets, width {config.width}, depth {config.depth}")
        # One artist for all K curves: set_segments per frame instead of K Line2D updates.
        # Many translucent lines: where they crowd, the picture darkens (a density). Up to the
        # post's 100 they are opaque: 100 lines 1.5 px wide fill the crowded middle whatever
        # their alpha (at 0.6 it saturated after two), and blended shades of every crossing
        # cost a GIF a third of its bytes (1.55 -> 0.87 MB for 50 frames) for no picture.
        run = style.look("run", style.run_color(0))
        alpha = float(np.clip(10.0 / np.sqrt(count), 0.15, 1.0))
        self.segments = np.empty(r.outputs.shape[1:] + (2,))
        self.segments[..., 0] = r.x_grid
        self.lines = LineCollection(
            self._segments(0),
            colors=run["color"],
            linewidths=0.6 * style.line_width,
            alpha=alpha,
            zorder=run["zorder"],
        )
        ax.add_collection(self.lines)
        (self.dots,) = ax.plot(r.x_train, r.y_train, **style.look("data", ms=4 * style.line_width))
        self.counter = ax.text(
            1.0, 1.01, " ", transform=ax.transAxes, ha="right", va="bottom", fontsize=style.small
        )
        self.animate(self.lines)
        self.overlay(self.dots, self.counter)
        self.order = [0] * config.hold_first + list(range(1, self.count))
        self.key_frame = 0  # the nets at initialisation: the post's still

    def _segments(self, i: int) -> np.ndarray:
        self.segments[..., 1] = self.result.outputs[i]
        return self.segments

    def update(self, i: int) -> bool:
        self.lines.set_segments(self._segments(i))
        self.counter.set_text(f"step {int(self.result.steps[i])}")
        return False


def facts(result: InitFunctionsResult, config: InitFunctionsConfig) -> dict:
    """The caption's numbers: how far the nets are from the data at the start and at the end."""
    residual = np.abs(result.fitted - result.y_train)  # (T, K, N)
    edge = int(np.argmin(np.abs(result.x_grid - config.xlim[1])))  # the view's right edge
    spread = np.ptp(result.outputs[:, :, edge], axis=1)  # (T,): max - min over the nets
    return {
        "count": int(result.outputs.shape[1]),
        "steps": int(result.steps[-1]),
        "start_residual": float(np.median(residual[0].max(axis=1))),
        "end_residual": float(residual[-1].max()),
        "end_loss": float(np.median(result.loss[-1])),
        "edge_x": float(result.x_grid[edge]),
        "start_spread": float(spread[0]),
        "end_spread": float(spread[-1]),
    }


SPEC = figure_spec(
    globals(),
    summary="100 randomly initialised 2-hidden-layer, width-100 ReLU nets, then all 100 trained "
    "by gradient descent on square loss.",
    quick={"frames": 20, "steps_per_frame": 25},
    caption="Step 0 (held, and the still) shows {count} random functions at initialisation: "
    "a typical net misses the farther of the two data points by {start_residual:.2f}. Gradient "
    "descent then bends every net through both points: after {steps} steps no net is more "
    "than {end_residual:.2g} off either point (median training loss {end_loss:.1e}). "
    "Away from the data they still disagree: at x = {edge_x:.2g} the nets span "
    "{end_spread:.1f} in f (at step 0: {start_spread:.1f}).",
    reading="A fan of {count} random functions; trained, all pass through the two data points "
    "(largest miss {end_residual:.2g} after {steps} steps).",
)
