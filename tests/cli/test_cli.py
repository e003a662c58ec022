"""The CLI end to end at tiny sizes, and every bad input: one line, non-zero exit, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY, gif_frames, mp4_info, temp_leftovers

import ntkviz


def test_version_and_list(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"ntkviz {ntkviz.__version__}"
    result = cli("list")
    assert result.exit_code == 0
    from ntkviz.figures import FIGURES

    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == list(FIGURES)
    assert {"toy-model", "loss-surface"} <= set(names)


def test_toy_model_gif_and_sidecar(cli, tmp_path):
    out = tmp_path / "toy.gif"
    result = cli(
        "toy-model", "-o", out, "--frames", 4, "--points", 50, *TINY, "--seed", 3, "--hold", 2
    )
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stdout
    frames, durations, info = gif_frames(out)
    assert len(frames) == 4 and frames[0].shape == (80, 120, 3)
    # the last frame stays up for the default --hold of 2 s (20 held frames merged into one)
    assert durations == [100, 100, 100, 2100] and info["loop"] == 0
    sidecar = json.loads((tmp_path / "toy.gif.json").read_text())
    assert sidecar["hold"] == 2.0 and sidecar["caption"]
    assert sidecar["figure"] == "toy-model"
    assert sidecar["config"]["frames"] == 4 and sidecar["config"]["w0"] == 0.4
    assert sidecar["seed"] == 3 and sidecar["fps"] == 10
    # 4 frames drawn; the end hold (2 s at 10 fps) is 20 copies of the last, counted apart
    assert (sidecar["frames"], sidecar["width"], sidecar["height"]) == (4, 120, 80)
    assert sidecar["hold_frames"] == 20 and sidecar["hold_s"] == 2.0
    assert set(sidecar["versions"]) >= {"ntkviz", "torch", "numpy", "matplotlib", "imageio"}
    assert set(sidecar["seconds"]) == {"simulate", "render", "write"} and sidecar["jobs"] >= 1
    assert temp_leftovers(tmp_path) == []


def test_hold_option(cli, tmp_path):
    out = tmp_path / "toy.gif"
    result = cli("toy-model", "-o", out, "--frames", 4, "--points", 50, *TINY, "--hold", 0)
    assert result.exit_code == 0, result.output
    assert gif_frames(out)[1] == [100] * 4
    assert json.loads((tmp_path / "toy.gif.json").read_text())["frames"] == 4
    mp4 = tmp_path / "toy.mp4"
    result = cli("toy-model", "-o", mp4, "--frames", 4, "--points", 50, *TINY, "--hold", 0.5)
    assert result.exit_code == 0, result.output
    assert mp4_info(mp4)[0] == 4 + 5  # 0.5 s at 10 fps: five more of the last frame
    result = cli("toy-model", "-o", out, *TINY, "--hold", -1)
    assert result.exit_code == 2 and "--hold must be between 0 and 600" in result.output


@pytest.mark.parametrize("view,width", [("fixed", 120), ("zoom", 120), ("both", 120)])
def test_loss_surface_views_still_and_data(cli, tmp_path, view, width):
    out = tmp_path / "loss.gif"
    result = cli(
        "loss-surface",
        "-o",
        out,
        "--frames",
        3,
        "--points",
        40,
        "--view",
        view,
        "--still",
        tmp_path / "still.png",
        "--data",
        tmp_path / "numbers.npz",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    frames, _, _ = gif_frames(out)
    assert len(frames) == 3 and frames[0].shape == (80, width, 3)
    assert (tmp_path / "still.png").stat().st_size > 0
    data = np.load(tmp_path / "numbers.npz")
    assert data["actual_zoom"].shape == (3, 40)
    assert json.loads(str(data["__config__"]))["config"]["view"] == view


@pytest.mark.parametrize("suffix", ["mp4", "webp", "png"])
def test_other_formats(cli, tmp_path, suffix):
    out = tmp_path / f"toy.{suffix}"
    result = cli("toy-model", "-o", out, "--frames", 3, "--points", 30, *TINY)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    assert json.loads((tmp_path / f"toy.{suffix}.json").read_text())["format"] == suffix


def test_frames_dir(cli, tmp_path):
    result = cli(
        "toy-model",
        "-o",
        tmp_path / "a.gif",
        "--frames",
        3,
        "--points",
        30,
        "--frames-dir",
        tmp_path / "frames",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "frame_00000.png",
        "frame_00001.png",
        "frame_00002.png",
    ]


def test_quick_preset_is_marked_and_overridable(cli, tmp_path):
    result = cli("toy-model", "-o", tmp_path / "q.gif", "--quick", "--frames", 2, *TINY)
    assert result.exit_code == 0, result.output
    sidecar = json.loads((tmp_path / "q.gif.json").read_text())
    assert sidecar["quick"] is True
    assert sidecar["config"]["frames"] == 2  # an explicit option beats the preset
    assert sidecar["config"]["points"] == 200  # the preset's value


def test_same_seed_same_bytes_and_another_seed_differs(cli, tmp_path):
    args = ("--count", 3, "--width", 8, "--frames", 3, "--hold-first", 1, *TINY)
    for name, seed in (("a.gif", 7), ("b.gif", 7), ("c.gif", 8)):
        result = cli("init-functions", "-o", tmp_path / name, *args, "--seed", seed)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    assert (tmp_path / "a.gif").read_bytes() != (tmp_path / "c.gif").read_bytes()


BAD = [
    (["--jobs", "-1"], "--jobs must be >= 0"),
    (["--fps", "0"], "--fps must be > 0"),
    (["--fps", "-3"], "--fps must be > 0"),
    (["--fps", "5000"], "--fps must be > 0 and <= 240"),
    (["--fps", "60"], "--fps <= 50"),
    (["--fps", "abc"], "Invalid value for '--fps'"),
    (["--frames", "0"], "--frames must be >= 1"),
    (["--size", "0x2"], "--size must be positive"),
    (["--size", "-3x2"], "--size must be positive"),
    (["--size", "big"], "--size must look like WxH"),
    (["--dpi", "0"], "--dpi must be > 0"),
    (["--dpi", "-10"], "--dpi must be > 0"),
    (["--alpha-min", "10", "--alpha-max", "5"], "--alpha-min (10) must not exceed --alpha-max (5)"),
    (["--alpha-min", "0"], "--alpha-min must be > 0"),
    (["--alpha-min", "-1"], "--alpha-min must be > 0"),
    (["--alpha-max", "nan"], "--alpha-max must be a finite number"),
    (["--f-limits", "3,1"], "--f-limits must be MIN,MAX with MIN < MAX"),
    (["--f-limits", "1,2,3"], "--f-limits needs exactly 2 values"),
    (["--f-limits", "-1e308,1e308"], "--f-limits must lie within"),
    (["--w-half-range", "1e308"], "--w-half-range must be <= 1e+06"),
    (["--seed", "18446744073709551616"], "--seed must be between 0 and 2^63 - 1"),
    (["--seed", "-1"], "--seed must be between 0 and 2^63 - 1"),
    (["--f-limits", "a,b"], "--f-limits expects a comma-separated list of numbers"),
    (["--theme", "purple"], "--theme must be one of light, dark"),
    (["--device", "tpu"], "--device must be one of cpu, cuda, cuda:N, mps"),
    (["--bogus"], "No such option"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_one_line_nothing_written(cli, tmp_path, args, message):
    out = tmp_path / "toy.gif"
    result = cli("toy-model", "-o", out, *TINY, *args)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make_target,message",
    [
        (lambda p: p / "x.avi", "unknown output format '.avi'"),
        (lambda p: p / "noext", "unknown output format '(none)'"),
        (lambda p: p / "missing" / "x.gif", "does not exist"),
        (lambda p: __import__("pathlib").Path("/proc/self/x.gif"), "not writable"),
    ],
)
def test_bad_output_paths(cli, tmp_path, make_target, message):
    result = cli("toy-model", "-o", make_target(tmp_path), *TINY)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--data", "missing/x.npz", "does not exist"),
        ("--data", "x.csv", "--data must name a .npz file"),
        ("--still", "x.jpg", "--still must name a .png, .pdf or .svg file"),
        ("--still", "missing/x.png", "does not exist"),
    ],
)
def test_bad_side_outputs(cli, tmp_path, option, value, message):
    result = cli("toy-model", "-o", tmp_path / "a.gif", option, tmp_path / value, *TINY)
    assert result.exit_code == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_error_leaves_existing_output_untouched(cli, tmp_path):
    out = tmp_path / "toy.gif"
    assert cli("toy-model", "-o", out, "--frames", 2, "--points", 20, *TINY).exit_code == 0
    before = out.read_bytes(), (tmp_path / "toy.gif.json").read_bytes()
    result = cli("toy-model", "-o", out, "--frames", 2, "--alpha-min", "-1", *TINY)
    assert result.exit_code == 2
    assert (out.read_bytes(), (tmp_path / "toy.gif.json").read_bytes()) == before
    assert temp_leftovers(tmp_path) == []


def test_loss_surface_bad_view(cli, tmp_path):
    result = cli("loss-surface", "-o", tmp_path / "a.gif", "--view", "sideways", *TINY)
    assert result.exit_code == 2
    assert "--view must be one of fixed, zoom, both" in result.stderr


def test_cuda_without_cuda_is_one_clear_line(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("toy-model", "-o", tmp_path / "a.gif", "--device", "cuda", *TINY)
    assert result.exit_code == 2
    assert "--device cuda: no CUDA device is available" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_failure_after_the_main_file_changes_nothing(cli, tmp_path, monkeypatch):
    """Outputs appear together at the end: a failure writing the last one (the sidecar) leaves
    the previous output, still and sidecar exactly as they were, and no temporary files."""
    from ntkviz.output import formats

    out, still = tmp_path / "toy.gif", tmp_path / "toy.png"
    args = ("toy-model", "-o", out, "--still", still, "--frames", 2, "--points", 20, *TINY)
    assert cli(*args).exit_code == 0
    before = [p.read_bytes() for p in (out, still, tmp_path / "toy.gif.json")]

    def broken(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(formats.Json, "write_data", broken)
    result = cli(*args[: -len(TINY)], "--frames", 3, *TINY)
    assert result.exit_code != 0
    assert [p.read_bytes() for p in (out, still, tmp_path / "toy.gif.json")] == before
    assert temp_leftovers(tmp_path) == []


@pytest.mark.parametrize("option", ["--frames-dir", "--still"])
def test_outputs_must_not_collide(cli, tmp_path, option):
    output = tmp_path / ("a.png" if option == "--still" else "a.gif")
    result = cli("toy-model", "-o", output, option, output, *TINY)
    assert result.exit_code == 2
    assert f"Error: {option} {str(output)!r} is the same path as --output" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_jobs_do_not_change_the_file(cli, tmp_path):
    """The same figure (with mathtext labels) drawn in one process and in two: the same bytes."""
    outputs = []
    for jobs in (1, 2):
        out = tmp_path / f"loss{jobs}.gif"
        args = ("--frames", 24, "--points", 40, "--view", "both", "--jobs", jobs)
        result = cli("loss-surface", "-o", out, *args, *TINY)
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
