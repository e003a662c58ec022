"""ntkviz rerun SIDECAR and --config FILE.toml|.json."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY

FAST = ["--frames", "4", *TINY]


@pytest.fixture
def run(cli, tmp_path):
    out = tmp_path / "toy.gif"
    result = cli("toy-model", "-o", out, "--alpha-max", "50", "--seed", "3", *FAST)
    assert result.exit_code == 0, result.output
    return out


def test_rerun_reproduces_the_file_byte_for_byte(cli, run, tmp_path):
    other = tmp_path / "again.gif"
    result = cli("rerun", f"{run}.json", "-o", other, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    assert other.read_bytes() == run.read_bytes()
    first = json.loads((tmp_path / "toy.gif.json").read_text())
    again = json.loads((tmp_path / "again.gif.json").read_text())
    for key in ("figure", "config", "seed", "style", "fps", "hold", "caption"):
        assert again[key] == first[key], key


def test_rerun_without_output_rewrites_the_recorded_files(cli, run, tmp_path):
    before = run.read_bytes()
    run.unlink()
    result = cli("rerun", f"{run}.json", "--no-progress")
    assert result.exit_code == 0, result.output
    assert run.read_bytes() == before


def test_rerun_other_format(cli, run, tmp_path):
    result = cli("rerun", f"{run}.json", "-o", tmp_path / "still.svg", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "still.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_rerun_warns_when_versions_differ(cli, run, tmp_path):
    sidecar = tmp_path / "toy.gif.json"
    record = json.loads(sidecar.read_text())
    record["versions"]["torch"] = "0.0.1"
    sidecar.write_text(json.dumps(record))
    result = cli("rerun", sidecar, "-o", tmp_path / "b.gif", "--no-progress")
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("Warning:")]
    assert len(warnings) == 1 and "torch 0.0.1" in warnings[0]
    assert (tmp_path / "b.gif").read_bytes() == run.read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"hello": 1}', "is not an ntkviz sidecar (no figure, output"),
        ("GIF89a not json", "is not an ntkviz sidecar (not JSON)"),
        ("[1, 2]", "is not an ntkviz sidecar"),
    ],
)
def test_rerun_refuses_what_is_not_a_sidecar(cli, tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content)
    result = cli("rerun", path)
    assert result.exit_code == 2  # bad input, like a bad option
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _config(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("opts.toml", "alpha-max = 40.0\nw_half_range = 2\nf-limits = [-3, 8]\nseed = 5\n"),
        ("opts.json", '{"alpha_max": 40, "w-half-range": 2, "f_limits": [-3, 8], "seed": 5}'),
    ],
)
def test_config_file_supplies_options(cli, tmp_path, name, text):
    path = _config(tmp_path, name, text)
    out = tmp_path / "a.gif"
    result = cli("toy-model", "--config", path, "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    side = json.loads((tmp_path / "a.gif.json").read_text())
    assert side["config"]["alpha_max"] == 40
    assert side["config"]["w_half_range"] == 2
    assert side["config"]["f_limits"] == [-3, 8]
    assert side["seed"] == 5


def test_command_line_wins_over_config_file(cli, tmp_path):
    path = _config(tmp_path, "o.toml", "alpha-max = 40.0\nseed = 5\nframes = 2\n")
    out = tmp_path / "a.gif"
    result = cli("toy-model", "--config", path, "--alpha-max", "7", "--seed", "0", "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    side = json.loads((tmp_path / "a.gif.json").read_text())
    assert side["config"]["alpha_max"] == 7
    assert side["seed"] == 0
    assert side["config"]["frames"] == 4  # FAST's --frames 4 beats the file's 2


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("o.toml", "alpha-maxx = 3\n", "unknown option 'alpha-maxx'"),
        ("o.toml", "alpha-max = -3\n", "--alpha-max must be > 0"),
        ("o.toml", "points = 'many'\n", "Invalid value for '--points': must be a whole number"),
        ("o.toml", "alpha-max = \n", "is not valid TOML"),
        ("o.json", "{", "is not valid JSON"),
        ("o.yaml", "a: 1", "must name a .toml or .json file"),
    ],
)
def test_bad_config_file_is_one_line(cli, tmp_path, name, text, message):
    path = _config(tmp_path, name, text)
    result = cli("toy-model", "--config", path, "-o", tmp_path / "a.gif", *FAST)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a.gif").exists()


def test_toml_without_tomllib_or_tomli(monkeypatch, tmp_path):
    import builtins

    from ntkviz.cli.configfile import read_config_file
    from ntkviz.errors import ConfigError

    real = builtins.__import__

    def no_toml(name, *args, **kwargs):
        if name in ("tomllib", "tomli"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_toml)
    path = _config(tmp_path, "o.toml", "seed = 1\n")
    with pytest.raises(ConfigError, match="needs Python >= 3.11 or the tomli package"):
        read_config_file(path)
    assert read_config_file(_config(tmp_path, "o.json", '{"seed": 1}')) == {"seed": 1}


def test_a_config_giving_one_option_in_both_spellings_is_refused(tmp_path):
    """{"alpha-max": 10, "alpha_max": 20}: one line, exit 2, nothing written (not the last one
    silently winning)."""
    import json
    import subprocess
    import sys

    (tmp_path / "c.json").write_text(json.dumps({"alpha-max": 10, "alpha_max": 20}))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ntkviz",
            "toy-model",
            "--config",
            "c.json",
            "--quick",
            "-o",
            "x.png",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "given twice" in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]


def test_an_output_named_like_a_frame_inside_frames_dir_is_refused(tmp_path):
    """-o fr/frame_00000.png --frames-dir fr: the output and a frame would be one file."""
    import subprocess
    import sys

    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "frame_00000.png").write_bytes(b"mine")
    run = subprocess.run(
        [sys.executable, "-m", "ntkviz", "toy-model", "--quick", "--frames", "3",
         "-o", "fr/frame_00000.png", "--frames-dir", "fr", "--replace-frames"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "frame's name" in lines[0], lines
    assert sorted(p.name for p in (tmp_path / "fr").iterdir()) == ["frame_00000.png"]
    assert (tmp_path / "fr" / "frame_00000.png").read_bytes() == b"mine"
