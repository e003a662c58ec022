"""First-order Taylor models with torch autograd: no derivative is written by hand.

``f_lin(w) = f(w0) + J_f(w0) (w - w0)`` is the post's "linearised model". For a scalar parameter
(the toy model) the slope comes from one reverse-mode ``autograd.grad``; for parameter vectors
:func:`linearize` uses a Jacobian-vector product, so no Jacobian is formed.

:func:`train_pair` trains nets and, from the same initial parameters, their linearisations by the
same gradient descent on ``L(w) = mean_i (f(x_i, w) - y_i)^2 / alpha^2``; :func:`distances`
measures how far apart the two get (lazy training, Chizat, Oyallon & Bach 2019: O(1/alpha); Lee
et al. 2019: O(1/sqrt(width))).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.numerics.dynamics import Trajectory, snapshots, train
from ntkviz.numerics.nets import Ensemble, NetSpec, check_fits
from ntkviz.numerics.ntk_empirical import MseGradient, empirical_ntk, output_scale
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import single_thread

Fn = Callable[[torch.Tensor], torch.Tensor]


def derivative(fn: Fn, w0: torch.Tensor) -> torch.Tensor:
    """d fn / d w at a scalar ``w0`` (fn maps a scalar tensor to a scalar tensor), by autograd."""
    w = w0.detach().clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(fn(w), w)
    return slope.detach()


def tangent_line(fn: Fn, w0: torch.Tensor) -> Fn:
    """``w -> fn(w0) + fn'(w0) (w - w0)`` for a scalar parameter; ``w`` may be any shape."""
    value = fn(w0.detach()).detach()
    slope = derivative(fn, w0)
    return lambda w: value + slope * (w - w0)


def linearize(fn: Fn, w0: torch.Tensor) -> Fn:
    """``w -> fn(w0) + J_fn(w0) (w - w0)`` for a parameter tensor ``w0`` (same shape as ``w``).

    Reference: Lee et al. 2019, "Wide neural networks of any depth evolve as linear models".
    """
    from torch.func import jvp

    w0 = w0.detach()

    def f_lin(w: torch.Tensor) -> torch.Tensor:
        value, tangent = jvp(fn, (w0,), (w - w0,))
        return value + tangent

    return f_lin


class LinearModel:
    """The first-order Taylor model of every member of an ensemble, around its initial parameters.

    ``f_lin_k(x, w) = f_k(x, w0) + alpha_k J_k(x, w0) (w - w0)`` with J_k = d net_k / d w at w0
    (the frozen ``ensemble.params0``). ``model(x, params)`` returns (K, N) for inputs x (N,) and
    stacked params shaped like ``ensemble.params``; ``model.loss_and_gradient`` is a drop-in
    ``gradient`` for :func:`ntkviz.numerics.dynamics.train` that trains this linear model instead of the net.
    Reference: Lee et al. 2019, "Wide neural networks of any depth evolve as linear models".
    """

    def __init__(self, ensemble: Ensemble) -> None:
        self.ensemble = ensemble
        self.params0 = [p.detach() for p in ensemble.params0]
        self._vjp: tuple[torch.Tensor, object] | None = None

    def _raw(self, x: torch.Tensor):
        return lambda params: self.ensemble.forward_raw(params, x)

    def _finish(self, x: torch.Tensor, value: torch.Tensor, tangent: torch.Tensor) -> torch.Tensor:
        """alpha (net(x, w0) - [offset] + J (w - w0)) from the jvp's value and tangent."""
        offset = self.ensemble.offset(x)
        base = value if offset is None else value - offset
        return output_scale(self.ensemble).unsqueeze(1) * (base + tangent)

    def __call__(
        self, x: torch.Tensor, params: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """f_lin(x, w) for every member: (K, N), by one Jacobian-vector product at w0."""
        params = self.ensemble.params if params is None else params
        delta = tuple(p.detach() - p0 for p, p0 in zip(params, self.params0, strict=True))
        value, tangent = torch.func.jvp(self._raw(x), (tuple(self.params0),), (delta,))
        return self._finish(x, value, tangent)

    def loss_and_gradient(
        self,
        ensemble: Ensemble,
        params: Sequence[torch.Tensor],
        x_train: torch.Tensor,
        y_train: torch.Tensor,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each member's ``L_k = mean_i (f_lin(x_i) - y_i)^2 / alpha_k^2`` (K,) and the gradient of
        sum_k L_k: ``J(X, w0)^T r`` with ``r = 2 (f_lin(X) - Y) / (N alpha)``, by a vjp taken at w0
        once (the linear model's gradient does not depend on w)."""
        if self._vjp is None or self._vjp[0] is not x_train:
            _, vjp_fn = torch.func.vjp(self._raw(x_train), tuple(self.params0))
            self._vjp = (x_train, vjp_fn)
        out = self(x_train, params)
        alpha = output_scale(ensemble).unsqueeze(1)
        error = out - y_train
        loss = (error * error).mean(dim=1) / (alpha * alpha).squeeze(1)
        residual = error * (2.0 / x_train.shape[0]) / alpha
        (grads,) = self._vjp[1](residual)
        return loss.detach(), [g.detach() for g in grads]


def train_linear(
    ensemble: Ensemble,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_grid: torch.Tensor,
    *,
    lr: float,
    steps: int,
    snapshot_every: int = 1,
    snapshot_at=None,
    functions: bool = True,
    progress=None,
    label: str = "linear",
):
    """The linear models of ``ensemble`` (:class:`LinearModel`, around ``params0``) trained by
    exactly the gradient descent that ``train(..., gradient=LinearModel(...).loss_and_gradient)``
    runs, without touching a parameter: a :class:`ntkviz.numerics.dynamics.Trajectory` with records
    "outputs" (K, N) at the training inputs and, with ``functions``, "functions" (K, G) on the grid.

    Every step moves w by ``-lr J(X)^T r`` (J: d net / d w at w0, r: the residuals), so
    ``w - w0 = J(X)^T c`` with ``c = -lr sum r``, and ``f_lin(x) = f0(x) + alpha J(x) J(X)^T c =
    f0(x) + alpha Theta(x, X) c / alpha^2``: the linear model's training is kernel gradient
    descent with the empirical tangent kernel at w0 (Lee et al. 2019), a few (K, N) operations a
    step instead of a forward and a backward pass through the net. The same values as the
    parameter-space descent up to rounding (float64: 1e-12, tested); divergence raises the same
    DivergenceError. ``snapshot_at`` (steps) replaces ``snapshot_every`` as in ``train``.
    """
    from ntkviz.numerics.dynamics import EXPLODE, _check_finite

    progress = progress or Progress()
    alpha_t = output_scale(ensemble)
    alpha = alpha_t.double().cpu().numpy()[:, None]  # (K, 1)
    model = LinearModel(ensemble)
    with torch.no_grad():
        zero = [p.detach() for p in ensemble.params0]
        f0_train = model(x_train, zero).double().cpu().numpy()  # (K, N)
        f0_grid = model(x_grid, zero).double().cpu().numpy()  # (K, G)
    scale2 = alpha[:, :, None] ** 2
    with np.errstate(all="ignore"):  # a diverging run is reported (DivergenceError), not warned
        theta = empirical_ntk(ensemble, x_train, params=zero).double().cpu().numpy() / scale2
        theta_grid = empirical_ntk(ensemble, x_grid, x_train, params=zero).double().cpu().numpy()
        theta_grid = theta_grid / scale2  # (K, G, N), J(x) J(X)^T
        y = y_train.double().cpu().numpy()[None, :]
        n = y.shape[1]
        c = np.zeros_like(f0_train)

        def f_lin(f0: np.ndarray, kernel: np.ndarray) -> np.ndarray:
            """f0 + alpha J(x) (w - w0) at the inputs of ``kernel``'s rows, for the c now."""
            return f0 + alpha * np.einsum("kgj,kj->kg", kernel, c)

        snap_steps, losses, records = [], [], []
        at = None if snapshot_at is None else {int(s) for s in snapshot_at}
        first = limit = None
        with progress.stage(label, steps) as advance:
            for step in range(steps + 1):
                out = f_lin(f0_train, theta)
                error = out - y
                loss = (error * error).mean(axis=1) / (alpha[:, 0] ** 2)
                if first is None:
                    first = loss.copy()
                    limit = EXPLODE * np.maximum(first, 1.0)
                if not (np.isfinite(first).all() and (loss <= limit).all()):
                    _check_finite(
                        torch.from_numpy(loss), torch.from_numpy(first), step, lr, alpha_t
                    )
                if step == steps or (
                    step in at if snapshot_at is not None else step % snapshot_every == 0
                ):
                    snap_steps.append(step)
                    losses.append(loss)
                    record = {"outputs": out}
                    if functions:
                        record["functions"] = f_lin(f0_grid, theta_grid)
                    records.append(record)
                if step == steps:
                    break
                c = c - lr * error * (2.0 / n) / alpha
                advance(1)
        stacked = {key: np.stack([r[key] for r in records]) for key in records[0]}
        if not functions:  # the functions after the last step only
            stacked["functions"] = f_lin(f0_grid, theta_grid)[None]
    return Trajectory(
        steps=np.asarray(snap_steps),
        loss=np.stack(losses),
        stopped=np.full(ensemble.count, steps, dtype=np.int64),
        records=stacked,
    )


@dataclass(frozen=True)
class PairRun:
    """One ensemble (K members) trained twice: as nets and as their linearisations.

    outputs_* (T, K, N), functions_* (T, K, G), loss_* (T, K), f0_train (K, N), f0_grid (K, G):
    the functions at initialisation; kernel (K, N, N): Theta(X, X) / alpha^2 and kernel_grid
    (K, G, N): Theta(x, X) / alpha^2 at initialisation; steps (T,).
    """

    steps: np.ndarray
    outputs_real: np.ndarray
    outputs_linear: np.ndarray
    functions_real: np.ndarray
    functions_linear: np.ndarray
    loss_real: np.ndarray
    loss_linear: np.ndarray
    kernel: np.ndarray
    kernel_grid: np.ndarray


def train_pair(
    spec: NetSpec,
    members: Sequence[int],
    alphas: Sequence[float],
    seed: int,
    *,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_grid: torch.Tensor,
    lr: float,
    steps: int,
    interval: int | np.ndarray,
    progress: Progress,
    device: str = "cpu",
    kernels: bool = True,
    functions: bool = True,
) -> PairRun:
    """Train the nets (member k from (seed, members[k]), output scale alphas[k]) and, from the same
    initial parameters, their linearisations, by the same gradient descent; snapshot every
    ``interval`` steps (or at the steps ``interval`` lists). With ``functions=False`` the
    functions on the grid are taken once, after the last step (functions_* then (1, K, G)).
    All in float64."""
    dtype = torch.float64
    count = len(members)
    check_fits(spec, count, x_grid.shape[0] + x_train.shape[0], device, dtype)
    real = Ensemble(spec, count, seed, device=device, dtype=dtype, members=members, alphas=alphas)
    alpha2 = (real.alphas**2).view(-1, 1, 1)
    kernel = kernel_grid = np.zeros(0)
    if kernels:
        kernel = (empirical_ntk(real, x_train) / alpha2).cpu().numpy()
        kernel_grid = (empirical_ntk(real, x_grid, x_train) / alpha2).cpu().numpy()

    def record_real(ens: Ensemble, step: int) -> dict[str, np.ndarray]:
        out = {"outputs": ens(x_train).cpu().numpy()}
        if functions:
            out["functions"] = ens(x_grid).cpu().numpy()
        return out

    with single_thread(device):
        # The linearisations first, from the nets' initial parameters (kernel gradient descent
        # with their tangent kernels at w0: the same values as descending their parameters).
        lins: Trajectory = train_linear(
            real,
            x_train,
            y_train,
            x_grid,
            lr=lr,
            steps=steps,
            **snapshots(interval),
            functions=functions,
            progress=progress,
            label="linear",
        )
        nets: Trajectory = train(
            real,
            x_train,
            y_train,
            lr=lr,
            steps=steps,
            **snapshots(interval),
            record=record_real,
            progress=progress,
            gradient=MseGradient(),
        )
        if functions:
            f_real = nets.records["functions"]
        else:
            with torch.no_grad():
                f_real = real(x_grid).cpu().numpy()[None]
    f_linear = lins.records["functions"]
    return PairRun(
        steps=nets.steps,
        outputs_real=nets.records["outputs"],
        outputs_linear=lins.records["outputs"],
        functions_real=f_real,
        functions_linear=f_linear,
        loss_real=nets.loss,
        loss_linear=lins.loss,
        kernel=kernel,
        kernel_grid=kernel_grid,
    )


def distances(run: PairRun) -> tuple[np.ndarray, np.ndarray]:
    """(max over the snapshots of ||y_real(t) - y_lin(t)||_2 at the training inputs, RMS over the
    grid of f_real - f_lin after the last step), each (K,)."""
    gap = np.linalg.norm(run.outputs_real - run.outputs_linear, axis=-1).max(axis=0)
    end = run.functions_real[-1] - run.functions_linear[-1]
    return gap, np.sqrt(np.mean(end * end, axis=-1))


def alpha_sweep(
    spec: NetSpec, alphas: Sequence[float], trials: int, seed: int, *, lr: float, **options
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`distances` (V, R) of ``trials`` nets at each of the V output scales ``alphas``,
    trained as one ensemble (trial r at every scale is the same draw, member r of ``seed``);
    ``options`` go to :func:`train_pair`."""
    members = [r for _ in alphas for r in range(trials)]
    scales = [float(a) for a in alphas for _ in range(trials)]
    run = train_pair(spec, members, scales, seed, lr=lr, **options)
    gap, rms = (d.reshape(len(alphas), trials) for d in distances(run))
    return gap, rms


def width_sweep(
    specs: Sequence[NetSpec],
    lrs: Sequence[float],
    alpha: float,
    trials: int,
    seed: int,
    **options,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`distances` (V, R) of ``trials`` nets of each of the V architectures ``specs`` (one
    per width), each ensemble trained at its learning rate in ``lrs``, output scale ``alpha``;
    ``options`` go to :func:`train_pair`."""
    parts = [
        distances(
            train_pair(spec, list(range(trials)), [alpha] * trials, seed, lr=float(lr), **options)
        )
        for spec, lr in zip(specs, lrs, strict=True)
    ]
    gap, rms = (np.stack(d) for d in zip(*parts, strict=True))
    return gap, rms
