"""generalization: kernel regression interpolates, wide trained nets land on it, and the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import TINY, gif_frames

from ntkviz.drawing.style import Style
from ntkviz.errors import ConfigError
from ntkviz.figures.base import caption
from ntkviz.figures.generalization import (
    SPEC,
    GeneralizationConfig,
    kernel_regression,
    simulate,
)
from ntkviz.numerics.function_space import flow_functions
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_analytic import infinite_ntk
from ntkviz.numerics.ntk_empirical import empirical_ntk


def test_kernel_regression_interpolates_with_the_analytic_and_empirical_kernels():
    x = np.array([-2.5, -1.0, 0.3, 1.1, 2.9])
    y = np.sin(x)
    k_train = infinite_ntk(x, depth=2)
    np.testing.assert_allclose(kernel_regression(k_train, k_train, y), y, atol=1e-12)
    # Empirical kernels of un-zeroed nets: f0(x) + Theta(x, X) Theta^-1 (Y - f0(X)) hits Y too.
    ensemble = Ensemble(
        NetSpec(width=32, depth=2, parameterization="ntk"), 3, seed=1, dtype=torch.float64
    )
    xt = torch.tensor(x)
    k_emp = empirical_ntk(ensemble, xt).numpy()
    f0 = ensemble(xt).detach().numpy()
    got = kernel_regression(k_emp, k_emp, y, f0, f0)
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, np.broadcast_to(y, (3, 5)), atol=1e-10)
    # Between the points: the explicit formula, member by member.
    grid = torch.linspace(-3, 3, 13, dtype=torch.float64)
    k_grid = empirical_ntk(ensemble, grid, xt).numpy()
    f0_grid = ensemble(grid).detach().numpy()
    want = [f0_grid[k] + k_grid[k] @ np.linalg.solve(k_emp[k], y - f0[k]) for k in range(3)]
    np.testing.assert_allclose(kernel_regression(k_grid, k_emp, y, f0_grid, f0), want, atol=1e-10)


def test_singular_kernel_matrix_is_a_config_error_naming_the_option():
    x = np.array([0.5, 0.5, 1.0])
    k_train = infinite_ntk(x, depth=2)
    with pytest.raises(ConfigError, match=r"--x-train: the kernel matrix .* singular"):
        kernel_regression(k_train, k_train, np.ones(3))
    with pytest.raises(ConfigError, match=r"--x-train has the input 1 twice"):
        GeneralizationConfig(x_train=(0.0, 1.0, 1.0), y_train=(0.0, 1.0, 1.0)).check()


SMALL = dict(
    n_train=4,
    x_span=(-3.0, 3.0),
    x_limits=(-3.0, 3.0),
    points=7,
    count=3,
    widths=(16,),
    steps=40,
    frames=4,
    lr=0.1,
)


@pytest.mark.parametrize("zero", [True, False])
def test_simulation_shapes_and_interpolation_on_the_grid(zero):
    result = simulate(
        GeneralizationConfig(**SMALL, zero_output=zero), torch.Generator().manual_seed(0)
    )
    T, W, K, G, N = 5, 1, 3, 7, 4
    assert result.functions.shape == (T, W, K, G) and result.loss.shape == (T, W, K)
    assert result.empirical.shape == (W, K, G) and result.kernel_empirical.shape == (W, K, N, N)
    assert result.analytic.shape == (G,) and result.analytic_flow.shape == (T, G)
    assert result.distance_analytic.shape == (T, W) == result.distance_empirical.shape
    np.testing.assert_allclose(result.x_train, [-3.0, -1.0, 1.0, 3.0])
    np.testing.assert_allclose(result.y_train, np.sin(result.x_train))
    on_data = [0, 2, 4, 6]  # the grid -3..3 in steps of 1 holds the training inputs
    np.testing.assert_allclose(result.analytic[on_data], result.y_train, atol=1e-12)
    np.testing.assert_allclose(
        result.empirical[..., on_data], np.broadcast_to(result.y_train, (W, K, N)), atol=1e-9
    )
    np.testing.assert_allclose(result.analytic_flow[0], 0.0, atol=1e-15)
    if zero:
        np.testing.assert_array_equal(result.functions[0], 0.0)
    else:
        assert np.abs(result.functions[0]).max() > 0.1


def test_wide_nets_converge_onto_kernel_regression_within_a_width_aware_tolerance():
    config = GeneralizationConfig(
        n_train=4, widths=(64, 1024), count=4, steps=300, frames=10, lr=0.1, points=41
    )
    result = simulate(config, torch.Generator().manual_seed(0))
    assert result.loss[-1].max() < 1e-3  # trained (to an RMS residual below 0.03)
    np.testing.assert_allclose(result.analytic_flow[-1], result.analytic, atol=1e-3)
    between = (result.x_grid >= -3) & (result.x_grid <= 3)
    own = np.sqrt(np.mean((result.functions[-1] - result.empirical)[..., between] ** 2, axis=-1))
    mean_gap = np.sqrt(
        np.mean((result.functions[-1].mean(axis=1) - result.analytic)[:, between] ** 2, axis=-1)
    )
    # The kernel of a width-m net fluctuates by O(1/sqrt(m)) at initialisation and moves by
    # O(1/sqrt(m)) while it trains (Jacot et al. 2018; Lee et al. 2019): each net lands within
    # c / sqrt(m) of its own kernel's prediction, the ensemble mean within c / sqrt(m) of the
    # infinite-width one (measured c: about 1 and 0.7 at width 1024).
    width = result.widths[-1]
    assert own[-1].max() < 2.5 / np.sqrt(width)
    assert mean_gap[-1] < 2.5 / np.sqrt(width)
    assert own[-1].mean() < 0.5 * own[0].mean()  # wider is closer to its kernel
    # The recorded distance is to each kernel's prediction at the last step, not at t = infinity.
    np.testing.assert_allclose(result.distance_empirical[-1], own.mean(axis=1), rtol=0.02)


def test_cli_still_and_data(cli, tmp_path):
    out = tmp_path / "gen.gif"
    result = cli(
        "generalization",
        "-o",
        out,
        "--widths",
        "8,16",
        "--count",
        2,
        "--steps",
        20,
        "--frames",
        4,
        "--points",
        20,
        "--n-train",
        3,
        "--still",
        tmp_path / "still.png",
        "--data",
        tmp_path / "numbers.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    frames, _, _ = gif_frames(out)
    # 4 frames after step 0: 5 snapshots, the first at step 0
    assert len(frames) == 5 and frames[0].shape == (80, 120, 3)
    assert not np.array_equal(frames[0], frames[-1])
    data = np.load(tmp_path / "numbers.npz")
    assert data["functions"].shape == (5, 2, 2, 20) and data["empirical"].shape == (2, 2, 20)
    sidecar = json.loads((tmp_path / "gen.gif.json").read_text())
    assert sidecar["config"]["widths"] == [8, 16] and sidecar["config"]["n_train"] == 3
    assert (tmp_path / "still.png").stat().st_size > 0


def test_cli_functions_layout_explicit_data(cli, tmp_path):
    result = cli(
        "generalization",
        "-o",
        tmp_path / "gen.png",
        "--widths",
        8,
        "--count",
        2,
        "--steps",
        10,
        "--frames",
        2,
        "--points",
        20,
        "--layout",
        "functions",
        "--x-train=-1,0.5,2",
        "--y-train",
        "1,0,1",
        "--no-zero-output",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gen.png").stat().st_size > 0


@pytest.fixture(scope="module")
def trained():
    config = GeneralizationConfig(
        n_train=4, widths=(16, 64), count=3, steps=200, frames=10, lr=0.1, points=41
    )
    return simulate(config, torch.Generator().manual_seed(0)), config


def test_renderer_frame_i_shows_snapshot_i_and_reveals_the_distances(trained):
    result, config = trained
    renderer = SPEC.renderer(result, config, Style(size=(12, 5), dpi=40))
    assert len(renderer) == len(result.steps) and result.steps[0] == 0
    for n in (0, 1, 5, len(renderer) - 1):
        renderer.frame(n)
        i = renderer.order[n]
        assert renderer.title.get_text().endswith(f"step {int(result.steps[i])}")
        for w in range(len(result.widths)):
            # the plotted mean is the mean over the nets of f(x, w_t), by hand
            mean = result.functions[i, w].mean(axis=0)
            np.testing.assert_allclose(renderer.means[w].get_ydata(), mean)
            np.testing.assert_array_equal(renderer.own[w].get_ydata(), result.empirical_flow[i, w])
        np.testing.assert_array_equal(renderer.flow.get_ydata(), result.analytic_flow[i])
        # distance curves end at the current step: nothing from the future is drawn
        for line, _, _ in renderer.distance_lines:
            steps = np.asarray(line.get_xdata())
            assert steps.size == 0 or steps.max() <= result.steps[i]
        solid = renderer.distance_lines[0][0]
        keep = result.distance_analytic[: i + 1, 0] > 0
        np.testing.assert_array_equal(solid.get_ydata(), result.distance_analytic[: i + 1, 0][keep])
    # the truth is the target function, drawn as given
    np.testing.assert_allclose(result.truth, np.sin(result.x_grid))


def test_one_meaning_per_line_style(trained):
    """Issue 21: dotted meant each width's own-kernel prediction on the left and each net's
    distance from it on the right. Now a style on the right means what it means on the left
    (solid: the nets' mean, compared with the infinite-width NTK), and the right's second
    quantity has a style of its own, which the panel's title names."""
    result, config = trained
    renderer = SPEC.renderer(result, config, Style(size=(12, 5), dpi=40))
    renderer.frame(len(renderer) - 1)
    left, right = renderer.figure.axes[:2]
    meaning = {
        **{line: "nets' mean" for line in renderer.means},
        **{line: "own kernels' prediction" for line in renderer.own},
        renderer.flow: "infinite-width NTK",
    }
    by_style: dict[str, set[str]] = {}
    for line, what in meaning.items():
        by_style.setdefault(line.get_linestyle(), set()).add(what)
    mean_lines = renderer.distance_lines[0::3]  # (mean, own, now) for each width
    own_lines = renderer.distance_lines[1::3]
    for (line, _, _), what in [(m, "nets' mean") for m in mean_lines] + [
        (o, "each net to its own kernel's") for o in own_lines
    ]:
        by_style.setdefault(line.get_linestyle(), set()).add(what)
    assert all(len(meanings) == 1 for meanings in by_style.values()), by_style
    own_style = own_lines[0][0].get_linestyle()
    names = {"-.": "dash-dot", ":": "dotted", "--": "dashed", "-": "solid"}
    assert f"{names[own_style]}: each net to its own" in right.get_title()
    assert left.get_title()  # the left panel keeps its own title


def test_empirical_flow_is_the_mean_of_each_nets_own_kernel_prediction(trained):
    """The dotted curves: each net's own kernel (recomputed here from the same seed) run through
    the discrete gradient-descent closed form, averaged over the nets of the width."""
    result, config = trained
    w, t = 1, 4
    spec = dataclasses.replace(config.net(int(result.widths[w])), zero_output=False)
    twin = Ensemble(spec, config.count, 0, dtype=torch.float64, keep_initial=False)
    grid_kernels = empirical_ntk(
        twin, torch.as_tensor(result.x_grid), torch.as_tensor(result.x_train)
    ).numpy()
    flows = [
        flow_functions(
            k_grid,
            k_train,
            np.zeros(len(result.x_grid)),
            np.zeros(len(result.x_train)),
            result.y_train,
            result.rate,
            result.steps,
            discrete=True,
        )[t]
        for k_grid, k_train in zip(grid_kernels, result.kernel_empirical[w], strict=True)
    ]
    np.testing.assert_allclose(result.empirical_flow[t, w], np.mean(flows, axis=0), atol=1e-9)


def test_caption_numbers_are_recomputed_from_the_result(trained):
    result, config = trained
    filled = caption(SPEC, result, config)
    text, reading = filled["caption"], filled["reading"]
    between = (result.x_grid >= result.x_train.min()) & (result.x_grid <= result.x_train.max())
    mean = result.functions.mean(axis=2)  # (T, W, G)
    gap = np.sqrt(np.mean((mean - result.analytic_flow[:, None, :])[..., between] ** 2, axis=-1))
    np.testing.assert_allclose(gap, result.distance_analytic, rtol=1e-9, atol=1e-12)
    end = f"{gap[-1, 0]:.2g} (width 16) and {gap[-1, 1]:.2g} (width 64)"
    assert end in text and end in reading
    assert f"{gap[-1, 0] / gap[-1, 1]:.2g} times farther" in text
    own = result.distance_empirical[-1]
    assert f"averages {own[0]:.2g} (width 16) and {own[1]:.2g} (width 64)" in text
    assert "points of the true function (sin, grey)" in text
    assert "distances start at 0" in text  # zeroed nets: every function starts at 0
    assert np.all(gap[0] == 0)
    # the caption does not claim the nets converge onto the kernel prediction
    assert "converg" not in text and gap[-1].min() > 0
    if "peaks at" in text:
        peak = gap.argmax(axis=0)
        assert f"{gap.max(axis=0)[0]:.2g} (width 16)" in text
        assert f"steps {int(result.steps[peak].min())} to {int(result.steps[peak].max())}" in text
