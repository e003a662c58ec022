"""Helpers shared by every benchmark: timing, temporary folders, result rows and the table.

A benchmark module ``bench/bench_NAME.py`` exposes ``run(repeat: int) -> list[dict]``; each row
is made by :func:`make_row` and says how ours compares with a naive reference run in the same
process. Rows report, they never gate: a missed target is printed, not raised.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

#: Keys every row has; ``extra`` (free text) and the ``*_bytes`` keys of size rows are optional.
#: The post's pipelines hold no last frame; ours are timed like for like (RunOptions.hold).
NO_HOLD = 0.0
ROW_KEYS = ("name", "ours_s", "naive_s", "ratio", "target", "met")
UNITS = ("s", "bytes")


def median_time(fn: Callable[[], Any], repeat: int, warmup: int = 0) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``fn``, after ``warmup`` untimed calls."""
    return statistics.median(times(fn, repeat, warmup))


def times(fn: Callable[[], Any], repeat: int, warmup: int = 0) -> list[float]:
    """Wall-clock seconds of each of ``repeat`` calls of ``fn``, after ``warmup`` untimed calls."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1 (got {repeat})")
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


@contextlib.contextmanager
def temp_folder(prefix: str = "ntkviz-bench-") -> Iterator[Path]:
    """A fresh temporary folder, removed with everything in it on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


def make_row(
    name: str, ours: float, naive: float, min_ratio: float, *, unit: str = "s", extra: str = ""
) -> dict[str, Any]:
    """One comparison: ``ratio = naive / ours`` (bigger is better for us), met if >= ``min_ratio``.

    ``unit="s"`` for times (``ours_s``/``naive_s``); ``unit="bytes"`` for file sizes, kept in
    ``ours_bytes``/``naive_bytes`` with ``ours_s``/``naive_s`` set to None.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS} (got {unit!r})")
    ratio = naive / ours if ours > 0 else float("inf")
    row: dict[str, Any] = {"name": name, "ours_s": None, "naive_s": None}
    if unit == "s":
        row.update(ours_s=float(ours), naive_s=float(naive))
    else:
        row.update(ours_bytes=int(ours), naive_bytes=int(naive))
    row.update(ratio=ratio, target=f">= {min_ratio:g}x", met=bool(ratio >= min_ratio), extra=extra)
    return row


def check_row(row: Any) -> None:
    """Raise ValueError unless ``row`` is a well-formed result row."""
    if not isinstance(row, dict):
        raise ValueError(f"a row must be a dict (got {type(row).__name__})")
    missing = [key for key in ROW_KEYS if key not in row]
    if missing:
        raise ValueError(f"row {row.get('name', '?')!r} lacks {', '.join(missing)}")
    if not isinstance(row["met"], bool):
        raise ValueError(f"row {row['name']!r}: met must be a bool")
    timed = row["ours_s"] is not None and row["naive_s"] is not None
    sized = "ours_bytes" in row and "naive_bytes" in row
    if not (timed or sized):
        raise ValueError(f"row {row['name']!r} has neither times nor sizes")


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _bytes(value: int) -> str:
    return f"{value / 1024:.1f} KiB" if value < 1024**2 else f"{value / 1024**2:.2f} MiB"


def format_cells(row: dict[str, Any]) -> list[str]:
    """A row as the table's cells: name, ours, naive, ratio, target, met, extra."""
    if row.get("ours_s") is not None:
        ours, naive = _seconds(row["ours_s"]), _seconds(row["naive_s"])
    else:
        ours, naive = _bytes(row["ours_bytes"]), _bytes(row["naive_bytes"])
    return [
        row["name"],
        ours,
        naive,
        f"{row['ratio']:.2f}x",
        row["target"],
        "yes" if row["met"] else "NO",
        row.get("extra") or "",
    ]


HEADER = ["benchmark", "ours", "naive", "naive/ours", "target", "met", "notes"]
RIGHT = {1, 2, 3}  # numeric columns, right-aligned


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain aligned text table of ``rows``; the last column is left ragged."""
    table = [HEADER] + [format_cells(row) for row in rows]
    widths = [max(len(cells[c]) for cells in table) for c in range(len(HEADER) - 1)]
    lines = []
    for cells in table:
        parts = [
            cell.rjust(widths[c]) if c in RIGHT else cell.ljust(widths[c])
            for c, cell in enumerate(cells[:-1])
        ]
        lines.append("  ".join(parts + [cells[-1]]).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(HEADER[-1]))
    return "\n".join(lines)


def summary(rows: Sequence[dict[str, Any]]) -> str:
    met = sum(1 for row in rows if row["met"])
    return f"{met}/{len(rows)} targets met"


def save_and_read(png: Path, seconds: dict[str, float]) -> Any:
    """What the original notebook did for every frame: save the current pyplot figure to a PNG,
    read it back, close the figure; adds the times to ``seconds["savefig"]`` and
    ``seconds["imread"]``. Returns the frame as an array."""
    import imageio
    import matplotlib.pyplot as plt

    t0 = time.perf_counter()
    plt.savefig(png)
    t1 = time.perf_counter()
    image = imageio.v2.imread(png)
    plt.close()
    seconds["savefig"] += t1 - t0
    seconds["imread"] += time.perf_counter() - t1
    return image
