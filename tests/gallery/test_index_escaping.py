"""index.html shows what the sidecars say (caption, reading, command, file names) as text, never
as markup: parsed back, it holds only the index's own elements and each text as given."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from ntkviz.gallery.index import write_index
from ntkviz.gallery.page import lead

HOSTILE = "a < b & c > d \"q\" 'r' </p><script>alert(1)</script><img src=x onerror=alert(2)> &amp;"


class _Parse(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {}  # class (or tag) -> each such element's own text
        self._open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in ("img", "meta", "br"):
            self._open.append((attrs.get("class") or tag, []))

    def handle_endtag(self, tag):
        if self._open:
            where, parts = self._open.pop()
            self.texts.setdefault(where, []).append("".join(parts))

    def handle_data(self, data):
        if self._open:
            self._open[-1][1].append(data)


@pytest.mark.parametrize("with_player", [False, True], ids=["image", "player"])
def test_index_html_escapes_sidecar_text(tmp_path, with_player):
    files = ["toy-model.gif"] + (["toy-model.html"] if with_player else [])
    for name in files:
        (tmp_path / name).write_bytes(b"x")
    sidecar = {
        "caption": HOSTILE,
        "reading": HOSTILE,
        "command": ["ntkviz", "toy-model", "--title", HOSTILE],
        "width": 120,
        "height": 80,
    }
    (tmp_path / "toy-model.gif.json").write_text(json.dumps(sidecar))
    write_index(tmp_path, [{"status": "built", "figure": "toy-model", "files": files}])

    parser = _Parse()
    parser.feed((tmp_path / "index.html").read_text())
    parser.close()
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("script") == 1, tags  # the index's own (frame heights, play in view)
    assert not any(k.startswith("on") for _, attrs in parser.tags for k in attrs)
    # the overview's picture (the GIF: no still here), and the figure's own where no player
    assert tags.count("img") == (1 if with_player else 2)
    assert tags.count("iframe") == (1 if with_player else 0)
    assert parser.texts["caption"] == [HOSTILE]
    assert parser.texts["reading"] == [HOSTILE]
    assert parser.texts["lead"] == [lead(HOSTILE)]  # the overview's line
    assert [a["title"] for t, a in parser.tags if a.get("class") == "lead"] == [HOSTILE]
    assert parser.texts["code"][-1] == f"ntkviz toy-model --title {HOSTILE}"
