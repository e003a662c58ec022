"""Figures on an Agg canvas, frames as arrays.

A :class:`Renderer` builds its artists once in ``setup`` and changes only their data in
``update(i)``; ``frame(i)`` returns the picture as an (H, W, 4) uint8 array without touching the
disk. Artists registered with :meth:`Renderer.animate` are blitted: the static background (axes,
grid, ticks, labels) is drawn once and restored for every frame. Artists registered with
:meth:`Renderer.overlay` (data, targets, legends, labels) are drawn after the animated ones in
every frame, so they stay on top. How things look is :mod:`ntkviz.style`'s business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ntkviz.errors import ConfigError
from ntkviz.style import MAX_PIXELS, THEMES, Style  # noqa: F401 - the house style, re-exported


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

    ``order`` maps output frames to result frames (a frame may be held by repeating it); output
    frame 0 is the start (step 0). ``key_frame`` is the output frame used as the still: the most
    informative one, which each figure chooses.
    """

    blit = True

    def __init__(self, result, config, style: Style) -> None:
        self.result = result
        self.config = config  # view settings (limits, layout); the numbers come from result
        self.style = style
        self.animated: list[Artist] = []
        self.overlays: list[Artist] = []
        self._background = None
        self._drawn_once = False
        self._drawing = False
        self._last: tuple[int, np.ndarray] | None = None
        self.held = 0  # output frames added at the end by hold()
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
        """Artists whose data change from frame to frame (drawn over the static background)."""
        for artist in artists:
            artist.set_animated(self.blit)
            self.animated.append(artist)

    def overlay(self, *artists: Artist) -> None:
        """Artists that must stay on top of the animated ones (data, targets, legends, labels).

        A blitted frame restores the static background and draws the animated artists over it,
        whatever their zorder; overlays are left out of the background and drawn last instead.
        """
        for artist in artists:
            if artist is None:
                continue
            artist.set_animated(self.blit)
            self.overlays.append(artist)

    def hold(self, frames: int) -> None:
        """Show the last frame ``frames`` more times (the end stays up long enough to read)."""
        order = list(self.order)
        if frames > 0 and order:
            self.order = order + [order[-1]] * int(frames)
            self.held += int(frames)

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
                for artist in sorted(self.animated, key=Artist.get_zorder):
                    self.figure.draw_artist(artist)
                for artist in sorted(self.overlays, key=Artist.get_zorder):
                    self.figure.draw_artist(artist)
            picture = np.array(self.canvas.buffer_rgba())
            self._last = (index, picture)
            return picture

    def __len__(self) -> int:
        return len(self.order)
