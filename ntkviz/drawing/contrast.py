"""WCAG 2 contrast of colours: how the style's colours are judged against the page they lie on
(the tests measure every figure's drawn colours with it)."""

from __future__ import annotations

from typing import Any

import matplotlib.colors


def relative_luminance(color: Any) -> float:
    """WCAG 2's relative luminance of a colour (any matplotlib colour; alpha ignored)."""
    rgb = [float(c) for c in matplotlib.colors.to_rgb(color)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: Any, b: Any) -> float:
    """WCAG 2's contrast ratio of two colours, 1 (the same) to 21 (black on white)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def over(color: Any, alpha: float, under: Any) -> tuple[float, float, float]:
    """The colour seen where ``color`` at opacity ``alpha`` lies over ``under``."""
    top, bottom = matplotlib.colors.to_rgb(color), matplotlib.colors.to_rgb(under)
    return tuple(alpha * t + (1.0 - alpha) * u for t, u in zip(top, bottom, strict=True))
