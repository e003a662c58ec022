"""The tangent kernel of one wide net: our layer-wise formula against the notebook's per-sample
autograd loop (:func:`bench.naive_ellipses.naive_ntk`), with the torch.func Jacobian path beside.

Target: the layer-wise kernel of a width-1000, depth-2 ReLU net on 100 inputs at least 50x faster
than the loop. The three results are checked to agree before anything is timed.
"""

from __future__ import annotations

from typing import Any

import torch

from bench.common import make_row, median_time
from bench.naive_ellipses import naive_ntk

SPEEDUP_TARGET = 50.0


def run(
    repeat: int = 3, width: int = 1000, depth: int = 2, inputs: int = 100
) -> list[dict[str, Any]]:
    """Median of ``repeat`` timed calls of each way (float32, the notebook's dtype), all on one
    CPU thread: on a shared machine intra-op threads make the timings mostly noise."""
    from ntkviz.runtime.threads import single_thread

    with single_thread("cpu"):
        return _run(repeat, width, depth, inputs)


def _run(repeat: int, width: int, depth: int, inputs: int) -> list[dict[str, Any]]:
    from ntkviz.numerics.nets import Ensemble, NetSpec
    from ntkviz.numerics.ntk_empirical import ntk_jacobian, ntk_layerwise

    ensemble = Ensemble(NetSpec(width=width, depth=depth), count=1, seed=0)
    (module,) = ensemble.member_modules()
    x = torch.linspace(-3.0, 3.0, inputs)
    ours = ntk_layerwise(ensemble, x)[0]
    naive = naive_ntk(module, x.unsqueeze(1))
    jacobian = ntk_jacobian(ensemble, x)[0]
    scale = naive.abs().max()
    for name, kernel in (("layer-wise", ours), ("torch.func", jacobian)):
        error = float((kernel - naive).abs().max() / scale)
        if error > 1e-4:
            raise RuntimeError(f"{name} kernel differs from the per-sample loop by {error:.2g}")

    ours_s = median_time(lambda: ntk_layerwise(ensemble, x), repeat, warmup=1)
    naive_s = median_time(lambda: naive_ntk(module, x.unsqueeze(1)), repeat)
    jacobian_s = median_time(lambda: ntk_jacobian(ensemble, x), repeat)
    params = ensemble.spec.parameter_count
    return [
        make_row(
            f"kernel width {width} depth {depth}, {inputs} inputs",
            ours_s,
            naive_s,
            SPEEDUP_TARGET,
            extra=f"{params} params, 1 thread; torch.func jacobian {jacobian_s:.3f} s "
            f"({naive_s / jacobian_s:.1f}x the loop, {jacobian_s / ours_s:.0f}x ours)",
        )
    ]
