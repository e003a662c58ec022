"""A layout check for rendered frames: what a reader would trip over, found from the artists;
and the layout a style asks of a figure once its renderer has set it up (:func:`fit_to_style`).

:func:`layout_problems` draws a renderer's frame and reports, one line each: text smaller than
the house minimum (:data:`ntkviz.drawing.style.MIN_TEXT` of the base font, and never under
:data:`ntkviz.drawing.style.MIN_POINTS`), text or a legend clipped by
the canvas, two pieces of text (or a legend and a text outside it) overlapping, and plotted data
that the axes' limits leave off-screen. The tests run it on every figure; it is also a tool for
whoever changes a figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from matplotlib.axes import Axes
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from ntkviz.drawing.style import MIN_TEXT, Style, legend_location  # noqa: F401 - MIN_TEXT: the rule above

PIXEL_SLACK = 1.0  # bounding boxes may touch or poke out by a pixel (antialiasing)
#: A line counts as shown when at least this share of its finite points lies inside the axes.
#: Markers (data, targets: lines without a line style) must all be inside.
SHOWN_SHARE = 0.5


def _visible(text: Text) -> bool:
    return bool(text.get_visible() and text.get_text().strip())


def _tick_labels(ax: Axes) -> Iterator[Text]:
    """Tick labels actually drawn (major and minor, inside the view), as matplotlib picks them."""
    for axis in (ax.xaxis, ax.yaxis):
        if not axis.get_visible():
            continue
        # Axis._update_ticks is what Axis.draw uses to choose the ticks it draws; it has been
        # there since matplotlib 3.0. Older or newer versions without it: major ticks in view.
        update = getattr(axis, "_update_ticks", None)
        if update is not None:
            ticks = update()
        else:  # pragma: no cover - depends on matplotlib's version
            low, high = sorted(axis.get_view_interval())
            locs = axis.get_majorticklocs()
            ticks = [
                t for loc, t in zip(locs, axis.get_major_ticks(len(locs))) if low <= loc <= high
            ]
        for tick in ticks:
            for label in (tick.label1, tick.label2):
                if label.get_visible() and label.get_text().strip():
                    yield label
        offset = axis.get_offset_text()
        if _visible(offset):
            yield offset


def texts(figure) -> list[tuple[str, Text]]:
    """(where, text) for every visible text of the figure outside legends."""
    found: list[tuple[str, Text]] = [("figure text", t) for t in figure.texts if _visible(t)]
    for n, ax in enumerate(figure.axes):
        if not ax.get_visible():
            continue
        where = f"axes {n}"
        titles = (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None))
        found += [(f"{where} title", t) for t in titles if t is not None and _visible(t)]
        found += [(f"{where} x label", ax.xaxis.label)] if _visible(ax.xaxis.label) else []
        found += [(f"{where} y label", ax.yaxis.label)] if _visible(ax.yaxis.label) else []
        found += [(f"{where} tick label", t) for t in _tick_labels(ax)]
        found += [(f"{where} text", t) for t in ax.texts if _visible(t)]
    return found


def legends(figure) -> list[Legend]:
    found = [lg for lg in figure.legends if lg.get_visible()]
    for ax in figure.axes:
        legend = ax.get_legend()
        if legend is not None and legend.get_visible() and ax.get_visible():
            found.append(legend)
    return found


def _overlap(a: Bbox, b: Bbox) -> bool:
    return (
        min(a.x1, b.x1) - max(a.x0, b.x0) > PIXEL_SLACK
        and min(a.y1, b.y1) - max(a.y0, b.y0) > PIXEL_SLACK
    )


def _inside(box: Bbox, frame: Bbox) -> bool:
    return (
        box.x0 >= frame.x0 - PIXEL_SLACK
        and box.y0 >= frame.y0 - PIXEL_SLACK
        and box.x1 <= frame.x1 + PIXEL_SLACK
        and box.y1 <= frame.y1 + PIXEL_SLACK
    )


def _label(text: Text) -> str:
    shown = text.get_text().replace("\n", " ")
    return repr(shown if len(shown) <= 40 else shown[:37] + "...")


#: Give a line this gid when leaving the view is part of what it shows (a curve that diverges).
MAY_LEAVE = "ntkviz:may-leave"


def _lines(ax: Axes) -> Iterable[Line2D]:
    return (line for line in ax.get_lines() if line.get_visible() and line.get_gid() != MAY_LEAVE)


def data_problems(ax: Axes, where: str) -> list[str]:
    """Lines whose data the axes' limits leave (mostly) off-screen."""
    problems = []
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    for line in _lines(ax):
        x = np.asarray(line.get_xdata(orig=False), dtype=float)
        y = np.asarray(line.get_ydata(orig=False), dtype=float)
        if x.size == 0 or y.size == 0 or line.get_transform() != ax.transData:
            continue  # empty, or drawn in axes coordinates (guides)
        if x.size == 1 and y.size > 1:
            x = np.broadcast_to(x, y.shape)
        if y.size == 1 and x.size > 1:
            y = np.broadcast_to(y, x.shape)
        finite = np.isfinite(x) & np.isfinite(y)
        if not finite.any():
            continue
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        share = inside[finite].mean()
        markers_only = line.get_linestyle() in ("None", "none", "", " ")
        name = line.get_label()
        name = f"line {name!r}" if name and not name.startswith("_") else "a line"
        if markers_only and share < 1.0:
            problems.append(f"{where}: {name}: {int((~inside[finite]).sum())} marker(s) off-screen")
        elif not markers_only and share < SHOWN_SHARE:
            problems.append(f"{where}: {name}: only {share:.0%} of its points on screen")
    return problems


def layout_problems(renderer, frames: Iterable[int] | None = None) -> list[str]:
    """Problems a reader would see in the given output frames (default: first, middle, last,
    and the key frame) of ``renderer``; an empty list means the layout is clean."""
    count = len(renderer)
    if frames is None:
        frames = sorted({0, count // 2, count - 1, renderer.key_frame})
    with renderer.drawing():  # ticks are chosen under the figure's own rc settings
        return _problems(renderer, frames)


def _problems(renderer, frames: Iterable[int]) -> list[str]:
    problems: list[str] = []
    minimum = renderer.style.min_text
    for n in frames:
        renderer.frame(n)
        figure = renderer.figure
        # a full draw on the canvas places every label anew (a vector file written before
        # leaves them where its own 72-dpi draw put them)
        renderer.canvas.draw()
        canvas_renderer = renderer.canvas.get_renderer()
        page = figure.bbox
        tag = f"frame {n}"
        boxes: list[tuple[str, Text, Bbox]] = []
        for where, text in texts(figure):
            box = text.get_window_extent(canvas_renderer)
            if text.get_fontsize() < minimum - 1e-6:
                problems.append(
                    f"{tag}: {where} {_label(text)} is {text.get_fontsize():.1f} pt, "
                    f"under the minimum {minimum:.1f}"
                )
            if not _inside(box, page):
                problems.append(f"{tag}: {where} {_label(text)} is clipped by the canvas")
            boxes.append((where, text, box))
        for legend in legends(figure):
            box = legend.get_window_extent(canvas_renderer)
            if not _inside(box, page):
                problems.append(f"{tag}: a legend is clipped by the canvas")
            for text in legend.get_texts():
                if _visible(text) and text.get_fontsize() < minimum - 1e-6:
                    problems.append(
                        f"{tag}: legend text {_label(text)} is {text.get_fontsize():.1f} pt, "
                        f"under the minimum {minimum:.1f}"
                    )
            for where, text, other in boxes:
                if _overlap(box, other):
                    problems.append(f"{tag}: a legend overlaps {where} {_label(text)}")
        for i, (where_a, text_a, a) in enumerate(boxes):
            for where_b, text_b, b in boxes[i + 1 :]:
                if _overlap(a, b):
                    problems.append(
                        f"{tag}: {where_a} {_label(text_a)} overlaps {where_b} {_label(text_b)}"
                    )
        for k, ax in enumerate(figure.axes):
            if ax.get_visible():
                problems += data_problems(ax, f"{tag}: axes {k}")
    return list(dict.fromkeys(problems))  # each problem once, in order


# -- the layout a style asks for ---------------------------------------------------------------

#: A gridspec carrying this attribute (True) lays its panels out for the width itself
#: (:func:`ntkviz.drawing.axes.shared_panels`): :func:`fit_to_style` leaves it as it is.
FLOWED = "ntkviz_flowed"
#: A gridspec's panels' own height over width (square planes: 1), where the house's is not it.
ASPECT = "ntkviz_aspect"


def keep_row(ax, aspect: float | None = None) -> None:
    """Keep the grid of ``ax``'s panels as it is on a narrow figure (small multiples that read
    well small, square matrices); ``aspect``: their height over width."""
    grid = ax.get_subplotspec().get_gridspec()
    setattr(grid, FLOWED, True)
    setattr(grid, ASPECT, aspect)


def _figures(figure) -> list:
    """The figure and its subfigures, depth first."""
    found, todo = [], [figure]
    while todo:
        fig = todo.pop(0)
        found.append(fig)
        todo.extend(getattr(fig, "subfigs", []))
    return found


def _reflow(figure, style: Style) -> tuple[int, int, float | None]:
    """Re-flow every grid of panels whose columns do not fit ``style``'s width into more rows,
    in reading order; return the (rows, cols, panel aspect or None) of the largest grid after
    it."""
    groups: dict[int, tuple] = {}
    for ax in figure.axes:
        spec = ax.get_subplotspec()
        if spec is None:
            continue
        grid = spec.get_gridspec()
        groups.setdefault(id(grid), (grid, []))[1].append(ax)
    biggest, aspect = (1, 1), None
    for grid, axes in groups.values():
        rows, cols = grid.get_geometry()
        shown = [ax for ax in axes if ax.get_visible()]
        cells = sorted({ax.get_subplotspec().num1 for ax in shown})  # a twin shares its cell
        new_rows, new_cols, new_aspect = style.grid(len(cells), cols)
        single = all(ax.get_subplotspec().num1 == ax.get_subplotspec().num2 for ax in axes)
        movable = single and not getattr(grid, FLOWED, False) and hasattr(grid, "figure")
        if new_cols < cols and movable and grid.figure is figure:  # not a subfigure's
            flowed = figure.add_gridspec(new_rows, new_cols)
            setattr(flowed, ASPECT, new_aspect)
            for ax in axes:  # reading order kept; a grid's spare (hidden) cells dropped
                if ax in shown:
                    place = cells.index(ax.get_subplotspec().num1)
                    ax.set_subplotspec(flowed[divmod(place, new_cols)])
                else:
                    ax.set_in_layout(False)
            rows, cols, grid = new_rows, new_cols, flowed
        if rows * cols > biggest[0] * biggest[1]:
            biggest, aspect = (rows, cols), getattr(grid, ASPECT, None)
    return (*biggest, aspect)


def _hide(artist) -> None:
    artist.set_visible(False)
    artist.set_in_layout(False)


def _place_legends(figures: list, where: str) -> None:
    """Every legend where ``where`` (a style's ``legend_at``) says: hidden ("none"), beside its
    panel ("outside"), or at a location of its panel; legends of the whole figure already lie
    outside the panels and only go with "none"."""
    for fig in figures:
        for legend in fig.legends:
            if where == "none":
                _hide(legend)
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            if where == "none":
                _hide(legend)
            elif where == "outside":
                legend.set_bbox_to_anchor((1.02, 1.0), transform=ax.transAxes)
                legend.set_loc("upper left")
            else:
                legend.set_bbox_to_anchor(None)
                legend.set_loc(where)


def _tokens(line: str) -> list[str]:
    """The words of ``line``, a $math$ span kept whole (a line break inside one breaks it)."""
    words: list[str] = []
    for word in line.split(" "):
        if words and words[-1].count("$") % 2 == 1:
            words[-1] += " " + word
        else:
            words.append(word)
    return words


def _wrap_within(text: Text, room) -> None:
    """Wrap ``text`` at spaces (never inside $math$) to ``room()`` pixels, whatever text it is
    given later: matplotlib measures the wrapped text for the layout and draws it so."""

    def wrapped() -> str:
        width = room()
        lines: list[str] = []
        for line in text.get_text().split("\n"):
            current = ""
            for word in _tokens(line):
                trial = f"{current} {word}" if current else word
                if current and text._get_rendered_text_width(trial) > width:
                    lines.append(current)
                    current = word
                else:
                    current = trial
            lines.append(current)
        return "\n".join(lines)

    text.set_wrap(True)
    text._get_wrapped_text = wrapped


def _wrap_labels(figure) -> None:
    """Titles and axis labels wrapped to their panel's width (a y label: its height)."""
    for ax in figure.axes:
        across = lambda ax=ax: max(ax.bbox.width, 40.0)  # noqa: E731
        down = lambda ax=ax: max(ax.bbox.height, 40.0)  # noqa: E731
        for title in (ax.title, ax._left_title, ax._right_title, ax.xaxis.label):
            _wrap_within(title, across)
        _wrap_within(ax.yaxis.label, down)


#: Room left in a legend's width for labels that grow as frames go by (a fitted slope):
#: :meth:`ntkviz.drawing.canvas.Renderer.figure_legend`.
LEGEND_SLACK = 1.4


def _legend_ems(legend) -> float:
    """The height of a legend of the whole figure, in font heights: its rows and its frame."""
    entries = len(legend.get_texts())
    return 1.5 * -(-entries // max(legend._ncols, 1)) + 1.5


def _extra_ems(fig) -> float:
    """Font heights of what lies above or below a figure's panels: its title, its legends."""
    title = getattr(fig, "_suptitle", None)
    extra = 2.0 if title is not None and title.get_visible() else 0.0
    return extra + sum(_legend_ems(legend) for legend in fig.legends if legend.get_visible())


def _height(fig, style: Style) -> float:
    """Re-flow the panels of ``fig`` (and of its subfigures, stacked in one column: their
    heights shared out anew) and return the height (inches) they need at ``style``'s width."""
    subfigs = getattr(fig, "subfigs", [])
    rows, cols, aspect = _reflow(fig, style)
    if not subfigs:
        return style.fitted_height(rows, cols, _extra_ems(fig), aspect)
    heights = [_height(sub, style) for sub in subfigs]
    grid = subfigs[0]._subplotspec.get_gridspec()
    if grid.get_geometry() == (len(subfigs), 1):
        grid.set_height_ratios(heights)
    return round(sum(heights) + _extra_ems(fig) * style.font_size / 72.0, 2)


def fit_to_style(figure, style: Style) -> float | None:
    """What ``style`` asks of a figure once set up: panels re-flowed to fit its width (a row of
    panels too narrow for their labels becomes two or more rows; titles and axis labels wrapped
    to their panel), no title where it has ``title`` off (the figure's heading or counter, and the
    title of a lone panel), its legends where its ``legend_at`` says. Returns the height (inches) a
    ``fit_height`` style gives the re-flowed panels, else None."""
    figures = _figures(figure)
    if not style.title:
        for fig in figures:
            if getattr(fig, "_suptitle", None) is not None:
                _hide(fig._suptitle)
            for text in fig.texts:  # a heading or step counter of the whole figure
                _hide(text)
        panels = [ax for fig in figures for ax in fig.axes if ax.get_subplotspec() is not None]
        if len(panels) == 1:
            _hide(panels[0].title)
    where = legend_location(style.legend_at)
    if where not in (None, "auto"):
        _place_legends(figures, where)
    height = _height(figure, style)  # re-flows the panels
    if style.reflows:
        for fig in figures:
            _wrap_labels(fig)
    return height if style.fit_height else None
