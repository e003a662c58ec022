"""hessian-structure: the dense Hessian against the post's per-entry formulas, its permuted forms,
the closed-form operator norm, and the CLI at tiny sizes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import gif_frames

from ntkviz.errors import ConfigError
from ntkviz.figures.hessian_structure import (
    HessianStructureConfig,
    block_ratios,
    block_ratios_closed,
    check_memory,
    permute,
    simulate,
)
from ntkviz.numerics import curvature

SMALL = (1, 2, 3, 5)


def run(**changes):
    changes = {"ratio_max_width": 64, "seeds": 3, **changes}
    config = dataclasses.replace(HessianStructureConfig(widths=SMALL), **changes)
    return simulate(config, torch.Generator().manual_seed(11))


def analytic_hessian(a: np.ndarray, b: np.ndarray, x: float, name: str = "tanh") -> np.ndarray:
    """The post's "Hessian" section, entry by entry, in the order (a_1..a_m, b_1..b_m)."""
    m = len(a)
    _, d1, d2 = (t.numpy() for t in curvature.activation(name).derivatives(torch.from_numpy(a * x)))
    h = np.zeros((2 * m, 2 * m))
    for i in range(m):
        h[i, i] = b[i] * x**2 * d2[i]  # d2f / da_i^2
        h[i, m + i] = h[m + i, i] = x * d1[i]  # d2f / da_i db_i; d2f / db^2 stays 0
    return h


@pytest.mark.parametrize("name,x", [("tanh", 1.0), ("tanh", -2.3), ("sin", 0.7), ("erf", 1.4)])
def test_dense_hessian_is_the_posts_formula(name, x):
    r = run(activation=name, x=x)
    for k, m in enumerate(r.widths):
        h = r.hessians[k, : 2 * m, : 2 * m]
        expected = analytic_hessian(r.a[k, :m], r.b[k, :m], x, name)
        np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-14)
        assert np.all(h[m:, m:] == 0)  # the b-b block is exactly zero
        off_pair = (
            ~np.eye(2 * m, dtype=bool)
            & ~np.eye(2 * m, k=m, dtype=bool)
            & ~np.eye(2 * m, k=-m, dtype=bool)
        )
        assert np.all(h[off_pair] == 0)
        assert np.all(r.hessians[k, 2 * m :] == 0) and np.all(
            r.hessians[k, :, 2 * m :] == 0
        )  # padding


def test_pairs_permutation_is_block_diagonal():
    r = run(permutation="pairs")
    for k, m in enumerate(r.widths):
        p = r.permuted[k, : 2 * m, : 2 * m]
        inside = np.kron(np.eye(m, dtype=bool), np.ones((2, 2), dtype=bool))
        assert np.all(p[~inside] == 0)
        for i in range(m):  # block i is [[p_i, q_i], [q_i, 0]] of pair (a_i, b_i)
            h = r.hessians[k]
            np.testing.assert_array_equal(
                p[2 * i : 2 * i + 2, 2 * i : 2 * i + 2],
                [[h[i, i], h[i, m + i]], [h[m + i, i], 0.0]],
            )


def test_swap_permutation_is_the_posts_row_swap():
    r = run(permutation="swap")
    for k, m in enumerate(r.widths):
        h, p = r.hessians[k, : 2 * m, : 2 * m], r.permuted[k, : 2 * m, : 2 * m]
        np.testing.assert_array_equal(p, np.vstack([h[m:], h[:m]]))
        assert np.all(np.triu(p, 1) == 0)  # lower triangular, as in the post
        np.testing.assert_array_equal(np.diag(p), np.concatenate([np.diag(h[m:, :m])] * 2))
        # A row permutation is orthogonal: same singular values.
        np.testing.assert_allclose(
            np.linalg.svd(p, compute_uv=False), np.linalg.svd(h, compute_uv=False), rtol=1e-12
        )


def test_permute_by_hand():
    h = np.arange(16.0).reshape(4, 4)  # m = 2, order (a1, a2, b1, b2)
    np.testing.assert_array_equal(permute(h, "pairs"), h[np.ix_([0, 2, 1, 3], [0, 2, 1, 3])])
    np.testing.assert_array_equal(permute(h, "swap"), h[[2, 3, 0, 1]])


@pytest.mark.parametrize("name", ["tanh", "relu-smooth"])
def test_spectral_norm_is_curvatures_exact_formula(name):
    r = run(activation=name, widths=(1, 4, 16, 40))
    np.testing.assert_allclose(r.spectral_norm, r.exact_norm, rtol=1e-12)
    for k, m in enumerate(r.widths):  # and both are the top |eigenvalue| of the stored matrix
        top = np.abs(np.linalg.eigvalsh(r.hessians[k, : 2 * m, : 2 * m])).max()
        assert r.spectral_norm[k] == pytest.approx(top, rel=1e-12)
        expected = curvature.hessian_norm_exact(
            torch.from_numpy(r.a[k, :m]), torch.from_numpy(r.b[k, :m]), r.x, name
        )
        assert r.exact_norm[k] == pytest.approx(float(expected), rel=1e-12)


def test_loss_hessian_is_gauss_newton_plus_residual_term():
    y = 0.3
    out, loss = run(widths=(3, 6)), run(widths=(3, 6), of="loss", y=y)
    np.testing.assert_array_equal(out.a, loss.a)  # same nets
    assert np.isnan(loss.exact_norm).all()
    for k, m in enumerate(out.widths):
        a, b = (torch.from_numpy(v[k, :m]) for v in (out.a, out.b))
        w = curvature.flatten(a, b)
        grad = torch.func.grad(curvature.network(out.x))(w).numpy()
        expected = (out.output[k] - y) * out.hessians[k, : 2 * m, : 2 * m] + np.outer(grad, grad)
        np.testing.assert_allclose(
            loss.hessians[k, : 2 * m, : 2 * m], expected, rtol=1e-12, atol=1e-14
        )


def test_ratios_fall_with_width():
    r = run(widths=(4, 32, 256))
    # a-a entries carry b_i ~ m^-1/2: the Frobenius ratio falls about like m^-1/2 (64x the
    # width: 8x smaller in expectation; one draw per width, so the bounds are loose).
    assert -0.8 < r.slopes[1] < -0.25
    assert r.frobenius_ratio[-1] < r.frobenius_ratio[0] / 3
    assert r.max_ratio[-1] < r.max_ratio[0]


def test_nets_do_not_depend_on_the_other_widths():
    alone = run(widths=(5,))
    together = run(widths=(2, 5, 9))
    np.testing.assert_array_equal(alone.a[0, :5], together.a[1, :5])
    np.testing.assert_array_equal(alone.hessians[0], together.hessians[1, :10, :10])


def test_memory_check_names_the_option_and_estimate():
    check_memory((2, 4, 8), limit_bytes=10**6)  # fits
    with pytest.raises(
        ConfigError, match=r"--widths: width 1000 needs about .* 2000 x 2000 Hessian"
    ):
        check_memory((10, 1000), limit_bytes=10**6)


# -- the CLI ----------------------------------------------------------------------------------

TINY_HS = [
    "--widths",
    "2,4,8",
    "--ratio-max-width",
    "64",
    "--seeds",
    "3",
    "--hold",
    "0",
    "--size",
    "6x3",
    "--dpi",
    "30",
    "--no-progress",
]


@pytest.mark.parametrize("layout", ["both", "permuted"])
def test_cli_gif_still_and_data(cli, tmp_path, layout):
    out, still, data = tmp_path / "hs.gif", tmp_path / "hs.png", tmp_path / "hs.npz"
    result = cli(
        "hessian-structure",
        "-o",
        out,
        "--still",
        still,
        "--data",
        data,
        "--layout",
        layout,
        *TINY_HS,
    )
    assert result.exit_code == 0, result.output
    frames, durations, _ = gif_frames(out)
    assert len(frames) == 3 and frames[0].shape == (90, 180, 3)
    assert durations == [1000] * 3  # one frame per width, a second each
    assert not np.array_equal(frames[0], frames[-1])
    from PIL import Image

    with Image.open(still) as im:
        assert im.size == (180, 90)
        still_rgb = np.asarray(im.convert("RGB")).astype(int)
        # The key frame (the last: every width here is small enough to show its entries), up
        # to the GIF's colour quantisation.
        assert np.abs(still_rgb - frames[-1]).mean() < 3
        assert np.abs(still_rgb - frames[0]).mean() > np.abs(still_rgb - frames[-1]).mean()
    numbers = np.load(data)
    assert numbers["hessians"].shape == (3, 16, 16) and numbers["widths"].tolist() == [2, 4, 8]
    sidecar = json.loads((tmp_path / "hs.gif.json").read_text())
    assert sidecar["config"]["widths"] == [2, 4, 8] and sidecar["config"]["layout"] == layout


def test_cli_loss_and_pairs(cli, tmp_path):
    out = tmp_path / "hs.gif"
    result = cli(
        "hessian-structure",
        "-o",
        out,
        "--of",
        "loss",
        "--y",
        "2",
        "--permutation",
        "pairs",
        "--layout",
        "raw",
        *TINY_HS,
    )
    assert result.exit_code == 0, result.output
    assert len(gif_frames(out)[0]) == 3


@pytest.mark.parametrize("of", ["output", "loss"])
@pytest.mark.parametrize("name", ["tanh", "erf", "relu-smooth"])
def test_closed_form_block_ratios_equal_the_dense_hessians(of, name):
    from torch.func import hessian

    act = curvature.activation(name)
    net = curvature.network(0.7, act)
    fn = net if of == "output" else (lambda w: 0.5 * (net(w) - 0.4) ** 2)
    gen = torch.Generator().manual_seed(3)
    for m in (1, 2, 7, 40):
        a, b = curvature.init_params(m, gen)
        dense = hessian(fn)(curvature.flatten(a, b)).numpy()
        np.testing.assert_allclose(
            block_ratios_closed(a, b, 0.7, act, of, 0.4), block_ratios(dense), rtol=1e-9
        )


def test_ratio_panel_includes_the_shown_nets_and_averages_the_seeds():
    r = run(widths=(3, 8), ratio_max_width=16, seeds=4)
    assert r.ratio_widths.tolist() == [2, 3, 4, 8, 16]
    assert r.ratios.shape == (4, 5, 2)
    np.testing.assert_allclose(r.ratio_mean, r.ratios.mean(axis=0))
    # initialisation 0 at the matrix widths is the net whose dense Hessian is shown
    np.testing.assert_allclose(r.ratios[0, [1, 3], 0], r.max_ratio, rtol=1e-9)
    np.testing.assert_allclose(r.ratios[0, [1, 3], 1], r.frobenius_ratio, rtol=1e-9)


def test_default_frobenius_slope_is_steady_near_minus_a_half():
    """The caption states the measured slope: over the default widths and nets it is within a
    few hundredths of theory's -1/2 and of itself across seeds (one net per width up to
    m = 128, as before, scattered from -0.38 to -0.52)."""
    slopes = [
        simulate(HessianStructureConfig(widths=(2,)), torch.Generator().manual_seed(g)).slopes
        for g in range(3)
    ]
    frobenius = np.array([s[1] for s in slopes])
    assert np.ptp(frobenius) < 0.03 and np.all(np.abs(frobenius + 0.5) < 0.04)


def test_renderer_frames_show_their_width_and_the_shown_nets_ratio():
    from ntkviz.drawing.canvas import Style
    from ntkviz.figures import get

    config = HessianStructureConfig(widths=(2, 4, 8, 64), ratio_max_width=128, seeds=3)
    r = simulate(config, torch.Generator().manual_seed(0))
    renderer = get("hessian-structure").renderer(r, config, Style(size=(9.0, 3.0), dpi=30))
    assert renderer.key_frame == 2  # m = 8: the largest with 2m <= 64 (entries still visible)
    for i, m in enumerate(r.widths):
        renderer.frame(i)
        for kind, image in renderer.images:
            source = r.hessians if kind == "raw" else r.permuted
            np.testing.assert_array_equal(image.get_array(), source[i, : 2 * m, : 2 * m])
        # by hand: the dense Hessian's block ratios of the net shown at this width
        h = r.hessians[i, : 2 * m, : 2 * m]
        aa, ab = h[:m, :m], h[:m, m:]
        expected = (np.abs(aa).max() / np.abs(ab).max(), np.linalg.norm(aa) / np.linalg.norm(ab))
        for (now, _), value in zip(renderer.now, expected, strict=True):
            x, y = now.get_data()
            assert list(x) == [m] and y[0] == pytest.approx(value, rel=1e-9)


def test_caption_slopes_recomputed_from_the_result():
    from ntkviz.figures import get
    from ntkviz.figures.base import caption

    config = HessianStructureConfig(widths=(2, 4), ratio_max_width=256, seeds=5)
    r = simulate(config, torch.Generator().manual_seed(2))
    filled = caption(get("hessian-structure"), r, config)
    logm = np.log10(r.ratio_widths)
    mean = r.ratios.mean(axis=0)
    frob = np.polyfit(logm, np.log10(mean[:, 1]), 1)[0]
    largest = np.polyfit(logm, np.log10(mean[:, 0]), 1)[0]
    # 5 nets: fewer than two groups of 8, so the slope is stated without a spread
    assert f"has fitted slope {frob:+.2f} (theory -1/2; one draw" in filled["caption"]
    assert f"slope {largest:+.2f}, as the largest" in filled["caption"]
    assert "averaged over 5 nets at widths 2 to 256" in filled["caption"]
    assert f"{r.spectral_norm[-1]:.2f} at m = 4" in filled["caption"]
    assert f"slope {frob:+.2f}" in filled["reading"]


def test_caption_states_the_slopes_spread_over_groups_of_nets_and_a_verdict():
    from ntkviz.figures import get
    from ntkviz.figures.base import caption

    config = HessianStructureConfig(widths=(2, 4), ratio_max_width=256, seeds=16)
    r = simulate(config, torch.Generator().manual_seed(2))
    filled = caption(get("hessian-structure"), r, config)
    logm = np.log10(r.ratio_widths)
    groups = [
        np.polyfit(logm, np.log10(r.ratios[g * 8 : (g + 1) * 8, :, 1].mean(axis=0)), 1)[0]
        for g in range(2)
    ]
    low, high = min(groups), max(groups)
    assert f"({low:+.2f} to {high:+.2f} over 2 groups of 8 nets)" in filled["caption"]
    inside = low <= -0.5 <= high
    assert ("consistent with theory -1/2" in filled["caption"]) == inside
    assert ("theory -1/2 lies outside this spread" in filled["caption"]) == (not inside)


def test_relu_caption_says_the_a_a_block_is_zero_instead_of_nan():
    from ntkviz.figures import get
    from ntkviz.figures.base import caption

    config = HessianStructureConfig(widths=(2, 4), ratio_max_width=64, seeds=8, activation="relu")
    r = simulate(config, torch.Generator().manual_seed(0))
    filled = caption(get("hessian-structure"), r, config)
    text = filled["caption"] + filled["reading"]
    assert "nan" not in text.lower()
    assert "the a-a block is zero at every width" in text
