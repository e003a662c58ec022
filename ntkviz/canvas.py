"""Figures on an Agg canvas, frames as arrays, and the house style.

A :class:`Renderer` builds its artists once in ``setup`` and changes only their data in
``update(i)``; ``frame(i)`` returns the picture as an (H, W, 3) uint8 array without touching the
disk. Artists registered with :meth:`Renderer.animate` are blitted: the static background (axes,
grid, ticks, labels) is drawn once and restored for every frame.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ntkviz.errors import ConfigError

THEMES = ("light", "dark")
MAX_PIXELS = 4096 * 4096


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
        pixels = self.pixels
        if pixels[0] < 16 or pixels[1] < 16:
            raise ConfigError(
                f"--size x --dpi gives {pixels[0]}x{pixels[1]} px: at least 16x16 px needed"
            )
        if pixels[0] * pixels[1] > MAX_PIXELS:
            raise ConfigError(
                f"--size x --dpi gives {pixels[0]}x{pixels[1]} px: at most {MAX_PIXELS} pixels a frame"
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

    @property
    def foreground(self) -> str:
        return "white" if self.theme == "dark" else "black"

    def rc(self) -> dict:
        rc = {
            "font.size": self.font_size,
            "lines.linewidth": self.line_width,
            "axes.grid": True,
            "grid.alpha": 0.4,
            "axes.titlesize": self.font_size,
            "legend.fontsize": 0.8 * self.font_size,
            "legend.framealpha": 0.9,
            "svg.hashsalt": "ntkviz",
            "path.simplify": True,
        }
        if self.theme == "dark":
            dark = dict(matplotlib.style.library["dark_background"])
            dark.pop("axes.prop_cycle", None)
            rc = {
                **dark,
                **rc,
                "figure.facecolor": "#111111",
                "axes.facecolor": "#111111",
                "savefig.facecolor": "#111111",
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


def parse_size(text: str) -> tuple[float, float]:
    """'12x9' -> (12.0, 9.0) inches."""
    parts = str(text).lower().replace("*", "x").split("x")
    try:
        width, height = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"--size must look like WxH in inches, e.g. 12x9 (got {text!r})"
        ) from None
    return width, height


class Renderer:
    """Base for every figure's renderer. Subclasses set ``count`` and implement ``setup``/``update``.

    ``order`` maps output frames to result frames (a frame may be held by repeating it);
    ``key_frame`` is the output frame used as the still.
    """

    blit = True

    def __init__(self, result, config, style: Style) -> None:
        self.result = result
        self.config = config  # view settings (limits, layout); the numbers come from result
        self.style = style
        self.animated: list[Artist] = []
        self._background = None
        self._drawn_once = False
        self._drawing = False
        self._last: tuple[int, np.ndarray] | None = None
        with style.context():
            self.figure = Figure(figsize=style.size, dpi=style.dpi, layout="constrained")
            self.canvas = FigureCanvasAgg(self.figure)
            self.order: Sequence[int] = range(self.count)
            self.key_frame = 0
            self.setup()

    # -- what subclasses provide -------------------------------------------------------------
    count: int = 1

    def setup(self) -> None:
        raise NotImplementedError

    def update(self, i: int) -> bool:
        """Set every changing artist for result frame ``i``; return True if the static part changed."""
        raise NotImplementedError

    # -- shared machinery ----------------------------------------------------------------------
    def animate(self, *artists: Artist) -> None:
        for artist in artists:
            artist.set_animated(self.blit)
            self.animated.append(artist)

    @contextlib.contextmanager
    def drawing(self) -> Iterator[None]:
        """The style's rc context, entered once around many frames (re-entrant)."""
        if self._drawing:
            yield
            return
        with self.style.context():
            self._drawing = True
            try:
                yield
            finally:
                self._drawing = False

    def frame(self, n: int) -> np.ndarray:
        """Output frame ``n`` as an (H, W, 4) RGBA uint8 array (a copy of the canvas)."""
        index = self.order[n]
        if self._last is not None and self._last[0] == index:
            return self._last[1]  # a held frame: the same picture again
        with self.drawing():
            restatic = self.update(index)
            if self._background is None or restatic or not self.blit:
                self.canvas.draw()
                if not self._drawn_once:
                    # Freeze the layout after the first draw: changing tick labels must not
                    # make the axes jump from frame to frame.
                    self.figure.set_layout_engine("none")
                    self._drawn_once = True
                if self.blit:
                    self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            else:
                self.canvas.restore_region(self._background)
            if self.blit:
                for artist in self.animated:
                    self.figure.draw_artist(artist)
            picture = np.array(self.canvas.buffer_rgba())
            self._last = (index, picture)
            return picture

    def __len__(self) -> int:
        return len(self.order)
