"""kernel-spectrum: the linear model's per-mode decay, analytic against empirical spectra, the
renderer, the caption's numbers and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, gif_frames

from ntkviz.drawing.style import Style
from ntkviz.figures.base import caption
from ntkviz.figures.kernel_spectrum import (
    FLOOR,
    SPEC,
    KernelSpectrumConfig,
    mode_decay,
    simulate,
    spectrum,
)
from ntkviz.numerics.dynamics import train
from ntkviz.numerics.linearize import LinearModel
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_analytic import infinite_ntk
from ntkviz.numerics.ntk_empirical import empirical_ntk


def test_linear_model_decays_mode_by_mode_exactly():
    """Train the linear model (not the module's formula) and project its residual on its own
    kernel's eigenvectors: each projection is (1 - eta lambda_k)^t times its start."""
    x = np.linspace(-2, 2, 12)
    y = np.cos(2 * x) + 0.3 * x
    spec = NetSpec(width=32, depth=1, parameterization="ntk", zero_output=True)
    nets = Ensemble(spec, 2, seed=3, dtype=torch.float64)
    xt, yt = torch.tensor(x), torch.tensor(y)
    kernels = empirical_ntk(nets, xt).numpy()
    lr, steps = 0.05, 37
    rate = 2 * lr / len(x)
    model = LinearModel(nets)
    train(nets, xt, yt, lr=lr, steps=steps, gradient=model.loss_and_gradient)
    residual = model(xt).detach().numpy() - y
    for k in range(2):
        lam, vec = np.linalg.eigh(kernels[k])
        got = vec.T @ residual[k] / (vec.T @ -y)
        np.testing.assert_allclose(got, (1 - rate * lam) ** steps, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(
            mode_decay(lam, rate, np.array([steps]))[0], (1 - rate * lam) ** steps, rtol=1e-12
        )
    lam = np.array([3.0, 0.5, 1e-3])
    t = np.array([0.0, 2.0, 50.0])
    np.testing.assert_allclose(
        mode_decay(lam, 0.1, t, discrete=False), np.exp(-0.1 * np.outer(t, lam)), rtol=1e-14
    )


def test_spectrum_is_sorted_signed_and_exact():
    kernel = infinite_ntk(np.linspace(-1, 1, 9), depth=2)
    lam, vec = spectrum(kernel)
    assert np.all(np.diff(lam) <= 0)
    np.testing.assert_allclose(vec @ np.diag(lam) @ vec.T, kernel, atol=1e-10)
    peak = vec[np.abs(vec).argmax(axis=0), np.arange(9)]
    assert np.all(peak > 0)


def test_analytic_eigenvalues_against_wide_nets_width_aware():
    x = np.linspace(-2, 2, 16)
    lam = np.linalg.eigvalsh(infinite_ntk(x, depth=1))[::-1][:5]
    errors = []
    for width in (64, 4096):
        nets = Ensemble(
            NetSpec(width=width, depth=1, parameterization="ntk"),
            4,
            seed=0,
            dtype=torch.float64,
            keep_initial=False,
        )
        emp = np.linalg.eigvalsh(empirical_ntk(nets, torch.tensor(x)).numpy())[:, ::-1][:, :5]
        rel = np.sqrt(np.mean((emp / lam - 1) ** 2))
        assert rel <= 3.0 / np.sqrt(width), (width, rel)
        errors.append(rel)
    assert errors[1] < errors[0] / 2


SMALL = dict(points=16, widths=(32, 512), count=2, steps=200, frames=8, modes=(1, 2, 4, 8))


@pytest.fixture(scope="module")
def trained():
    config = KernelSpectrumConfig(**SMALL)
    return simulate(config, torch.Generator().manual_seed(0)), config


def test_simulation(trained):
    result, config = trained
    T = len(result.steps)
    assert result.steps[0] == 0 and result.steps[-1] == 200 and np.all(np.diff(result.steps) > 0)
    assert result.projections.shape == (T, 2, 2, 16) and result.ratio.shape == (T, 2, 16)
    np.testing.assert_allclose(result.ratio[0], 1.0, atol=1e-5)  # zeroed: u(0) = -Y
    np.testing.assert_allclose(
        result.theory, (1 - result.rate * result.eigenvalues) ** result.steps[:, None]
    )
    # the kernels recomputed from the same seed
    nets = Ensemble(config.net(32), 2, 0, dtype=torch.float64)
    emp = np.linalg.eigvalsh(empirical_ntk(nets, torch.tensor(result.x)).numpy())[:, ::-1]
    np.testing.assert_allclose(result.empirical_eigenvalues[0], emp, rtol=1e-8, atol=1e-10)
    # the top modes of the wide nets follow the theory
    np.testing.assert_allclose(result.ratio[3, 1, :2], result.theory[3, :2], atol=0.05)


def drawn(values: np.ndarray) -> np.ndarray:
    """What a residual axis shows: |values|, nothing (NaN) below the floor."""
    values = np.abs(np.asarray(values, dtype=float))
    return np.where(values >= FLOOR, values, np.nan)


def residual_lines(renderer):
    """Every line of the two residual panels (bottom left, bottom right) with its y data."""
    return [line for ax in renderer.figure.axes[2:4] for line in ax.get_lines()]


def test_each_nets_own_linear_model_is_drawn(trained):
    """The own linear model (own_ratio) is drawn: on every mode now (the widest nets') and over
    time for each chosen mode, at every frame (main computed it and drew nothing)."""
    result, config = trained
    renderer = SPEC.renderer(result, config, Style(size=(12, 9), dpi=40))
    wide = int(np.argmax(result.widths))
    for n in (1, len(renderer) // 2, len(renderer) - 1):
        renderer.frame(n)
        i = renderer.order[n]
        lines = residual_lines(renderer)
        now = drawn(result.own_ratio[i, wide])
        assert any(
            len(line.get_ydata()) == len(now)
            and np.array_equal(np.asarray(line.get_ydata(), float), now, equal_nan=True)
            for line in lines
        ), f"frame {n}: no line shows the own linear model on every mode"
        later = result.steps[: i + 1] > 0
        for k in config.modes:
            course = drawn(result.own_ratio[: i + 1, wide, k - 1][later])
            assert any(
                np.array_equal(np.asarray(line.get_xdata(), float), result.steps[: i + 1][later])
                and np.array_equal(np.asarray(line.get_ydata(), float), course, equal_nan=True)
                for line in lines
            ), f"frame {n}: mode {k}'s own linear model is not drawn over time"


def test_the_floor_is_a_marked_band_not_a_line_of_data(trained):
    """Values below the floor (the theory's modes learned to ~0) are not drawn at the floor as
    if measured there; each residual axis marks the floor as a labelled band below it."""
    result, config = trained
    assert np.nanmin(np.abs(result.theory[-1])) < FLOOR  # something is below the floor
    renderer = SPEC.renderer(result, config, Style(size=(12, 9), dpi=40))
    renderer.frame(len(renderer) - 1)
    for line in residual_lines(renderer):
        y = np.asarray(line.get_ydata(), float)
        assert not np.any(y[np.isfinite(y)] <= FLOOR * (1 + 1e-9)), line.get_label()
    for ax in renderer.figure.axes[2:4]:
        low, _ = ax.get_ylim()
        assert low < FLOOR
        to_data = ax.transData.inverted()
        spans = [to_data.transform(p.get_extents())[:, 1] for p in ax.patches]
        assert any(np.isclose(top, FLOOR) and bottom <= low * 1.01 for bottom, top in spans)
        assert any("floor" in t.get_text() for t in ax.texts)


def test_the_spectrum_axis_fits_its_data_and_the_key_covers_none(trained):
    """The spectrum's axis ends within a decade of its largest eigenvalue (main left three
    decades for the key alone), and the key's box covers no drawn point (the figure's size)."""
    result, config = trained
    renderer = SPEC.renderer(result, config, Style(size=SPEC.style.size, dpi=40))
    renderer.frame(len(renderer) - 1)
    ax = renderer.figure.axes[0]
    top = max(result.eigenvalues.max(), result.empirical_eigenvalues.mean(axis=1).max())
    assert ax.get_ylim()[1] <= 10 * top
    renderer.figure.canvas.draw()
    box = ax.get_legend().get_window_extent()
    for line in ax.get_lines():
        xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
        xy = xy[np.all(np.isfinite(xy), axis=1) & (xy[:, 1] > ax.get_ylim()[0])]
        inside = [box.contains(*p) for p in ax.transData.transform(xy)]
        assert not any(inside), f"the key covers {line.get_label()!r}"


def test_renderer_frame_i_shows_snapshot_i(trained):
    result, config = trained
    renderer = SPEC.renderer(result, config, Style(size=(12, 9), dpi=40))
    assert len(renderer) == len(result.steps) and renderer.key_frame == len(renderer) - 1
    for n in (0, 1, 4, len(renderer) - 1):
        renderer.frame(n)
        i = renderer.order[n]
        assert f"step {int(result.steps[i])}:" in renderer.title.get_text()
        np.testing.assert_array_equal(renderer.now_theory.get_ydata(), drawn(result.theory[i]))
        for w, line in enumerate(renderer.now_nets):
            np.testing.assert_array_equal(line.get_ydata(), drawn(result.ratio[i, w]))
        for line, _, _ in renderer.time_lines:
            steps = np.asarray(line.get_xdata())
            assert steps.size == 0 or steps.max() == result.steps[i]


def test_caption_numbers_are_recomputed_from_the_result(trained):
    result, config = trained
    filled = caption(SPEC, result, config)
    text, reading = filled["caption"], filled["reading"]
    rel = result.empirical_eigenvalues[..., :8] / result.eigenvalues[:8] - 1
    err = np.sqrt((rel**2).mean(axis=(1, 2)))
    assert f"{err[0]:.2g} (width 32), {err[1]:.2g} (width 512)" in text
    slope = np.polyfit(np.log([32, 512]), np.log(err), 1)[0]
    assert f"slope {slope:.2f}" in text
    # modes' worth of squared residual gone, sum_k (1 - min(r_k^2, 1)): theory, the nets' own
    # linear models, the nets
    soft = [
        sum(1 - min(v * v, 1.0) for v in r)
        for r in (result.theory[-1], result.own_ratio[-1, 1], result.ratio[-1, 1])
    ]
    assert (
        f"{soft[0]:.3g} of the 16 modes' worth of squared residual are gone in theory, "
        f"{soft[1]:.3g} for the nets' own linear models and {soft[2]:.3g} for the width-512"
        in reading
    )
    # the lag split over the first 16 modes: own - theory, nets - own, RMS per width
    initial = np.sqrt(np.mean((result.own_ratio[-1] - result.theory[-1]) ** 2, axis=1))
    training = np.sqrt(np.mean((result.ratio[-1] - result.own_ratio[-1]) ** 2, axis=1))
    assert (
        f"(own linear model - theory) is {initial[0]:.2g} (width 32) and {initial[1]:.2g}" in text
    )
    assert (
        f"(nets - own linear model) is {training[0]:.2g} (width 32) and {training[1]:.2g}" in text
    )
    for k in config.modes:
        t, m = result.theory[-1, k - 1], result.ratio[-1, 1, k - 1]
        assert f"mode {k}: {t:.2g} (theory) and {m:.2g} (nets)" in text
    lags = [
        k
        for k in config.modes
        if abs(result.ratio[-1, 1, k - 1]) > max(2 * abs(result.theory[-1, k - 1]), 0.05)
    ]
    assert ("lag the linear model" in text) == bool(lags)
    assert f"{result.eigenvalues[0]:.3g} down to {result.eigenvalues[-1]:.2g}" in text


def test_cli_still_and_data(cli, tmp_path):
    out = tmp_path / "ks.gif"
    args = [
        "--widths",
        "8,16",
        "--count",
        2,
        "--steps",
        20,
        "--frames",
        4,
        "--points",
        8,
        "--modes",
        "1,2,4",
    ]
    result = cli(
        "kernel-spectrum",
        "-o",
        out,
        *args,
        "--eigenfunctions",
        2,
        "--data",
        tmp_path / "n.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    frames, _, _ = gif_frames(out)
    data = np.load(tmp_path / "n.npz")
    assert len(frames) == len(data["steps"]) and data["steps"][0] == 0
    assert data["ratio"].shape == (len(frames), 2, 8)
    sidecar = json.loads((tmp_path / "ks.gif.json").read_text())
    assert sidecar["config"]["modes"] == [1, 2, 4]


def test_an_odd_target_leaves_the_even_modes_out():
    config = KernelSpectrumConfig(**{**SMALL, "steps": 20, "frames": 2}, target="step")
    result = simulate(config, torch.Generator().manual_seed(0))
    finite = np.isfinite(result.ratio[0, 0])
    assert 0 < finite.sum() < 16  # the even eigenvectors have no component of sign(x)
    text = caption(SPEC, result, config)["caption"]
    assert (
        "nothing to learn" in text
        and f"of the {finite.sum()} modes' worth" in caption(SPEC, result, config)["reading"]
    )


def _perturbed_run(monkeypatch, eps: float):
    """The figure at width 256 with every net's weights (and the twin's, and the frozen copy
    that zeroes the output) moved by eps N(0, 1), the same draw for all three."""
    import ntkviz.figures.kernel_spectrum as module
    from ntkviz.figures.kernel_spectrum import KernelSpectrumConfig

    class Perturbed(module.Ensemble):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            noise = torch.Generator().manual_seed(123)
            moved = [
                p + eps * torch.randn(p.shape, generator=noise, dtype=torch.float64).to(p.dtype)
                for p in self.params
            ]
            self.params = moved
            self.params0 = [p.detach().clone() for p in moved]

    monkeypatch.setattr(module, "Ensemble", Perturbed)
    config = KernelSpectrumConfig(
        widths=(256,), count=2, points=32, steps=600, frames=5, modes=(1, 2, 4, 8)
    )
    result = module.simulate(config, torch.Generator().manual_seed(0))
    return result, config


def test_modes_learned_is_continuous_under_a_tiny_weight_perturbation(monkeypatch):
    """sum_k (1 - min(r_k^2, 1)) moves by far less than its printed precision when the weights
    move by 1e-6; the old count of |r_k| < 0.1 could jump by a whole mode."""
    from ntkviz.figures.kernel_spectrum import SPEC
    from ntkviz.numerics.function_space import learned_modes

    base, config = _perturbed_run(monkeypatch, 0.0)
    moved, _ = _perturbed_run(monkeypatch, 1e-6)
    assert np.abs(moved.ratio - base.ratio).max() > 0  # the perturbation reached the nets
    soft = [learned_modes(r.ratio[-1, 0]) for r in (base, moved)]
    assert abs(soft[1] - soft[0]) < 1e-3
    # it is what the caption states, and by hand: sum over the modes with something to learn
    r = base.ratio[-1, 0]
    by_hand = sum(1 - min(v * v, 1.0) for v in r if np.isfinite(v))
    assert soft[0] == pytest.approx(by_hand)
    assert f"{by_hand:.3g} for the nets" in caption(SPEC, base, config)["caption"]


def test_own_linear_model_is_the_linear_model_on_each_nets_initial_kernel():
    """own_ratio: (I - eta Theta_e)^t (-Y) on each net's empirical NTK at init, projected on
    the analytic eigenvectors, recomputed here by repeated multiplication."""
    import dataclasses

    from ntkviz.figures.kernel_spectrum import KernelSpectrumConfig, simulate
    from ntkviz.numerics.nets import Ensemble
    from ntkviz.numerics.ntk_empirical import empirical_ntk

    config = KernelSpectrumConfig(widths=(64,), count=2, points=16, steps=40, frames=3)
    r = simulate(config, torch.Generator().manual_seed(1))
    spec = dataclasses.replace(config.net(64), zero_output=False)
    twin = Ensemble(spec, 2, 1, dtype=torch.float64, keep_initial=False)
    kernels = empirical_ntk(twin, torch.as_tensor(r.x)).numpy()
    start = r.eigenvectors.T @ (-r.y)
    for t_index, t in enumerate(r.steps):
        ratios = []
        for k in kernels:
            u = -r.y.copy()
            for _ in range(int(t)):
                u = u - r.rate * k @ u
            ratios.append(r.eigenvectors.T @ u / start)
        np.testing.assert_allclose(r.own_ratio[t_index, 0], np.mean(ratios, axis=0), atol=1e-8)
