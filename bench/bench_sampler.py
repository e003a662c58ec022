"""ntk-convergence's widest kernels: drawn through the hidden layer's products
(:mod:`ntkviz.numerics.ntk_sampler`) against real nets (:class:`ntkviz.numerics.nets.Ensemble`
and the layer-wise kernel), on one thread.

The post's settings: 8 nets of width 10^4, depth 2, Theta(x0, x) at 121 grid points (122
inputs), float32. Target: ours at least 5 times faster. ``width`` shrinks it for tests.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from bench.common import make_row, median_time

SPEEDUP_TARGET = 5.0


def run(
    repeat: int = 3, width: int = 10_000, seeds: int = 8, points: int = 121
) -> list[dict[str, Any]]:
    from ntkviz.numerics.nets import Ensemble, NetSpec
    from ntkviz.numerics.ntk_empirical import ntk_layerwise
    from ntkviz.numerics.ntk_sampler import sampled_ntk
    from ntkviz.runtime.threads import single_thread

    spec = NetSpec(width=width, depth=2, parameterization="ntk")
    x0, grid = torch.tensor([0.5]), torch.linspace(-3.0, 3.0, points)

    def ours() -> None:
        sampled_ntk(spec, seeds, 0, x0, grid)

    def naive() -> None:
        ntk_layerwise(Ensemble(spec, seeds, 0, keep_initial=False), x0, grid)

    with single_thread():
        ours_s = median_time(ours, repeat, warmup=1)
        naive_s = median_time(naive, max(1, min(repeat, 2)))
    return [
        make_row(
            f"sampled kernels ({seeds} nets, width {width}, {points + 1} inputs)",
            ours_s,
            naive_s,
            SPEEDUP_TARGET,
            extra=f"1 thread; load {os.getloadavg()[0]:.2f}",
        )
    ]
