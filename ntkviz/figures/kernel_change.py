"""kernel-change: how much the tangent kernel moves during training, against alpha (or width).

From the post's notebook (beyond the post's figures): train nets with their output scaled by
alpha (zeroed at initialisation, loss MSE / alpha^2) and measure the relative change of the kernel
on the training inputs, ``||H_end - H_0||_F / ||H_0||_F``. In the kernel regime it falls like
1/alpha; ``--vs width`` sweeps the hidden width at a fixed alpha instead. A still, log-log, with
the least-squares slope of the medians in the legend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.canvas import Renderer
from ntkviz.config import param
from ntkviz.dynamics import train
from ntkviz.errors import ConfigError
from ntkviz.figures.base import FigureSpec
from ntkviz.figures.ntk_ellipses import run_colors
from ntkviz.kernels import MseGradient, empirical_ntk
from ntkviz.nets import ACTIVATIONS, INITS, Ensemble, NetSpec, check_fits
from ntkviz.progress import Progress
from ntkviz.threads import single_thread

SWEEPS = ("alpha", "width")
DEFAULT_ALPHAS = tuple(float(a) for a in 10.0 ** np.linspace(-2, 3, 7))
DEFAULT_WIDTHS = tuple(int(round(w)) for w in 10.0 ** np.linspace(1, 3, 7))  # 10 ... 1000


@dataclass(frozen=True)
class KernelChangeConfig:
    vs: str = param("alpha", "sweep the output scale alpha or the hidden width", choices=SWEEPS)
    alphas: tuple[float, ...] = param(
        DEFAULT_ALPHAS, "output scales for --vs alpha (notebook: 10^linspace(-2, 3, 7))", gt=0
    )
    widths: tuple[int, ...] = param(
        DEFAULT_WIDTHS, "hidden widths for --vs width", ge=1, le=100_000
    )
    width: int = param(100, "hidden width m for --vs alpha", ge=1, le=100_000)
    alpha: float = param(1.0, "output scale alpha for --vs width", gt=0)
    trials: int = param(5, "independent nets per value", ge=1, le=10_000)
    depth: int = param(2, "number of hidden layers", ge=1, le=100)
    activation: str = param("relu", "activation of the hidden layers", choices=tuple(ACTIVATIONS))
    bias: bool = param(True, "biases in every layer")
    init: str = param(
        "pytorch", "initialisation: PyTorch's nn.Linear default or LeCun normal", choices=INITS
    )
    lr: float = param(3e-4, "gradient-descent learning rate on the loss MSE / alpha^2", gt=0)
    steps: int = param(4000, "gradient-descent steps", ge=1, le=10_000_000)
    x_train: tuple[float, ...] = param((-2.0, 0.5), "training inputs, comma-separated")
    y_train: tuple[float, ...] = param((3.0, -1.0), "training targets, one per input")

    def check(self) -> None:
        if len(self.x_train) != len(self.y_train):
            raise ConfigError(
                f"--x-train and --y-train need the same number of values "
                f"(got {len(self.x_train)} and {len(self.y_train)})"
            )

    @property
    def values(self) -> tuple[float, ...]:
        return self.alphas if self.vs == "alpha" else tuple(float(w) for w in self.widths)


@dataclass(frozen=True)
class KernelChangeResult:
    """V swept values, R trials, N training inputs.

    vs: "alpha" or "width"; values (V,): the alphas or widths; change (V, R): the relative kernel
    change ||H_end - H_0||_F / ||H_0||_F of each net; median (V,); slope, intercept: the
    least-squares line log10(median) = slope log10(value) + intercept (NaN if under 2 points);
    kernels_start, kernels_end (V, R, N, N): H/alpha^2 before and after; loss_end (V, R);
    steps: the number of training steps.
    """

    vs: str
    values: np.ndarray
    change: np.ndarray
    median: np.ndarray
    slope: float
    intercept: float
    kernels_start: np.ndarray
    kernels_end: np.ndarray
    loss_end: np.ndarray
    steps: int


def relative_kernel_change(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``||H_end - H_0||_F / ||H_0||_F`` over the last two axes: (..., N, N) -> (...)."""
    return np.linalg.norm(end - start, axis=(-2, -1)) / np.linalg.norm(start, axis=(-2, -1))


def log_log_fit(values: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of log10 y = slope log10 values + intercept over the positive points."""
    values, y = np.asarray(values, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = (values > 0) & (y > 0) & np.isfinite(y)
    if keep.sum() < 2 or np.unique(values[keep]).size < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log10(values[keep]), np.log10(y[keep]), 1)
    return float(slope), float(intercept)


def _train_group(
    spec: NetSpec,
    members: list[int],
    alphas: list[float],
    config,
    seed: int,
    device: str,
    progress: Progress,
):
    """Train one ensemble; return its kernels (start, end) as H/alpha^2 and its final loss."""
    dtype = torch.float64
    x_train = torch.tensor(config.x_train, dtype=dtype, device=device)
    y_train = torch.tensor(config.y_train, dtype=dtype, device=device)
    check_fits(spec, len(members), len(config.x_train), device, dtype)
    ensemble = Ensemble(
        spec, len(members), seed, device=device, dtype=dtype, members=members, alphas=alphas
    )
    alpha2 = (ensemble.alphas**2).view(-1, 1, 1)
    with single_thread(device):
        start = empirical_ntk(ensemble, x_train) / alpha2
        trajectory = train(
            ensemble,
            x_train,
            y_train,
            lr=config.lr,
            steps=config.steps,
            snapshot_every=config.steps,
            progress=progress,
            gradient=MseGradient(),
        )
        end = empirical_ntk(ensemble, x_train) / alpha2
    return start.cpu().numpy(), end.cpu().numpy(), trajectory.loss[-1]


def simulate(
    config: KernelChangeConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> KernelChangeResult:
    """Train every (value, trial) net and measure its kernel's relative change (float64).

    ``--vs alpha``: one ensemble of V x R members; trial r starts from the same net at every alpha
    (member r), so the alphas differ only in their scale. ``--vs width``: one ensemble per width.
    """
    progress = progress or Progress()
    seed = generator.initial_seed() if generator is not None else 0
    values = np.asarray(config.values, dtype=np.float64)
    count, trials = len(values), config.trials
    base = dict(
        depth=config.depth,
        activation=config.activation,
        bias=config.bias,
        init=config.init,
        zero_output=True,
    )
    if config.vs == "alpha":
        spec = NetSpec(width=config.width, **base)
        members = [r for _ in range(count) for r in range(trials)]
        alphas = [float(a) for a in values for _ in range(trials)]
        start, end, loss = _train_group(spec, members, alphas, config, seed, device, progress)
    else:
        parts = [
            _train_group(
                NetSpec(width=int(w), **base),
                list(range(trials)),
                [config.alpha] * trials,
                config,
                seed,
                device,
                progress,
            )
            for w in values
        ]
        start, end, loss = (np.concatenate(p) for p in zip(*parts, strict=True))
    n = len(config.x_train)
    start = start.reshape(count, trials, n, n)
    end = end.reshape(count, trials, n, n)
    change = relative_kernel_change(start, end)
    median = np.median(change, axis=1)
    slope, intercept = log_log_fit(values, median)
    return KernelChangeResult(
        vs=config.vs,
        values=values,
        change=change,
        median=median,
        slope=slope,
        intercept=intercept,
        kernels_start=start,
        kernels_end=end,
        loss_end=np.asarray(loss).reshape(count, trials),
        steps=config.steps,
    )


class KernelChangeRenderer(Renderer):
    count = 1

    def setup(self) -> None:
        r = self.result
        ax = self.figure.add_subplot()
        ax.set_xscale("log")
        ax.set_yscale("log")
        color = run_colors(np.array([1.0, 10.0]))[0]
        trials = r.change.shape[1]
        xs = np.repeat(r.values, trials)
        ys = r.change.reshape(-1)
        positive = ys > 0
        ax.plot(
            xs[positive],
            ys[positive],
            "o",
            color="gray",
            alpha=0.45,
            markersize=2.5 * self.style.line_width,
            label=f"each net ({trials} a value)",
        )
        ax.plot(
            r.values,
            r.median,
            "o-",
            color=color,
            markersize=4 * self.style.line_width,
            label="median",
        )
        if np.isfinite(r.slope):
            grid = np.geomspace(r.values.min(), r.values.max(), 50)
            ax.plot(
                grid,
                10 ** (r.intercept + r.slope * np.log10(grid)),
                "--",
                color="tab:red",
                label=f"fit: slope {r.slope:.2f}",
            )
        if r.vs == "alpha" and r.median[-1] > 0:
            # Lazy training (Chizat, Oyallon & Bach 2019): the kernel moves like 1/alpha.
            anchor = r.values[-1]
            grid = np.geomspace(r.values.min(), anchor, 50)
            ax.plot(
                grid,
                r.median[-1] * anchor / grid,
                ":",
                color="gray",
                label=r"$1/\alpha$ (kernel regime)",
            )
        name = r"output scale $\alpha$" if r.vs == "alpha" else "hidden width $m$"
        ax.set_xlabel(name)
        ax.set_ylabel(r"$\|H_{end} - H_0\|_F \,/\, \|H_0\|_F$")
        ax.set_title(f"Relative change of the tangent kernel after {r.steps} steps")
        ax.legend(loc="best")
        ax.grid(True, which="both", alpha=0.3)
        self.key_frame = 0

    def update(self, i: int) -> bool:
        return False


SPEC = FigureSpec(
    name="kernel-change",
    summary="How much the tangent kernel changes while training, against alpha (or width): "
    "log-log with the fitted slope.",
    config_cls=KernelChangeConfig,
    simulate=simulate,
    renderer=KernelChangeRenderer,
    quick={"steps": 1000, "trials": 2},
    animated=False,
    caption="The relative change of the 2 x 2 tangent kernel over training falls as the output "
    "scale alpha grows (about 1/alpha in the kernel regime): large alpha trains lazily "
    "with a nearly constant kernel. --vs width shows the same against the width.",
)
