"""Shared axes: every variant of an explore page drawn with the same axis limits and colour
scales, so that nothing on the page jumps when the option slider moves.

A renderer picks its limits in ``setup`` (from config options, or from its Result); they are read
back from its figure here, united over every variant, and set on each variant's renderer before
its first frame is drawn (the background is drawn then, so nothing drawn is redrawn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Limits = list[dict[str, Any]]


def read(renderer: Any) -> Limits:
    """Each axes' x and y limits and the colour limits of its images and collections."""
    out = []
    for ax in renderer.figure.axes:
        clims = []
        for artist in [*ax.images, *ax.collections]:
            if getattr(artist, "get_array", None) is not None and artist.get_array() is not None:
                clims.append([float(v) for v in artist.get_clim()])
            else:
                clims.append(None)
        out.append(
            {
                "x": [float(v) for v in ax.get_xlim()],
                "y": [float(v) for v in ax.get_ylim()],
                "clims": clims,
            }
        )
    return out


def _span(spans: Sequence[Sequence[float]]) -> list[float] | None:
    """The union of (lo, hi) spans, in the orientation of the first (an axis may run down)."""
    finite = [s for s in spans if s is not None and all(math.isfinite(v) for v in s)]
    if not finite:
        return None
    low = min(min(s) for s in finite)
    high = max(max(s) for s in finite)
    return [high, low] if finite[0][0] > finite[0][1] else [low, high]


def union(every: Sequence[Limits]) -> Limits | None:
    """The limits that hold every variant's: None where the variants' figures differ in their
    axes (they cannot share them)."""
    if not every or len({len(v) for v in every}) != 1:
        return None
    out = []
    for axes in zip(*every, strict=True):
        if len({len(a["clims"]) for a in axes}) != 1:
            return None
        clims = [
            _span([a["clims"][n] for a in axes]) if axes[0]["clims"][n] is not None else None
            for n in range(len(axes[0]["clims"]))
        ]
        out.append(
            {"x": _span([a["x"] for a in axes]), "y": _span([a["y"] for a in axes]), "clims": clims}
        )
    return out


def apply(renderer: Any, limits: Limits | None) -> None:
    """Set ``limits`` (from :func:`union`) on a renderer's figure, before its first frame."""
    if not limits or len(limits) != len(renderer.figure.axes):
        return
    for ax, wanted in zip(renderer.figure.axes, limits, strict=True):
        if wanted["x"] is not None:
            ax.set_xlim(*wanted["x"])
        if wanted["y"] is not None:
            ax.set_ylim(*wanted["y"])
        artists = [*ax.images, *ax.collections]
        if len(artists) == len(wanted["clims"]):
            for artist, clim in zip(artists, wanted["clims"], strict=True):
                if clim is not None:
                    artist.set_clim(*clim)
