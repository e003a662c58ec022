"""The values shared options take and their checks: the themes, presets, legend places and
devices, the limits of a seed, a hold, a font, and a size's parsing. Each check raises one
ConfigError line naming the flag. Re-exported by :mod:`ntkviz.options`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ntkviz.errors import ConfigError

THEMES = ("light", "dark")
#: The presets of ``--style`` (:func:`ntkviz.drawing.style.preset`): "web" (the post's look,
#: scaled with --size), "paper" (a journal's column: absolute type, no title, panels re-flowed
#: to the width), "talk" (16:9 at 1080p).
PRESETS = ("web", "paper", "talk")
#: Where ``--legend`` may put legends: matplotlib's locations ("upper-right" or "upper right"),
#: "outside" (beside its panel), "none"; "auto" is the figure's own choice.
LEGEND_LOCATIONS = (
    *("best", "upper right", "upper left", "lower left", "lower right", "right"),
    *("center left", "center right", "lower center", "upper center", "center"),
)
LEGENDS = ("auto", "outside", "none", *LEGEND_LOCATIONS)
MAX_FONT = 72.0  # points
#: The devices --device takes, as help and messages spell them (``cuda:N``: the N-th CUDA device).
DEVICES = ("cpu", "cuda", "cuda:N", "mps")
MAX_HOLD = 600.0  # seconds
MAX_SEED = 2**63  # exclusive: torch's generator takes a signed 64-bit seed


def format_value(value: Any) -> str:
    """A value as the command line writes it (2.0 -> "2", a size (12, 9) -> "12x9"): short where
    that is exact, else every digit (0.123456789 stays so: a command copied from a sidecar
    makes the same figure)."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(float(value))
    if isinstance(value, (tuple, list)):
        return "x".join(format_value(v) for v in value)
    return str(value)


# -- checks ---------------------------------------------------------------------------------------


def parse_size(text: Any) -> tuple[float, float]:
    """'12x9' (or '12*9') -> (12.0, 9.0) inches."""
    parts = str(text).lower().replace("*", "x").split("x")
    try:
        width, height = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"--size must look like WxH in inches, e.g. 12x9 (got {str(text)[:40]!r})"
        ) from None
    if not (math.isfinite(width) and math.isfinite(height)):
        raise ConfigError(f"--size must be a finite number (got {str(text)[:40]!r})")
    return width, height


def check_seed(seed: int) -> None:
    if not 0 <= seed < MAX_SEED:
        raise ConfigError(f"--seed must be between 0 and 2^63 - 1 (got {seed})")


def check_jobs(jobs: int) -> None:
    if jobs < 0:
        raise ConfigError(f"--jobs must be >= 0, 0 meaning one per core (got {jobs})")


def check_hold(hold: float) -> None:
    if not 0 <= hold <= MAX_HOLD:
        raise ConfigError(f"--hold must be between 0 and {MAX_HOLD:g} seconds (got {hold:g})")


def parse_device(value: Any) -> tuple[str, int | None]:
    """(kind, index) of a --device value: ``cpu``, ``cuda`` (the current CUDA device), ``cuda:N``
    or ``mps`` (Apple's GPU); ConfigError (one line) for anything else. Whether this machine has
    it is :func:`ntkviz.pipeline.resolve_device`'s question."""
    text = value if isinstance(value, str) else ""
    kind, colon, index = text.partition(":")
    if text in ("cpu", "cuda", "mps"):
        return text, None
    if kind == "cuda" and colon and index.isascii() and index.isdigit() and len(index) <= 4:
        return "cuda", int(index)
    raise ConfigError(f"--device must be one of {', '.join(DEVICES)} (got {value!r})")


def check_device(value: Any) -> None:
    parse_device(value)


def one_of(flag: str, allowed: tuple[str, ...]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in allowed:
            raise ConfigError(f"{flag} must be one of {', '.join(allowed)} (got {value!r})")

    return check


def legend_location(value: Any) -> str | None:
    """``value`` as one of :data:`LEGENDS` ("upper-right" is "upper right"); None if it is none."""
    if not isinstance(value, str):
        return None
    name = " ".join(value.strip().lower().replace("-", " ").replace("_", " ").split())
    return name if name in LEGENDS else None


def check_legend(value: Any) -> None:
    if legend_location(value) is None:
        raise ConfigError(
            f"--legend must be a location ({', '.join(w.replace(' ', '-') for w in LEGEND_LOCATIONS)}), "
            f"outside, none or auto (got {str(value)[:40]!r})"
        )


def check_font_size(points: float) -> None:
    if not (math.isfinite(points) and 0 < points <= MAX_FONT):
        raise ConfigError(
            f"--font-size must be > 0 and at most {MAX_FONT:g} points (got {points:g})"
        )
