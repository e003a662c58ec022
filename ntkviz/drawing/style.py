"""The house visual language: every visual decision of every figure lives here.

Figures name *roles* (data points, targets, theory lines, fits, runs, the "now" marker, ...), never
colours. A role fixes colour, marker, line style, size and layer in both themes:

- runs among several get a colour-blind-safe categorical palette (light theme: matplotlib's
  ``petroff10``, chosen by Petroff (2021) to stay distinct under the common colour-vision
  deficiencies and on white; dark theme: Okabe-Ito, whose yellow reads on black);
- continuous quantities get sequential colormaps (:data:`SEQUENTIAL`), signed ones a diverging map
  (:data:`DIVERGING`);
- layers (:class:`Z`) put bands under runs, runs under reference lines, and overlays (data,
  targets, markers, legends) on top; :meth:`ntkviz.drawing.canvas.Renderer.overlay` keeps that order when
  frames are blitted;
- no text is smaller than :data:`MIN_TEXT` of the base font, at the figure's own size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import matplotlib
import matplotlib.colors
import matplotlib.style

from ntkviz.errors import ConfigError
from ntkviz.options import THEMES  # the --theme choices, stated once

MAX_PIXELS = 4096 * 4096

#: The smallest text drawn, as a fraction of the base font size (legends, annotations, ticks).
MIN_TEXT = 0.8

#: Categorical colours for discrete runs (alpha values, widths, members), per theme.
PETROFF10 = (
    "#3f90da",
    "#ffa90e",
    "#bd1f01",
    "#94a4a2",
    "#832db6",
    "#a96b59",
    "#e76300",
    "#b9ac70",
    "#717581",
    "#92dadd",
)
OKABE_ITO_DARK = (
    "#56B4E9",
    "#E69F00",
    "#009E73",
    "#F0E442",
    "#CC79A7",
    "#D55E00",
    "#0072B2",
    "#999999",
)
PALETTES = {"light": PETROFF10, "dark": OKABE_ITO_DARK}

#: Continuous quantities (a value along a run, a density): perceptually uniform, CVD-safe.
SEQUENTIAL = "viridis"
#: Signed quantities centred on zero (weights, weight changes, Hessian entries), light theme:
#: white at zero, like the page. Figures take :attr:`Style.diverging`, the map of their theme.
DIVERGING = "RdBu_r"
#: The dark theme's diverging map: dark at zero, like the #111 page, so that a matrix of mostly
#: zeros is not a glaring white square; light blue and light red at the ends. Crameri's "berlin"
#: (matplotlib's, from 3.10), as nine anchors here so that every matplotlib draws the same map.
DIVERGING_DARK = (
    "#9eb0ff",
    "#519fd3",
    "#286886",
    "#14303e",
    "#190c09",
    "#411201",
    "#7d341e",
    "#be6f63",
    "#ffadad",
)
#: The part of the sequential map that a continuous quantity (a width, a mode) uses, per theme:
#: viridis' pale yellow end would not read on white; on #111 its dark purple end would vanish,
#: so the dark theme starts where the map's contrast with the page reaches 3:1 (WCAG's least
#: for the parts of a graphic one must see; :func:`contrast_ratio`).
SEQUENTIAL_RANGES = {"light": (0.0, 0.8), "dark": (0.35, 1.0)}
#: The opacity of a band (a spread, an ensemble's +-2 sd) over the page, per theme: on #111 a
#: light tint needs more of its colour to stand apart from the page and from a shaded region.
BAND_ALPHA = {"light": 0.22, "dark": 0.32}

#: Neutral colours per theme: text and markers, the background, reference lines, muted parts.
NEUTRALS = {
    "light": {
        "foreground": "#000000",
        "background": "#ffffff",
        "reference": "#4d4d4d",
        "muted": "#9a9a9a",
        "sample": "#666666",
    },
    "dark": {
        "foreground": "#ffffff",
        "background": "#111111",
        "reference": "#c8c8c8",
        "muted": "#777777",
        "sample": "#c8c8c8",
    },
}


class Z:
    """Layers, bottom to top. Overlays are also drawn after the blitted artists."""

    BAND = 1.0
    INITIAL = 1.5
    RUN = 2.0
    REFERENCE = 3.0
    NOW = 4.0
    OVERLAY = 5.0
    TEXT = 6.0


# role -> (neutral colour or None for "the caller's run colour", Line2D properties; sizes are
# multiples of the style's line width).
_ROLES: dict[str, tuple[str | None, dict[str, Any]]] = {
    # one run among several, or the model itself
    "run": (None, {"linestyle": "-", "lw": 1.0, "zorder": Z.RUN}),
    # the same run at initialisation: lighter and dashed, under the live one
    "initial": (None, {"linestyle": "--", "lw": 0.6, "alpha": 0.55, "zorder": Z.INITIAL}),
    # a run's past positions (a trajectory of dots)
    "trail": (None, {"linestyle": "none", "marker": "o", "ms": 0.9, "alpha": 0.8, "zorder": Z.RUN}),
    # a second trail drawn over the first: hollow squares, above the dashed path they follow
    "hollow": (
        None,
        {
            "linestyle": "none",
            "marker": "s",
            "ms": 1.6,
            "markerfacecolor": "none",
            "mew": 0.5,
            "zorder": Z.REFERENCE + 0.5,
        },
    ),
    # a second quantity of the same run in a panel whose figure already gives dashed and dotted
    # a meaning (generalization: each net's distance from its own kernel's prediction)
    "second": (None, {"linestyle": "-.", "lw": 1.0, "zorder": Z.RUN}),
    # the linearisation beside dashed theory and dotted fits (linearized): dash-dot, its colour
    "linear-beside-theory": (None, {"linestyle": "-.", "lw": 1.0, "zorder": Z.RUN + 0.1}),
    # the model's linearisation / tangent: dashed, in its own colour
    "linear": (None, {"linestyle": "--", "lw": 1.0, "zorder": Z.RUN + 0.1}),
    # theory, exact or infinite-width answers: a dark dashed reference
    "theory": ("reference", {"linestyle": "--", "lw": 0.8, "zorder": Z.REFERENCE}),
    # a fitted line (slope): dotted, in the colour of what it fits (or the reference grey)
    "fit": ("reference", {"linestyle": ":", "lw": 0.9, "zorder": Z.REFERENCE}),
    # a guide (axis of symmetry, zero line, the data's x range): thin and muted
    "guide": ("muted", {"linestyle": "-", "lw": 0.4, "zorder": Z.BAND}),
    # training data: filled dots with a rim in the background colour, on top of everything
    "data": (
        "foreground",
        {"linestyle": "none", "marker": "o", "ms": 3.0, "mew": 0.4, "zorder": Z.OVERLAY},
    ),
    # one sample among many (each net of an ensemble), under the run that summarises them; in a
    # neutral that stands apart from a band in both themes
    "sample": (
        "sample",
        {"linestyle": "none", "marker": "o", "ms": 1.6, "mew": 0.3, "zorder": Z.RUN - 0.1},
    ),
    # targets (where training should go): a big star, on top
    "target": (
        "foreground",
        {"linestyle": "none", "marker": "*", "ms": 5.0, "mew": 0.4, "zorder": Z.OVERLAY},
    ),
    # where something is now (a moving point on a curve)
    "now": (None, {"linestyle": "none", "marker": "o", "ms": 3.0, "mew": 0.4, "zorder": Z.NOW}),
    # the origin or another fixed landmark
    "landmark": (
        "foreground",
        {"linestyle": "none", "marker": "+", "ms": 4.0, "mew": 0.5, "zorder": Z.OVERLAY},
    ),
}
ROLES = tuple(_ROLES)
_FILLED = ("o", "*", "s", "D", "^", "v", "<", ">", "p", "h", "P", "X")
_EDGE_ONLY = ("+", "x", "|", "_")
_SIZED = ("lw", "ms", "mew")


@dataclass(frozen=True)
class Style:
    """How frames look: the post used 12 x 9 inch figures at 72 dpi, font 20, lines 3, grid on."""

    size: tuple[float, float] = (12.0, 9.0)  # inches (width, height)
    dpi: float = 72.0
    theme: str = "light"
    font_size: float = 20.0
    line_width: float = 3.0

    def check(self) -> Style:
        width, height = self.size
        if not (width > 0 and height > 0):
            raise ConfigError(f"--size must be positive WxH inches (got {width:g}x{height:g})")
        if not self.dpi > 0:
            raise ConfigError(f"--dpi must be > 0 (got {self.dpi:g})")
        across, down = width * self.dpi, height * self.dpi  # floats: no int(inf) below
        if not (math.isfinite(across) and math.isfinite(down)) or across * down > 2 * MAX_PIXELS:
            raise ConfigError(
                f"--size x --dpi gives {across:.3g}x{down:.3g} px: at most {MAX_PIXELS} pixels "
                "a frame"
            )
        pixels = self.pixels
        if pixels[0] < 16 or pixels[1] < 16:
            raise ConfigError(
                f"--size x --dpi gives {pixels[0]}x{pixels[1]} px: at least 16x16 px needed"
            )
        if pixels[0] * pixels[1] > MAX_PIXELS:
            raise ConfigError(
                f"--size x --dpi gives {pixels[0]}x{pixels[1]} px: at most {MAX_PIXELS} pixels a frame"
            )
        for name, points in (("font size", self.font_size), ("line width", self.line_width)):
            if not 0 < points <= 72 * height:  # points: no taller than the figure
                raise ConfigError(
                    f"the style's {name} must be > 0 and at most the figure's height "
                    f"({72 * height:g} points; got {points:g})"
                )
        if self.theme not in THEMES:
            raise ConfigError(f"--theme must be one of {', '.join(THEMES)} (got {self.theme!r})")
        return self

    def resized(self, size: tuple[float, float]) -> Style:
        """The same look at another size: fonts and lines scale with the figure."""
        scale = min(size[0] / self.size[0], size[1] / self.size[1])
        scale = max(scale, 0.25) if scale > 0 else 1.0
        return dataclasses.replace(
            self, size=size, font_size=self.font_size * scale, line_width=self.line_width * scale
        )

    @property
    def pixels(self) -> tuple[int, int]:
        return int(round(self.size[0] * self.dpi)), int(round(self.size[1] * self.dpi))

    # -- colours and roles ---------------------------------------------------------------------
    def color(self, name: str) -> str:
        """A neutral colour: 'foreground', 'background', 'reference', 'muted' or 'sample'."""
        return NEUTRALS[self.theme][name]

    @property
    def foreground(self) -> str:
        return self.color("foreground")

    @property
    def palette(self) -> tuple[str, ...]:
        return PALETTES[self.theme]

    def run_color(self, k: int) -> str:
        """The colour of run ``k`` among several (cycles past the palette's length)."""
        return self.palette[k % len(self.palette)]

    def run_colors(self, count: int) -> list[str]:
        return [self.run_color(k) for k in range(count)]

    def look(self, role: str, color: str | None = None, **overrides: Any) -> dict[str, Any]:
        """Line2D keyword arguments for ``role``: colour, marker, line style, size and layer.

        ``color`` is the run's colour for roles that take one (run, initial, trail, linear, now);
        roles with a neutral colour (data, target, theory, guide, landmark) use it only if given.
        """
        try:
            neutral, props = _ROLES[role]
        except KeyError:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}") from None
        kwargs = {k: v * self.line_width if k in _SIZED else v for k, v in props.items()}
        chosen = color or (self.color(neutral) if neutral else self.palette[0])
        kwargs["color"] = chosen
        hollow = kwargs.get("markerfacecolor") == "none"
        if kwargs.get("marker") in _FILLED and "mew" in kwargs and not hollow:
            # a rim in the page's colour sets a filled marker off whatever lies under it
            kwargs["markeredgecolor"] = self.color("background")
        elif kwargs.get("marker") in _EDGE_ONLY or hollow:
            kwargs["markeredgecolor"] = chosen  # a "+" is all edge: its edge is its colour
        kwargs.update(overrides)
        return kwargs

    def band(self, color: str, **overrides: Any) -> dict[str, Any]:
        """fill_between keyword arguments for a spread (seeds, an ensemble, +-2 sd)."""
        alpha = BAND_ALPHA[self.theme]
        return {"color": color, "alpha": alpha, "linewidth": 0, "zorder": Z.BAND, **overrides}

    def shade(self, **overrides: Any) -> dict[str, Any]:
        """axvspan keyword arguments for a shaded region (a regime): a faint tint of the muted
        grey, under the bands."""
        return {
            "color": self.color("muted"),
            "alpha": 0.15,
            "linewidth": 0,
            "zorder": Z.BAND - 0.5,
            **overrides,
        }

    @property
    def diverging(self) -> matplotlib.colors.Colormap:
        """The diverging colour map of this theme: its centre (zero) is the page's tone."""
        if self.theme == "dark":
            return matplotlib.colors.LinearSegmentedColormap.from_list(
                "ntkviz-dark-diverging", DIVERGING_DARK
            )
        return matplotlib.colormaps[DIVERGING]

    @property
    def sequential_range(self) -> tuple[float, float]:
        """The part of :data:`SEQUENTIAL` this theme uses (:data:`SEQUENTIAL_RANGES`)."""
        return SEQUENTIAL_RANGES[self.theme]

    # -- text ----------------------------------------------------------------------------------
    @property
    def small(self) -> float:
        """The smallest font size allowed: legends, annotations, secondary labels."""
        return MIN_TEXT * self.font_size

    def legend(self, **overrides: Any) -> dict[str, Any]:
        """Legend keyword arguments: readable text, line symbols long enough to tell styles apart."""
        return {"fontsize": self.small, "handlelength": 2.2, "framealpha": 0.9, **overrides}

    def rc(self) -> dict:
        rc = {
            "font.size": self.font_size,
            "lines.linewidth": self.line_width,
            "axes.grid": True,
            "grid.alpha": 0.4,
            "axes.titlesize": self.font_size,
            "axes.labelsize": self.font_size,
            "xtick.labelsize": 0.9 * self.font_size,
            "ytick.labelsize": 0.9 * self.font_size,
            "legend.fontsize": self.small,
            "legend.title_fontsize": self.small,
            "legend.framealpha": 0.9,
            "figure.titlesize": self.font_size,
            "axes.prop_cycle": matplotlib.cycler(color=list(self.palette)),
            "image.cmap": SEQUENTIAL,
            "svg.hashsalt": "ntkviz",
            "path.simplify": True,
        }
        if self.theme == "dark":
            dark = dict(matplotlib.style.library["dark_background"])
            dark.pop("axes.prop_cycle", None)
            background = self.color("background")
            rc = {
                **dark,
                **rc,
                "figure.facecolor": background,
                "axes.facecolor": background,
                "savefig.facecolor": background,
                "legend.facecolor": "#222222",
            }
        else:
            rc.update({"figure.facecolor": "white", "axes.facecolor": "white"})
        return rc

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        # Start from matplotlib's defaults, so a user's matplotlibrc cannot change our frames.
        with matplotlib.rc_context(), contextlib.ExitStack() as stack:
            matplotlib.rcdefaults()
            stack.enter_context(matplotlib.rc_context(self.rc()))
            yield


def relative_luminance(color: Any) -> float:
    """WCAG 2's relative luminance of a colour (any matplotlib colour; alpha ignored)."""
    rgb = [float(c) for c in matplotlib.colors.to_rgb(color)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: Any, b: Any) -> float:
    """WCAG 2's contrast ratio of two colours, 1 (the same) to 21 (black on white)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def over(color: Any, alpha: float, under: Any) -> tuple[float, float, float]:
    """The colour seen where ``color`` at opacity ``alpha`` lies over ``under``."""
    top, bottom = matplotlib.colors.to_rgb(color), matplotlib.colors.to_rgb(under)
    return tuple(alpha * t + (1.0 - alpha) * u for t, u in zip(top, bottom, strict=True))
