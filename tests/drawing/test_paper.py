"""Paper and talk presets (--style, --font-size, --title, --legend) and the layout check on every
run: a 3.3-inch paper PDF of every figure is clean, a small web figure says what is wrong."""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ntkviz.drawing.canvas import Renderer
from ntkviz.drawing.layout import layout_problems
from ntkviz.drawing.style import PAPER_FONT, PAPER_WIDTH, Style, preset
from ntkviz.figures import FIGURES
from ntkviz.figures.base import defaults

QUIET = ["--quick", "--no-progress", "--hold", "0"]


@functools.cache
def _quick(name: str):
    spec = FIGURES[name]
    config, style = defaults(spec, quick=True)
    return spec.simulate(config, torch.Generator().manual_seed(0), None, "cpu"), config, style


def _renderer(figure: str, look: str = "web", **style_options):
    spec = FIGURES[figure]
    result, config, style = _quick(figure)
    return spec.renderer(result, config, preset(style, look, **style_options))


@pytest.mark.parametrize("name", list(FIGURES))
def test_a_paper_pdf_of_every_figure_passes_the_layout_check(cli, tmp_path, name):
    out = tmp_path / f"{name}.pdf"
    result = cli(name, "--style", "paper", "-o", out, *QUIET)
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr, result.stderr
    sidecar = json.loads((tmp_path / f"{name}.pdf.json").read_text())
    assert sidecar["layout"] == []
    # a column's width (points), the height the re-flowed panels need, 8 pt type, no title
    assert sidecar["width"] == pytest.approx(72 * PAPER_WIDTH, abs=1)
    assert 72 * 1.5 < sidecar["height"] < 72 * 13
    style = sidecar["style"]
    assert (style["preset"], style["font_size"], style["title"]) == ("paper", PAPER_FONT, False)
    assert out.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_frame_of_a_paper_figure_is_clean(name):
    """The gallery's stricter check (first, middle, last and key frame) on the paper preset."""
    assert layout_problems(_renderer(name, "paper", dpi_factor=0.5)) == []


def test_a_small_web_figure_warns_once_per_problem_and_records_it(cli, tmp_path):
    """The issue's case: the web look shrunk to 3.3x2.5 in gives 5 pt type; the run says so."""
    out = tmp_path / "k.png"
    result = cli("kernel-change", "--size", "3.3x2.5", "-o", out, *QUIET)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    recorded = json.loads((tmp_path / "k.png.json").read_text())["layout"]
    assert warnings == [f"Warning: layout: {p}" for p in recorded]
    assert any("under the minimum 6.0" in w for w in warnings), warnings
    assert "Wrote" in result.stdout and "Warning" not in result.stdout

    result = cli("kernel-change", "--size", "3.3x2.5", "-o", out, "--no-layout-check", *QUIET)
    assert result.exit_code == 0 and "Warning" not in result.stderr
    assert "layout" not in json.loads((tmp_path / "k.png.json").read_text())

    # the same size with an absolute font: the type is readable again
    result = cli("kernel-change", "--size", "3.3x2.5", "--font-size", "8", "-o", out, *QUIET)
    assert result.exit_code == 0 and "under the minimum" not in result.stderr, result.stderr
    assert json.loads((tmp_path / "k.png.json").read_text())["style"]["font_size"] == 8.0


def test_font_size_is_absolute_and_web_scales_with_the_size():
    base = Style()
    assert preset(base, size=(3.3, 2.5)).font_size == pytest.approx(20 * 3.3 / 12)
    assert preset(base, size=(3.3, 2.5), font_size=9).font_size == 9
    assert preset(base, "paper", size=(6.8, 3)).font_size == PAPER_FONT
    assert preset(base, "paper", size=(6.8, 3), font_size=7).font_size == 7
    assert preset(base) == base  # web at the figure's size: the figure's own look


def test_talk_is_16_by_9_at_1080p(cli, tmp_path):
    for name in ("kernel-change", "kappa-scaling"):  # a figure's own 12x9 and 18x6 inches
        assert preset(FIGURES[name].style, "talk").pixels == (1920, 1080)
    out = tmp_path / "t.png"
    result = cli("kernel-change", "--style", "talk", "-o", out, *QUIET)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (960, 540)  # --quick: half the pixels
    assert "Warning" not in result.stderr, result.stderr


def test_no_title_hides_the_heading_and_a_lone_panels_title():
    shown = _renderer("kernel-change")
    (ax,) = shown.figure.axes
    assert ax.title.get_visible() and ax.title.get_text()
    hidden = _renderer("kernel-change", title=False)
    assert not hidden.figure.axes[0].title.get_visible()
    heading = _renderer("kappa-scaling", title=False)
    assert not heading.figure._suptitle.get_visible()
    # panels of several keep their titles: they tell the panels apart
    assert all(ax.title.get_visible() for ax in heading.figure.axes if ax.get_title())
    assert _renderer("kappa-scaling").figure._suptitle.get_visible()


def _legend_box(renderer):
    with renderer.drawing():
        renderer.frame(renderer.key_frame)
    ax = renderer.figure.axes[0]
    cr = renderer.canvas.get_renderer()
    return ax.get_legend(), ax.get_window_extent(cr), ax.get_legend().get_window_extent(cr)


def test_legend_location_outside_and_none():
    legend, axes_box, box = _legend_box(_renderer("kernel-change"))
    assert box.x0 < axes_box.x0 + 0.5 * axes_box.width  # the figure's own: lower left
    legend, axes_box, box = _legend_box(_renderer("kernel-change", legend="upper-right"))
    assert box.x1 > axes_box.x0 + 0.5 * axes_box.width and box.y1 > axes_box.y0 + 0.5 * (
        axes_box.height
    )
    legend, axes_box, box = _legend_box(_renderer("kernel-change", legend="outside"))
    assert box.x0 >= axes_box.x1  # beside the panel, out of the data
    renderer = _renderer("kernel-change", legend="outside")
    assert layout_problems(renderer) == []
    legend, _, _ = _legend_box(_renderer("kernel-change", legend="none"))
    assert not legend.get_visible()


class _Row(Renderer):
    """Three panels in a row."""

    count = 1

    def setup(self) -> None:
        for k in range(3):
            ax = self.figure.add_subplot(1, 3, k + 1)
            ax.plot([0, 1], [0, k])
            ax.set_xlabel("x")
            ax.set_ylabel("a long label of the y axis")

    def update(self, i: int) -> bool:
        return False


def _positions(renderer) -> np.ndarray:
    with renderer.drawing():
        renderer.frame(0)
    return np.array([ax.get_position().bounds for ax in renderer.figure.axes])


def test_paper_reflows_a_row_of_panels_into_a_column_and_fits_the_height():
    web = _Row(None, None, Style(size=(12.0, 4.0)))
    bounds = _positions(web)
    assert np.ptp(bounds[:, 1]) < 1e-9 and np.all(np.diff(bounds[:, 0]) > 0)  # one row
    paper = _Row(None, None, preset(Style(size=(12.0, 4.0)), "paper"))
    bounds = _positions(paper)
    assert np.ptp(bounds[:, 0]) < 1e-9 and np.all(np.diff(bounds[:, 1]) < 0)  # one column
    assert paper.style.size[0] == PAPER_WIDTH and paper.style.size[1] > 3 * 1.5
    assert layout_problems(paper) == []
    wide = _Row(None, None, preset(Style(size=(12.0, 4.0)), "paper", size=(6.8, 2.2)))
    assert np.ptp(_positions(wide)[:, 1]) < 1e-9  # a page's width holds the row
    assert wide.style.size == (6.8, 2.2)  # a height given is kept


def test_a_paper_sidecar_reruns_to_the_same_size(cli, tmp_path):
    out = tmp_path / "e.pdf"
    args = ("ntk-ellipses", "--alphas", "0.1,1,10", "--style", "paper", "-o", out, *QUIET)
    assert cli(*args).exit_code == 0
    first = json.loads((tmp_path / "e.pdf.json").read_text())
    result = cli("rerun", tmp_path / "e.pdf.json", "-o", tmp_path / "again.pdf")
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "again.pdf.json").read_text())
    assert (again["width"], again["height"]) == (first["width"], first["height"])
    assert again["style"] == first["style"] and again["layout"] == []


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--style", "poster", "--style must be one of web, paper, talk (got 'poster')"),
        ("--legend", "sideways", "--legend must be a location"),
        ("--font-size", "0", "--font-size must be > 0 and at most 72 points (got 0)"),
        ("--font-size", "nan", "--font-size"),
    ],
)
def test_bad_style_options(cli, tmp_path, option, value, message):
    result = cli("kernel-change", "-o", tmp_path / "k.png", option, value, *QUIET)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_recorded_bad_legend_is_refused(cli, tmp_path):
    out = tmp_path / "k.png"
    assert cli("kernel-change", "-o", out, *QUIET).exit_code == 0
    record = json.loads((tmp_path / "k.png.json").read_text())
    record["style"]["legend_at"] = "in the margin"
    (tmp_path / "k.png.json").write_text(json.dumps(record))
    result = cli("rerun", tmp_path / "k.png.json", "-o", tmp_path / "again.png")
    assert result.exit_code == 2 and "--legend must be a location" in result.stderr


def test_style_fields_default_to_the_web_look():
    style = Style()
    assert (style.preset, style.title, style.legend_at, style.fit_height) == (
        "web",
        True,
        "auto",
        False,
    )
    assert dataclasses.replace(style, legend_at="lower-left").check()
