"""Each rule of the layout check (ntkviz.drawing.layout) on a crafted figure that breaks exactly
that rule and nothing else, and a figure that breaks none: the check reports that one problem,
and nothing for the clean one."""

from __future__ import annotations

from ntkviz.drawing.canvas import Renderer
from ntkviz.drawing.layout import layout_problems
from ntkviz.drawing.style import Style

STYLE = Style(size=(4, 3), dpi=50, font_size=8.0)


class _Crafted(Renderer):
    """An axes without ticks or labels (nothing of its own to report) and what ``draw`` adds."""

    count = 1

    def draw(self, ax) -> None:
        pass

    def setup(self) -> None:
        ax = self.figure.add_axes((0.1, 0.1, 0.8, 0.8))
        ax.set_axis_off()
        ax.xaxis.set_visible(False)  # no tick labels (the check reads them from the axis)
        ax.yaxis.set_visible(False)
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 10)
        self.draw(ax)

    def update(self, i: int) -> bool:
        return False


def _problems(draw) -> list[str]:
    renderer = type("Crafted", (_Crafted,), {"draw": lambda self, ax: draw(self, ax)})(
        None, None, STYLE
    )
    return layout_problems(renderer)


def _clean(self, ax) -> None:
    ax.plot([1, 5, 9], [1, 5, 9], label="run")  # a line, all on screen
    ax.plot([2, 8], [8, 2], "o")  # markers, all on screen
    ax.text(1, 9, "top left")
    ax.text(6, 1, "bottom right")  # apart from the first
    self.figure.text(0.5, 0.92, "a title inside the page", ha="center", va="bottom")


def test_a_clean_figure_has_no_problems():
    assert _problems(_clean) == []


def test_text_clipped_by_the_top_edge_only():
    def draw(self, ax):
        _clean(self, ax)
        # centred, well inside left and right, its bottom inside the page, its top above it
        self.figure.text(0.5, 0.99, "over the top", ha="center", va="bottom")

    assert _problems(draw) == ["frame 0: figure text 'over the top' is clipped by the canvas"]


def test_markers_partly_off_screen():
    def draw(self, ax):
        _clean(self, ax)
        # three of four markers inside: more than the share a line needs, but markers must all be
        ax.plot([2, 4, 6, 12], [5, 5, 5, 5], "s", label="targets")

    assert _problems(draw) == ["frame 0: axes 0: line 'targets': 1 marker(s) off-screen"]


def test_a_line_mostly_on_screen_is_fine_but_not_one_mostly_off():
    def mostly_on(self, ax):
        _clean(self, ax)
        ax.plot([2, 4, 6, 12], [5, 5, 5, 5], "-", label="curve")  # 3 of 4 points on screen

    def mostly_off(self, ax):
        _clean(self, ax)
        ax.plot([2, 14, 16, 12], [5, 5, 5, 5], "-", label="curve")  # 1 of 4

    assert _problems(mostly_on) == []
    assert _problems(mostly_off) == [
        "frame 0: axes 0: line 'curve': only 25% of its points on screen"
    ]


def test_two_texts_next_to_each_other_in_the_list_overlap():
    def draw(self, ax):
        _clean(self, ax)
        ax.text(4, 5, "first words")
        ax.text(4.3, 5.1, "second words")  # drawn right after, over the first

    assert _problems(draw) == [
        "frame 0: axes 0 text 'first words' overlaps axes 0 text 'second words'"
    ]
