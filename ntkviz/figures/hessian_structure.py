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
LeCun initialisation (:func:`ntkviz.curvature.init_params`), one frame per width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.ticker import LogFormatterSciNotation

from ntkviz import curvature
from ntkviz.canvas import Renderer, Style
from ntkviz.config import param
from ntkviz.errors import ConfigError
from ntkviz.figures.base import FigureSpec
from ntkviz.figures.kappa_scaling import loglog_fit, width_generator
from ntkviz.progress import Progress

OFS = ("output", "loss")
LAYOUTS = ("both", "raw", "permuted")
PERMUTATIONS = ("swap", "pairs")
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
        choices=OFS,
    )
    y: float = param(1.0, "the target y of --of loss")
    activation: str = param(
        "tanh", "the activation phi: " + curvature.ACTIVATION_HELP, choices=curvature.ACTIVATIONS
    )
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


def permutation_index(width: int, how: str) -> tuple[np.ndarray, np.ndarray]:
    """(row order, column order), each (2m,): the permuted form is ``H[np.ix_(rows, cols)]``.

    ``swap``: rows (b_1..b_m, a_1..a_m), columns unchanged -- the post's ``P H``.
    ``pairs``: rows and columns (a_1, b_1, a_2, b_2, ...) -- ``P H P^T``, block-diagonal.
    """
    order = np.arange(2 * width)
    if how == "swap":
        return np.roll(order, -width), order
    if how == "pairs":
        paired = order.reshape(2, width).T.ravel()
        return paired, paired
    raise ConfigError(f"--permutation must be one of {', '.join(PERMUTATIONS)} (got {how!r})")


def permute(hessian: np.ndarray, how: str) -> np.ndarray:
    """The permuted form of a (2m, 2m) Hessian in the order (a_1..a_m, b_1..b_m)."""
    rows, cols = permutation_index(hessian.shape[-1] // 2, how)
    return hessian[np.ix_(rows, cols)]


def block_ratios(hessian: np.ndarray) -> tuple[float, float]:
    """(max |a-a entry| / max |a-b entry|, ||H_aa||_F / ||H_ab||_F) of a (2m, 2m) Hessian."""
    m = hessian.shape[-1] // 2
    aa, ab = hessian[:m, :m], hessian[:m, m:]
    return (
        float(np.abs(aa).max() / np.abs(ab).max()),
        float(np.linalg.norm(aa) / np.linalg.norm(ab)),
    )


@dataclass(frozen=True)
class HessianStructureResult:
    """W widths, M = their largest; every (2m, 2m) matrix sits top-left in a zero-padded slot.

    widths (W,) int64, increasing; a, b (W, M): the parameters of each width's net (zero-padded);
    hessians (W, 2M, 2M): the raw Hessian, parameters ordered (a_1..a_m, b_1..b_m);
    permuted (W, 2M, 2M): its permuted form (see ``--permutation``);
    max_ratio (W,): max |a-a block| / max |a-b block|; frobenius_ratio (W,): ||H_aa||_F / ||H_ab||_F;
    slopes (2,): least-squares log-log slopes of those two against m (NaN with one width);
    spectral_norm (W,): max |eigenvalue| of the dense Hessian; exact_norm (W,): the closed form
    :func:`ntkviz.curvature.hessian_norm_exact` (NaN for --of loss, where it does not apply);
    output (W,): f(x, w0); x, y: the input and target; scale: max |entry| over all frames.
    """

    widths: np.ndarray
    a: np.ndarray
    b: np.ndarray
    hessians: np.ndarray
    permuted: np.ndarray
    max_ratio: np.ndarray
    frobenius_ratio: np.ndarray
    slopes: np.ndarray
    spectral_norm: np.ndarray
    exact_norm: np.ndarray
    output: np.ndarray
    x: float
    y: float
    scale: float


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
            a, b = curvature.init_params(m, width_generator(member, m))
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
    slopes = np.array([loglog_fit(widths, ratios[:, j])[0] for j in range(2)])
    scale = float(np.abs(raw).max())
    return HessianStructureResult(
        widths=widths,
        a=a_all,
        b=b_all,
        hessians=raw,
        permuted=permuted,
        max_ratio=ratios[:, 0],
        frobenius_ratio=ratios[:, 1],
        slopes=slopes,
        spectral_norm=spectral,
        exact_norm=exact,
        output=output,
        x=float(config.x),
        y=float(config.y),
        scale=scale if scale > 0 else 1.0,
    )


# -- drawing ------------------------------------------------------------------------------------


class _PlainLogFormatter(LogFormatterSciNotation):
    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def _matrix_labels(kind: str, permutation: str, of: str) -> tuple[str, list[str], list[str]]:
    """(title, row labels, column labels) of a matrix panel; labels sit at block centres."""
    hess = r"\nabla_w^2 f" if of == "output" else r"\nabla_w^2 L"
    if kind == "raw":
        return rf"${hess}$, $w = (a_1..a_m,\ b_1..b_m)$", ["$a$", "$b$"], ["$a$", "$b$"]
    if permutation == "swap":
        return rf"rows swapped: $P\,{hess}$", ["$b$", "$a$"], ["$a$", "$b$"]
    return rf"${hess}$ reordered $(a_1, b_1, a_2, b_2, \dots)$", [], []


class HessianStructureRenderer(Renderer):
    @property
    def count(self) -> int:
        return len(self.result.widths)

    def setup(self) -> None:
        r, config = self.result, self.config
        kinds = {"both": ("raw", "permuted"), "raw": ("raw",), "permuted": ("permuted",)}[
            config.layout
        ]
        grid = self.figure.add_gridspec(1, len(kinds) + 1, width_ratios=[1] * len(kinds) + [1.15])
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
                cmap="RdBu_r",
                vmin=-r.scale,
                vmax=r.scale,
                extent=(0.0, 2.0, 2.0, 0.0),
                interpolation="antialiased",
                aspect="equal",
            )
            title, rows, cols = _matrix_labels(kind, config.permutation, config.of)
            ax.set_title(title, fontsize=0.8 * self.style.font_size)
            self.images.append((kind, image))
            matrix_axes.append(ax)
            self.animate(image)
            if rows:
                ax.set_xticks([0.5, 1.5], cols)
                ax.set_yticks([0.5, 1.5], rows)
                # The a | b block borders, drawn over the (animated, hence blitted-last) image.
                style = dict(color="0.45", linewidth=0.3 * self.style.line_width, alpha=0.8)
                self.animate(ax.axhline(1.0, **style), ax.axvline(1.0, **style))
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel("pairs $(a_i, b_i)$, $i = 1..m$", fontsize=0.8 * self.style.font_size)
        self.figure.colorbar(self.images[0][1], ax=matrix_axes, shrink=0.8, pad=0.02)

        ax = self.figure.add_subplot(grid[0, -1])
        self._scale_panel(ax)
        what = r"$f(x, w)$" if config.of == "output" else r"$L = \frac{1}{2}(f(x, w) - y)^2$"
        self.heading = (
            f"Hessian of {what}, $f = \\sum_i b_i\\,\\mathrm{{{config.activation}}}"
            f"(a_i x)$, $x$ = {r.x:g}" + (f", $y$ = {r.y:g}" if config.of == "loss" else "")
        )
        self.title = self.figure.suptitle(" ", fontsize=0.9 * self.style.font_size)
        self.animate(self.title)
        self.key_frame = self.count - 1

    def _matrix(self, kind: str, i: int) -> np.ndarray:
        n = 2 * int(self.result.widths[i])
        source = self.result.hessians if kind == "raw" else self.result.permuted
        return source[i, :n, :n]

    def _scale_panel(self, ax) -> None:
        r = self.result
        widths = r.widths.astype(float)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(widths[0] / 1.5, widths[-1] * 1.5)
        ax.set_xlabel("width $m$")
        ax.set_title("a-a block relative to a-b block", fontsize=0.8 * self.style.font_size)
        values = np.concatenate([r.max_ratio, r.frobenius_ratio])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            low, high = math.log10(values.min() / 1.5), math.log10(values.max() * 1.5)
            if high - low < 1:
                middle = 0.5 * (low + high)
                low, high = middle - 0.5, middle + 0.5
            ax.set_ylim(10**low, 10**high)
        self.lines = []
        for series, label, color, marker, slope in (
            (r.max_ratio, r"max$|H_{aa}|$ / max$|H_{ab}|$", "tab:red", "o", r.slopes[0]),
            (
                r.frobenius_ratio,
                r"$\Vert H_{aa}\Vert_F / \Vert H_{ab}\Vert_F$",
                "tab:blue",
                "s",
                r.slopes[1],
            ),
        ):
            fitted = "" if not math.isfinite(slope) else f" (slope {slope:+.2f})"
            (line,) = ax.plot(
                [],
                [],
                marker + "-",
                color=color,
                markersize=8,
                linewidth=0.5 * self.style.line_width,
                label=label + fitted,
            )
            self.lines.append((line, series))
            self.animate(line)
        keep = np.isfinite(r.frobenius_ratio) & (r.frobenius_ratio > 0)
        if keep.sum() >= 1 and len(widths) > 1:
            # Theory: the a-a entries carry b_i ~ m^-1/2, the a-b ones do not, so the ratio of
            # Frobenius norms goes as m^-1/2 (||H_aa||_F = O(1), ||H_ab||_F = O(sqrt m)). For
            # --of loss too: the rank-one grad grad^T part adds blocks of those same orders.
            intercept = np.mean(np.log10(r.frobenius_ratio[keep]) + 0.5 * np.log10(widths[keep]))
            span = widths[[0, -1]]
            ax.plot(
                span,
                10 ** (intercept - 0.5 * np.log10(span)),
                "--",
                color="0.35",
                linewidth=0.6 * self.style.line_width,
                label=r"theory: slope $-1/2$",
            )
        for axis in (ax.xaxis, ax.yaxis):  # 2, 30, 0.4 rather than 2 x 10^0 (which collide)
            axis.set_major_formatter(_PlainLogFormatter())
            axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
        ax.legend(loc="lower left", fontsize=0.65 * self.style.font_size)

    def update(self, i: int) -> bool:
        r = self.result
        for kind, image in self.images:
            image.set_data(self._matrix(kind, i))
        shown = r.widths[: i + 1].astype(float)
        for line, series in self.lines:
            line.set_data(shown, series[: i + 1])
        m = int(r.widths[i])
        self.title.set_text(f"{self.heading}:   width $m$ = {m}  ({2 * m} x {2 * m})")
        return False


SPEC = FigureSpec(
    name="hessian-structure",
    summary="The real Hessian of the one-hidden-layer tanh net, raw and permuted, as the width "
    "grows: the a-a block fades like m^-1/2 against the a-b blocks.",
    config_cls=HessianStructureConfig,
    simulate=simulate,
    renderer=HessianStructureRenderer,
    style=Style(size=(18.0, 6.5)),
    fps=1.0,  # one frame per width: a second each to read the matrix
    quick={"widths": (2, 4, 8, 16, 32)},
    caption="Dense Hessians of f(x, w) = sum_i b_i tanh(a_i x) at LeCun initialisation, one frame "
    "per width on one fixed colour scale. Raw (a, b order): three diagonal blocks -- a-a "
    "with entries b_i x^2 tanh''(a_i x), the a-b pair with x tanh'(a_i x), and b-b = 0. "
    "Rows swapped (the post's P H): lower triangular with the a-b entries on the "
    "diagonal. The a-a block carries b_i ~ N(0, 1/m) and fades like m^-1/2 against the "
    "a-b block (right: ratio of Frobenius norms, slope about -1/2; ratio of the largest "
    "entries falls a little slower), so the permuted Hessian approaches a diagonal "
    "matrix whose norm stays O(1).",
)
