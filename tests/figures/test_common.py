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
