"""Text that reaches the player's HTML (a figure's title, caption, options, summary, frame labels)
is shown as text, never read as markup: parsed back, the page holds exactly the player's own
elements, and each text comes back as given."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pytest

from ntkviz.output import player

#: Markup, quotes and entities a caption or an option could carry (a string option's value, a
#: title from a config file, a caption with "<" in it: "alpha < 1").
HOSTILE = "a < b & c > d \"q\" 'r' </p><script>alert(1)</script><img src=x onerror=alert(2)> &amp;"


class _Parse(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, str] = {}  # class of the innermost element with one -> its text
        self._classes: list[str | None] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in ("img", "input", "meta", "br"):
            self._in.append(tag)
            self._classes.append(attrs.get("class"))

    def handle_endtag(self, tag):
        while self._in and self._in[-1] != tag:
            self._in.pop()
            self._classes.pop()
        if self._in:
            self._in.pop()
            self._classes.pop()

    def handle_data(self, data):
        where = next((c for c in reversed(self._classes) if c), None) or (
            self._in[-1] if self._in else ""
        )
        self.text[where] = self.text.get(where, "") + data


def _data() -> dict:
    frames = [np.full((8, 10, 3), 60 * i, np.uint8) for i in range(3)]
    return player.encode_frames(3, frames.__getitem__, 5, labels=["step 0", HOSTILE, "step 2"])


INFO = {"title": HOSTILE, "caption": HOSTILE, "options": HOSTILE, "summary": HOSTILE}


def _parsed(text: str) -> _Parse:
    parser = _Parse()
    parser.feed(text)
    parser.close()
    return parser


def _player_tags(parsed: _Parse) -> None:
    """Only the player's own elements: no script but its two, no image but its poster."""
    tags = [tag for tag, _ in parsed.tags]
    assert tags.count("script") == 2, tags
    assert tags.count("img") == 1, tags
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts[0] == {"type": "application/json", "class": "np-data"} and scripts[1] == {}


@pytest.mark.parametrize("with_options", [True, False], ids=["options", "summary"])
def test_fragment_shows_title_caption_and_options_as_text(with_options):
    info = dict(INFO) if with_options else {**INFO, "options": ""}
    data = _data()
    parsed = _parsed(player.fragment(data, info))
    _player_tags(parsed)
    assert parsed.text["np-caption"] == HOSTILE
    # the heading: the title in bold, then the options (in <code>) or the summary
    assert parsed.text["np-title"] == f"{HOSTILE} · {HOSTILE}"
    div = next(a for t, a in parsed.tags if t == "div" and a.get("class") == "ntkviz-player")
    assert div["aria-label"] == f"{HOSTILE} player"
    poster = next(a for t, a in parsed.tags if t == "img")
    assert poster["alt"] == f"{HOSTILE}, first frame"
    # the frame labels travel in the JSON data, which the page reads back unchanged
    payload = parsed.text["np-data"]
    assert "</" not in payload
    assert json.loads(payload)["frames"][1]["label"] == HOSTILE


def test_page_title_is_text():
    parsed = _parsed(player.page(_data(), INFO))
    _player_tags(parsed)
    assert parsed.text["title"] == f"{HOSTILE} · ntkviz"
    assert parsed.text["np-caption"] == HOSTILE
