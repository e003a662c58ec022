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
        self.overview: list[str] = []  # the pictures of the overview at the top (stills)
        self.players: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            (self.overview if "nav" in self.stack else self.sources).append(dict(attrs)["src"])
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
    for name in md_images | md_players | set(parser.overview):
        assert (folder / name).is_file(), name
    # the overview shows each figure's still (its key frame), in the order of the sections
    assert [Path(p).stem for p in parser.overview] == [Path(m).stem for m in md_ordered(readme)]
    for shown in parser.overview:  # the still where there is one, else the animation
        stem = Path(shown).stem
        assert shown == (f"{stem}.png" if (folder / f"{stem}.png").is_file() else f"{stem}.gif")
    return md_images


def md_ordered(readme: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)


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


def test_a_users_own_readme_or_index_in_out_is_refused_before_building(tmp_path):
    """`gallery --out DIR` would replace DIR/README.md and DIR/index.html: where those are not a
    gallery's (the user's own notes), it is one line, exit 2, and nothing is built or changed."""
    import subprocess
    import sys

    for name, text in (("README.md", "# my notes\n"), ("index.html", "<html>mine</html>")):
        out = tmp_path / name.replace(".", "_")
        out.mkdir()
        (out / name).write_text(text)
        run = subprocess.run(
            [sys.executable, "-m", "ntkviz", "gallery", "--out", str(out), "--only", "toy-model"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and name in lines[0], lines
        assert sorted(p.name for p in out.iterdir()) == [name]
        assert (out / name).read_text() == text


def test_a_gallerys_own_index_files_are_not_foreign(tmp_path):
    from ntkviz.gallery.index import foreign_index_files, write_index

    write_index(tmp_path, [])
    assert (tmp_path / "README.md").exists() and (tmp_path / "index.html").exists()
    assert foreign_index_files(tmp_path) == []
    (tmp_path / "README.md").write_text("# notes\n")
    assert foreign_index_files(tmp_path) == [tmp_path / "README.md"]


@pytest.mark.parametrize("args", [["--only", ""], ["--only", ",,"], ["--format", ""]])
def test_empty_only_or_format_is_refused(tmp_path, args):
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "ntkviz", "gallery", "--out", str(tmp_path / "g"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "names no" in run.stderr
    assert not (tmp_path / "g").exists()


def test_the_readme_says_which_figures_state_spreads(quick_gallery):
    """The README's opening names the figures whose captions state a spread, as the check
    counts them."""
    from ntkviz.gallery.index import readme_spreads

    text = (quick_gallery / "README.md").read_text()
    named = readme_spreads(text)
    if named:
        assert f"in {len(named)} figures: {', '.join(named)}." in text
