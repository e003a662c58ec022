"""``python -m bench.gpu_check``: the package's GPU check (``ntkviz check-gpu``,
:mod:`ntkviz.cli.check_gpu`), writing its report to ``bench/out/gpu_check.md`` by default."""

from __future__ import annotations

import sys

from ntkviz.cli.check_gpu import DEFAULT_TOLERANCE, TOLERANCES, arrays, compare, simulate
from ntkviz.cli.check_gpu import main as _main

__all__ = ["DEFAULT_TOLERANCE", "TOLERANCES", "arrays", "compare", "main", "simulate"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--report" or a.startswith("--report=") for a in argv):
        argv += ["--report", "bench/out/gpu_check.md"]
    return _main(argv)


if __name__ == "__main__":
    sys.exit(main())
