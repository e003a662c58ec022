"""What a gallery build makes: one job per figure, its files and the command that makes it by
hand, whether the files already there are current, and the order the figures start in.

The sidecar is read here alone (:func:`read_sidecar`, :func:`is_current`), and the formats the
gallery writes come from the output registry (:data:`FORMATS`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntkviz import sidecar as sidecar_schema
from ntkviz.errors import NtkvizError
from ntkviz.output import formats

#: The formats a gallery may build: every output format drawn as pixels (from the registry).
ANIMATION_FORMATS = tuple(s.lstrip(".") for s in formats.ANIMATION_FORMATS)
FORMATS = tuple(s.lstrip(".") for s in formats.FORMATS if not formats.find(s).vector)

#: The width, in CSS px, at which the gallery page (:mod:`ntkviz.gallery.page`, which lays its
#: column out around it) shows its widest figure, and so every figure's pixels 1:1: the gallery
#: draws at :func:`gallery_dpi`, the resolution that makes its widest figure this wide. Drawn at
#: the CLI's 72 dpi (1296 px for 18 in), every picture was shrunk by the page to 0.82 of its
#: pixels: bytes no ordinary screen showed (a 2x screen scales either up), and text the browser
#: resampled. 1062 = 18 in x 59 dpi: the text is as large on the page as before, drawn on the
#: screen's own pixels (the base font 16 px, the smallest, 0.8 of it, 13 px).
SHOWN_PX = 1062

#: Why a figure is skipped, as the summary says it.
SKIPPED = "current: same config, seed, style and version; --force rebuilds"


@dataclass(frozen=True)
class Job:
    name: str
    out: Path
    formats: tuple[str, ...] = ("gif", "html", "png")
    quick: bool = False
    seed: int = 0
    force: bool = False
    threads: int = 1


def files(spec, job: Job) -> tuple[Path, tuple[Path, ...], Path | None]:
    """(main output, more animations, still) for a figure."""
    if not spec.animated:
        return job.out / f"{spec.name}.png", (), None
    animations = [f for f in job.formats if f in ANIMATION_FORMATS] or ["gif"]
    main, *more = (job.out / f"{spec.name}.{fmt}" for fmt in animations)
    still = job.out / f"{spec.name}.png" if "png" in job.formats else None
    return main, tuple(more), still


def gallery_dpi() -> float:
    """The pixels per inch of every gallery figure (one scale for all: their text is one size):
    the widest figure, at its own size, :data:`SHOWN_PX` wide."""
    from ntkviz.figures import FIGURES

    return SHOWN_PX / max(spec.style.size[0] for spec in FIGURES.values())


def plan(job: Job):
    """(spec, config, run options) for one gallery figure."""
    from ntkviz.figures import get
    from ntkviz.figures.base import defaults
    from ntkviz.pipeline import RunOptions

    spec = get(job.name)
    config, style = defaults(spec, job.quick)
    # at the gallery's resolution (--quick keeps its share of the pixels)
    style = dataclasses.replace(style, dpi=gallery_dpi() * style.dpi / spec.style.dpi)
    main, more, still = files(spec, job)
    options = RunOptions(
        output=main,
        style=style,
        fps=spec.fps,
        seed=job.seed,
        also=more,
        still=still,
        quick=job.quick,
        jobs=job.threads,
        check_layout=True,
        command=tuple(command_line(spec.name, main, more, still, job.quick, job.seed, style.dpi)),
        extra={"reproducible": True},  # pinned code paths (ntkviz.runtime.pins)
    )
    return spec, config, options


def command_line(
    name: str,
    main: Path,
    more: Sequence[Path],
    still: Path | None,
    quick: bool,
    seed: int,
    dpi: float | None = None,
) -> list[str]:
    """The ntkviz command that makes one gallery figure by hand (``dpi``: the gallery's)."""
    words = ["ntkviz", name, "-o", str(main)]
    if still is not None:
        words += ["--still", str(still)]
    if quick:
        words.append("--quick")
    if seed:
        words += ["--seed", str(seed)]
    if dpi is not None:
        words += ["--dpi", f"{dpi:g}"]
    return words + ["--reproducible"]


def outputs(options) -> list[Path]:
    """Every file a figure's run options write, its main output first."""
    return [options.output, *options.also] + ([options.still] if options.still else [])


# -- explore pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplorePage:
    """A gallery page of ``ntkviz explore``: a figure over one option's values
    (``gallery/explore-<name>.html``), made by ``ntkviz gallery --explore``."""

    name: str
    figure: str
    vary: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()

    def command(self, out: Path, quick: bool = False) -> list[str]:
        """The ntkviz command that makes the page by hand."""
        words = ["ntkviz", "explore", self.figure]
        for text in self.vary:
            words += ["--vary", text]
        for key, value in self.options:
            words += ["--" + key.replace("_", "-"), str(value)]
        return words + (["--quick"] if quick else []) + ["-o", str(out / f"{self.name}.html")]


#: The largest explore page the gallery keeps (``ntkviz gallery --check`` says so above it).
EXPLORE_MAX_BYTES = 6_000_000

#: The explore pages: the post's one dependence, alpha (or the width) moved along a slider.
EXPLORE_PAGES = (
    # nine alphas from 0.01 to 100, each run's ellipse in one plane beside its function; sized
    # for a web page: 100 frames (each alpha on its own clock) at 936 x 432 px, not the figure's
    # 200 at 1296 x 576 (nine variants of those would be about 12 MB)
    ExplorePage(
        "explore-ntk-ellipses",
        "ntk-ellipses",
        ("alphas=0.01,0.0316,0.1,0.316,1,3.16,10,31.6,100",),
        (("layout", "both"), ("frames", 100), ("size", "13x6")),
    ),
    # the rich net's output scale from the mean-field 0.01 to the lazy 10
    ExplorePage("explore-rich-lazy", "rich-lazy", ("rich_alpha=0.01,0.03,0.1,0.3,1,3,10",)),
    # the width: the ensemble of one width against the infinite-width theory, its band closing
    # on theory's and its distances walking down the width axis (shared by every variant) as
    # the width grows. Not weight-matrix: its panel is the matrix itself, as large as the width,
    # so one shared axis would shrink the narrow nets' matrices into a corner. At 12 x 9 in
    # (864 x 648 px, 4.4 MB): the figure's 16 x 12 made 6.4 MB once its views zoomed on the bands.
    ExplorePage("explore-posterior", "posterior", ("widths=32,128,512,2048",), (("size", "12x9"),)),
)


# -- reading sidecars ---------------------------------------------------------------------------------


def read_sidecar(path: Path) -> dict[str, Any]:
    """A sidecar's content, checked by :func:`ntkviz.sidecar.read` for what a gallery file needs
    (frames, width, height); NtkvizError (one line naming the file) if it is not one."""
    return sidecar_schema.read(path, sidecar_schema.PICTURE)


def is_current(config: Any, options) -> bool:
    """True when the sidecar of every output says it was made exactly like this."""
    try:
        sidecar = sidecar_schema.read(sidecar_schema.path(options.output))
    except NtkvizError:
        return False
    if not sidecar_schema.is_current(sidecar, config, options):
        return False
    return all(_looks_right(p, sidecar) for p in outputs(options))


def _looks_right(path: Path, sidecar: dict[str, Any]) -> bool:
    """The file decodes (headers and every GIF block, without drawing) to its sidecar's size
    and, for animations, frame count: a corrupt or replaced picture is rebuilt."""
    try:
        fmt = path.suffix.lower()
        frames, width, height = formats.probe(path, fmt)
    except Exception:  # noqa: BLE001 - anything unreadable is not current
        return False
    if fmt == ".png":
        return frames == 1
    if (width, height) != (sidecar.get("width"), sidecar.get("height")):
        return False
    wanted = sidecar.get("frames", 0) + sidecar.get("hold_frames", 0)  # as written
    if formats.find(fmt).merges:  # held frames merged: at most one picture a frame
        return isinstance(wanted, int) and 1 <= frames <= wanted
    return frames == wanted


# -- the order figures start in -----------------------------------------------------------------------

#: The figures that take longest at the post's settings, longest first: they start first in a
#: folder where no earlier build recorded how long each figure took. Only the order is kept
#: here; the measured seconds are in the README and ``python -m bench gallery``'s report.
LONG_FIRST = ("generalization", "ntk-convergence", "weight-matrix", "ntk-ellipses")


def recorded_seconds(name: str, out: Path) -> float | None:
    """How long ``name`` took when it was last built into ``out`` (simulate + render + write,
    from the sidecar of any of its outputs); None when no sidecar there says."""
    for path in sorted(out.glob(f"{name}.*.json")):
        try:
            seconds = json.loads(path.read_text()).get("seconds", {})
            total = sum(float(seconds[k]) for k in ("simulate", "render", "write"))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        if math.isfinite(total) and total >= 0:
            return total
    return None


def schedule(names: Sequence[str], out: Path) -> list[str]:
    """The figures in the order they start, so that the long ones start at once and the short
    ones fill in around them: the gallery ends when its longest figure does, not when a long
    figure started last does.

    Figures with no recorded time come first (one of them may be long): those of
    :data:`LONG_FIRST` in its order, then the others in the given order. Then the figures whose
    last build in ``out`` recorded its time, longest first (ties in the given order)."""
    recorded = {name: recorded_seconds(name, out) for name in names}
    unknown = [name for name in names if recorded[name] is None]
    known = [name for name in names if recorded[name] is not None]
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    unknown.sort(key=lambda name: rank.get(name, len(rank)))
    known.sort(key=lambda name: -recorded[name])
    return unknown + known
