"""Vector stills: -o/--still fig.pdf|fig.svg write the key frame as vector graphics."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from ntkviz.errors import NtkvizError
from ntkviz.output import vector
from ntkviz.output.transaction import transaction
from tests.conftest import TINY, temp_leftovers

SVG = "{http://www.w3.org/2000/svg}"


def _pdf_page_size(data: bytes) -> tuple[float, float]:
    box = re.search(rb"/MediaBox \[ *([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) *\]", data)
    assert box, "no MediaBox in the PDF"
    x0, y0, x1, y1 = (float(v) for v in box.groups())
    return x1 - x0, y1 - y0


def test_svg_output_is_xml_with_text_as_text(cli, tmp_path):
    out = tmp_path / "toy.svg"
    result = cli("toy-model", "-o", out, *TINY)
    assert result.exit_code == 0, result.output
    assert "216x144 pt" in result.output
    root = ET.fromstring(out.read_bytes())
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "216pt" and root.get("height") == "144pt"  # 3x2 in * 72
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert texts, "text was drawn as paths, not kept as <text>"
    assert any("α" in t or "alpha" in t.lower() for t in texts), texts  # the title's α
    assert not list(root.iter(f"{SVG}image")), "a vector still must not hold raster images"
    side = json.loads((tmp_path / "toy.svg.json").read_text())
    assert side["format"] == "svg" and (side["width"], side["height"]) == (216, 144)
    assert temp_leftovers(tmp_path) == []


def test_pdf_still_beside_a_gif(cli, tmp_path):
    still = tmp_path / "key.pdf"
    result = cli("toy-model", "-o", tmp_path / "toy.gif", "--still", still, *TINY)
    assert result.exit_code == 0, result.output
    data = still.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    assert _pdf_page_size(data) == pytest.approx((216, 144))
    assert b"/FontFile2" in data or b"TrueType" in data  # fonttype 42: text stays text


def test_vector_output_is_the_same_for_the_same_run(cli, tmp_path):
    for name in ("a.pdf", "b.pdf", "a.svg", "b.svg"):
        assert cli("toy-model", "-o", tmp_path / name, *TINY).exit_code == 0
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_still_suffix_is_checked_before_computing(cli, tmp_path):
    result = cli("toy-model", "--still", tmp_path / "key.eps", *TINY)
    assert result.exit_code == 2
    assert "--still must name a .png, .pdf or .svg file" in result.output


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        (".pdf", b"%PDF-1.4\nno end", "broken PDF"),
        (".pdf", b"hello\n%%EOF", "broken PDF"),
        (".svg", b"<svg><g></svg>", "does not parse"),
        (".svg", b"<html/>", "not an SVG"),
    ],
)
def test_verify_vector_refuses_broken_files(tmp_path, fmt, data, message):
    path = tmp_path / f"x{fmt}"
    path.write_bytes(data)
    with pytest.raises(NtkvizError, match=message):
        vector.verify_vector(path, fmt, path)


def test_animated_artists_are_in_the_vector_still(tmp_path):
    """Blitted (animated) artists are skipped by a plain savefig: write_vector draws them."""
    from ntkviz.drawing.canvas import Renderer
    from ntkviz.drawing.style import Style

    class Moving(Renderer):
        count = 3

        def setup(self):
            ax = self.figure.add_subplot()
            ax.set_xlim(0, 3)
            ax.set_ylim(0, 3)
            ax.set_title("static title")
            (self.line,) = ax.plot([0, 1], [0, 1], gid="moving-line")
            self.label = ax.text(0.5, 0.5, "", gid="moving-text")
            self.animate(self.line)
            self.overlay(self.label)
            self.key_frame = 2

        def update(self, i):
            self.line.set_data([0, i], [0, i])
            self.label.set_text(f"frame {i}")
            return False

    renderer = Moving(None, None, Style(size=(3.0, 2.0), dpi=40.0))
    renderer.frame(0)
    with transaction() as tx:
        written = vector.write_vector(tmp_path / "m.svg", renderer, tx=tx)
    assert written["width"] == 216 and written["height"] == 144
    root = ET.fromstring((tmp_path / "m.svg").read_bytes())
    ids = {el.get("id") for el in root.iter()}
    assert {"moving-line", "moving-text"} <= ids
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "frame 2" in texts and "static title" in texts  # the key frame, text as text
    assert renderer.line.get_animated() and renderer.label.get_animated()  # restored
