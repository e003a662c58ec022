"""GIF: every frame drawn and encoded once as an image block against one palette (the .gif and
the .html player are made from the same blocks), the file written from them, and a walk over a
written GIF's blocks that checks it without decoding its pictures."""

from __future__ import annotations

import copy
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ntkviz.errors import NtkvizError, quoted
from ntkviz.output.frames import FrameSource, frame_durations_ms, rgb, sample_indices
from ntkviz.output.palette import PaletteMapper, global_palette

#: The GIF palette index never given to a colour: it marks pixels a frame leaves unchanged.
TRANSPARENT = 255
#: A GIF delay is 16 bits of 1/100 s.
MAX_GIF_DELAY_MS = 65535 * 10


#: A whole picture (a key) every this many frames, for the .html player: seeking there paints
#: the nearest key and at most this many patches after it.
KEY_INTERVAL = 64


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


def encode_gif_frames(
    source: FrameSource, dither: bool, advance, jobs: int = 1, palette: np.ndarray | None = None
) -> EncodedFrames:
    """Draw and encode every frame of ``source`` once (cached on it, by ``dither``).

    One palette for the whole animation (no colour flicker), built from evenly spaced frames
    (or ``palette``, one shared by several animations: an explore page's variants).
    Frames are drawn and compressed in ``jobs`` processes at once
    (:func:`ntkviz.runtime.parallel.run_ranges`); the blocks are the same for any ``jobs``.
    """
    from ntkviz.runtime.parallel import run_ranges

    cached = source.encoded.get(dither)
    if cached is not None:
        advance(source.count)
        return cached
    sampled = {i: source.frame(i) for i in sample_indices(source.count)}
    if palette is None:
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


def as_shown(frame: np.ndarray, encoded: EncodedFrames, dither: bool) -> np.ndarray:
    """``frame`` as the GIF of ``encoded`` shows it: (H, W) indices into its palette, mapped
    (and dithered, with ``dither``) as its frames are."""
    return _GifFrames(encoded.palette, dither).indices(frame)


def write_gif(
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


def probe_gif(path: Path) -> tuple[int, int, int]:
    """Walk a GIF's blocks to the trailer (every sub-block's length checked against the file)
    and count its images: a cut or garbled file fails, and no picture is decoded."""
    data = Path(path).read_bytes()
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise NtkvizError(f"{quoted(path.name)} is not a GIF")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    images = 0

    def sub_blocks(at: int) -> int:
        while True:
            if at >= len(data):
                raise NtkvizError(f"{quoted(path.name)} is cut short")
            size = data[at]
            at += 1 + size
            if size == 0:
                return at

    while True:
        if pos >= len(data):
            raise NtkvizError(f"{quoted(path.name)} is cut short (no trailer)")
        kind = data[pos]
        if kind == 0x3B:  # trailer
            return images, width, height
        if kind == 0x21:  # extension: label, then sub-blocks
            pos = sub_blocks(pos + 2)
        elif kind == 0x2C:  # image: descriptor, local table, LZW code size, sub-blocks
            if pos + 10 > len(data):
                raise NtkvizError(f"{quoted(path.name)} is cut short")
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = sub_blocks(pos + 1)
            images += 1
        else:
            raise NtkvizError(f"{quoted(path.name)}: unexpected block 0x{kind:02x} at byte {pos}")
