"""Hessian norm of the post's one-hidden-layer net: how wide each method gets within a time budget.

Target: the largest width whose exact Hessian norm (:func:`ntkviz.numerics.curvature.hessian_norm_exact`,
O(m)) takes at most the budget (20 s) is >= 1000x the largest width the post's dense way reaches
(:func:`ntkviz.numerics.curvature.hessian_norm_dense`: torch.func.hessian, then eigvalsh; O(m^3)).

Each method doubles the width until one evaluation exceeds the budget (drawing the parameters is
not timed). A dense evaluation predicted to overrun runs in a child process that is killed at the
budget, so the bench never waits for the O(m^3) tail. The exact method stops at ``exact_cap``
(default 2^26 = 67M, ~1 GiB of parameters) well within the budget: its width is then a lower bound.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from typing import Any

import torch

from bench.common import make_row, times
from ntkviz.errors import ConfigError
from ntkviz.numerics import curvature

BUDGET_S = 20.0
WIDTH_TARGET = 1000.0
EXACT_CAP = 2**26
X = 0.7  # any fixed input; the cost does not depend on it

_CHILD = """
import sys, time, torch
from ntkviz.numerics import curvature
width, x = int(sys.argv[1]), float(sys.argv[2])
a, b = curvature.init_params(width, torch.Generator().manual_seed(0))
fn, w = curvature.network(x), curvature.flatten(a, b)
curvature.hessian_norm_dense(fn, w[:4] if width > 2 else w)  # warm up torch.func, untimed
print("ready", flush=True)
start = time.perf_counter()
curvature.hessian_norm_dense(fn, w)
print(time.perf_counter() - start, flush=True)
"""


def _dense_in_process(width: int) -> float:
    a, b = curvature.init_params(width, torch.Generator().manual_seed(0))
    fn, w = curvature.network(X), curvature.flatten(a, b)
    start = time.perf_counter()
    curvature.hessian_norm_dense(fn, w)
    return time.perf_counter() - start


def _dense_in_child(width: int, budget_s: float) -> float:
    """Seconds of one dense evaluation in a child process; inf if killed at the budget."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(width), str(X)], stdout=subprocess.PIPE, text=True
    )
    try:
        if child.stdout.readline().strip() != "ready":  # imports and the draw are not timed
            raise RuntimeError(f"dense child at width {width} failed to start")
        try:
            child.wait(timeout=budget_s + 1.0)
        except subprocess.TimeoutExpired:
            return math.inf
        if child.returncode != 0:
            raise RuntimeError(f"dense child at width {width} exited with {child.returncode}")
        return float(child.stdout.readline())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


def dense_reach(budget_s: float, start: int = 16, isolate: bool = True) -> dict[str, Any]:
    """Double the width from ``start`` until a dense evaluation exceeds ``budget_s`` or is refused.

    Returns ``width`` (the largest within budget, 0 if none), its ``seconds``, and ``stop``: why
    the next doubling failed.
    """
    width, seconds, last = 0, math.nan, 0.0
    _dense_in_process(2)  # the first torch.func call imports and warms up: not part of a width
    m = start
    while True:
        try:
            curvature.check_dense(m)
        except ConfigError:
            return {
                "width": width,
                "seconds": seconds,
                "stop": f"m={m:,} refused: over the {curvature.format_bytes(curvature.memory_limit_bytes())} limit",
            }
        # Eigenvalues cost O(n^3): a run predicted past half the budget goes to a child process.
        risky = isolate and last * 8 > 0.5 * budget_s
        took = _dense_in_child(m, budget_s) if risky else _dense_in_process(m)
        if took > budget_s:
            shown = "killed at the budget" if math.isinf(took) else f"took {took:.1f} s"
            return {"width": width, "seconds": seconds, "stop": f"m={m:,} {shown}"}
        width, seconds, last = m, took, took
        m *= 2


def exact_reach(budget_s: float, start: int = 1024, cap: int = EXACT_CAP) -> dict[str, Any]:
    """Double the width from ``start`` up to ``cap`` until an exact evaluation exceeds ``budget_s``.

    The parameters are one draw at the largest width, sliced, so the ladder costs one draw.
    """
    top = cap
    limit = curvature.memory_limit_bytes()
    while 2 * 8 * top > limit and top > start:  # a and b in float64
        top //= 2
    generator = torch.Generator().manual_seed(0)
    a_all = torch.randn(top, generator=generator, dtype=torch.float64)
    b_all = torch.randn(top, generator=generator, dtype=torch.float64)
    width, seconds = 0, math.nan
    m = start
    while m <= top:
        a, b = a_all[:m], b_all[:m] / math.sqrt(m)
        begin = time.perf_counter()
        curvature.hessian_norm_exact(a, b, X)
        took = time.perf_counter() - begin
        del a, b
        if took > budget_s:
            return {"width": width, "seconds": seconds, "stop": f"m={m:,} took {took:.1f} s"}
        width, seconds = m, took
        m *= 2
    why = "the cap" if top == cap else "the memory limit"
    return {
        "width": width,
        "seconds": seconds,
        "stop": f"stopped at {why} within budget (a lower bound)",
    }


def run(
    repeat: int = 3,
    budget_s: float = BUDGET_S,
    exact_cap: int = EXACT_CAP,
    dense_start: int = 16,
    exact_start: int = 1024,
    isolate: bool = True,
) -> list[dict[str, Any]]:
    """Two rows: the width each method reaches within ``budget_s`` (ratio = exact / dense width,
    target >= 1000x), and both timed at the dense method's largest width (median of ``repeat``)."""
    dense = dense_reach(budget_s, dense_start, isolate)
    exact = exact_reach(budget_s, exact_start, exact_cap)
    ratio = exact["width"] / dense["width"] if dense["width"] else math.inf
    reach = {
        "name": f"hessian norm: width within {budget_s:g} s, exact / dense",
        "ours_s": float(exact["seconds"]),
        "naive_s": float(dense["seconds"]),
        "ratio": ratio,
        "target": f">= {WIDTH_TARGET:g}x",
        "met": bool(ratio >= WIDTH_TARGET),
        "extra": (
            f"ratio of widths; exact m={exact['width']:,} ({exact['stop']}); "
            f"dense m={dense['width']:,} (next: {dense['stop']})"
        ),
    }
    rows = [reach]
    m = dense["width"]
    if m:
        a, b = curvature.init_params(m, torch.Generator().manual_seed(0))
        ours = statistics.median(
            times(lambda: curvature.hessian_norm_exact(a, b, X), repeat, warmup=1)
        )
        rows.append(
            make_row(
                f"hessian norm at m={m:,}: exact vs dense",
                ours,
                dense["seconds"],
                1.0,
                extra="same width, same net; dense timed once in the ladder",
            )
        )
    return rows


if __name__ == "__main__":  # python -m bench.bench_kappa [budget_s]
    from bench.common import format_table

    print(format_table(run(budget_s=float(sys.argv[1]) if len(sys.argv) > 1 else BUDGET_S)))
