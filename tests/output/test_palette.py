"""One palette for an animation: the frequent colours exact, the rest approximated."""

from __future__ import annotations

import numpy as np
from conftest import gif_frames

from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource


def test_palette_keeps_frequent_colours_exact_in_colourful_frames(tmp_path):
    """More than 256 colours: white and the line colours stay exact, the rest are approximated."""
    rng = np.random.default_rng(0)

    def frame(i: int) -> np.ndarray:
        img = np.full((60, 80, 3), 255, np.uint8)
        img[:20] = rng.integers(0, 256, (20, 80, 3), dtype=np.uint8)  # ~1600 random colours
        img[30:35, :] = (31, 119, 180)
        return img

    frames = [frame(i) for i in range(3)]
    out = tmp_path / "many.gif"
    write_animation(out, FrameSource(3, lambda i: frames[i]), fps=10)
    decoded, _, _ = gif_frames(out)
    for original, back in zip(frames, decoded):
        np.testing.assert_array_equal(back[25:], original[25:])  # white and the blue band exact
        assert np.abs(back[:20].astype(int) - original[:20]).mean() < 40  # the noise roughly kept
