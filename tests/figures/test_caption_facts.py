"""Caption facts recomputed here from the Result's arrays, by code of the test's own (fits with
numpy.polyfit, distances written out): posterior's slopes against width, rich-lazy's slopes over
alpha >= 1 only with an alpha < 1 in the sweep (median over the nets, spread over each net fitted
alone), kernel-change's slope from --fit-from up with its spread and its verdict on -1 both ways
(consistent with the spread, or outside it steeper or shallower). The facts are compared, not today's numbers: the tests hold whatever the seed draws."""

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


def _spread(center: float, draws) -> str:
    """The slope as a caption states it: '+0.99 (-1.02 to -0.97 over 8 nets fitted alone)'."""
    draws = np.asarray(draws, float)
    return f"{center:+.2f} ({draws.min():+.2f} to {draws.max():+.2f} over {draws.size} nets fitted alone)"


def _verdict(draws, theory: float, text: str) -> str:
    draws = np.asarray(draws, float)
    if draws.min() <= theory <= draws.max():
        return f"consistent with theory {text}"
    return f"theory {text} lies outside this spread"


def test_rich_lazy_slopes_are_fitted_from_alpha_1_up(rich_lazy):
    spec, result, config = rich_lazy
    filled = caption(spec, result, config)
    facts = filled["facts"]
    assert (result.sweep < 1).sum() == 2
    # the medians fitted are the medians over the sweep's nets, each net's changes its own
    nets = result.sweep_moved_nets.shape[0]
    assert nets >= 2 and result.sweep_kernel_nets.shape == (nets, len(result.sweep))
    np.testing.assert_allclose(result.sweep_moved, np.median(result.sweep_moved_nets, 0))
    np.testing.assert_allclose(result.sweep_kernel, np.median(result.sweep_kernel_nets, 0))
    big = result.sweep >= 1
    moved = _slope(result.sweep[big], result.sweep_moved[big])
    kernel = _slope(result.sweep[big], result.sweep_kernel[big])
    moved_nets = [_slope(result.sweep[big], e[big]) for e in result.sweep_moved_nets]
    kernel_nets = [_slope(result.sweep[big], e[big]) for e in result.sweep_kernel_nets]
    assert facts["moved_slope"] == pytest.approx(moved, rel=1e-9)
    assert facts["kernel_slope"] == pytest.approx(kernel, rel=1e-9)
    assert facts["fit_from"] == 1.0
    moved_text, kernel_text = _spread(moved, moved_nets), _spread(kernel, kernel_nets)
    moved_verdict = _verdict(moved_nets, -1.0, "-1")
    kernel_verdict = _verdict(kernel_nets, -0.5, "-1/2")
    text = " ".join(filled["caption"].split())
    assert (
        f"fitted from alpha = 1 up: slope {moved_text} for the weights ({moved_verdict}) "
        f"and {kernel_text} for the kernel ({kernel_verdict})" in text
    )
    # the weights' and the kernel's slopes differ at the caption's precision: a fact fitted on
    # the other array would show
    assert f"{moved:+.2f}" != f"{kernel:+.2f}"
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


def _lazy_fit(values, median, fitted) -> float:
    return float(np.polyfit(np.log10(values[fitted]), np.log10(median[fitted]), 1)[0])


def _lazy_words(values, change, fitted) -> tuple[float, list[float], str]:
    """The lazy sentence's slope, its nets' slopes, and its words, recomputed here: the median
    over the nets fitted over ``fitted``, its spread each net fitted alone, the verdict on -1."""
    slope = _lazy_fit(values, np.median(change, axis=1), fitted)
    draws = [_lazy_fit(values, c, fitted) for c in change.T]
    return slope, draws, f"the slope is {_spread(slope, draws)}: {_verdict(draws, -1.0, '-1')}."


def test_kernel_change_slope_and_its_wording(kernel_change):
    spec, result, config = kernel_change
    median = np.median(result.change, axis=1)
    np.testing.assert_allclose(result.median, median, rtol=1e-12)
    # the fit runs over the lazy values from --fit-from up only
    fitted = result.lazy & (result.values >= config.fit_from)
    np.testing.assert_array_equal(result.fitted, fitted)
    assert fitted.sum() >= 2 and (result.lazy & ~fitted).any()  # the rule leaves a lazy one out
    slope, draws, words = _lazy_words(result.values, result.change, fitted)
    assert result.slope == pytest.approx(slope, rel=1e-9)
    np.testing.assert_allclose(result.trial_slopes, draws, rtol=1e-9)
    sentence = caption(spec, result, config)["facts"]["lazy_sentence"]
    low, high = result.values[fitted].min(), result.values[fitted].max()
    assert (
        f"Fitted to the median over alpha = {low:.3g} to {high:.3g} ({fitted.sum()} values, "
        f"lazy and >= {config.fit_from:g}) {words}" in sentence
    )
    # every lazy value would fit another slope, at the caption's precision
    assert f"{_lazy_fit(result.values, median, result.lazy):+.2f}" != f"{slope:+.2f}"


@pytest.mark.parametrize(
    "powers, verdict",
    [((-1.7, -1.5), "outside"), ((-0.5, -0.3), "outside"), ((-1.1, -0.9), "consistent")],
    ids=["steeper", "shallower", "close"],
)
def test_kernel_change_wording_both_ways(kernel_change, powers, verdict):
    """The same sweep with nets whose changes fall like alpha^power (a Result of the figure's own
    type, its fits redone here): the sentence states the slope and its spread over the nets, and
    says the theory's -1 is consistent with that spread or lies outside it, as it does."""
    spec, result, config = kernel_change
    assert result.change.shape[1] == 2
    values = result.values
    change = 0.3 * values[:, None] ** np.array(powers)
    fitted = np.ones_like(result.lazy)
    slope, draws, words = _lazy_words(values, change, fitted)
    np.testing.assert_allclose(draws, powers, atol=1e-9)
    made = dataclasses.replace(
        result,
        change=change,
        median=np.median(change, axis=1),
        lazy=fitted,
        fitted=fitted,
        slope=slope,
        trial_slopes=np.array(draws),
    )
    sentence = caption(spec, made, config)["facts"]["lazy_sentence"]
    assert words in sentence
    assert ("consistent with theory -1" in sentence) == (verdict == "consistent")
    assert ("theory -1 lies outside" in sentence) == (verdict == "outside")
