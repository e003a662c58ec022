"""toy-model: the one-parameter model and its tangent line as the output scale alpha grows.

Post: "Varying alpha (the output scaling factor) for our 1-parameter example model evaluated at a
specific x ... the linearization (basically the tangent line) approaches the actual function".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.canvas import Renderer
from ntkviz.config import param
from ntkviz.errors import ConfigError
from ntkviz.figures.base import FigureSpec
from ntkviz.linearize import derivative, tangent_line
from ntkviz.progress import Progress
from ntkviz.toy import toy_model


@dataclass(frozen=True)
class ToyModelConfig:
    frames: int = param(100, "number of frames, one alpha each (log-spaced)", ge=1, le=100_000)
    alpha_min: float = param(1.0, "smallest output scale alpha", gt=0)
    alpha_max: float = param(10 ** (10 / 3), "largest output scale alpha (post: 10^(10/3))", gt=0)
    x: float = param(1.5, "the input at which the model is shown")
    w0: float = param(0.4, "the parameter at initialisation; f(x, w0) = 0")
    w_half_range: float = param(3.0, "view: w in [w0 - r, w0 + r]", gt=0, le=1e6)
    f_limits: tuple[float, ...] = param((-7.0, 7.0), "view: f range, as MIN,MAX", length=2)
    points: int = param(400, "grid points along w", ge=2, le=1_000_000)

    def check(self) -> None:
        check_alpha_range(self.alpha_min, self.alpha_max)
        check_limits("--f-limits", self.f_limits)


def check_alpha_range(alpha_min: float, alpha_max: float) -> None:
    if alpha_min > alpha_max:
        raise ConfigError(
            f"--alpha-min ({alpha_min:g}) must not exceed --alpha-max ({alpha_max:g})"
        )


#: View limits beyond this cannot be drawn (matplotlib cannot place ticks on such a span).
LIMIT_BOUND = 1e12


def check_limits(name: str, limits: tuple[float, ...]) -> None:
    """A view range MIN,MAX: MIN < MAX, both within +-1e12."""
    if not limits[0] < limits[1]:
        raise ConfigError(
            f"{name} must be MIN,MAX with MIN < MAX (got {limits[0]:g},{limits[1]:g})"
        )
    if max(abs(limits[0]), abs(limits[1])) > LIMIT_BOUND:
        raise ConfigError(
            f"{name} must lie within -{LIMIT_BOUND:g} and {LIMIT_BOUND:g} "
            f"(got {limits[0]:g},{limits[1]:g})"
        )


def alpha_schedule(alpha_min: float, alpha_max: float, frames: int) -> np.ndarray:
    """alpha = 10**linspace(log10 alpha_min, log10 alpha_max, frames)."""
    return np.logspace(math.log10(alpha_min), math.log10(alpha_max), frames)


@dataclass(frozen=True)
class ToyModelResult:
    """alphas (F,); w (N,); actual, linearized (F, N): f and its tangent line on the grid;
    slope (F,): f'(w0) by autograd; x, w0: scalars."""

    alphas: np.ndarray
    w: np.ndarray
    actual: np.ndarray
    linearized: np.ndarray
    slope: np.ndarray
    x: float
    w0: float


def simulate(
    config: ToyModelConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> ToyModelResult:
    """The model and its linearisation at w0 (torch autograd, float64) for every alpha."""
    progress = progress or Progress()
    alphas = alpha_schedule(config.alpha_min, config.alpha_max, config.frames)
    w = torch.linspace(
        config.w0 - config.w_half_range,
        config.w0 + config.w_half_range,
        config.points,
        dtype=torch.float64,
    )
    w0 = torch.tensor(config.w0, dtype=torch.float64)
    actual, linear, slope = [], [], []
    with progress.stage("simulate", config.frames) as advance:
        for alpha in alphas:
            model = lambda w_, a=float(alpha): toy_model(w_, config.x, config.w0, a)  # noqa: E731
            actual.append(model(w))
            linear.append(tangent_line(model, w0)(w))
            slope.append(derivative(model, w0))
            advance(1)
    return ToyModelResult(
        alphas=alphas,
        w=w.numpy(),
        actual=torch.stack(actual).numpy(),
        linearized=torch.stack(linear).numpy(),
        slope=torch.stack(slope).numpy(),
        x=config.x,
        w0=config.w0,
    )


class ToyModelRenderer(Renderer):
    @property
    def count(self) -> int:
        return len(self.result.alphas)

    def setup(self) -> None:
        r, config = self.result, self.config
        ax = self.figure.add_subplot()
        ax.set_xlim(r.w0 - config.w_half_range, r.w0 + config.w_half_range)
        ax.set_ylim(*config.f_limits)
        ax.set_xlabel("$w$")
        ax.set_ylabel(f"$f(x={r.x:g}, w)$")
        (self.actual,) = ax.plot(r.w, r.actual[0], color="tab:blue", label="Actual model")
        (self.linear,) = ax.plot(r.w, r.linearized[0], color="tab:red", label="Linearized model")
        ax.plot([r.w0], [0.0], "o", color="tab:green", markersize=12, zorder=5)
        ax.legend(loc="upper left")
        self.title = ax.set_title(" ")
        self.animate(self.actual, self.linear, self.title)
        self.key_frame = self.count - 1

    def update(self, i: int) -> bool:
        self.actual.set_ydata(self.result.actual[i])
        self.linear.set_ydata(self.result.linearized[i])
        self.title.set_text(f"α = {self.result.alphas[i]:.3g}")
        return False


SPEC = FigureSpec(
    name="toy-model",
    summary="The 1-parameter model and its tangent line at w0: the tangent approaches the model as alpha grows.",
    config_cls=ToyModelConfig,
    simulate=simulate,
    renderer=ToyModelRenderer,
    quick={"frames": 20, "points": 200},
    caption="As the output scale alpha grows, the tangent line at w0 (red) hugs the model (blue) "
    "over a wider and wider range of w: the model becomes linear in its parameter.",
)
