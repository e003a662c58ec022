"""rich-lazy: the same two-layer ReLU net trained lazily (large alpha) and richly (small alpha).

Beyond the post (Chizat, Oyallon & Bach 2019, "On lazy training in differentiable programming";
Chizat & Bach 2018; Woodworth et al. 2020). The net is the post's scaled, zeroed model

    f(x) = alpha (h(x, w) - h(x, w0)),   h(x, w) = sum_j a_j relu(sigma_w w_j x + sigma_b b_j) sigma_w / sqrt(m)

(NTK parameterisation, one hidden layer of m units, all parameters N(0, 1) at the start), trained
by gradient descent on L = (1/N) sum_i (f(x_i) - y_i)^2 / alpha^2 (the loss ntkviz always uses:
dividing by alpha^2 keeps the function's speed the same for every alpha). Each parameter then
moves like 1/alpha: large alpha is the lazy (kernel) regime, where the units stay put and the
tangent kernel is frozen; alpha = 1 / sqrt(m) is the mean-field scaling (f = (1/m) sum_j ...),
the rich regime, where units travel and the kernel changes by O(1) whatever the width.

Each hidden unit is drawn as a particle: where its ReLU bends (the kink, x = -sigma_b b_j /
(sigma_w w_j)) and how much it bends there (a_j |w_j|, in parameter units). Lazy: the particles
barely move. Rich: they travel, and the kinks gather where the data need them.

What theory says of the alpha sweep's slopes: the parameters move like 1/alpha (slope -1). The
ReLU net's kernel changes like 1/alpha only in its smooth part; a kink that moves by delta flips
the activation pattern on a share delta of the inputs, which changes the kernel's entries there
by O(1), so its Frobenius norm changes like sqrt(delta): slope -1/2 once the flips dominate (a
smooth activation would give -1).

Both regimes start from the same draw (member 0), so they differ only in alpha; the sweep copies
nets 0..S-1 over its alphas and fits their median (its spread: each net fitted alone). Time: eta = 2 lr / N as every ntkviz figure; t counts steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.config import param
from ntkviz.drawing.axes import log_ylim, step_axis
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    OwnData,
    check_clock,
    check_ranges,
    clock_param,
    log_log_fit,
    seed_of,
    spaced_inputs,
    train_mse,
)
from ntkviz.figures.rich_lazy_facts import facts as facts  # SPEC's, the sweep panel's
from ntkviz.numerics.dynamics import clock_steps
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_empirical import empirical_ntk
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric, single_thread

TARGETS = {
    "abs": lambda x: np.abs(x) - 1.0,
    "sin": lambda x: np.sin(2 * x),
    "step": lambda x: np.where(x >= 0, 0.5, -0.5),
}


@dataclass(frozen=True)
class RichLazyConfig(OwnData):
    width: int = param(100, "hidden units m (particles)", ge=1, le=100_000)
    n_train: int = param(6, "training points, equally spaced over --x-span", ge=1, le=200)
    x_span: tuple[float, ...] = param((-2.0, 2.0), "interval of the training inputs", length=2)
    target: str = param(
        "abs", "target function (sin: sin 2x; abs: |x| - 1; step: +-1/2)", choices=tuple(TARGETS)
    )
    lazy_alpha: float = param(10.0, "output scale alpha of the lazy net", gt=0)
    rich_alpha: float = param(
        0.0, "output scale alpha of the rich net (0: 1/sqrt(width), the mean-field scaling)", ge=0
    )
    sweep: tuple[float, ...] = param(
        (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
        "output scales alpha of the sweep whose relative changes are fitted against alpha",
        gt=0,
        min_length=2,
    )
    sweep_nets: int = param(
        8, "independent nets per sweep alpha (their median is fitted; its spread over them)", ge=1
    )
    sweep_points: int = param(
        201,
        "points over the data's span where the sweep measures the kernel (dense: a relu kink "
        "keeps crossing them over the sweep)",
        ge=2,
        le=2000,
    )
    sigma_w: float = param(1.0, "weight scale sigma_w", gt=0)
    sigma_b: float = param(1.0, "bias scale sigma_b", gt=0)
    lr: float = param(0.2, "gradient-descent learning rate (eta = 2 lr / N)", gt=0)
    # Both nets have fitted the default data after 150 steps (MSE 3e-4 and 7e-5), most of it in
    # the first 15: log time spends the animation where things happen (steps 1, 2, 3, ... first).
    steps: int = param(150, "gradient-descent steps", ge=1, le=10_000_000)
    frames: int = param(
        50, "number of frames after step 0 (snapshots, spaced by --clock)", ge=1, le=10_000
    )
    clock: str = clock_param("log")
    x_limits: tuple[float, ...] = param((-3.0, 3.0), "view: x range, as MIN,MAX", length=2)
    points: int = param(121, "grid points along x (functions)", ge=2, le=10_000)

    def check(self) -> None:
        check_ranges(self, "x_span", "x_limits")
        self.check_own()
        outside = [x for x in self.x_train if not self.x_limits[0] <= x <= self.x_limits[1]]
        if outside:
            raise ConfigError(
                f"--x-train has the input {outside[0]:g} outside --x-limits "
                f"({self.x_limits[0]:g}, {self.x_limits[1]:g}): widen --x-limits to draw it"
            )
        check_clock(self.clock, self.frames, self.steps)
        if len(set(self.sweep)) < 2:
            raise ConfigError("--sweep needs at least two different alphas to fit a slope")

    def snapshot_steps(self) -> np.ndarray:
        return clock_steps(self.clock, self.steps, self.frames)

    @property
    def rich(self) -> float:
        return self.rich_alpha if self.rich_alpha > 0 else 1.0 / math.sqrt(self.width)

    def inputs(self) -> np.ndarray:
        return spaced_inputs(self.x_span, self.n_train)

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y): the points given, else --n-train inputs over --x-span and their --target."""
        return self.training(self.inputs(), TARGETS[self.target])

    def span(self) -> tuple[float, float]:
        """The data's span, where the kernel is measured: --x-span, or the points given's."""
        x = self.data()[0]
        return (float(x.min()), float(x.max())) if self.x_train and len(x) > 1 else self.x_span

    def net(self, width: int | None = None) -> NetSpec:
        return NetSpec(
            width=self.width if width is None else width,
            depth=1,
            activation="relu",
            bias=True,
            zero_output=True,
            parameterization="ntk",
            sigma_w=self.sigma_w,
            sigma_b=self.sigma_b,
        )


def relative_distance(
    now: np.ndarray, start: np.ndarray, axes: tuple[int, ...] = (-1,)
) -> np.ndarray:
    """||now - start|| / ||start|| (Frobenius) over ``axes``, per leading index."""
    diff = np.sqrt(np.sum((now - start) ** 2, axis=axes))
    return diff / np.sqrt(np.sum(start**2, axis=axes))


def train_at_alphas(
    config: RichLazyConfig,
    alphas: np.ndarray,
    seed: int,
    x_grid: np.ndarray,
    width: int | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Train one net (member 0) at every alpha; record particles, functions, parameter and
    kernel relative changes at each snapshot (the kernel on 41 points over the data's span). Keys: units (T, A, 3, m) as (kink, bend, a);
    functions (T, A, G); moved (T, A); kernel (T, A); loss (T, A); steps (T,)."""
    spec = config.net(width)
    x_train, y_train = config.data()
    nets = Ensemble(
        spec,
        len(alphas),
        seed,
        device=device,
        dtype=torch.float64,
        members=[0] * len(alphas),
        alphas=alphas,
    )
    x64 = torch.as_tensor(x_train, device=device)
    y64 = torch.as_tensor(y_train, device=device)
    g64 = torch.as_tensor(x_grid, device=device)
    # The kernel on a fine grid over the data's span: on the training inputs alone, a ReLU kink
    # crossing an input makes it jump, and the change would not be smooth in alpha.
    k_points = torch.as_tensor(np.linspace(*config.span(), 41), device=device)
    with single_thread(device):
        k0 = empirical_ntk(nets, k_points).cpu().numpy()
    theta0 = nets.flat(nets.params0).cpu().numpy()
    sw, sb = config.sigma_w, config.sigma_b

    def record(ens: Ensemble, step: int) -> dict[str, np.ndarray]:
        w = ens.params[0][..., 0].cpu().numpy()  # (A, m)
        b = ens.params[1].cpu().numpy()
        a = ens.params[2][:, 0, :].cpu().numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            kink = -sb * b / (sw * w)
        kernel = empirical_ntk(ens, k_points).cpu().numpy()
        return {
            "units": np.stack([kink, a * np.abs(w), a], axis=1),
            "functions": ens(g64).cpu().numpy(),
            "moved": relative_distance(ens.flat().cpu().numpy(), theta0),
            "kernel": relative_distance(kernel, k0, (-2, -1)),
        }

    with single_thread(device):
        trajectory = train_mse(
            nets,
            x64,
            y64,
            config,
            progress,
            snapshot_at=config.snapshot_steps(),
            record=record,
            label=f"width {spec.width}",
        )
    return {**trajectory.records, "loss": trajectory.loss, "steps": trajectory.steps}


@dataclass(frozen=True)
class RichLazyResult:
    """Two regimes (0: lazy, 1: rich) and A sweep alphas; T snapshots; m units; G grid points.

    x_grid (G,); x_train, y_train (N,); steps (T,); alphas (2,): lazy and rich;
    units (T, 2, 3, m): each unit's kink -sigma_b b / (sigma_w w), bend a |w| and outgoing a;
    functions (T, 2, G); moved, kernel (T, 2): relative change of all parameters and of the
    tangent kernel on the training inputs since step 0; loss (T, 2): MSE / alpha^2;
    sweep (A,); sweep_moved, sweep_kernel (A,): the median over the sweep's nets of the same
    relative changes at the last step (the kernel on ``sweep_points`` points over the data's
    span); sweep_moved_nets, sweep_kernel_nets (S, A): each of the S nets (members 0..S-1).
    """

    x_grid: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    steps: np.ndarray
    alphas: np.ndarray
    units: np.ndarray
    functions: np.ndarray
    moved: np.ndarray
    kernel: np.ndarray
    loss: np.ndarray
    sweep: np.ndarray
    sweep_moved: np.ndarray
    sweep_kernel: np.ndarray
    sweep_moved_nets: np.ndarray
    sweep_kernel_nets: np.ndarray


@numeric
def simulate(
    config: RichLazyConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> RichLazyResult:
    """Both regimes and the alpha sweep in one ensemble of copies of the same net (float64)."""
    seed = seed_of(generator)
    x_grid = np.linspace(*config.x_limits, config.points)
    sweep = np.asarray(sorted(set(config.sweep)), dtype=np.float64)
    alphas = np.array([config.lazy_alpha, config.rich])
    out = train_at_alphas(config, alphas, seed, x_grid, progress=progress, device=device)
    moved, kernel = sweep_changes(config, sweep, seed, progress, device)
    x_train, y_train = config.data()
    return RichLazyResult(
        x_grid=x_grid,
        x_train=x_train,
        y_train=y_train,
        steps=out["steps"],
        alphas=alphas[:2],
        units=out["units"][:, :2],
        functions=out["functions"][:, :2],
        moved=out["moved"][:, :2],
        kernel=out["kernel"][:, :2],
        loss=out["loss"][:, :2],
        sweep=sweep,
        sweep_moved=np.median(moved, axis=0),
        sweep_kernel=np.median(kernel, axis=0),
        sweep_moved_nets=moved,
        sweep_kernel_nets=kernel,
    )


def sweep_changes(
    config: RichLazyConfig, sweep: np.ndarray, seed: int, progress: Progress | None, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """(S, A) relative changes of the parameters and of the kernel (on ``sweep_points`` points
    over the data's span) after training, of nets 0..S-1 copied over the sweep's alphas."""
    count, (x_train, y_train) = config.sweep_nets, config.data()
    nets = Ensemble(
        config.net(),
        count * len(sweep),
        seed,
        device=device,
        dtype=torch.float64,
        members=[k for k in range(count) for _ in sweep],
        alphas=np.tile(sweep, count),
    )
    points = torch.as_tensor(np.linspace(*config.span(), config.sweep_points), device=device)
    with single_thread(device):
        k0 = empirical_ntk(nets, points).cpu().numpy()
        theta0 = nets.flat(nets.params0).cpu().numpy()
        x64 = torch.as_tensor(x_train, device=device)
        y64 = torch.as_tensor(y_train, device=device)
        train_mse(nets, x64, y64, config, progress, snapshot_every=config.steps, label="sweep")
        kernel = relative_distance(empirical_ntk(nets, points).cpu().numpy(), k0, (-2, -1))
        moved = relative_distance(nets.flat().cpu().numpy(), theta0)
    return moved.reshape(count, len(sweep)), kernel.reshape(count, len(sweep))


def _kinks_and_bends(units: np.ndarray) -> np.ndarray:
    """(m, 2) kink, bend of every unit (kinks of units with w = 0 at infinity: not drawn)."""
    return np.column_stack([units[0], units[1]])


class RichLazyRenderer(Renderer):
    """Output frame i shows snapshot i (frame 0: step 0). Columns: the lazy net, the rich net,
    their changes. Top: the particles (now, and faint where they started); bottom: the function
    and the data. Right: relative change of parameters and kernel over training (top), and at
    the end against alpha (bottom, static, with fits). The key frame is the last."""

    frames_of = "steps"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        axes = self.figure.subplots(2, 3)
        colors = style.run_colors(2)
        names = ("lazy", "rich")
        self.scatters, self.functions = [], []
        bends = r.units[:, :, 1]
        top = float(np.nanmax(np.abs(bends))) * 1.1
        size = (1.6 * style.line_width) ** 2
        for c in range(2):
            ax, fx = axes[0, c], axes[1, c]
            start = _kinks_and_bends(r.units[0, c])
            ax.scatter(
                start[:, 0],
                start[:, 1],
                s=size,
                color=style.color("muted"),
                alpha=0.5,
                linewidths=0,
            )
            scatter = ax.scatter(start[:, 0], start[:, 1], s=size, color=colors[c], linewidths=0)
            self.scatters.append(scatter)
            ax.set_xlim(*config.x_limits)
            ax.set_ylim(-top, top)
            for x in r.x_train:
                ax.axvline(x, **style.look("guide"))
            ax.set_title(
                f"{names[c]}: alpha = {r.alphas[c]:.3g}, {r.units.shape[-1]} units",
                fontsize=style.small,
            )
            ax.set_xlabel("kink $-\\sigma_b b_j / (\\sigma_w w_j)$")
            if c == 0:
                ax.set_ylabel("bend $a_j |w_j|$")
            (line,) = fx.plot(r.x_grid, r.functions[0, c], **style.look("run", colors[c]))
            (data,) = fx.plot(r.x_train, r.y_train, **style.look("data"))
            self.overlay(data)
            self.functions.append(line)
            fx.set_xlim(*config.x_limits)
            span = np.concatenate([r.functions[:, c].ravel(), r.y_train])
            low, high = float(span.min()), float(span.max())
            pad = 0.15 * (high - low + 1e-9)
            fx.set_ylim(low - pad, high + pad)
            fx.set_xlabel("$x$")
            if c == 0:
                fx.set_ylabel("$f(x)$")
        self.animate(*self.scatters, *self.functions)
        # changes over training
        ch = axes[0, 2]
        ch.set_yscale("log")
        step_axis(ch, r.steps[-1], config.clock == "log")  # the changes start at step 1
        log_ylim(ch, [r.moved[1:], r.kernel[1:]], 2, 100)  # room for the key above
        self.changes = []
        for c in range(2):
            (moved,) = ch.plot([], [], **style.look("run", colors[c]), label=f"{names[c]}: weights")
            (kern,) = ch.plot(
                [], [], **style.look("run", colors[c], linestyle="--"), label=f"{names[c]}: kernel"
            )
            self.changes += [(moved, r.moved[:, c]), (kern, r.kernel[:, c])]
        ch.set_xlabel("step")
        ch.set_ylabel("relative change")
        self.animate(*(line for line, _ in self.changes))
        self.overlay(ch.legend(loc="upper right", ncols=2, **style.legend(handlelength=1.5)))
        # against alpha
        sw = axes[1, 2]
        sw.set_xscale("log")
        sw.set_yscale("log")
        fg = style.color("foreground")
        sw.plot(
            r.sweep,
            r.sweep_moved,
            **style.look("run", fg, marker="o", ms=2 * style.line_width),
            label="weights",
        )
        sw.plot(
            r.sweep,
            r.sweep_kernel,
            **style.look("run", fg, linestyle="--", marker="s", ms=2 * style.line_width),
            label="kernel",
        )
        f = facts(r, config)
        use = r.sweep >= f["fit_from"]
        for values, slope in (
            (r.sweep_moved, f["moved_slope"]),
            (r.sweep_kernel, f["kernel_slope"]),
        ):
            if np.isfinite(slope):
                b = log_log_fit(r.sweep[use], values[use], log=np.log)[1]
                xs = r.sweep[use]
                sw.plot(xs, np.exp(b) * xs**slope, **style.look("fit"))
        for c in range(2):
            sw.plot([r.alphas[c]], [r.moved[-1, c]], **style.look("now", colors[c]))
        sv = np.concatenate([r.sweep_moved, r.sweep_kernel])
        sv = sv[sv > 0]
        sw.set_ylim(sv.min() / 2, sv.max() * 20)
        sw.set_xlabel("alpha")
        sw.set_ylabel(f"change after {int(r.steps[-1])} steps")
        sw.set_title(
            f"fitted slopes: {f['moved_slope']:.2f} (weights), {f['kernel_slope']:.2f} (kernel)",
            fontsize=style.small,
        )
        self.overlay(sw.legend(loc="upper right", **style.legend()))
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        self.key_frame = self.count - 1

    def update(self, i: int) -> bool:
        r = self.result
        for c in range(2):
            self.scatters[c].set_offsets(_kinks_and_bends(r.units[i, c]))
            self.functions[c].set_ydata(r.functions[i, c])
        for line, values in self.changes:
            keep = (np.arange(len(values)) <= i) & (values > 0)
            line.set_data(r.steps[keep], values[keep])
        self.title.set_text(
            f"The same net, lazy and rich: step {int(r.steps[i])} (grey: where the units started)"
        )
        return False


SPEC = figure_spec(
    globals(),
    summary="The same two-layer ReLU net trained lazily (large alpha) and richly (alpha = "
    "1/sqrt(m), mean-field): its units as particles, its function, and how much its parameters "
    "and kernel change, against alpha.",
    style=Style(size=(18.0, 10.0)),
    quick={"steps": 60, "frames": 20, "points": 61},
    caption="One two-layer ReLU net of {width} units (NTK parameterisation, zeroed) trained by "
    "gradient descent on {n_train}{given} points at two output scales: lazy (alpha = {lazy_alpha:g}) "
    "and rich (alpha = {rich_alpha:.3g}). Top: each unit as a particle, at its kink (where its "
    "ReLU bends) and its bend a_j |w_j|; grey where it started. Bottom: the function. After "
    "{steps} steps {fit_text} (MSE {lazy_train_mse:.2g} lazy, {rich_train_mse:.2g} rich), but the "
    "lazy net's weights (all parameters) moved by {lazy_moved:.2g} of their size and its kernel by "
    "{lazy_kernel:.2g}, the rich net's by {rich_moved:.2g} and {rich_kernel:.2g}. Right: the "
    "changes over training (the kernel on 41 points over the data's span), and at the end "
    "against alpha, the median of {sweep_nets} nets (the kernel on {sweep_points} points over "
    "the data's span), fitted from alpha = {fit_from:g} up: slope {moved_text} for the weights "
    "({moved_verdict}) and {kernel_text} for the kernel ({kernel_verdict}). Theory for the "
    "kernel: a ReLU kink that crosses one of those points changes the kernel there by O(1), so "
    "while kinks still cross points the change falls like alpha^-1/2, and like alpha^-1 (a "
    "smooth activation's exponent, on any points) once alpha is so large that none does.",
    reading="Lazy (alpha {lazy_alpha:g}): the units stay put (weights move {lazy_moved:.2g}); "
    "rich (alpha {rich_alpha:.2g}): they travel ({rich_moved:.2g}) and the kernel changes "
    "{kernel_ratio:.2g} times more; the weights' change falls like alpha^{moved_text} "
    "({moved_verdict}), the kernel's like alpha^{kernel_text} ({kernel_verdict}).",
)
