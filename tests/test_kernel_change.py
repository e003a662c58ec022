"""kernel-change: the measure and the fit, the kernel regime at large alpha, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY

from ntkviz.figures.kernel_change import (
    DEFAULT_ALPHAS,
    DEFAULT_WIDTHS,
    KernelChangeConfig,
    log_log_fit,
    relative_kernel_change,
    simulate,
)
from ntkviz.kernels import ntk_layerwise
from ntkviz.nets import Ensemble, NetSpec


def test_defaults_are_the_notebooks():
    np.testing.assert_allclose(DEFAULT_ALPHAS, 10.0 ** np.linspace(-2, 3, 7))
    assert DEFAULT_WIDTHS == (10, 22, 46, 100, 215, 464, 1000)
    config = KernelChangeConfig()
    assert (config.trials, config.steps, config.lr, config.width, config.depth) == (
        5,
        4000,
        3e-4,
        100,
        2,
    )


def test_relative_change_and_log_log_fit():
    start = np.array([[[2.0, 1.0], [1.0, 2.0]]])
    end = start + np.array([[[0.0, 0.3], [0.3, 0.0]]])
    np.testing.assert_allclose(
        relative_kernel_change(start, end), np.sqrt(2 * 0.09) / np.sqrt(10.0)
    )
    values = np.array([1.0, 10.0, 100.0, 1000.0])
    slope, intercept = log_log_fit(values, 3.0 * values**-0.5)
    assert slope == pytest.approx(-0.5) and intercept == pytest.approx(np.log10(3.0))
    assert np.isnan(log_log_fit(np.array([1.0]), np.array([2.0]))[0])
    assert np.isnan(log_log_fit(values, np.zeros(4))[0])


def test_large_alpha_is_the_kernel_regime():
    config = KernelChangeConfig(alphas=(0.01, 1.0, 100.0), width=30, trials=2, steps=300)
    result = simulate(config, torch.Generator().manual_seed(0))
    assert result.change.shape == (3, 2) and result.kernels_start.shape == (3, 2, 2, 2)
    assert (result.change[2] < 0.01).all()  # alpha = 100: the kernel barely moves
    assert (result.change[0] > 1.0).all()  # alpha = 0.01: it changes by more than itself
    assert result.median[0] > result.median[1] > result.median[2]
    assert result.slope < -0.8
    # Trial r starts from the same net at every alpha: the same kernel H/alpha^2 at the start.
    np.testing.assert_allclose(result.kernels_start[0], result.kernels_start[2], rtol=1e-12)
    plain = Ensemble(NetSpec(width=30), count=2, seed=0, dtype=torch.float64)
    x = torch.tensor(config.x_train, dtype=torch.float64)
    np.testing.assert_allclose(result.kernels_start[1], ntk_layerwise(plain, x).numpy(), rtol=1e-12)


def test_width_sweep():
    config = KernelChangeConfig(
        vs="width",
        widths=(5, 60),
        trials=2,
        steps=200,
        x_train=(-2.0, 0.0, 0.5),
        y_train=(3.0, 1.0, -1.0),
    )
    result = simulate(config, torch.Generator().manual_seed(1))
    assert result.vs == "width" and list(result.values) == [5.0, 60.0]
    assert result.change.shape == (2, 2) and result.kernels_end.shape == (2, 2, 3, 3)
    assert np.isfinite(result.slope)


def test_cli_default_output_is_a_png(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(
        "kernel-change",
        "--alphas",
        "0.1,10",
        "--width",
        10,
        "--trials",
        2,
        "--steps",
        50,
        "--data",
        "numbers.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kernel-change.png").stat().st_size > 0
    sidecar = json.loads((tmp_path / "kernel-change.png.json").read_text())
    assert sidecar["frames"] == 1 and sidecar["config"]["vs"] == "alpha"
    data = np.load(tmp_path / "numbers.npz")
    assert data["change"].shape == (2, 2)


def test_cli_width_sweep(cli, tmp_path):
    out = tmp_path / "kc.png"
    result = cli(
        "kernel-change",
        "-o",
        out,
        "--vs",
        "width",
        "--widths",
        "4,16",
        "--trials",
        1,
        "--steps",
        30,
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


BAD = [
    (["--alphas", "0"], 2, "--alphas must be > 0"),
    (["--alphas", ""], 2, "--alphas expects a comma-separated list"),
    (["--widths", "0,10"], 2, "--widths must be >= 1"),
    (["--width", "0"], 2, "--width must be >= 1"),
    (["--trials", "0"], 2, "--trials must be >= 1"),
    (["--steps", "0"], 2, "--steps must be >= 1"),
    (["--lr", "0"], 2, "--lr must be > 0"),
    (["--x-train", "1,2,3"], 2, "--x-train and --y-train need the same number of values"),
    (["--vs", "depth"], 2, "--vs must be one of alpha, width"),
    (["--lr", "1", "--steps", "20"], 1, "training diverged at step"),
]


@pytest.mark.parametrize("args,code,message", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_one_line_nothing_written(cli, tmp_path, args, code, message):
    result = cli(
        "kernel-change", "-o", tmp_path / "kc.png", "--width", 8, "--trials", 1, *TINY, *args
    )
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []
