"""weight-matrix: the hidden-to-hidden weights of nets of widths 10, 100, 1000 as they train.

Post: "Animation of weight matrices during training. You might be able to see some changes only
for width 10, but greater widths look completely static" and "Loss curves and how much the
weights budge as training progresses": ||w(n) - w0||_2 / ||w0||_2 over ALL parameters.

Nets of different widths cannot share one stacked tensor, so each width is its own
:class:`~ntkviz.numerics.nets.Ensemble` (of ``--count`` seeds), trained one width after another. Only what
the figure shows is kept per step: the first member's m x m matrix, block-averaged down to at most
``--max-pixels`` a side (1001 raw snapshots of a 1000 x 1000 matrix would be 4 GB), and every
member's relative change and loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.ticker import FuncFormatter

from ntkviz.config import param
from ntkviz.drawing.axes import log_ylim, step_axis
from ntkviz.drawing.canvas import CellImage, Renderer, Style
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    ARCHITECTURE,
    check_data,
    clock_param,
    data_tensors,
    fan_in_init,
    listed,
    net_spec,
    seed_of,
    train_mse,
)
from ntkviz.numerics.blocks import block_factor, block_mean
from ntkviz.numerics.dynamics import log_steps, relative_change, snapshots
from ntkviz.numerics.nets import ACTIVATIONS, Ensemble, NetSpec, check_fits, check_memory
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

LAYOUTS = ("matrices", "curves", "full")
SHOWS = ("weights", "delta")
DELTA_SCALES = ("shared", "own")


@dataclass(frozen=True)
class WeightMatrixConfig:
    widths: tuple[int, ...] = param(
        (10, 100, 1000),
        "hidden widths m, one net (a panel, a curve) each, as M1,M2,...",
        ge=1,
        le=1_000_000,
    )
    depth: int = param(
        2,
        "number of hidden layers; the matrix shown is the one between hidden layers 1 and 2",
        ge=1,
        le=1000,
    )
    activation: str = param("relu", "activation of the hidden layers", choices=tuple(ACTIVATIONS))
    init: str = fan_in_init()
    bias: bool = param(True, "give every layer a bias")
    alpha: float = param(1.0, "output scale alpha (the loss is divided by alpha^2)", gt=0)
    count: int = param(
        1, "nets (seeds) per width: the curves show each, the matrices the first", ge=1, le=10_000
    )
    lr: float = param(1e-3, "learning rate of full-batch gradient descent", gt=0)
    steps: int = param(1000, "gradient descent steps", ge=1, le=10_000_000)
    snapshot_every: int = param(
        1, "with --clock linear: steps between snapshots (one frame each)", ge=1, le=10_000_000
    )
    # The loss falls over decades of steps and the wide nets stop (--stop-below) after ~200 of
    # the 1000: 100 frames spaced in log time show it all in 12 s (the post's one frame a step,
    # --clock linear, is 1001 frames, the last 800 nearly still). 100 frames: largest one-frame
    # share 4%, no near-static run, a fifth fewer bytes than 150.
    frames: int = param(100, "with --clock log: number of frames after step 0", ge=1, le=10_000_000)
    clock: str = clock_param("log")
    stop_below: float = param(
        1e-10, "a net stops training once its loss is below this (0: never)", ge=0
    )
    x_train: tuple[float, ...] = param((-3.0, 0.5), "training inputs, as X1,X2,...")
    y_train: tuple[float, ...] = param((2.0, -1.0), "training targets, one per input, as Y1,Y2,...")
    layout: str = param(
        "full",
        "the weight matrices (the post's animation), the relative "
        "change and loss curves (the post's second figure), or both (the default)",
        choices=LAYOUTS,
    )
    show: str = param(
        "weights",
        "the matrix W(n), colours fixed at W(0)'s range; or its change "
        "W(n) - W(0) on a scale symmetric about 0",
        choices=SHOWS,
    )
    delta_scale: str = param(
        "shared",
        "with --show delta: 'shared' puts every width on one scale, "
        "in units of that width's initial RMS weight, so wider nets visibly "
        "move less; 'own' stretches each width's largest change over its "
        "colour bar, to see its pattern",
        choices=DELTA_SCALES,
    )
    max_pixels: int = param(
        200,
        "matrices wider than this are shown as the means of f x f "
        "blocks, f = ceil(m / this), to bound memory (1000 -> 200 x 200)",
        ge=1,
        le=4096,
    )

    def check(self) -> None:
        check_data(self.x_train, self.y_train)
        if self.layout != "curves" and self.depth < 2:
            raise ConfigError(
                f"--depth {self.depth} has no hidden-to-hidden matrix: use --depth >= 2 "
                f"or --layout curves"
            )

    def net(self, width: int) -> NetSpec:
        return net_spec(self, width, *ARCHITECTURE, "alpha")

    @property
    def snapshots(self) -> int:
        """Snapshots taken: step 0 and ``frames`` steps spaced in log time (``--clock log``), or
        step 0, every ``snapshot_every`` steps, and the last step."""
        if self.clock == "log":
            return min(self.frames, self.steps) + 1
        return self.steps // self.snapshot_every + 1 + (self.steps % self.snapshot_every != 0)

    def snapshot_options(self) -> dict:
        """``train``'s snapshot option for this clock."""
        log = self.clock == "log"
        return snapshots(
            log_steps(self.steps, min(self.frames, self.steps)) if log else self.snapshot_every
        )

    def side(self, width: int) -> int:
        """Side of the matrix kept for ``width`` (m, or ceil(m / f) after f x f block means)."""
        return math.ceil(width / block_factor(width, self.max_pixels))


@dataclass(frozen=True)
class WeightMatrixResult:
    """widths (W,); steps (T,): the step of each snapshot; loss (T, W, K); relative_change
    (T, W, K): ||w(n) - w0||_2 / ||w0||_2 over all parameters; stopped (W, K): the step at which
    each net's loss fell below --stop-below (or the last step); sides (W,): side s of each width's
    kept matrix (0 with --layout curves, which keeps none); matrices (T, sum s^2), float32: the
    first net's hidden-to-hidden matrix per snapshot (means of f x f blocks if m > --max-pixels),
    each width's s x s flattened and concatenated in width order (float16 would lose W(n) - W(0)
    of the wide nets, about 1e-5 against weights of 1e-2); matrix_rms (W,), matrix_absmax (W,):
    RMS and largest |entry| of each width's full initial matrix; x_train, y_train (N,)."""

    widths: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    relative_change: np.ndarray
    stopped: np.ndarray
    sides: np.ndarray
    matrices: np.ndarray
    matrix_rms: np.ndarray
    matrix_absmax: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray

    def matrix(self, w: int, t: int | slice = slice(None)) -> np.ndarray:
        """Width number w's kept matrix at snapshot t: (s, s), a view; or for a slice of
        snapshots (default: all), (T', s, s), a copy."""
        sizes = np.asarray(self.sides, dtype=np.int64) ** 2
        start = int(sizes[:w].sum())
        side = int(self.sides[w])
        return (
            self.matrices[t, start : start + side * side]
            .reshape(-1, side, side)
            .squeeze(0 if isinstance(t, int) else ())
        )


@numeric
def simulate(
    config: WeightMatrixConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> WeightMatrixResult:
    """Train one ensemble of ``count`` nets per width by full-batch GD, one width after another."""
    progress = progress or Progress()
    specs = [config.net(width).check() for width in config.widths]
    for spec in specs:
        check_fits(spec, config.count, len(config.x_train), device)
    show_matrix = config.depth >= 2 and config.layout != "curves"  # else none is kept
    sides = [config.side(w) if show_matrix else 0 for w in config.widths]
    check_memory(
        4 * config.snapshots * sum(s * s for s in sides),
        f"{config.snapshots} snapshots of the weight matrices",
        "use a smaller --max-pixels, fewer --frames or a larger --snapshot-every",
    )
    x_train, y_train = data_tensors(config.x_train, config.y_train, device)
    seed = seed_of(generator)
    matrix_index = 2 if config.bias else 1  # [W1, b1, W2, ...]: W2 maps hidden layer 1 to 2
    losses, changes, stopped, matrices, rms, absmax = [], [], [], [], [], []
    for spec in specs:
        ensemble = Ensemble(spec, config.count, seed, device=device)

        def record(ens: Ensemble, step: int) -> dict[str, np.ndarray]:
            out = {"relative_change": relative_change(ens).cpu().numpy()}
            if show_matrix:
                shown = block_mean(ens.params[matrix_index][0], config.max_pixels)
                # A copy: on the CPU .numpy() would share memory with the weights trained in place.
                out["matrix"] = shown.reshape(-1).cpu().numpy().copy()
            return out

        if show_matrix:
            w0 = ensemble.params0[matrix_index][0]
            rms.append(float(torch.sqrt(torch.mean(w0.double() ** 2))))
            absmax.append(float(w0.abs().max()))
        trajectory = train_mse(
            ensemble,
            x_train,
            y_train,
            config,
            progress,
            **config.snapshot_options(),
            stop_below=config.stop_below or None,
            record=record,
            label=f"train m={spec.width}",
        )
        losses.append(trajectory.loss)
        changes.append(trajectory.records["relative_change"])
        stopped.append(trajectory.stopped)
        if show_matrix:
            matrices.append(trajectory.records["matrix"])
        steps = trajectory.steps
        del ensemble, trajectory
    count = len(steps)
    return WeightMatrixResult(
        widths=np.asarray(config.widths, dtype=np.int64),
        steps=steps,
        loss=np.stack(losses, axis=1),
        relative_change=np.stack(changes, axis=1),
        stopped=np.stack(stopped),
        sides=np.asarray(sides, dtype=np.int64),
        matrices=np.concatenate(matrices, axis=1) if matrices else np.zeros((count, 0), np.float32),
        matrix_rms=np.asarray(rms if rms else [math.nan] * len(specs)),
        matrix_absmax=np.asarray(absmax if absmax else [math.nan] * len(specs)),
        x_train=np.asarray(config.x_train, dtype=np.float32),
        y_train=np.asarray(config.y_train, dtype=np.float32),
    )


class WeightMatrixRenderer(Renderer):
    """Top: each width's matrix on a diverging scale symmetric about 0 (weights are signed); the
    wide ones as block means, said in the panel. Bottom: the relative weight change (log scale:
    the widths differ by decades) and the loss, growing with the frames."""

    frames_of = "steps"

    def setup(self) -> None:
        layout = self.config.layout
        self.images: list = []
        self.curves: list = []
        if layout == "full":
            top, bottom = self.figure.subfigures(2, 1, height_ratios=(1.15, 1.0))
        else:
            top = bottom = self.figure
        if layout in ("matrices", "full"):
            self._matrix_panels(top)
        if layout in ("curves", "full"):
            self._curve_panels(bottom)
        what = "W(n) - W(0)" if self.config.show == "delta" else "W(n)"
        self.figure.suptitle(
            f"Weights between the hidden layers, {what}, as nets of three widths train"
            if self.images and self.curves
            else f"Weights between the hidden layers, {what}"
            if self.images
            else "How much the weights budge, and the loss"
        )
        self.counter = self.figure.text(
            0.995, 0.995, " ", ha="right", va="top", fontsize=self.style.small
        )
        self.overlay(self.counter)
        self.key_frame = self.count - 1  # the end of training: the curves complete

    def _matrix_panels(self, where) -> None:
        r, config, style = self.result, self.config, self.style
        axes = where.subplots(1, len(r.widths), squeeze=False)[0]
        self.keep_row(axes[0], aspect=1.4)  # square matrices, titled: a narrow figure keeps the row
        delta = config.show == "delta"
        if delta:
            # Delta in units of each width's initial RMS weight ('shared'), or raw ('own').
            units = r.matrix_rms if config.delta_scale == "shared" else np.ones(len(r.widths))
            changes = [largest_change(r, w) / units[w] for w in range(len(r.widths))]
            shared = max(max(changes), 1e-12)
        for w, ax in enumerate(axes):
            width, side = int(r.widths[w]), int(r.sides[w])
            start = r.matrix(w, 0)
            if delta:
                unit = float(units[w])
                limit = shared if config.delta_scale == "shared" else max(changes[w], 1e-12)
                image = CellImage.show(
                    ax, np.zeros_like(start), cmap=style.diverging, vmin=-limit, vmax=limit
                )
            else:
                unit = 1.0
                limit = max(float(np.abs(start).max()), 1e-12)
                image = CellImage.show(ax, start, cmap=style.diverging, vmin=-limit, vmax=limit)
            image.set_interpolation("nearest")
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"m = {width}")
            if side < width:
                f = block_factor(width, config.max_pixels)
                # Averaging f^2 weights narrows their spread: the colours are the means' range.
                label = f"means of {f}x{f} blocks"
                if not delta:
                    label += "\n(colour scale: the means')"
                ax.set_xlabel(label, fontsize=style.small)
            # The colour bar hugs the square image (an inset in axes coordinates), not the
            # taller layout cell that an aspect-locked axes sits in.
            bar = where.colorbar(image, cax=ax.inset_axes([1.04, 0.0, 0.06, 1.0]))
            bar.set_ticks([-limit, 0.0, limit])
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
            bar.ax.tick_params(labelsize=style.small)
            if delta and config.delta_scale == "shared" and w == len(r.widths) - 1:
                bar.set_label(r"$\Delta W$ / RMS($W_0$)", fontsize=style.small)
            self.animate(image)
            # Frames are coloured here (RGBA bytes), which skips matplotlib's float image
            # pipeline: a third less time a frame; the colour bar keeps the float mapping.
            self.images.append((image, w, start if delta else None, unit, image.cmap, image.norm))

    def _curve_panels(self, where) -> None:
        r, style = self.result, self.style
        change_ax, loss_ax = where.subplots(1, 2)
        last = float(r.steps[-1]) if r.steps[-1] > 0 else 1.0
        colors = style.run_colors(len(r.widths))
        log_time = self.config.clock == "log" and last > 1
        for ax, values, label in (
            (change_ax, r.relative_change, r"$\|w(n) - w_0\|_2 \,/\, \|w_0\|_2$"),
            (loss_ax, r.loss, "training loss"),
        ):
            step_axis(ax, last, log_time)  # log time: so is the axis
            ax.set_xlabel("step")
            ax.set_ylabel(label)
            ax.set_yscale("log")
            for w, width in enumerate(r.widths):
                for k in range(values.shape[2]):
                    look = style.look("run", colors[w], alpha=1.0 if k == 0 else 0.5)
                    (line,) = ax.plot([], [], label=f"m = {width}" if k == 0 else None, **look)
                    self.animate(line)
                    # step 0's relative change is 0, off a log axis: that curve starts at step 1
                    # (so do both on a log step axis). A net that stopped (--stop-below) has
                    # no loss after its stop: its loss line ends there instead of lying flat
                    # at the threshold like a plateau.
                    first = 1 if values is r.relative_change or log_time else 0
                    end = int(r.stopped[w, k]) if values is r.loss else int(r.steps[-1])
                    self.curves.append((line, values[:, w, k], first, end))
        # Log scale: the widths' changes differ by decades. Step 0's change is 0 (off a log
        # axis), so each curve starts at the first step; the view starts a decade below the
        # smallest final change, so the early rise of the widest net enters the view.
        final = r.relative_change[-1]
        final = final[np.isfinite(final) & (final > 0)]
        top = float(np.nanmax(r.relative_change)) if r.relative_change.size else 1.0
        if final.size and top > 0:
            change_ax.set_ylim(float(final.min()) / 10, top * 2)
        log_ylim(loss_ax, [r.loss], 3, 3)
        # Drawn over the growing curves each frame (a static legend would sit beneath them).
        self.overlay(change_ax.legend(loc="lower right", **style.legend()))

    def update(self, i: int) -> bool:
        r = self.result
        for image, w, start, unit, cmap, norm in self.images:
            values = r.matrix(w, i)
            if start is not None:
                values = (values - start) / unit
            image.set_data(cmap(norm(values), bytes=True))
        for line, values, first, end in self.curves:
            steps, shown = r.steps[first : i + 1], values[first : i + 1]
            line.set_data(steps[steps <= end], shown[steps <= end])
        self.counter.set_text(f"step {int(r.steps[i])}")
        return False


def largest_change(result: WeightMatrixResult, w: int, chunk: int = 64) -> float:
    """max over snapshots of |W(n) - W(0)| for width number w, in chunks (bounded memory)."""
    start, largest = result.matrix(w, 0), 0.0
    for t in range(0, len(result.steps), chunk):
        block = result.matrix(w, slice(t, t + chunk))
        largest = max(largest, float(np.abs(block - start).max()))
    return largest


def facts(result: WeightMatrixResult, config: WeightMatrixConfig) -> dict:
    """The caption's numbers: each width's relative change and loss at the end (first net),
    how much the first width's shown matrix moved, and the block-mean panel's colour range."""
    r = result
    widths = [int(m) for m in r.widths]
    change = r.relative_change[-1, :, 0]
    loss = r.loss[-1, :, 0]
    out: dict = {
        "steps": int(r.steps[-1]),
        "widths": listed([str(m) for m in widths]),
        "changes": listed([f"{c:.2g}" for c in change]),
        "losses": listed([f"{v:.1e}" for v in loss]),
        "narrow": widths[0],
        "stop_below": float(config.stop_below),
        "stop_note": (
            f" (a net stops training once its loss is below {config.stop_below:.0e})"
            if config.stop_below > 0
            else ""
        ),
    }
    for w, m in enumerate(widths):
        out[f"change_m{m}"] = float(change[w])
        out[f"loss_m{m}"] = float(loss[w])
    # The matrix panels' sentences (none with --layout curves, which keeps no matrices).
    matrices, frozen = "", False
    if r.sides.size and r.sides[0] > 0:
        scale_note = {
            "weights": "each on its own colour scale symmetric about 0 (W(0)'s largest entry)",
            "delta-shared": "shown as their change W(n) - W(0) on one colour scale for all "
            "widths, in units of each width's initial RMS weight",
            "delta-own": "shown as their change W(n) - W(0), each width's largest change "
            "stretched over its own colour bar",
        }["weights" if config.show == "weights" else f"delta-{config.delta_scale}"]
        matrices = (
            f"{'Top: t' if config.layout == 'full' else 'T'}he weights between the two hidden "
            f"layers of nets of widths {out['widths']} during {out['steps']} steps of gradient "
            f"descent, {scale_note}."
        )
        # How much each panel's picture changes: ||shown(n) - shown(0)|| / ||shown(0)||.
        moved = []
        for w, m in enumerate(widths):
            start, end = r.matrix(w, 0), r.matrix(w, len(r.steps) - 1)
            out[f"matrix_change_m{m}"] = float(np.linalg.norm(end - start) / np.linalg.norm(start))
            moved.append(out[f"matrix_change_m{m}"])
        matrices += f" Width {widths[0]}'s matrix changes by {moved[0]:.1%} of its size"
        if len(widths) > 1:
            panels = "panel of width" if len(widths) == 2 else "panels of widths"
            matrices += (
                f" (the {panels} {listed([str(m) for m in widths[1:]])}: "
                f"{listed([f'{v:.1%}' for v in moved[1:]])})"
            )
            # Said only when it is so: every wider panel changes 3x less than the narrowest.
            frozen = max(moved[1:]) < moved[0] / 3
            if frozen:
                matrices += ", so the wider ones look frozen"
        matrices += "."
        for w, m in enumerate(widths):
            side = int(r.sides[w])
            if side < m:
                f = block_factor(m, config.max_pixels)
                shown = float(np.abs(r.matrix(w, 0)).max())
                out[f"block_limit_m{m}"] = shown
                out[f"weight_limit_m{m}"] = float(r.matrix_absmax[w])
                matrices += (
                    f" The m = {m} panel shows the means of {f}x{f} blocks ({side} x {side} cells)"
                )
                matrices += (
                    f", coloured on the range of those means (+-{shown:.2g}), narrower than the "
                    f"weights' own (+-{r.matrix_absmax[w]:.2g})."
                    if config.show == "weights"
                    else "."
                )
        matrices += " "
    out["matrices"] = matrices
    out["curves"] = {
        "full": f"Bottom{': why --' if frozen else ':'} the relative change of all weights, "
        "||w(n) - w0|| / ||w0|| (log scale),",
        "curves": "The relative change of all weights, ||w(n) - w0|| / ||w0|| (log scale),",
        "matrices": "The relative change of all weights, ||w(n) - w0|| / ||w0|| (drawn with "
        "--layout full or curves),",
    }[config.layout]
    falling = all(a > b for a, b in zip(change, change[1:]))
    out["trend"] = (
        "The wider the net, the less its weights move: relative"
        if falling and len(widths) > 1
        else "Relative"
    )
    out["show_note"] = (
        " --show delta shows W(n) - W(0) itself."
        if config.show == "weights" and config.layout != "curves"
        else ""
    )
    return out


SPEC = figure_spec(
    globals(),
    summary="The weights between the two hidden layers as nets of widths 10, 100, 1000 train; "
    "the wider the net, the less its weights budge.",
    style=Style(size=(16.0, 11.0)),
    quick={"steps": 300, "snapshot_every": 10, "frames": 40},
    caption="{matrices}{curves} ends at {changes} for widths {widths} after {steps} steps, "
    "while the training loss falls to {losses}{stop_note}.{show_note}",
    reading="{trend} weight change after {steps} steps {changes} for widths {widths}.",
)
