"""float32 is exact enough for ntk-convergence: its stated numbers (spread, error, slope: see
``facts`` and the caption) agree with float64's within 1e-3, and both meet the same references
(the infinite-width kernel, the theory's slope -1/2)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ntkviz.errors import ConfigError
from ntkviz.figures import FIGURES
from ntkviz.figures.base import defaults
from ntkviz.figures.ntk_convergence import facts

SPEC = FIGURES["ntk-convergence"]


@pytest.fixture(scope="module")
def both():
    config, _ = defaults(SPEC, False)
    config = replace(config, widths=(10, 32, 100, 316, 1000), seeds=8, points=61)
    return {
        dtype: (
            SPEC.simulate(replace(config, dtype=dtype), torch.Generator().manual_seed(0)),
            replace(config, dtype=dtype),
        )
        for dtype in ("float32", "float64")
    }


def test_float32_is_the_default():
    config, _ = defaults(SPEC, False)
    assert config.dtype == "float32"


def test_float32_and_float64_state_the_same_numbers(both):
    (r32, c32), (r64, c64) = both["float32"], both["float64"]
    f32, f64 = facts(r32, c32), facts(r64, c64)
    for key in ("spread_first", "spread_last", "error_first", "error_last"):
        assert f32[key] == pytest.approx(f64[key], rel=1e-3), key
    assert f32["slope"] == pytest.approx(f64["slope"], abs=1e-3)
    assert f32["near"] == f64["near"] and f32["approach"] == f64["approach"]
    scale = np.abs(r64.kernels).max()
    assert np.abs(r32.kernels - r64.kernels).max() <= 1e-4 * scale


def test_both_meet_the_same_references(both):
    for dtype, (result, _) in both.items():
        # The theory's slope, within what 8 nets per width allow.
        assert result.slopes[-1] == pytest.approx(result.theory_slope, abs=0.1), dtype
        # The widest nets' median is the infinite-width kernel.
        assert result.error[-1] < 0.1, dtype
        assert result.error[-1] < result.error[0], dtype


def test_bad_dtype_is_refused():
    from ntkviz.config import validate

    config, _ = defaults(SPEC, False)
    with pytest.raises(ConfigError, match="float32, float64"):
        validate(replace(config, dtype="float16"))
