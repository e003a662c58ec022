"""figures/common.py: the helpers several figures share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ntkviz.errors import ConfigError
from ntkviz.figures.common import (
    ARCHITECTURE,
    check_ranges,
    log_log_fit,
    net_spec,
    seed_of,
    spaced_inputs,
)


@pytest.mark.parametrize("log", [np.log10, np.log])
def test_log_log_fit_recovers_a_power_law_in_either_base(log):
    x = np.array([10.0, 100.0, 1000.0, 10000.0])
    slope, intercept = log_log_fit(x, 3.0 * x**-0.5, log=log)
    assert slope == pytest.approx(-0.5)
    assert intercept == pytest.approx(log(3.0))


def test_log_log_fit_leaves_out_what_has_no_logarithm():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = np.array([1.0, 0.0, np.inf, 64.0, 256.0])  # y = x^2 where it can be fitted
    assert log_log_fit(x, y)[0] == pytest.approx(2.0)
    assert np.isnan(log_log_fit(np.array([2.0, 2.0]), np.array([1.0, 3.0]))[0])
    assert np.isnan(log_log_fit(x, -y)[0])


@dataclass(frozen=True)
class _Views:
    x_limits: tuple[float, ...] = (-1.0, 1.0)
    xlim: tuple[float, ...] = (2.0, 1.0)


def test_check_ranges_names_the_option_of_the_bad_field():
    check_ranges(_Views(), "x_limits")
    with pytest.raises(ConfigError, match=r"^--xlim must be MIN,MAX with MIN < MAX \(got 2,1\)"):
        check_ranges(_Views(), "x_limits", "xlim")


def test_spaced_inputs_and_seed():
    np.testing.assert_array_equal(spaced_inputs((-1.0, 3.0), 3), [-1.0, 1.0, 3.0])
    np.testing.assert_array_equal(spaced_inputs((-1.0, 3.0), 1), [1.0])
    assert seed_of(None) == 0


def test_net_spec_takes_the_named_fields_and_the_fixed_ones():
    @dataclass(frozen=True)
    class Nets:
        depth: int = 3
        activation: str = "erf"
        bias: bool = False
        init: str = "lecun"

    spec = net_spec(Nets(), 7, *ARCHITECTURE, zero_output=True)
    assert (spec.width, spec.depth, spec.activation, spec.bias, spec.init) == (
        7,
        3,
        "erf",
        False,
        "lecun",
    )
    assert spec.zero_output


def test_spread_text_and_verdict():
    from ntkviz.figures.common import slope_facts, spread_text, verdict

    assert spread_text(-0.99, [-1.02, -0.97, -0.99]) == "-0.99 (-1.02 to -0.97 over 3 seeds)"
    assert spread_text(-0.99, [-1.0]) == "-0.99"  # one draw: no range
    assert spread_text(float("nan"), [-1.0, -0.9]) == "undefined"
    assert verdict([-0.52, -0.47], -0.5, "-1/2") == "consistent with theory -1/2"
    assert verdict([-0.30, -0.25], -0.5, "-1/2") == "theory -1/2 lies outside this spread"
    assert "one draw" in verdict([-0.3, float("nan")], -0.5, "-1/2")
    assert slope_facts(float("nan"), [], -1, "-1", absent="none here") == ("none here", "theory -1")


def test_group_slopes_fit_each_groups_mean():
    from ntkviz.figures.common import group_slopes

    x = np.array([1.0, 10.0, 100.0])
    # 4 draws: groups of 2 have means 2 x^-1 and 3 x^-0.5
    values = np.stack([x**-1, 3 * x**-1, 2 * x**-0.5, 4 * x**-0.5])
    np.testing.assert_allclose(group_slopes(x, values, 2), [-1.0, -0.5])
    assert group_slopes(x, values, 3).shape == (0,)  # fewer than two groups


def test_jackknife_of_the_mean_is_its_standard_error():
    from ntkviz.figures.common import jackknife, jackknife_facts

    draws = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    whole, error = jackknife(lambda keep: draws[keep].mean(), len(draws))
    assert whole == pytest.approx(draws.mean())
    assert error == pytest.approx(draws.std(ddof=1) / np.sqrt(len(draws)))
    text, said = jackknife_facts(-0.46, 0.03, -0.5, "-0.5", "the 8 nets")
    assert text == "-0.46 +- 0.03 (jackknife over the 8 nets)" and said.startswith("consistent")
    assert "more than two standard errors" in jackknife_facts(-0.3, 0.03, -0.5, "-0.5", "x")[1]


def test_learned_modes_is_continuous_where_a_count_jumps():
    from ntkviz.numerics.function_space import learned_modes

    below, above = np.array([0.0999999, 1.0, np.nan]), np.array([0.1000001, 1.0, np.nan])
    assert abs(learned_modes(below) - learned_modes(above)) < 1e-6
    assert learned_modes(np.array([0.0, 0.5, 2.0, np.nan])) == pytest.approx(1 + 0.75 + 0)
