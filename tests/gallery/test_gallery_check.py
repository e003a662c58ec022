"""gallery --check reports every bad file as one line and never crashes; its arguments are
checked before anything is built; a figure is rebuilt when anything that made it changed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ntkviz.gallery import build as gallery


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
        (["--check", "missing-folder"], "--check folder missing-folder does not exist"),
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


def _plan(out: Path, **changes):
    job = gallery.Job("toy-model", out, ("gif", "png"), quick=True)
    return gallery.plan(dataclasses.replace(job, **changes))


def _edit_sidecar(out: Path, edit) -> None:
    path = out / "toy-model.gif.json"
    sidecar = json.loads(path.read_text())
    edit(sidecar)
    path.write_text(json.dumps(sidecar))


def test_rebuilt_when_config_seed_style_version_or_picture_changed(tmp_path):
    out = tmp_path / "g"
    gallery.build(out, ["toy-model"], ["gif", "png"], 1, quick=True)
    _, config, options = _plan(out)
    assert gallery.is_current(config, options)
    # another seed asked for
    _, config2, options2 = _plan(out, seed=5)
    assert not gallery.is_current(config2, options2)
    # another config or style than the sidecar records
    assert not gallery.is_current(dataclasses.replace(config, frames=config.frames + 1), options)
    restyled = dataclasses.replace(options, style=dataclasses.replace(options.style, theme="dark"))
    assert not gallery.is_current(config, restyled)
    # made by another ntkviz
    saved = (out / "toy-model.gif.json").read_text()
    _edit_sidecar(out, lambda s: s["versions"].update(ntkviz="0.0.0"))
    assert not gallery.is_current(config, options)
    (out / "toy-model.gif.json").write_text(saved)
    assert gallery.is_current(config, options)
    # the picture itself: truncated, or another size than the sidecar says
    gif = (out / "toy-model.gif").read_bytes()
    (out / "toy-model.gif").write_bytes(gif[: len(gif) // 2])
    assert not gallery.is_current(config, options)
    (out / "toy-model.gif").write_bytes(gif)
    _edit_sidecar(out, lambda s: s.update(width=s["width"] + 1))
    assert not gallery.is_current(config, options)
    (out / "toy-model.gif.json").write_text(saved)
    (out / "toy-model.png").write_bytes(b"broken still")
    assert not gallery.is_current(config, options)
    # a sidecar that is not one
    (out / "toy-model.gif.json").write_text("[]")
    assert not gallery.is_current(config, options)
    # and the build then rebuilds it, current again
    rows = gallery.build(out, ["toy-model"], ["gif", "png"], 1, quick=True)
    assert rows[0]["status"] == "built" and gallery.is_current(config, options)
    assert gallery.validate(out) == []
