"""init-functions: the batched nets against PyTorch's own modules, the renderer, the CLI, bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import TINY, gif_frames
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from ntkviz.drawing.canvas import Style
from ntkviz.figures import get
from ntkviz.figures.init_functions import InitFunctionsConfig, simulate
from ntkviz.numerics.nets import Ensemble

SMALL = InitFunctionsConfig(count=4, width=12, frames=5, steps_per_frame=3, points=25, lr=1e-2)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one torch thread (several only contend on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_result_shapes_and_snapshot_steps():
    r = simulate(SMALL, torch.Generator().manual_seed(1))
    assert r.x_grid.shape == (25,) and r.x_grid[0] == -5 and r.x_grid[-1] == 5
    assert r.outputs.shape == (6, 4, 25) and r.loss.shape == (6, 4)
    assert r.steps.tolist() == [0, 1, 2, 4, 8, 15]  # 5 frames after step 0, in log time
    linear = simulate(replace(SMALL, clock="linear"), torch.Generator().manual_seed(1))
    assert linear.steps.tolist() == [0, 3, 6, 9, 12, 15]  # the post's clock: 3 steps a frame
    np.testing.assert_array_equal(linear.outputs[[0, -1]], r.outputs[[0, -1]])
    assert r.x_train.tolist() == [-3.0, 0.5] and r.y_train.tolist() == [2.0, -1.0]
    assert (r.loss[-1] < r.loss[0]).all()


def test_initial_functions_are_nn_sequential_members():
    r = simulate(SMALL, torch.Generator().manual_seed(1))
    modules = Ensemble(SMALL.net, SMALL.count, seed=1).member_modules()
    grid = torch.as_tensor(r.x_grid)[:, None]
    with torch.no_grad():
        expected = np.stack([m(grid).squeeze(-1).numpy() for m in modules])
    np.testing.assert_allclose(r.outputs[0], expected, rtol=1e-5, atol=1e-6)


def test_trained_nets_match_sgd_on_each_module():
    """The ensemble's training equals torch.optim.SGD on each member's nn.Sequential."""
    r = simulate(SMALL, torch.Generator().manual_seed(2))
    modules = Ensemble(SMALL.net, SMALL.count, seed=2).member_modules()
    x = torch.tensor(SMALL.x_train)[:, None]
    y = torch.tensor(SMALL.y_train)
    grid = torch.as_tensor(r.x_grid)[:, None]
    for k, module in enumerate(modules):
        optimiser = torch.optim.SGD(module.parameters(), lr=SMALL.lr)
        for _ in range(SMALL.steps):
            optimiser.zero_grad()
            ((module(x).squeeze(-1) - y) ** 2).mean().backward()
            optimiser.step()
        with torch.no_grad():
            np.testing.assert_allclose(
                r.outputs[-1, k], module(grid).squeeze(-1).numpy(), rtol=1e-4, atol=1e-5
            )


def test_member_k_does_not_depend_on_count():
    from dataclasses import replace

    few = simulate(replace(SMALL, frames=1), torch.Generator().manual_seed(3))
    more = simulate(replace(SMALL, frames=1, count=7), torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(few.outputs[0], more.outputs[0, :4])


def test_renderer_one_collection_held_first_frame_and_key_frame():
    spec = get("init-functions")
    config = InitFunctionsConfig(count=5, width=8, frames=4, hold_first=3, points=20)
    r = simulate(config, torch.Generator().manual_seed(0))
    renderer = spec.renderer(r, config, Style(size=(3.0, 2.0), dpi=40))
    ax = renderer.figure.axes[0]
    collections = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(collections) == 1 and len(collections[0].get_segments()) == 5
    assert len([line for line in ax.lines if isinstance(line, Line2D)]) == 1  # the data dots
    assert list(renderer.order) == [0, 0, 0, 1, 2, 3, 4] and renderer.key_frame == 0
    first, held, last = renderer.frame(0), renderer.frame(2), renderer.frame(5)
    np.testing.assert_array_equal(first, held)
    assert not np.array_equal(first, last)
    np.testing.assert_array_equal(renderer.frame(0), first)  # blitting leaves no residue


def test_cli_gif_still_data_and_sidecar(cli, tmp_path):
    out = tmp_path / "init.gif"
    args = (
        "--count",
        3,
        "--width",
        8,
        "--frames",
        4,
        "--steps-per-frame",
        2,
        "--hold-first",
        3,
        "--points",
        30,
        "--hold",
        0,  # no end hold: the durations below are the frames' own
        *TINY,
    )
    result = cli(
        "init-functions",
        "-o",
        out,
        *args,
        "--still",
        tmp_path / "still.png",
        "--data",
        tmp_path / "numbers.npz",
    )
    assert result.exit_code == 0, result.output
    frames, durations, _ = gif_frames(out)
    # 3 + 4 output frames; Pillow merges the 3 identical held frames into one of 300 ms.
    assert sum(durations) == 700 and durations[0] == 300 and len(frames) == 5
    assert frames[0].shape == (80, 120, 3)
    sidecar = json.loads((tmp_path / "init.gif.json").read_text())
    assert sidecar["frames"] == 7 and sidecar["config"]["hold_first"] == 3
    data = np.load(tmp_path / "numbers.npz")
    assert data["outputs"].shape == (5, 3, 30) and data["steps"].tolist() == [0, 1, 2, 4, 8]
    assert data["loss"].shape == (5, 3)
    # -o x.png is the still of the initial functions: the same picture as --still, which beside
    # the GIF is the GIF's first frame exactly (its palette), alone every colour of it.
    assert cli("init-functions", "-o", tmp_path / "only.png", *args).exit_code == 0
    from PIL import Image

    with Image.open(tmp_path / "still.png") as im:
        still = np.asarray(im.convert("RGB")).astype(int)
    with Image.open(tmp_path / "only.png") as im:
        only = np.asarray(im.convert("RGB")).astype(int)
    np.testing.assert_array_equal(still, frames[0])
    assert np.abs(only - still).mean() < 2  # the same picture, up to the GIF's palette


def test_cuda_without_cuda(cli, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("init-functions", "-o", tmp_path / "x.gif", "--device", "cuda", *TINY)
    assert result.exit_code == 2 and "no CUDA device is available" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bench_runs_at_a_tiny_size():
    from bench import bench_init_functions
    from bench.common import check_row

    (row,) = bench_init_functions.run(repeat=1, frames=3, count=4, size=(3.0, 2.0), dpi=40)
    check_row(row)
    # 3 frames after the initial one, which is held 5 (the post's, as the naive side does)
    assert "4 nets, 8x120x80" in row["name"] and row["ours_s"] > 0 and row["naive_s"] > 0
    assert "simulate" in row["extra"] and "savefig" in row["extra"]


def test_renderer_frame_shows_its_own_snapshot_in_one_run_colour_with_data_on_top():
    spec = get("init-functions")
    config = InitFunctionsConfig(count=5, width=8, frames=4, hold_first=2, points=20)
    r = simulate(config, torch.Generator().manual_seed(0))
    style = Style(size=(3.0, 2.0), dpi=40)
    renderer = spec.renderer(r, config, style)
    assert renderer.order[0] == 0 and r.steps[0] == 0  # output frame 0 is step 0
    for n in range(len(renderer)):
        renderer.frame(n)
        i = renderer.order[n]
        segments = renderer.lines.get_segments()
        np.testing.assert_allclose([s[:, 1] for s in segments], r.outputs[i], rtol=1e-6)
        np.testing.assert_allclose(segments[0][:, 0], r.x_grid)
        assert renderer.counter.get_text() == f"step {int(r.steps[i])}"
    # one colour for all nets, not the categorical cycle; data in the house 'data' look, on top
    assert len({tuple(c) for c in renderer.lines.get_colors()}) == 1
    assert renderer.dots in renderer.overlays
    assert renderer.dots.get_color() == style.look("data")["color"]
    np.testing.assert_array_equal(renderer.dots.get_xdata(), r.x_train)


def test_fitted_is_each_net_at_the_training_inputs():
    r = simulate(SMALL, torch.Generator().manual_seed(1))
    assert r.fitted.shape == (6, 4, 2)
    modules = Ensemble(SMALL.net, SMALL.count, seed=1).member_modules()
    x = torch.tensor(SMALL.x_train)[:, None]
    with torch.no_grad():
        expected = np.stack([m(x).squeeze(-1).numpy() for m in modules])
    np.testing.assert_allclose(r.fitted[0], expected, rtol=1e-5, atol=1e-6)
    # the loss is the mean square of these residuals
    np.testing.assert_allclose(
        r.loss, ((r.fitted - r.y_train) ** 2).mean(axis=-1), rtol=1e-4, atol=1e-7
    )


def test_caption_numbers_recomputed_from_the_result():
    from ntkviz.figures.base import caption

    spec = get("init-functions")
    r = simulate(SMALL, torch.Generator().manual_seed(1))
    filled = caption(spec, r, SMALL)
    # by hand: the largest |f - y| at the two points after the last step, and the spread at x=4
    outputs_at_end = r.fitted[-1]
    worst = max(
        abs(float(outputs_at_end[k, j]) - float(r.y_train[j]))
        for k in range(SMALL.count)
        for j in range(2)
    )
    assert f"no net is more than {worst:.2g} off" in filled["caption"]
    edge = int(np.argmin(np.abs(r.x_grid - 4.0)))
    end_spread = r.outputs[-1, :, edge].max() - r.outputs[-1, :, edge].min()
    assert f"span {end_spread:.1f} in f" in filled["caption"]
    typical = np.median(np.abs(r.fitted[0] - r.y_train).max(axis=1))
    assert f"by {typical:.2f}." in filled["caption"]
    assert f"after {SMALL.steps} steps" in filled["caption"]
    assert f"{worst:.2g}" in filled["reading"]


def test_the_posts_run_is_500_steps_and_its_100_curves_are_opaque():
    """The default run keeps the post's 500 steps (25 log-clock frames of 20), and the post's
    100 curves are drawn opaque (issue 21: translucent, every crossing was a blended shade the GIF
    paid for, while the crowded middle saturated anyway); more nets are translucent, so that
    where they crowd the picture still darkens."""
    config = InitFunctionsConfig()
    assert config.count == 100 and config.frames * config.steps_per_frame == 500
    alphas = {}
    for count in (100, 400):
        result = simulate(replace(SMALL, count=count), torch.Generator().manual_seed(0))
        renderer = get("init-functions").renderer(result, SMALL, Style(size=(3, 2), dpi=30))
        alphas[count] = renderer.lines.get_alpha()
    assert alphas == {100: 1.0, 400: 0.5}
