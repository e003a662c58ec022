"""Animated WebP: lossless, every distinct frame kept in memory while Pillow encodes them.

A run of identical frames (the held end, a frame that does not change) is one picture shown for
their summed durations: libwebp would merge them anyway, so the file's frame count is the number
of such runs, and the writer says so (the check after writing counts what the file holds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ntkviz.output.frames import FrameSource, frame_durations_ms, rgb
from ntkviz.runtime.memory import check_memory


def write_webp(tmp: Path, source: FrameSource, fps: float, advance) -> tuple[int, int, int]:
    """Lossless animated WebP at libwebp's fastest lossless setting (method 0, quality 100):
    far faster to encode than its default effort on our plots, for larger files (the README's
    table of formats). Returns (height, width, pictures in the file)."""
    from PIL import Image

    first = np.ascontiguousarray(rgb(source.frame(0)))
    height, width = first.shape[:2]
    # Pillow's animated WebP encoder needs every frame at once: refuse what cannot fit.
    check_memory(
        webp_memory(source.count, height, width),
        f"{source.count} WebP frames of {width}x{height} px (kept in memory to encode)",
        "use fewer --frames, a smaller --size or --dpi, or write .gif or .mp4 (they keep one "
        "frame at a time)",
    )
    durations = frame_durations_ms(source.count, fps, 1)
    images, shown = [Image.fromarray(first)], [durations[0]]
    previous = first
    advance(1)
    for i in range(1, source.count):  # kept as compact RGB images, not the renderer's RGBA arrays
        frame = np.ascontiguousarray(rgb(source.frame(i)))
        if frame.shape == previous.shape and np.array_equal(frame, previous):
            shown[-1] += durations[i]  # the same picture, shown longer
        else:
            images.append(Image.fromarray(frame))
            shown.append(durations[i])
            previous = frame
        advance(1)
    images[0].save(
        tmp,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        lossless=True,
        quality=100,
        method=0,
        duration=shown,
        loop=0,
    )
    return images[0].height, images[0].width, len(images)


def webp_memory(count: int, height: int, width: int) -> int:
    """Bytes an animated WebP of ``count`` frames needs: the RGB frames, plus libwebp's ARGB
    copy of the frame it encodes and its output."""
    return count * height * width * 3 + 16 * height * width + (64 << 20)
