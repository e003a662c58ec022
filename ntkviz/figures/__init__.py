"""The registry of figures, in the post's order."""

from __future__ import annotations

from ntkviz.errors import ConfigError
from ntkviz.figures.base import FigureSpec
from ntkviz.figures.loss_surface import SPEC as LOSS_SURFACE
from ntkviz.figures.toy_model import SPEC as TOY_MODEL

FIGURES: dict[str, FigureSpec] = {spec.name: spec for spec in (TOY_MODEL, LOSS_SURFACE)}


def get(name: str) -> FigureSpec:
    try:
        return FIGURES[name]
    except KeyError:
        raise ConfigError(f"unknown figure {name!r}: choose from {', '.join(FIGURES)}") from None
