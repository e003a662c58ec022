"""The house style's roles: run colours cycle through the whole palette in both themes, and filled
markers carry a rim in the page's colour."""

from __future__ import annotations

import matplotlib.colors as mcolors
import pytest

from ntkviz.drawing.style import NEUTRALS, PALETTES, ROLES, Style


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_run_colours_cycle_past_the_palette(theme):
    style = Style(theme=theme)
    palette = PALETTES[theme]
    n = len(palette)
    colours = style.run_colors(3 * n + 2)
    # the first n are the palette itself, in order, each once
    assert colours[:n] == list(palette)
    # run k past the end is run k mod n, whichever lap
    for k in range(3 * n + 2):
        assert colours[k] == palette[k % n], k
        assert style.run_color(k) == colours[k]
    # and never a colour from outside the theme's palette
    assert set(colours) == set(palette)


def _same(a, b) -> bool:
    return mcolors.to_rgba(a) == mcolors.to_rgba(b)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_filled_markers_have_a_rim_in_the_page_colour(theme):
    style = Style(theme=theme)
    page = NEUTRALS[theme]["background"]
    rimmed = []
    for role in ROLES:
        look = style.look(role, color="#123456")
        marker = look.get("marker")
        if marker in ("o", "*"):  # filled markers
            if "mew" in look:  # ...drawn with an edge (trail dots have none)
                rimmed.append(role)
                assert _same(look["markeredgecolor"], page), (role, look)
                assert not _same(look["markeredgecolor"], look["color"]), role
                assert look["mew"] > 0
        else:
            # lines and open markers ('+', all edge) keep their own colour on the edge
            assert _same(look.get("markeredgecolor", look["color"]), look["color"]), role
    # the roles that draw dots on top of curves are among them
    assert {"data", "target", "now"} <= set(rimmed)
    # a caller may still choose another rim
    assert style.look("data", markeredgecolor="red")["markeredgecolor"] == "red"


def test_the_rim_is_drawn_in_the_page_colour():
    """On a frame: a big data dot over a black line shows a page-coloured ring around it."""
    import numpy as np

    from ntkviz.drawing.canvas import Renderer

    class Dot(Renderer):
        count = 1

        def setup(self) -> None:
            ax = self.figure.add_axes((0, 0, 1, 1))
            ax.set_axis_off()
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.fill_between([0, 1], 0, 1, color="#00aa00", zorder=0)  # a green ground
            look = self.style.look("data", color="#0000ff")
            look.update(ms=60, mew=8)
            ax.plot([0.5], [0.5], **look)

        def update(self, i: int) -> bool:
            return False

    for theme in ("light", "dark"):
        style = Style(size=(2, 2), dpi=50, theme=theme)
        picture = Dot(None, None, style).frame(0)[..., :3].astype(int)
        page = np.array(mcolors.to_rgb(NEUTRALS[theme]["background"])) * 255
        centre = picture[50, 50]
        assert tuple(centre) == (0, 0, 255)
        # along the row through the centre: blue inside, then the rim (page colour), then green
        row = picture[50, 50:]
        is_page = np.all(np.abs(row - page) < 3, axis=-1)
        is_green = np.all(np.abs(row - (0, 170, 0)) < 3, axis=-1)
        first_page = np.argmax(is_page)
        assert is_page.any() and is_green.any(), theme
        assert first_page < np.argmax(is_green), theme


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_maps_read_on_the_page(theme):
    """The diverging map is the page's tone at zero and stands out at both ends; the part of the
    sequential map a theme uses stands out from its page at 3:1 or more where the issue found it
    vanishing (the dark end on #111)."""
    from matplotlib import colormaps

    from ntkviz.drawing.contrast import contrast_ratio
    from ntkviz.drawing.style import SEQUENTIAL

    style = Style(theme=theme)
    page = style.color("background")
    assert contrast_ratio(style.diverging(0.5), page) < 1.25
    assert min(contrast_ratio(style.diverging(end), page) for end in (0.0, 1.0)) >= 3
    if theme == "dark":
        low, _ = style.sequential_range
        assert contrast_ratio(colormaps[SEQUENTIAL](low), page) >= 3


def test_contrast_ratio_is_wcags():
    from ntkviz.drawing.contrast import contrast_ratio, over

    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    # WCAG's own example pair: #767676 on white is 4.54:1
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert over("#ffffff", 0.25, "#000000") == pytest.approx((0.25, 0.25, 0.25))
