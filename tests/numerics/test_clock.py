"""train(snapshot_at=...): snapshots at exactly the given steps, the same states as every step."""

from __future__ import annotations

import numpy as np
import torch

from ntkviz.numerics.dynamics import log_steps, train
from ntkviz.numerics.nets import Ensemble, NetSpec
from ntkviz.numerics.ntk_empirical import MseGradient

X = torch.tensor([-2.0, 0.5], dtype=torch.float64)
Y = torch.tensor([3.0, -1.0], dtype=torch.float64)


def run(stop_below=None, alphas=(0.1, 1.0, 10.0), **snapshots):
    nets = Ensemble(NetSpec(width=16, depth=1), len(alphas), 0, dtype=torch.float64, alphas=alphas)

    def record(ens, step):
        return {"out": ens(X).numpy().copy()}

    return train(
        nets,
        X,
        Y,
        lr=3e-2,
        steps=200,
        record=record,
        stop_below=stop_below,
        gradient=MseGradient(),
        **snapshots,
    )


def test_snapshots_at_the_given_steps_are_the_states_at_those_steps():
    every = run()
    at = log_steps(200, 20)
    some = run(snapshot_at=at)
    np.testing.assert_array_equal(some.steps, at)
    np.testing.assert_array_equal(some.records["out"], every.records["out"][at])
    np.testing.assert_array_equal(some.loss, every.loss[at])


def test_snapshots_at_steps_after_every_net_stopped_repeat_the_final_state():
    every = run(stop_below=1e-2, alphas=(1.0, 10.0))
    assert every.stopped.max() < 200  # all stop early: the later snapshots are filled in
    at = np.array([0, 1, 3, int(every.stopped.max()) + 7, 150, 200])
    some = run(stop_below=1e-2, alphas=(1.0, 10.0), snapshot_at=at)
    np.testing.assert_array_equal(some.steps, at)
    np.testing.assert_array_equal(some.records["out"], every.records["out"][at])
    np.testing.assert_array_equal(some.stopped, every.stopped)
