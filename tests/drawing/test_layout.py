"""The house style holds in every figure: a layout check at the default size and at --quick,
overlays stay on top of blitted artists, animations start at step 0 and hold their last frame."""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest
import torch
from matplotlib.lines import Line2D

from ntkviz.drawing.canvas import Renderer
from ntkviz.drawing.layout import layout_problems
from ntkviz.drawing.style import MIN_TEXT, Style
from ntkviz.figures import FIGURES
from ntkviz.figures.base import caption, defaults


@functools.cache
def quick_result(name: str):
    spec = FIGURES[name]
    config, _ = defaults(spec, quick=True)
    return spec.simulate(config, torch.Generator().manual_seed(0), None, "cpu"), config


@pytest.mark.parametrize("quick", [False, True], ids=["default-size", "quick"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_layout_is_clean(name, quick):
    spec = FIGURES[name]
    result, config = quick_result(name)
    _, style = defaults(spec, quick=quick)
    renderer = spec.renderer(result, config, style)
    assert layout_problems(renderer) == []


@pytest.mark.parametrize("name", list(FIGURES))
def test_caption_fields_all_filled(name):
    spec = FIGURES[name]
    result, config = quick_result(name)
    filled = caption(spec, result, config)
    assert filled["reading"], f"{name} has no one-line reading for the gallery"
    json.dumps(filled)  # facts go into the sidecar


class _Squares(Renderer):
    """A static red square (overlay) over which a blue square moves (animated)."""

    count = 3

    def setup(self) -> None:
        ax = self.figure.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 10)
        ax.set_axis_off()
        (self.moving,) = ax.plot([], [], "s", color="blue", markersize=40, zorder=1)
        (marker,) = ax.plot([5], [5], "s", color="red", markersize=20, zorder=0)
        self.animate(self.moving)
        self.overlay(marker)

    def update(self, i: int) -> bool:
        self.moving.set_data([5 + 0.2 * i], [5])
        return False


def test_overlay_is_drawn_on_top_of_animated_artists():
    renderer = _Squares(None, None, Style(size=(2, 2), dpi=50))
    for i in range(renderer.count):
        frame = renderer.frame(i)
        centre = frame[50, 50, :3]  # the middle of both squares
        assert tuple(centre) == (255, 0, 0), f"frame {i}: the overlay is hidden ({centre})"
    # ...and still the animated square is drawn around it
    assert (np.all(frame[..., :3] == (0, 0, 255), axis=-1)).sum() > 100


def test_hold_repeats_the_last_frame_only():
    renderer = _Squares(None, None, Style(size=(2, 2), dpi=50))
    renderer.hold(4)
    assert list(renderer.order) == [0, 1, 2, 2, 2, 2, 2]
    assert np.array_equal(renderer.frame(6), renderer.frame(2))


def test_run_colors_are_distinct_in_both_themes():
    for theme in ("light", "dark"):
        style = Style(theme=theme)
        colors = style.run_colors(7)
        assert len(set(colors)) == 7
        look = style.look("data")
        assert look["color"] == style.foreground and look["zorder"] > style.look("run")["zorder"]
    assert Style().look("target")["color"] != Style(theme="dark").look("target")["color"]


def test_legend_and_ticks_are_at_least_the_minimum_text_size():
    style = Style()
    rc = style.rc()
    for key in ("legend.fontsize", "xtick.labelsize", "ytick.labelsize"):
        assert rc[key] >= MIN_TEXT * style.font_size
    assert style.legend()["fontsize"] >= MIN_TEXT * style.font_size


def test_layout_check_finds_small_overlapping_and_clipped_text():
    class Bad(Renderer):
        count = 1

        def setup(self) -> None:
            ax = self.figure.add_subplot()
            ax.plot([0, 1], [0, 1])
            ax.text(0.5, 0.5, "tiny", fontsize=2)
            ax.text(0.5, 0.5, "overlapping")
            self.figure.text(0.99, 0.5, "clipped off the right edge")
            ax.plot([5], [5], "o")  # a marker outside the limits
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)

        def update(self, i: int) -> bool:
            return False

    found = "\n".join(layout_problems(Bad(None, None, Style(size=(4, 3)))))
    assert "'tiny' is 2.0 pt" in found
    assert "overlaps" in found
    assert "clipped by the canvas" in found
    assert "marker(s) off-screen" in found


def test_line2d_defaults_untouched_by_style_lookups():
    # look() returns fresh dicts: figures may change them without touching the house style
    a = Style().look("run", color="#123456")
    a["lw"] = 99
    assert Style().look("run", color="#123456")["lw"] == Style().line_width
    assert isinstance(Line2D([], [], **Style().look("theory")), Line2D)


def test_dataclass_replace_keeps_style_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Style().theme = "dark"  # type: ignore[misc]


@pytest.mark.parametrize("name", list(FIGURES))
def test_both_themes_render_and_differ(name):
    spec = FIGURES[name]
    result, config = quick_result(name)
    _, style = defaults(spec, quick=True)
    pictures = {}
    for theme in ("light", "dark"):
        renderer = spec.renderer(result, config, dataclasses.replace(style, theme=theme))
        pictures[theme] = renderer.frame(renderer.key_frame)[..., :3].astype(int)
    light, dark = pictures["light"], pictures["dark"]
    assert light.shape == dark.shape
    assert tuple(light[0, 0]) == (255, 255, 255)  # the page is the theme's background
    assert tuple(dark[0, 0]) == (17, 17, 17)
    assert dark.mean() < 0.5 * light.mean()
    # the dark theme's text and lines are light: some bright pixels exist on the dark page
    assert (dark.min(axis=-1) > 200).sum() > 50


def test_gallery_check_reports_layout_problems(tmp_path):
    from ntkviz.gallery import validate
    from ntkviz.output.formats import write_animation
    from ntkviz.output.frames import FrameSource

    frame = np.zeros((20, 30, 4), np.uint8)
    report = write_animation(tmp_path / "x.gif", FrameSource(2, lambda i: frame), 10)
    sidecar = {**report, "layout": ["frame 0: axes 0 x label 'x' is clipped by the canvas"]}
    (tmp_path / "x.gif.json").write_text(json.dumps(sidecar))
    assert validate(tmp_path) == [
        "'x.gif': layout: frame 0: axes 0 x label 'x' is clipped by the canvas"
    ]


def test_unchanging_overlays_are_drawn_once_and_changing_ones_every_frame():
    """Also: a frame is the same picture whichever frame was drawn first (files must not depend
    on how --jobs splits the frames)."""

    class Counted(_Squares):
        def setup(self) -> None:
            super().setup()
            ax = self.figure.axes[0]
            self.label = ax.text(1, 1, "step 0", color="green", fontsize=30)
            self.overlay(self.label)
            self.draws = 0
            marker = self.overlays[0]
            original = marker.draw

            def counting(renderer):
                self.draws += 1
                original(renderer)

            marker.draw = counting

        def update(self, i: int) -> bool:
            super().update(i)
            if i:
                self.label.set_text(f"step {i}")
            return False

    renderer = Counted(None, None, Style(size=(2, 2), dpi=50))
    pictures = [renderer.frame(i) for i in range(renderer.count)]
    # the static marker is drawn once; the label, which changes, is known to before any drawing
    assert renderer.draws == 1
    assert renderer._changing == [renderer.label]
    for picture in pictures:
        assert tuple(picture[50, 50, :3]) == (255, 0, 0)  # still on top of the blue square
    # the changing label shows its own frame's text, not a stale copy: a fresh renderer whose
    # first frame is frame 2 draws the same picture, and frames 1 and 2 differ where it is
    fresh = Counted(None, None, Style(size=(2, 2), dpi=50)).frame(2)
    np.testing.assert_array_equal(fresh, pictures[2])
    green = (pictures[2][..., 1] > 100) & (pictures[2][..., 0] < 80) & (pictures[2][..., 2] < 80)
    assert green.sum() > 20
    assert not np.array_equal(pictures[1], pictures[2])
