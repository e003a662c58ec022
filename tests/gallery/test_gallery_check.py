"""gallery --check reports every bad file as one line and never crashes; its arguments are
checked before anything is built; a figure is rebuilt when anything that made it changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ntkviz import gallery


@pytest.fixture(scope="module")
def toy_gallery(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    out = tmp_path_factory.mktemp("toy")
    args = ["gallery", "--out", str(out), "--quick", "--only", "toy-model", "--jobs", "1", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def copy_of(folder: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(folder, to)
    return to


def test_check_reports_every_bad_file_and_never_crashes(toy_gallery, tmp_path):
    built = copy_of(toy_gallery, tmp_path / "built")
    data = (built / "toy-model.gif").read_bytes()
    (built / "toy-model.gif").write_bytes(data[: len(data) // 3])  # truncated
    (built / "toy-model.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")  # corrupt still
    (built / "other.gif.json").write_text("{not json")  # a sidecar of garbage
    (built / "list.png.json").write_text("[1, 2]")  # JSON, but no sidecar
    (built / "stray.webp").write_bytes(b"RIFF....WEBP")  # a picture nobody made
    problems = gallery.validate(built)
    text = "\n".join(problems)
    for name in ("toy-model.gif", "toy-model.png", "other.gif.json", "list.png.json", "stray.webp"):
        assert name in text, text
    assert all("\n" not in p for p in problems)

    reference = copy_of(toy_gallery, tmp_path / "reference")
    (reference / "toy-model.png").write_bytes(b"not a png at all")
    changed = gallery.compare(toy_gallery, reference)
    assert len(changed) == 1 and "toy-model.png" in changed[0] and "decode" in changed[0]


def test_check_exits_1_with_one_line_per_finding(cli, toy_gallery, tmp_path):
    reference = copy_of(toy_gallery, tmp_path / "reference")
    data = (reference / "toy-model.gif").read_bytes()
    (reference / "toy-model.gif").write_bytes(data[:100])
    (reference / "junk.gif").write_bytes(b"GIF89a")
    out = copy_of(toy_gallery, tmp_path / "out")
    args = ("gallery", "--out", out, "--quick", "--only", "toy-model", "--jobs", "1", "-q")
    result = cli(*args, "--check", reference)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert all(line.startswith("Error: gallery check: ") for line in lines), lines
    assert any("toy-model.gif" in line for line in lines)
    assert any("junk.gif" in line for line in lines)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--check", "missing-folder"], "--check folder 'missing-folder' does not exist"),
        (["--tolerance", "nan"], "--tolerance must be a finite number >= 0"),
        (["--tolerance", "inf"], "--tolerance must be a finite number >= 0"),
        (["--tolerance", "-1"], "--tolerance must be a finite number >= 0"),
    ],
)
def test_check_arguments_are_refused_before_building(cli, tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    result = cli("gallery", "--out", "out", "--quick", "--only", "toy-model", *extra)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []  # nothing built


def test_compare_tolerance_bounds():
    with pytest.raises(Exception, match="--tolerance"):
        gallery.compare(Path("."), Path("."), float("nan"))


def test_check_reports_a_changed_figure(cli, tmp_path):
    built, reference = tmp_path / "built", tmp_path / "reference"
    assert (
        cli("gallery", "--out", built, "--quick", "--only", "toy-model", "--jobs", "1").exit_code
        == 0
    )
    reference.mkdir()
    still = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).open(built / "toy-model.png").convert("RGB")
    )
    import imageio.v3 as iio

    iio.imwrite(reference / "toy-model.png", 255 - still)  # a very different committed picture
    result = cli(
        "gallery",
        "--out",
        built,
        "--quick",
        "--only",
        "toy-model",
        "--jobs",
        "1",
        "--check",
        reference,
    )
    assert result.exit_code == 1
    assert (
        "'toy-model.png': mean pixel difference" in result.stderr
        and "make gallery" in result.stderr
    )


def test_validate_catches_a_truncated_file(tmp_path, cli):
    assert (
        cli("gallery", "--out", tmp_path, "--quick", "--only", "toy-model", "--jobs", "1").exit_code
        == 0
    )
    data = (tmp_path / "toy-model.gif").read_bytes()
    (tmp_path / "toy-model.gif").write_bytes(data[: len(data) // 3])
    problems = gallery.validate(tmp_path)
    assert problems and "toy-model.gif" in problems[0]
