"""How close the two long figures come to this machine's peak: ntk-convergence and
generalization at the post's settings, their simulate time, their floating-point work (counted
from the config: the matmuls that dominate) and the fraction of the measured peak it reaches.

Both compute in float32 by default where it matters (ntk-convergence's kernels; generalization's
training and frames: its float64 kernels are about 2 % of its time; ``--dtype float64`` keeps
float64, 3.8 times slower for generalization here), so float32 has nothing left to give; this
says whether the rest is compute (near peak) or memory and overhead (far below).

Peak: the median rate of a float32 batched matmul of 8 x (512 x 1024) @ (1024 x 1024), on the
threads each figure may use (:mod:`ntkviz.runtime.threads`). Rows: ours = the figure's simulate, naive =
the time its flops take at peak; the ratio is the fraction of peak (target: 0.25, a quarter).
"""

from __future__ import annotations

from typing import Any

import torch

from bench.common import make_row, median_time

TARGET_FRACTION = 0.25


def peak_flops(count: int, repeat: int = 5) -> float:
    """float32 flop/s of a large batched matmul on ``count`` threads (median of ``repeat``)."""
    from ntkviz.runtime.threads import threads

    a, b = torch.randn(8, 512, 1024), torch.randn(8, 1024, 1024)
    with threads(count):
        seconds = median_time(lambda: torch.bmm(a, b), repeat, warmup=1)
    return 2.0 * 8 * 512 * 1024 * 1024 / seconds


def convergence_flops(config) -> tuple[float, float]:
    """(flops, normal draws): per width, what :func:`ntkviz.numerics.ntk_sampler.sampled_flops`
    counts at P + 1 inputs, and the numbers drawn (a sampled layer: (in + out) (P + 1))."""
    from ntkviz.numerics.ntk_sampler import sampled, sampled_flops

    flops = draws = 0.0
    points = config.points + 1
    for width in config.widths:
        spec = config.net(int(width))
        flops += sampled_flops(spec, config.seeds, points)
        for (fan_in, fan_out), sample in zip(spec.layer_sizes, sampled(spec, points)):
            numbers = (fan_in + fan_out) * points if sample else fan_in * fan_out
            draws += config.seeds * (numbers + (fan_out if spec.bias else 0))
    return flops, draws


def generalization_flops(config) -> float:
    """Per width and step: forward, backward and the rank-N update at N training points, 2 flops
    per weight each; per frame, the forward at the grid's points; the float64 kernels aside."""
    n = len(config.inputs())
    frames = config.frames + 1  # snapshots, whatever their --clock
    total = 0.0
    for width in config.widths:
        params = config.net(int(width)).parameter_count
        total += config.steps * 6.0 * config.count * n * params
        total += frames * 2.0 * config.count * config.points * params
    return total


def simulate_seconds(name: str, repeat: int) -> tuple[Any, float]:
    from ntkviz.figures import get
    from ntkviz.figures.base import defaults
    from ntkviz.runtime.progress import Progress

    spec = get(name)
    config, _ = defaults(spec, False)

    def once():
        spec.simulate(config, torch.Generator().manual_seed(0), Progress(), "cpu")

    return config, median_time(once, repeat)


def run(repeat: int = 1) -> list[dict[str, Any]]:
    import os

    from ntkviz.runtime.threads import budget

    repeat = min(repeat, 2)  # each simulate takes tens of seconds
    rows = []
    one, many = peak_flops(1), peak_flops(budget())
    config, seconds = simulate_seconds("ntk-convergence", repeat)
    flops, draws = convergence_flops(config)
    rows.append(
        make_row(
            "flops ntk-convergence (post's settings)",
            seconds,
            flops / many,
            TARGET_FRACTION,
            extra=f"{flops:.3g} flop + {draws:.3g} normal draws in {seconds:.1f} s: "
            f"{flops / seconds / 1e9:.1f} GFLOP/s, peak {many / 1e9:.1f} on {budget()} thread(s); "
            f"load {os.getloadavg()[0]:.2f}",
        )
    )
    config, seconds = simulate_seconds("generalization", repeat)
    flops = generalization_flops(config)
    rows.append(
        make_row(
            "flops generalization (post's settings)",
            seconds,
            flops / one,
            TARGET_FRACTION,
            extra=f"{flops:.3g} flop in {seconds:.1f} s: {flops / seconds / 1e9:.1f} GFLOP/s, "
            f"peak {one / 1e9:.1f} on 1 thread (its ops are small: one thread by policy); "
            f"load {os.getloadavg()[0]:.2f}",
        )
    )
    return rows
