"""Names: every legal target name can be staged (temporary names stay within the file system's
255 bytes), a name over the limit is one line and exit 2, and a path in a message is quoted so
that the message stays one line whatever the name holds."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from conftest import TINY, gif_frames

from ntkviz.errors import ConfigError, quoted
from ntkviz.output import transaction
from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource, write_frames_dir
from ntkviz.output.transaction import TEMP_RE, Transaction, check_writable, sweep_stale


def source(count: int = 2) -> FrameSource:
    return FrameSource(count, lambda i: np.full((16, 24, 3), 40 * i, np.uint8))


def name_of(size: int, suffix: str = ".gif", char: str = "a") -> str:
    """A file name of exactly ``size`` bytes (UTF-8) ending in ``suffix``."""
    room = size - len(suffix.encode())
    width = len(char.encode())
    return char * (room // width) + "b" * (room % width) + suffix


@pytest.mark.parametrize("size", [200, 230, 244, 249, 250, 255])
@pytest.mark.parametrize("char", ["a", "é", "日"])
def test_every_legal_name_is_staged_within_the_limit(tmp_path, size, char):
    target = tmp_path / name_of(size, ".gif", char)
    assert len(os.fsencode(target.name)) == size
    check_writable(target, "output")  # the probe fits too
    tx = Transaction()
    staged = tx.path(target)
    backup = tx._backup_name(target)
    for name in (staged.name, backup.name):
        assert len(os.fsencode(name)) <= 255
        assert TEMP_RE.match(name), name
    assert staged.name.endswith(".part.gif")
    tx.abort()
    write_animation(target, source(), fps=10)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    frames, _, _ = gif_frames(target)
    assert len(frames) == 2


def test_long_temporary_names_are_kept_apart_by_their_hash(tmp_path):
    """Two targets that differ only after the kept start get different temporary names."""
    one, two = tmp_path / name_of(255, ".1.gif"), tmp_path / name_of(255, ".2.gif")
    tx = Transaction()
    a, b = tx.path(one), tx.path(two)
    prefix = f".ntkviz-{os.getpid()}-"
    assert a.name.split(prefix)[0] != b.name.split(prefix)[0]
    tx.abort()


def test_a_long_frames_folder_is_staged(tmp_path):
    folder = tmp_path / name_of(255, "")
    assert write_frames_dir(folder, source(3)) == 3
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{i:05d}.png" for i in range(3)]
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_sweep_recognises_a_long_name_left_by_a_dead_process(tmp_path):
    """A killed run's temporary file of a long target is swept by the next run."""
    child = subprocess.Popen(["true"])
    child.wait()  # a pid no process has now
    target = tmp_path / name_of(252, ".gif")
    real_pid = os.getpid
    try:
        transaction.os.getpid = lambda: child.pid
        left = Transaction().path(target)
    finally:
        transaction.os.getpid = real_pid
    assert left.exists() and len(os.fsencode(left.name)) <= 255
    assert sweep_stale(tmp_path) == [left.name]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [256, 300])
def test_a_name_over_the_limit_is_refused(tmp_path, size):
    target = tmp_path / name_of(size)
    with pytest.raises(ConfigError, match=rf"its name is {size} bytes, over the 255 a file name"):
        check_writable(target, "output")


def test_cli_names_at_and_over_the_limit(cli, tmp_path):
    """250 bytes: written with its 255-byte sidecar; 251: its sidecar would be 256 bytes; 256: the
    name itself. Each refusal is one line, exit 2, nothing written."""
    args = ["--frames", 3, "--points", 30, "--quick", *TINY]
    ok = tmp_path / name_of(250)
    result = cli("toy-model", "-o", ok, *args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [ok.name, ok.name + ".json"]
    for size, what in ((251, "the sidecar"), (256, "output")):
        bad = tmp_path / name_of(size)
        result = cli("toy-model", "-o", bad, *args)
        assert result.exit_code == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {what} '")
        assert "bytes, over the 255 a file name may have here" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [ok.name, ok.name + ".json"]


def test_quoted():
    assert quoted("a b.gif") == "'a b.gif'"
    assert quoted("a\nb.gif") == "'a\\nb.gif'"
    assert quoted(os.path.join("x", "it's.gif")) == '"x/it\'s.gif"'


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no\nfolder/a.gif", "Error: output folder 'no\\nfolder' does not exist"),
        ("a\nb.avi", "Error: unknown output format '.avi' for 'a\\nb.avi'"),
        ("tab\there.x\ny", "Error: unknown output format '.x\\ny' for 'tab\\there.x\\ny'"),
    ],
)
def test_a_name_with_a_newline_is_one_line(cli, tmp_path, name, message):
    os.chdir(tmp_path)
    result = cli("toy-model", "-o", name, "--quick", *TINY)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(message)


def test_a_written_name_with_a_newline_is_reported_on_one_line(cli, tmp_path):
    out = tmp_path / "two\nlines.gif"
    result = cli("toy-model", "-o", out, "--frames", 3, "--points", 30, "--quick", *TINY)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(f"Wrote {str(out)!r}: 3 frame(s)")
    assert len(result.stdout.splitlines()) == 1


def test_every_error_line_escapes_control_characters():
    """The last guard: whatever a message holds, what is printed is one line."""
    from ntkviz.cli.errors import one_line

    assert one_line("a\nb\rc\td\x1b[31m") == "a\\nb\\rc\\td\\x1b[31m"
    assert one_line("plain: 'x y' é 日") == "plain: 'x y' é 日"
