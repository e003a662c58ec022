"""Frames as the formats take them: a :class:`FrameSource`, their durations, and the
``--frames-dir`` folder of numbered PNG files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ntkviz.errors import ConfigError, NtkvizError, quoted
from ntkviz.output.transaction import (
    FRAME_RE,
    TEMP_RE,
    Transaction,
    check_folder_writable,
    check_name_length,
    transaction,
)
from ntkviz.runtime.lifecycle import os_cause
from ntkviz.runtime.progress import Progress


@dataclass(frozen=True)
class FrameSource:
    """Random access to rendered frames: ``frame(i)`` is an (H, W, 3) RGB or (H, W, 4) RGBA
    uint8 array (alpha ignored), 0 <= i < count."""

    count: int
    frame: Callable[[int], np.ndarray]
    key_frame: int = 0
    info: Mapping[str, Any] = field(default_factory=dict)  # title, caption, labels: for .html
    #: Also encode a whole picture every :data:`ntkviz.output.gif.KEY_INTERVAL` frames (the
    #: .html player's keys).
    keys: bool = False
    #: The frames as GIF image blocks (:class:`ntkviz.output.gif.EncodedFrames`), by dither, once
    #: encoded (:func:`ntkviz.output.gif.encode_gif_frames`): the GIF and the player are made
    #: from the same pass, each frame drawn once. Not an init field: ``dataclasses.replace``
    #: (another count, say) starts with an empty cache.
    encoded: dict[bool, Any] = field(default_factory=dict, init=False, compare=False, repr=False)


def frame_durations_ms(count: int, fps: float, tick_ms: float) -> list[int]:
    """Per-frame delays in whole ``tick_ms`` units whose running sum tracks ``k / fps`` exactly.

    GIF counts in 10 ms ticks, WebP in 1 ms: at 30 fps a GIF gets 30, 30, 40, 30, 30, 40, ... ms,
    so the animation's length is right instead of drifting by 10 %.
    """
    ticks = np.round(np.arange(count + 1) * (1000.0 / fps) / tick_ms).astype(np.int64)
    return [int(d) for d in np.diff(ticks) * tick_ms]


def sample_indices(count: int, samples: int = 12) -> list[int]:
    return sorted(set(np.linspace(0, count - 1, min(count, samples)).round().astype(int).tolist()))


def rgb(frame: np.ndarray) -> np.ndarray:
    """An (H, W, 3) view of an RGB or RGBA frame."""
    return frame[..., :3]


def save_png(path: Path, frame: np.ndarray, palette: np.ndarray | None = None) -> None:
    """One RGB PNG by Pillow, which closes the file itself (so a failed write is one OSError
    here, not a second one from a plugin's finaliser later); with ``palette`` ((N, 3) uint8),
    ``frame`` is (H, W) indices into it, written as an indexed PNG."""
    from PIL import Image

    if palette is None:
        Image.fromarray(np.ascontiguousarray(rgb(frame))).save(path, format="PNG")
        return
    image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), mode="P")
    image.putpalette(bytes(np.asarray(palette, dtype=np.uint8).ravel()))
    image.save(path, format="PNG")


def frames_dir_foreign(folder: Path) -> list[str]:
    """What in ``folder`` ntkviz did not write: anything but frame_NNNNN.png files and
    ntkviz's own temporary files."""
    if not folder.is_dir():
        return []
    return sorted(
        e.name
        for e in os.scandir(folder)
        if not (
            (FRAME_RE.match(e.name) and e.is_file(follow_symlinks=False)) or TEMP_RE.match(e.name)
        )
    )


def check_frames_dir(folder: Path, replace: bool = False) -> None:
    """Refuse a --frames-dir that holds files ntkviz did not write, unless ``replace`` (which
    then replaces only its frame_NNNNN.png files)."""
    check_name_length(folder, "--frames-dir")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--frames-dir {quoted(folder)} exists and is not a folder")
    foreign = frames_dir_foreign(folder)
    if foreign and not replace:
        shown = ", ".join(quoted(n) for n in foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise ConfigError(
            f"--frames-dir {quoted(folder)} holds files ntkviz did not write ({shown}): choose a new or "
            "empty folder, or add --replace-frames to replace only its frame_NNNNN.png files"
        )
    if folder.is_dir():
        check_folder_writable(folder, "--frames-dir", probe_name="frames")
    else:
        check_folder_writable(folder.parent, "--frames-dir")


def write_frames_dir(
    target: Path,
    source: FrameSource,
    progress: Progress | None = None,
    tx: Transaction | None = None,
    jobs: int = 1,
    replace: bool = False,
) -> int:
    """All frames as ``frame_00000.png`` ... in the folder ``target``, drawn and compressed in
    ``jobs`` processes at once. A folder that holds anything ntkviz did not write is refused
    unless ``replace``; then only its frame_NNNNN.png files are replaced, nothing else touched."""
    from ntkviz.runtime.parallel import run_ranges

    target = Path(target)
    check_frames_dir(target, replace)
    if source.count < 1:
        raise NtkvizError(f"nothing to write to {quoted(target)}: the figure has no frames")
    progress = progress or Progress()
    with contextlib.ExitStack() as stack:
        staged = tx if tx is not None else stack.enter_context(transaction())
        folder = staged.folder(target)

        def save(start: int, stop: int, report) -> list[int]:
            for i in range(start, stop):
                save_png(folder / f"frame_{i:05d}.png", source.frame(i))
                report(1)
            return list(range(start, stop))

        try:
            with progress.stage("frames", source.count) as advance:
                run_ranges(source.count, save, jobs, advance)
            written = [folder / f"frame_{i:05d}.png" for i in range(source.count)]
            short = [p.name for p in written if not p.is_file() or p.stat().st_size == 0]
        except OSError as exc:
            raise NtkvizError(f"cannot write frames in {quoted(target)}: {os_cause(exc)}") from exc
        if short:
            raise NtkvizError(
                f"writing frames in {quoted(target)} left {short[0]} missing or empty"
            )
    return source.count
