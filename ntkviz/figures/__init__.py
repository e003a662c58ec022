"""The registry of figures, in the post's order."""

from __future__ import annotations

from ntkviz.errors import ConfigError
from ntkviz.figures.base import FigureSpec
from ntkviz.figures.generalization import SPEC as GENERALIZATION
from ntkviz.figures.hessian_structure import SPEC as HESSIAN_STRUCTURE
from ntkviz.figures.init_functions import SPEC as INIT_FUNCTIONS
from ntkviz.figures.kappa_scaling import SPEC as KAPPA_SCALING
from ntkviz.figures.kernel_change import SPEC as KERNEL_CHANGE
from ntkviz.figures.kernel_spectrum import SPEC as KERNEL_SPECTRUM
from ntkviz.figures.linearized import SPEC as LINEARIZED
from ntkviz.figures.loss_surface import SPEC as LOSS_SURFACE
from ntkviz.figures.ntk_convergence import SPEC as NTK_CONVERGENCE
from ntkviz.figures.ntk_ellipses import SPEC as NTK_ELLIPSES
from ntkviz.figures.posterior import SPEC as POSTERIOR
from ntkviz.figures.rich_lazy import SPEC as RICH_LAZY
from ntkviz.figures.toy_model import SPEC as TOY_MODEL
from ntkviz.figures.weight_matrix import SPEC as WEIGHT_MATRIX

FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        INIT_FUNCTIONS,
        WEIGHT_MATRIX,
        KAPPA_SCALING,
        TOY_MODEL,
        LOSS_SURFACE,
        NTK_ELLIPSES,
        KERNEL_CHANGE,
        HESSIAN_STRUCTURE,
        NTK_CONVERGENCE,
        LINEARIZED,
        GENERALIZATION,
        POSTERIOR,
        KERNEL_SPECTRUM,
        RICH_LAZY,
    )
}


def get(name: str) -> FigureSpec:
    try:
        return FIGURES[name]
    except KeyError:
        raise ConfigError(f"unknown figure {name!r}: choose from {', '.join(FIGURES)}") from None
