"""gallery --check (ntkviz.gallery.compare) compares every frame: an animation with a frame more
or a frame less than the committed one is a finding, even when the frames they share are the
same picture (comparing pairs with zip() would stop at the shorter file and pass)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ntkviz import gallery
from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource


def _frame(i: int) -> np.ndarray:
    """Frame i: a grey level of its own (distinct frames: GIF merges repeated ones)."""
    frame = np.zeros((24, 32, 4), np.uint8)
    frame[..., :3] = 40 * i + 20
    frame[..., 3] = 255
    frame[4:8, 4 + 2 * i : 8 + 2 * i, :3] = (255, 0, 0)  # and a square that moves
    return frame


def _write(path: Path, count: int) -> Path:
    path.parent.mkdir(exist_ok=True)
    report = write_animation(path, FrameSource(count, _frame), 10)
    assert report["frames"] == count
    return path


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
@pytest.mark.parametrize("built_count,committed_count", [(3, 4), (4, 3)], ids=["fewer", "more"])
def test_a_changed_frame_count_is_a_finding(tmp_path, suffix, built_count, committed_count):
    built = _write(tmp_path / "built" / f"fig{suffix}", built_count).parent
    reference = _write(tmp_path / "reference" / f"fig{suffix}", committed_count).parent
    (finding,) = gallery.compare(built, reference)  # one line, naming the file and why
    assert f"fig{suffix}" in finding and "frame count or size differ" in finding


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
def test_the_same_frames_are_no_finding(tmp_path, suffix):
    built = _write(tmp_path / "built" / f"fig{suffix}", 4).parent
    reference = _write(tmp_path / "reference" / f"fig{suffix}", 4).parent
    assert gallery.compare(built, reference) == []
