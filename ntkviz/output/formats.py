"""The registry of output formats: one class per format, found by the target's suffix.

Each class says which suffixes it writes, where it may be named (``-o``, ``--still``, ``--data``,
``--frames-dir``, the sidecar), checks its options (``--fps`` limits), writes and then checks
what it wrote before it replaces anything. Every list of formats (messages, the registry, the
gallery) is read from here: a new format is one class with :func:`register`.

Every file is staged under a temporary name (:mod:`ntkviz.output.transaction`) and appears only
when it decoded back to what was meant.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ntkviz.errors import ConfigError, NtkvizError, quoted
from ntkviz.output import frames, gif, mp4, player, vector, webp
from ntkviz.output.frames import FrameSource
from ntkviz.output.transaction import Transaction, atomic_target
from ntkviz.runtime.lifecycle import os_cause
from ntkviz.runtime.progress import Progress

MAX_FPS = 240.0
#: One frame per 100 s at the slowest: a GIF delay holds at most 655 s, and ffmpeg's rate 0.01.
MIN_FPS = 0.01
#: GIF stores delays in 1/100 s and browsers slow any delay under 2/100 s to 1/10 s.
MAX_GIF_FPS = 50.0


@dataclass(frozen=True)
class Frames:
    """What a run hands to each of its outputs: the frames, their rate, and the renderer
    itself for the formats that draw the figure again (vector graphics)."""

    source: FrameSource
    fps: float
    renderer: Any = None
    dither: bool = False
    progress: Progress | None = None
    jobs: int = 1  # processes that draw and compress GIF frames at once (the file does not change)


class Format:
    """A format: its suffixes, where it may be named, its checks, its writer and its probe."""

    suffixes: ClassVar[tuple[str, ...]] = ()
    #: Where it may be named: "output" (``-o``, and more animations of the same run), "still",
    #: "data", "sidecar", "frames-dir".
    roles: ClassVar[frozenset[str]] = frozenset()
    #: Every frame (an animation), else one picture.
    animated: ClassVar[bool] = False
    #: Drawn as vector graphics (not pixels).
    vector: ClassVar[bool] = False
    #: Made from the GIF encoding's whole pictures too (:attr:`FrameSource.keys`).
    keys: ClassVar[bool] = False
    #: A run of identical frames is one picture shown longer: the file holds at least one
    #: picture and at most one a frame.
    merges: ClassVar[bool] = False

    def check(self, fps: float) -> None:
        """Refuse, before any computing, options this format cannot write."""
        if not (0 < fps <= MAX_FPS):
            raise ConfigError(f"--fps must be > 0 and <= {MAX_FPS:g} (got {fps:g})")
        if fps < MIN_FPS:
            raise ConfigError(
                f"--fps must be at least {MIN_FPS:g}, one frame per 100 s (got {fps:g})"
            )

    def write(self, target: Path, run: Frames, tx: Transaction | None = None) -> dict[str, Any]:
        """Write ``run`` to ``target`` (staged in ``tx``); return {"format", "frames", "width",
        "height", "bytes"}. Formats with the role "output"."""
        raise NotImplementedError(type(self).__name__)

    def write_still(self, target: Path, run: Frames, tx: Transaction | None = None) -> None:
        """Write the key frame alone to ``target``. Formats with the role "still"."""
        raise NotImplementedError(type(self).__name__)

    def probe(self, path: Path) -> tuple[int, int, int]:
        """(frames, width, height) of a written file, without decoding its pictures."""
        raise NtkvizError(f"{quoted(path.name)}: its format cannot be probed")


#: The formats, in the order messages and the registry list them.
REGISTRY: list[Format] = []


def register(cls: type[Format]) -> type[Format]:
    """Class decorator: add one instance of ``cls`` to :data:`REGISTRY`."""
    REGISTRY.append(cls())
    return cls


def suffixes(role: str = "output", *, animated: bool | None = None) -> tuple[str, ...]:
    """The suffixes that may be named in ``role`` (only the animated or still ones if asked)."""
    return tuple(
        s
        for f in REGISTRY
        if role in f.roles and (animated is None or f.animated == animated)
        for s in f.suffixes
    )


def or_list(items: tuple[str, ...]) -> str:
    """'.a, .b or .c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def find(suffix: str) -> Format | None:
    """The format that writes ``suffix`` (any role), or None."""
    return next((f for f in REGISTRY if suffix.lower() in f.suffixes), None)


def lookup(path: Path, role: str = "output") -> Format:
    """The format of ``path`` (by its suffix) if it may be named in ``role``; else one line
    naming those that may."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = find(suffix)
    if fmt is not None and role in fmt.roles:
        return fmt
    allowed = or_list(suffixes(role))
    if role == "output":
        shown = repr(suffix or "(none)")
        raise ConfigError(f"unknown output format {shown} for {quoted(path)}: use {allowed}")
    raise ConfigError(f"--{role} must name a {allowed} file (got {quoted(path)})")


def output_format(path: Path) -> str:
    """The suffix of an output (``-o``) path, refused unless a format writes it."""
    lookup(path)
    return Path(path).suffix.lower()


def check_fps(fps: float, suffix: str) -> None:
    fmt = find(suffix)
    (fmt or Format()).check(fps)


def probe(path: Path, suffix: str | None = None) -> tuple[int, int, int]:
    """(frames, width, height) of a written file, by the format of ``suffix`` (else the path's)."""
    suffix = (suffix or Path(path).suffix).lower()
    fmt = find(suffix)
    if fmt is None:
        raise NtkvizError(f"{quoted(Path(path).name)}: no format writes {suffix!r}")
    return fmt.probe(Path(path))


# -- pictures made from the rendered frames ------------------------------------------------------------


class Raster(Format):
    """A format made of the renderer's frames (pixels): the stage, the staging, the check."""

    roles = frozenset({"output"})

    def pictures(self, source: FrameSource) -> int:
        """Frames this format draws from the source."""
        return source.count

    def encode(self, tmp: Path, run: Frames, advance, target: Path) -> tuple[int, int, int | None]:
        """Write ``tmp``; return (height, width, pictures it holds; None: at most one a frame)."""
        raise NotImplementedError

    def write(self, target: Path, run: Frames, tx: Transaction | None = None) -> dict[str, Any]:
        target = Path(target)
        suffix = target.suffix.lower()
        self.check(run.fps)
        progress = run.progress or Progress()
        if run.source.count < 1:
            raise NtkvizError(f"nothing to write to {quoted(target)}: the figure has no frames")
        count = self.pictures(run.source)
        with (
            progress.stage(f"render {suffix.lstrip('.')}", count) as advance,
            atomic_target(target, tx) as tmp,
        ):
            try:
                height, width, held = self.encode(tmp, run, advance, target)
                self.verify(tmp, held, int(width), int(height), target)
                size = tmp.stat().st_size
            except OSError as exc:
                raise NtkvizError(f"cannot write {quoted(target)}: {os_cause(exc)}") from exc
        return {
            "format": suffix.lstrip("."),
            "frames": count,
            "width": int(width),
            "height": int(height),
            "bytes": size,
        }

    def verify(self, path: Path, frames: int | None, width: int, height: int, target: Path) -> None:
        """Decode cheaply what was written (container, frame count, size) and raise one line if
        it is not what was meant; ``target`` is the name the message uses."""
        try:
            got_frames, got_width, got_height = self.probe(path)
        except NtkvizError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder error means a broken file
            raise NtkvizError(
                f"writing {quoted(target)} produced a file that does not decode ({exc})"
            ) from None
        if frames is None:  # merged pictures (the player): at least one, at most one a frame
            frames = got_frames if got_frames >= 1 else 1
        if (got_width, got_height) != (width, height) or got_frames != frames:
            raise NtkvizError(
                f"writing {quoted(target)} produced a broken file: {got_frames} frame(s) of "
                f"{got_width}x{got_height} px where {frames} of {width}x{height} were written"
            )

    def probe(self, path: Path) -> tuple[int, int, int]:
        """By Pillow, from the headers."""
        from PIL import Image

        with Image.open(path) as im:
            return getattr(im, "n_frames", 1), im.size[0], im.size[1]


@register
class Gif(Raster):
    """Each frame the rectangle that changed, against one palette; held frames merged."""

    suffixes = (".gif",)
    animated = True
    merges = True

    def check(self, fps: float) -> None:
        super().check(fps)
        if fps > MAX_GIF_FPS:
            raise ConfigError(
                f"--fps {fps:g} is too fast for .gif: GIF delays are stored in 1/100 s and "
                f"browsers slow delays under 0.02 s, so use --fps <= {MAX_GIF_FPS:g}, or write "
                ".mp4 or .webp"
            )

    def encode(self, tmp, run, advance, target):
        return gif.write_gif(tmp, run.source, run.fps, run.dither, advance, run.jobs)

    def probe(self, path):
        return gif.probe_gif(path)


@register
class Mp4(Raster):
    """H.264 by ffmpeg."""

    suffixes = (".mp4",)
    animated = True

    def encode(self, tmp, run, advance, target):
        height, width = mp4.write_mp4(tmp, run.source, run.fps, advance, target)
        return height, width, run.source.count

    def probe(self, path):
        return mp4.probe_mp4(path)


@register
class WebP(Raster):
    """Lossless animated WebP; a run of identical frames is one picture shown longer."""

    suffixes = (".webp",)
    animated = True
    merges = True

    def encode(self, tmp, run, advance, target):
        return webp.write_webp(tmp, run.source, run.fps, advance)


@register
class Html(Raster):
    """The offline player page (:mod:`ntkviz.output.player`)."""

    suffixes = (".html",)
    animated = True
    keys = True
    merges = True

    def encode(self, tmp, run, advance, target):
        height, width = player.write_html(
            tmp, run.source, run.fps, advance, target, dither=run.dither, jobs=run.jobs
        )
        return height, width, None  # the player merges held frames: at most one a frame

    def probe(self, path):
        data = player.read_html(path)
        return len(data["frames"]), int(data["width"]), int(data["height"])


@register
class Png(Raster):
    """The key frame as a PNG: as ``-o`` or as ``--still``."""

    suffixes = (".png",)
    roles = frozenset({"output", "still"})

    def pictures(self, source):
        return 1

    def encode(self, tmp, run, advance, target):
        still = run.source.frame(run.source.key_frame)
        frames.save_png(tmp, still)
        advance(1)
        return still.shape[0], still.shape[1], 1

    def write_still(self, target, run, tx=None):
        still = run.source.frame(run.source.key_frame)
        # Beside a GIF or a player of the same run, the still is their key frame as they show
        # it, in their palette: the same pixels (the gallery's overview shows it for the player's
        # opening picture) at ~0.4 of a full-colour PNG's bytes. Alone (or beside an MP4 or
        # WebP), every colour the frame has.
        encoded = run.source.encoded.get(run.dither)
        palette = None
        if encoded is not None:
            still, palette = gif.as_shown(still, encoded, run.dither), encoded.palette
        with atomic_target(target, tx) as tmp:
            try:
                frames.save_png(tmp, still, palette)
                self.verify(tmp, 1, still.shape[1], still.shape[0], target)
            except OSError as exc:
                raise NtkvizError(f"cannot write {quoted(target)}: {os_cause(exc)}") from exc

    def probe(self, path):
        from PIL import Image

        with Image.open(path) as im:
            im.verify()
            return 1, im.size[0], im.size[1]


@register
class Vector(Format):
    """The key frame as PDF or SVG, drawn again by the renderer (text stays text)."""

    suffixes = vector.SUFFIXES
    roles = frozenset({"output", "still"})
    vector = True

    def write(self, target, run, tx=None):
        return vector.write_vector(target, run.renderer, tx=tx)

    def write_still(self, target, run, tx=None):
        vector.write_vector(target, run.renderer, tx=tx)


# -- more files of a run: the frames folder, the numbers, the sidecar ----------------------------------


@register
class FramesFolder(Format):
    """``--frames-dir``: every distinct frame as frame_NNNNN.png (no suffix: a folder)."""

    roles = frozenset({"frames-dir"})

    def check_folder(self, folder: Path, replace: bool = False) -> None:
        frames.check_frames_dir(folder, replace)

    def write_folder(
        self,
        target: Path,
        source: FrameSource,
        progress: Progress | None = None,
        tx: Transaction | None = None,
        jobs: int = 1,
        replace: bool = False,
    ) -> int:
        return frames.write_frames_dir(target, source, progress, tx=tx, jobs=jobs, replace=replace)


@register
class Npz(Format):
    """``--data``: the arrays behind a figure, its config as JSON under ``__config__``."""

    suffixes = (".npz",)
    roles = frozenset({"data"})

    def write_data(
        self,
        target: Path,
        arrays: dict[str, np.ndarray],
        metadata: dict[str, Any],
        tx: Transaction | None = None,
    ) -> None:
        with atomic_target(target, tx) as tmp:
            try:
                with open(tmp, "wb") as handle:
                    np.savez_compressed(handle, __config__=np.array(json.dumps(metadata)), **arrays)
                with zipfile.ZipFile(tmp) as archive:  # fail here, not in the user's notebook
                    if archive.testzip() is not None:
                        raise NtkvizError(f"writing {quoted(target)} produced a broken archive")
            except OSError as exc:
                raise NtkvizError(f"cannot write {quoted(target)}: {os_cause(exc)}") from exc


@register
class Json(Format):
    """The sidecar: what was written and how (its fields: :mod:`ntkviz.pipeline`)."""

    suffixes = (".json",)
    roles = frozenset({"sidecar"})

    def write_data(
        self, target: Path, payload: dict[str, Any], tx: Transaction | None = None
    ) -> None:
        with atomic_target(target, tx) as tmp:
            try:
                tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
            except OSError as exc:
                raise NtkvizError(f"cannot write {quoted(target)}: {os_cause(exc)}") from exc


FORMATS = suffixes("output")
ANIMATION_FORMATS = suffixes("output", animated=True)
STILL_FORMATS = suffixes("still")
VECTOR_FORMATS = vector.SUFFIXES
#: ``--frames-dir``: a folder, found by its role rather than a suffix.
FRAMES_FOLDER = next(f for f in REGISTRY if isinstance(f, FramesFolder))


def write_animation(
    target: Path,
    source: FrameSource,
    fps: float,
    *,
    dither: bool = False,
    progress: Progress | None = None,
    tx: Transaction | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Write ``source`` to ``target`` in the format its suffix names (``.png``: the key frame);
    return {"format", "frames", "width", "height", "bytes"}. With ``tx`` the file is staged
    there and appears only when the transaction commits."""
    run = Frames(source, fps, dither=dither, progress=progress, jobs=jobs)
    return lookup(target).write(Path(target), run, tx)
