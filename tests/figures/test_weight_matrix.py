"""weight-matrix: the post's claim measured (wider nets budge less), the kept matrices, CLI, bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import TINY, gif_frames

from ntkviz.drawing.canvas import Style
from ntkviz.figures import get
from ntkviz.figures.base import caption
from ntkviz.figures.weight_matrix import WeightMatrixConfig, simulate
from ntkviz.numerics.blocks import block_mean
from ntkviz.numerics.dynamics import log_steps
from ntkviz.numerics.nets import init_member, member_seed

SEEDS = 3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one torch thread (several only contend on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def post_run():
    """The post's settings (widths 10, 100, 1000; lr 1e-3; 1000 steps), three seeds per width.
    Only the start and the end are kept: the claim is about where training ends."""
    config = WeightMatrixConfig(count=SEEDS, snapshot_every=1000, layout="curves")
    return simulate(config, torch.Generator().manual_seed(0))


def test_wider_nets_budge_less(post_run):
    change = post_run.relative_change[-1]  # (W, K)
    assert post_run.widths.tolist() == [10, 100, 1000]
    for k in range(SEEDS):
        assert change[2, k] < change[1, k] < change[0, k], change[:, k]
    # Roughly 1/sqrt(m) apart (measured: 0.24-0.30, 0.036-0.052, 0.005-0.006).
    assert (change[2] < 0.3 * change[1]).all() and (change[1] < 0.3 * change[0]).all()
    assert (post_run.relative_change[0] == 0).all()


def test_post_settings_fit_widths_100_and_1000(post_run):
    # Widths 100 and 1000 reach the early-stop threshold within the post's 1000 steps; width 10
    # is slower at lr 1e-3 (loss 5e-4 to 3e-2 after 1000 steps, see the next test).
    assert (post_run.loss[-1, 1:] < 1e-8).all()
    assert (post_run.stopped[2] < 300).all()
    assert (post_run.loss[-1, 0] < post_run.loss[0, 0]).all()


def test_every_width_fits_the_data_with_a_larger_step():
    """lr 3e-3 (3x the post's), 1000 steps: every width below 1e-3, the same ordering of change."""
    config = WeightMatrixConfig(count=SEEDS, lr=3e-3, snapshot_every=1000, layout="curves")
    r = simulate(config, torch.Generator().manual_seed(0))
    assert (r.loss[-1] < 1e-3).all(), r.loss[-1]
    change = r.relative_change[-1]
    assert ((change[2] < change[1]) & (change[1] < change[0])).all()


def test_kept_matrices_are_the_weights_at_each_step():
    config = WeightMatrixConfig(widths=(4, 7), steps=6, lr=1e-2, max_pixels=5)
    r = simulate(config, torch.Generator().manual_seed(5))
    assert r.sides.tolist() == [4, 4]  # 7 > 5: 2x2 block means, the edge block holds 1 row
    assert r.matrices.shape == (7, 16 + 16)
    assert r.matrix(1, 3).shape == (4, 4) and np.shares_memory(r.matrix(1, 3), r.matrices)
    np.testing.assert_array_equal(r.matrix(1)[3], r.matrix(1, 3))
    for w, width in enumerate(config.widths):
        w0 = init_member(config.net(width), member_seed(5, 0))[2]
        np.testing.assert_allclose(r.matrix(w)[0], block_mean(w0, 5).numpy(), rtol=1e-6)
        assert r.matrix_rms[w] == pytest.approx(float(w0.pow(2).mean().sqrt()), rel=1e-6)
        # every snapshot is its own copy, and the weights move
        assert all(not np.array_equal(r.matrix(w)[t], r.matrix(w)[t + 1]) for t in range(6))


def test_block_mean():
    matrix = torch.arange(100.0).reshape(10, 10)
    assert block_mean(matrix, 10) is matrix
    np.testing.assert_allclose(
        block_mean(matrix, 5).numpy(), matrix.reshape(5, 2, 5, 2).mean(dim=(1, 3)).numpy()
    )
    odd = torch.arange(49.0).reshape(7, 7)
    out = block_mean(odd, 4)  # f = 2: 4 x 4 blocks, the last row/column of blocks 1 wide
    assert out.shape == (4, 4)
    assert out[0, 3].item() == pytest.approx((6 + 13) / 2) and out[3, 3].item() == 48
    assert block_mean(torch.zeros(1000, 1000), 200).shape == (200, 200)


def test_early_stop_repeats_the_last_state():
    config = WeightMatrixConfig(widths=(50,), steps=200, lr=5e-2, stop_below=1e-3, clock="linear")
    r = simulate(config, torch.Generator().manual_seed(0))
    stop = int(r.stopped[0, 0])
    assert stop < 200 and r.loss[stop, 0, 0] < 1e-3
    np.testing.assert_array_equal(r.matrices[stop], r.matrices[-1])
    assert len(r.steps) == 201
    # The log clock takes its --frames snapshots at log_steps(200, frames), each exactly the
    # state of the one-a-step run at that step (after the stop too).
    log = simulate(replace(config, clock="log"), torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(log.steps, log_steps(200, config.frames))
    np.testing.assert_array_equal(log.matrices, r.matrices[log.steps])
    np.testing.assert_array_equal(log.loss, r.loss[log.steps])


def test_log_clock_curves_on_a_log_step_axis_and_the_loss_ends_at_the_stop():
    """A stopped net's loss line ends at its stop (not flat at --stop-below, like a plateau)."""
    config = WeightMatrixConfig(
        widths=(50,), steps=200, frames=40, lr=5e-2, stop_below=1e-3, layout="curves"
    )
    r = simulate(config, torch.Generator().manual_seed(0))
    stop = int(r.stopped[0, 0])
    assert stop < 200 and len(r.steps) == 41
    renderer = get("weight-matrix").renderer(r, config, Style(size=(4.0, 3.0), dpi=40))
    renderer.frame(len(renderer) - 1)
    (change, _), (loss, _) = [(line, v) for line, v, *_ in renderer.curves]
    assert change.axes.get_xscale() == "log" and loss.axes.get_xscale() == "log"
    assert change.get_xdata().max() == 200  # the weights stay where they stopped: drawn on
    assert loss.get_xdata().max() == r.steps[r.steps <= stop].max()
    assert loss.get_xdata().min() == 1  # step 0 has no place on a log axis


def test_early_stop_between_snapshots_keeps_the_final_state():
    """All nets stop between two snapshots: the later snapshots show the state they stopped in."""
    every = WeightMatrixConfig(widths=(50,), steps=200, lr=5e-2, stop_below=1e-3, clock="linear")
    sparse = simulate(replace(every, snapshot_every=150), torch.Generator().manual_seed(0))
    dense = simulate(every, torch.Generator().manual_seed(0))
    assert sparse.steps.tolist() == [0, 150, 200]
    stop = int(dense.stopped[0, 0])
    np.testing.assert_array_equal(sparse.loss[1:], dense.loss[[stop, stop]])
    np.testing.assert_array_equal(sparse.matrices[-1], dense.matrices[stop])
    np.testing.assert_array_equal(sparse.relative_change[-1], dense.relative_change[stop])


@pytest.mark.parametrize(
    "layout,show,scale",
    [
        ("matrices", "weights", "shared"),
        ("full", "delta", "shared"),
        ("matrices", "delta", "own"),
        ("curves", "weights", "shared"),
    ],
)
def test_renderer_layouts(layout, show, scale):
    config = WeightMatrixConfig(
        widths=(3, 6), steps=4, count=2, lr=1e-2, layout=layout, show=show, delta_scale=scale
    )
    r = simulate(config, torch.Generator().manual_seed(0))
    renderer = get("weight-matrix").renderer(r, config, Style(size=(6.0, 3.0), dpi=40))
    assert len(renderer) == 5 and renderer.key_frame == 4
    assert len(renderer.images) == (0 if layout == "curves" else 2)
    assert len(renderer.curves) == (0 if layout == "matrices" else 2 * 2 * 2)
    first, last = renderer.frame(0), renderer.frame(4)
    assert first.shape == (120, 240, 4) and not np.array_equal(first, last)
    np.testing.assert_array_equal(renderer.frame(0), first)
    if show == "delta":
        rgba = renderer.images[0][0].get_array()  # frame 0: no change yet, one colour
        assert rgba.shape == (3, 3, 4) and (rgba == rgba[0, 0]).all()
        lows, highs = zip(*(img.get_clim() for img, *_ in renderer.images), strict=True)
        assert all(low == -high for low, high in zip(lows, highs, strict=True))
        assert (len(set(highs)) == 1) == (scale == "shared")


def test_cli_gif_curves_png_and_data(cli, tmp_path):
    out = tmp_path / "wm.gif"
    args = ("--widths", "3,5", "--steps", 4, "--count", 2, "--lr", "1e-2", "--hold", 0, *TINY)
    result = cli(
        "weight-matrix",
        "-o",
        out,
        *args,
        "--data",
        tmp_path / "numbers.npz",
        "--still",
        tmp_path / "still.png",
    )
    assert result.exit_code == 0, result.output
    frames, durations, _ = gif_frames(out)
    assert len(frames) == 5 and sum(durations) == 500
    assert json.loads((tmp_path / "wm.gif.json").read_text())["frames"] == 5
    data = np.load(tmp_path / "numbers.npz")
    assert data["relative_change"].shape == (5, 2, 2) and data["loss"].shape == (5, 2, 2)
    assert data["sides"].tolist() == [3, 5] and data["matrices"].shape == (5, 9 + 25)
    assert (tmp_path / "still.png").stat().st_size > 0
    for layout in ("curves", "matrices"):
        png = tmp_path / f"{layout}.png"
        result = cli("weight-matrix", "-o", png, *args, "--layout", layout, "--show", "delta")
        assert result.exit_code == 0, result.output
        assert png.stat().st_size > 0


def test_depth_one_has_curves_only(cli, tmp_path):
    args = ("--widths", "3", "--steps", 2, "--depth", 1, *TINY)
    assert (
        cli("weight-matrix", "-o", tmp_path / "a.png", *args, "--layout", "curves").exit_code == 0
    )
    result = cli("weight-matrix", "-o", tmp_path / "b.png", *args)
    assert result.exit_code == 2 and "--depth 1 has no hidden-to-hidden matrix" in result.stderr


def test_cuda_without_cuda(cli, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("weight-matrix", "-o", tmp_path / "x.gif", "--device", "cuda", *TINY)
    assert result.exit_code == 2 and "no CUDA device is available" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_quick_preset():
    config = replace(WeightMatrixConfig(), **get("weight-matrix").quick)
    assert config.snapshots == 41 and config.widths == (10, 100, 1000)
    assert replace(config, clock="linear").snapshots == 31


def test_bench_runs_at_a_tiny_size():
    from bench import bench_weight_matrix
    from bench.common import check_row

    (row,) = bench_weight_matrix.run(
        repeat=1, steps=3, widths=(4, 8), size=(6.0, 3.0), dpi=40, full=False
    )
    check_row(row)
    assert "3 steps: 4x240x120" in row["name"] and row["ours_s"] > 0 and row["naive_s"] > 0


def _by_hand(width: int, steps: int, lr: float, seed: int):
    """One net of ``width`` trained by torch.optim.SGD on the MSE; after each step: the relative
    change of all parameters, ||w(n) - w0|| / ||w0||, and the weights' own norm ratio."""
    from ntkviz.numerics.nets import Ensemble

    config = WeightMatrixConfig(widths=(width,), count=1, lr=lr)
    (module,) = Ensemble(config.net(width), 1, seed).member_modules()
    flat = lambda: torch.cat([p.detach().reshape(-1).clone() for p in module.parameters()])  # noqa: E731
    w0 = flat()
    x, y = torch.tensor(config.x_train)[:, None], torch.tensor(config.y_train)
    optimiser = torch.optim.SGD(module.parameters(), lr=lr)
    right, wrong = [0.0], [0.0]
    for _ in range(steps):
        optimiser.zero_grad()
        ((module(x).squeeze(-1) - y) ** 2).mean().backward()
        optimiser.step()
        w = flat()
        right.append(float(torch.linalg.vector_norm(w - w0) / torch.linalg.vector_norm(w0)))
        wrong.append(float(torch.linalg.vector_norm(w - w0) / torch.linalg.vector_norm(w)))
    return np.array(right), np.array(wrong)


def test_plotted_relative_change_is_the_change_over_the_initial_norm():
    """The curve drawn for frame i is ||w(n) - w0|| / ||w0|| of a net trained here by hand, for
    the steps up to frame i (from step 1: step 0's 0 is off the log axis)."""
    steps, lr = 6, 0.05
    config = WeightMatrixConfig(widths=(4,), count=1, steps=steps, lr=lr, layout="curves")
    r = simulate(config, torch.Generator().manual_seed(5))
    right, wrong = _by_hand(4, steps, lr, seed=5)
    assert not np.allclose(right[1:], wrong[1:], rtol=1e-3)  # the two definitions differ here
    renderer = get("weight-matrix").renderer(r, config, Style(size=(6.0, 3.0), dpi=40))
    line = renderer.curves[0][0]
    assert line.axes.get_ylabel().startswith(r"$\|w(n) - w_0\|_2")
    for i in range(len(renderer)):
        renderer.frame(i)
        x, plotted = line.get_data()
        np.testing.assert_array_equal(x, r.steps[1 : i + 1])
        np.testing.assert_allclose(plotted, right[1 : i + 1], rtol=2e-3, atol=1e-7)
        assert renderer.counter.get_text() == f"step {i}"


def test_frame_shows_its_own_snapshot_matrix_on_a_symmetric_diverging_scale():
    config = WeightMatrixConfig(widths=(3, 6), steps=4, lr=5e-2)
    r = simulate(config, torch.Generator().manual_seed(0))
    renderer = get("weight-matrix").renderer(r, config, Style(size=(8.0, 6.0), dpi=40))
    assert config.layout == "full" and renderer.images and renderer.curves  # the default
    assert renderer.order[0] == 0 and r.steps[0] == 0 and renderer.key_frame == len(renderer) - 1
    for i in range(len(renderer)):
        renderer.frame(i)
        for image, w, _, _, cmap, norm in renderer.images:
            expected = cmap(norm(r.matrix(w, i)), bytes=True)
            np.testing.assert_array_equal(image.get_array(), expected)
            low, high = image.get_clim()
            assert low == -high == -np.abs(r.matrix(w, 0)).max()
            assert image.get_cmap().name == "RdBu_r"


def test_block_means_are_said_in_the_panel():
    config = WeightMatrixConfig(widths=(3, 12), steps=2, max_pixels=4)
    r = simulate(config, torch.Generator().manual_seed(0))
    renderer = get("weight-matrix").renderer(r, config, Style(size=(8.0, 6.0), dpi=40))
    labels = [ax.get_xlabel() for ax in renderer.figure.axes]
    assert any("means of 3x3 blocks" in label and "the means'" in label for label in labels)
    filled = caption(get("weight-matrix"), r, config)["caption"]
    shown = np.abs(r.matrix(1, 0)).max()
    assert (
        f"means of 3x3 blocks (4 x 4 cells), coloured on the range of those means (+-{shown:.2g})"
        in filled
    )


def test_caption_numbers_recomputed_from_the_result():
    config = WeightMatrixConfig(widths=(4, 16), steps=20, lr=2e-2, count=2)
    r = simulate(config, torch.Generator().manual_seed(1))
    filled = caption(get("weight-matrix"), r, config)
    changes = r.relative_change[-1, :, 0]
    losses = r.loss[-1, :, 0]
    assert f"ends at {changes[0]:.2g} and {changes[1]:.2g} for widths 4 and 16" in filled["caption"]
    assert f"falls to {losses[0]:.1e} and {losses[1]:.1e}" in filled["caption"]
    moved = []
    for w in range(2):
        start, end = r.matrix(w, 0), r.matrix(w, len(r.steps) - 1)
        moved.append(np.sqrt(((end - start) ** 2).sum() / (start**2).sum()))
    assert (
        f"changes by {moved[0]:.1%} of its size (the panel of width 16: {moved[1]:.1%})"
        in (filled["caption"])
    )
    assert (
        f"after 20 steps {changes[0]:.2g} and {changes[1]:.2g} for widths 4 and 16"
        in filled["reading"]
    )


def test_caption_says_frozen_only_when_the_wider_panels_change_3x_less():
    config = WeightMatrixConfig(widths=(3, 12), steps=3, max_pixels=4)
    r = simulate(config, torch.Generator().manual_seed(0))
    moved = [
        np.linalg.norm(r.matrix(w, 3) - r.matrix(w, 0)) / np.linalg.norm(r.matrix(w, 0))
        for w in range(2)
    ]
    filled = caption(get("weight-matrix"), r, config)["caption"]
    assert ("look frozen" in filled) == (moved[1] < moved[0] / 3)
    assert ("why --" in filled) == (moved[1] < moved[0] / 3)
    assert (
        f"changes by {moved[0]:.1%} of its size (the panel of width 12: {moved[1]:.1%})" in filled
    )


@pytest.mark.parametrize("origin", ["upper", "lower"])
@pytest.mark.parametrize(
    "shape, extent",
    [((10, 10), None), ((200, 200), None), ((7, 13), None), ((7, 13), (0, 5, 2, 9))],
)
def test_cell_image_draws_what_imshow_draws(origin, shape, extent):
    """CellImage (the weight matrices' fast path) against matplotlib's own nearest-neighbour
    drawing: the same pixels, but for a pixel whose centre falls exactly on a cell edge (the
    two break the tie differently: at most one row or column of pixels per edge)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ntkviz.drawing.canvas import CellImage

    data = np.random.default_rng(0).integers(0, 256, (*shape, 4), dtype=np.uint8)
    data[..., 3] = 255
    pictures = []
    for show in ("imshow", "cell"):
        figure = Figure(figsize=(4, 3), dpi=100)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        kwargs = dict(origin=origin, extent=extent, interpolation="nearest")
        image = (
            ax.imshow(data, **kwargs) if show == "imshow" else CellImage.show(ax, data, **kwargs)
        )
        figure.canvas.draw()
        pictures.append(np.asarray(figure.canvas.buffer_rgba())[..., :3].copy())
    assert isinstance(image, CellImage) and image._cells is not None  # the fast path ran
    rows, cols = np.nonzero((pictures[0] != pictures[1]).any(axis=2))
    assert len(np.unique(rows)) <= 1 or len(np.unique(cols)) <= 1
    assert len(rows) <= 0.002 * pictures[0].shape[0] * pictures[0].shape[1]


def test_cell_image_leaves_float_data_to_matplotlib():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ntkviz.drawing.canvas import CellImage

    data = np.random.default_rng(1).normal(size=(12, 9))
    pictures = []
    for show in ("imshow", "cell"):
        figure = Figure(figsize=(3, 3), dpi=80)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        image = ax.imshow(data) if show == "imshow" else CellImage.show(ax, data)
        figure.canvas.draw()
        pictures.append(np.asarray(figure.canvas.buffer_rgba()).copy())
    assert image._cells is None
    np.testing.assert_array_equal(pictures[0], pictures[1])
