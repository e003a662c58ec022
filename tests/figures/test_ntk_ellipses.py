"""ntk-ellipses: the ellipse geometry, the simulation against its own definitions, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch
from conftest import TINY, gif_frames

from ntkviz.drawing.style import Style
from ntkviz.errors import ConfigError
from ntkviz.figures.base import caption
from ntkviz.figures.ntk_ellipses import (
    MIN_ELLIPSE,
    SPEC,
    NtkEllipsesConfig,
    NtkEllipsesRenderer,
    ellipse_points,
    format_change,
    plane_limits,
    simulate,
    visible_ellipses,
)
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_empirical import ntk_layerwise

SMALL = dict(
    alphas=(0.05, 1.0, 20.0), width=12, steps=60, snapshot_every=20, points=30, clock="linear"
)


def random_spd(rng: np.random.Generator, count: int) -> np.ndarray:
    angle = rng.uniform(0, np.pi, count)
    rotation = np.stack(
        [
            np.stack([np.cos(angle), -np.sin(angle)], -1),
            np.stack([np.sin(angle), np.cos(angle)], -1),
        ],
        -2,
    )
    eigenvalues = 10.0 ** rng.uniform(-2, 3, (count, 2))
    return rotation @ (eigenvalues[:, :, None] * np.swapaxes(rotation, 1, 2))


def test_ellipse_points_lie_on_the_kernel_contour_for_any_orientation():
    rng = np.random.default_rng(0)
    kernels = random_spd(rng, 50)
    centre = np.array([3.0, -1.0])
    scale = 1.7
    points = ellipse_points(kernels, centre, scale, points=40)
    assert points.shape == (50, 40, 2)
    d = points - centre
    level = np.einsum("kei,kij,kej->ke", d, kernels, d)
    np.testing.assert_allclose(level, scale**2, rtol=1e-9)
    # Semi-axes: scale / sqrt(eigenvalue), the longest along the smallest eigenvalue's vector.
    lam, vec = np.linalg.eigh(kernels)
    fine = ellipse_points(kernels, centre, scale, points=4001)
    radius = np.linalg.norm(fine - centre, axis=-1)
    np.testing.assert_allclose(radius.max(axis=1), scale / np.sqrt(lam[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(radius.min(axis=1), scale / np.sqrt(lam[:, 1]), rtol=1e-5)
    far = fine[np.arange(50), radius.argmax(axis=1)] - centre
    cosine = np.abs(np.einsum("ki,ki->k", far, vec[:, :, 0])) / np.linalg.norm(far, axis=1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-6)
    np.testing.assert_allclose(points[:, 0], points[:, -1], atol=1e-12)  # closed


def test_ellipse_of_a_diagonal_kernel():
    points = ellipse_points(np.diag([4.0, 1.0]), np.zeros(2), 2.0, points=5)
    # Eigenvalues ascending: t = 0 follows (0, 1) (eigenvalue 1), t = pi/2 follows (1, 0)
    # (eigenvalue 4): semi-axes 2/sqrt(1) = 2 along y2 and 2/sqrt(4) = 1 along y1.
    np.testing.assert_allclose(np.abs(points[[0, 1, 2]]), [[0, 2], [1, 0], [0, 2]], atol=1e-12)


def test_frames_and_snapshot_interval():
    config = NtkEllipsesConfig()
    assert (config.steps, config.interval, config.frame_count) == (8000, 64, 125)
    assert dataclasses.replace(config, frames=50).interval == 160
    assert dataclasses.replace(config, snapshot_every=20).frame_count == 400
    linear = dataclasses.replace(config, clock="linear")
    with pytest.raises(
        ConfigError, match=r"--steps \(100\) must be a multiple of --snapshot-every"
    ):
        dataclasses.replace(linear, steps=100, snapshot_every=7).check()
    with pytest.raises(ConfigError, match=r"--steps \(100\) must be a multiple of --frames \(7\)"):
        dataclasses.replace(linear, steps=100, frames=7).check()
    dataclasses.replace(config, steps=100, frames=7).check()  # own clock: any frame count


def test_simulation_shapes_and_definitions():
    config = NtkEllipsesConfig(**SMALL)
    result = simulate(config, torch.Generator().manual_seed(3))
    T, K, G = 4, 3, 30
    assert result.kernels.shape == (T, K, 2, 2) and result.outputs.shape == (T, K, 2)
    assert result.functions.shape == (T, K, G) and result.loss.shape == (T, K)
    assert result.ellipses.shape[:2] == (T, K) and result.ellipses.shape[-1] == 2
    np.testing.assert_array_equal(result.steps, np.repeat([[0], [20], [40], [60]], 3, axis=1))
    np.testing.assert_array_equal(result.outputs[0], 0.0)  # zeroed output
    # H/alpha^2 at initialisation is the kernel of the unscaled nets (member k is the same net
    # whatever its alpha).
    plain = Ensemble(NetSpec(width=12, depth=2), count=3, seed=3, dtype=torch.float64)
    x = torch.tensor(config.x_train, dtype=torch.float64)
    np.testing.assert_allclose(result.kernels[0], ntk_layerwise(plain, x).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        result.ellipses, ellipse_points(result.kernels, result.y_train, config.ellipse_scale)
    )
    # The functions on the grid pass through the recorded outputs at the training inputs.
    grid_config = dataclasses.replace(config, x_limits=(-2.0, 0.5), points=2)
    grid = simulate(grid_config, torch.Generator().manual_seed(3))
    np.testing.assert_allclose(grid.functions, grid.outputs, rtol=1e-12, atol=1e-12)
    assert (result.loss[-1] < result.loss[0]).all()
    (y1_lo, y1_hi), (y2_lo, y2_hi) = plane_limits(result)
    assert y1_lo < 0 < 3 < y1_hi and y2_lo < -1 < 0 < y2_hi
    assert y1_hi - y1_lo == pytest.approx(y2_hi - y2_lo)


@pytest.mark.parametrize("clock", ["own", "linear"])
def test_runs_simulated_together_are_each_configs_own_run(clock):
    """``ntkviz explore --vary alphas=...``: one-alpha variants trained as one ensemble give
    each variant the Result its config alone gives (its own net: member 0, not member k)."""
    from ntkviz.figures.base import simulate_together

    alone = [
        NtkEllipsesConfig(**{**SMALL, "alphas": alphas, "clock": clock, "converged": 0.05})
        for alphas in ((0.05,), (1.0, 20.0), (20.0,))
    ]
    together = simulate_together(SPEC, alone, torch.Generator().manual_seed(3), None, "cpu")
    for config, joint in zip(alone, together, strict=True):
        own = simulate(config, torch.Generator().manual_seed(3))
        for field in dataclasses.fields(own):
            a, b = getattr(own, field.name), getattr(joint, field.name)
            if field.name == "steps":  # each run's own clock, step for step
                np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=field.name)
    with pytest.raises(ValueError, match="differ in more than --alphas"):
        simulate_together(
            SPEC, [alone[0], dataclasses.replace(alone[1], lr=2e-4)], None, None, "cpu"
        )


def test_large_alpha_keeps_its_kernel_small_alpha_moves_it():
    config = NtkEllipsesConfig(
        alphas=(0.01, 100.0), width=30, steps=300, snapshot_every=300, lr=3e-4, points=10
    )
    result = simulate(config, torch.Generator().manual_seed(0))
    start, end = result.kernels[0], result.kernels[-1]
    change = np.linalg.norm(end - start, axis=(1, 2)) / np.linalg.norm(start, axis=(1, 2))
    assert change[1] < 0.01 < 1.0 < change[0]


@pytest.mark.parametrize("layout", ["grid", "both", "ellipses", "functions"])
def test_cli_layouts(cli, tmp_path, layout):
    out = tmp_path / "ell.gif"
    result = cli(
        "ntk-ellipses",
        "-o",
        out,
        "--alphas",
        "0.1,10",
        "--width",
        8,
        "--steps",
        40,
        "--frames",
        4,
        "--points",
        20,
        "--layout",
        layout,
        "--still",
        tmp_path / "still.png",
        "--data",
        tmp_path / "numbers.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    frames, _, _ = gif_frames(out)
    # step 0 and the 4 frames after it (the held end adds duration, not frames)
    assert len(frames) == 5 and frames[0].shape == (80, 120, 3)
    assert not np.array_equal(frames[0], frames[-1])
    data = np.load(tmp_path / "numbers.npz")
    assert data["kernels"].shape == (5, 2, 2, 2) and data["functions"].shape == (5, 2, 20)
    sidecar = json.loads((tmp_path / "ell.gif.json").read_text())
    assert sidecar["config"]["layout"] == layout and sidecar["config"]["alphas"] == [0.1, 10.0]
    assert (tmp_path / "still.png").stat().st_size > 0


def test_ellipses_bench_runs_at_a_tiny_size():
    from bench import bench_ellipses
    from bench.common import check_row

    (row,) = bench_ellipses.run(repeat=1, steps=40, frames=2, size=(3.0, 2.0), dpi=40)
    check_row(row)
    # step 0 and 2 frames, then the held end (the pipeline's --hold)
    count = re.fullmatch(r"ntk-ellipses (\d+)x120x80 time", row["name"])
    assert count and int(count[1]) >= 3 and "reduced" in row["extra"]
    assert row["ours_s"] > 0 and row["naive_s"] > 0


@pytest.fixture(scope="module")
def small_run():
    config = NtkEllipsesConfig(**SMALL)
    return simulate(config, torch.Generator().manual_seed(3)), config


@pytest.mark.parametrize("layout", ["grid", "both"])
def test_frame_i_draws_snapshot_i_from_step_0(small_run, layout):
    result, config = small_run
    config = dataclasses.replace(config, layout=layout)
    style = Style(size=(9.0, 4.0), dpi=40)
    renderer = NtkEllipsesRenderer(result, config, style)
    assert renderer.count == len(result.steps) == 4  # step 0 and one frame per interval
    assert renderer.key_frame == renderer.count - 1
    K = len(result.alphas)
    assert len(renderer.ellipses) == len(renderer.trails) == len(renderer.curves) == K
    # the runs get the categorical palette, one distinct colour each
    assert [line.get_color() for line in renderer.ellipses] == style.run_colors(K)
    start = result.kernels[0]
    for i in range(renderer.count):
        renderer.frame(i)
        assert renderer.title.get_text() == f"step {int(result.steps[i, 0])}"
        for k in range(K):
            np.testing.assert_array_equal(
                np.column_stack(renderer.ellipses[k].get_data()), result.ellipses[i, k]
            )
            x, y = renderer.trails[k].get_data()
            np.testing.assert_array_equal(np.column_stack([x, y]), result.outputs[: i + 1, k])
            np.testing.assert_array_equal(renderer.curves[k].get_ydata(), result.functions[i, k])
        if layout == "grid":
            # each panel prints its run's relative kernel change so far, computed here by hand
            for k, text in enumerate(renderer.change_texts):
                by_hand = np.sqrt(((result.kernels[i, k] - start[k]) ** 2).sum()) / np.sqrt(
                    (start[k] ** 2).sum()
                )
                assert text.get_text() == format_change(by_hand)
                assert text.xycoords.get_text() == "‖H − H₀‖ / ‖H₀‖ = "  # drawn just before
    # frame 0 is the start: every output at the origin, every ellipse the initial kernel's
    renderer.frame(0)
    assert renderer.title.get_text() == "step 0"
    for k in range(K):
        np.testing.assert_array_equal(np.column_stack(renderer.trails[k].get_data()), [[0, 0]])


def test_target_legend_and_data_stay_on_top(small_run):
    result, config = small_run
    for layout in ("grid", "both"):
        renderer = NtkEllipsesRenderer(
            result, dataclasses.replace(config, layout=layout), Style(size=(9.0, 4.0), dpi=40)
        )
        markers = {a.get_marker() for a in renderer.overlays if hasattr(a, "get_marker")}
        assert {"+", "o"} <= markers  # origin, data points
        # the target is in the still background, under the current ellipse (however small)
        assert "*" not in markers
        if layout == "grid":
            (key,) = renderer.figure.legends  # one key above the panels
            assert key in renderer.overlays
            labels = [t.get_text() for t in key.get_texts()]
            assert labels[:2] == ["kernel now", "kernel at start"]
            assert [h.get_linestyle() for h in key.legend_handles[:2]] == ["-", "--"]
        if layout == "both":
            legend = renderer.figure.axes[0].get_legend()
            assert legend in renderer.overlays
            lines = [h for h in legend.legend_handles if h.get_label().startswith("$")]
            # one LINE symbol per run (the ellipse), in the run's colour
            assert [h.get_linestyle() for h in lines[: len(result.alphas)]] == ["-"] * 3
    # The star stays visible in every frame: black pixels around its centre (the trails that
    # end on it and the ellipses around it are drawn over it).
    renderer = NtkEllipsesRenderer(
        result, dataclasses.replace(config, layout="ellipses"), Style(size=(6.0, 6.0), dpi=60)
    )
    ax = renderer.figure.axes[0]
    for i in range(renderer.count):
        picture = renderer.frame(i)
        x, y = ax.transData.transform(result.y_train)
        row, col = picture.shape[0] - int(round(y)), int(round(x))
        near = picture[row - 6 : row + 7, col - 6 : col + 7, :3]
        assert (near.max(axis=-1) < 40).sum() >= 10, f"frame {i}"


def test_caption_numbers_are_the_results(small_run):
    result, config = small_run
    filled = caption(SPEC, result, config)
    facts = filled["facts"]
    # recomputed here from the kernels: relative Frobenius change and the ellipse's linear size
    # (geometric mean of the semi-axes, which go like 1 / sqrt(eigenvalue))
    first, last = result.kernels[0], result.kernels[-1]
    change = np.array(
        [np.linalg.norm((b - a).ravel()) / np.linalg.norm(a.ravel()) for a, b in zip(first, last)]
    )
    size = np.array(
        [
            np.sqrt(np.prod(np.sqrt(np.linalg.eigvalsh(a) / np.linalg.eigvalsh(b))))
            for a, b in zip(first, last)
        ]
    )
    small, large = 0, 2  # alphas (0.05, 1, 20)
    assert facts["change_small"] == pytest.approx(change[small], rel=1e-9)
    assert facts["change_large"] == pytest.approx(change[large], rel=1e-9)
    assert facts["size_small"] == pytest.approx(size[small], rel=1e-9)
    text = filled["caption"]
    assert f"{format_change(change[large])} at alpha = 20 (" in text
    assert f"to {format_change(change[small])} at alpha = 0.05 (" in text
    assert f"Over {int(result.steps[-1].max())} steps" in text
    if size[small] < 1:
        assert f"shrinks to {size[small]:.0%} of its initial size" in text
    assert f"alpha = 0.05 the kernel changes by {format_change(change[small])}" in filled["reading"]
    # the description follows the layout drawn
    assert text.startswith("One panel per output scale alpha") and "printed in each panel" in text
    both = caption(SPEC, result, dataclasses.replace(config, layout="both"))["caption"]
    assert both.startswith("Left: every run in one plane") and "printed in each panel" not in both
    alone = caption(SPEC, result, dataclasses.replace(config, layout="functions"))["caption"]
    assert (
        "Only each run's function f(x) is drawn here" in alone and "in the other layouts:" in alone
    )


def test_default_caption_claims_hold_at_the_posts_settings():
    """At the post's settings (seed 0) the large alpha's kernel barely moves and the small
    alpha's ellipse shrinks to a dot, as the caption says (the claims are conditional facts)."""
    config = NtkEllipsesConfig(alphas=(0.01, 50.0), steps=2000, snapshot_every=2000, points=2)
    result = simulate(config, torch.Generator().manual_seed(0))
    facts = caption(SPEC, result, config)["facts"]
    assert facts["change_large"] < 0.1 and "kernel regime" in facts["large_phrase"]
    assert facts["size_small"] < 0.2 and "a dot under the star" in facts["small_phrase"]


OWN = dict(alphas=(0.01, 1.0), steps=400, frames=20, points=12)  # the post's nets and lr


@pytest.fixture(scope="module")
def own_run():
    config = NtkEllipsesConfig(**OWN)
    return simulate(config, torch.Generator().manual_seed(0)), config


def test_own_clock_runs_each_alpha_to_its_own_convergence(own_run):
    """--clock own: run k's frames go from step 0 to tau_k, the first step its loss is at most
    --converged of its start, evenly; each snapshot is the net at that step (the same as the
    one-clock run recorded every step)."""
    result, config = own_run
    every = simulate(
        dataclasses.replace(config, clock="linear", frames=config.steps),
        torch.Generator().manual_seed(0),
    )
    start = every.loss[0]
    for k in range(len(config.alphas)):
        done = np.flatnonzero(every.loss[:, k] <= config.converged * start[k])
        tau = int(done[0]) if done.size else config.steps
        np.testing.assert_array_equal(
            result.steps[:, k], np.rint(np.arange(21) / 20 * tau).astype(int)
        )
        np.testing.assert_allclose(result.kernels[:, k], every.kernels[result.steps[:, k], k])
        np.testing.assert_allclose(result.outputs[:, k], every.outputs[result.steps[:, k], k])
    # the small alpha converges within the run, far sooner than the large one: on one clock it
    # would be done inside the first frames; on its own it moves in every frame
    assert result.steps[-1, 0] < config.steps / 4 <= result.steps[-1, 1]
    moved = np.linalg.norm(np.diff(result.outputs[:, 0], axis=0), axis=-1)
    assert (moved[:10] > 0).all()


def test_own_clock_prints_each_panels_real_step(own_run):
    result, config = own_run
    renderer = NtkEllipsesRenderer(result, config, Style(size=(9.0, 4.0), dpi=40))
    assert len(renderer.step_texts) == len(config.alphas)
    for i in (0, 7, renderer.count - 1):
        renderer.frame(i)
        shown = [t.get_text() for t in renderer.step_texts]
        assert shown == [f"step {int(s)}" for s in result.steps[i]]
        assert renderer.title.get_text() == f"each alpha on its own clock: {i / 20:.0%}"
    both = NtkEllipsesRenderer(
        result, dataclasses.replace(config, layout="both"), Style(size=(9.0, 4.0), dpi=40)
    )
    both.frame(5)  # no panel of its own: the title lists the steps
    assert both.title.get_text().endswith(
        "(steps " + ", ".join(str(int(s)) for s in result.steps[5]) + ")"
    )


def test_visible_ellipses_keep_shape_and_centre_and_a_minimum_size():
    centre = np.array([3.0, -1.0])
    big = ellipse_points(np.diag([1.0, 4.0]), centre, 2.0)  # semi-axes 2 and 1
    tiny = ellipse_points(np.diag([1e6, 4e6]), centre, 2.0)  # semi-axes 2e-3 and 1e-3
    drawn = visible_ellipses(np.stack([big, tiny]), centre, 0.1)
    np.testing.assert_array_equal(drawn[0], big)
    radius = np.linalg.norm(drawn[1] - centre, axis=-1)
    assert radius.max() == pytest.approx(0.1) and radius.min() == pytest.approx(0.05, rel=1e-3)
    np.testing.assert_allclose((drawn[1] - centre) / 50.0, tiny - centre)


def test_a_shrunken_ellipse_is_drawn_over_the_target(own_run):
    """alpha = 0.01's kernel grows many-fold: its ellipse, far smaller than the star, is drawn at
    the minimum size around the target, in its colour, over the star."""
    result, config = own_run
    config = dataclasses.replace(config, alphas=config.alphas, layout="ellipses")
    style = Style(size=(6.0, 6.0), dpi=60)
    renderer = NtkEllipsesRenderer(result, config, style)
    (y1_lim, _) = plane_limits(result)
    side = y1_lim[1] - y1_lim[0]
    true = np.linalg.norm(result.ellipses[-1, 0] - result.y_train, axis=-1).max()
    assert true < 0.5 * MIN_ELLIPSE * side  # under the star as it is: drawn larger
    shown = np.linalg.norm(renderer.drawn[-1, 0] - result.y_train, axis=-1).max()
    assert shown == pytest.approx(MIN_ELLIPSE * side)
    picture = renderer.frame(renderer.count - 1)
    ax = renderer.figure.axes[0]
    drawn = renderer.drawn[-1, 0]
    colour = np.array([int(style.run_colors(2)[0][j : j + 2], 16) for j in (1, 3, 5)])
    hits = 0
    for x, y in ax.transData.transform(drawn[::8]):
        row, col = picture.shape[0] - int(round(y)), int(round(x))
        patch = picture[row - 1 : row + 2, col - 1 : col + 2, :3].astype(int)
        hits += bool((np.abs(patch - colour).sum(axis=-1) < 60).any())
    assert hits >= len(drawn[::8]) // 2


def test_grid_function_panel_names_each_alpha(own_run):
    result, config = own_run
    renderer = NtkEllipsesRenderer(result, config, Style(size=(9.0, 4.0), dpi=40))
    functions = renderer.curves[0].axes
    legend = functions.get_legend()
    assert legend is not None and legend in renderer.overlays
    assert [t.get_text() for t in legend.get_texts()] == [r"$\alpha$ = 0.01", r"$\alpha$ = 1"]
    colours = [h.get_color() for h in legend.legend_handles]
    assert colours == [c.get_color() for c in renderer.curves]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_default_alphas_get_distinct_colours(theme):
    count = len(NtkEllipsesConfig().alphas)
    colours = Style(theme=theme).run_colors(count)
    assert len(set(colours)) == count


def test_player_labels_the_real_step_on_one_clock_and_none_on_own_clocks(small_run, own_run):
    from ntkviz.pipeline import frame_labels

    for (result, config), expected in (
        (small_run, ["step 0", "step 20", "step 40", "step 60"]),
        (own_run, None),  # each run at its own step: the panels print them
    ):
        renderer = NtkEllipsesRenderer(result, config, Style(size=(6.0, 3.0), dpi=30))
        assert frame_labels(result, renderer) == expected
