"""loss-surface: the normalised loss of the toy model and of its linearisation as alpha grows.

Post: "The normalized losses ... The left and right gifs show the same things, but the right one
also zooms in close to w = 0.4". The linearised loss is a parabola with its minimum at
``w0 + y / f'(w0)``, which closes in on w0 like 1/alpha. The zoom view follows it exactly: its
window is w0 + u / alpha for a fixed range of u = alpha (w - w0), and it shows alpha^2 times the
normalised loss, (y - alpha f)^2; on those axes the linearised loss is one fixed parabola, and the
actual loss approaches it as alpha grows. Far from w0 (the fixed view) the two stay different.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.config import param
from ntkviz.drawing.axes import steady_labels, stepped_top
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    AlphaFrames,
    alpha_schedule,
    check_alpha_range,
    check_ranges,
    key_alpha_frame,
    log_log_fit,
    slope_text,
)
from ntkviz.numerics.linearize import derivative, tangent_line
from ntkviz.numerics.toy import toy_model
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

VIEWS = ("fixed", "zoom", "both")


@dataclass(frozen=True)
class LossSurfaceConfig(AlphaFrames):
    x: float = param(1.5, "the input of the single data point")
    y: float = param(3.0, "the target of the single data point")
    w0: float = param(0.4, "the parameter at initialisation")
    view: str = param(
        "both",
        "fixed view, zooming view, or both side by side (the post's two gifs)",
        choices=VIEWS,
    )
    w_half_range: float = param(1.0, "fixed view: w in [w0 - r, w0 + r]", gt=0, le=1e6)
    loss_limits: tuple[float, ...] = param(
        (-0.5, 16.0),
        "loss range, as MIN,MAX: of alpha^2 times the normalised loss (zoom view), and the widest "
        "of the normalised loss (fixed view: it fits the parabola of each frame inside it)",
        length=2,
    )
    zoom_range: tuple[float, ...] = param(
        (-1.0, 2.5),
        "zoom view: alpha (w - w0) range, as MIN,MAX (the window w0 + [MIN, MAX] / alpha follows "
        "the linearised minimum in to w0 like 1/alpha)",
        length=2,
    )
    points: int = param(400, "grid points along w", ge=2, le=1_000_000)

    def check(self) -> None:
        check_alpha_range(self.alpha_min, self.alpha_max)
        check_ranges(self, "loss_limits", "zoom_range")


@dataclass(frozen=True)
class LossSurfaceResult:
    """alphas (F,); w_fixed (N,); actual_fixed, linearized_fixed (F, N): normalised losses on the
    fixed grid; u_zoom (N,): the zoom grid of alpha (w - w0); w_zoom (F, N): w0 + u_zoom / alpha;
    actual_zoom, linearized_zoom (F, N): alpha^2 times the normalised losses, (y - alpha f)^2, on
    that grid; linear_minimum (F,): w0 + y / f'(w0); x, y, w0."""

    alphas: np.ndarray
    w_fixed: np.ndarray
    actual_fixed: np.ndarray
    linearized_fixed: np.ndarray
    u_zoom: np.ndarray
    w_zoom: np.ndarray
    actual_zoom: np.ndarray
    linearized_zoom: np.ndarray
    linear_minimum: np.ndarray
    x: float
    y: float
    w0: float


def normalized_loss(f: torch.Tensor, y: float, alpha: float) -> torch.Tensor:
    """(1 / alpha^2) (y - f)^2: the loss scaled so that its size does not grow with alpha."""
    return (y - f) ** 2 / alpha**2


@numeric
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
    u_zoom = torch.linspace(*config.zoom_range, config.points, **f64)
    keys = ("actual_fixed", "linearized_fixed", "w_zoom", "actual_zoom", "linearized_zoom")
    out = {k: [] for k in (*keys, "linear_minimum")}
    with progress.stage("simulate", config.frames) as advance:
        for alpha in alphas:
            alpha = float(alpha)
            model = lambda w_, a=alpha: toy_model(w_, config.x, config.w0, a)  # noqa: E731
            model_lin = tangent_line(model, w0)
            w_zoom = config.w0 + u_zoom / alpha
            out["w_zoom"].append(w_zoom)
            for grid, key, scale in ((w_fixed, "fixed", 1.0), (w_zoom, "zoom", alpha**2)):
                out[f"actual_{key}"].append(scale * normalized_loss(model(grid), config.y, alpha))
                out[f"linearized_{key}"].append(
                    scale * normalized_loss(model_lin(grid), config.y, alpha)
                )
            out["linear_minimum"].append(w0 + config.y / derivative(model, w0))
            advance(1)
    arrays = {k: torch.stack(v).numpy() for k, v in out.items()}
    return LossSurfaceResult(
        alphas=alphas,
        w_fixed=w_fixed.numpy(),
        u_zoom=u_zoom.numpy(),
        x=config.x,
        y=config.y,
        w0=config.w0,
        **arrays,
    )


def minimum_slope(result: LossSurfaceResult) -> float:
    """Log-log slope of the linearised minimum's distance to w0 against alpha (theory: -1)."""
    return log_log_fit(result.alphas, np.abs(result.linear_minimum - result.w0))[0]


def zoom_gap(result: LossSurfaceResult) -> np.ndarray:
    """(F,): the largest |actual - linearised| in the zoom window, as a share of the largest
    linearised loss there."""
    gap = np.abs(result.actual_zoom - result.linearized_zoom).max(axis=1)
    return gap / np.abs(result.linearized_zoom).max(axis=1)


def facts(result: LossSurfaceResult, config: LossSurfaceConfig) -> dict:
    distance = np.abs(result.linear_minimum - result.w0)
    gap = zoom_gap(result)
    return {
        "y": result.y,
        "alpha_min": float(result.alphas[0]),
        "alpha_max": float(result.alphas[-1]),
        "minimum_first": float(distance[0]),
        "minimum_last": float(distance[-1]),
        "minimum_slope": minimum_slope(result),
        "minimum_slope_text": slope_text(
            minimum_slope(result), ".2f", "none from a single alpha; theory -1"
        ),
        "zoom_gap_first": float(gap[0]),
        "zoom_gap_last": float(gap[-1]),
    }


#: The fixed view's room above the parabola's top (a share of it) before the next zoom step.
FIXED_MARGIN = 0.04


class LossSurfaceRenderer(Renderer):
    frames_of = "alphas"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        actual_color, linear_color = style.run_colors(2)
        views = ("fixed", "zoom") if config.view == "both" else (config.view,)
        landmark = style.look("landmark")
        self.panels = []
        for k, view in enumerate(views):
            ax = self.figure.add_subplot(1, len(views), k + 1)
            x = r.w_fixed if view == "fixed" else r.u_zoom
            first = (
                (r.actual_fixed, r.linearized_fixed)
                if view == "fixed"
                else (
                    r.actual_zoom,
                    r.linearized_zoom,
                )
            )
            (actual,) = ax.plot(
                x, first[0][0], **style.look("run", actual_color), label="actual loss"
            )
            (linear,) = ax.plot(
                x,
                first[1][0],
                **style.look("linear", linear_color),
                label="linearised loss (a parabola)",
            )
            (origin,) = ax.plot(
                [r.w0 if view == "fixed" else 0.0], [0.0], **landmark, label="$w_0$"
            )
            ax.set_xlim(x[0], x[-1])
            ax.set_ylim(*(self._fixed_view(0) if view == "fixed" else config.loss_limits))
            if view == "fixed":
                steady_labels(ax.yaxis)
                ax.set_xlabel("$w$")
                ax.set_ylabel(r"$(y - \alpha f(x, w))^2/\alpha^2$")
                ax.set_title("normalised loss", fontsize=style.small)
            else:
                ax.set_xlabel(r"$\alpha\,(w - w_0)$: zoomed in on $w_0$ like $1/\alpha$")
                ax.set_ylabel(r"$(y - \alpha f(x, w))^2$")
                ax.set_title(r"$\alpha^2\times$ normalised loss", fontsize=style.small)
            self.overlay(origin)
            if k == len(views) - 1:
                where = "upper right" if view == "zoom" else "upper center"
                self.overlay(ax.legend(loc=where, **style.legend()))
            self.animate(actual, linear)
            self.panels.append((view, ax, actual, linear))
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        self.key_frame = key_alpha_frame(r.alphas)

    def _fixed_view(self, i: int) -> tuple[float, float]:
        """The fixed view's loss range at frame ``i``: the whole parabola on the grid (and 0),
        within --loss-limits. The parabola flattens as alpha grows (its largest value there
        falls from ~22 to ~3 at the defaults); the view follows in zoom steps (a top of 1, 2 or 5
        times a power of ten, the parabola filling at least 40 % of it: at the defaults 16, 10,
        then 5), so the two minima near w0 do not sink into the panel's bottom few per cent and
        the reader sees the parabola flatten, not the axis rescale every frame. Loss 0 sits
        1/17 of the view above its bottom. The actual loss may run off the top."""
        limits = tuple(self.config.loss_limits)
        parabola = self.result.linearized_fixed[i]
        highest = float(np.max(parabola[np.isfinite(parabola)], initial=0.0))
        top = min(stepped_top(max(highest * (1 + FIXED_MARGIN), 1e-9)), limits[1])
        low = max(-top / 16, limits[0])
        return (low, top) if low < top else limits

    def update(self, i: int) -> bool:
        r = self.result
        moved = False
        for view, ax, actual, linear in self.panels:
            if view == "fixed":
                fitted = self._fixed_view(i)
                moved = ax.get_ylim() != fitted
                ax.set_ylim(*fitted)
                actual.set_ydata(r.actual_fixed[i])
                linear.set_ydata(r.linearized_fixed[i])
            else:
                actual.set_ydata(r.actual_zoom[i])
                linear.set_ydata(r.linearized_zoom[i])
        # plain text, not mathtext: a title that changes every frame would be parsed anew
        text = f"α = {r.alphas[i]:.4g}: linearised minimum at w₀ + {r.linear_minimum[i] - r.w0:.2g}"
        if any(view == "zoom" for view, *_ in self.panels):
            low, high = r.w_zoom[i, 0] - r.w0, r.w_zoom[i, -1] - r.w0
            text += f"; zoom: w₀ {low:+.2g} to {high:+.2g}"
        self.title.set_text(text)
        return moved  # a new view on the left: its axes drawn again


SPEC = figure_spec(
    globals(),
    summary="The normalised loss of the toy model and of its linearisation (a parabola); "
    "the right view zooms in on w0 like 1/alpha.",
    style=Style(size=(16.0, 7.0)),
    quick={"frames": 20, "points": 200},
    caption="The loss of one data point (target y = {y:g}) for the post's model (solid) and for "
    "its tangent-line linearisation at w0 (dashed), as the output scale alpha grows from "
    "{alpha_min:.3g} to {alpha_max:.4g}. Left, normalised by 1/alpha^2 on a fixed range of w: the "
    "linearised loss is a parabola whose minimum, at w0 + {minimum_first:.3g} for alpha = "
    "{alpha_min:.3g}, closes in on w0 like 1/alpha (log-log slope {minimum_slope_text}; "
    "w0 + {minimum_last:.2g} at the end); away from w0 the actual loss keeps its own shape. "
    "Right, zoomed in on w0 like 1/alpha (w - w0 in units of 1/alpha, loss times alpha^2): the "
    "parabola stays put and the actual loss closes in on it, the largest gap between them in this "
    "window falling from {zoom_gap_first:.3g} times the parabola's largest value there to "
    "{zoom_gap_last:.2%} of it.",
    reading="Near w0 the actual loss turns into the linearised parabola as alpha grows (zoomed "
    "gap {zoom_gap_last:.2%} at alpha = {alpha_max:.4g}), whose minimum closes in on w0 with "
    "log-log slope {minimum_slope_text}.",
)
