"""loss-surface: the normalised loss of the toy model and of its linearisation as alpha grows.

Post: "The normalized losses ... The left and right gifs show the same things, but the right one
also zooms in close to w = 0.4". The linearised loss is a parabola with its minimum at
``w0 + y / f'(w0)``, which closes in on w0 like 1/alpha; the actual loss approaches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from ntkviz.canvas import Renderer, Style
from ntkviz.config import param
from ntkviz.figures.base import FigureSpec
from ntkviz.figures.toy_model import alpha_schedule, check_alpha_range, check_limits
from ntkviz.linearize import derivative, tangent_line
from ntkviz.progress import Progress
from ntkviz.toy import toy_model

VIEWS = ("fixed", "zoom", "both")


@dataclass(frozen=True)
class LossSurfaceConfig:
    frames: int = param(100, "number of frames, one alpha each (log-spaced)", ge=1, le=100_000)
    alpha_min: float = param(1.0, "smallest output scale alpha", gt=0)
    alpha_max: float = param(10 ** (10 / 3), "largest output scale alpha (post: 10^(10/3))", gt=0)
    x: float = param(1.5, "the input of the single data point")
    y: float = param(3.0, "the target of the single data point")
    w0: float = param(0.4, "the parameter at initialisation")
    view: str = param(
        "both",
        "fixed view, zooming view, or both side by side (the post's two gifs)",
        choices=VIEWS,
    )
    w_half_range: float = param(1.5, "fixed view: w in [w0 - r, w0 + r]", gt=0, le=1e6)
    loss_limits: tuple[float, ...] = param(
        (-0.1, 8.0), "fixed view: loss range, as MIN,MAX", length=2
    )
    zoom_w: float = param(
        0.95, "zoom view: the w half-range shrinks by this factor each frame", gt=0, le=1
    )
    zoom_loss: float = param(
        0.91, "zoom view: the loss range shrinks by this factor each frame", gt=0, le=1
    )
    points: int = param(400, "grid points along w", ge=2, le=1_000_000)

    def check(self) -> None:
        check_alpha_range(self.alpha_min, self.alpha_max)
        check_limits("--loss-limits", self.loss_limits)


@dataclass(frozen=True)
class LossSurfaceResult:
    """alphas (F,); w_fixed (N,); actual_fixed, linearized_fixed (F, N): normalised losses on the
    fixed grid; w_zoom (F, N) and actual_zoom, linearized_zoom (F, N): the same on each frame's
    zoomed grid; zoom_loss_limits (F, 2); linear_minimum (F,): w0 + y / f'(w0); x, y, w0."""

    alphas: np.ndarray
    w_fixed: np.ndarray
    actual_fixed: np.ndarray
    linearized_fixed: np.ndarray
    w_zoom: np.ndarray
    actual_zoom: np.ndarray
    linearized_zoom: np.ndarray
    zoom_loss_limits: np.ndarray
    linear_minimum: np.ndarray
    x: float
    y: float
    w0: float


def normalized_loss(f: torch.Tensor, y: float, alpha: float) -> torch.Tensor:
    """(1 / alpha^2) (y - f)^2: the loss scaled so that its size does not grow with alpha."""
    return (y - f) ** 2 / alpha**2


def simulate(
    config: LossSurfaceConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> LossSurfaceResult:
    """Both losses on the fixed grid and on each frame's zoomed grid (torch, float64)."""
    progress = progress or Progress()
    alphas = alpha_schedule(config.alpha_min, config.alpha_max, config.frames)
    f64 = dict(dtype=torch.float64)
    w0 = torch.tensor(config.w0, **f64)
    unit = torch.linspace(-1.0, 1.0, config.points, **f64)
    w_fixed = config.w0 + config.w_half_range * unit
    shrink = np.arange(config.frames)
    zoom_half = config.w_half_range * config.zoom_w**shrink
    zoom_loss = np.outer(config.zoom_loss**shrink, np.asarray(config.loss_limits))
    out = {
        k: []
        for k in (
            "actual_fixed",
            "linearized_fixed",
            "w_zoom",
            "actual_zoom",
            "linearized_zoom",
            "linear_minimum",
        )
    }
    with progress.stage("simulate", config.frames) as advance:
        for i, alpha in enumerate(alphas):
            alpha = float(alpha)
            model = lambda w_, a=alpha: toy_model(w_, config.x, config.w0, a)  # noqa: E731
            model_lin = tangent_line(model, w0)
            w_zoom = config.w0 + float(zoom_half[i]) * unit
            out["w_zoom"].append(w_zoom)
            for grid, key in ((w_fixed, "fixed"), (w_zoom, "zoom")):
                out[f"actual_{key}"].append(normalized_loss(model(grid), config.y, alpha))
                out[f"linearized_{key}"].append(normalized_loss(model_lin(grid), config.y, alpha))
            out["linear_minimum"].append(w0 + config.y / derivative(model, w0))
            advance(1)
    arrays = {k: torch.stack(v).numpy() for k, v in out.items()}
    return LossSurfaceResult(
        alphas=alphas,
        w_fixed=w_fixed.numpy(),
        zoom_loss_limits=zoom_loss,
        x=config.x,
        y=config.y,
        w0=config.w0,
        **arrays,
    )


class LossSurfaceRenderer(Renderer):
    @property
    def count(self) -> int:
        return len(self.result.alphas)

    def setup(self) -> None:
        r, config = self.result, self.config
        views = ("fixed", "zoom") if config.view == "both" else (config.view,)
        self.panels = []
        for k, view in enumerate(views):
            ax = self.figure.add_subplot(1, len(views), k + 1)
            w = r.w_fixed if view == "fixed" else r.w_zoom[0]
            (actual,) = ax.plot(w, r.actual_fixed[0], color="tab:blue", label="Actual loss")
            (linear,) = ax.plot(w, r.linearized_fixed[0], color="tab:red", label="Linearized loss")
            ax.plot([r.w0], [0.0], "o", color="tab:green", markersize=12, zorder=5)
            ax.set_xlim(w[0], w[-1])
            ax.set_ylim(*config.loss_limits)
            ax.set_xlabel("$w$" if view == "fixed" else "$w$, zooming in on $w_0$")
            if k == 0:
                ax.set_ylabel(r"$(y - f(x, w))^2 / \alpha^2$")
                ax.legend(loc="upper left")
            if view == "zoom":
                ax.xaxis.set_major_locator(MaxNLocator(4))
                ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
            # The zoom view changes its ticks every frame: the whole axes is redrawn over the
            # blitted background; the fixed view only redraws its two lines.
            self.animate(*((ax,) if view == "zoom" else (actual, linear)))
            self.panels.append((view, ax, actual, linear))
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        self.key_frame = self.count - 1

    def update(self, i: int) -> bool:
        r = self.result
        for view, ax, actual, linear in self.panels:
            if view == "fixed":
                actual.set_ydata(r.actual_fixed[i])
                linear.set_ydata(r.linearized_fixed[i])
            else:
                actual.set_data(r.w_zoom[i], r.actual_zoom[i])
                linear.set_data(r.w_zoom[i], r.linearized_zoom[i])
                ax.set_xlim(r.w_zoom[i, 0], r.w_zoom[i, -1])
                ax.set_ylim(*r.zoom_loss_limits[i])
        self.title.set_text(f"Normalized loss, α = {r.alphas[i]:.3g}")
        return False


SPEC = FigureSpec(
    name="loss-surface",
    summary="The normalised loss of the toy model and of its linearisation (a parabola); "
    "the right view zooms in on w0.",
    config_cls=LossSurfaceConfig,
    simulate=simulate,
    renderer=LossSurfaceRenderer,
    style=Style(size=(16.0, 7.0)),
    quick={"frames": 20, "points": 200},
    caption="The linearised loss (red) is a parabola whose minimum closes in on w0 like 1/alpha; "
    "the actual loss (blue) approaches it as alpha grows. The zoom view follows w0.",
)
