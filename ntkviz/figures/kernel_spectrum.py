"""kernel-spectrum: the NTK's eigenvalues and eigenfunctions, and the order in which a net learns.

Beyond the post (Jacot et al. 2018, section 6; Arora et al. 2019; Rahaman et al. 2019). On N
inputs the NTK Gram matrix Theta has eigenpairs (lambda_k, v_k) by decreasing eigenvalue; in the
kernel regime the residual u(t) = f_t(X) - Y obeys u(t) = (I - eta Theta)^t u(0), so each
projection decays on its own, u_k(t) / u_k(0) = (1 - eta lambda_k)^t ~ exp(-eta lambda_k t):
large eigenvalues (smooth eigenfunctions) are learned first, the wiggly part last.

Time: eta = 2 lr / N (loss (1/N) sum_i (f(x_i) - y_i)^2, step w <- w - lr grad L); t counts steps.
The figure draws the analytic NTK's spectrum beside the empirical NTKs of nets of several widths
at initialisation, the leading eigenfunctions, and u_k(t) / u_k(0) of those nets (zeroed, so
u(0) = -Y) trained by gradient descent, on the analytic eigenvectors, against theory; frames are
evenly spaced in log time. Each net's own linear model (on its initial empirical NTK) is drawn
dotted, to split the nets' lag into the random initial kernel's and the kernel change's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ntkviz.config import param
from ntkviz.drawing.axes import above_floor, floor_band, mode_color
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.errors import ConfigError
from ntkviz.figures.base import NtkNets, figure_spec
from ntkviz.figures.common import analytic_activation, check_ranges, ensemble_widths, seed_of
from ntkviz.figures.data import OwnPoints, along_line
from ntkviz.figures.kernel_spectrum_facts import facts as facts  # SPEC's
from ntkviz.numerics.dynamics import train
from ntkviz.numerics.function_space import linear_residuals, mode_decay, spectrum
from ntkviz.numerics.nets import Ensemble, check_fits
from ntkviz.numerics.ntk_analytic import infinite_ntk
from ntkviz.numerics.ntk_empirical import MseGradient, empirical_ntk
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

TARGETS = ("modes", "sin", "step", "noise")
#: Ratios below this (learned, to float32) are not drawn; a band FLOOR / BAND .. FLOOR marks it.
FLOOR, BAND = 1e-3, 4.0


@dataclass(frozen=True)
class KernelSpectrumConfig(NtkNets, OwnPoints):
    zero_output: ClassVar[bool] = True  # the residual starts at the targets
    points: int = param(64, "number of inputs N, equally spaced over --x-span", ge=2, le=1000)
    x_span: tuple[float, ...] = param((-2.0, 2.0), "interval of the inputs, as MIN,MAX", length=2)
    target: str = param(
        "modes",
        "targets Y: modes (the same weight, random signs, on every eigenvector of the analytic "
        "kernel, so every mode has something to learn), sin (sin 3x), step (sign x) or noise "
        "(Gaussian)",
        choices=TARGETS,
    )
    widths: tuple[int, ...] = ensemble_widths((64, 256, 1024))
    count: int = param(4, "nets per width (their kernels' spectra and decays are averaged)", ge=1)
    depth: int = param(1, "number of hidden layers", ge=1, le=20)
    activation: str = analytic_activation()
    sigma_w: float = param(1.0, "weight scale sigma_w of the NTK parameterisation", gt=0)
    sigma_b: float = param(1.0, "bias scale sigma_b of the NTK parameterisation", gt=0)
    # The default kernel's top eigenvalue is 141: eta = 2 lr / N = 0.0094 gives the top mode a
    # factor 1 - 1.32 a step (stable below 2); mode 16 (lambda 0.035) reaches e^-1 at step 3000.
    lr: float = param(0.3, "gradient-descent learning rate on the MSE (eta = 2 lr / N)", gt=0)
    steps: int = param(3000, "gradient-descent steps", ge=1, le=10_000_000)
    frames: int = param(
        40, "number of frames after step 0, spaced evenly in log time", ge=1, le=10_000
    )
    modes: tuple[int, ...] = param(
        (1, 2, 4, 8, 16, 32), "modes k (1 = largest eigenvalue) whose decay is drawn", ge=1
    )
    eigenfunctions: int = param(
        4, "how many of --modes (the first ones) have their eigenfunction drawn", ge=1, le=10
    )

    def check(self) -> None:
        check_ranges(self, "x_span")
        self.check_own()
        n = len(self.y_train) or self.points
        what = f"{n} training points" if self.x_train else f"--points {n}"
        if max(self.modes) > n:
            raise ConfigError(
                f"--modes: mode {max(self.modes)} does not exist with {what} (modes run 1 .. {n})"
            )
        if len(set(self.modes)) != len(self.modes):
            raise ConfigError("--modes has a mode twice: give each once")
        if self.eigenfunctions > len(self.modes):
            raise ConfigError(
                f"--eigenfunctions must be <= the number of --modes ({len(self.modes)})"
            )
        if self.frames > self.steps:
            raise ConfigError(f"--frames ({self.frames}) must not exceed --steps ({self.steps})")

    def snapshot_steps(self) -> np.ndarray:
        """Step 0, then up to ``frames`` steps spaced evenly in log time up to ``steps``."""
        later = np.unique(np.round(np.geomspace(1, self.steps, self.frames)).astype(np.int64))
        return np.concatenate([[0], later])


def targets(config: KernelSpectrumConfig, x: np.ndarray, vec: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if config.target == "modes":
        return vec @ rng.choice([-1.0, 1.0], size=len(x))
    if config.target == "sin":
        return np.sin(3 * x)
    if config.target == "step":
        return np.where(x >= 0, 1.0, -1.0)
    return rng.standard_normal(len(x))


@dataclass(frozen=True)
class KernelSpectrumResult:
    """N inputs, W widths, K nets each, T snapshots.

    x (N,) or, for points of d coordinates, (N, d); y (N,) the targets; t (N,): where each input
    lies along the line c + t u through the inputs' mean c in their first principal direction u
    (line (2, d): [c, u]; one coordinate: t = x); steps (T,); widths (W,); rate: eta = 2 lr / N;
    kernel (N, N), eigenvalues (N,), eigenvectors (N, N) (columns): the analytic NTK's;
    empirical_eigenvalues (W, K, N): each net's empirical NTK at initialisation;
    theory (T, N): (1 - eta lambda_k)^t; projections (T, W, K, N): v_k . (f_t(X) - Y) of each net;
    ratio (T, W, N): the mean over a width's nets of projections / (v_k . (-Y)) (NaN for a mode
    the targets have no component on); own_ratio (T, W, N): the same for each net's own linear
    model (the linear model on its empirical NTK at initialisation); loss (T, W, K).
    """

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    line: np.ndarray
    steps: np.ndarray
    widths: np.ndarray
    rate: float
    kernel: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    empirical_eigenvalues: np.ndarray
    theory: np.ndarray
    projections: np.ndarray
    ratio: np.ndarray
    own_ratio: np.ndarray
    loss: np.ndarray


@numeric
def simulate(
    config: KernelSpectrumConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> KernelSpectrumResult:
    """The analytic spectrum (float64), each width's empirical kernels (float64 twins of the nets)
    and its nets trained by gradient descent (float32) from snapshot to snapshot."""
    progress = progress or Progress()
    seed = seed_of(generator)
    x, y = config.training(np.linspace(*config.x_span, config.points), np.zeros_like)
    kernel = infinite_ntk(x, **config.kernel_options())
    lam, vec = spectrum(kernel)
    y = y if config.y_train else targets(config, x, vec, seed)
    rate = 2.0 * config.lr / len(x)
    steps = config.snapshot_steps()
    start = vec.T @ (-y)  # u_k(0): the nets are zeroed
    # A mode the targets have no component on (e.g. an even eigenvector under an odd target)
    # has nothing to learn: its ratio is undefined (NaN, not drawn).
    start = np.where(np.abs(start) > 1e-9 * np.abs(start).max(), start, np.nan)
    x32 = torch.as_tensor(x, dtype=torch.float32, device=device)
    y32 = torch.as_tensor(y, dtype=torch.float32, device=device)
    widths = np.asarray(config.widths, dtype=np.int64)
    empirical, projections, losses, own = [], [], [], []
    for width in widths:
        spec = config.net(int(width))
        check_fits(spec, config.count, len(x), device)
        twin = Ensemble(
            dataclasses.replace(spec, zero_output=False),
            config.count,
            seed,
            device=device,
            dtype=torch.float64,
            keep_initial=False,
        )
        k_emp = empirical_ntk(twin, torch.as_tensor(x, device=device)).cpu().numpy()
        del twin
        own.append((linear_residuals(k_emp, -y, rate, steps) @ vec / start).mean(axis=1))
        empirical.append(np.linalg.eigvalsh(0.5 * (k_emp + np.swapaxes(k_emp, 1, 2)))[:, ::-1])
        nets = Ensemble(spec, config.count, seed, device=device)
        gradient = MseGradient()

        def record(ens: Ensemble, step: int) -> dict[str, np.ndarray]:
            residual = ens(x32).double().cpu().numpy() - y  # (K, N)
            return {"projections": residual @ vec}

        snaps, loss = [record(nets, 0)["projections"]], [None]
        with progress.stage(f"width {int(width)}", config.steps) as advance:
            for before, after in zip(steps[:-1], steps[1:], strict=True):
                trajectory = train(
                    nets,
                    x32,
                    y32,
                    lr=config.lr,
                    steps=int(after - before),
                    snapshot_every=int(after - before),
                    record=record,
                    gradient=gradient,
                )
                snaps.append(trajectory.records["projections"][-1])
                if loss[0] is None:
                    loss[0] = trajectory.loss[0]
                loss.append(trajectory.loss[-1])
                advance(int(after - before))
        if loss[0] is None:
            loss[0] = (y**2).mean() * np.ones(config.count)
        projections.append(np.stack(snaps))
        losses.append(np.stack(loss))
    projections = np.stack(projections, axis=1)  # (T, W, K, N)
    t, _, line = along_line(x, np.zeros(0))
    return KernelSpectrumResult(
        x=x,
        y=y,
        t=t,
        line=line,
        steps=steps,
        widths=widths,
        rate=rate,
        kernel=kernel,
        eigenvalues=lam,
        eigenvectors=vec,
        empirical_eigenvalues=np.stack(empirical),
        theory=mode_decay(lam, rate, steps),
        projections=projections,
        ratio=(projections / start).mean(axis=2),
        own_ratio=np.stack(own, axis=1),
        loss=np.stack(losses, axis=1),
    )


def _floored(values: np.ndarray) -> np.ndarray:
    return above_floor(values, FLOOR)  # below it: NaN, not drawn


class KernelSpectrumRenderer(Renderer):
    """Output frame i shows snapshot i (frame 0: step 0, nothing learned). Top: the spectrum and
    the leading eigenfunctions (static). Bottom left: every mode's remaining residual at this
    step; bottom right: the chosen modes' over (log) time up to this step. The key frame is the
    last."""

    frames_of = "steps"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        (ax_eig, ax_fun), (ax_now, ax_time) = self.figure.subplots(2, 2)
        self.width_colors = style.run_colors(len(r.widths))
        n = len(r.x)
        modes = np.asarray(config.modes)
        index = np.arange(1, n + 1)

        # (a) the spectrum
        ax_eig.set(xscale="log", yscale="log")
        for w, width in enumerate(r.widths):
            ax_eig.plot(
                index,
                r.empirical_eigenvalues[w].mean(axis=0),
                **style.look("run", self.width_colors[w], marker="o", ms=1.2 * style.line_width),
                label=f"empirical, width {int(width)} (mean of {r.projections.shape[2]})",
            )
        ax_eig.plot(index, r.eigenvalues, **style.look("theory"), label="infinite width")
        for k in modes:
            ax_eig.plot([k], [r.eigenvalues[k - 1]], **style.look("now", mode_color(style, k, n)))
        # the data's range; the key where it covers no point (the spectrum leaves a corner empty)
        ax_eig.set_ylim(r.eigenvalues.min() / 30, r.eigenvalues.max() * 3)
        ax_eig.set_xlabel("mode $k$")
        ax_eig.set_ylabel(r"eigenvalue $\lambda_k$")
        ax_eig.set_title(f"spectrum of the NTK on {n} points", fontsize=style.small)
        self.overlay(ax_eig.legend(loc="best", **style.legend()))

        # (b) the leading eigenfunctions; points of d > 1 coordinates at their position t along
        # their first principal direction, unjoined (neighbours in t need not be neighbours)
        scale = np.sqrt(n)
        drawn = modes[: config.eigenfunctions]
        dots = (
            {}
            if r.x.ndim == 1
            else {"marker": "o", "linestyle": "none", "ms": 2 * style.line_width}
        )
        for k in drawn:
            ax_fun.plot(
                r.t,
                scale * r.eigenvectors[:, k - 1],
                **style.look("run", mode_color(style, k, n), **dots),
                label=f"$k$ = {k}",
            )
        ax_fun.set_xlabel("$x$" if r.x.ndim == 1 else "$t$ along the first principal direction")
        ax_fun.set_ylabel(r"$\sqrt{N}\, v_k(x)$")
        ax_fun.set_title(
            "eigenfunctions: the larger the eigenvalue, the smoother", fontsize=style.small
        )
        top = np.abs(scale * r.eigenvectors[:, drawn - 1]).max()
        ax_fun.set_ylim(-1.15 * top, 1.6 * top)
        self.overlay(
            ax_fun.legend(loc="upper center", ncols=min(config.eigenfunctions, 5), **style.legend())
        )

        # (c) every mode now
        ax_now.set(xscale="log", yscale="log")
        floor_band(ax_now, style, FLOOR, FLOOR / BAND, top=80.0)  # room above for the key
        wide = int(np.argmax(r.widths))
        ax_now.set_xlabel("mode $k$")
        ax_now.set_ylabel(r"$|u_k(t) / u_k(0)|$")
        self.now_nets = []
        for w, width in enumerate(r.widths):
            (line,) = ax_now.plot(
                index,
                _floored(r.ratio[0, w]),
                **style.look("run", self.width_colors[w], marker="o", ms=1.2 * style.line_width),
                label=f"nets, width {int(width)}",
            )
            self.now_nets.append(line)
        (self.now_own,) = ax_now.plot(
            index,
            _floored(r.own_ratio[0, wide]),
            **style.look("linear", self.width_colors[wide], linestyle=":"),
            label=f"own linear, width {int(r.widths[wide])}",
        )
        (self.now_theory,) = ax_now.plot(
            index, _floored(r.theory[0]), **style.look("theory"), label=r"$(1 - \eta\lambda_k)^t$"
        )
        self.now_title = ax_now.set_title(" ", fontsize=style.small)
        self.animate(*self.now_nets, self.now_own, self.now_theory, self.now_title)
        self.overlay(ax_now.legend(loc="upper center", ncols=2, **style.legend()))

        # (d) chosen modes over time
        ax_time.set(xscale="log", yscale="log")
        ax_time.set_xlim(1, max(2, r.steps[-1]) * 1.2)
        floor_band(ax_time, style, FLOOR, FLOOR / BAND, top=40.0)
        ax_time.set_xlabel("step $t$")
        ax_time.set_ylabel(r"$|u_k(t) / u_k(0)|$")
        ax_time.set_title(
            f"solid: nets, width {int(r.widths.max())}; dotted: own linear; dashed: theory",
            fontsize=style.small,
        )
        self.time_lines = []
        for k in modes:
            color = mode_color(style, k, n)
            looks = (  # the nets, theory (dashed), their own linear models (dotted), now
                style.look("run", color, label=f"$k$ = {k}"),
                style.look("linear", color, lw=0.7 * style.line_width),
                style.look("linear", color, linestyle=":", lw=0.9 * style.line_width),
                style.look("now", color),
            )
            measured, theory, own, now = (ax_time.plot([], [], **look)[0] for look in looks)
            self.time_lines += [
                (measured, r.ratio[:, wide, k - 1], False),
                (own, r.own_ratio[:, wide, k - 1], False),
                (theory, r.theory[:, k - 1], False),
                (now, r.ratio[:, wide, k - 1], True),
            ]
        self.animate(*(line for line, _, _ in self.time_lines))
        self.overlay(ax_time.legend(loc="upper center", ncols=3, **style.legend()))
        self.title = self.figure.suptitle(" ")
        self.animate(self.title)
        self.key_frame = self.count - 1  # the order of learning, and where the nets lag

    def update(self, i: int) -> bool:
        r = self.result
        for w, line in enumerate(self.now_nets):
            line.set_ydata(_floored(r.ratio[i, w]))
        self.now_own.set_ydata(_floored(r.own_ratio[i, int(np.argmax(r.widths))]))
        self.now_theory.set_ydata(_floored(r.theory[i]))
        self.now_title.set_text(f"every mode at step {int(r.steps[i])}: left to learn")
        steps = r.steps[: i + 1]
        later = steps > 0
        for line, values, now in self.time_lines:
            if now:
                line.set_data(
                    r.steps[i : i + 1] if i > 0 else [],
                    _floored(values[i : i + 1]) if i > 0 else [],
                )
            else:
                line.set_data(steps[later], _floored(values[: i + 1][later]))
        self.title.set_text(
            f"Gradient descent on {len(r.x)} points, step {int(r.steps[i])}: "
            f"large-eigenvalue modes are learned first"
        )
        return False


SPEC = figure_spec(
    globals(),
    summary="The NTK's eigenvalues and eigenfunctions (analytic and empirical), and gradient "
    "descent learning each eigen-direction at its own rate exp(-eta lambda_k t): smooth modes "
    "first.",
    style=Style(size=(16.0, 12.0)),
    quick={
        "steps": 600,
        "frames": 15,
        "widths": (64, 256),
        "count": 2,
        "points": 32,
        "modes": (1, 2, 4, 8, 16),
    },
    caption="The neural tangent kernel on {inputs} {data} (NTK parameterisation). "
    "Top left: its eigenvalues, {lam_first:.3g} down to {lam_last:.2g} (a ratio of "
    "{lam_ratio:.2g}), for the infinite-width kernel (dashed) and the empirical kernels of "
    "nets of width {widths} at initialisation (the top 8 off by {eig_error_list} RMS "
    "relative{eig_trend}). Top right: the eigenfunctions of modes {drawn}: the larger the "
    "eigenvalue, the smoother. Bottom: {count} "
    "zeroed nets of each width trained by gradient descent (lr {lr:g}, eta = 2 lr / N = "
    "{rate:.3g}); the residual projected on each analytic eigenvector, as a fraction of its "
    "start, against the linear model's (1 - eta lambda_k)^t, at the current step (left, every "
    "mode) and over log time (right, the chosen modes). After {steps} steps, of the {points} "
    "modes with something to learn, sum_k (1 - min(r_k^2, 1)) = {learned_theory:.3g} modes' "
    "worth of squared residual are gone in theory, {learned_own:.3g} for the linear models on "
    "the width-{width_wide} nets' own initial kernels and {learned_measured:.3g} for the nets; "
    "{per_mode}. {lag_text} Split over the first {lag_modes} modes (RMS of r_k): the lag due "
    "to the random initial kernel (own linear model - theory) is {lag_initial}, log-log slope "
    "{lag_initial_slope} against width (theory -1/2); the lag due to the kernel's change in "
    "training (nets - own linear model) is {lag_training}, slope {lag_training_slope}.",
    reading="Modes are learned in order of eigenvalue: after {steps} steps {learned_theory:.3g} "
    "of the {points} modes' worth of squared residual are gone in theory, {learned_own:.3g} "
    "for the nets' own linear models and {learned_measured:.3g} for the width-{width_wide} "
    "nets; the nets lag their own linear models by {lag_training} (the kernel's change in "
    "training), which lag the theory by {lag_initial} (the random initial kernel).",
)
