"""PDF and SVG: the key frame as vector graphics (text as text), and a check of the written file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ntkviz.errors import ConfigError, NtkvizError, quoted
from ntkviz.output.transaction import Transaction, atomic_target
from ntkviz.runtime.lifecycle import os_cause

SUFFIXES = (".pdf", ".svg")

#: rc settings of a vector still: text stays text (selectable, searchable, editable), fonts are
#: embedded as TrueType in PDF, and nothing is rasterised.
VECTOR_RC = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": "ntkviz",
}


def write_vector(target: Path, renderer: Any, tx: Transaction | None = None) -> dict[str, Any]:
    """The renderer's key frame as a PDF or SVG (format from ``target``'s suffix), the size of the
    PNG still (inches x 72 points); returns {"format", "frames", "width", "height", "bytes"} with
    width/height in points.

    The key frame is drawn first (which sets every animated artist), then the animated artists
    are made ordinary for ``savefig`` (a blitted artist is skipped by a full draw) and restored.
    """
    import matplotlib

    target = Path(target)
    fmt = target.suffix.lower()
    if fmt not in SUFFIXES:
        raise ConfigError(f"{quoted(target)}: a vector still must be .pdf or .svg")
    renderer.frame(renderer.key_frame)
    figure = renderer.figure
    artists = [*renderer.animated, *renderer.overlays]
    was = [a.get_animated() for a in artists]
    width_in, height_in = figure.get_size_inches()
    with atomic_target(target, tx) as tmp:
        try:
            with renderer.drawing(), matplotlib.rc_context(VECTOR_RC):
                for artist in artists:
                    artist.set_animated(False)
                try:
                    metadata = {"Creator": "ntkviz"}
                    if fmt == ".pdf":
                        metadata["CreationDate"] = None  # the same file for the same run
                    else:
                        metadata["Date"] = None
                    with open(tmp, "wb") as handle:
                        figure.savefig(
                            handle, format=fmt.lstrip("."), dpi=figure.dpi, metadata=metadata
                        )
                finally:
                    for artist, flag in zip(artists, was):
                        artist.set_animated(flag)
            verify_vector(tmp, fmt, target)
            size = tmp.stat().st_size
        except OSError as exc:
            raise NtkvizError(f"cannot write {quoted(target)}: {os_cause(exc)}") from exc
    return {
        "format": fmt.lstrip("."),
        "frames": 1,
        "width": round(float(width_in) * 72, 3),
        "height": round(float(height_in) * 72, 3),
        "bytes": size,
    }


def verify_vector(path: Path, fmt: str, target: Path) -> None:
    """A PDF starts with its header and ends with %%EOF; an SVG parses as XML with an <svg> root."""
    data = Path(path).read_bytes()
    if fmt == ".pdf":
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-1024:]:
            raise NtkvizError(
                f"writing {quoted(target)} produced a broken PDF (no header or no %%EOF)"
            )
        return
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise NtkvizError(
            f"writing {quoted(target)} produced an SVG that does not parse ({exc})"
        ) from None
    if not root.tag.endswith("svg"):
        raise NtkvizError(
            f"writing {quoted(target)} produced XML that is not an SVG (<{root.tag}>)"
        )
