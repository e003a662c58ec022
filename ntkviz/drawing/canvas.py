"""Figures on an Agg canvas, frames as arrays.

A :class:`Renderer` builds its artists once in ``setup`` and changes only their data in
``update(i)``; ``frame(i)`` returns the picture as an (H, W, 4) uint8 array without touching the
disk. Artists registered with :meth:`Renderer.animate` are blitted: the static background (axes,
grid, ticks, labels) is drawn once and restored for every frame. Artists registered with
:meth:`Renderer.overlay` (data, targets, legends, labels) are drawn after the animated ones in
every frame, so they stay on top. How things look is :mod:`ntkviz.drawing.style`'s business.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.legend import Legend
from matplotlib.legend_handler import HandlerTuple
from matplotlib.transforms import Bbox

from ntkviz.drawing.layout import LEGEND_SLACK, fit_to_style, keep_row
from ntkviz.drawing.style import MAX_PIXELS, THEMES, Style  # noqa: F401 - the house style, re-exported


class _Layer:
    """Straight-alpha RGBA pixels to lay over frames: only the box where anything was drawn is
    kept, and only its covered pixels are blended."""

    def __init__(self, rgba: np.ndarray) -> None:
        covered = rgba[..., 3] > 0
        rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
        if rows.size == 0:
            self.box = None
            return
        self.box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        self.mask = covered[self.box]
        pixels = rgba[self.box][self.mask].astype(np.float32)
        self.alpha = pixels[:, 3:] / 255.0
        self.color = pixels[:, :3] * self.alpha

    def paint(self, picture: np.ndarray) -> None:
        """Lay the layer over ``picture`` (H, W, 4 uint8), in place ("over" compositing)."""
        if self.box is None:
            return
        region = picture[self.box]
        under = region[self.mask][:, :3].astype(np.float32)
        blended = self.color + under * (1.0 - self.alpha)
        region[self.mask, :3] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


class Renderer:
    """Base for every figure's renderer. Subclasses set ``frames_of`` (or ``count``) and implement ``setup``/``update``.

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
        self._overlay_layer: _Layer | None = None
        self._changing: list[Artist] = []  # overlays whose content changes between frames
        with style.context():
            self.figure = Figure(figsize=style.size, dpi=style.dpi, layout="constrained")
            self.canvas = FigureCanvasAgg(self.figure)
            self.order: Sequence[int] = range(self.count)
            self.key_frame = 0
            self.setup()
            # the style's layout: panels re-flowed to the width, titles, legends, the height
            height = fit_to_style(self.figure, style)
            if height is not None and height != style.size[1]:
                self.style = dataclasses.replace(style, size=(style.size[0], height))
                self.figure.set_size_inches(self.style.size)

    # -- what subclasses provide -------------------------------------------------------------
    #: The Result field with one entry per result frame (steps, widths, alphas); None: one frame.
    frames_of: str | None = None

    @property
    def count(self) -> int:
        """The number of result frames."""
        return 1 if self.frames_of is None else len(getattr(self.result, self.frames_of))

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

    def legend_below(self, handles: dict[str, Artist | list], ncols: int, **options) -> None:
        """One legend for the whole figure under its panels (``handles``: label -> artist, or a
        list of artists shown side by side: how one thing is drawn in each panel), in the house
        style, drawn over every frame; ``options`` go to ``Figure.legend``."""
        if any(isinstance(h, list) for h in handles.values()):  # side by side, not overlaid
            options.setdefault("handler_map", {tuple: HandlerTuple(ndivide=None, pad=0.6)})
        self.figure_legend(handles, ncols, loc="outside lower center", **options)

    def figure_legend(self, handles: dict[str, Artist | list], ncols: int, **options) -> Legend:
        """A legend of the whole figure (``handles``: label -> artist, or a list of artists
        side by side) in the house style, drawn over every frame, in at most ``ncols`` columns:
        fewer where a narrow (paper) figure's width does not hold them, with room for labels
        that grow as frames go by."""
        entries = [
            (tuple(h) if len(h) > 1 else h[0]) if isinstance(h, list) else h
            for h in handles.values()
        ]
        while True:
            legend = self.figure.legend(
                entries,
                list(handles),
                ncols=ncols,
                **{**self.style.legend(), **options},
            )
            if ncols <= 1 or not self.style.reflows:
                break
            width = legend.get_window_extent(self.canvas.get_renderer()).width
            if width * LEGEND_SLACK <= 0.98 * self.figure.bbox.width:
                break
            legend.remove()
            ncols -= 1
        self.overlay(legend)
        return legend

    def keep_row(self, ax, aspect: float | None = None) -> None:
        """Keep the row of ``ax``'s panels on a narrow (paper) figure: small multiples that read
        well small; ``aspect``: their height over width (:func:`ntkviz.drawing.layout.keep_row`)."""
        keep_row(ax, aspect)

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
            if self.blit and self.overlays and self._overlay_layer is None:
                self._find_changing_overlays()
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
                if restatic or self._overlay_layer is None:
                    self._overlay_layer = self._draw_overlays()
                for artist in sorted(self.animated + self._changing, key=Artist.get_zorder):
                    self.figure.draw_artist(artist)
            picture = np.array(self.canvas.buffer_rgba())
            if self.blit:
                self._overlay_layer.paint(picture)
            self._last = (index, picture)
            return picture

    def _find_changing_overlays(self) -> None:
        """Sort the overlays into those that change between frames (drawn in every frame) and
        those that do not (drawn once, composited): step through every result frame once and
        see which ones matplotlib marks ``stale``. Decided from the data alone, so a frame looks
        the same whichever frame a process drew first (files are the same for any --jobs)."""
        for artist in self.overlays:
            for part in _parts(artist):
                part.stale = False
        for index in dict.fromkeys(self.order):
            self.update(index)
            for artist in self.overlays:
                # a legend whose label text changes is stale in its text, not in itself
                if artist not in self._changing and any(p.stale for p in _parts(artist)):
                    self._changing.append(artist)

    def _draw_overlays(self) -> _Layer:
        """The overlays drawn once on a transparent canvas, to be laid over every frame.

        Overlays (legends above all) cost more to draw than many frames' animated artists; as
        long as one does not change (see :meth:`_find_changing_overlays`), its pixels are the
        same in every frame and are composited instead of drawn again.
        """
        agg = self.canvas.get_renderer()
        agg.clear()  # transparent: what is drawn now carries its own coverage as alpha
        for artist in sorted(self.overlays, key=Artist.get_zorder):
            if artist not in self._changing:
                self.figure.draw_artist(artist)
        layer = _Layer(np.array(self.canvas.buffer_rgba()))
        self.canvas.restore_region(self._background)
        return layer

    def __len__(self) -> int:
        return len(self.order)


def _parts(artist: Artist) -> list[Artist]:
    """An artist and everything it draws (a legend: its texts, handles and frame)."""
    parts, todo = [], [artist]
    while todo:
        part = todo.pop()
        parts.append(part)
        todo.extend(part.get_children())
    return parts


class CellImage(AxesImage):
    """An image of RGBA bytes whose cells are drawn to pixels by nearest neighbour, without
    matplotlib's general resampling pipeline: for a matrix redrawn every frame (weight-matrix),
    a few hundred microseconds instead of about 2 ms. Each output pixel takes the cell under its
    centre. Anything else (float data, vector output, a magnification) is drawn by AxesImage."""

    _cells: tuple | None = None  # (key, index): each output pixel's cell, as a flat index

    @classmethod
    def show(cls, ax, data, **kwargs) -> CellImage:
        """``ax.imshow(data, **kwargs)`` (its limits, aspect and origin), drawn as a CellImage."""
        image = ax.imshow(data, **kwargs)
        image.__class__ = cls  # a subclass that only replaces make_image: no state to convert
        return image

    def make_image(self, renderer, magnification=1.0, unsampled=False):
        data = np.ma.getdata(self.get_array())  # uint8 colours have nothing masked
        if (
            unsampled
            or magnification != 1.0
            or not isinstance(data, np.ndarray)
            or data.dtype != np.uint8
            or data.ndim != 3
            or not self.get_transform().is_affine
        ):
            return super().make_image(renderer, magnification, unsampled)
        x0, x1, y0, y1 = self.get_extent()
        box = Bbox([[x0, y0], [x1, y1]]).transformed(self.get_transform())
        clipped = Bbox.intersection(box, self.get_clip_box() or box)
        if clipped is None:
            return None, 0, 0, None
        left, bottom = int(np.floor(clipped.x0)), int(np.floor(clipped.y0))
        right, top = int(np.ceil(clipped.x1)), int(np.ceil(clipped.y1))
        key = (left, bottom, right, top, data.shape[:2], self.origin)
        if self._cells is None or self._cells[0] != key:
            inverse = self.get_transform().inverted()
            xs = np.arange(left, right) + 0.5
            ys = np.arange(bottom, top) + 0.5  # Agg takes the rows bottom up
            cols = inverse.transform(np.column_stack([xs, np.full_like(xs, ys[0])]))[:, 0]
            rows = inverse.transform(np.column_stack([np.full_like(ys, xs[0]), ys]))[:, 1]
            height, width = data.shape[:2]
            # The extent's first x holds column 0; its last y holds row 0 with origin "upper"
            # (imshow's default: the y axis then runs downwards), its first y with "lower".
            first_y, last_y = (y1, y0) if self.origin == "upper" else (y0, y1)
            cols = np.floor((cols - x0) / (x1 - x0) * width).astype(np.intp)
            rows = np.floor((rows - first_y) / (last_y - first_y) * height).astype(np.intp)
            rows, cols = np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
            self._cells = (key, rows[:, None] * width + cols[None, :])
        # each pixel's four bytes as one uint32: one gather a pixel
        colours = np.ascontiguousarray(data).view(np.uint32).reshape(-1)
        pixels = colours.take(self._cells[1]).view(np.uint8).reshape(*self._cells[1].shape, 4)
        return pixels, left, bottom, None
