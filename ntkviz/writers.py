"""The only code that touches output files.

Every file is written under a temporary name beside its target and renamed into place, so an
error or Ctrl-C at any point leaves an existing file untouched and no temporary file behind.
The format comes from the target's suffix: ``.gif``, ``.mp4``, ``.webp`` or ``.png``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ntkviz.errors import ConfigError, NtkvizError
from ntkviz.progress import Progress

ANIMATION_FORMATS = (".gif", ".mp4", ".webp", ".html")  # .html: the player (ntkviz.player)
FORMATS = ANIMATION_FORMATS + (".png",)
MAX_FPS = 240.0
#: GIF stores delays in 1/100 s and browsers slow any delay under 2/100 s to 1/10 s.
MAX_GIF_FPS = 50.0


@dataclass(frozen=True)
class FrameSource:
    """Random access to rendered frames: ``frame(i)`` is an (H, W, 3) RGB or (H, W, 4) RGBA
    uint8 array (alpha ignored), 0 <= i < count."""

    count: int
    frame: Callable[[int], np.ndarray]
    key_frame: int = 0
    info: Mapping[str, Any] = field(default_factory=dict)  # title, caption, labels: for .html


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = suffix or "(none)"
        raise ConfigError(
            f"unknown output format '{shown}' for {path}: use .gif, .mp4, .webp, .html or .png"
        )
    return suffix


def check_fps(fps: float, fmt: str) -> None:
    if not (0 < fps <= MAX_FPS):
        raise ConfigError(f"--fps must be > 0 and <= {MAX_FPS:g} (got {fps:g})")
    if fmt == ".gif" and fps > MAX_GIF_FPS:
        raise ConfigError(
            f"--fps {fps:g} is too fast for .gif: GIF delays are stored in 1/100 s and browsers slow "
            f"delays under 0.02 s, so use --fps <= {MAX_GIF_FPS:g}, or write .mp4 or .webp"
        )


def check_writable(path: Path, what: str) -> None:
    """Refuse early, before any computing, a target whose folder is missing or not writable."""
    if path.exists() and path.is_dir():
        raise ConfigError(f"{what} {path} is a folder, not a file")
    check_folder_writable(path.parent, what, probe_name=path.name)


def check_folder_writable(folder: Path, what: str, probe_name: str = "ntkviz") -> None:
    folder = folder if str(folder) else Path(".")
    if not folder.exists():
        raise ConfigError(f"{what} folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"{what} folder {folder} is not a folder")
    try:
        # A real probe: os.access says yes to root even on a read-only mount.
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{probe_name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{what} folder {folder} is not writable ({exc.strerror})") from None


class Transaction:
    """Outputs staged under temporary names beside their targets, renamed into place together.

    ``path(target)`` gives a temporary file (same suffix) and ``folder(target)`` a temporary
    folder; nothing appears at any target until :meth:`commit`, which runs only after every
    output was written. :meth:`abort` removes what was staged.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []

    def path(self, target: Path) -> Path:
        target = Path(target)
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=f".part{target.suffix}"
        )
        os.close(fd)
        self.pending.append((Path(name), target))
        return Path(name)

    def folder(self, target: Path) -> Path:
        target = Path(target)
        name = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.part"))
        self.pending.append((name, target))
        return name

    def commit(self) -> None:
        for tmp, target in self.pending:
            if tmp.is_file() and tmp.stat().st_size == 0:
                raise NtkvizError(f"writing {target} produced an empty file")
        for tmp, target in self.pending:
            if tmp.is_dir():
                os.chmod(tmp, 0o777 & ~_umask())
                if target.is_dir():  # a folder is replaced as a whole
                    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old"))
                    os.replace(target, old / "previous")
                    os.replace(tmp, target)
                    shutil.rmtree(old, ignore_errors=True)
                    continue
            else:
                os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        self.pending = []

    def abort(self) -> None:
        for tmp, _ in self.pending:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        self.pending = []


@contextlib.contextmanager
def transaction() -> Iterator[Transaction]:
    """Stage outputs; commit them all on success, remove them all on any exception (Ctrl-C too)."""
    staged = Transaction()
    try:
        yield staged
        staged.commit()
    except BaseException:
        staged.abort()
        raise


@contextlib.contextmanager
def atomic_target(target: Path, tx: Transaction | None = None) -> Iterator[Path]:
    """A temporary path for ``target``, staged in ``tx`` or, without one, renamed into place as
    soon as the block ends without an exception (and removed if it raises)."""
    if tx is not None:
        yield tx.path(target)
        return
    with transaction() as own:
        yield own.path(target)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def frame_durations_ms(count: int, fps: float, tick_ms: float) -> list[int]:
    """Per-frame delays in whole ``tick_ms`` units whose running sum tracks ``k / fps`` exactly.

    GIF counts in 10 ms ticks, WebP in 1 ms: at 30 fps a GIF gets 30, 30, 40, 30, 30, 40, ... ms,
    so the animation's length is right instead of drifting by 10 %.
    """
    ticks = np.round(np.arange(count + 1) * (1000.0 / fps) / tick_ms).astype(np.int64)
    return [int(d) for d in np.diff(ticks) * tick_ms]


def _sample_indices(count: int, samples: int = 12) -> list[int]:
    return sorted(set(np.linspace(0, count - 1, min(count, samples)).round().astype(int).tolist()))


def pack_colors(frame: np.ndarray) -> np.ndarray:
    """(..., 3 or 4) uint8 -> flat uint32 colour codes ``R | G << 8 | B << 16``.

    For RGBA frames (what the renderer hands over) this is a free view of the bytes, masked.
    """
    if frame.shape[-1] == 4 and frame.flags.c_contiguous:
        return frame.view(np.uint32).reshape(-1) & np.uint32(0xFFFFFF)
    rgb = frame.reshape(-1, frame.shape[-1])
    packed = rgb[:, 2].astype(np.uint32)
    packed <<= 8
    packed |= rgb[:, 1]
    packed <<= 8
    packed |= rgb[:, 0]
    return packed


def unpack_colors(codes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_colors`: (N,) codes -> (N, 3) uint8 RGB."""
    codes = codes.astype(np.uint32)
    return np.stack([codes & 255, (codes >> 8) & 255, (codes >> 16) & 255], axis=1).astype(np.uint8)


def rgb(frame: np.ndarray) -> np.ndarray:
    """An (H, W, 3) view of an RGB or RGBA frame."""
    return frame[..., :3]


def global_palette(sample: np.ndarray, exact: int = 64, colors: int = 256) -> np.ndarray:
    """A (K <= colors, 3) uint8 palette for frames like ``sample`` (N, H, W, 3 or 4).

    The ``exact`` most frequent colours (background, grid, line and text colours of a plot) are
    kept exactly, so that white stays white; the rest of the palette is a median cut of the
    remaining colours (anti-aliased edges).
    """
    from PIL import Image

    # Every 7th pixel: the frequent colours rank the same as with every pixel, at little cost.
    sample = np.asarray(sample)
    packed = pack_colors(sample.reshape(-1, sample.shape[-1])[::7])
    seen, counts = np.unique(packed, return_counts=True)
    if len(seen) <= colors:
        return unpack_colors(seen)
    top = seen[np.argsort(-counts, kind="stable")[:exact]]
    # Median-cut only the pixels whose colour is not kept exactly: far fewer pixels, and no
    # palette entries spent near the background's colour.
    top_sorted = np.sort(top)
    where = np.minimum(np.searchsorted(top_sorted, packed), len(top_sorted) - 1)
    remaining = packed[top_sorted[where] != packed]  # np.isin, 10x faster for a small set
    remaining = unpack_colors(
        remaining[:: max(1, len(remaining) // 100_000)]
    )  # plenty for 192 colours
    cut = Image.fromarray(remaining.reshape(-1, 1, 3)).quantize(
        colors=colors - exact, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    cut_colors = np.asarray(cut.getpalette()[: 3 * (colors - exact)], dtype=np.uint8).reshape(-1, 3)
    rest = np.setdiff1d(pack_colors(cut_colors), top)
    return unpack_colors(np.concatenate([top, rest])[:colors])


class PaletteMapper:
    """Maps frames to indices of a fixed palette without Pillow's reduced-precision search
    (which turns white into 252 grey).

    A colour that is in the palette maps to itself exactly (binary search over the sorted palette
    codes); any other colour (anti-aliased edges, blends) maps to the palette entry nearest to the
    centre of its 5-bit-per-channel cell, from a 32768-entry table made once with one matrix
    product, ``|c - p|^2 = |c|^2 - 2 c.p + |p|^2``. Only pixels that changed since the previous
    frame are looked up: in an animated plot that is a few percent of them.
    """

    BITS = 5

    def __init__(self, palette: np.ndarray) -> None:
        codes = pack_colors(palette.astype(np.uint8))
        self.order = np.argsort(codes, kind="stable")
        self.sorted_codes = codes[self.order]
        cells = np.arange(1 << (3 * self.BITS), dtype=np.uint32)
        step = 1 << (8 - self.BITS)
        mask = (1 << self.BITS) - 1
        centres = (
            np.stack(
                [(cells >> (2 * self.BITS)) & mask, (cells >> self.BITS) & mask, cells & mask],
                axis=1,
            ).astype(np.float32)
            * step
            + (step - 1) / 2
        )
        ref = palette.astype(np.float32)
        distance = (ref**2).sum(1)[None, :] - 2.0 * (centres @ ref.T)
        self.cell_lut = distance.argmin(1).astype(np.uint8)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def _lookup(self, codes: np.ndarray) -> np.ndarray:
        shift = 8 - self.BITS
        r, g, b = codes & 255, (codes >> 8) & 255, (codes >> 16) & 255
        cell = ((r >> shift) << (2 * self.BITS)) | ((g >> shift) << self.BITS) | (b >> shift)
        index = self.cell_lut[cell]
        where = np.minimum(np.searchsorted(self.sorted_codes, codes), len(self.sorted_codes) - 1)
        exact = self.sorted_codes[where] == codes
        index[exact] = self.order[where[exact]]
        return index

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        packed = pack_colors(frame)
        previous = self._previous
        if previous is not None and previous[0].shape == packed.shape:
            changed = np.flatnonzero(packed != previous[0])
            index = previous[1].copy()
            index[changed] = self._lookup(packed[changed])
        else:
            index = self._lookup(packed)
        self._previous = (packed, index)
        return index.reshape(frame.shape[:2])


#: The GIF palette index never given to a colour: it marks pixels a frame leaves unchanged.
TRANSPARENT = 255
#: A GIF delay is 16 bits of 1/100 s.
MAX_GIF_DELAY_MS = 65535 * 10


def _write_gif(
    tmp: Path, source: FrameSource, fps: float, dither: bool, advance, jobs: int = 1
) -> tuple[int, int]:
    """One palette for the whole animation (no colour flicker), built from evenly spaced frames.

    Each frame is stored as the rectangle that changed since the previous one, its unchanged
    pixels transparent (they compress to almost nothing), and a frame identical to the previous
    one lengthens that one's delay. Frames are drawn and compressed in ``jobs`` processes at once
    (:func:`ntkviz.parallel.run_ranges`); the file is the same for any ``jobs``.
    """
    from ntkviz.parallel import run_ranges

    sampled = {i: source.frame(i) for i in _sample_indices(source.count)}
    palette = global_palette(np.stack(list(sampled.values())), colors=TRANSPARENT)
    height, width = next(iter(sampled.values())).shape[:2]

    blank = _GifFrames(palette, dither)  # built once, before the workers fork: its table is shared

    def encode(start: int, stop: int, report) -> list[tuple[bytes, bool] | None]:
        encoder = copy.copy(blank)

        def frame(i: int) -> np.ndarray:
            return sampled[i] if i in sampled else source.frame(i)

        if start > 0:
            encoder.previous = encoder.indices(frame(start - 1))  # to know what changed
        out = []
        for i in range(start, stop):
            out.append(encoder(frame(i)))
            report(1)
        return out

    frames = run_ranges(source.count, encode, jobs, advance)
    durations = frame_durations_ms(source.count, fps, 10)
    with open(tmp, "wb") as f:
        f.write(_gif_header(width, height, palette))
        pending: tuple[bytes, bool] | None = None
        delay = 0
        for frame, duration in zip(frames, durations, strict=True):
            if frame is None and delay + duration <= MAX_GIF_DELAY_MS:
                delay += duration  # the same picture again: the previous frame stays longer
                continue
            if frame is None:  # past what one delay can hold: a frame that changes nothing
                frame = (_unchanged_block(), True)
            if pending is not None:
                f.write(_graphic_control(delay, pending[1]) + pending[0])
            pending, delay = frame, duration
        f.write(_graphic_control(delay, pending[1]) + pending[0] + b";")
    return height, width


class _GifFrames:
    """Frames -> GIF image blocks against a fixed palette: the changed rectangle only, with the
    unchanged pixels in it set to :data:`TRANSPARENT`; None for a frame identical to the last."""

    def __init__(self, palette: np.ndarray, dither: bool) -> None:
        from PIL import Image

        self.dither = dither
        self.mapper = PaletteMapper(palette)
        self.palette_image = Image.new("P", (1, 1))
        self.palette_image.putpalette(bytes(palette.astype(np.uint8).ravel()))
        self.previous: np.ndarray | None = None

    def indices(self, frame: np.ndarray) -> np.ndarray:
        """The frame as palette indices, (H, W) uint8."""
        from PIL import Image

        if not self.dither:
            return self.mapper(frame)
        image = Image.fromarray(np.ascontiguousarray(rgb(frame))).quantize(
            palette=self.palette_image, dither=Image.Dither.FLOYDSTEINBERG
        )
        return np.asarray(image)

    def __call__(self, frame: np.ndarray) -> tuple[bytes, bool] | None:
        from PIL import Image
        from PIL.GifImagePlugin import getdata

        indices = self.indices(frame)
        previous, self.previous = self.previous, indices
        if previous is None:
            block, offset, transparent = indices, (0, 0), False
        else:
            changed = indices != previous
            rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            if len(rows) == 0:
                return None
            top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            block = np.where(
                changed[top:bottom, left:right], indices[top:bottom, left:right], TRANSPARENT
            ).astype(np.uint8)
            offset, transparent = (int(left), int(top)), True
        image = Image.fromarray(np.ascontiguousarray(block), mode="L")
        return b"".join(getdata(image, offset)), transparent


def _unchanged_block() -> bytes:
    """A 1 x 1 transparent image block: a frame that leaves the picture as it is."""
    from PIL import Image
    from PIL.GifImagePlugin import getdata

    image = Image.fromarray(np.full((1, 1), TRANSPARENT, dtype=np.uint8), mode="L")
    return b"".join(getdata(image, (0, 0)))


def _gif_header(width: int, height: int, palette: np.ndarray) -> bytes:
    """GIF89a, the screen size, a 256-entry global colour table and "loop forever"."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(palette)] = palette
    screen = struct.pack("<HHBBB", width, height, 0xF7, 0, 0)  # global table, 8 bits, 256 colours
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00"
    return b"GIF89a" + screen + table.tobytes() + loop


def _graphic_control(delay_ms: int, transparent: bool) -> bytes:
    """A frame's delay (in 1/100 s), disposal 1 (leave it in place) and its transparent index."""
    flags = (1 << 2) | (1 if transparent else 0)
    return b"!\xf9\x04" + struct.pack("<BHB", flags, round(delay_ms / 10), TRANSPARENT) + b"\x00"


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """Pad (never stretch) to even height and width, as yuv420p needs, with the edge colour."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _write_mp4(tmp: Path, source: FrameSource, fps: float, advance) -> tuple[int, int]:
    import imageio.v2 as iio2

    writer = iio2.get_writer(
        tmp,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        macro_block_size=1,
        quality=None,
        ffmpeg_log_level="error",
        output_params=["-crf", "18", "-preset", "medium", "-movflags", "+faststart"],
    )
    try:
        for i in range(source.count):
            frame = _pad_even(np.ascontiguousarray(rgb(source.frame(i))))
            writer.append_data(frame)
            advance(1)
    finally:
        writer.close()
    return frame.shape[:2]


def _write_webp(tmp: Path, source: FrameSource, fps: float, advance) -> tuple[int, int]:
    """Lossless animated WebP. libwebp's fastest lossless setting (method 0, quality 100):
    18x faster to encode than its default effort on our plots, for files about 40 % larger
    (40 init-functions frames: 0.45 s and 3.5 MB against 8 s and 2.5 MB)."""
    from PIL import Image

    images = []
    for i in range(source.count):  # kept as compact RGB images, not the renderer's RGBA arrays
        images.append(Image.fromarray(np.ascontiguousarray(rgb(source.frame(i)))))
        advance(1)
    images[0].save(
        tmp,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        lossless=True,
        quality=100,
        method=0,
        duration=frame_durations_ms(source.count, fps, 1),
        loop=0,
    )
    return images[0].height, images[0].width


def _write_html(tmp: Path, source: FrameSource, fps: float, advance, target: Path):
    from ntkviz.player import write_html

    return write_html(tmp, source, fps, advance, target)


def write_png(target: Path, frame: np.ndarray, tx: Transaction | None = None) -> None:
    import imageio.v3 as iio

    with atomic_target(target, tx) as tmp:
        iio.imwrite(tmp, np.ascontiguousarray(rgb(frame)), plugin="pillow", extension=".png")


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
    """Write ``source`` to ``target`` in the format its suffix names; return what was written.

    ``jobs``: processes that draw and compress GIF frames at once (the file does not change).

    ``.png`` writes the key frame only. Returns {"format", "frames", "width", "height", "bytes"}.
    With ``tx`` the file is staged there and appears only when the transaction commits.
    """
    target = Path(target)
    fmt = output_format(target)
    check_fps(fps, fmt)
    progress = progress or Progress()
    frames = 1 if fmt == ".png" else source.count
    with (
        progress.stage(f"render {fmt.lstrip('.')}", frames) as advance,
        atomic_target(target, tx) as tmp,
    ):
        if fmt == ".png":
            import imageio.v3 as iio

            still = source.frame(source.key_frame)
            iio.imwrite(tmp, np.ascontiguousarray(rgb(still)), plugin="pillow", extension=".png")
            height, width = still.shape[:2]
            advance(1)
        else:
            write = {
                ".gif": lambda: _write_gif(tmp, source, fps, dither, advance, jobs),
                ".mp4": lambda: _write_mp4(tmp, source, fps, advance),
                ".webp": lambda: _write_webp(tmp, source, fps, advance),
                ".html": lambda: _write_html(tmp, source, fps, advance, target),
            }[fmt]
            height, width = write()
        size = tmp.stat().st_size
    return {
        "format": fmt.lstrip("."),
        "frames": frames,
        "width": int(width),
        "height": int(height),
        "bytes": size,
    }


def write_frames_dir(
    target: Path,
    source: FrameSource,
    progress: Progress | None = None,
    tx: Transaction | None = None,
    jobs: int = 1,
) -> int:
    """All frames as ``frame_00000.png`` ... in the folder ``target``, replaced as a whole;
    drawn and compressed in ``jobs`` processes at once."""
    import imageio.v3 as iio

    from ntkviz.parallel import run_ranges

    progress = progress or Progress()
    with contextlib.ExitStack() as stack:
        staged = tx if tx is not None else stack.enter_context(transaction())
        folder = staged.folder(Path(target))

        def save(start: int, stop: int, report) -> list[int]:
            for i in range(start, stop):
                iio.imwrite(
                    folder / f"frame_{i:05d}.png",
                    np.ascontiguousarray(rgb(source.frame(i))),
                    plugin="pillow",
                    extension=".png",
                )
                report(1)
            return list(range(start, stop))

        with progress.stage("frames", source.count) as advance:
            run_ranges(source.count, save, jobs, advance)
    return source.count


def write_json(target: Path, payload: dict[str, Any], tx: Transaction | None = None) -> None:
    with atomic_target(target, tx) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def write_npz(
    target: Path,
    arrays: dict[str, np.ndarray],
    metadata: dict[str, Any],
    tx: Transaction | None = None,
) -> None:
    """The arrays behind a figure, plus ``metadata`` as a JSON string under ``__config__``."""
    with atomic_target(target, tx) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, __config__=np.array(json.dumps(metadata)), **arrays)
        with zipfile.ZipFile(tmp) as archive:  # fail here, not in the user's notebook
            archive.testzip()
