"""``python -m bench.gpu_check``: every figure's numbers on cuda against cpu, and their times.

For each figure (at its defaults, the post's settings; ``--quick`` for previews) the Result is
simulated on the CPU and, when CUDA is available, on the GPU with the same seed; every array of
the two Results is compared within a stated tolerance (bit-equality is not expected: different
kernels sum in different orders, and training amplifies the last bits over many steps), and
both times are reported. Without CUDA it is a dry run: the CPU half runs, the CUDA half is
skipped with one clear line, so the script stays working where no GPU is (a test runs it).

Tolerance: an array passes when ``max |gpu - cpu| <= atol + rtol * max |cpu|`` (the scale of the
whole array, so values near zero in it are not held to a relative bound). Defaults rtol 1e-3,
atol 1e-6; :data:`TOLERANCES` loosens them where a figure trains long (chaotic growth of
rounding differences). Integer, boolean and text fields must be equal.

Writes a short Markdown report (``--report``, default ``bench/out/gpu_check.md``) and prints it.
Exit status: 0 when every compared figure agrees (or in a dry run), 1 when one does not or
fails, 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

#: (rtol, atol) per figure where the default (1e-3, 1e-6) is too strict for honest reasons.
TOLERANCES: dict[str, tuple[float, float]] = {
    # Hundreds to thousands of gradient steps in float32: differences grow with training.
    "init-functions": (1e-2, 1e-5),
    "weight-matrix": (1e-2, 1e-5),
    "generalization": (1e-2, 1e-5),
    "ntk-ellipses": (1e-2, 1e-6),
}
DEFAULT_TOLERANCE = (1e-3, 1e-6)


def arrays(result: Any, prefix: str = "") -> dict[str, Any]:
    """A Result's fields by name, nested dataclasses and dicts flattened (``a.b``)."""
    if dataclasses.is_dataclass(result):
        items = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    elif isinstance(result, dict):
        items = {str(k): v for k, v in result.items()}
    else:
        return {prefix.rstrip("."): result}
    out: dict[str, Any] = {}
    for name, value in items.items():
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            out.update(arrays(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def compare(cpu: Any, gpu: Any, rtol: float, atol: float) -> list[str]:
    """The fields of two Results that differ beyond the tolerance, one line each."""
    a, b = arrays(cpu), arrays(gpu)
    problems = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems.append(f"{name}: only on {'cpu' if name in a else 'cuda'}")
            continue
        x, y = a[name], b[name]
        if isinstance(x, str | type(None)) or isinstance(y, str | type(None)):
            if x != y:
                problems.append(f"{name}: {x!r} != {y!r}")
            continue
        try:
            x, y = np.asarray(x), np.asarray(y)
        except Exception:  # noqa: BLE001 - not an array: compare as objects
            if x != y:
                problems.append(f"{name}: differs")
            continue
        if x.shape != y.shape:
            problems.append(f"{name}: shape {x.shape} != {y.shape}")
        elif x.dtype.kind in "biuSUO" or y.dtype.kind in "biuSUO":
            if not np.array_equal(x, y):
                problems.append(f"{name}: not equal")
        else:
            x, y = x.astype(np.float64), y.astype(np.float64)
            if not np.array_equal(np.isfinite(x), np.isfinite(y)):
                problems.append(f"{name}: non-finite values in different places")
                continue
            finite = np.isfinite(x)
            if not finite.any():
                continue
            error = float(np.max(np.abs(x[finite] - y[finite])))
            bound = atol + rtol * float(np.max(np.abs(x[finite])))
            if error > bound:
                problems.append(f"{name}: max |cuda - cpu| = {error:.3g} > {bound:.3g}")
    return problems


def simulate(name: str, quick: bool, device: str, seed: int = 0) -> tuple[Any, float]:
    import torch

    from ntkviz.figures import get
    from ntkviz.figures.base import defaults
    from ntkviz.runtime.progress import Progress

    spec = get(name)
    config, _ = defaults(spec, quick)
    generator = torch.Generator().manual_seed(seed)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = spec.simulate(config, generator, Progress(), device)
    if device == "cuda":
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    import torch

    from ntkviz.figures import FIGURES

    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu_check",
        description="Simulate every figure on cuda and cpu; compare the numbers and the times.",
    )
    parser.add_argument("--quick", action="store_true", help="the figures' --quick settings")
    parser.add_argument("--only", default="", help="comma-separated figures (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--report", type=Path, default=Path("bench/out/gpu_check.md"), help="Markdown report"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="skip the cuda half even where CUDA is available"
    )
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {', '.join(unknown)}: choose from {', '.join(FIGURES)}")

    cuda = torch.cuda.is_available() and not args.dry_run
    settings = "--quick" if args.quick else "the post's"
    lines = [
        "# ntkviz GPU check",
        "",
        f"torch {torch.__version__}, python {platform.python_version()}, "
        f"{settings} settings, seed {args.seed}",
    ]
    if cuda:
        lines.append(f"cuda: {torch.cuda.get_device_name(0)}")
    else:
        why = "--dry-run" if args.dry_run else "CUDA is not available"
        lines.append(f"DRY RUN: {why}; the cuda half is skipped, only the cpu half runs")
    lines += [
        "",
        "| figure | cpu s | cuda s | cpu/cuda | rtol, atol | agrees |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    failed = 0
    details = []
    for name in names:
        rtol, atol = TOLERANCES.get(name, DEFAULT_TOLERANCE)
        print(f"{name} ...", file=sys.stderr, flush=True)
        try:
            cpu, cpu_s = simulate(name, args.quick, "cpu", args.seed)
            if cuda:
                simulate(name, True, "cuda", args.seed)  # warm up: kernels, cuBLAS handles
                gpu, gpu_s = simulate(name, args.quick, "cuda", args.seed)
                problems = compare(cpu, gpu, rtol, atol)
                verdict = "yes" if not problems else f"NO ({len(problems)} fields)"
                failed += bool(problems)
                details += [f"- {name}: {p}" for p in problems]
                row = f"{cpu_s:.2f} | {gpu_s:.2f} | {cpu_s / gpu_s:.1f}"
            else:
                row, verdict = f"{cpu_s:.2f} | - | -", "not compared (dry run)"
        except Exception as exc:  # noqa: BLE001 - one figure must not hide the others
            traceback.print_exc()
            failed += 1
            row, verdict = "- | - | -", f"FAILED: {type(exc).__name__}: {exc}"
        lines.append(f"| {name} | {row} | {rtol:g}, {atol:g} | {verdict} |")
    if details:
        lines += ["", "Differences:", *details]
    text = "\n".join(lines) + "\n"
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text)
    print(text)
    print(f"report written to {args.report}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
