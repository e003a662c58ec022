"""Caption facts recomputed here from the Result's arrays, by code of the test's own (fits with
numpy.polyfit, distances written out): posterior's slopes against width, rich-lazy's slopes over
alpha >= 1 only with an alpha < 1 in the sweep, kernel-change's "steeper / shallower than -1"
both ways. The facts are compared, not today's numbers: the tests hold whatever the seed draws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ntkviz.figures.base import caption


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


# -- posterior -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def posterior():
    from ntkviz.figures.posterior import SPEC, PosteriorConfig, simulate

    config = PosteriorConfig(
        n_train=4, points=15, steps=60, frames=3, lr=0.2, count=12, widths=(16, 64, 256)
    )
    return SPEC, simulate(config, torch.Generator().manual_seed(1)), config


def test_posterior_slopes_are_fitted_on_their_own_distances(posterior):
    spec, result, config = posterior
    facts = caption(spec, result, config)["facts"]
    widths = result.widths
    # the ensembles' mean and sd against the theory's, RMS over the grid, at the last step
    mean_distance = np.sqrt(np.mean((result.mean[-1] - result.theory_mean[-1]) ** 2, axis=-1))
    sd_distance = np.sqrt(np.mean((result.sd[-1] - result.theory_sd[-1]) ** 2, axis=-1))
    np.testing.assert_allclose(result.mean_distance[-1], mean_distance, rtol=1e-9)
    np.testing.assert_allclose(result.sd_distance[-1], sd_distance, rtol=1e-9)
    mean_slope = _slope(widths, mean_distance)
    assert facts["mean_slope"] == pytest.approx(mean_slope, rel=1e-9, abs=1e-12)
    assert facts["deviation_slope"] == pytest.approx(
        _slope(widths, result.deviation[-1]), rel=1e-9, abs=1e-12
    )
    # the arrays fitted are different enough that fitting the wrong one shows
    others = (_slope(widths, sd_distance), _slope(widths, result.deviation[-1]))
    assert all(abs(mean_slope - other) > 1e-3 for other in others)
    wide = int(np.argmax(widths))
    assert facts["mean_distance_wide"] == pytest.approx(mean_distance[wide], rel=1e-9)
    assert facts["sd_distance_wide"] == pytest.approx(sd_distance[wide], rel=1e-9)


# -- rich-lazy -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rich_lazy():
    from ntkviz.figures.rich_lazy import SPEC, RichLazyConfig, simulate

    # alpha = 0.1 and 0.3 are in the sweep: the fits must leave them out (alpha >= 1 only)
    config = RichLazyConfig(
        steps=200, frames=3, width=30, sweep=(0.1, 0.3, 1.0, 3.0, 10.0), points=31
    )
    return SPEC, simulate(config, torch.Generator().manual_seed(0)), config


def test_rich_lazy_slopes_are_fitted_from_alpha_1_up(rich_lazy):
    spec, result, config = rich_lazy
    filled = caption(spec, result, config)
    facts = filled["facts"]
    assert (result.sweep < 1).sum() == 2
    big = result.sweep >= 1
    moved = _slope(result.sweep[big], result.sweep_moved[big])
    kernel = _slope(result.sweep[big], result.sweep_kernel[big])
    assert facts["moved_slope"] == pytest.approx(moved, rel=1e-9)
    assert facts["kernel_slope"] == pytest.approx(kernel, rel=1e-9)
    assert facts["fit_from"] == 1.0
    assert f"slope {moved:.2f} for the weights" in filled["caption"]
    # over the whole sweep the fits differ, at the caption's precision: a fit over every alpha
    # would show
    every = _slope(result.sweep, result.sweep_moved), _slope(result.sweep, result.sweep_kernel)
    assert abs(every[0] - moved) > 0.01 or abs(every[1] - kernel) > 0.01


# -- kernel-change -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_change():
    from ntkviz.figures.kernel_change import SPEC, KernelChangeConfig, simulate

    config = KernelChangeConfig(width=30, steps=300, trials=2)
    return SPEC, simulate(config, torch.Generator().manual_seed(0)), config


def _wording(slope: float) -> str:
    if abs(slope + 1) <= 0.15:
        return "close to"
    return "steeper than" if slope < -1 else "shallower than"


def _lazy_fit(values, median, lazy) -> float:
    return float(np.polyfit(np.log10(values[lazy]), np.log10(median[lazy]), 1)[0])


def test_kernel_change_slope_and_its_wording(kernel_change):
    spec, result, config = kernel_change
    median = np.median(result.change, axis=1)
    np.testing.assert_allclose(result.median, median, rtol=1e-12)
    assert result.lazy.sum() >= 2
    slope = _lazy_fit(result.values, median, result.lazy)
    assert result.slope == pytest.approx(slope, rel=1e-9)
    sentence = caption(spec, result, config)["facts"]["lazy_sentence"]
    assert f"slope is {slope:.2f}, {_wording(slope)} the -1" in sentence


@pytest.mark.parametrize("power", [-1.6, -0.4, -1.0], ids=["steeper", "shallower", "close"])
def test_kernel_change_wording_both_ways(kernel_change, power):
    """The same sweep with medians that fall like alpha^power (a Result of the figure's own type,
    its fit redone here): the sentence says steeper, shallower or close as the fitted slope is."""
    spec, result, config = kernel_change
    values = result.values
    change = 0.3 * values[:, None] ** power * np.array([0.9, 1.1])[: result.change.shape[1]]
    median = np.median(change, axis=1)
    lazy = np.ones_like(result.lazy)
    slope = _lazy_fit(values, median, lazy)
    assert slope == pytest.approx(power, abs=1e-9)
    made = dataclasses.replace(result, change=change, median=median, lazy=lazy, slope=slope)
    sentence = caption(spec, made, config)["facts"]["lazy_sentence"]
    assert f"slope is {slope:.2f}, {_wording(slope)} the -1" in sentence
