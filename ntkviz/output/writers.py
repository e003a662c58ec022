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
import re
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
from ntkviz.runtime.lifecycle import child_preexec, os_cause, pid_alive, quiet_section
from ntkviz.runtime.progress import Progress

ANIMATION_FORMATS = (".gif", ".mp4", ".webp", ".html")  # .html: the player (ntkviz.output.player)
VECTOR_FORMATS = (".pdf", ".svg")  # the key frame as vector graphics (text as text)
STILL_FORMATS = (".png",) + VECTOR_FORMATS
FORMATS = ANIMATION_FORMATS + STILL_FORMATS
MAX_FPS = 240.0
#: One frame per 100 s at the slowest: a GIF delay holds at most 655 s, and ffmpeg's rate 0.01.
MIN_FPS = 0.01
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
    #: Also encode a whole picture every :data:`KEY_INTERVAL` frames (the .html player's keys).
    keys: bool = False
    #: The frames as GIF image blocks, by dither, once encoded (:func:`encode_gif_frames`): the
    #: GIF and the player are made from the same pass, each frame drawn once. Not an init field:
    #: ``dataclasses.replace`` (another count, say) starts with an empty cache.
    encoded: dict[bool, EncodedFrames] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = suffix or "(none)"
        raise ConfigError(
            f"unknown output format '{shown}' for {path}: "
            "use .gif, .mp4, .webp, .html, .png, .pdf or .svg"
        )
    return suffix


def check_fps(fps: float, fmt: str) -> None:
    if not (0 < fps <= MAX_FPS):
        raise ConfigError(f"--fps must be > 0 and <= {MAX_FPS:g} (got {fps:g})")
    if fps < MIN_FPS:
        raise ConfigError(f"--fps must be at least {MIN_FPS:g}, one frame per 100 s (got {fps:g})")
    if fmt == ".gif" and fps > MAX_GIF_FPS:
        raise ConfigError(
            f"--fps {fps:g} is too fast for .gif: GIF delays are stored in 1/100 s and browsers slow "
            f"delays under 0.02 s, so use --fps <= {MAX_GIF_FPS:g}, or write .mp4 or .webp"
        )


def check_writable(path: Path, what: str) -> None:
    """Refuse early, before any computing, a target whose folder is missing or not writable,
    or that is a folder (a file cannot replace it)."""
    if path.is_dir():
        raise ConfigError(
            f"{what} {path} is a folder, not a file: remove it or choose another name"
        )
    check_folder_writable(path.parent, what, probe_name=path.name)


def check_folder_writable(folder: Path, what: str, probe_name: str = "ntkviz") -> None:
    folder = folder if str(folder) else Path(".")
    if not folder.exists():
        raise ConfigError(f"{what} folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"{what} folder {folder} is not a folder")
    try:
        # A real probe: os.access says yes to root even on a read-only mount.
        fd, probe = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(probe_name), suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{what} folder {folder} is not writable ({exc.strerror})") from None


# -- temporary names, and sweeping the ones a killed run left ----------------------------------------

#: ``.<target name>.ntkviz-<pid>-<random>.part<suffix>`` (staged), ``.old`` (a kept previous
#: file while a set of outputs is committed), ``.probe``: the pid says whose it is, so a later
#: run removes only those whose process is gone.
TEMP_RE = re.compile(r"^\..*\.ntkviz-(\d+)-[a-z0-9_]+\.(part|old|probe)(\..*)?$")
#: The frames of ``--frames-dir``: a folder holding only these (and ntkviz's temporary files)
#: is ntkviz's own, replaced freely; anything else in it is the user's and never touched.
FRAME_RE = re.compile(r"^frame_\d{5,}\.png$")


def _temp_prefix(name: str) -> str:
    return f".{name}.ntkviz-{os.getpid()}-"


def is_stale_temp(name: str) -> bool:
    """A temporary file of an ntkviz process that no longer exists."""
    match = TEMP_RE.match(name)
    return bool(match) and not pid_alive(int(match.group(1)))


def sweep_stale(folder: Path) -> list[str]:
    """Remove the temporary files and folders that killed ntkviz runs left in ``folder``
    (never one of a live process, never anything else); returns their names."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_stale_temp(entry.name):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
    return removed


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
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--frames-dir {folder} exists and is not a folder")
    foreign = frames_dir_foreign(folder)
    if foreign and not replace:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise ConfigError(
            f"--frames-dir {folder} holds files ntkviz did not write ({shown}): choose a new or "
            "empty folder, or add --replace-frames to replace only its frame_NNNNN.png files"
        )
    if folder.is_dir():
        check_folder_writable(folder, "--frames-dir", probe_name="frames")
    else:
        check_folder_writable(folder.parent, "--frames-dir")


# -- staging and committing a set of outputs ---------------------------------------------------------


@dataclass
class _Staged:
    tmp: Path
    target: Path
    kind: str  # "file"; "newdir": a folder renamed into place; "intodir": files moved into one


class Transaction:
    """Outputs staged under temporary names beside their targets, put in place together.

    ``path(target)`` gives a temporary file (same suffix) and ``folder(target)`` a temporary
    folder; nothing appears at any target until :meth:`commit`, which runs only after every
    output was written and checked. Commit keeps every previous file (a hard link) until the
    last rename has succeeded: a failure on any rename puts every earlier one back. Signals are
    held while it runs. :meth:`abort` removes what was staged.
    """

    def __init__(self) -> None:
        self.pending: list[_Staged] = []
        self._swept: set[Path] = set()

    def _sweep(self, folder: Path) -> None:
        key = Path(os.path.abspath(folder))
        if key not in self._swept:
            self._swept.add(key)
            sweep_stale(folder)

    def path(self, target: Path) -> Path:
        target = Path(target)
        self._sweep(target.parent)
        try:
            fd, name = tempfile.mkstemp(
                dir=target.parent, prefix=_temp_prefix(target.name), suffix=f".part{target.suffix}"
            )
        except OSError as exc:  # the folder became read-only, full, or went away since the check
            raise NtkvizError(f"cannot write {target}: {os_cause(exc)}") from exc
        os.close(fd)
        self.pending.append(_Staged(Path(name), target, "file"))
        return Path(name)

    def folder(self, target: Path) -> Path:
        """A folder to fill; at commit its files go into ``target``. An existing ``target``
        keeps everything but its old frame_NNNNN.png files (which the new ones replace)."""
        try:
            return self._folder(Path(target))
        except OSError as exc:
            raise NtkvizError(f"cannot write frames in {target}: {os_cause(exc)}") from exc

    def _folder(self, target: Path) -> Path:
        if target.is_dir():
            self._sweep(target)
            name = Path(tempfile.mkdtemp(dir=target, prefix=_temp_prefix("frames"), suffix=".part"))
            self.pending.append(_Staged(name, target, "intodir"))
        else:
            parent = Path(os.path.abspath(target)).parent
            self._sweep(parent)
            name = Path(
                tempfile.mkdtemp(
                    dir=parent,
                    prefix=_temp_prefix(Path(os.path.abspath(target)).name),
                    suffix=".part",
                )
            )
            self.pending.append(_Staged(name, target, "newdir"))
        return name

    def _moves(self) -> list[tuple[str, Path, Path]]:
        """("move", src, dst) and ("remove", path, path) steps, in order."""
        steps: list[tuple[str, Path, Path]] = []
        for item in self.pending:
            if item.kind == "file":
                if item.tmp.stat().st_size == 0:
                    raise NtkvizError(f"writing {item.target} produced an empty file")
                os.chmod(item.tmp, 0o666 & ~_umask())
                steps.append(("move", item.tmp, item.target))
            elif item.kind == "newdir":
                os.chmod(item.tmp, 0o777 & ~_umask())
                steps.append(("move", item.tmp, item.target))
            else:
                new = sorted(p.name for p in item.tmp.iterdir())
                steps += [("move", item.tmp / n, item.target / n) for n in new]
                stale = [
                    p
                    for p in item.target.iterdir()
                    if FRAME_RE.match(p.name) and p.name not in new and p.is_file()
                ]
                steps += [("remove", p, p) for p in sorted(stale)]
        return steps

    def commit(self) -> None:
        with quiet_section():
            steps = self._moves()
            done: list[tuple[str, Path, Path, Path | None]] = []
            try:
                for kind, src, dst in steps:
                    if kind == "remove":
                        backup = self._backup_name(dst)
                        os.replace(dst, backup)
                        done.append((kind, src, dst, backup))
                        continue
                    backup = self._keep(dst) if src.is_file() else None
                    try:
                        os.replace(src, dst)
                    except BaseException:
                        if backup is not None:
                            with contextlib.suppress(OSError):
                                os.unlink(backup)
                        raise
                    done.append((kind, src, dst, backup))
            except OSError as exc:
                self._rollback(done)
                raise NtkvizError(
                    f"cannot put {dst} in place: {os_cause(exc)}; every earlier file was "
                    "put back as it was"
                ) from exc
            except BaseException:
                self._rollback(done)
                raise
            for _kind, _src, _dst, backup in done:
                if backup is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(backup)
            for item in self.pending:
                if item.kind == "intodir":
                    shutil.rmtree(item.tmp, ignore_errors=True)
            self.pending = []

    @staticmethod
    def _backup_name(path: Path) -> Path:
        return path.with_name(f"{_temp_prefix(path.name)}{os.urandom(4).hex()}.old")

    def _keep(self, dst: Path) -> Path | None:
        """A second name for the file at ``dst`` (if any), so it can be put back."""
        if not dst.is_file() or dst.is_symlink():
            return None
        backup = self._backup_name(dst)
        try:
            os.link(dst, backup)
        except OSError:  # no hard links here (e.g. FAT): a copy
            shutil.copy2(dst, backup)
        return backup

    @staticmethod
    def _rollback(done: list[tuple[str, Path, Path, Path | None]]) -> None:
        for kind, src, dst, backup in reversed(done):
            with contextlib.suppress(OSError):
                if kind == "remove":
                    os.replace(backup, dst)
                elif backup is not None:
                    os.replace(dst, src)  # the new file back where abort removes it
                    os.replace(backup, dst)
                else:
                    os.replace(dst, src)

    def abort(self) -> None:
        with quiet_section():
            for item in self.pending:
                if item.tmp.is_dir():
                    shutil.rmtree(item.tmp, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        item.tmp.unlink()
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

    A colour that is in the palette maps to itself exactly; any other colour (anti-aliased
    edges, blends) maps to the palette entry nearest to it (squared RGB distance), searched once
    per distinct colour and remembered in a 16 MB table. Only pixels that changed since the previous frame
    are looked up: in an animated plot that is a few percent of them.
    """

    #: Marks a colour not looked up yet (a palette has at most 255 entries here: index 255 is
    #: GIF's transparent one).
    UNKNOWN = 255

    def __init__(self, palette: np.ndarray) -> None:
        if len(palette) > self.UNKNOWN:
            raise ValueError(f"a palette of {len(palette)} colours: at most {self.UNKNOWN}")
        self.palette = palette.astype(np.int32)
        # One byte per 24-bit colour (16 MB), filled in as colours are met: each distinct
        # colour is searched once, then every pixel of it is one table read.
        self.table = np.full(1 << 24, self.UNKNOWN, dtype=np.uint8)
        self.table[pack_colors(palette.astype(np.uint8))] = np.arange(len(palette), dtype=np.uint8)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def _lookup(self, codes: np.ndarray) -> np.ndarray:
        """Palette indices for packed colours: every colour to the palette entry nearest to it
        (itself when it is in the palette)."""
        index = self.table[codes]
        unknown = np.flatnonzero(index == self.UNKNOWN)
        if len(unknown):
            colours, inverse = np.unique(codes[unknown], return_inverse=True)
            found = self.nearest(unpack_colors(colours))
            self.table[colours] = found
            index[unknown] = found[inverse.reshape(-1)]
        return index

    def nearest(self, colours: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """(N, 3) uint8 colours -> index of the nearest palette entry by squared RGB distance
        (the first of equals). ``|p|^2 - 2 c.p`` in float32 is exact: every term is an integer
        below 2^24."""
        ref = self.palette.astype(np.float32)
        norms = (ref**2).sum(axis=1)
        out = np.empty(len(colours), dtype=np.uint8)
        for start in range(0, len(colours), chunk):
            part = colours[start : start + chunk].astype(np.float32)
            distance = norms[None, :] - 2.0 * (part @ ref.T)
            out[start : start + chunk] = distance.argmin(axis=1)
        return out

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


#: A whole picture (a key) every this many frames, for the .html player: seeking there paints
#: the nearest key and at most this many patches after it.
KEY_INTERVAL = 32


@dataclass(frozen=True)
class EncodedFrames:
    """An animation as GIF image blocks against one palette, made once for every output that
    uses them (the .gif and the .html player).

    ``blocks[i]``: frame i's image block (descriptor and LZW data: the rectangle that changed
    since frame i - 1, its unchanged pixels :data:`TRANSPARENT`) and whether it has transparent
    pixels; None for a frame identical to the previous one. Frame 0's block is the whole picture.
    ``keys[i]``: frame i's whole picture as lossless WebP (far smaller than LZW for a whole
    picture), for frame 0 and the frames that are multiples of :data:`KEY_INTERVAL` and changed
    (only where the source asked for ``keys``).
    """

    height: int
    width: int
    palette: np.ndarray
    blocks: list[tuple[bytes, bool] | None]
    keys: dict[int, bytes]


def encode_gif_frames(source: FrameSource, dither: bool, advance, jobs: int = 1) -> EncodedFrames:
    """Draw and encode every frame of ``source`` once (cached on it, by ``dither``).

    One palette for the whole animation (no colour flicker), built from evenly spaced frames.
    Frames are drawn and compressed in ``jobs`` processes at once
    (:func:`ntkviz.runtime.parallel.run_ranges`); the blocks are the same for any ``jobs``.
    """
    from ntkviz.runtime.parallel import run_ranges

    cached = source.encoded.get(dither)
    if cached is not None:
        advance(source.count)
        return cached
    sampled = {i: source.frame(i) for i in _sample_indices(source.count)}
    palette = global_palette(np.stack(list(sampled.values())), colors=TRANSPARENT)
    height, width = next(iter(sampled.values())).shape[:2]

    blank = _GifFrames(palette, dither)  # built once, before the workers fork: its table is shared

    def encode(
        start: int, stop: int, report
    ) -> list[tuple[tuple[bytes, bool] | None, bytes | None]]:
        encoder = copy.copy(blank)

        def frame(i: int) -> np.ndarray:
            return sampled[i] if i in sampled else source.frame(i)

        if start > 0:
            encoder.previous = encoder.indices(frame(start - 1))  # to know what changed
        out = []
        for i in range(start, stop):
            block = encoder(frame(i))
            key = None
            if source.keys and i % KEY_INTERVAL == 0 and block is not None:
                key = lossless_webp(palette[encoder.previous])
            out.append((block, key))
            report(1)
        return out

    frames = run_ranges(source.count, encode, jobs, advance)
    encoded = EncodedFrames(
        height=int(height),
        width=int(width),
        palette=palette,
        blocks=[block for block, _ in frames],
        keys={i: key for i, (_, key) in enumerate(frames) if key is not None},
    )
    source.encoded[dither] = encoded
    return encoded


def _write_gif(
    tmp: Path, source: FrameSource, fps: float, dither: bool, advance, jobs: int = 1
) -> tuple[int, int, int]:
    """(height, width, image blocks written), from :func:`encode_gif_frames`.

    Each frame is stored as the rectangle that changed since the previous one, its unchanged
    pixels transparent (they compress to almost nothing), and a frame identical to the previous
    one lengthens that one's delay.
    """
    encoded = encode_gif_frames(source, dither, advance, jobs)
    durations = frame_durations_ms(source.count, fps, 10)
    blocks = 1
    with open(tmp, "wb") as f:
        f.write(_gif_header(encoded.width, encoded.height, encoded.palette))
        pending: tuple[bytes, bool] | None = None
        delay = 0
        for frame, duration in zip(encoded.blocks, durations, strict=True):
            if frame is None and delay + duration <= MAX_GIF_DELAY_MS:
                delay += duration  # the same picture again: the previous frame stays longer
                continue
            if frame is None:  # past what one delay can hold: a frame that changes nothing
                frame = (_unchanged_block(), True)
            if pending is not None:
                f.write(_graphic_control(delay, pending[1]) + pending[0])
                blocks += 1
            pending, delay = frame, duration
        f.write(_graphic_control(delay, pending[1]) + pending[0] + b";")
    return encoded.height, encoded.width, blocks


def gif_screen(palette: np.ndarray) -> bytes:
    """The start of a one-picture GIF with this palette: :func:`gif_body` completes it, with
    the body's size written into bytes 6-9 (:func:`one_picture_gif`)."""
    return _gif_screen(0, 0, palette)


def gif_body(block: bytes, transparent: bool) -> tuple[bytes, tuple[int, int]]:
    """An image block as the rest of a one-picture GIF placed at (0, 0), and where the block
    was: (body, (left, top)). The .html player stores these, and the screen once."""
    left, top = struct.unpack("<HH", block[1:5])
    body = _graphic_control(0, transparent) + block[:1] + bytes(4) + block[5:] + b";"
    return body, (int(left), int(top))


def one_picture_gif(screen: bytes, body: bytes) -> bytes:
    """:func:`gif_screen` and :func:`gif_body` as one GIF file: the screen takes the size of
    the body's image (its descriptor follows the 8-byte graphic control)."""
    return screen[:6] + body[13:17] + screen[10:] + body


def lossless_webp(image: np.ndarray, method: int = 1) -> bytes:
    """An (H, W, 3) uint8 picture as lossless WebP at libwebp's effort ``method`` (0-6)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(
        buffer, format="WEBP", lossless=True, quality=100, method=method
    )
    return buffer.getvalue()


def _image_block(indices: np.ndarray, offset: tuple[int, int]) -> bytes:
    """(H, W) palette indices as a GIF image block at ``offset``."""
    from PIL import Image
    from PIL.GifImagePlugin import getdata

    image = Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint8), mode="L")
    return b"".join(getdata(image, offset))


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
        return _image_block(block, offset), transparent


def _unchanged_block() -> bytes:
    """A 1 x 1 transparent image block: a frame that leaves the picture as it is."""
    return _image_block(np.full((1, 1), TRANSPARENT, dtype=np.uint8), (0, 0))


def _gif_screen(width: int, height: int, palette: np.ndarray) -> bytes:
    """GIF89a, the screen size and a 256-entry global colour table."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(palette)] = palette
    screen = struct.pack("<HHBBB", width, height, 0xF7, 0, 0)  # global table, 8 bits, 256 colours
    return b"GIF89a" + screen + table.tobytes()


def _gif_header(width: int, height: int, palette: np.ndarray) -> bytes:
    """:func:`_gif_screen` and "loop forever"."""
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00"
    return _gif_screen(width, height, palette) + loop


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


def _write_mp4(
    tmp: Path, source: FrameSource, fps: float, advance, target: Path | None = None
) -> tuple[int, int]:
    """H.264 by the ffmpeg imageio-ffmpeg ships, fed raw frames on a pipe (the same command
    imageio runs), driven here so that its exit status is checked: an ffmpeg that dies (killed,
    out of space, past the file-size limit) is an error, never a file. ffmpeg dies with us."""
    import subprocess

    import imageio_ffmpeg

    first = _pad_even(np.ascontiguousarray(rgb(source.frame(0))))
    height, width = first.shape[:2]
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-f", "rawvideo",
        "-vcodec", "rawvideo",
        "-s", f"{width}x{height}",
        "-pix_fmt", "rgb24",
        "-r", f"{fps:.02f}",
        "-i", "-",
        "-an",
        "-vcodec", "libx264",
        "-pix_fmt", "yuv420p",
        "-v", "error",
        "-crf", "18",
        "-preset", "medium",
        "-movflags", "+faststart",
        str(tmp),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=child_preexec,  # noqa: PLW1509 - only setpgrp and prctl
        )
        try:
            try:
                for i in range(source.count):
                    frame = (
                        first if i == 0 else _pad_even(np.ascontiguousarray(rgb(source.frame(i))))
                    )
                    process.stdin.write(frame.tobytes())
                    advance(1)
                process.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # ffmpeg went away: its exit status says why
            status = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if status != 0:
            log.seek(0)
            lines = [ln for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
            raise NtkvizError(
                f"ffmpeg failed encoding {target or tmp}: {_exit_reason(status, lines)}"
            )
    return height, width


def _exit_reason(status: int, lines: list[str]) -> str:
    """'killed by SIGXFSZ (the file size limit was reached)' or ffmpeg's last line."""
    import signal

    if status < 0:
        name = signal.Signals(-status).name
        why = {
            "SIGXFSZ": " (the file size limit was reached)",
            "SIGKILL": " (killed; out of memory?)",
        }.get(name, "")
        return f"killed by {name}{why}"
    return f"exit status {status}" + (f": {lines[-1].strip()}" if lines else "")


def _write_webp(tmp: Path, source: FrameSource, fps: float, advance) -> tuple[int, int]:
    """Lossless animated WebP. libwebp's fastest lossless setting (method 0, quality 100):
    18x faster to encode than its default effort on our plots, for files about 40 % larger
    (40 init-functions frames: 0.45 s and 3.5 MB against 8 s and 2.5 MB)."""
    from PIL import Image

    from ntkviz.numerics.nets import check_memory

    first = np.ascontiguousarray(rgb(source.frame(0)))
    height, width = first.shape[:2]
    # Pillow's animated WebP encoder needs every frame at once: refuse what cannot fit.
    check_memory(
        webp_memory(source.count, height, width),
        f"{source.count} WebP frames of {width}x{height} px (kept in memory to encode)",
        "use fewer --frames, a smaller --size or --dpi, or write .gif or .mp4 (they keep one "
        "frame at a time)",
    )
    images = [Image.fromarray(first)]
    advance(1)
    for i in range(1, source.count):  # kept as compact RGB images, not the renderer's RGBA arrays
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


def webp_memory(count: int, height: int, width: int) -> int:
    """Bytes an animated WebP of ``count`` frames needs: the RGB frames, plus libwebp's ARGB
    copy of the frame it encodes and its output."""
    return count * height * width * 3 + 16 * height * width + (64 << 20)


def _write_html(
    tmp: Path, source: FrameSource, fps: float, dither: bool, advance, jobs: int, target: Path
):
    from ntkviz.output.player import write_html

    return write_html(tmp, source, fps, advance, target, dither=dither, jobs=jobs)


# -- checking a written file before it replaces anything ----------------------------------------------


def verify(path: Path, fmt: str, frames: int | None, width: int, height: int, target: Path) -> None:
    """Decode cheaply what was written (container, frame count, size) and raise one line if
    it is not what was meant; ``target`` is the name the message uses."""
    try:
        got_frames, got_width, got_height = probe(path, fmt)
    except NtkvizError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder error means a broken file
        raise NtkvizError(
            f"writing {target} produced a file that does not decode ({exc})"
        ) from None
    if frames is None:  # merged pictures (the player): at least one, at most one a frame
        frames = got_frames if got_frames >= 1 else 1
    if (got_width, got_height) != (width, height) or got_frames != frames:
        raise NtkvizError(
            f"writing {target} produced a broken file: {got_frames} frame(s) of "
            f"{got_width}x{got_height} px where {frames} of {width}x{height} were written"
        )


def probe(path: Path, fmt: str) -> tuple[int, int, int]:
    """(frames, width, height) of a written file, without decoding its pictures (GIF, WebP,
    PNG by Pillow; MP4 by ffmpeg copying its packets)."""
    if fmt == ".mp4":
        return _probe_mp4(path)
    if fmt == ".gif":
        return _probe_gif(path)
    if fmt == ".html":
        from ntkviz.output.player import read_html

        data = read_html(path)
        return len(data["frames"]), int(data["width"]), int(data["height"])
    from PIL import Image

    with Image.open(path) as im:
        if fmt == ".png":
            im.verify()
            return 1, im.size[0], im.size[1]
        return getattr(im, "n_frames", 1), im.size[0], im.size[1]


def _probe_gif(path: Path) -> tuple[int, int, int]:
    """Walk a GIF's blocks to the trailer (every sub-block's length checked against the file)
    and count its images: a cut or garbled file fails, at a few ms for megabytes."""
    data = Path(path).read_bytes()
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise NtkvizError(f"{path.name} is not a GIF")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    images = 0

    def sub_blocks(at: int) -> int:
        while True:
            if at >= len(data):
                raise NtkvizError(f"{path.name} is cut short")
            size = data[at]
            at += 1 + size
            if size == 0:
                return at

    while True:
        if pos >= len(data):
            raise NtkvizError(f"{path.name} is cut short (no trailer)")
        kind = data[pos]
        if kind == 0x3B:  # trailer
            return images, width, height
        if kind == 0x21:  # extension: label, then sub-blocks
            pos = sub_blocks(pos + 2)
        elif kind == 0x2C:  # image: descriptor, local table, LZW code size, sub-blocks
            if pos + 10 > len(data):
                raise NtkvizError(f"{path.name} is cut short")
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = sub_blocks(pos + 1)
            images += 1
        else:
            raise NtkvizError(f"{path.name}: unexpected block 0x{kind:02x} at byte {pos}")


def _probe_mp4(path: Path) -> tuple[int, int, int]:
    import subprocess

    import imageio_ffmpeg

    run = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
        + ["-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        preexec_fn=child_preexec,  # noqa: PLW1509
    )
    text = run.stderr.decode(errors="replace")
    if run.returncode != 0:
        last = [ln for ln in text.splitlines() if ln.strip()][-1:] or [""]
        raise NtkvizError(f"the MP4 {path.name} does not decode: {last[0].strip()}")
    size = re.search(r"Video: .*?(\d{2,})x(\d{2,})", text)
    counts = re.findall(r"frame=\s*(\d+)", text)
    if not size or not counts:
        raise NtkvizError(f"the MP4 {path.name} holds no video")
    return int(counts[-1]), int(size.group(1)), int(size.group(2))


def save_png(path: Path, frame: np.ndarray) -> None:
    """One RGB PNG by Pillow, which closes the file itself (so a failed write is one OSError
    here, not a second one from a plugin's finaliser later)."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(rgb(frame))).save(path, format="PNG")


def write_png(target: Path, frame: np.ndarray, tx: Transaction | None = None) -> None:
    with atomic_target(target, tx) as tmp:
        try:
            save_png(tmp, frame)
            verify(tmp, ".png", 1, frame.shape[1], frame.shape[0], target)
        except OSError as exc:
            raise NtkvizError(f"cannot write {target}: {os_cause(exc)}") from exc


#: rc settings of a vector still: text stays text (selectable, searchable, editable), fonts are
#: embedded as TrueType in PDF, and nothing is rasterised.
VECTOR_RC = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": "ntkviz",
}


def write_vector(target: Path, renderer: Any, tx: Transaction | None = None) -> dict[str, Any]:
    """The renderer's key frame as a PDF or SVG (format from ``target``'s suffix), the size of the
    PNG still (inches x 72 points); returns {"format", "frames", "width", "height", "bytes"} with
    width/height in points.

    The key frame is drawn first (which sets every animated artist), then the animated artists
    are made ordinary for ``savefig`` (a blitted artist is skipped by a full draw) and restored.
    """
    import matplotlib

    target = Path(target)
    fmt = output_format(target)
    if fmt not in VECTOR_FORMATS:
        raise ConfigError(f"{target}: a vector still must be .pdf or .svg")
    renderer.frame(renderer.key_frame)
    figure = renderer.figure
    artists = [*renderer.animated, *renderer.overlays]
    was = [a.get_animated() for a in artists]
    width_in, height_in = figure.get_size_inches()
    with atomic_target(target, tx) as tmp:
        try:
            with renderer.drawing(), matplotlib.rc_context(VECTOR_RC):
                for artist in artists:
                    artist.set_animated(False)
                try:
                    metadata = {"Creator": "ntkviz"}
                    if fmt == ".pdf":
                        metadata["CreationDate"] = None  # the same file for the same run
                    else:
                        metadata["Date"] = None
                    with open(tmp, "wb") as handle:
                        figure.savefig(
                            handle, format=fmt.lstrip("."), dpi=figure.dpi, metadata=metadata
                        )
                finally:
                    for artist, flag in zip(artists, was):
                        artist.set_animated(flag)
            verify_vector(tmp, fmt, target)
            size = tmp.stat().st_size
        except OSError as exc:
            raise NtkvizError(f"cannot write {target}: {os_cause(exc)}") from exc
    return {
        "format": fmt.lstrip("."),
        "frames": 1,
        "width": round(float(width_in) * 72, 3),
        "height": round(float(height_in) * 72, 3),
        "bytes": size,
    }


def verify_vector(path: Path, fmt: str, target: Path) -> None:
    """A PDF starts with its header and ends with %%EOF; an SVG parses as XML with an <svg> root."""
    data = Path(path).read_bytes()
    if fmt == ".pdf":
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-1024:]:
            raise NtkvizError(f"writing {target} produced a broken PDF (no header or no %%EOF)")
        return
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise NtkvizError(f"writing {target} produced an SVG that does not parse ({exc})") from None
    if not root.tag.endswith("svg"):
        raise NtkvizError(f"writing {target} produced XML that is not an SVG (<{root.tag}>)")


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
    if source.count < 1:
        raise NtkvizError(f"nothing to write to {target}: the figure has no frames")
    frames = 1 if fmt == ".png" else source.count
    with (
        progress.stage(f"render {fmt.lstrip('.')}", frames) as advance,
        atomic_target(target, tx) as tmp,
    ):
        try:
            if fmt == ".png":
                still = source.frame(source.key_frame)
                save_png(tmp, still)
                height, width = still.shape[:2]
                blocks = 1
                advance(1)
            elif fmt == ".gif":
                height, width, blocks = _write_gif(tmp, source, fps, dither, advance, jobs)
            elif fmt == ".mp4":
                height, width = _write_mp4(tmp, source, fps, advance, target)
                blocks = frames
            elif fmt == ".webp":
                height, width = _write_webp(tmp, source, fps, advance)
                blocks = frames
            else:  # the player merges held frames: it holds at most as many pictures
                height, width = _write_html(tmp, source, fps, dither, advance, jobs, target)
                blocks = None
            verify(tmp, fmt, blocks, int(width), int(height), target)
            size = tmp.stat().st_size
        except OSError as exc:
            raise NtkvizError(f"cannot write {target}: {os_cause(exc)}") from exc
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
    replace: bool = False,
) -> int:
    """All frames as ``frame_00000.png`` ... in the folder ``target``, drawn and compressed in
    ``jobs`` processes at once. A folder that holds anything ntkviz did not write is refused
    unless ``replace``; then only its frame_NNNNN.png files are replaced, nothing else touched."""
    from ntkviz.runtime.parallel import run_ranges

    target = Path(target)
    check_frames_dir(target, replace)
    if source.count < 1:
        raise NtkvizError(f"nothing to write to {target}: the figure has no frames")
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
            raise NtkvizError(f"cannot write frames in {target}: {os_cause(exc)}") from exc
        if short:
            raise NtkvizError(f"writing frames in {target} left {short[0]} missing or empty")
    return source.count


def write_json(target: Path, payload: dict[str, Any], tx: Transaction | None = None) -> None:
    with atomic_target(target, tx) as tmp:
        try:
            tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
        except OSError as exc:
            raise NtkvizError(f"cannot write {target}: {os_cause(exc)}") from exc


def write_npz(
    target: Path,
    arrays: dict[str, np.ndarray],
    metadata: dict[str, Any],
    tx: Transaction | None = None,
) -> None:
    """The arrays behind a figure, plus ``metadata`` as a JSON string under ``__config__``."""
    with atomic_target(target, tx) as tmp:
        try:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, __config__=np.array(json.dumps(metadata)), **arrays)
            with zipfile.ZipFile(tmp) as archive:  # fail here, not in the user's notebook
                if archive.testzip() is not None:
                    raise NtkvizError(f"writing {target} produced a broken archive")
        except OSError as exc:
            raise NtkvizError(f"cannot write {target}: {os_cause(exc)}") from exc
