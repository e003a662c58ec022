"""linearized: the linear model against a formed Jacobian, its training against the closed forms,
the real-minus-linearised distance against the theory's slopes, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from conftest import TINY, gif_frames

from ntkviz.figures.base import caption
from ntkviz.figures.linearized import SPEC, LinearizedConfig, simulate
from ntkviz.numerics.dynamics import mse_loss
from ntkviz.numerics.function_space import flow_functions, flow_outputs
from ntkviz.numerics.linearize import LinearModel
from ntkviz.numerics.nets import Ensemble, NetSpec

SMALL = dict(width=12, steps=60, frames=6, lr=1e-2, points=25, sweep="none")


def _jacobian(ensemble: Ensemble, x: torch.Tensor) -> torch.Tensor:
    """The oracle: each member's (N, P) Jacobian of the raw net at w0, formed by jacrev."""
    rows = []
    for k in range(ensemble.count):
        member = [p[k : k + 1] for p in ensemble.params0]
        jac = torch.func.jacrev(lambda ps: ensemble.forward_raw(ps, x)[0])(member)
        rows.append(torch.cat([j.reshape(x.shape[0], -1) for j in jac], dim=1))
    return torch.stack(rows)  # (K, N, P)


@pytest.mark.parametrize("parameterization,zero", [("standard", True), ("ntk", False)])
def test_linear_model_is_the_first_order_taylor_model(parameterization, zero):
    spec = NetSpec(width=9, depth=2, zero_output=zero, parameterization=parameterization)
    alphas = [1.0, 3.0]
    ensemble = Ensemble(spec, 2, seed=4, dtype=torch.float64, alphas=alphas)
    model = LinearModel(ensemble)
    x = torch.tensor([-2.0, 0.5, 1.5], dtype=torch.float64)
    y = torch.tensor([3.0, -1.0, 0.2], dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    params = [
        p + 0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in ensemble.params0
    ]
    jac = _jacobian(ensemble, x)
    delta = ensemble.flat(params) - ensemble.flat(ensemble.params0)
    scale = torch.tensor(alphas, dtype=torch.float64)[:, None]
    f0 = ensemble(x, ensemble.params0)
    expected = f0 + scale * torch.einsum("knp,kp->kn", jac, delta)
    torch.testing.assert_close(model(x, params), expected, rtol=1e-12, atol=1e-12)
    # The gradient of MSE / alpha^2 of the linear model: (2 / (N alpha^2)) (alpha J)^T (f_lin - y).
    loss, grads = model.loss_and_gradient(ensemble, params, x, y)
    residual = expected - y
    torch.testing.assert_close(loss, (residual**2).mean(dim=1) / scale[:, 0] ** 2)
    want = torch.einsum("knp,kn->kp", jac, 2.0 * residual / (x.shape[0] * scale))
    torch.testing.assert_close(ensemble.flat(grads), want, rtol=1e-10, atol=1e-12)
    # ... and for the net itself at w0 the two models agree to first order: same loss, same gradient.
    p0 = [p.clone().requires_grad_(True) for p in ensemble.params0]
    real = torch.autograd.grad(mse_loss(ensemble, x, y, p0).sum(), p0)
    _, lin = model.loss_and_gradient(ensemble, ensemble.params0, x, y)
    torch.testing.assert_close(ensemble.flat(lin), ensemble.flat(real), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("parameterization,zero", [("standard", True), ("ntk", False)])
def test_kernel_space_training_is_the_parameter_descent(parameterization, zero):
    """train_linear (the figure's path: kernel gradient descent with the tangent kernel at w0)
    against descending the linear model's parameters with train() and LinearModel's jvp/vjp:
    the same outputs, functions and losses at every snapshot, per-member alphas included."""
    from ntkviz.numerics.dynamics import train
    from ntkviz.numerics.linearize import train_linear

    spec = NetSpec(width=30, depth=2, parameterization=parameterization, zero_output=zero)
    x = torch.tensor([-2.0, 0.5, 1.3], dtype=torch.float64)
    y = torch.tensor([3.0, -1.0, 0.4], dtype=torch.float64)
    grid = torch.linspace(-3, 3, 17, dtype=torch.float64)
    alphas = [1.0, 5.0, 0.5]
    ensemble = Ensemble(spec, 3, 4, dtype=torch.float64, alphas=alphas)
    model = LinearModel(ensemble)
    descended = train(
        ensemble,
        x,
        y,
        lr=2e-3,
        steps=200,
        snapshot_every=20,
        gradient=model.loss_and_gradient,
        record=lambda ens, step: {
            "outputs": model(x, ens.params).numpy(),
            "functions": model(grid, ens.params).numpy(),
        },
    )
    fresh = Ensemble(spec, 3, 4, dtype=torch.float64, alphas=alphas)
    kernel = train_linear(fresh, x, y, grid, lr=2e-3, steps=200, snapshot_every=20)
    np.testing.assert_array_equal(kernel.steps, descended.steps)
    for key in ("outputs", "functions"):
        a, b = kernel.records[key], descended.records[key]
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max(), key
    np.testing.assert_allclose(kernel.loss, descended.loss, rtol=1e-12)
    assert (kernel.loss[-1] < kernel.loss[0]).all()  # it trained
    end = train_linear(fresh, x, y, grid, lr=2e-3, steps=200, snapshot_every=20, functions=False)
    np.testing.assert_allclose(end.records["functions"][0], kernel.records["functions"][-1])


def test_kernel_space_training_diverges_with_the_same_message():
    from ntkviz.errors import DivergenceError
    from ntkviz.numerics.linearize import train_linear

    spec = NetSpec(width=20, depth=1)
    ensemble = Ensemble(spec, 2, 0, dtype=torch.float64)
    x = torch.tensor([-2.0, 0.5], dtype=torch.float64)
    y = torch.tensor([3.0, -1.0], dtype=torch.float64)
    with pytest.raises(DivergenceError, match="training diverged at step .* with --lr 50"):
        train_linear(ensemble, x, y, x, lr=50.0, steps=500)


def test_discrete_training_is_exactly_the_discrete_closed_form():
    config = LinearizedConfig(**SMALL)
    result = simulate(config, torch.Generator().manual_seed(2))
    T, G = 7, 25
    assert result.outputs_linear.shape == (T, 2) and result.functions_linear.shape == (T, G)
    assert result.flow_path.shape == (400, 2) and result.kernel.shape == (2, 2)
    np.testing.assert_array_equal(result.steps, [0, 1, 2, 5, 11, 26, 60])  # the log clock
    linear = dataclasses.replace(config, clock="linear")
    np.testing.assert_array_equal(linear.snapshot_steps(), np.arange(0, 61, 10))
    np.testing.assert_array_equal(result.outputs_real[0], 0.0)  # zeroed: both start at the origin
    assert result.rate == pytest.approx(2 * config.lr / 2)
    # Linear GD: u_t = (I - eta H)^t u_0 with eta = 2 lr / N, to float64 rounding.
    np.testing.assert_allclose(result.outputs_linear, result.outputs_discrete, rtol=0, atol=1e-13)
    # f_lin on the grid passes through f_lin at the training inputs (the same linear model).
    grid = simulate(
        LinearizedConfig(**{**SMALL, "x_limits": (-2.0, 0.5), "points": 2}),
        torch.Generator().manual_seed(2),
    )
    np.testing.assert_allclose(grid.functions_linear, grid.outputs_linear, atol=1e-13)
    np.testing.assert_allclose(grid.functions_flow, grid.outputs_flow, atol=1e-12)
    assert (result.loss_real[-1] < result.loss_real[0]) and (
        result.loss_linear[-1] < result.loss_linear[0]
    )


def test_function_space_closed_form_discrete_and_limits():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(7, 3))
    kernel_all = features @ features.T  # a genuine kernel on 5 training + 2 test points
    k_train, k_test = kernel_all[:5, :5], kernel_all[5:, :5]
    y = rng.normal(size=5)
    f0_train, f0_test = rng.normal(size=5), rng.normal(size=2)
    rate = 0.05
    steps = np.arange(0, 40)
    # The discrete form against an explicit gradient-descent loop of the linear model in feature space.
    w = np.zeros(3)
    want = []
    for _ in steps:
        want.append(f0_test + features[5:] @ w)
        residual = f0_train + features[:5] @ w - y
        w = w - rate * features[:5].T @ residual
    got = flow_functions(k_test, k_train, f0_test, f0_train, y, rate, steps, discrete=True)
    np.testing.assert_allclose(got, np.array(want), atol=1e-12)
    # Rank 3 < 5: singular kernel, yet the form stays finite (the 1/lam factor's limit is rate t).
    assert np.isfinite(got).all()
    outputs = flow_outputs(k_train, f0_train, y, rate, steps, discrete=True)
    np.testing.assert_allclose(
        outputs,
        flow_functions(k_train, k_train, f0_train, f0_train, y, rate, steps, discrete=True),
        atol=1e-12,
    )


def test_gradient_flow_is_within_order_lr_of_the_steps():
    kernel = np.array([[26.6, 5.3], [5.3, 8.9]])  # the post's width-100 kernel, about
    y = np.array([3.0, -1.0])
    lam_max = np.linalg.eigvalsh(kernel).max()
    gaps = []
    for lr in (1e-3, 2.5e-4):
        times = np.arange(0, int(round(2.0 / lr)) + 1)  # the same flow time for each lr
        flow = flow_outputs(kernel, np.zeros(2), y, lr, times)
        steps = flow_outputs(kernel, np.zeros(2), y, lr, times, discrete=True)
        gap = np.abs(flow - steps).max()
        a = lr * lam_max
        # |exp(-a t) - (1 - a)^t| <= a / (2 e (1 - a)) for every t: O(lr).
        assert gap <= a / (2 * math.e * (1 - a)) * np.linalg.norm(y) + 1e-15
        gaps.append(gap)
    assert gaps[0] / gaps[1] == pytest.approx(4.0, rel=0.05)


def test_distance_falls_like_one_over_alpha():
    # Lazy training (Chizat, Oyallon & Bach 2019): ||f - f_lin|| = O(1/alpha). A smooth activation
    # shows it cleanly on the functions; ReLU's kinks move with the weights, which blurs it.
    # At the two training inputs the largest gap over training falls about as fast or faster
    # (measured slopes -0.8 here, -1.9 for width 50: the 1/alpha term's coefficient can be small
    # and leave the 1/alpha^2 term), so only a range is tested there.
    config = LinearizedConfig(
        activation="tanh",
        width=30,
        steps=300,
        frames=10,
        lr=3e-3,
        alphas=(4.0, 16.0, 64.0, 256.0),
        trials=1,
        points=20,
        layout="functions",
    )
    result = simulate(config, torch.Generator().manual_seed(0))
    assert result.trajectory_distance.shape == (4, 1) and result.function_distance.shape == (4, 1)
    assert (np.diff(result.trajectory_distance[:, 0]) < 0).all()
    assert (np.diff(result.function_distance[:, 0]) < 0).all()
    assert result.theory_slope == -1.0
    assert result.function_slope == pytest.approx(-1.0, abs=0.15)
    assert -2.2 < result.trajectory_slope < -0.7


def test_distance_falls_like_one_over_sqrt_width():
    # Lee et al. 2019 (NTK parameterisation): sup_t |f_t - f_lin_t| = O(1/sqrt(width)).
    config = LinearizedConfig(
        sweep="width",
        parameterization="ntk",
        widths=(16, 64, 256),
        trials=4,
        steps=200,
        frames=10,
        lr=0.05,
        points=20,
        layout="functions",
    )
    result = simulate(config, torch.Generator().manual_seed(0))
    median = np.median(result.trajectory_distance, axis=1)
    assert (np.diff(median) < 0).all()
    assert result.theory_slope == -0.5
    assert result.trajectory_slope == pytest.approx(-0.5, abs=0.2)
    assert result.function_slope == pytest.approx(-0.5, abs=0.2)
    np.testing.assert_allclose(result.sweep_lr, 0.05)  # ntk: one lr for every width


def test_standard_width_sweep_scales_the_learning_rate():
    config = LinearizedConfig(sweep="width", widths=(50, 200))
    assert config.sweep_lr(50) == pytest.approx(2 * config.lr)
    assert config.sweep_lr(200) == pytest.approx(config.lr / 2)


@pytest.mark.parametrize(
    "layout,args",
    [
        ("both", ["--alphas", "1,10", "--trials", "1"]),
        ("functions", ["--sweep", "none", "--x-train", "-1,0,1", "--y-train", "1,0,1"]),
    ],
)
def test_cli(cli, tmp_path, layout, args):
    out = tmp_path / "lin.gif"
    result = cli(
        "linearized",
        "-o",
        out,
        "--width",
        8,
        "--steps",
        20,
        "--frames",
        4,
        "--points",
        20,
        "--layout",
        layout,
        *args,
        "--still",
        tmp_path / "still.png",
        "--data",
        tmp_path / "numbers.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    frames, _, _ = gif_frames(out)
    # 4 frames after step 0, in log time: steps 0, 1, 3, 8, 20 (the first frame is step 0)
    assert len(frames) == 5 and frames[0].shape == (80, 120, 3)
    assert not np.array_equal(frames[0], frames[-1])
    data = np.load(tmp_path / "numbers.npz")
    n = 2 if layout == "both" else 3
    assert data["outputs_real"].shape == (5, n) and data["functions_flow"].shape == (5, 20)
    assert data["trajectory_distance"].shape == ((2, 1) if layout == "both" else (0, 3))
    assert json.loads((tmp_path / "lin.gif.json").read_text())["config"]["layout"] == layout
    assert (tmp_path / "still.png").stat().st_size > 0


@pytest.fixture(scope="module")
def swept():
    config = LinearizedConfig(
        width=16, steps=60, frames=6, lr=1e-2, points=25, alphas=(1.0, 3.0, 10.0), trials=2
    )
    return simulate(config, torch.Generator().manual_seed(0)), config


def test_renderer_frame_i_shows_snapshot_i_from_step_0(swept):
    from ntkviz.drawing.style import Style

    result, config = swept
    renderer = SPEC.renderer(result, config, Style(size=(12, 5), dpi=40))
    assert len(renderer) == len(result.steps) == config.frames + 1
    for n in (0, 1, 3, len(renderer) - 1):
        renderer.frame(n)
        i = renderer.order[n]
        assert f"step {int(result.steps[i])}" in renderer.title.get_text()
        if n == 0:
            assert result.steps[i] == 0
        np.testing.assert_array_equal(
            renderer.real_dots.get_xdata(), result.outputs_real[: i + 1, 0]
        )
        np.testing.assert_array_equal(
            renderer.linear_dots.get_ydata(), result.outputs_linear[: i + 1, 1]
        )
        np.testing.assert_array_equal(renderer.flow_dot.get_xdata(), [result.outputs_flow[i, 0]])
        for curve, data in zip(
            renderer.curves,
            (result.functions_real, result.functions_linear, result.functions_flow),
            strict=True,
        ):
            np.testing.assert_array_equal(curve.get_ydata(), data[i])
    # the plotted flow is its definition: y_bar + exp(-rate H t) (y0 - y_bar), by hand
    evals, evecs = np.linalg.eigh(result.kernel)
    t = result.steps[3]
    decay = evecs @ np.diag(np.exp(-result.rate * evals * t)) @ evecs.T
    expected = result.y_train + decay @ (result.outputs_real[0] - result.y_train)
    np.testing.assert_allclose(result.outputs_flow[3], expected, rtol=1e-9, atol=1e-12)


def test_caption_numbers_are_recomputed_from_the_result(swept):
    result, config = swept
    filled = caption(SPEC, result, config)
    text, reading = filled["caption"], filled["reading"]
    logs = np.log10(result.sweep_values)
    slope_t = np.polyfit(logs, np.log10(np.median(result.trajectory_distance, axis=1)), 1)[0]
    slope_f = np.polyfit(logs, np.log10(np.median(result.function_distance, axis=1)), 1)[0]
    assert f"log-log slope {slope_t:.2f} (theory -1)" in text
    assert f"functions over x after training falls with slope {slope_f:.2f}" in text
    assert f"slope {slope_t:.2f} against alpha" in reading
    gap = np.sqrt(((result.outputs_real - result.outputs_linear) ** 2).sum(axis=1)).max()
    assert f"there is {gap:.2g}." in text and f"at most {gap:.2g} apart" in reading
    assert f"falls from {result.loss_real[0]:.3g} to {result.loss_real[-1]:.2g}" in text
    assert f"from {result.sweep_values.min():g} to {result.sweep_values.max():g}" in text


def test_caption_without_a_sweep_says_nothing_about_one():
    config = LinearizedConfig(**SMALL)
    result = simulate(config, torch.Generator().manual_seed(0))
    filled = caption(SPEC, result, config)
    assert "slope" not in filled["caption"] and "slope" not in filled["reading"]


def _legend_entries(legend) -> dict[str, list[tuple]]:
    """label -> (marker, line style, colour) of every symbol its legend entry draws."""
    from matplotlib.colors import to_hex
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import HPacker, TextArea

    entries = {}
    for box in legend.findobj(HPacker):
        texts = [c for c in box.get_children() if isinstance(c, TextArea)]
        if len(texts) == 1:
            entries[texts[0].get_text()] = [
                (line.get_marker(), line.get_linestyle(), to_hex(line.get_color()))
                for line in box.findobj(Line2D)
            ]
    return entries


def test_the_legend_shows_every_mark_and_each_line_style_means_one_thing(swept):
    """Issue 21: the legend lacked the "now" markers and the gradient flow's X, and dashed meant
    the flow's path in the plane but the linearised model among the functions. Every mark drawn
    in the plane and the functions panel (marker, line style, colour) is now in the legend, and
    the linearised model's line style is used by nothing else in the figure."""
    from matplotlib.colors import to_hex

    from ntkviz.drawing.style import Style

    result, config = swept
    renderer = SPEC.renderer(result, config, Style(size=(18, 7.5), dpi=40))
    renderer.frame(len(renderer) - 1)
    plane, functions, sweep = renderer.figure.axes[:3]
    shown = {
        mark for marks in _legend_entries(renderer.figure.legends[0]).values() for mark in marks
    }
    for ax in (plane, functions):
        for line in ax.get_lines():
            mark = (line.get_marker(), line.get_linestyle(), to_hex(line.get_color()))
            assert mark in shown, (ax.get_title(), mark)
    assert any("now" in label for label in _legend_entries(renderer.figure.legends[0]))
    linear = renderer.curves[1]
    others = [
        line
        for ax in (plane, functions, sweep)
        for line in ax.get_lines()
        if line is not linear and line.get_linestyle() not in ("None", "-")
    ]
    assert others and all(line.get_linestyle() != linear.get_linestyle() for line in others)
