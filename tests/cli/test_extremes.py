"""A property-based sweep: figures' options at extreme values, at tiny sizes. Every run either
succeeds with a file that decodes to its sidecar's frames and size, with finite data, or fails
with exactly one ``Error:`` line, never a traceback and never a half-written file.

Bounded to stay well under two minutes on two cores: a few fast figures, a fixed number of
examples (derandomized, so CI sees the same ones each time).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import temp_leftovers

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ntkviz import config as cfg  # noqa: E402
from ntkviz.figures import FIGURES  # noqa: E402

FAST = ["toy-model", "loss-surface", "kappa-scaling", "ntk-convergence"]
FLOATS = [0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, math.inf, -math.inf, math.nan, -1.0, 1e6]
INTS = [0, -1, 1, 2, 2**31, 2**63, 10**30]
COMMON = {
    "--fps": [0.0, 1e-9, 0.01, 50.0, 1e300, math.inf, math.nan],
    "--dpi": [1e-300, 1.0, 40.0, 1e300, math.inf, math.nan],
    "--size": ["3x2", "infx9", "3xnan", "1e300x1", "0.1x0.1", "1e-300x2"],
    "--seed": [0, 2**63 - 1, 2**63, -(2**70)],
}


def numeric_options(name: str) -> dict[str, list]:
    """The figure's scalar number options with extreme values to try."""
    spec = FIGURES[name]
    options: dict[str, list] = {}
    for field in dataclasses.fields(spec.config_cls):
        if not field.metadata.get("cli", True):
            continue
        kind, item = cfg.field_kind(spec.config_cls, field)
        if kind != "scalar" or item not in (int, float):
            continue
        options[cfg.option_name(field.name)] = FLOATS if item is float else INTS
    return options


@st.composite
def runs(draw):
    name = draw(st.sampled_from(FAST))
    choices = {**numeric_options(name), **COMMON}
    picked = draw(st.lists(st.sampled_from(sorted(choices)), min_size=1, max_size=2, unique=True))
    args = []
    for option in picked:
        value = draw(st.sampled_from(choices[option]))
        args += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    return name, args


def shown(value) -> str:
    return str(value)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(run=runs())
def test_extreme_options_succeed_or_fail_in_one_line(cli, tmp_path_factory, run):
    name, args = run
    folder = tmp_path_factory.mktemp("extreme")
    out = folder / "out.gif"
    base = ["--size", "3x2", "--dpi", "40", "--quick", "--no-progress", "-j", "1"]
    result = cli(name, "-o", out, "--data", folder / "d.npz", *base, *args)
    if result.exit_code == 0:
        check_output(out, folder / "d.npz")
    else:
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            args,
            result.exception,
        )
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (name, args, result.stderr)
        assert "internal error" not in lines[0], (name, args, lines[0])
        assert not out.exists() and not (folder / "d.npz").exists()
    assert temp_leftovers(folder) == []


def check_output(out: Path, data: Path) -> None:
    from ntkviz.output.formats import probe

    sidecar = json.loads(Path(f"{out}.json").read_text())
    frames, width, height = probe(out, ".gif")
    assert (width, height) == (sidecar["width"], sidecar["height"])
    assert 1 <= frames <= sidecar["frames"]
    with np.load(data) as arrays:
        for key in arrays.files:
            value = arrays[key]
            if value.dtype.kind in "fc":
                assert not np.isinf(value).any(), key
