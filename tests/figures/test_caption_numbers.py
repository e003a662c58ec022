"""No caption states 'nan': where a number cannot be computed (one alpha, one width, a block that
is zero) the caption says what holds instead. Every figure at --quick, and the edge options that
used to print 'slope nan'."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ntkviz.figures import FIGURES
from ntkviz.figures.base import caption, defaults

#: Options that leave a fitted slope undefined or zero, per figure (on top of --quick).
EDGES = [
    ("toy-model", {"frames": 1}),
    ("toy-model", {"alpha_min": 10.0, "alpha_max": 10.0}),
    ("loss-surface", {"frames": 1}),
    ("hessian-structure", {"activation": "relu"}),
    ("hessian-structure", {"widths": (4,), "ratio_max_width": 4}),
    ("kappa-scaling", {"widths": (64,)}),
    ("kappa-scaling", {"seeds": 1}),
    ("ntk-convergence", {"widths": (10,), "points": 11}),
    ("posterior", {"widths": (32,), "count": 10, "steps": 20, "frames": 2}),
    ("kernel-change", {"alphas": (1.0,), "trials": 2, "steps": 50}),
    ("kernel-change", {"alphas": (0.01, 0.1), "trials": 2, "steps": 50}),
    ("kernel-spectrum", {"widths": (64,), "steps": 50, "frames": 5}),
    ("rich-lazy", {"sweep_nets": 1, "steps": 20, "frames": 2, "sweep_points": 21}),
]


def _filled(name: str, options: dict) -> str:
    spec = FIGURES[name]
    config, _ = defaults(spec, quick=True)
    config = dataclasses.replace(config, **options)
    if hasattr(config, "check"):
        config.check()
    result = spec.simulate(config, torch.Generator().manual_seed(0))
    filled = caption(spec, result, config)
    return filled["caption"] + " " + filled["reading"]


@pytest.mark.parametrize(("name", "options"), EDGES, ids=lambda v: str(v))
def test_edge_options_leave_no_nan_in_the_caption(name, options):
    text = _filled(name, options)
    assert "nan" not in text.lower(), text


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_quick_captions_have_no_nan(name):
    text = _filled(name, {})
    assert "nan" not in text.lower(), text
    assert "{" not in text and "}" not in text
