"""Issue 21: maps that read on the page in both themes. A diverging map is the page's tone at
zero (the dark theme's was white: glaring squares on #111), and a sequential map's low end stands
out from the page (ntk-convergence's narrow widths vanished on #111). Measured as WCAG contrast
ratios (:func:`ntkviz.drawing.contrast.contrast_ratio`) on the drawn pixels where possible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ntkviz.drawing.contrast import contrast_ratio, over
from ntkviz.drawing.style import Style
from ntkviz.figures.hessian_structure import (
    HessianStructureConfig,
    HessianStructureRenderer,
)
from ntkviz.figures.hessian_structure import simulate as hessian_simulate
from ntkviz.figures.ntk_convergence import NtkConvergenceConfig, NtkConvergenceRenderer
from ntkviz.figures.ntk_convergence import simulate as convergence_simulate
from ntkviz.figures.weight_matrix import WeightMatrixConfig, WeightMatrixRenderer
from ntkviz.figures.weight_matrix import simulate as weight_simulate

THEMES = ("light", "dark")


def _inside(picture: np.ndarray, ax, margin: int = 3) -> np.ndarray:
    """The RGB pixels (P, 3, floats in 0..1) inside ``ax``'s box, ``margin`` pixels in from it."""
    box = ax.get_window_extent()
    height = picture.shape[0]
    rows = slice(int(height - box.y1) + margin, int(height - box.y0) - margin)
    cols = slice(int(box.x0) + margin, int(box.x1) - margin)
    return picture[rows, cols, :3].reshape(-1, 3) / 255.0


def _contrasts(pixels: np.ndarray, page: str) -> np.ndarray:
    return np.array([contrast_ratio(tuple(p), page) for p in pixels])


@pytest.mark.parametrize("theme", THEMES)
def test_weight_changes_of_zero_are_the_page_tone(theme):
    """At step 0 every change is zero: each matrix panel is the page's tone, not a white square;
    its colour bar's ends (the largest changes) stand out from the page."""
    config = WeightMatrixConfig(widths=(4, 7), steps=6, lr=1e-2, max_pixels=5, show="delta")
    result = weight_simulate(config, torch.Generator().manual_seed(5))
    style = Style(size=(8.0, 5.0), dpi=40, theme=theme)
    renderer = WeightMatrixRenderer(result, config, style)
    picture = renderer.frame(0)
    page = style.color("background")
    for image, *_ in renderer.images:
        contrasts = _contrasts(_inside(picture, image.axes), page)
        assert contrasts.max() < 1.25, (theme, contrasts.max())
        for end in (0.0, 1.0):
            assert contrast_ratio(image.cmap(end), page) >= 3, (theme, end)


@pytest.mark.parametrize("theme", THEMES)
def test_hessian_zeros_are_the_page_tone_and_its_diagonals_read(theme):
    config = HessianStructureConfig(widths=(2, 4, 8), ratio_max_width=16, seeds=2)
    result = hessian_simulate(config, torch.Generator().manual_seed(0))
    style = Style(size=(10.0, 4.0), dpi=50, theme=theme)
    renderer = HessianStructureRenderer(result, config, style)
    picture = renderer.frame(renderer.count - 1)
    page = style.color("background")
    for _, image in renderer.images:
        contrasts = _contrasts(_inside(picture, image.axes), page)
        # most entries are zero: the typical pixel is the page's tone...
        assert np.median(contrasts) < 1.25, (theme, np.median(contrasts))
        # ...and the nonzero diagonals stand out from it
        assert contrasts.max() >= 3, (theme, contrasts.max())


def test_narrow_widths_read_on_the_dark_page():
    """Every width's median line stands out from #111 (>= 3:1, WCAG's least for what one must
    see), and the band of the width drawn now, at the opacity the figure gives it, >= 1.3:1
    (earlier widths' bands stay faint on purpose: their lines carry them)."""
    config = NtkConvergenceConfig(widths=(10, 40, 160, 640), seeds=4, points=21)
    result = convergence_simulate(config, torch.Generator().manual_seed(0))
    style = Style(size=(9.0, 4.0), dpi=40, theme="dark")
    renderer = NtkConvergenceRenderer(result, config, style)
    page = style.color("background")
    for k in range(renderer.count):
        renderer.frame(k)
        assert contrast_ratio(renderer.medians[k].get_color(), page) >= 3, k
        *fill, alpha = renderer.bands[k].get_facecolor()[0]
        assert contrast_ratio(over(fill, alpha, page), page) >= 1.3, (k, alpha)
