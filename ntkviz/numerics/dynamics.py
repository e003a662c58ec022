"""Full-batch gradient descent for a whole ensemble at once, with snapshots.

Each member k minimises its own loss ``L_k(w) = mean_i (f_k(x_i, w) - y_i)^2 / alpha^2`` (the
post's 1/2 ||y(w) - y_bar||^2 for its two data points, divided by alpha^2 so that the loss does
not change with the output scale). Members do not interact, so one backward pass of sum_k L_k
gives every member its own gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.errors import DivergenceError
from ntkviz.numerics.nets import Ensemble, NetSpec, cache_groups
from ntkviz.runtime.progress import Progress
from ntkviz.runtime.threads import single_thread

Recorder = Callable[[Ensemble, int], dict[str, np.ndarray]]
#: (ensemble, params, x_train, y_train) -> (per-member loss (K,), gradient of its sum per param,
#: each a tensor shaped like the param or an :class:`Outer`), e.g.
#: :class:`ntkviz.numerics.ntk_empirical.MseGradient` (no autograd); default: autograd of mse_loss.
Gradient = Callable[[Ensemble, list, torch.Tensor, torch.Tensor], tuple[torch.Tensor, list]]
#: A loss this many times above its starting value (and above 1) counts as diverging.
EXPLODE = 1e6


@dataclass(frozen=True)
class Outer:
    """A batched gradient in factored form, ``mult * left @ right``: left (K, out, N), right
    (K, N, in), for a (K, out, in) weight. A dense layer's weight gradient over N inputs is such
    a rank-N product; :func:`descend` applies it in one fused pass over the weight."""

    left: torch.Tensor
    right: torch.Tensor
    mult: float = 1.0

    def dense(self) -> torch.Tensor:
        product = torch.bmm(self.left, self.right)
        return product.mul_(self.mult) if self.mult != 1.0 else product


def descend(
    param: torch.Tensor,
    grad: torch.Tensor | Outer,
    lr: float,
    mask: torch.Tensor | None = None,
) -> None:
    """``param -= lr * grad`` in place, for the members where ``mask`` (K,) is 1 (all if None)."""
    if isinstance(grad, Outer):
        left = grad.left if mask is None else grad.left * mask.view(-1, 1, 1)
        if param.shape[-1] == 1 and param.shape[-2] > 1:
            # A weight fed by one input (the first layer's): as a row, W^T -= R^T L^T, which
            # BLAS does faster than the column (a matrix-vector product per member).
            param.transpose(1, 2).baddbmm_(
                grad.right.transpose(1, 2), left.transpose(1, 2), alpha=-lr * grad.mult
            )
        else:
            param.baddbmm_(left, grad.right, alpha=-lr * grad.mult)
    elif mask is None:
        param.sub_(grad, alpha=lr)
    else:
        param.sub_(mask.view(-1, *([1] * (param.dim() - 1))) * grad, alpha=lr)


@dataclass(frozen=True)
class Trajectory:
    """steps (T,): the step of each snapshot; loss (T, K); stopped (K,): the step at which each
    member's loss fell below the threshold (or the last step); records: each recorder key
    stacked over snapshots, (T, ...)."""

    steps: np.ndarray
    loss: np.ndarray
    stopped: np.ndarray
    records: dict[str, np.ndarray]

    @staticmethod
    def join(parts: list[Trajectory], axis: int = 1) -> Trajectory:
        """The trajectories of consecutive groups of members as one: loss, stopped and each
        record joined along the member axis (``axis`` of the records: 1 for (T, K, ...))."""
        if len(parts) == 1:
            return parts[0]
        return Trajectory(
            steps=parts[0].steps,
            loss=np.concatenate([t.loss for t in parts], axis=1),
            stopped=np.concatenate([t.stopped for t in parts]),
            records={
                key: np.concatenate([t.records[key] for t in parts], axis=axis)
                for key in parts[0].records
            },
        )

    def per_run(self, steps: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Member k's loss and records at the steps ``steps[:, k]`` ((T', K), each a snapshot
        taken): members on their own clocks (:func:`run_clock_steps`)."""
        index, runs = np.searchsorted(self.steps, steps), np.arange(steps.shape[1])[None, :]
        return self.loss[index, runs], {k: v[index, runs] for k, v in self.records.items()}


def mse_loss(
    ensemble: Ensemble, x_train: torch.Tensor, y_train: torch.Tensor, params=None
) -> torch.Tensor:
    """Per-member loss (K,): mean squared error over the data, divided by alpha^2."""
    out = ensemble(x_train, params)
    return ((out - y_train) ** 2).mean(dim=1) / ensemble.alpha() ** 2


def train(
    ensemble: Ensemble,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    lr: float,
    steps: int,
    snapshot_every: int = 1,
    snapshot_at: Sequence[int] | None = None,
    stop_below: float | None = None,
    record: Recorder | None = None,
    progress: Progress | None = None,
    gradient: Gradient | None = None,
    label: str = "train",
) -> Trajectory:
    """Gradient descent ``w <- w - lr * grad L_k(w)`` on every member for ``steps`` steps.

    Snapshots (step 0, every ``snapshot_every`` steps, and the last) call ``record`` with the
    ensemble at that step. A member whose loss falls below ``stop_below`` stops moving (its later
    snapshots repeat its last state). ``snapshot_at`` (steps, e.g. spaced in log time) replaces
    ``snapshot_every``: snapshots at exactly those steps (and the last). A non-finite or exploding loss raises DivergenceError.
    ``gradient`` replaces autograd with a hand-written loss-and-gradient (same maths, faster).
    """
    progress = progress or Progress()
    params = [p.detach().clone().requires_grad_(gradient is None) for p in ensemble.params]
    ensemble.params = params
    active = torch.ones(ensemble.count, dtype=torch.bool, device=ensemble.device)
    stopped = np.full(ensemble.count, steps, dtype=np.int64)
    snap_steps, losses, records = [], [], []
    first_loss = None
    at = None if snapshot_at is None else {int(s) for s in snapshot_at}
    snapshot_every = _Every(snapshot_every) if at is None else at
    with progress.stage(label, steps) as advance:
        for step in range(steps + 1):
            if gradient is None:
                loss = mse_loss(ensemble, x_train, y_train, params)
            else:
                loss, grads = gradient(ensemble, params, x_train, y_train)
            loss_now = loss.detach()
            if first_loss is None:
                first_loss = loss_now.clone()
                limit = EXPLODE * torch.clamp(first_loss, min=1.0)
                if not bool(torch.isfinite(first_loss).all()):  # inf <= inf: not caught below
                    _check_finite(loss_now, first_loss, step, lr, ensemble.alpha())
            if not bool((loss_now <= limit).all()):  # NaN compares False: caught here too
                _check_finite(loss_now, first_loss, step, lr, ensemble.alpha())
            if step in snapshot_every or step == steps:
                snap_steps.append(step)
                losses.append(loss_now.cpu().numpy())
                if record is not None:
                    with torch.no_grad():
                        records.append(record(ensemble, step))
            if step == steps:
                break
            if stop_below is not None:
                newly = active & (loss_now < stop_below)
                if newly.any():
                    stopped[newly.cpu().numpy()] = step
                    active &= ~newly
                if not active.any():
                    final_loss, final_record = losses[-1], records[-1] if records else None
                    if snap_steps[-1] != step:  # the state now, not the last snapshot, is final
                        final_loss = loss_now.cpu().numpy()
                        if record is not None:
                            with torch.no_grad():
                                final_record = record(ensemble, step)
                    _fill_remaining(
                        snap_steps,
                        losses,
                        records,
                        step,
                        steps,
                        snapshot_every,
                        final_loss,
                        final_record,
                    )
                    advance(steps - step)
                    break
            if gradient is None:
                grads = torch.autograd.grad(loss.sum(), params)
            with torch.no_grad():
                mask = None if stop_below is None else active.to(params[0].dtype)
                for p, g in zip(params, grads, strict=True):
                    descend(p, g, lr, mask)
            advance(1)
    ensemble.params = [p.detach() for p in params]
    stacked = {key: np.stack([r[key] for r in records]) for key in records[0]} if records else {}
    return Trajectory(
        steps=np.asarray(snap_steps), loss=np.stack(losses), stopped=stopped, records=stacked
    )


def _fill_remaining(
    snap_steps, losses, records, step, steps, every, final_loss, final_record
) -> None:
    """Every member stopped at ``step``: later snapshots repeat that final state (the animation
    keeps its length)."""
    for later in range(step + 1, steps + 1):
        if later in every or later == steps:
            snap_steps.append(later)
            losses.append(final_loss)
            if final_record is not None:
                records.append(final_record)


class _Every:
    """The steps ``0, every, 2 every, ...`` as a container (``step in _Every(every)``)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def __contains__(self, step: int) -> bool:
        return step % self.every == 0


def _check_finite(loss: torch.Tensor, first: torch.Tensor, step: int, lr: float, alpha=1.0) -> None:
    bad = ~torch.isfinite(loss) | (loss > EXPLODE * torch.clamp(first, min=1.0))
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0])
        a = float(alpha[k]) if isinstance(alpha, torch.Tensor) and alpha.dim() else float(alpha)
        if step == 0 or not bool(torch.isfinite(first[k])):  # not the learning rate's doing
            cause = (
                "the training inputs or targets are too large (--x-train, --y-train)"
                if 1e-3 <= abs(a) <= 1e3
                else f"use an --alpha (or --alphas) closer to 1 than {a:g}"
            )
            raise DivergenceError(
                f"the loss is not finite before training (net {k}: loss {float(loss[k]):.3g}): "
                + cause
            )
        where = f"training diverged at step {step} (net {k}: loss {float(loss[k]):.3g})"
        if not 1e-3 <= abs(a) <= 1e3:  # at such scales a smaller step does not help
            raise DivergenceError(
                f"{where} at output scale alpha {a:g}: use an --alpha (or --alphas) closer to 1"
                f" (or a smaller --lr than {lr:g})"
            )
        raise DivergenceError(
            f"{where} with --lr {lr:g}; try a smaller learning rate, e.g. --lr {lr / 10:g}"
        )


def relative_change(ensemble: Ensemble) -> torch.Tensor:
    """||w - w0||_2 / ||w0||_2 over all parameters stacked, per member: (K,)."""
    now, start = ensemble.flat(), ensemble.flat(ensemble.params0)
    return torch.linalg.vector_norm(now - start, dim=1) / torch.linalg.vector_norm(start, dim=1)


# -- the time axis: which steps an animation shows --------------------------------------------------


def log_steps(steps: int, frames: int) -> np.ndarray:
    """Step 0 and ``frames`` distinct steps up to ``steps`` (the last), spaced evenly in log
    time where they can be: consecutive steps 1, 2, 3, ... while log spacing would repeat a
    step, then a constant ratio to the end. (frames + 1,) int64; needs frames <= steps."""
    if not 1 <= frames <= steps:
        raise ValueError(f"frames ({frames}) must be between 1 and steps ({steps})")
    out = [0]
    for left in range(frames, 0, -1):
        prev = out[-1]
        if prev == 0:
            nxt = 1 if left > 1 else steps
        else:
            nxt = max(prev + 1, int(round(prev * (steps / prev) ** (1.0 / left))))
        out.append(min(nxt, steps - left + 1))
    return np.asarray(out, dtype=np.int64)


def clock_steps(clock: str, steps: int, frames: int) -> np.ndarray:
    """The snapshot steps (frames + 1,) of an animation of ``frames`` frames after step 0 over
    ``steps`` steps: spaced in log time, or every steps / frames steps (``linear``)."""
    if clock == "log":
        return log_steps(steps, frames)
    return np.arange(0, steps + 1, steps // frames, dtype=np.int64)


def own_clock_steps(loss: np.ndarray, converged: float, frames: int) -> np.ndarray:
    """Each run on its own clock: (frames + 1, K) int64, run k's steps 0 ... tau_k evenly
    spaced, tau_k the first step at which its loss (S + 1, K), taken at every step 0 ... S, is at
    most ``converged`` times its start (the last step S if it never is)."""
    done = loss <= converged * loss[:1]
    tau = np.where(done.any(axis=0), done.argmax(axis=0), loss.shape[0] - 1)
    tau = np.maximum(tau, 1)
    fraction = np.arange(frames + 1) / frames
    return np.rint(fraction[:, None] * tau[None, :]).astype(np.int64)


def snapshots(every_or_at: int | np.ndarray) -> dict:
    """:func:`train`'s snapshot option: every ``every_or_at`` steps (an int), or at the steps it
    lists (an array, from :func:`clock_steps` say)."""
    if np.ndim(every_or_at):
        return {"snapshot_at": every_or_at}
    return {"snapshot_every": int(every_or_at)}


def run_clock_steps(
    clock: str, steps: int, frames: int, every: int, loss: np.ndarray, converged: float
) -> np.ndarray:
    """The step of each of K runs in each frame, (frames + 1, K) int64: one column for every run
    (``log``: :func:`log_steps`; ``linear``: every ``every`` steps), or with ``own`` each run on
    its own clock (:func:`own_clock_steps`, from ``loss`` (S + 1, K) at every step, which the
    other clocks read only for K)."""
    if clock == "own":
        return own_clock_steps(loss, converged, frames)
    if clock == "linear":
        shared = np.arange(0, steps + 1, every, dtype=np.int64)
    else:
        shared = log_steps(steps, frames)
    return np.repeat(shared[:, None], loss.shape[1], axis=1)


def train_grouped(
    spec: NetSpec,
    count: int,
    seed: int,
    device: str,
    dtype: torch.dtype,
    run: Callable[[Ensemble, str], Trajectory],
) -> Trajectory:
    """Members 0 .. count - 1 of ``seed`` trained in the groups of :func:`cache_groups`, one
    after another, and joined: the same nets and values as all at once, faster from the cache.
    ``run(nets, part)`` trains one group (``part``: ", nets a-b" when there are several, for its
    progress label)."""
    parts = []
    groups = cache_groups(spec, count, device, dtype)
    for group in groups:
        nets = Ensemble(spec, len(group), seed, device=device, dtype=dtype, members=group)
        part = f", nets {group[0] + 1}-{group[-1] + 1}" if len(groups) > 1 else ""
        with single_thread(device):
            parts.append(run(nets, part))
        del nets
    return Trajectory.join(parts)
