"""What several figures share: view-limit and data checks, the run's seed, training tensors,
target functions, the alpha schedule, one log-log fit, caption text and the Config fields that
several figures declare alike.

A figure imports from here (and base, numerics, drawing), never from another figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ntkviz.config import check_frames, option_name, param
from ntkviz.errors import ConfigError
from ntkviz.numerics import curvature
from ntkviz.numerics.dynamics import Trajectory, train
from ntkviz.numerics.nets import INITS, Ensemble, NetSpec
from ntkviz.numerics.ntk_analytic import ANALYTIC_ACTIVATIONS
from ntkviz.numerics.ntk_empirical import MseGradient
from ntkviz.runtime.progress import Progress

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


def check_ranges(config: Any, *fields: str) -> None:
    """:func:`check_limits` on each of the config's MIN,MAX ``fields``, named as their options."""
    for name in fields:
        check_limits(option_name(name), getattr(config, name))


def check_data(x_train: tuple[float, ...], y_train: tuple[float, ...]) -> None:
    """One training target per training input."""
    if len(x_train) != len(y_train):
        raise ConfigError(
            f"--x-train has {len(x_train)} value(s) but --y-train has {len(y_train)}: "
            f"give one target per input"
        )


def check_distinct(x_train: tuple[float, ...]) -> None:
    """No training input twice: the kernel matrix Theta(X, X) on them would be singular."""
    if len(set(x_train)) != len(x_train):
        raise ConfigError(
            f"--x-train has the input {repeated(x_train):g} twice: the kernel matrix "
            f"Theta(X, X) would be singular; give distinct inputs"
        )


#: The most training points given to a figure of :class:`OwnData`.
MAX_OWN_POINTS = 1000


@dataclass(frozen=True)
class OwnData:
    """The fields of a figure that trains on its spaced inputs and target function, or on
    points given (``--x-train``/``--y-train``, or ``--train-data FILE``)."""

    x_train: tuple[float, ...] = param(
        (), "explicit training inputs (replace --n-train, --x-span and --target)", min_length=0
    )
    y_train: tuple[float, ...] = param(
        (), "explicit training targets, one per --x-train input", min_length=0
    )

    def check_own(self) -> None:
        if bool(self.x_train) != bool(self.y_train):
            raise ConfigError("--x-train and --y-train go together: one target per input")
        if len(self.x_train) > MAX_OWN_POINTS:
            raise ConfigError(
                f"--x-train has {len(self.x_train)} points: at most {MAX_OWN_POINTS} (the "
                "kernel matrices are N x N)"
            )
        check_data(self.x_train, self.y_train)
        check_distinct(self.x_train)

    def training(self, spaced: np.ndarray, target: Any) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y), float64: the points given (in order of x), else ``spaced`` inputs and their
        ``target``."""
        if self.x_train:
            order = np.argsort(self.x_train, kind="stable")
            return np.asarray(self.x_train)[order], np.asarray(self.y_train)[order]
        return spaced, np.asarray(target(spaced), dtype=np.float64)


def check_alpha_range(alpha_min: float, alpha_max: float) -> None:
    if alpha_min > alpha_max:
        raise ConfigError(
            f"--alpha-min ({alpha_min:g}) must not exceed --alpha-max ({alpha_max:g})"
        )


def alpha_schedule(alpha_min: float, alpha_max: float, frames: int) -> np.ndarray:
    """alpha = 10**linspace(log10 alpha_min, log10 alpha_max, frames)."""
    return np.logspace(math.log10(alpha_min), math.log10(alpha_max), frames)


@dataclass(frozen=True)
class AlphaFrames:
    """The first Config fields of the one-parameter model's figures, which draw one frame per
    output scale alpha (:func:`alpha_schedule`); a subclass's own fields follow them."""

    frames: int = param(100, "number of frames, one alpha each (log-spaced)", ge=1, le=100_000)
    alpha_min: float = param(1.0, "smallest output scale alpha", gt=0)
    alpha_max: float = param(10 ** (10 / 3), "largest output scale alpha (post: 10^(10/3))", gt=0)


def key_alpha_frame(alphas: np.ndarray, target: float = 10.0) -> int:
    """The frame whose alpha is closest to ``target`` on a log scale: the model is visibly still
    bending there, yet already much closer to its tangent than at alpha = 1."""
    return int(np.argmin(np.abs(np.log10(alphas) - np.log10(target))))


def spaced_inputs(span: tuple[float, ...], count: int) -> np.ndarray:
    """``count`` equally spaced training inputs over ``span`` (MIN,MAX); one: its midpoint."""
    if count == 1:
        return np.array([0.5 * (span[0] + span[1])])
    return np.linspace(span[0], span[1], count)


#: Config fields that describe a net's architecture, named as :class:`NetSpec` names them.
ARCHITECTURE = ("depth", "activation", "bias", "init")
#: ... and with the output and parameterisation fields: all a config can say about its nets.
NET_FIELDS = (*ARCHITECTURE, "zero_output", "parameterization", "sigma_w", "sigma_b")


def net_spec(config: Any, width: int, *fields: str, **fixed: Any) -> NetSpec:
    """The :class:`NetSpec` of a net of this ``width``: the config's ``fields`` (NetSpec's
    names) and the ``fixed`` values the figure sets itself."""
    return NetSpec(width=width, **{name: getattr(config, name) for name in fields}, **fixed)


def function_view(
    ax, x_limits: tuple[float, ...], y_limits: tuple[float, ...], ylabel: str
) -> None:
    """A panel of functions of x: its view (x and y ranges, MIN,MAX) and axis labels."""
    ax.set_xlim(*x_limits)
    ax.set_ylim(*y_limits)
    ax.set_xlabel("$x$")
    ax.set_ylabel(ylabel)


def seed_of(generator: torch.Generator | None) -> int:
    """The run's seed: ensemble member k's weights come from (seed, k)."""
    return 0 if generator is None else int(generator.initial_seed())


def data_tensors(x_train, y_train, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The training inputs and targets as float32 tensors on ``device``."""
    return (
        torch.tensor(x_train, dtype=torch.float32, device=device),
        torch.tensor(y_train, dtype=torch.float32, device=device),
    )


#: Target functions y = target(x) of the training points, by --target name.
TARGETS = {
    "sin": np.sin,
    "cos": np.cos,
    "abs": lambda x: np.abs(x) - 1.0,
    "step": lambda x: np.where(x >= 0, 1.0, -1.0),
}


def log_log_fit(x: np.ndarray, y: np.ndarray, log=np.log10) -> tuple[float, float]:
    """Least-squares (slope, intercept) of log y = slope log x + intercept, both (N,); ``log``:
    np.log10 (the intercept in decades) or np.log (the same slope, the intercept in e-folds).

    Points with x <= 0, y <= 0 or y not finite are left out; NaN when fewer than two distinct x
    remain.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = (x > 0) & (y > 0) & np.isfinite(y)
    if np.unique(x[keep]).size < 2:
        return math.nan, math.nan
    slope, intercept = np.polyfit(log(x[keep]), log(y[keep]), 1)
    return float(slope), float(intercept)


def train_mse(
    nets: Ensemble,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    config: Any,
    progress: Progress | None,
    **options: Any,
) -> Trajectory:
    """Full-batch gradient descent on the MSE (its hand-written gradient) for the config's
    ``steps`` at its ``lr``; ``options`` go to :func:`ntkviz.numerics.dynamics.train`
    (snapshot_every, record, stop_below, label)."""
    return train(
        nets,
        x_train,
        y_train,
        lr=config.lr,
        steps=config.steps,
        progress=progress,
        gradient=MseGradient(),
        **options,
    )


def rms(values: np.ndarray, where: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Root mean square over the last axis, over its entries where ``where`` holds."""
    return np.sqrt(np.mean(values[..., where] ** 2, axis=-1))


def between_data(x: np.ndarray, x_train: np.ndarray) -> np.ndarray:
    """Which points of ``x`` lie between the smallest and the largest training input; all of
    them when none does (one training point, or a grid that misses the data)."""
    between = (x >= x_train.min()) & (x <= x_train.max())
    return between if between.any() else np.ones_like(between)


def kernel_options(config: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`ntkviz.numerics.ntk_analytic.infinite_ntk` for the config's
    nets: its depth, activation, sigma_w, sigma_b and bias."""
    return dict(
        depth=config.depth,
        activation=config.activation,
        sigma_w=config.sigma_w,
        sigma_b=config.sigma_b,
        bias=config.bias,
    )


def by_width_text(widths: np.ndarray, values: np.ndarray) -> str:
    """'0.043 (width 100) and 0.017 (width 1000)'."""
    return listed([f"{v:.2g} (width {int(w)})" for w, v in zip(widths, values, strict=True)])


def listed(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def repeated(values: Sequence[float]) -> float:
    """The first value that ``values`` holds twice (ValueError when none is)."""
    seen: set[float] = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    raise ValueError("no repeated value")


# Config fields that several figures declare alike: each option's help and bounds stated once,
# its default (where the figures differ) given where the field is declared.


def analytic_activation() -> Any:
    """--activation of nets whose infinite-width kernel has a closed form (relu, erf)."""
    return param(
        "relu",
        "activation (with a closed-form infinite-width kernel)",
        choices=ANALYTIC_ACTIVATIONS,
    )


def snapshot_frames(default: int) -> Any:
    """--frames of a training run drawn one snapshot a frame."""
    return param(
        default, "number of frames: a snapshot after every steps/frames steps", ge=1, le=100_000
    )


def ensemble_widths(default: tuple[int, ...]) -> Any:
    """--widths of figures that train one ensemble per width."""
    return param(default, "hidden widths, one ensemble each", ge=1, le=100_000)


def fan_in_init() -> Any:
    """--init of the post's nets, its two fan-in scaled draws spelt out."""
    return param(
        "pytorch",
        "initialisation: nn.Linear's default U(+-1/sqrt(fan_in)) or LeCun N(0, 1/fan_in)",
        choices=INITS,
    )


def curvature_activation() -> Any:
    """--activation of the one-hidden-layer nets of :mod:`ntkviz.numerics.curvature`."""
    return param(
        "tanh", "the activation phi: " + curvature.ACTIVATION_HELP, choices=curvature.ACTIVATIONS
    )


# -- the time axis ---------------------------------------------------------------------------------

#: How an animation samples training time: ``log`` spaces its snapshots evenly in log time
#: (steps 0, 1, 2, 3, ... while log spacing would repeat a step, then a constant ratio to the
#: end: the NTK story happens over decades of steps, so every second of the loop shows
#: something); ``linear`` is the post's clock (a snapshot every steps / frames steps).
CLOCKS = ("log", "linear")


def clock_param(default: str = "log") -> Any:
    """The ``--clock`` option of a figure that animates training time."""
    return param(
        default,
        "training time axis: log (snapshots spaced evenly in log time: steps 0, 1, 2, 3, ... "
        "then a constant ratio to the end) or linear (the post's clock: one every steps/frames "
        "steps)",
        choices=CLOCKS,
    )


def check_clock(clock: str, frames: int, steps: int) -> None:
    """The frames fit the steps: at most one a step; the linear clock also needs ``frames`` to
    divide ``steps`` (evenly spaced snapshots)."""
    if clock == "linear":
        check_frames(frames, steps)
    elif frames > steps:
        raise ConfigError(f"--frames ({frames}) must not exceed --steps ({steps})")


def clock_frames(default: int) -> Any:
    """--frames of a training run drawn one snapshot a frame, the snapshots spaced by --clock."""
    return param(
        default, "number of frames after step 0 (snapshots, spaced by --clock)", ge=1, le=100_000
    )


# Numbers a caption states: a fitted slope that may not exist, and a spread over seeds.


def slope_text(
    slope: float, fmt: str = "+.2f", absent: str = "no slope: fewer than two points to fit"
) -> str:
    """``slope`` as the caption prints it, or ``absent`` (what holds instead) where it is NaN."""
    return f"{slope:{fmt}}" if math.isfinite(slope) else absent


def spread(values: Sequence[float]) -> tuple[float, float, float, int]:
    """(median, min, max, count) of the finite ``values``; NaNs and count 0 when none is."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan, math.nan, 0
    return float(np.median(finite)), float(finite.min()), float(finite.max()), int(finite.size)


def spread_text(
    center: float, values: Sequence[float], fmt: str = "+.2f", over: str = "seeds"
) -> str:
    """'-0.99 (-1.02 to -0.97 over 5 seeds)': ``center`` (the figure's number) and the range of
    the same number over independent draws ``values``; the range is left out with fewer than two
    draws."""
    _, low, high, count = spread(values)
    if not math.isfinite(center):
        return "undefined"
    if count < 2:
        return f"{center:{fmt}}"
    return f"{center:{fmt}} ({low:{fmt}} to {high:{fmt}} over {count} {over})"


def verdict(values: Sequence[float], theory: float, theory_text: str) -> str:
    """'consistent with theory -1/2' when ``theory`` lies within the range of ``values`` (over
    seeds), else a plain statement that it does not."""
    _, low, high, count = spread(values)
    if count < 2:
        return f"theory {theory_text}; one draw, so no spread to compare it with"
    if low <= theory <= high:
        return f"consistent with theory {theory_text}"
    return f"theory {theory_text} lies outside this spread"


def group_slopes(x: np.ndarray, values: np.ndarray, group: int) -> np.ndarray:
    """(G, ...): the log-log slope against ``x`` (X,) of the mean over each group of ``group``
    independent draws in ``values`` (S, X, ...): G = S // group draws of a slope fitted to a
    mean, whose range is the spread of that slope; empty when fewer than two groups fit."""
    count = values.shape[0] // group
    rest = values.shape[2:]
    if count < 2:
        return np.zeros((0, *rest))
    means = values[: count * group].reshape(count, group, *values.shape[1:]).mean(axis=1)
    flat = means.reshape(count, means.shape[1], -1)
    with np.errstate(all="ignore"):
        slopes = [
            [
                log_log_fit(np.asarray(x, dtype=float), flat[g, :, j])[0]
                for j in range(flat.shape[2])
            ]
            for g in range(count)
        ]
    return np.array(slopes).reshape(count, *rest)


def slope_facts(
    slope: float,
    draws: Sequence[float],
    theory: float,
    theory_text: str,
    over: str = "seeds",
    absent: str = "none (fewer than two points to fit)",
    fmt: str = "+.2f",
) -> tuple[str, str]:
    """(the slope with its spread over ``draws``, the verdict against ``theory``): what a caption
    states of a fitted slope; ``absent`` and the bare theory where the slope is undefined."""
    if not math.isfinite(slope):
        return absent, f"theory {theory_text}"
    return spread_text(slope, draws, fmt, over), verdict(draws, theory, theory_text)


def group_means(values: np.ndarray, groups: int) -> np.ndarray:
    """(groups,): the means of ``values`` (K,) over ``groups`` consecutive groups of K // groups
    (the last K % groups left out); empty for no groups."""
    if groups == 0:
        return np.zeros(0)
    size = len(values) // groups
    return values[: size * groups].reshape(groups, size).mean(axis=1)


def width_trend(
    widths: np.ndarray,
    values: np.ndarray,
    draws: np.ndarray,
    theory: float,
    theory_text: str,
    count: int,
) -> tuple[str, str, str]:
    """(slope text, verdict, trend) of a distance ``values`` (W,) against width, fitted
    log-log, with its spread over ``draws`` (B, W): the same distance over B groups of the
    ``count`` nets. The trend: 'falls with width like width^-0.51 (...)' or what holds instead."""
    slope = log_log_fit(widths, values, log=np.log)[0]
    group = count // max(len(draws), 1)
    slopes = [log_log_fit(widths, d, log=np.log)[0] for d in draws]
    text, verdict_text = slope_facts(
        slope, slopes, theory, theory_text, over=f"groups of {group} nets", fmt=".2f"
    )
    if len(widths) < 2:
        return text, verdict_text, "is measured at one width only"
    if math.isfinite(slope) and slope < 0:
        return text, verdict_text, f"falls with width like width^{text} ({verdict_text})"
    return text, verdict_text, f"does not fall with width (slope {text}; {verdict_text})"


def jackknife(statistic, count: int) -> tuple[float, float]:
    """(the statistic of all ``count`` draws, its jackknife standard error): ``statistic(keep)``
    of a boolean mask over the draws, recomputed leaving each draw out in turn; NaN error with
    fewer than three draws or where a leave-one-out value is not finite."""
    whole = float(statistic(np.ones(count, dtype=bool)))
    if count < 3:
        return whole, math.nan
    values = np.array([statistic(np.arange(count) != k) for k in range(count)], dtype=float)
    if not np.all(np.isfinite(values)):
        return whole, math.nan
    return whole, float(np.sqrt((count - 1) / count * np.sum((values - values.mean()) ** 2)))


def jackknife_facts(
    value: float, error: float, theory: float, theory_text: str, over: str, fmt: str = "+.2f"
) -> tuple[str, str]:
    """('-0.49 +- 0.03 (jackknife over 8 nets)', the verdict: theory within two standard errors
    or plainly not)."""
    if not math.isfinite(value):
        return "none (fewer than two widths to fit)", f"theory {theory_text}"
    if not math.isfinite(error):
        return f"{value:{fmt}}", f"theory {theory_text}; too few draws for a spread"
    text = f"{value:{fmt}} +- {error:.2f} (jackknife over {over})"
    if abs(value - theory) <= 2 * error:
        return text, f"consistent with theory {theory_text}, within two standard errors"
    return text, f"theory {theory_text} lies more than two standard errors away"


def lag_split(widths: np.ndarray, own: np.ndarray, nets: np.ndarray, theory: np.ndarray) -> dict:
    """The nets' lag behind the theory, split (RMS over the modes given, per width) into the
    random initial kernel's (``own`` linear model - ``theory``) and the kernel's change in
    training (``nets`` - ``own``), with each one's log-log slope against width: own, nets
    (W, M), theory (M,) -> caption facts."""
    initial = np.sqrt(np.mean((own - theory) ** 2, axis=1))
    training = np.sqrt(np.mean((nets - own) ** 2, axis=1))
    slopes = [log_log_fit(widths, lag, log=np.log)[0] for lag in (initial, training)]
    return {
        "lag_initial": by_width_text(widths, initial),
        "lag_training": by_width_text(widths, training),
        "lag_modes": int(own.shape[1]),
        "lag_initial_slope": slope_text(slopes[0], ".2f", "not fitted (one width)"),
        "lag_training_slope": slope_text(slopes[1], ".2f", "not fitted (one width)"),
    }
