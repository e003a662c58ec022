"""``ntkviz check-gpu`` (or ``python -m ntkviz.cli.check_gpu``; in a clone also ``python -m
bench.gpu_check``): every figure's numbers on a GPU against the CPU's, and their times.

For each figure (at its defaults, the post's settings; ``--quick`` for previews) the Result is
simulated on the CPU and, when the GPU (``--device``: cuda, cuda:N or mps) is available, on the
GPU with the same seed; every array of the two Results is compared within a stated tolerance
(bit-equality is not expected: different kernels sum in different orders, and training amplifies
the last bits over many steps), and both times are reported. Without the GPU it is a dry run: the
CPU half runs, the GPU half is skipped with one clear line, so the check stays working where no
GPU is (a test runs it).

Tolerance: an array passes when ``max |gpu - cpu| <= atol + rtol * max |cpu|`` (the scale of the
whole array, so values near zero in it are not held to a relative bound). Defaults rtol 1e-3,
atol 1e-6; :data:`TOLERANCES` loosens them where a figure trains long (chaotic growth of
rounding differences). Integer, boolean and text fields must be equal.

Prints a short Markdown report (``--report FILE`` also writes it there). Exit status: 0 when
every compared figure agrees (or in a dry run), 1 when one does not or fails, 2 for a bad
argument (an unknown figure, a malformed --device).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from ntkviz.errors import NtkvizError

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
    import numpy as np

    a, b = arrays(cpu), arrays(gpu)
    problems = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems.append(f"{name}: only on {'cpu' if name in a else 'gpu'}")
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
                problems.append(f"{name}: max |gpu - cpu| = {error:.3g} > {bound:.3g}")
    return problems


def _synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    elif device == "mps":
        torch.mps.synchronize()


def simulate(name: str, quick: bool, device: str, seed: int = 0) -> tuple[Any, float]:
    import torch

    from ntkviz.figures import get
    from ntkviz.figures.base import defaults
    from ntkviz.runtime.progress import Progress

    spec = get(name)
    config, _ = defaults(spec, quick)
    generator = torch.Generator().manual_seed(seed)
    _synchronize(device)
    start = time.perf_counter()
    result = spec.simulate(config, generator, Progress(), device)
    _synchronize(device)
    return result, time.perf_counter() - start


def gpu(device: str, dry_run: bool) -> tuple[bool, str]:
    """(whether the GPU half runs, the line saying which GPU, or why not). A malformed
    ``device`` raises ConfigError (exit 2); one this machine lacks makes a dry run."""
    import torch

    from ntkviz.errors import ConfigError
    from ntkviz.options import check_device
    from ntkviz.runtime.devices import resolve_device

    check_device(device)
    if device == "cpu":
        raise ConfigError("--device cpu: check-gpu compares a GPU with the CPU; name a GPU")
    if dry_run:
        return False, "DRY RUN: --dry-run; the GPU half is skipped, only the cpu half runs"
    try:
        resolve_device(device)
    except ConfigError as exc:
        return False, f"DRY RUN: {exc}; the GPU half is skipped, only the cpu half runs"
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "Apple MPS"
    return True, f"{device}: {name}"


def main(argv: list[str] | None = None) -> int:
    from ntkviz.figures import FIGURES

    parser = argparse.ArgumentParser(
        prog="python -m ntkviz.cli.check_gpu",
        description="Simulate every figure on a GPU and the CPU; compare the numbers and times.",
    )
    parser.add_argument("--quick", action="store_true", help="the figures' --quick settings")
    parser.add_argument("--only", default="", help="comma-separated figures (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda", help="the GPU: cuda, cuda:N or mps")
    parser.add_argument("--report", type=Path, default=None, help="also write it to this file")
    parser.add_argument(
        "--dry-run", action="store_true", help="skip the GPU half even where the GPU is available"
    )
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {', '.join(unknown)}: choose from {', '.join(FIGURES)}")
    try:
        return check(names, args.quick, args.seed, args.device, args.dry_run, args.report)
    except NtkvizError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2


def check(
    names: list[str], quick: bool, seed: int, device: str, dry_run: bool, report: Path | None
) -> int:
    """Simulate ``names`` on the cpu and on ``device``; print the report (and write it to
    ``report``); the exit status."""
    import torch

    on_device, which = gpu(device, dry_run)
    settings = "--quick" if quick else "the post's"
    lines = [
        "# ntkviz GPU check",
        "",
        f"torch {torch.__version__}, python {platform.python_version()}, "
        f"{settings} settings, seed {seed}",
        which,
        "",
        "| figure | cpu s | gpu s | cpu/gpu | rtol, atol | agrees |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    failed = 0
    details = []
    for name in names:
        rtol, atol = TOLERANCES.get(name, DEFAULT_TOLERANCE)
        print(f"{name} ...", file=sys.stderr, flush=True)
        try:
            cpu, cpu_s = simulate(name, quick, "cpu", seed)
            if on_device:
                simulate(name, True, device, seed)  # warm up: kernels, cuBLAS handles
                on_gpu, gpu_s = simulate(name, quick, device, seed)
                problems = compare(cpu, on_gpu, rtol, atol)
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
    print(text)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text)
        print(f"report written to {report}", file=sys.stderr)
    return 1 if failed else 0


def check_gpu_command(
    device: Annotated[str, typer.Option("--device", help="The GPU: cuda, cuda:N or mps.")] = "cuda",
    quick: Annotated[bool, typer.Option("--quick", help="The figures' --quick settings.")] = False,
    only: Annotated[
        str, typer.Option("--only", help="Comma-separated figures. [default: all]")
    ] = "",
    seed: Annotated[int, typer.Option("--seed", help="Random seed for every figure.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the report to this file.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Skip the GPU half even where the GPU is there.")
    ] = False,
) -> None:
    """Simulate every figure on the GPU and the CPU with the same seed: do the numbers agree
    (within a stated tolerance), and how much faster is it? Without the GPU: a dry run."""
    from ntkviz.errors import ConfigError
    from ntkviz.figures import FIGURES

    names = [n for n in only.split(",") if n] or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ConfigError(
            f"--only: unknown figure {', '.join(unknown)}: choose from {', '.join(FIGURES)}"
        )
    raise typer.Exit(check(names, quick, seed, device, dry_run, report))


if __name__ == "__main__":
    sys.exit(main())
