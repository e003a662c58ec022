"""The gallery command: builds, skips what is current, indexes exactly what exists, validates."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from ntkviz.figures import FIGURES
from ntkviz.gallery import build as gallery


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.players: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])
        elif tag == "iframe":  # an animated figure's player page (ntkviz.output.player)
            self.players.append(dict(attrs)["src"].split("#")[0])
            self.stack.append(tag)
        elif tag not in ("meta", "link", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")


def check_index(folder: Path) -> set[str]:
    parser = _Collect()
    parser.feed((folder / "index.html").read_text())
    assert parser.errors == [] and parser.stack == []
    readme = (folder / "README.md").read_text()
    md_images = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme))
    md_players = set(re.findall(r"\[Player\]\(([^)]+)\)", readme))
    assert set(parser.players) == md_players
    # index.html shows a figure's player where it has one, else its image; README.md the image
    with_player = {Path(p).stem for p in md_players}
    assert set(parser.sources) == {m for m in md_images if Path(m).stem not in with_player}
    for name in md_images | md_players:
        assert (folder / name).is_file(), name
    return md_images


@pytest.fixture(scope="module")
def quick_gallery(tmp_path_factory):
    """Every registered figure, --quick, built once for the tests below."""
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    out = tmp_path_factory.mktemp("gallery")
    result = CliRunner().invoke(app, ["gallery", "--out", str(out), "--quick", "--jobs", "2", "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_quick_gallery_has_every_figure_and_a_valid_index(quick_gallery):
    images = check_index(quick_gallery)
    assert {Path(name).stem for name in images} == set(FIGURES)
    for name, spec in FIGURES.items():
        main = quick_gallery / f"{name}.{'gif' if spec.animated else 'png'}"
        sidecar = json.loads((quick_gallery / f"{main.name}.json").read_text())
        assert sidecar["quick"] is True and sidecar["figure"] == name
        if spec.animated:
            assert (quick_gallery / f"{name}.png").is_file()
    assert gallery.validate(quick_gallery) == []
    assert gallery.compare(quick_gallery, quick_gallery) == []


def test_second_run_skips_and_force_rebuilds(cli, tmp_path):
    args = ("gallery", "--out", tmp_path, "--quick", "--only", "toy-model", "--jobs", "1")
    first = cli(*args)
    assert first.exit_code == 0, first.output
    stamp = (tmp_path / "toy-model.gif").stat().st_mtime_ns
    second = cli(*args)
    assert second.exit_code == 0 and "skipped" in second.stdout
    # Says why and how to force it, on one line.
    assert f"skipped 1 (toy-model) as {gallery.SKIPPED}" in second.stdout
    assert "--force" in gallery.SKIPPED and "--force)" in second.stdout
    assert (tmp_path / "toy-model.gif").stat().st_mtime_ns == stamp
    forced = cli(*args, "--force")
    assert forced.exit_code == 0 and "built" in forced.stdout
    assert (tmp_path / "toy-model.gif").stat().st_mtime_ns != stamp
    check_index(tmp_path)


def test_mp4_on_request_and_validation(cli, tmp_path):
    result = cli(
        "gallery",
        "--out",
        tmp_path,
        "--quick",
        "--only",
        "toy-model",
        "--format",
        "gif,mp4,png",
        "--jobs",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "toy-model.mp4").is_file()
    assert gallery.validate(tmp_path) == []


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
        "toy-model.png: mean pixel difference" in result.stderr and "make gallery" in result.stderr
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


def test_unknown_figure_and_format(cli, tmp_path):
    result = cli("gallery", "--out", tmp_path, "--only", "nope")
    assert result.exit_code == 2 and "--only: unknown figure(s) nope" in result.stderr
    result = cli("gallery", "--out", tmp_path, "--only", "toy-model", "--format", "gif,avi")
    assert result.exit_code == 2 and "--format" in result.stderr


def test_schedule_longest_first_from_sidecars_then_estimates(tmp_path):
    names = ["toy-model", "generalization", "kappa-scaling", "ntk-convergence", "brand-new"]
    # No sidecars: the static estimates, an unknown figure at UNKNOWN_SECONDS.
    order = gallery.schedule(names, tmp_path)
    assert order[:2] == ["generalization", "ntk-convergence"]
    assert order.index("brand-new") < order.index("toy-model") < order.index("kappa-scaling")
    # A previous build's sidecar wins over the estimate.
    seconds = {"simulate": 60.0, "render": 1.0, "write": 1.0}
    (tmp_path / "toy-model.gif.json").write_text(json.dumps({"seconds": seconds}))
    (tmp_path / "brand-new.gif.json").write_text("not json")  # unreadable: the default
    assert gallery.expected_seconds("toy-model", tmp_path) == 62.0
    assert gallery.expected_seconds("brand-new", tmp_path) == gallery.UNKNOWN_SECONDS
    assert gallery.schedule(names, tmp_path)[0] == "toy-model"
    assert sorted(gallery.schedule(names, tmp_path)) == sorted(names)


def test_every_figure_has_an_estimate():
    assert set(gallery.ESTIMATES) <= set(FIGURES)


def test_build_runs_the_long_figures_first(tmp_path, monkeypatch):
    ran = []

    def fake(job):
        ran.append((job.name, job.threads))
        return {"figure": job.name, "status": "built"}

    monkeypatch.setattr(gallery, "_guarded", fake)
    monkeypatch.setattr(gallery, "write_index", lambda out, rows: None)
    names = ["toy-model", "ntk-convergence", "kappa-scaling", "generalization"]
    rows = gallery.build(tmp_path, names, ("gif",), jobs=1)
    assert [name for name, _ in ran] == gallery.schedule(names, tmp_path)
    assert [name for name, _ in ran][:2] == ["generalization", "ntk-convergence"]
    assert [row["figure"] for row in rows] == names  # the summary keeps the given order
