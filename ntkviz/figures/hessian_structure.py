"""hessian-structure: the real Hessian of the post's one-hidden-layer net as the width grows.

Post ("One Hidden Layer Network proof", "Hessian"): for ``y = f(x, w) = sum_i b_i phi(a_i x)``
with ``w = (a_1..a_m, b_1..b_m)``, a_i ~ N(0, 1), b_i ~ N(0, 1/m),

    d2y/da_i^2 = b_i x^2 phi''(a_i x),  d2y/da_i db_i = x phi'(a_i x),  d2y/db^2 = 0,

every other entry 0: three diagonal blocks ("hessian mat"). The post then swaps the top m rows
with the bottom m rows (``P H``, an orthogonal permutation, so the operator norm is unchanged)
and gets a lower-triangular matrix whose diagonal is the a-b block and whose off-diagonal block is
the a-a block; that block's entries carry b_i ~ m^-1/2, so "this matrix approaches a diagonal
matrix as m -> infinity" ("hessian"). Reordering rows and columns as (a_1, b_1, a_2, b_2, ...)
instead shows the same fact as 2 x 2 blocks on the diagonal (``--permutation pairs``).

Here every matrix is a real dense Hessian from ``torch.func.hessian`` in float64 at a random
LeCun initialisation (:func:`ntkviz.numerics.curvature.init_params`), one frame per width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.ticker import FuncFormatter, NullLocator

from ntkviz.config import param
from ntkviz.drawing.axes import plain_log_labels
from ntkviz.drawing.canvas import Renderer, Style
from ntkviz.errors import ConfigError
from ntkviz.figures.base import figure_spec
from ntkviz.figures.common import (
    curvature_activation,
    group_slopes,
    log_log_fit,
    slope_facts,
)
from ntkviz.numerics import curvature
from ntkviz.numerics.hessian_blocks import (
    PERMUTATIONS,
    block_ratios,
    block_ratios_closed,
    permute,
)
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import numeric

OF_CHOICES = ("output", "loss")
#: Nets per group for the slopes' spread: the S nets per width split into S // GROUP groups.
GROUP = 8
LAYOUTS = ("both", "raw", "permuted")
STORED_COPIES = 2  # the raw and the permuted (W, 2M, 2M) arrays of the Result


@dataclass(frozen=True)
class HessianStructureConfig:
    widths: tuple[int, ...] = param(
        (2, 4, 8, 16, 32, 64, 128),
        "hidden widths m, one frame "
        "each, as M1,M2,... (sorted, repeats dropped); the Hessian is "
        "a dense 2m x 2m matrix",
        ge=1,
    )
    # Fixed rather than drawn: x scales the a-b block by x and the a-a block by x^2, so a draw
    # near 0 would blank both pictures. 1 is a typical |x| for x ~ N(0, 1) (the author's draw).
    x: float = param(1.0, "the input x at which the Hessian is taken (not 0)")
    of: str = param(
        "output",
        "Hessian of the output f(x, w) (the post's pictures) or of the "
        "loss 1/2 (f(x, w) - y)^2 = (f - y) Hess f + grad f grad f^T",
        choices=OF_CHOICES,
    )
    y: float = param(1.0, "the target y of --of loss")
    activation: str = curvature_activation()
    sharpness: float = param(5.0, "sharpness s of relu-smooth, softplus(s z) / s", gt=0)
    layout: str = param(
        "both",
        "matrix panels: the raw Hessian and its permuted form, or one "
        "of them (the scale panel is always shown)",
        choices=LAYOUTS,
    )
    permutation: str = param(
        "swap",
        "the permuted form: swap = the post's P H, top m rows moved "
        "below the bottom m (lower triangular for --of output); pairs = rows "
        "and columns ordered (a1, b1, a2, b2, ...) (2 x 2 blocks on the "
        "diagonal)",
        choices=PERMUTATIONS,
    )

    ratio_max_width: int = param(
        32768,
        "the ratio panel's widths: powers of 2 up to this, with the matrix widths "
        "(block ratios in closed form from the three diagonal blocks, O(m) a net)",
        ge=2,
        le=10_000_000,
    )
    seeds: int = param(
        32,
        "initialisations averaged at each width of the ratio panel (the first is the net "
        "whose matrix is shown)",
        ge=1,
        le=10_000,
    )

    def check(self) -> None:
        if self.x == 0:
            raise ConfigError("--x must not be 0: there every entry of the output Hessian is 0")
        check_memory(self.widths)


def check_memory(widths: tuple[int, ...], limit_bytes: int | None = None) -> None:
    """Refuse widths whose dense Hessians would not fit, naming --widths and the estimate.

    The estimate is (2M)^2 * 8 bytes a matrix (M the largest width): ``curvature.dense_bytes``
    for computing one (torch.func.hessian's intermediates, eigvalsh) plus the Result's raw and
    permuted (W, 2M, 2M) float64 arrays.
    """
    if not widths:
        return
    largest, count = max(widths), len(set(widths))
    n = 2 * largest
    need = curvature.dense_bytes(n) + STORED_COPIES * count * n * n * 8
    limit = curvature.memory_limit_bytes() if limit_bytes is None else limit_bytes
    if need > limit:
        raise ConfigError(
            f"--widths: width {largest} needs about {curvature.format_bytes(need)} for its dense "
            f"{n} x {n} Hessian ((2m)^2 x 8 bytes each, computed and kept for {count} width(s)), "
            f"over the limit of {curvature.format_bytes(limit)}: use smaller widths"
        )


def ratio_widths(config: HessianStructureConfig) -> np.ndarray:
    """The ratio panel's widths (R,) int64: powers of 2 up to --ratio-max-width, and the
    matrix widths."""
    powers = 2 ** np.arange(1, int(math.log2(config.ratio_max_width)) + 1)
    return np.unique(np.concatenate([powers, np.asarray(config.widths)]).astype(np.int64))


@dataclass(frozen=True)
class HessianStructureResult:
    """W widths, M = their largest; every (2m, 2m) matrix sits top-left in a zero-padded slot.

    widths (W,) int64, increasing; a, b (W, M): the parameters of each width's net (zero-padded);
    hessians (W, 2M, 2M): the raw Hessian, parameters ordered (a_1..a_m, b_1..b_m);
    permuted (W, 2M, 2M): its permuted form (see ``--permutation``);
    max_ratio (W,): max |a-a block| / max |a-b block|; frobenius_ratio (W,): ||H_aa||_F / ||H_ab||_F
    of the shown nets; ratio_widths (R,): the ratio panel's widths; ratios (S, R, 2): those two
    ratios for S initialisations at each of them (initialisation 0 is the shown net where the
    widths meet), in closed form; ratio_mean (R, 2): their mean over the S initialisations;
    slopes (2,): least-squares log-log slopes of ``ratio_mean`` against m (NaN with one width);
    spectral_norm (W,): max |eigenvalue| of the dense Hessian; exact_norm (W,): the closed form
    :func:`ntkviz.numerics.curvature.hessian_norm_exact` (NaN for --of loss, where it does not apply);
    output (W,): f(x, w0); x, y: the input and target; scale: max |entry| over all frames.
    """

    widths: np.ndarray
    a: np.ndarray
    b: np.ndarray
    hessians: np.ndarray
    permuted: np.ndarray
    max_ratio: np.ndarray
    frobenius_ratio: np.ndarray
    ratio_widths: np.ndarray
    ratios: np.ndarray
    ratio_mean: np.ndarray
    slopes: np.ndarray
    spectral_norm: np.ndarray
    exact_norm: np.ndarray
    output: np.ndarray
    x: float
    y: float
    scale: float


@numeric
def simulate(
    config: HessianStructureConfig,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> HessianStructureResult:
    """Dense Hessians (torch.func.hessian, float64, CPU) of each width's freshly drawn net.

    One seed is drawn from ``generator``; each width has its own stream from it
    (:func:`ntkviz.figures.kappa_scaling.width_generator`), so the net at width m does not depend
    on which other widths are listed. ``device`` is ignored: the matrices are small and the
    draws must match across machines.
    """
    from torch.func import hessian

    progress = progress or Progress()
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    widths = np.unique(np.asarray(config.widths, dtype=np.int64))
    big, count = int(widths[-1]), len(widths)
    member = int(torch.randint(0, 2**62, (1,), generator=generator))
    act = curvature.activation(config.activation, config.sharpness)
    net = curvature.network(config.x, act)

    def loss(w: torch.Tensor) -> torch.Tensor:
        return 0.5 * (net(w) - config.y) ** 2

    fn = net if config.of == "output" else loss
    a_all, b_all = np.zeros((count, big)), np.zeros((count, big))
    raw = np.zeros((count, 2 * big, 2 * big))
    permuted = np.zeros_like(raw)
    ratios = np.zeros((count, 2))
    spectral, exact, output = np.zeros(count), np.full(count, np.nan), np.zeros(count)
    with progress.stage("simulate", count) as advance:
        for k, width in enumerate(widths):
            m = int(width)
            a, b = curvature.init_params(m, curvature.width_generator(member, m))
            w = curvature.flatten(a, b)
            matrix = hessian(fn)(w)
            spectral[k] = float(torch.linalg.eigvalsh(matrix).abs().max())
            if config.of == "output":
                exact[k] = float(curvature.hessian_norm_exact(a, b, config.x, act))
            output[k] = float(net(w))
            h = matrix.numpy()
            a_all[k, :m], b_all[k, :m] = a.numpy(), b.numpy()
            raw[k, : 2 * m, : 2 * m] = h
            permuted[k, : 2 * m, : 2 * m] = permute(h, config.permutation)
            ratios[k] = block_ratios(h)
            advance(1)
    # The ratio panel: many initialisations at many widths, from the block structure (O(m)
    # each, so widths of 10^4-10^5 stay cheap where a dense Hessian could not be formed).
    members = [member] + [
        int(torch.randint(0, 2**62, (1,), generator=generator)) for _ in range(config.seeds - 1)
    ]
    wide = ratio_widths(config)
    samples = np.zeros((config.seeds, len(wide), 2))
    with progress.stage("ratios", config.seeds) as advance:
        for s, seed in enumerate(members):
            for j, width in enumerate(wide):
                a, b = curvature.init_params(
                    int(width), curvature.width_generator(seed, int(width))
                )
                samples[s, j] = block_ratios_closed(a, b, config.x, act, config.of, config.y)
            advance(1)
    mean = samples.mean(axis=0)
    slopes = np.array([log_log_fit(wide, mean[:, j])[0] for j in range(2)])
    scale = float(np.abs(raw).max())
    return HessianStructureResult(
        widths=widths,
        a=a_all,
        b=b_all,
        hessians=raw,
        permuted=permuted,
        max_ratio=ratios[:, 0],
        frobenius_ratio=ratios[:, 1],
        ratio_widths=wide,
        ratios=samples,
        ratio_mean=mean,
        slopes=slopes,
        spectral_norm=spectral,
        exact_norm=exact,
        output=output,
        x=float(config.x),
        y=float(config.y),
        scale=scale if scale > 0 else 1.0,
    )


# -- drawing ------------------------------------------------------------------------------------


def _matrix_labels(kind: str, permutation: str, of: str) -> tuple[str, list[str], list[str]]:
    """(title, row labels, column labels) of a matrix panel; labels sit at block centres."""
    hess = r"\nabla_w^2 f" if of == "output" else r"\nabla_w^2 L"
    if kind == "raw":
        return rf"${hess}$, $w = (a_1..a_m,\ b_1..b_m)$", ["$a$", "$b$"], ["$a$", "$b$"]
    if permutation == "swap":
        return rf"rows swapped: $P\,{hess}$", ["$b$", "$a$"], ["$a$", "$b$"]
    return rf"${hess}$ reordered $(a_1, b_1, a_2, b_2, \dots)$", [], []


#: The still is the largest width whose matrix entries are still cells a reader can see.
STILL_MAX_SIDE = 64


class HessianStructureRenderer(Renderer):
    """Matrix panels: one frame per width, on one diverging colour scale. The ratio panel is the
    measurement over many nets and widths (static), with the shown net's own ratios as markers
    that move to the current width."""

    frames_of = "widths"

    def setup(self) -> None:
        r, config, style = self.result, self.config, self.style
        kinds = {"both": ("raw", "permuted"), "raw": ("raw",), "permuted": ("permuted",)}[
            config.layout
        ]
        grid = self.figure.add_gridspec(1, len(kinds) + 1, width_ratios=[1] * len(kinds) + [1.25])
        self.images = []
        matrix_axes = []
        for column, kind in enumerate(kinds):
            ax = self.figure.add_subplot(grid[0, column])
            ax.grid(False)
            # One AxesImage per panel for every width: set_data takes an array of any shape and
            # the fixed extent -- in units of m, so 0..2 on both axes -- stretches each 2m x 2m
            # matrix over the same square, so the panel never has to be rebuilt as m changes.
            # Matplotlib resamples to screen pixels at each draw: nearest when upsampling (each
            # entry a crisp cell); 'antialiased' filters when a big matrix is squeezed into few
            # pixels, so one-entry-wide diagonals fade rather than vanish between samples.
            image = ax.imshow(
                self._matrix(kind, 0),
                cmap=style.diverging,
                vmin=-r.scale,
                vmax=r.scale,
                extent=(0.0, 2.0, 2.0, 0.0),
                interpolation="antialiased",
                aspect="equal",
            )
            title, rows, cols = _matrix_labels(kind, config.permutation, config.of)
            ax.set_title(title, fontsize=style.small)
            self.images.append((kind, image))
            matrix_axes.append(ax)
            self.animate(image)
            if rows:
                ax.set_xticks([0.5, 1.5], cols)
                ax.set_yticks([0.5, 1.5], rows)
                # The a | b block borders, drawn over the (animated, hence blitted-last) image.
                guide = style.look("guide", style.color("reference"), alpha=0.8)
                self.overlay(ax.axhline(1.0, **guide), ax.axvline(1.0, **guide))
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel("pairs $(a_i, b_i)$, $i = 1..m$", fontsize=style.small)
        bar = self.figure.colorbar(self.images[0][1], ax=matrix_axes, shrink=0.8, pad=0.02)
        bar.set_ticks(np.linspace(-r.scale, r.scale, 5))
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
        bar.ax.yaxis.set_minor_locator(NullLocator())

        ax = self.figure.add_subplot(grid[0, -1])
        self._scale_panel(ax)
        what = r"$f(x, w)$" if config.of == "output" else r"$L = \frac{1}{2}(f(x, w) - y)^2$"
        self.heading = (
            f"Hessian of {what}, $f = \\sum_i b_i\\,\\mathrm{{{config.activation}}}"
            f"(a_i x)$, $x$ = {r.x:g}" + (f", $y$ = {r.y:g}" if config.of == "loss" else "")
        )
        self.title = self.figure.suptitle(" ")
        self.overlay(self.title)
        # The still: the largest width whose 2m x 2m entries are still visible cells (at the
        # largest widths the diagonals are one pixel wide).
        visible = np.nonzero(2 * r.widths <= STILL_MAX_SIDE)[0]
        self.key_frame = int(visible[-1]) if visible.size else 0

    def _matrix(self, kind: str, i: int) -> np.ndarray:
        n = 2 * int(self.result.widths[i])
        source = self.result.hessians if kind == "raw" else self.result.permuted
        return source[i, :n, :n]

    def _scale_panel(self, ax) -> None:
        r, style = self.result, self.style
        wide = r.ratio_widths.astype(float)
        seeds = r.ratios.shape[0]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(wide[0] / 1.5, wide[-1] * 1.5)
        ax.set_xlabel("width $m$")
        ax.set_title(
            "a-a block against a-b block" + (f", mean of {seeds} nets" if seeds > 1 else ""),
            fontsize=style.small,
        )
        values = np.concatenate([r.ratio_mean.ravel(), r.max_ratio, r.frobenius_ratio])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            low, high = math.log10(values.min() / 1.5), math.log10(values.max() * 1.5)
            if high - low < 1:
                middle = 0.5 * (low + high)
                low, high = middle - 0.5, middle + 0.5
            ax.set_ylim(10**low, 10**high)
        self.now = []
        names = (r"max$|H_{aa}|$ / max$|H_{ab}|$", r"$\Vert H_{aa}\Vert_F / \Vert H_{ab}\Vert_F$")
        shown = (r.max_ratio, r.frobenius_ratio)
        for q, (name, marker) in enumerate(zip(names, ("o", "s"), strict=True)):
            color = style.run_color(q)
            slope = r.slopes[q]
            fitted = "" if not math.isfinite(slope) else f", fit {slope:+.2f}"
            mean = r.ratio_mean[:, q]
            look = style.look("run", color, marker=marker, ms=2.2 * style.line_width)
            ax.plot(wide, mean, **{**look, "linestyle": "none"}, label=name + fitted)
            keep = np.isfinite(mean) & (mean > 0)
            if math.isfinite(slope) and keep.sum() >= 2:
                intercept = np.mean(np.log10(mean[keep]) - slope * np.log10(wide[keep]))
                span = wide[keep][[0, -1]]  # the fit over the widths it was fitted to
                ax.plot(
                    span, 10 ** (intercept + slope * np.log10(span)), **style.look("fit", color)
                )
            # The net whose matrix is shown: its own ratio at the current width.
            (now,) = ax.plot(
                [], [], **style.look("now", color, marker=marker, ms=3.2 * style.line_width)
            )
            now.set_markerfacecolor("none")
            now.set_markeredgecolor(color)
            self.now.append((now, shown[q]))
            self.animate(now)
        keep = np.isfinite(r.ratio_mean[:, 1]) & (r.ratio_mean[:, 1] > 0)
        if keep.sum() >= 1 and len(wide) > 1:
            # Theory: the a-a entries carry b_i ~ m^-1/2, the a-b ones do not, so the ratio of
            # Frobenius norms goes as m^-1/2 (||H_aa||_F = O(1), ||H_ab||_F = O(sqrt m)). For
            # --of loss too: the rank-one grad grad^T part adds blocks of those same orders.
            # The largest entries carry an extra slowly growing factor (the largest of m draws).
            logs = np.log10(r.ratio_mean[keep, 1]) + 0.5 * np.log10(wide[keep])
            span = wide[[0, -1]]
            ax.plot(
                span,
                10 ** (np.mean(logs) - 0.5 * np.log10(span)),
                **style.look("theory"),
                label=r"theory: slope $-1/2$",
            )
        ax.plot(
            [],
            [],
            **style.look(
                "now",
                style.color("reference"),
                marker="o",
                ms=3.2 * style.line_width,
                markerfacecolor="none",
                markeredgecolor=style.color("reference"),
            ),
            label="the net shown",
        )
        for axis in (ax.xaxis, ax.yaxis):  # 2, 30, 0.4 rather than 2 x 10^0 (which collide)
            plain_log_labels(axis)
        self.overlay(ax.legend(**style.legend(loc="lower left")))

    def update(self, i: int) -> bool:
        r = self.result
        for kind, image in self.images:
            image.set_data(self._matrix(kind, i))
        for now, series in self.now:
            now.set_data([float(r.widths[i])], [series[i]])
        m = int(r.widths[i])
        self.title.set_text(f"{self.heading}:   width $m$ = {m}  ({2 * m} x {2 * m})")
        return False


def facts(result: HessianStructureResult, config: HessianStructureConfig) -> dict:
    """The caption's numbers: the mean ratios' slopes, their spread over groups of nets."""
    groups = group_slopes(result.ratio_widths, result.ratios, GROUP)
    over, absent = f"groups of {GROUP} nets", "none (fewer than two widths to fit)"
    if not np.any(result.ratios[..., 1] > 0):  # relu: phi'' = 0 away from the kink
        absent = f"none: the a-a block is zero at every width (phi'' = 0 for {config.activation})"
    texts = [
        slope_facts(float(result.slopes[j]), groups[:, j], -0.5, "-1/2", over, absent)
        for j in range(2)
    ]
    return {
        "max_slope": float(result.slopes[0]),
        "frobenius_slope": float(result.slopes[1]),
        "max_slope_text": texts[0][0],
        "frobenius_slope_text": texts[1][0],
        "frobenius_verdict": texts[1][1],
        "seeds": int(result.ratios.shape[0]),
        "min_ratio_width": int(result.ratio_widths[0]),
        "max_ratio_width": int(result.ratio_widths[-1]),
        "min_width": int(result.widths[0]),
        "max_width": int(result.widths[-1]),
        "norm_first": float(result.spectral_norm[0]),
        "norm_last": float(result.spectral_norm[-1]),
        "activation": config.activation,
        "what": "f(x, w)" if config.of == "output" else "the loss 1/2 (f(x, w) - y)^2",
        "structure": STRUCTURE[config.of],
    }


STRUCTURE = {
    "output": "Raw (a, b order): three diagonal blocks -- a-a with entries "
    "b_i x^2 phi''(a_i x), the a-b pair with x phi'(a_i x), and b-b = 0. Rows swapped (the "
    "post's P H): lower triangular with the a-b entries on the diagonal.",
    "loss": "The loss Hessian is (f - y) times the output's three diagonal blocks plus the "
    "rank-one grad f grad f^T, which fills every block with small entries.",
}


SPEC = figure_spec(
    globals(),
    summary="The real Hessian of the one-hidden-layer tanh net, raw and permuted, as the width "
    "grows: the a-a block fades like m^-1/2 against the a-b blocks.",
    style=Style(size=(18.0, 6.5)),
    fps=1.0,  # one frame per width: a second each to read the matrix
    quick={"widths": (2, 4, 8, 16, 32)},
    caption="Dense Hessians of {what}, f = sum_i b_i {activation}(a_i x), at LeCun "
    "initialisation, one frame per width m = {min_width} to {max_width} on one fixed colour "
    "scale. {structure} The a-a entries carry b_i ~ N(0, 1/m), so that block fades against "
    "the a-b block. Right: both blocks' ratios averaged over {seeds} nets at widths "
    "{min_ratio_width} to {max_ratio_width} (in closed form from the blocks; open markers: the "
    "net shown): the ratio of Frobenius norms has fitted slope {frobenius_slope_text} "
    "({frobenius_verdict}); the ratio of the largest entries falls more slowly, slope "
    "{max_slope_text}, "
    "as the largest of m entries grows with m. The operator norm stays O(1): "
    "{norm_first:.2f} at m = {min_width}, {norm_last:.2f} at m = {max_width}.",
    reading="The a-a block fades as the width grows: its size relative to the a-b block "
    "falls with slope {frobenius_slope_text} over {seeds} nets per width ({frobenius_verdict}).",
)
