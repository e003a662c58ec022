"""toy-model: the one-parameter model and its tangent line as the output scale alpha grows.

Post: "Varying alpha (the output scaling factor) for our 1-parameter example model evaluated at a
specific x ... the linearization (basically the tangent line) approaches the actual function".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.config import param
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    AlphaFrames,
    alpha_schedule,
    check_alpha_range,
    check_ranges,
    key_alpha_frame,
    log_log_fit,
)
from ntkviz.numerics.linearize import derivative, tangent_line
from ntkviz.numerics.toy import toy_model
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric


@dataclass(frozen=True)
class ToyModelConfig(AlphaFrames):
    x: float = param(1.5, "the input at which the model is shown")
    w0: float = param(0.4, "the parameter at initialisation; f(x, w0) = 0")
    w_half_range: float = param(
        1.0,
        "view: w in [w0 - r/alpha, w0 + r/alpha], i.e. alpha (w - w0) in [-r, r] (the window "
        "shrinks like 1/alpha, so the tangent spans the same range of alpha f at every alpha)",
        gt=0,
        le=1e6,
    )
    f_limits: tuple[float, ...] = param((-2.5, 6.5), "view: alpha f range, as MIN,MAX", length=2)
    points: int = param(400, "grid points along w", ge=2, le=1_000_000)

    def check(self) -> None:
        check_alpha_range(self.alpha_min, self.alpha_max)
        check_ranges(self, "f_limits")


@dataclass(frozen=True)
class ToyModelResult:
    """alphas (F,); u (N,): the grid of alpha (w - w0), the same at every alpha; w (F, N): each
    frame's grid w0 + u / alpha; actual, linearized (F, N): the scaled output alpha f(x, w) and its
    tangent line at w0 on that grid; slope (F,): d(alpha f)/dw at w0 by autograd; deviation (F,):
    the largest |actual - linearized| over the grid; x, w0, reach (the r of the view): scalars."""

    alphas: np.ndarray
    u: np.ndarray
    w: np.ndarray
    actual: np.ndarray
    linearized: np.ndarray
    slope: np.ndarray
    deviation: np.ndarray
    x: float
    w0: float
    reach: float


@numeric
def simulate(
    config: ToyModelConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> ToyModelResult:
    """The model and its linearisation at w0 (torch autograd, float64) for every alpha, on the
    window w0 +- r / alpha (the same grid of alpha (w - w0) for every alpha)."""
    progress = progress or Progress()
    alphas = alpha_schedule(config.alpha_min, config.alpha_max, config.frames)
    u = torch.linspace(
        -config.w_half_range, config.w_half_range, config.points, dtype=torch.float64
    )
    w0 = torch.tensor(config.w0, dtype=torch.float64)
    grids, actual, linear, slope = [], [], [], []
    with progress.stage("simulate", config.frames) as advance:
        for alpha in alphas:
            model = lambda w_, a=float(alpha): toy_model(w_, config.x, config.w0, a)  # noqa: E731
            w = config.w0 + u / float(alpha)
            grids.append(w)
            actual.append(model(w))
            linear.append(tangent_line(model, w0)(w))
            slope.append(derivative(model, w0))
            advance(1)
    actual_np, linear_np = torch.stack(actual).numpy(), torch.stack(linear).numpy()
    return ToyModelResult(
        alphas=alphas,
        u=u.numpy(),
        w=torch.stack(grids).numpy(),
        actual=actual_np,
        linearized=linear_np,
        slope=torch.stack(slope).numpy(),
        deviation=np.abs(actual_np - linear_np).max(axis=1),
        x=config.x,
        w0=config.w0,
        reach=config.w_half_range,
    )


def gap_slope(result: ToyModelResult) -> float:
    """The log-log slope of the largest model-to-tangent gap against alpha (theory: -1)."""
    return log_log_fit(result.alphas, result.deviation)[0]


def facts(result: ToyModelResult, config: ToyModelConfig) -> dict:
    span = float(np.abs(result.linearized[-1]).max())
    key = key_alpha_frame(result.alphas)
    return {
        "key_alpha": float(result.alphas[key]),
        "gap_key": float(result.deviation[key]),
        "x": result.x,
        "reach": result.reach,
        "alpha_min": float(result.alphas[0]),
        "alpha_max": float(result.alphas[-1]),
        "gap_first": float(result.deviation[0]),
        "gap_last": float(result.deviation[-1]),
        "gap_last_relative": float(result.deviation[-1]) / span if span > 0 else float("nan"),
        "gap_slope": gap_slope(result),
    }


class ToyModelRenderer(Renderer):
    """Left: alpha f and its tangent against alpha (w - w0); right: the largest gap between them
    against alpha (log-log), drawn up to the current alpha."""

    frames_of = "alphas"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        model_color, tangent_color, gap_color = style.run_colors(3)
        ax, gap = self.figure.subplots(1, 2, width_ratios=(1.35, 1))
        ax.set_xlim(-r.reach, r.reach)
        ax.set_ylim(*config.f_limits)
        ax.set_xlabel(r"$\alpha\,(w - w_0)$: $w$ in units of $1/\alpha$")
        ax.set_ylabel(rf"$\alpha f(x{{=}}{r.x:g}, w)$")
        ax.plot(
            r.u,
            r.actual[0],
            **style.look("initial", model_color),
            label=rf"model at $\alpha$ = {r.alphas[0]:.3g}",
        )
        (self.actual,) = ax.plot(
            r.u, r.actual[0], **style.look("run", model_color), label="model, now"
        )
        (self.linear,) = ax.plot(
            r.u, r.linearized[0], **style.look("linear", tangent_color), label="tangent at $w_0$"
        )
        (origin,) = ax.plot([0.0], [0.0], **style.look("landmark"), label="$w_0$")
        legend = ax.legend(loc="upper left", **style.legend())
        self.overlay(origin, legend)

        gap.set_xscale("log")
        gap.set_yscale("log")
        low, high = float(r.alphas.min()), float(r.alphas.max())
        gap.set_xlim(low / 1.3, high * 1.3) if high > low else gap.set_xlim(low / 2, low * 2)
        positive = r.deviation[r.deviation > 0]
        if positive.size:
            gap.set_ylim(positive.min() / 2, positive.max() * 2)
        gap.set_xlabel(r"output scale $\alpha$")
        gap.set_ylabel(r"largest $|\,$model $-$ tangent$\,|$")
        (self.gap_line,) = gap.plot([], [], **style.look("run", gap_color))
        (self.gap_now,) = gap.plot([], [], **style.look("now", gap_color))
        self.title = self.figure.suptitle(" ")
        self.animate(self.actual, self.linear, self.gap_line, self.gap_now, self.title)
        self.key_frame = key_alpha_frame(r.alphas)

    def update(self, i: int) -> bool:
        r = self.result
        self.actual.set_ydata(r.actual[i])
        self.linear.set_ydata(r.linearized[i])
        self.gap_line.set_data(r.alphas[: i + 1], r.deviation[: i + 1])
        self.gap_now.set_data([r.alphas[i]], [r.deviation[i]])
        # plain text, not mathtext: a title that changes every frame would be parsed anew
        self.title.set_text(
            f"α = {r.alphas[i]:.4g}: the view spans w = {r.w0:g} ± {r.reach / r.alphas[i]:.2g}"
        )
        return False


SPEC = figure_spec(
    globals(),
    summary="The 1-parameter model and its tangent line at w0: the tangent approaches the model as alpha grows.",
    style=Style(size=(16.0, 7.0)),
    quick={"frames": 20, "points": 200},
    caption="Left: the post's one-parameter model, scaled by alpha (solid, alpha f(x={x:g}, w)), "
    "and its tangent line at w0 (dashed), against alpha (w - w0), that is w measured in units "
    "of 1/alpha around w0: the view covers w0 +- {reach:g}/alpha, a window that shrinks like "
    "1/alpha. On these axes the tangent stays put, and as alpha grows from {alpha_min:.3g} to "
    "{alpha_max:.4g} the model straightens onto it (faint: the model at alpha = {alpha_min:.3g}). "
    "Right: the largest gap between model and tangent in the view, from {gap_first:.3g} down to "
    "{gap_last:.2g} ({gap_last_relative:.2%} of the tangent's range), a log-log slope of "
    "{gap_slope:.2f}: it falls like 1/alpha.",
    reading="At alpha = {key_alpha:.3g} (the still) the model lies much closer to its tangent "
    "than at alpha = {alpha_min:.3g} (faint curve): largest gap {gap_key:.2g} against "
    "{gap_first:.3g}; the gap falls with log-log slope {gap_slope:.2f}, to {gap_last_relative:.2%} "
    "of the tangent's range at alpha = {alpha_max:.4g}.",
)
