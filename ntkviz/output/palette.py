"""One palette for a whole animation, and frames mapped to it exactly (the GIF's colours)."""

from __future__ import annotations

import numpy as np


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
    remaining = packed[top_sorted[where] != packed]  # a sorted search: np.isin, for a small set
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
