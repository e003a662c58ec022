"""Nothing a user owns is lost: outputs are checked before they replace anything, committed all
or nothing, --frames-dir touches only ntkviz's frames; and every failure is one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, gif_frames, temp_leftovers

from ntkviz.errors import ConfigError, NtkvizError
from ntkviz.output import gif
from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource, write_frames_dir
from ntkviz.output.palette import PaletteMapper
from ntkviz.output.transaction import sweep_stale


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def one_error(result, *fragments: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.stderr, lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def toy(*extra):
    return ("toy-model", "--frames", 3, "--points", 30, *TINY, "-j", 1, *extra)


# -- all or nothing ----------------------------------------------------------------------------------


def _everything(folder: Path) -> tuple:
    """A run that writes every kind of output, into a folder holding earlier ones (and an
    earlier --frames-dir of 5 frames, so the commit also removes two stale frames)."""
    return toy(
        "-o",
        folder / "out.gif",
        "--still",
        folder / "still.png",
        "--data",
        folder / "data.npz",
        "--frames-dir",
        folder / "frames",
    )


def _earlier(folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    for name in ("out.gif", "out.gif.json", "still.png", "data.npz"):
        (folder / name).write_bytes(f"earlier {name}".encode())
    (folder / "frames").mkdir()
    for i in range(5):
        (folder / "frames" / f"frame_{i:05d}.png").write_bytes(f"earlier frame {i}".encode())
    return snapshot(folder)


def test_a_failure_at_each_rename_restores_every_earlier_file(cli, tmp_path, monkeypatch):
    calls = []
    real_replace = os.replace

    def counting(src, dst):
        calls.append((src, dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", counting)
    first = tmp_path / "first"
    _earlier(first)
    result = cli(*_everything(first))
    assert result.exit_code == 0, result.output
    renames = len(calls)
    assert renames >= 8  # 4 files, 3 frames moved in, 2 stale frames moved out (or more)
    assert sorted(p.name for p in (first / "frames").iterdir()) == [
        f"frame_{i:05d}.png" for i in range(3)
    ]

    for k in range(1, renames + 1):
        folder = tmp_path / f"k{k}"
        before = _earlier(folder)
        count = [0]

        def failing(src, dst, k=k, count=count):
            count[0] += 1
            if count[0] == k:
                raise OSError(28, "No space left on device", str(src))
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", failing)
        result = cli(*_everything(folder))
        monkeypatch.setattr(os, "replace", real_replace)
        assert result.exit_code == 1, (k, result.output)
        one_error(result, "no space left", "put back")
        assert snapshot(folder) == before, k
        assert temp_leftovers(folder) == [] and temp_leftovers(folder / "frames") == []


def test_sidecar_path_is_probed_before_computing(cli, tmp_path):
    (tmp_path / "out.gif").write_bytes(b"earlier gif")
    (tmp_path / "out.gif.json").mkdir()
    (tmp_path / "out.gif.json" / "mine.txt").write_text("mine")
    before = snapshot(tmp_path)
    result = cli(*toy("-o", tmp_path / "out.gif"))
    assert result.exit_code == 2
    one_error(result, "sidecar", "is a folder")
    assert snapshot(tmp_path) == before


def test_broken_encode_is_refused_and_the_old_file_kept(tmp_path, monkeypatch):
    """A writer that produces a file that does not decode to what was written: one line, and
    the earlier file stays."""
    out = tmp_path / "a.gif"
    out.write_bytes(b"earlier")
    real = gif.write_gif

    def truncating(tmp, *args, **kwargs):
        shape = real(tmp, *args, **kwargs)
        data = Path(tmp).read_bytes()
        Path(tmp).write_bytes(data[: len(data) // 2])
        return shape

    monkeypatch.setattr(gif, "write_gif", truncating)
    source = FrameSource(6, lambda i: np.full((40, 50, 3), 40 * i, np.uint8))
    with pytest.raises(NtkvizError, match="a.gif"):
        write_animation(out, source, fps=10)
    assert out.read_bytes() == b"earlier" and temp_leftovers(tmp_path) == []


def test_empty_output_is_refused(tmp_path):
    for suffix in (".gif", ".mp4", ".webp", ".png"):
        with pytest.raises(NtkvizError, match="no frames"):
            write_animation(tmp_path / f"e{suffix}", FrameSource(0, lambda i: None), fps=10)
    with pytest.raises(NtkvizError, match="no frames"):
        write_frames_dir(tmp_path / "frames", FrameSource(0, lambda i: None))
    assert list(tmp_path.iterdir()) == []


def test_outputs_get_normal_permissions(cli, tmp_path):
    old = os.umask(0o022)
    try:
        result = cli(
            *toy("-o", tmp_path / "a.gif", "--still", tmp_path / "s.png"),
            "--data",
            tmp_path / "d.npz",
            "--frames-dir",
            tmp_path / "frames",
        )
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    for name in ("a.gif", "a.gif.json", "s.png", "d.npz", "frames/frame_00000.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE((tmp_path / "frames").stat().st_mode) == 0o755


# -- --frames-dir: only ever ntkviz's frames --------------------------------------------------------


def test_frames_dir_refuses_a_folder_with_other_files(cli, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "notes.txt").write_text("my notes")
    (frames / "frame_00000.png").write_bytes(b"old frame")
    before = snapshot(tmp_path)
    result = cli(*toy("-o", tmp_path / "a.gif", "--frames-dir", frames))
    assert result.exit_code == 2
    one_error(result, "notes.txt", "--replace-frames")
    assert snapshot(tmp_path) == before


def test_frames_dir_dot_and_the_outputs_own_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(*toy("-o", "a.gif")).exit_code == 0
    before = snapshot(tmp_path)
    result = cli(*toy("-o", "a.gif", "--frames-dir", "."))
    assert result.exit_code == 2
    one_error(result, "--frames-dir '.'", "a.gif")
    assert snapshot(tmp_path) == before
    # with --replace-frames: frames written beside the output, which is kept (rewritten)
    result = cli(*toy("-o", "a.gif", "--frames-dir", ".", "--replace-frames"))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.gif", "a.gif.json"] + [f"frame_{i:05d}.png" for i in range(3)]
    assert len(gif_frames(tmp_path / "a.gif")[0]) == 3


def test_replace_frames_touches_only_frames(cli, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "notes.txt").write_text("my notes")
    (frames / "frame_00007.png").write_bytes(b"a stale frame")
    result = cli(*toy("-o", tmp_path / "a.gif", "--frames-dir", frames, "--replace-frames"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in frames.iterdir()) == [
        "frame_00000.png",
        "frame_00001.png",
        "frame_00002.png",
        "notes.txt",
    ]
    assert (frames / "notes.txt").read_text() == "my notes"


def test_an_earlier_frames_folder_is_replaced(tmp_path):
    frames = tmp_path / "frames"
    source = FrameSource(4, lambda i: np.full((20, 30, 3), 50 * i, np.uint8))
    write_frames_dir(frames, source)
    write_frames_dir(frames, FrameSource(2, source.frame))
    assert sorted(p.name for p in frames.iterdir()) == ["frame_00000.png", "frame_00001.png"]
    assert temp_leftovers(tmp_path) == [] and temp_leftovers(frames) == []


def test_sweep_removes_only_dead_processes_temporary_files(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = tmp_path / f".a.gif.ntkviz-{os.getpid()}-abc.part.gif"
    stale = tmp_path / f".a.gif.ntkviz-{dead.pid}-abc.part.gif"
    stale_dir = tmp_path / f".frames.ntkviz-{dead.pid}-xyz.part"
    user = tmp_path / ".a.gif.mine.part.gif"  # not ours: no pid
    for path in (mine, stale, user):
        path.write_bytes(b"x")
    stale_dir.mkdir()
    (stale_dir / "frame_00000.png").write_bytes(b"x")
    assert sorted(sweep_stale(tmp_path)) == sorted([stale.name, stale_dir.name])
    assert mine.exists() and user.exists() and not stale.exists() and not stale_dir.exists()


# -- one line for every failure ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["torch", "cpu-allocator"])
def test_torch_out_of_memory_is_the_memory_refusal(cli, tmp_path, kind):
    import torch

    from ntkviz.figures import get

    spec = get("toy-model")

    def oom(*_args, **_kwargs):
        if kind == "torch":
            raise getattr(torch, "OutOfMemoryError", MemoryError)("CUDA out of memory")
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 10 GB")

    real = spec.simulate
    object.__setattr__(spec, "simulate", oom)  # a frozen dataclass
    try:
        result = cli(*toy("-o", tmp_path / "a.gif"))
    finally:
        object.__setattr__(spec, "simulate", real)
    assert result.exit_code == 2
    one_error(result, "more memory than is free")
    assert list(tmp_path.iterdir()) == []


def test_webp_frames_checked_against_memory(tmp_path, monkeypatch):
    from ntkviz.runtime import memory

    monkeypatch.setattr(memory, "memory_limit", lambda device="cpu": 1000)
    source = FrameSource(5, lambda i: np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ConfigError, match="WebP frames"):
        write_animation(tmp_path / "a.webp", source, fps=10)
    assert list(tmp_path.iterdir()) == []


def test_a_bug_is_one_line_and_debug_shows_the_traceback(cli, tmp_path, monkeypatch):
    from ntkviz import pipeline

    def broken(*_args, **_kwargs):
        raise ValueError("an internal mistake\nover two lines")

    monkeypatch.setattr(pipeline, "check_finite", broken)
    result = cli(*toy("-o", tmp_path / "a.gif"))
    assert result.exit_code == 1
    one_error(result, "internal error: ValueError: an internal mistake over two lines", "--debug")
    result = cli("--debug", *toy("-o", tmp_path / "a.gif"))
    assert isinstance(result.exception, ValueError)
    assert list(tmp_path.iterdir()) == []


def test_overflow_names_the_option(cli, tmp_path):
    result = cli(*toy("-o", tmp_path / "a.gif", "--x", "1e308"))
    assert result.exit_code == 1
    one_error(result, "non-finite numbers", "--x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args,message",
    [
        (["--size", "infx9"], "--size must be a finite number"),
        (["--size", "3xnan"], "--size must be a finite number"),
        (["--dpi", "inf"], "--dpi must be a finite number"),
        (["--fps", "0.001"], "--fps must be at least 0.01"),
    ],
)
def test_extreme_output_options(cli, tmp_path, args, message):
    result = cli("toy-model", "-o", tmp_path / "a.gif", *TINY, *args)
    assert result.exit_code == 2
    one_error(result, message)
    assert list(tmp_path.iterdir()) == []


def test_os_errors_are_described():
    from ntkviz.runtime.lifecycle import describe_os_error

    for code, words in [(28, "no space left"), (27, "file size limit"), (30, "read-only")]:
        text = describe_os_error(OSError(code, os.strerror(code), "/x/out.gif"))
        assert text.startswith("cannot use '/x/out.gif': ") and words in text


# -- pictures ---------------------------------------------------------------------------------------


def gradient(i: int) -> np.ndarray:
    """Smooth colour ramps (thousands of colours), different top and bottom, moving with i."""
    y, x = np.mgrid[0:64, 0:96]
    img = np.stack([(x * 2 + i) % 256, (y * 4) % 256, 255 - (x + y)], axis=-1)
    img[:8] = (250, 20, 20)  # a red band on top: upside down would put it at the bottom
    return img.astype(np.uint8)


def test_dither_frames_are_the_right_way_up_and_close_to_undithered(tmp_path):
    source = FrameSource(3, gradient)
    write_animation(tmp_path / "d.gif", source, fps=10, dither=True)
    write_animation(tmp_path / "u.gif", source, fps=10, dither=False)
    dithered, _, _ = gif_frames(tmp_path / "d.gif")
    plain, _, _ = gif_frames(tmp_path / "u.gif")
    assert len(dithered) == len(plain) == 3
    for i, (d, u) in enumerate(zip(dithered, plain)):
        original = gradient(i).astype(int)
        assert d.shape == original.shape
        upright = np.abs(d - original).mean()
        flipped = np.abs(d - original[::-1]).mean()
        assert upright < 8 and upright < flipped / 4, (upright, flipped)
        assert np.abs(d.astype(int) - u).mean() < 8
        np.testing.assert_array_equal(d[:8], original[:8])  # an exact palette colour stays


def test_every_palette_lookup_is_the_nearest_colour():
    rng = np.random.default_rng(1)
    palette = rng.integers(0, 256, (200, 3)).astype(np.uint8)
    mapper = PaletteMapper(palette)
    frames = [rng.integers(0, 256, (30, 40, 3)).astype(np.uint8) for _ in range(3)]
    frames.append(frames[-1].copy())
    frames[-1][:5] = palette[:40].reshape(5, 8, 3).repeat(5, axis=1)  # exact palette colours
    for frame in frames:
        index = mapper(frame).reshape(-1)
        colours = frame.reshape(-1, 3).astype(int)
        distance = ((colours[:, None, :] - palette[None].astype(int)) ** 2).sum(axis=2)
        assert (distance[np.arange(len(colours)), index] == distance.min(axis=1)).all()
    exact = mapper(frames[-1])[:5].reshape(-1)
    assert (palette[exact] == frames[-1][:5].reshape(-1, 3)).all()


def test_a_divergence_from_alpha_is_not_blamed_on_lr(cli, tmp_path):
    result = cli("linearized", "-o", tmp_path / "a.gif", *TINY, "--quick", "--alpha", "1e-300")
    assert result.exit_code == 1
    line = one_error(result, "alpha")
    assert "closer to 1" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "figure,args",
    [
        ("linearized", ["--frames", "100000", "--steps", "100000", "--points", "100000"]),
        ("generalization", ["--frames", "100000", "--steps", "100000", "--points", "100000"]),
    ],
)
def test_per_frame_histories_are_checked_against_memory(cli, tmp_path, figure, args):
    result = cli(figure, "-o", tmp_path / "a.gif", *TINY, *args)
    assert result.exit_code == 2
    one_error(result, "snapshots", "GiB", "--frames")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_folder_made_read_only_after_the_checks(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(NtkvizError, match=r"cannot write '.*a\.gif': permission denied"):
            write_animation(
                folder / "a.gif", FrameSource(2, lambda i: np.zeros((20, 20, 3), np.uint8)), fps=10
            )
    finally:
        folder.chmod(0o755)


def test_staging_failure_names_the_target(tmp_path, monkeypatch):
    import tempfile

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / ".x.part"))

    monkeypatch.setattr(tempfile, "mkstemp", full)
    monkeypatch.setattr(tempfile, "mkdtemp", full)
    source = FrameSource(2, lambda i: np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(
        NtkvizError, match=r"cannot write '.*a\.gif': no space left on the device \(ENOSPC\)"
    ):
        write_animation(tmp_path / "a.gif", source, fps=10)
    with pytest.raises(NtkvizError, match=r"frames.* (is not writable|no space left)"):
        write_frames_dir(tmp_path / "frames", source)
    assert list(tmp_path.iterdir()) == []


def test_targets_too_large_are_named_not_lr(cli, tmp_path):
    result = cli("linearized", "-o", tmp_path / "a.gif", *TINY, "--quick", "--y-train", "1,1e300")
    assert result.exit_code == 1
    line = one_error(result, "not finite before training", "--y-train")
    assert "--lr" not in line
