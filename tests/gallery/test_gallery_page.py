"""index.html opens on the point: an overview of every figure at the top (its still, name and the
lead of its reading, each a link down), every player opening on its key frame and playing while
in view (paused when scrolled away), the reading first and the caption folded, every picture at
one display scale, the post a link, the explore pages linked where the folder has them.

The structure is checked on the HTML; the behaviour in headless Chromium from file:// with the
network off (skipped, with the reason, only where Chromium, its driver or Selenium is missing;
NTKVIZ_REQUIRE_BROWSER=1, set by .ci/run, makes that a failure).
"""

from __future__ import annotations

import io
import json
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import headless_chromium

from ntkviz.gallery.index import write_index
from ntkviz.gallery.page import lead
from ntkviz.output import player
from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource

#: (figure, frames, key frame, width, height): three players, widest first, and a still half as
#: wide (as kernel-change's PNG beside the others' players)
PLAYERS = [
    ("toy-model", 12, 7, 1200, 420),
    ("posterior", 10, 9, 900, 420),
    ("rich-lazy", 9, 0, 1200, 500),
]
STILL = ("kernel-change", 600, 300)
COLOURS = [(200, 30, 30), (30, 120, 200), (20, 150, 60), (240, 180, 0), (120, 40, 160)]


def source(count: int, key: int, width: int, height: int) -> FrameSource:
    """A bar that moves right frame by frame (flat colours: the GIF's pixels are exact)."""

    def frame(i: int) -> np.ndarray:
        img = np.full((height, width, 3), 255, np.uint8)
        step = (width - 60) // max(count, 1)
        img[40 : height - 40, 20 + step * i : 60 + step * i] = COLOURS[i % len(COLOURS)]
        img[: 10 + 10 * i, :8] = (0, 0, 0)  # a counter at the left edge
        return img

    return FrameSource(count, frame, key_frame=key)


def figure(folder: Path, name: str, src: FrameSource, files: list[str], reading: str) -> dict:
    for file in files:
        report = write_animation(folder / file, src, fps=10)
        if file == files[0]:
            first = report
    sidecar = {
        **first,
        "caption": f"The long caption of {name}: every number it has. " * 8,
        "reading": reading,
        "command": ["ntkviz", name, "-o", files[0]],
    }
    (folder / f"{files[0]}.json").write_text(json.dumps(sidecar))
    return {"figure": name, "status": "built", "files": files}


@pytest.fixture(scope="module")
def page_gallery(tmp_path_factory):
    """A gallery folder: three players and a still, and an explore page of toy-model."""
    folder = tmp_path_factory.mktemp("page")
    rows = []
    for name, count, key, width, height in PLAYERS:
        files = [f"{name}.gif", f"{name}.html", f"{name}.png"]
        reading = f"{name} reads like this, its first clause; then the numbers (1; 2: 3)."
        rows.append(figure(folder, name, source(count, key, width, height), files, reading))
    name, width, height = STILL
    rows.append(figure(folder, name, source(1, 0, width, height), [f"{name}.png"], "A still."))
    (folder / "explore-toy-model.html").write_text("<!DOCTYPE html><title>explore</title>")
    write_index(folder, rows)
    return folder


class Tree(HTMLParser):
    """index.html as nested (tag, attrs, children, text) nodes."""

    VOID = {"meta", "link", "br", "img", "input", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.root = {"tag": "", "attrs": {}, "children": [], "text": ""}
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = {"tag": tag, "attrs": dict(attrs), "children": [], "text": ""}
        self.stack[-1]["children"].append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        assert self.stack[-1]["tag"] == tag, f"unbalanced </{tag}>"
        self.stack.pop()

    def handle_data(self, data):
        for node in self.stack:
            node["text"] += data


def find(node: dict, tag: str, **attrs) -> list[dict]:
    found = []
    for child in node["children"]:
        if child["tag"] == tag and all(
            value in (child["attrs"].get(key) or "").split() or child["attrs"].get(key) == value
            for key, value in attrs.items()
        ):
            found.append(child)
        found += find(child, tag, **attrs)
    return found


def parse(folder: Path) -> dict:
    tree = Tree()
    tree.feed((folder / "index.html").read_text())
    assert tree.stack == [tree.root]
    return tree.root


def test_overview_at_the_top_links_every_figure(page_gallery):
    root = parse(page_gallery)
    body = find(root, "body")[0]
    names = [p[0] for p in PLAYERS] + [STILL[0]]
    top = [c["tag"] for c in body["children"]]
    assert top.index("nav") < top.index("main")  # the overview comes before the figures
    cards = find(find(body, "nav")[0], "a")
    assert [c["attrs"]["href"] for c in cards] == [f"#{n}" for n in names]
    sections = find(body, "section")
    assert [s["attrs"]["id"] for s in sections] == names  # each link has its section
    for card, name in zip(cards, names):
        (img,) = find(card, "img")
        assert img["attrs"]["src"] == f"{name}.png"  # the still: the key frame
        assert (page_gallery / img["attrs"]["src"]).is_file()
        assert name in card["text"]
        (gist,) = find(card, "span", **{"class": "lead"})
        sidecar = json.loads(next(page_gallery.glob(f"{name}.*.json")).read_text())
        assert gist["text"] == lead(sidecar["reading"])
        assert sidecar["reading"].startswith(gist["text"])


@pytest.mark.parametrize(
    "reading, expected",
    [
        (
            "Log-log: the change falls from 215 at alpha = 0.01 to 3; fitted",
            "Log-log: the change falls from 215 at alpha = 0.01 to 3",
        ),
        (
            "Lazy (alpha 10): units stay (weights: 0.0088); rich",
            "Lazy (alpha 10): units stay (weights: 0.0088)",
        ),
        (
            "Wider nets stay closer to the prediction: after 1000 steps",
            "Wider nets stay closer to the prediction",
        ),
        ("One short sentence only.", "One short sentence only"),
        ("A first sentence long enough. A second one", "A first sentence long enough"),
    ],
)
def test_lead_is_the_first_clause_long_enough(reading, expected):
    assert lead(reading) == expected


def test_each_section_reads_first_and_folds_the_caption(page_gallery):
    root = parse(page_gallery)
    for section in find(root, "section"):
        name = section["attrs"]["id"]
        kinds = [
            c["tag"] + ("." + c["attrs"]["class"] if c["attrs"].get("class") else "")
            for c in section["children"]
        ]
        assert kinds[:3] == ["h2", "p.reading", "div.shown"], kinds
        sidecar = json.loads(next(page_gallery.glob(f"{name}.*.json")).read_text())
        assert find(section, "p", **{"class": "reading"})[0]["text"] == sidecar["reading"]
        (details,) = find(section, "details")
        assert "open" not in details["attrs"]
        assert " ".join(sidecar["caption"].split()) in " ".join(details["text"].split())
        caption_words = sidecar["caption"].split()[:6]
        outside = section["text"].replace(details["text"], "")
        assert " ".join(caption_words) not in " ".join(outside.split())  # folded, not repeated


def test_post_is_a_link_and_explore_pages_are_linked(page_gallery):
    root = parse(page_gallery)
    links = [a["attrs"]["href"] for a in find(root, "a")]
    assert "https://rajatvd.github.io/NTK/" in links
    explore = {
        s["attrs"]["id"]: [a["attrs"]["href"] for a in find(s, "a", **{"class": "explore"})]
        for s in find(root, "section")
    }
    assert explore == {
        "toy-model": ["explore-toy-model.html"],
        "posterior": [],
        "rich-lazy": [],
        "kernel-change": [],
    }
    assert "[Explore](explore-toy-model.html)" in (page_gallery / "README.md").read_text()


def test_players_embed_their_key_frame(page_gallery):
    """The player page says which picture is the key frame: it shows the still's pixels."""
    from PIL import Image

    for name, _count, key, _, _ in PLAYERS:
        data = player.read_html(page_gallery / f"{name}.html")
        assert data["key"] == key  # one picture a frame here: the key frame's own
        shown = list(player.decode_frames(data))[data["key"]]
        with Image.open(page_gallery / f"{name}.png") as im:
            np.testing.assert_array_equal(shown, np.asarray(im.convert("RGB")))


def test_picture_at_finds_the_picture_holding_a_frame():
    data = {"frames": [{"first": 0}, {"first": 1}, {"first": 4}, {"first": 5}]}
    assert [player.picture_at(data, f) for f in range(8)] == [0, 1, 1, 1, 2, 3, 3, 3]


# -- in a browser --------------------------------------------------------------------------------

WIDTH, HEIGHT = 1280, 900


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium 1280 px wide, network off, that keeps the console log."""
    driver = headless_chromium(WIDTH, HEIGHT)
    yield driver
    driver.quit()


def _wait(driver, script: str, *args, timeout: float = 15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


class Inside:
    """Run scripts inside a figure's player frame (``with Inside(driver, name):``)."""

    def __init__(self, driver, name: str) -> None:
        self.driver, self.name = driver, name

    def __enter__(self):
        from selenium.webdriver.common.by import By

        frame = self.driver.find_element(By.CSS_SELECTOR, f"#{self.name} iframe")
        self.driver.switch_to.frame(frame)
        _wait(self.driver, "return window.ntkvizPlayers && window.ntkvizPlayers[0].loaded")
        return self.driver

    def __exit__(self, *exc):
        self.driver.switch_to.default_content()


def _state(driver, name: str) -> dict:
    with Inside(driver, name) as d:
        return d.execute_script(
            "var p = window.ntkvizPlayers[0], c = document.querySelector('.np-canvas');"
            "return {frame: p.frame, playing: p.playing,"
            " scale: c.clientWidth / c.width, top: window.frameElement === null};"
        )


def _scroll_to(driver, name: str, where: str = "center") -> None:
    driver.execute_script(
        "document.querySelector('#' + arguments[0] + ' .shown')"
        ".scrollIntoView({block: arguments[1]})",
        name,
        where,
    )


def _canvas(driver, name: str) -> np.ndarray:
    import base64

    from PIL import Image

    with Inside(driver, name) as d:
        url = d.execute_script("return document.querySelector('.np-canvas').toDataURL()")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
        return np.asarray(im.convert("RGB"))


def test_page_in_a_browser_opens_on_the_point(page_gallery, browser, tmp_path):
    from PIL import Image

    browser.get((page_gallery / "index.html").as_uri())
    browser.get_log("browser")
    # the overview is at the top, in view, its stills shown
    top = browser.execute_script(
        "var nav = document.querySelector('nav'), r = nav.getBoundingClientRect();"
        "var imgs = Array.from(nav.querySelectorAll('img'));"
        "return {top: r.top, first: nav.querySelector('a').getBoundingClientRect().bottom,"
        " decoded: imgs.every(i => i.complete && i.naturalWidth > 0), high: innerHeight,"
        " cards: nav.querySelectorAll('a').length}"
    )
    assert top["cards"] == len(PLAYERS) + 1 and top["decoded"]
    assert 0 <= top["top"] < 250 and top["first"] < top["high"]
    browser.save_screenshot(str(tmp_path / "top.png"))
    # and painted: each card's picture on the screen holds its still's bar, in its colour
    boxes = browser.execute_script(
        "return Array.from(document.querySelectorAll('nav img')).map(i => {"
        " var r = i.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    )
    with Image.open(tmp_path / "top.png") as im:
        screen = np.asarray(im.convert("RGB")).astype(int)
    for (name, _count, key, _, _), box in zip(PLAYERS, boxes):
        left, top_, right, bottom = (round(v) for v in box)
        assert bottom <= screen.shape[0], (name, box)
        shown = screen[top_:bottom, left:right].reshape(-1, 3)
        near = np.abs(shown - COLOURS[key % len(COLOURS)]).max(axis=1) < 40
        assert near.mean() > 0.005, (name, near.mean())

    # a player below the view has loaded on its key frame and stays paused (the first is in
    # view from the start: test_players_open_on_their_key_frame sees it before it plays)
    for name, _count, key, _, _ in PLAYERS[1:]:
        browser.execute_script(
            "var s = document.querySelector('#' + arguments[0] + ' .shown');"
            "scrollTo(0, s.getBoundingClientRect().top + scrollY - innerHeight - 50);",
            name,
        )
        state = _state(browser, name)
        assert state["frame"] == key and not state["playing"], (name, state)
        time.sleep(0.3)
        assert _state(browser, name)["frame"] == key  # out of view: paused

    # a player scrolled into view plays (its frame advances) ...
    first, last = PLAYERS[0][0], PLAYERS[-1][0]
    _scroll_to(browser, first)
    _wait(browser, "return true")
    end = time.monotonic() + 10
    seen = {_state(browser, first)["frame"]}
    while len(seen) < 3 and time.monotonic() < end:
        seen.add(_state(browser, first)["frame"])
        time.sleep(0.05)
    assert len(seen) >= 3 and _state(browser, first)["playing"], seen
    browser.save_screenshot(str(tmp_path / "section.png"))
    # ... and pauses when scrolled away, while the one now in view plays
    _scroll_to(browser, last)
    end = time.monotonic() + 10
    while _state(browser, first)["playing"] and time.monotonic() < end:
        time.sleep(0.05)
    paused = _state(browser, first)
    assert not paused["playing"]
    time.sleep(0.4)
    assert _state(browser, first)["frame"] == paused["frame"]
    end = time.monotonic() + 10
    while not _state(browser, last)["playing"] and time.monotonic() < end:
        time.sleep(0.05)
    assert _state(browser, last)["playing"]

    # a reader who paused a player keeps it paused when it scrolls out and back in
    with Inside(browser, last) as d:
        d.execute_script("document.querySelector('.np-play').click()")
    assert not _state(browser, last)["playing"]
    _scroll_to(browser, first)
    _scroll_to(browser, last)
    time.sleep(0.6)
    assert not _state(browser, last)["playing"]

    # every picture at one display scale: a player's canvas and the still alike
    scales = {name: _state(browser, name)["scale"] for name, *_ in PLAYERS}
    scales[STILL[0]] = browser.execute_script(
        "var i = document.querySelector('#' + arguments[0] + ' .shown img');"
        "i.scrollIntoView(); return i.complete && i.clientWidth / i.naturalWidth",
        STILL[0],
    )
    assert 0.5 < min(scales.values()), scales  # shrunk to the page, not to nothing
    assert max(scales.values()) - min(scales.values()) < 0.01 * max(scales.values()), scales
    assert _errors(browser) == []


def test_players_open_on_their_key_frame(page_gallery, browser):
    """With motion reduced (the reader's setting) nothing plays by itself: every player, in
    view, shows its key frame, the still's pixels."""
    from PIL import Image

    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]},
    )
    try:
        browser.get((page_gallery / "index.html").as_uri())
        for name, _count, key, _, _ in PLAYERS:
            _scroll_to(browser, name)
            state = _state(browser, name)
            assert state["frame"] == key and not state["playing"], (name, state)
            with Image.open(page_gallery / f"{name}.png") as im:
                still = np.asarray(im.convert("RGB"))
            np.testing.assert_array_equal(_canvas(browser, name), still)
        time.sleep(0.4)
        assert [_state(browser, name)["frame"] for name, *_ in PLAYERS] == [p[2] for p in PLAYERS]
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert _errors(browser) == []


def test_page_in_the_dark_theme(page_gallery, browser, tmp_path):
    """The page follows the reader's dark theme: a dark page, the figures on white."""
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        browser.get((page_gallery / "index.html").as_uri())
        colours = browser.execute_script(
            "var c = s => getComputedStyle(document.querySelector(s));"
            "return [c('body').backgroundColor, c('body').color, c('.thumb').backgroundColor]"
        )
        browser.save_screenshot(str(tmp_path / "dark.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    background, text, thumb = (
        [int(v) for v in c[c.index("(") + 1 : -1].split(",")[:3]] for c in colours
    )
    assert sum(background) < 3 * 60 and sum(text) > 3 * 180 and thumb == [255, 255, 255]
    assert _errors(browser) == []


def test_gallery_explore_links_the_pages_it_made(cli, tmp_path, monkeypatch):
    """`gallery --explore` writes the index again once its explore pages exist: they are
    linked (the explore pages themselves are stood in for: their own tests build them)."""
    import ntkviz.cli.gallery as command

    def explore_pages(out, quick, seed, jobs, quiet, force=False):
        (out / "explore-toy-model.html").write_text("<!DOCTYPE html><title>explore</title>")
        return []

    monkeypatch.setattr(command, "explore_pages", explore_pages)
    args = ("gallery", "--out", tmp_path, "--quick", "--only", "toy-model", "-j", "1", "-q")
    result = cli(*args, "--explore")
    assert result.exit_code == 0, result.output
    links = [a["attrs"]["href"] for a in find(parse(tmp_path), "a", **{"class": "explore"})]
    assert links == ["explore-toy-model.html"]
