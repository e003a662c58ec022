"""``python -m bench [NAME ...] [--repeat N]``: run the benchmarks and print a table of ratios.

Each ``bench/bench_NAME.py`` (sorted by NAME; e.g. ``startup``: the command line's start-up time
against importing typer and rich) exposes ``run(repeat) -> list[dict]``. The exit
status is 0 even when a target is missed (benchmarks report, they do not gate), 1 if a benchmark
raised or returned malformed rows, 2 for an unknown NAME.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from types import ModuleType

import matplotlib

from bench.common import check_row, format_table, summary

PREFIX = "bench_"


def discover() -> list[str]:
    """The benchmark names (``bench_NAME.py`` -> ``NAME``), sorted."""
    import bench

    return sorted(
        info.name[len(PREFIX) :]
        for info in pkgutil.iter_modules(bench.__path__)
        if info.name.startswith(PREFIX)
    )


def load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{PREFIX}{name}")


def main(argv: list[str] | None = None) -> int:
    available = discover()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time ntkviz against naive references; print ratios of medians.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(available)})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed runs of each side; the median is reported (default: 3)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1 (got {args.repeat})")
    unknown = [name for name in args.names if name not in available]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(available)}")

    matplotlib.use("Agg")  # the naive references use pyplot; never open a window
    rows, failed = [], []
    for name in args.names or available:
        print(f"running {name} (repeat {args.repeat}) ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            produced = load(name).run(repeat=args.repeat)
            for row in produced:
                check_row(row)
        except Exception:
            traceback.print_exc()
            print(f"benchmark {name} failed", file=sys.stderr)
            failed.append(name)
            continue
        rows.extend(produced)
        print(f"  {name} took {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    if rows:
        print(format_table(rows))
    line = summary(rows)
    if failed:
        line += f"; {len(failed)} benchmark(s) failed: {', '.join(failed)}"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
