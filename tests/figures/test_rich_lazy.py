"""rich-lazy: relative changes against alpha and width with the slopes theory gives, the
mean-field scaling, the renderer, the caption's numbers and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, gif_frames

from ntkviz.drawing.style import Style
from ntkviz.figures.base import caption
from ntkviz.figures.rich_lazy import (
    SPEC,
    RichLazyConfig,
    relative_distance,
    simulate,
    train_at_alphas,
)


def _slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


def test_changes_fall_with_alpha_with_the_theory_slopes():
    config = RichLazyConfig(steps=300, frames=3)
    alphas = np.array([3.0, 10.0, 30.0, 100.0])
    out = train_at_alphas(config, alphas, 0, np.linspace(-3, 3, 11))
    moved, kernel = out["moved"][-1], out["kernel"][-1]
    assert np.all(np.diff(moved) < 0) and np.all(np.diff(kernel) < 0)
    assert abs(_slope(alphas, moved) + 1) < 0.1  # parameters: 1/alpha
    # ReLU kernel (Frobenius): between the flips' -1/2 and the smooth part's -1
    assert -1.1 < _slope(alphas, kernel) < -0.35


def test_ntk_width_makes_it_lazy_mean_field_does_not():
    config = RichLazyConfig(steps=300, frames=3)
    grid = np.linspace(-3, 3, 11)
    widths = np.array([50, 200, 800])
    ntk, mean_field = [], []
    for m in widths:
        out = train_at_alphas(config, np.array([1.0, 1 / np.sqrt(m)]), 0, grid, width=int(m))
        ntk.append(out["moved"][-1, 0])
        mean_field.append(out["moved"][-1, 1])
    assert abs(_slope(widths, np.array(ntk)) + 0.5) < 0.15  # NTK parameterisation: m^-1/2
    assert abs(_slope(widths, np.array(mean_field))) < 0.15  # mean field: does not vanish
    assert min(mean_field) > 0.1


def test_relative_change_by_hand():
    a = np.array([[3.0, 4.0], [1.0, 0.0]])
    b = np.array([[3.0, 5.0], [2.0, 0.0]])
    np.testing.assert_allclose(relative_distance(b, a), [1 / 5, 1.0])


@pytest.fixture(scope="module")
def trained():
    config = RichLazyConfig(steps=200, frames=5, width=30, sweep=(1.0, 3.0, 10.0), points=31)
    return simulate(config, torch.Generator().manual_seed(0)), config


def test_simulation_and_particles(trained):
    result, config = trained
    T = 6
    assert result.units.shape == (T, 2, 3, 30) and result.functions.shape == (T, 2, 31)
    np.testing.assert_allclose(result.alphas, [10.0, 1 / np.sqrt(30)])
    np.testing.assert_array_equal(result.moved[0], 0.0)
    np.testing.assert_allclose(result.functions[0], 0.0, atol=1e-12)  # zeroed
    # both regimes start from the same units
    np.testing.assert_array_equal(result.units[0, 0], result.units[0, 1])
    assert result.moved[-1, 1] > 10 * result.moved[-1, 0]


def test_renderer_frame_i_shows_snapshot_i(trained):
    result, config = trained
    renderer = SPEC.renderer(result, config, Style(size=(18, 10), dpi=30))
    assert renderer.key_frame == len(renderer) - 1
    for n in (0, 2, len(renderer) - 1):
        renderer.frame(n)
        i = renderer.order[n]
        assert f"step {int(result.steps[i])} " in renderer.title.get_text()
        for c in range(2):
            offsets = np.asarray(renderer.scatters[c].get_offsets())
            np.testing.assert_array_equal(offsets[:, 0], result.units[i, c, 0])
            np.testing.assert_array_equal(offsets[:, 1], result.units[i, c, 1])
            np.testing.assert_array_equal(renderer.functions[c].get_ydata(), result.functions[i, c])
        for line, _ in renderer.changes:
            steps = np.asarray(line.get_xdata())
            assert steps.size == 0 or steps.max() == result.steps[i]


def test_caption_numbers_are_recomputed_from_the_result(trained):
    result, config = trained
    filled = caption(SPEC, result, config)
    text, reading = filled["caption"], filled["reading"]
    # the sweep: the median of 8 nets, each fitted alone for the spread
    np.testing.assert_array_equal(result.sweep_moved, np.median(result.sweep_moved_nets, axis=0))
    np.testing.assert_array_equal(result.sweep_kernel, np.median(result.sweep_kernel_nets, axis=0))
    assert result.sweep_kernel_nets.shape == (8, 3)
    slope = _slope(result.sweep, result.sweep_moved)
    kslope = _slope(result.sweep, result.sweep_kernel)
    each = [_slope(result.sweep, k) for k in result.sweep_kernel_nets]
    spread = f"{kslope:+.2f} ({min(each):+.2f} to {max(each):+.2f} over 8 nets fitted alone)"
    assert f"slope {slope:+.2f} (" in text and f"{spread} for the kernel" in text
    assert ("for the kernel (consistent with theory -1/2)" in text) == (
        min(each) <= -0.5 <= max(each)
    )
    assert f"alpha^{slope:+.2f}" in reading
    assert f"moved by {result.moved[-1, 0]:.2g} of their size" in text
    assert f"rich net's by {result.moved[-1, 1]:.2g} and {result.kernel[-1, 1]:.2g}" in text
    mse = result.loss[-1] * result.alphas**2
    assert f"MSE {mse[0]:.2g} lazy, {mse[1]:.2g} rich" in text
    assert ("both fit the data" in text) == (mse.max() < 1e-3)


def test_cli_still_and_data(cli, tmp_path):
    out = tmp_path / "rl.gif"
    result = cli(
        "rich-lazy",
        "-o",
        out,
        "--width",
        10,
        "--steps",
        20,
        "--frames",
        4,
        "--points",
        20,
        "--data",
        tmp_path / "n.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    frames, _, _ = gif_frames(out)
    assert len(frames) == 5
    assert np.load(tmp_path / "n.npz")["units"].shape == (5, 2, 3, 10)
    assert json.loads((tmp_path / "rl.gif.json").read_text())["config"]["width"] == 10


def _kernel_changes(activation: str, alphas: np.ndarray) -> dict[str, np.ndarray]:
    """One net (member 0 of seed 0, rich-lazy's training) copied over ``alphas``: the relative
    change of its empirical NTK on the 6 training points and on 401 points over their span."""
    import dataclasses

    from ntkviz.figures.common import TARGETS, train_mse
    from ntkviz.numerics.nets import Ensemble
    from ntkviz.numerics.ntk_empirical import empirical_ntk

    config = RichLazyConfig()
    spec = dataclasses.replace(config.net(), activation=activation)
    x = config.inputs()
    nets = Ensemble(
        spec, len(alphas), 0, dtype=torch.float64, members=[0] * len(alphas), alphas=alphas
    )
    where = {"train": torch.as_tensor(x), "grid": torch.as_tensor(np.linspace(*config.x_span, 401))}
    start = {name: empirical_ntk(nets, p).numpy() for name, p in where.items()}
    y = torch.as_tensor(TARGETS[config.target](x))
    train_mse(nets, torch.as_tensor(x), y, config, None, snapshot_every=config.steps)
    return {
        name: relative_distance(empirical_ntk(nets, p).numpy(), start[name], (-2, -1))
        for name, p in where.items()
    }


def test_one_net_shows_both_exponents_of_the_kernel_change():
    """The account the captions give: a smooth activation's kernel moves like 1/alpha on
    training points and on a dense grid alike; a ReLU net's, on a dense grid, like alpha^-1/2
    while its kinks still cross grid points, and like 1/alpha on the training points once alpha
    is so large that no kink crosses one."""
    alphas = np.array([1.0, 3.0, 10.0, 30.0, 100.0, 1e4, 3e4, 1e5])
    crossing, beyond = alphas <= 100, alphas >= 1e4
    relu = _kernel_changes("relu", alphas)
    assert abs(_slope(alphas[crossing], relu["grid"][crossing]) + 0.5) < 0.15
    assert abs(_slope(alphas[beyond], relu["train"][beyond]) + 1.0) < 0.02
    tanh = _kernel_changes("tanh", alphas)
    lazy = alphas >= 10
    for where in ("train", "grid"):
        assert abs(_slope(alphas[lazy], tanh[where][lazy]) + 1.0) < 0.1


def test_fact_names_say_what_they_measure(trained):
    """Issue 24: the training points' mean squared error is ``*_train_mse`` (recomputed here from
    the drawn functions at the training inputs, which lie on the grid), and the objective
    gradient descent lowers, that MSE over alpha^2, ``*_mse_over_alpha2``; no bare ``loss``."""
    result, config = trained
    facts = caption(SPEC, result, config)["facts"]
    assert not {"lazy_loss", "rich_loss", "lazy_mse", "rich_mse"} & set(facts)
    on_grid = [int(np.argmin(np.abs(result.x_grid - x))) for x in result.x_train]
    np.testing.assert_allclose(result.x_grid[on_grid], result.x_train, atol=1e-12)
    for k, regime in enumerate(("lazy", "rich")):
        mse = np.mean((result.functions[-1, k, on_grid] - result.y_train) ** 2)
        assert facts[f"{regime}_train_mse"] == pytest.approx(mse, rel=1e-6, abs=1e-12)
        alpha = result.alphas[k]
        assert facts[f"{regime}_mse_over_alpha2"] == pytest.approx(mse / alpha**2, rel=1e-6)
