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


def test_check_reports_byte_equality_and_the_pins_as_information(cli, toy_gallery, tmp_path):
    """--check says how many files are byte-identical to the committed ones and whether the pins
    held for both builds; bytes that differ within the tolerance (the same pixels, here a PNG
    compressed otherwise, as a build on another CPU may differ) do not fail the check."""
    import json

    from PIL import Image

    reference = copy_of(toy_gallery, tmp_path / "reference")
    out = copy_of(toy_gallery, tmp_path / "out")
    pictures = sorted(p.name for p in reference.iterdir() if p.suffix in (".gif", ".png"))
    args = ("gallery", "--out", out, "--quick", "--only", "toy-model", "--jobs", "1", "-q")
    same = cli(*args, "--force", "--check", reference)
    assert same.exit_code == 0, same.output
    (line,) = [x for x in same.stdout.splitlines() if x.startswith("Bytes: ")]
    assert f"{len(pictures)} of {len(pictures)} files byte-identical" in line, line
    assert "this build pinned (" in line and "the committed one pinned (" in line, line

    still = reference / "toy-model.png"
    with Image.open(still) as im:
        im.load()
        im.save(still, compress_level=1)  # the same pixels, other bytes
    for sidecar_file in reference.glob("*.json"):  # a committed build made unpinned
        record = json.loads(sidecar_file.read_text())
        if isinstance(record, dict) and "pins" in record:
            record["pins"] = None
            sidecar_file.write_text(json.dumps(record))
    differ = cli(*args, "--check", reference)
    assert differ.exit_code == 0, differ.output  # the tolerance is the gate, not the bytes
    (line,) = [x for x in differ.stdout.splitlines() if x.startswith("Bytes: ")]
    assert f"{len(pictures) - 1} of {len(pictures)} files byte-identical" in line, line
    assert "(differ: toy-model.png)" in line and "the committed one not pinned" in line, line
    assert "information only" in line


def spread_readme(names_with: list[str], names_without: list[str]) -> str:
    parts = ["# ntkviz gallery", ""]
    for name in names_with:
        parts += [f"## {name}", "", "slope -0.99 (-1.02 to -0.97 over 5 seeds), theory -1", ""]
    for name in names_without:
        parts += [f"## {name}", "", "slope -0.99 from one draw", ""]
    return "\n".join(parts)


def test_the_readme_must_state_spreads_for_six_figures():
    """The check counts the figures whose README text states a spread; fewer than six is one
    line naming them; a number without its range does not count."""
    from ntkviz.gallery.index import MIN_SPREADS, readme_spreads, spread_problem

    assert MIN_SPREADS == 6
    six = spread_readme([f"f{i}" for i in range(6)], ["g"])
    assert readme_spreads(six) == [f"f{i}" for i in range(6)] and spread_problem(six) is None
    five = spread_readme([f"f{i}" for i in range(5)], ["g", "h"])
    problem = spread_problem(five)
    assert problem is not None and "\n" not in problem
    assert "for 5 figures (f0, f1, f2, f3, f4), fewer than 6" in problem


def test_the_committed_readme_states_spreads_for_six_figures():
    from ntkviz.gallery.index import readme_spreads, spread_problem

    readme = Path(__file__).parents[2] / "gallery" / "README.md"
    if not readme.is_file():
        pytest.skip("no committed gallery in this checkout")
    text = readme.read_text(encoding="utf-8")
    assert spread_problem(text) is None, readme_spreads(text)


def test_a_full_gallery_whose_readme_lacks_spreads_fails_validate(tmp_path, monkeypatch):
    """validate() holds a full gallery (every figure, not --quick) to the six spreads; a
    partial or quick one is not held to it."""
    import json

    from ntkviz import registry

    names = list(registry.figures())
    for name in names:
        record = {"figure": name, "frames": 1, "width": 1, "height": 1, "quick": False}
        (tmp_path / f"{name}.txt.json").write_text(json.dumps(record))
    monkeypatch.setattr(gallery.check, "_picture_problem", lambda *a: None)
    (tmp_path / "README.md").write_text(spread_readme(names[:2], names[2:]))
    problems = [p for p in gallery.validate(tmp_path) if "README" in p]
    assert len(problems) == 1 and "for 2 figures" in problems[0], problems
    (tmp_path / "README.md").write_text(spread_readme(names[:6], names[6:]))
    assert [p for p in gallery.validate(tmp_path) if "README" in p] == []
    (tmp_path / f"{names[0]}.txt.json").unlink()  # a partial gallery: not held to six
    (tmp_path / "README.md").write_text(spread_readme([], names))
    assert [p for p in gallery.validate(tmp_path) if "README" in p] == []
