"""Blitting changes how a frame is made, never what it shows: every figure's key frame, at
--quick, against the same picture drawn without the blit machinery.

A blitted frame restores the static background from a saved copy, draws the animated artists
(and the overlays that change) over it in zorder, then lays the overlays that do not change over
everything as a cached layer (``ntkviz.drawing.canvas._Layer``). The reference here draws the
same artists in the same order straight onto the canvas: a full ``canvas.draw()`` of the static
part, then every animated and overlay artist with ``draw_artist``; no saved background, no cached
layer. The two must agree pixel for pixel, up to the rounding of compositing the cached layer
(measured: at most 2 levels of 255 in any channel, on every figure), so a background restored
in the wrong place, a layer box a row or column short, or an overlay left out shows.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.artist import Artist
from test_layout import quick_result  # the figures' --quick results, simulated once a session

from ntkviz.figures import FIGURES
from ntkviz.figures.base import defaults

#: Compositing the cached overlay layer in float rounds a covered pixel by up to this (0-255).
ROUNDING = 2


def _drawn_directly(renderer) -> np.ndarray:
    """The frame ``renderer`` last made, drawn again in the blit's order without blitting."""
    moving = sorted(renderer.animated + renderer._changing, key=Artist.get_zorder)
    fixed = sorted(
        (a for a in renderer.overlays if a not in renderer._changing), key=Artist.get_zorder
    )
    renderer.canvas.draw()  # the static part (animated artists are left out by matplotlib)
    for artist in moving + fixed:
        renderer.figure.draw_artist(artist)
    return np.array(renderer.canvas.buffer_rgba())


@pytest.mark.parametrize("name", list(FIGURES))
def test_blitted_key_frame_is_the_unblitted_picture(name):
    spec = FIGURES[name]
    result, config = quick_result(name)
    _, style = defaults(spec, quick=True)
    renderer = spec.renderer(result, config, style)
    key = renderer.key_frame
    with renderer.drawing():
        renderer.frame(0)  # as a file is made: the layout freezes at frame 0 ...
        blitted = renderer.frame(key).copy()  # ... then the key frame is blitted
        direct = _drawn_directly(renderer)
    assert blitted.shape == direct.shape
    difference = np.abs(blitted.astype(int) - direct.astype(int)).max(axis=-1)
    worst = np.unravel_index(np.argmax(difference), difference.shape)
    assert difference.max() <= ROUNDING, (
        f"{name}: {(difference > ROUNDING).sum()} pixels differ by more than {ROUNDING} levels, "
        f"the worst {difference.max()} at (row, column) {worst}"
    )


def test_a_legend_whose_text_changes_is_redrawn_every_frame():
    """matplotlib does not mark a legend stale when one of its texts changes: the renderer must
    look at the legend's parts, or the cached overlay layer keeps the first frame's text (as
    kappa-scaling's and ntk-convergence's fitted-slope legends did)."""
    from ntkviz.drawing.canvas import Renderer
    from ntkviz.drawing.style import Style

    class Labelled(Renderer):
        count = 3

        def setup(self) -> None:
            ax = self.figure.add_axes((0, 0, 1, 1))
            ax.set_axis_off()
            (self.line,) = ax.plot([0, 1], [0, 0], label="slope --")
            self.animate(self.line)
            self.legend = ax.legend(loc="center", fontsize=20)
            self.overlay(self.legend)

        def update(self, i: int) -> bool:
            self.line.set_ydata([0, i])
            self.legend.get_texts()[0].set_text("slope --" if i == 0 else f"slope {i:.2f}")
            return False

    style = Style(size=(3, 2), dpi=50)
    in_order = Labelled(None, None, style)
    pictures = [in_order.frame(i).copy() for i in range(3)]
    for i in (1, 2):  # each frame as a renderer that draws it first draws it
        np.testing.assert_array_equal(pictures[i], Labelled(None, None, style).frame(i))
    assert not np.array_equal(pictures[1], pictures[2])
