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
from ntkviz.options import PRESETS, THEMES, check_legend, legend_location  # stated once

MAX_PIXELS = 4096 * 4096

#: The smallest text drawn, as a fraction of the base font size (legends, annotations, ticks).
MIN_TEXT = 0.8
#: ... and in points, whatever the base font: under 6 pt, print is hard to read.
MIN_POINTS = 6.0

#: Paper: a two-column journal's column (3.3 in) or its full width (6.8 in); type in points.
PAPER_WIDTH = 3.3
PAPER_WIDTHS = (3.3, 6.8)
PAPER_FONT = 8.0  # ticks 7.2 pt, legends 6.4 pt: within 6-9 pt
PAPER_DPI = 300.0
#: Talk: a 16:9 slide at 1080p.
TALK_SIZE = (16.0, 9.0)
TALK_PIXELS_HIGH = 1080
#: Line width as a share of the font size in absolute presets (the post's 3 lines to 20 pt).
LINE_PER_POINT = 3.0 / 20.0
#: The narrowest a panel may be, in widths of the base font's "M" (tick labels and a y label
#: beside a plot): a row of panels that would be narrower is re-flowed into more rows.
PANEL_EMS = 16.0
#: The height of a re-flowed panel over its width (paper: the figure's height follows its rows).
PANEL_ASPECT = 0.62
#: The most inches a column of re-flowed panels may take (a page's text is about 9 in high):
#: more go side by side.
MAX_PANELS_HEIGHT = 8.5
#: ... so panels get flatter, down to this height over width, before more go side by side.
MIN_ASPECT = 0.42

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
#: for the parts of a graphic one must see; :func:`ntkviz.drawing.contrast.contrast_ratio`).
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
    preset: str = "web"  # the --style it came from (PRESETS)
    title: bool = True  # the figure's title (the "step N" heading; a lone panel's title)
    legend_at: str = "auto"  # --legend: the figure's own placement, a location, outside or none
    fit_height: bool = False  # the height follows the panels' rows (paper without a height)

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
        if self.preset not in PRESETS:
            raise ConfigError(f"--style must be one of {', '.join(PRESETS)} (got {self.preset!r})")
        check_legend(self.legend_at)
        return self

    def resized(self, size: tuple[float, float]) -> Style:
        """The same look at another size: fonts and lines scale with the figure."""
        scale = min(size[0] / self.size[0], size[1] / self.size[1])
        scale = max(scale, 0.25) if scale > 0 else 1.0
        return dataclasses.replace(
            self, size=size, font_size=self.font_size * scale, line_width=self.line_width * scale
        )

    @property
    def reflows(self) -> bool:
        """Whether panels are laid out for the width (paper); the web and talk looks keep each
        figure's own layout, scaled."""
        return self.preset == "paper"

    def columns(self, wanted: int, ems: float = PANEL_EMS) -> int:
        """How many of ``wanted`` panels fit side by side at this width and font size (at least
        one): each needs ``ems`` widths of the font (all of them unless it
        :attr:`reflows`)."""
        if not self.reflows:
            return int(wanted)
        return max(1, min(int(wanted), int(self.size[0] * 72.0 / self.font_size // ems)))

    def grid(self, cells: int, cols: int) -> tuple[int, int, float]:
        """(rows, columns, panel height over width) of ``cells`` panels laid out ``cols``
        across, re-flowed (reading order) to the columns that fit, :data:`PANEL_ASPECT` high;
        flatter (down to :data:`MIN_ASPECT`) where that would make them taller than
        :data:`MAX_PANELS_HEIGHT` inches, and more columns where even that would."""
        fit = self.columns(cols)
        while True:
            rows = -(-cells // fit)
            room = MAX_PANELS_HEIGHT / (rows * self.size[0] / fit)  # the aspect that fills it
            if fit >= cols or room >= MIN_ASPECT:
                return rows, fit, min(PANEL_ASPECT, max(room, MIN_ASPECT))
            fit += 1

    def panel_height(self, cols: int, aspect: float | None = None) -> float:
        """A re-flowed panel's height (inches), ``cols`` across this width."""
        return self.size[0] / cols * (aspect or PANEL_ASPECT)

    def fitted_height(
        self, rows: int, cols: int, extra_ems: float = 0.0, aspect: float | None = None
    ) -> float:
        """The height (inches) that gives ``rows`` x ``cols`` panels ``aspect`` (height over
        width; default :data:`PANEL_ASPECT`) at this width, with ``extra_ems`` font heights for
        a title or legend rows."""
        panel = self.panel_height(cols, aspect)
        return round(rows * panel + extra_ems * self.font_size / 72.0, 2)

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

    @property
    def min_text(self) -> float:
        """The smallest font size the layout check lets pass, in points."""
        return max(MIN_TEXT * self.font_size, MIN_POINTS)

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


def preset(
    base: Style,
    name: str = "web",
    *,
    size: tuple[float, float] | None = None,
    dpi: float | None = None,
    font_size: float | None = None,
    theme: str | None = None,
    title: bool | None = None,
    legend: str | None = None,
    dpi_factor: float = 1.0,
) -> Style:
    """The style of a run: the figure's own ``base`` under the ``--style`` preset ``name``, then
    the options given (None: the preset's). ``dpi_factor``: --quick's share of the pixels.

    - web: the figure's look, fonts and lines scaled with ``size``;
    - paper: ``size`` or :data:`PAPER_WIDTH` inches wide with the height its panels need
      (``fit_height``), :data:`PAPER_FONT` pt type whatever the size, :data:`PAPER_DPI`, no title;
    - talk: ``size`` or 16:9, the figure's look scaled to it, 1080 pixels high.
    """
    if name not in PRESETS:
        raise ConfigError(f"--style must be one of {', '.join(PRESETS)} (got {name!r})")
    style = dataclasses.replace(base, preset=name)
    if name == "paper":
        width, height = size if size is not None else (PAPER_WIDTH, PAPER_WIDTH * PANEL_ASPECT)
        font = PAPER_FONT
        style = dataclasses.replace(
            style,
            size=(width, height),
            font_size=font,
            line_width=font * LINE_PER_POINT,
            dpi=PAPER_DPI * dpi_factor,
            title=False,
            fit_height=size is None,
        )
    elif name == "talk":
        style = style.resized(size if size is not None else TALK_SIZE)
        style = dataclasses.replace(style, dpi=TALK_PIXELS_HIGH / style.size[1] * dpi_factor)
    elif size is not None:
        style = style.resized(size)
    if dpi is not None:
        style = dataclasses.replace(style, dpi=dpi)
    if font_size is not None:
        style = dataclasses.replace(style, font_size=font_size)
    if theme is not None:
        style = dataclasses.replace(style, theme=theme)
    if title is not None:
        style = dataclasses.replace(style, title=bool(title))
    if legend is not None:
        check_legend(legend)
        style = dataclasses.replace(style, legend_at=legend_location(legend))
    return style
