"""A layout check for rendered frames: what a reader would trip over, found from the artists.

:func:`layout_problems` draws a renderer's frame and reports, one line each: text smaller than
the house minimum (:data:`ntkviz.drawing.style.MIN_TEXT` of the base font), text or a legend clipped by
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

from ntkviz.drawing.style import MIN_TEXT

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
    minimum = MIN_TEXT * renderer.style.font_size
    for n in frames:
        renderer.frame(n)
        figure = renderer.figure
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
