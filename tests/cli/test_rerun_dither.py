"""rerun of a --dither run: the recorded --dither comes back, and the file is byte-identical (a
dithered GIF differs from the plain one, so a rerun that dropped it would show)."""

from __future__ import annotations

import json

from tests.conftest import TINY

ARGS = ["kappa-scaling", "--quick", *TINY]


def test_rerun_of_a_dithered_run_is_byte_identical(cli, tmp_path):
    dithered, plain = tmp_path / "dithered.gif", tmp_path / "plain.gif"
    assert cli(*ARGS, "--dither", "-o", dithered).exit_code == 0
    assert cli(*ARGS, "-o", plain).exit_code == 0
    assert dithered.read_bytes() != plain.read_bytes()  # dithering shows in the file
    assert json.loads((tmp_path / "dithered.gif.json").read_text())["dither"] is True

    again = tmp_path / "again.gif"
    result = cli("rerun", f"{dithered}.json", "-o", again, "--no-progress")
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == dithered.read_bytes()
    assert json.loads((tmp_path / "again.gif.json").read_text())["dither"] is True

    # and without -o: the recorded file itself, rewritten the same
    before = dithered.read_bytes()
    dithered.unlink()
    result = cli("rerun", f"{dithered}.json", "--no-progress")
    assert result.exit_code == 0, result.output
    assert dithered.read_bytes() == before
