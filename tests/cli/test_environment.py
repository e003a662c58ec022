"""Environment variables that torch's OpenMP and matplotlib read, run through the real console
command: a bad OpenMP value is one Error line (exit 2) naming it; MPLBACKEND and an unwritable
matplotlib folder (MPLCONFIGDIR, HOME) print nothing on a successful run, and leave nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, gif_frames

NTKVIZ = Path(sys.executable).with_name("ntkviz")
#: The variables these tests set, removed from the environment they start from.
OURS = ("OMP_NUM_THREADS", "OMP_SCHEDULE", "OMP_PROC_BIND", "MPLBACKEND", "MPLCONFIGDIR")


def console(tmp_path: Path, *args, **env: str) -> subprocess.CompletedProcess:
    """The installed ``ntkviz`` command, with ``env`` on top of a clean copy of ours and its
    temporary files in tmp_path/tmp (so that what it leaves there can be seen)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if k not in OURS and k != "NTKVIZ_DEBUG"}
    return subprocess.run(
        [str(NTKVIZ), *map(str, args)],
        capture_output=True,
        text=True,
        env={**base, "TMPDIR": str(scratch), **env},
        timeout=300,
        cwd=tmp_path,
    )


def quick_toy(out: Path) -> list:
    return ["toy-model", "-o", out, "--frames", 3, "--points", 30, "--quick", *TINY]


def test_the_console_command_is_installed():
    assert NTKVIZ.is_file()


@pytest.mark.parametrize(
    ("name", "value"),
    [("OMP_NUM_THREADS", "abc"), ("OMP_NUM_THREADS", "0"), ("OMP_SCHEDULE", "x")],
)
def test_a_bad_openmp_variable_is_one_error_line(tmp_path, name, value):
    out = tmp_path / "a.gif"
    proc = console(tmp_path, *quick_toy(out), **{name: value})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"Error: the environment variable {name}={value!r} is not a value OpenMP (torch's "
        "threads) can read: fix it or unset it"
    ]
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]


def test_a_good_openmp_variable_is_taken(tmp_path):
    out = tmp_path / "a.gif"
    proc = console(tmp_path, *quick_toy(out), OMP_NUM_THREADS="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_bad_options_still_come_first(tmp_path):
    """The environment is looked at after the options: a bad option is that option's line."""
    proc = console(tmp_path, "toy-model", "--alpha-max", "-1", OMP_NUM_THREADS="abc")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["Error: --alpha-max must be > 0 (got -1)"]


@pytest.mark.parametrize(
    "env",
    [
        {"MPLBACKEND": "nonsense"},
        {"MPLBACKEND": "TkAgg"},
        {"MPLCONFIGDIR": "/dev/null"},
        {"MPLCONFIGDIR": "/proc/ntkviz-no-such-folder"},
        {"HOME": "/proc", "XDG_CONFIG_HOME": "", "XDG_CACHE_HOME": ""},
    ],
)
def test_matplotlib_variables_print_nothing_on_success(tmp_path, env):
    out = tmp_path / "a.gif"
    proc = console(tmp_path, *quick_toy(out), **env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith(f"Wrote {str(out)!r}: 3 frame(s)")
    frames, _, _ = gif_frames(out)
    assert len(frames) == 3
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary matplotlib folder is gone


def test_rerun_refuses_a_bad_openmp_variable_too(tmp_path):
    out = tmp_path / "a.gif"
    assert console(tmp_path, *quick_toy(out)).returncode == 0
    before = out.read_bytes()
    proc = console(tmp_path, "rerun", f"{out}.json", OMP_NUM_THREADS="abc")
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("Error: the environment variable OMP_NUM_THREADS='abc'")
    assert out.read_bytes() == before
