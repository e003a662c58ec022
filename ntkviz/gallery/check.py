"""The checks CI runs on a built gallery: every file decodes and agrees with its sidecar
(:func:`validate`), and every picture is close to the committed gallery's (:func:`compare`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ntkviz.errors import ConfigError, NtkvizError, quoted
from ntkviz.gallery.plan import read_sidecar
from ntkviz.output import formats
from ntkviz.output.pacing import gif_problems


def _frames(path: Path) -> Iterator[np.ndarray]:
    """The frames of an image or animation one at a time, (H, W, 3) uint8, decoded by
    imageio-ffmpeg or Pillow (one frame in memory at a time: a 1001-frame GIF is 1.7 GB whole)."""
    if path.suffix == ".html":  # the player's pictures, composited as the browser does
        from ntkviz.output.player import decode_frames, read_html

        yield from decode_frames(read_html(path))
        return
    if path.suffix == ".mp4":
        import imageio.v2 as iio2

        reader = iio2.get_reader(path, format="FFMPEG")
        try:
            yield from reader
        finally:
            reader.close()
        return
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            yield np.asarray(frame.convert("RGB"))


def _shape(path: Path) -> tuple[int, int, int]:
    """(frames, height, width), decoding every frame."""
    count, height, width = 0, 0, 0
    for frame in _frames(path):
        count += 1
        height, width = frame.shape[:2]
    return count, height, width


def _picture_problem(path: Path, frames: int, width: int, height: int) -> str | None:
    """Why ``path`` is not the picture its sidecar describes (None when it is): it does not
    decode, or its size or frame count differ. Decodes every frame."""
    try:
        count, got_height, got_width = _shape(path)
    except Exception as exc:  # noqa: BLE001 - any decoder error is the finding
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return f"{quoted(path.name)}: does not decode ({reason})"
    if (got_width, got_height) != (width, height):
        return f"{quoted(path.name)}: {got_width}x{got_height} px, sidecar says {width}x{height}"
    # GIF, WebP and the player merge identical consecutive frames: they may hold fewer than drawn
    fmt = formats.find(path.suffix)
    merges = fmt is not None and fmt.merges
    if (not merges and count != frames) or (merges and not 1 <= count <= frames):
        return f"{quoted(path.name)}: {count} frames, sidecar says {frames}"
    return None


IMAGE_SUFFIXES = (".gif", ".png", ".mp4", ".webp")


def validate(out: Path) -> list[str]:
    """Problems with a gallery folder, one line each, never an exception: sidecars that are not
    sidecars, files that are missing, do not decode or disagree with their sidecar, pictures no
    sidecar names, layout problems (:mod:`ntkviz.drawing.layout`) found when a figure was built,
    and pacing problems of its GIFs (:mod:`ntkviz.output.pacing`)."""
    problems: list[str] = []
    try:
        sidecars = sorted(p for p in out.glob("*.json") if not p.name.startswith("."))
    except OSError as exc:
        return [f"{quoted(out)}: cannot be read ({exc.strerror})"]
    if not sidecars:
        return [f"{quoted(out)}: no sidecars, so no figures"]
    named: set[str] = set()
    for sidecar_file in sidecars:
        main = out / sidecar_file.name[: -len(".json")]
        try:
            sidecar = read_sidecar(sidecar_file)
        except NtkvizError as exc:
            problems.append(str(exc))
            named.add(main.name)
            continue
        files = [main, *(out / Path(str(p)).name for p in sidecar.get("also") or [])]
        named.update(p.name for p in files)
        for path in files:
            if not path.is_file():
                problems.append(f"{quoted(path.name)}: missing (its sidecar is there)")
                continue
            written = sidecar["frames"] + int(sidecar.get("hold_frames") or 0)
            problem = _picture_problem(path, written, sidecar["width"], sidecar["height"])
            if problem:
                problems.append(problem)
        for problem in sidecar.get("layout") or []:
            problems.append(f"{quoted(main.name)}: layout: {problem}")
        if main.suffix == ".gif" and main.is_file():
            problems += [f"{quoted(main.name)}: {p}" for p in gif_problems(main, sidecar)]
        if sidecar.get("still"):
            still = out / Path(sidecar["still"]).name
            named.add(still.name)
            if not still.is_file():
                problems.append(f"{quoted(still.name)}: missing (the sidecar names it)")
            else:
                try:
                    from ntkviz.output import formats

                    formats.probe(still, ".png")
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"{quoted(still.name)}: does not decode ({exc})")
    for path in sorted(out.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.name not in named:
            problems.append(f"{quoted(path.name)}: a stray file (no sidecar names it)")
    for path in sorted(out.glob("explore-*.html")):
        problems += explore_problems(path)
    return problems + _spreads(out, sidecars)


def explore_problems(path: Path, limit: int | None = None) -> list[str]:
    """Problems with an explore page (``ntkviz explore``), one line each: over ``limit`` bytes
    (the gallery's :data:`ntkviz.gallery.plan.EXPLORE_MAX_BYTES`), not one variant for each
    combination of its sliders' values, variants that play for different times, or a picture that
    does not decode or lies outside the canvas. Decodes every variant's every frame."""
    from ntkviz.gallery.plan import EXPLORE_MAX_BYTES
    from ntkviz.output.explorer import variant_data
    from ntkviz.output.player import decode_frames, read_html

    limit = EXPLORE_MAX_BYTES if limit is None else limit
    name = quoted(path.name)
    size = path.stat().st_size
    problems = []
    if size > limit:
        problems.append(f"{name}: {size / 1e6:.1f} MB, over the gallery's {limit / 1e6:.0f} MB")
    try:
        data = read_html(path)
        variants, axes = data["variants"], data["axes"]
        combos = math.prod(len(a["values"]) for a in axes)
        if not axes or len(variants) != combos:
            return [*problems, f"{name}: {len(variants)} variants for {combos} slider positions"]
        lengths = set()
        for n in range(len(variants)):
            one = variant_data(data, n)
            lengths.add(sum(entry["ms"] for entry in one["frames"]))
            for entry in one["frames"]:
                if entry.get("x", 0) < 0 or entry.get("y", 0) < 0:
                    raise ValueError(f"variant {n}: a picture outside the canvas")
            for frame in decode_frames(one):
                if frame.shape[:2] != (data["height"], data["width"]):
                    raise ValueError(f"variant {n}: a picture of another size")
    except Exception as exc:  # noqa: BLE001 - anything unreadable is the finding
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return [*problems, f"{name}: does not decode ({reason})"]
    if len(lengths) != 1:
        shown = ", ".join(f"{ms / 1000:g}" for ms in sorted(lengths))
        problems.append(f"{name}: variants that play for different times ({shown} s)")
    return problems


def _spreads(out: Path, sidecars: list[Path]) -> list[str]:
    """A full gallery (every figure, at the post's settings) whose README states fewer spreads
    than :data:`ntkviz.gallery.index.MIN_SPREADS`: one line; nothing for a partial or quick one."""
    from ntkviz import registry
    from ntkviz.gallery.index import spread_problem

    made, quick = set(), False
    for path in sidecars:
        try:
            record = read_sidecar(path)
        except NtkvizError:
            continue
        made.add(record.get("figure"))
        quick = quick or record.get("quick") is True
    readme = out / "README.md"
    if quick or not set(registry.figures()) <= made or not readme.is_file():
        return []
    try:
        problem = spread_problem(readme.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return [f"'README.md': cannot be read ({exc.strerror})"]
    return [problem] if problem else []


def check_reference(reference: Path) -> None:
    """Refuse, before anything is built, a --check folder that cannot be compared with."""
    if not reference.exists():
        raise ConfigError(f"--check folder {quoted(reference)} does not exist")
    if not reference.is_dir():
        raise ConfigError(f"--check {quoted(reference)} is not a folder")
    try:
        next(iter(reference.iterdir()), None)
    except OSError as exc:
        raise ConfigError(
            f"--check folder {quoted(reference)} cannot be read ({exc.strerror})"
        ) from None


def check_tolerance(tolerance: float) -> None:
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ConfigError(
            f"--tolerance must be a finite number >= 0, a mean pixel difference in 0-255 "
            f"(got {tolerance:g})"
        )


def compare(built: Path, reference: Path, tolerance: float = 2.0) -> list[str]:
    """Figures in ``built`` that differ from ``reference`` by more than ``tolerance`` (mean
    absolute difference per pixel channel, 0-255) or in shape/frame count; a file on either
    side that does not decode is a finding too, never an exception."""
    check_tolerance(tolerance)
    changed = []
    try:
        paths = sorted(reference.iterdir())
    except OSError as exc:
        return [f"{quoted(reference)}: cannot be read ({exc.strerror})"]
    for path in paths:
        if path.suffix not in IMAGE_SUFFIXES or path.name.startswith("."):
            continue
        other = built / path.name
        if not other.exists():
            changed.append(f"{quoted(path.name)}: not rebuilt")
            continue
        total, count, shapes = 0.0, 0, set()
        missing = object()
        try:
            for a, b in itertools.zip_longest(_frames(path), _frames(other), fillvalue=missing):
                if a is missing or b is missing or a.shape != b.shape:
                    shapes.add("frame count or size")
                    break
                total += float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
                count += 1
        except Exception as exc:  # noqa: BLE001 - a corrupt file on either side is a finding
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            changed.append(
                f"{quoted(path.name)}: cannot be compared, a file does not decode ({reason})"
            )
            continue
        if shapes:
            changed.append(
                f"{quoted(path.name)}: {', '.join(shapes)} differ from the committed file"
            )
            continue
        diff = total / max(count, 1)
        if diff > tolerance:
            changed.append(f"{quoted(path.name)}: mean pixel difference {diff:.2f} > {tolerance}")
    return changed


def byte_equality(built: Path, reference: Path) -> tuple[list[str], list[str]]:
    """(files byte-identical to the committed ones, files that differ): the pictures and
    sidecars of ``reference`` that ``built`` has too. Information, not a verdict: a rebuild on
    another CPU differs in its last bits unless the pins held for both builds."""
    same, differ = [], []
    try:
        paths = sorted(reference.iterdir())
    except OSError:
        return [], []
    for path in paths:
        if path.suffix not in IMAGE_SUFFIXES or path.name.startswith("."):
            continue
        other = built / path.name
        try:
            (same if other.read_bytes() == path.read_bytes() else differ).append(path.name)
        except OSError:
            continue
    return same, differ


def pins_of(folder: Path) -> str:
    """Whether the pinned code paths held for every figure of ``folder`` (as its sidecars
    record, :mod:`ntkviz.runtime.pins`), and on which CPU(s) they were made, in words."""
    held, cpus, count = 0, set(), 0
    for path in sorted(folder.glob("*.json")):
        try:
            record = read_sidecar(path)
        except NtkvizError:
            continue
        count += 1
        pins = record.get("pins")
        held += isinstance(pins, dict) and pins.get("in_force") is True
        cpus.add(record.get("cpu") or "an unrecorded CPU")
    where = ", ".join(sorted(cpus)) or "no CPU recorded"
    if count and held == count:
        return f"pinned ({where})"
    if held:
        return f"pinned for {held} of {count} figures ({where})"
    return f"not pinned ({where})"


def byte_report(built: Path, reference: Path) -> str:
    """One line for ``gallery --check``: how many files are byte-identical to the committed
    ones, which differ, and whether the pins held for both builds."""
    same, differ = byte_equality(built, reference)
    total = len(same) + len(differ)
    shown = ", ".join(differ[:6]) + (f" and {len(differ) - 6} more" if len(differ) > 6 else "")
    line = f"{len(same)} of {total} files byte-identical to {quoted(reference)}"
    if differ:
        line += f" (differ: {shown})"
    line += f"; this build {pins_of(built)}, the committed one {pins_of(reference)}"
    if differ:
        line += "; information only, the check's verdict is the tolerance above"
    return line
