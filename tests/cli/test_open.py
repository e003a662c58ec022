"""--open shows the written file in the desktop's viewer (a fake one here)."""

from __future__ import annotations

import os
import stat
import sys
import time

import pytest

from ntkviz.cli.open import viewer_command
from tests.conftest import TINY

pytestmark = pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX viewers")

FAST = ["--frames", "2", *TINY]


def _fake_viewer(folder, log):
    folder.mkdir()
    script = folder / viewer_command()
    script.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def _wait_for(path, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.05)
    return ""


def test_open_runs_the_viewer_on_the_output(cli, tmp_path, monkeypatch):
    log = tmp_path / "viewer.log"
    bin_dir = _fake_viewer(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "toy.gif"
    result = cli("toy-model", "-o", out, "--open", *FAST)
    assert result.exit_code == 0, result.output
    assert _wait_for(log).strip() == str(out)


def test_open_without_a_viewer_still_succeeds(cli, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "toy.png"
    result = cli("toy-model", "-o", out, "--open", *FAST)
    assert result.exit_code == 0, result.output
    assert out.exists()
    notes = [ln for ln in result.stderr.splitlines() if "--open" in ln]
    assert len(notes) == 1 and "no viewer found" in notes[0] and str(out) in notes[0]


def test_rerun_open(cli, tmp_path, monkeypatch):
    out = tmp_path / "toy.png"
    assert cli("toy-model", "-o", out, *FAST).exit_code == 0
    log = tmp_path / "viewer.log"
    bin_dir = _fake_viewer(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = cli("rerun", f"{out}.json", "-o", tmp_path / "b.png", "--open", "--no-progress")
    assert result.exit_code == 0, result.output
    assert _wait_for(log).strip() == str(tmp_path / "b.png")


def test_open_with_a_launcher_that_fails_says_so(cli, tmp_path, monkeypatch):
    # xdg-open installed but nothing behind it (a container): it exits 3 at once. The run still
    # succeeds (the file is written), with one Note: line naming the file.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / viewer_command()
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "toy.png"
    result = cli("toy-model", "-o", out, "--open", *FAST)
    assert result.exit_code == 0, result.output
    assert out.exists()
    notes = [ln for ln in result.stderr.splitlines() if "--open" in ln]
    assert len(notes) == 1, result.stderr
    assert notes[0].startswith("Note: ") and "status 3" in notes[0] and str(out) in notes[0]
