"""--frames-dir: every frame a numbered PNG, written in one or more processes."""

from __future__ import annotations

import numpy as np
from conftest import temp_leftovers
from PIL import Image
from test_formats import moving_square

from ntkviz.output.frames import write_frames_dir
from ntkviz.output.transaction import _umask


def test_frames_dir_numbered_pngs(tmp_path):
    folder = tmp_path / "frames"
    write_frames_dir(folder, moving_square(4))
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{i:05d}.png" for i in range(4)]
    write_frames_dir(folder, moving_square(2))  # replaced as a whole
    assert len(list(folder.iterdir())) == 2
    assert folder.stat().st_mode & 0o777 == 0o777 & ~_umask()  # not mkdtemp's private 0700
    assert temp_leftovers(tmp_path) == []


def test_frames_dir_in_two_processes(tmp_path):
    folder = tmp_path / "frames"
    source = moving_square(24)
    write_frames_dir(folder, source, jobs=2)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(24)]
    for i in (0, 11, 12, 23):  # both halves, exactly
        with Image.open(folder / names[i]) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), source.frame(i))
