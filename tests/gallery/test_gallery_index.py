"""The index pages: README.md and index.html show exactly the figures built, each image or
player a file that exists, the HTML balanced."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ntkviz import gallery
from ntkviz.figures import FIGURES


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
