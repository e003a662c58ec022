"""``ntkviz explore``: --vary checked before anything is computed, variants cached by config,
shared axes, and the page in a real browser (headless Chromium, as tests/output/test_player.py):
an option slider moved at frame k shows exactly that variant's frame k, pixel for pixel."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import gif_frames

from ntkviz.explorer import build
from ntkviz.output import player

# the player's headless Chromium (a fixture) and its helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "output"))
import test_player  # noqa: E402
from test_player import _canvas_pixels, _errors, _open, _wait  # noqa: E402

browser = test_player.browser  # the fixture, shared

# tiny ntk-ellipses variants: 5 frames after step 0, 180 x 90 pixels
SMALL = [
    "--quick", "--steps", "100", "--snapshot-every", "20", "--points", "20",
    "--size", "6x3", "--dpi", "30", "--hold", "0", "-j", "1", "-q",
]  # fmt: skip
FRAMES = 6
ALPHAS = ("0.1", "10")
WIDTHS = ("10", "50")


class Simulated(list):
    """The configs simulated (in this process: -j 1); ``.calls``: the simulations, each a list
    of the configs it simulated (several: trained together as one ensemble)."""

    calls: list


@pytest.fixture
def simulations(monkeypatch):
    """Every simulate call of the explore."""
    calls = Simulated()
    calls.calls = []
    real = build._simulate

    def counted(spec, configs, options):
        calls.extend(configs)
        calls.calls.append(list(configs))
        return real(spec, configs, options)

    monkeypatch.setattr(build, "_simulate", counted)
    return calls


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """One page over alpha, one over alpha and width, written by the CLI; and their cache."""
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    folder = tmp_path_factory.mktemp("explore")
    runner = CliRunner()
    for name, vary in (
        ("one", ["--vary", f"alphas={','.join(ALPHAS)}"]),
        ("two", ["--vary", f"alphas={','.join(ALPHAS)}", "--vary", f"width={','.join(WIDTHS)}"]),
    ):
        args = ["explore", "ntk-ellipses", *vary, *SMALL, "--cache", str(folder / "cache")]
        result = runner.invoke(app, [*args, "-o", str(folder / f"{name}.html")])
        assert result.exit_code == 0, result.output
    return folder


def page_data(path: Path) -> dict:
    return player.read_html(path)


def variant_gif(folder: Path, name: str, values: dict, out: Path) -> list[np.ndarray]:
    """The variant's own GIF, made apart from the page: its config planned again, drawn with the
    page's shared limits (read from the cache), written by the GIF writer, decoded by Pillow."""
    from ntkviz.explorer import run
    from ntkviz.output.gif import encode_gif_frames, write_gif

    texts = [f"{k}={v}" for k, v in values.items()]
    shared = dict(quick=True, size="6x3", dpi=30.0, hold=0.0)
    figure = dict(steps=100, snapshot_every=20, points=20)
    plan = run.plan(name, texts, figure, shared, None, folder / "cache", 1)
    task = plan.tasks[0]
    measured = [build.measure(other) for other in _all_tasks(folder, name, values)]
    limits = build.shared_limits.union([m["limits"] for m in measured])
    palette = build.shared_palette([m["colours"] for m in measured])
    _, _, _, source = build.variant_source(dataclasses.replace(task, limits=limits))
    with source.info["renderer"].drawing():
        encode_gif_frames(source, False, lambda n=1: None, 1, palette)  # the page's palette
        write_gif(out, source, 10.0, False, lambda n=1: None)
    frames, _, _ = gif_frames(out)
    return frames


def _all_tasks(folder: Path, name: str, values: dict):
    """Every variant of the page ``values`` belongs to (to unite their limits as the page did)."""
    from ntkviz.explorer import run

    texts = [f"alphas={','.join(ALPHAS)}"] + (
        [f"width={','.join(WIDTHS)}"] if "width" in values else []
    )
    shared = dict(quick=True, size="6x3", dpi=30.0, hold=0.0)
    figure = dict(steps=100, snapshot_every=20, points=20)
    return run.plan(name, texts, figure, shared, None, folder / "cache", 1).tasks


# -- the page's data -------------------------------------------------------------------------------


def test_page_holds_every_variant_with_shared_axes(pages):
    data = page_data(pages / "two.html")
    assert [a["flag"] for a in data["axes"]] == ["--alphas", "--width"]
    assert data["axes"][0]["values"] == list(ALPHAS)
    assert [v["at"] for v in data["variants"]] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    for variant in data["variants"]:
        assert [p["label"] for p in variant["frames"]] == [f"step {20 * i}" for i in range(FRAMES)]
        assert variant["reading"] and "alpha" in variant["reading"]
    # each variant's reading states its own numbers
    readings = {v["reading"] for v in data["variants"]}
    assert len(readings) == 4
    text = (pages / "two.html").read_text()
    assert "default-src 'none'" in text and re.search(r"https?://", text) is None


def test_limits_are_united_over_the_variants(pages):
    tasks = _all_tasks(pages, "ntk-ellipses", {"alphas": ALPHAS[0], "width": WIDTHS[0]})
    own = [build.measure(t)["limits"] for t in tasks]
    union = build.shared_limits.union(own)
    plane = 0  # the first axes: the (y1, y2) plane, whose limits come from each Result
    assert len({tuple(o[plane]["x"]) for o in own}) > 1  # the variants alone would not agree
    lows = [o[plane]["x"][0] for o in own]
    highs = [o[plane]["x"][1] for o in own]
    assert union[plane]["x"] == [min(lows), max(highs)]
    # and each variant is drawn with them
    for task in tasks:
        _, _, _, source = build.variant_source(dataclasses.replace(task, limits=union))
        axes = source.info["renderer"].figure.axes
        assert [list(ax.get_xlim()) for ax in axes] == [u["x"] for u in union]
        assert [list(ax.get_ylim()) for ax in axes] == [u["y"] for u in union]


def test_frames_common_to_variants_are_stored_once(tmp_path):
    """--vary lr: every variant starts from the same nets, so step 0 is the same picture."""
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    out = tmp_path / "lr.html"
    args = ["explore", "ntk-ellipses", "--vary", "lr=0.0001,0.0002,0.0004", *SMALL]
    result = CliRunner().invoke(app, [*args, "--cache", str(tmp_path / "c"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = page_data(out)
    firsts = {v["frames"][0]["p"] for v in data["variants"]}
    assert len(firsts) == 1  # one picture for the three step-0 frames
    used = sum(len(v["frames"]) for v in data["variants"])
    assert len(data["pool"]) == used - 2


def test_merge_stores_a_shared_picture_once():
    from ntkviz.output.explorer import merge

    def variant(screen, *pictures):
        return {"width": 4, "height": 2, "fps": 10, "screen": screen, "frames": list(pictures)}

    key = {"src": "data:image/webp;base64,AAAA", "key": True, "x": 0, "y": 0, "ms": 100, "first": 0}
    patch = {"gif": "BBBB", "key": False, "x": 1, "y": 0, "ms": 100, "first": 1}
    data = merge(
        [variant("S1", key, patch), variant("S1", key, patch), variant("S2", key, patch)],
        [{"name": "lr", "flag": "--lr", "values": ["1", "2", "3"]}],
        [(0,), (1,), (2,)],
    )
    # the key picture once; the patch once per palette (its colours are the palette's)
    assert len(data["pool"]) == 3 and data["screens"] == ["S1", "S2"]
    assert [[p["p"] for p in v["frames"]] for v in data["variants"]] == [[0, 1], [0, 1], [0, 2]]


# -- computing: the cache, and refusals before anything is computed ---------------------------------


def test_a_rerun_with_one_more_value_simulates_that_value_alone(tmp_path, cli, simulations):
    cache = tmp_path / "cache"
    base = ["explore", "ntk-ellipses", *SMALL, "--cache", cache]
    result = cli(*base, "--vary", "alphas=0.1,1", "-o", tmp_path / "a.html")
    assert result.exit_code == 0, result.output
    # the two alphas trained as one ensemble: one simulation
    assert [[c.alphas for c in call] for call in simulations.calls] == [[(0.1,), (1.0,)]]
    del simulations[:]
    result = cli(*base, "--vary", "alphas=0.1,1,10", "-o", tmp_path / "b.html")
    assert result.exit_code == 0, result.output
    assert [c.alphas for c in simulations] == [(10.0,)]
    assert len(page_data(tmp_path / "b.html")["variants"]) == 3
    del simulations[:]
    result = cli(*base, "--vary", "alphas=0.1,1,10", "-o", tmp_path / "c.html")
    assert result.exit_code == 0 and simulations == []
    # the same page again, from the cache alone
    assert (tmp_path / "c.html").read_text() == (tmp_path / "b.html").read_text()


@pytest.mark.parametrize(
    "vary,message",
    [
        (["alphs=1,2"], "has no option --alphs (did you mean --alphas?)"),
        (["alphas=0.1,-1"], "--vary --alphas must be > 0 (got -1)"),
        (["width=0,10"], "--vary --width must be >= 1 (got 0)"),
        (["layout=grid,both"], "--layout of ntk-ellipses cannot vary"),
        (["x_limits=1,2"], "--x-limits of ntk-ellipses cannot vary"),
        (["alphas=1,2", "width=5", "depth=1,2"], "at most 2 options can vary at once"),
        (["alphas"], "--vary must look like NAME=V1,V2"),
        (["alphas=1,1"], "the value 1 is given twice"),
        (["frames=5,200"], "--vary --frames 200: --frames (200) must not exceed --steps (100)"),
        ([], "--vary NAME=V1,V2,... is needed"),
    ],
)
def test_bad_vary_is_one_line_and_exit_2_before_anything_is_computed(
    tmp_path, cli, simulations, vary, message
):
    words = [w for v in vary for w in ("--vary", v)]
    out, cache = tmp_path / "page.html", tmp_path / "cache"
    result = cli("explore", "ntk-ellipses", *words, *SMALL, "--cache", cache, "-o", out)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.count("\n") == 0 and line.startswith("Error: ") and message in line, line
    assert simulations == [] and not out.exists() and not cache.exists()


def test_an_option_both_given_and_varied_is_refused(tmp_path, cli, simulations):
    result = cli(
        "explore", "ntk-ellipses", "--alphas", "1", "--vary", "alphas=1,2", *SMALL,
        "-o", tmp_path / "p.html",
    )  # fmt: skip
    assert result.exit_code == 2 and "--alphas is both given and varied" in result.output
    assert simulations == []


def test_too_large_a_page_is_refused_before_computing(tmp_path, cli, simulations, monkeypatch):
    from ntkviz.output import explorer

    monkeypatch.setattr(explorer, "MAX_BYTES", 5_000)  # the estimate: about 8.7 kB
    out = tmp_path / "big.html"
    args = ["explore", "ntk-ellipses", "--vary", "alphas=0.1,1,10", *SMALL]
    result = cli(*args, "--cache", tmp_path / "c", "-o", out)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.count("\n") == 0 and "over the 0 MB limit" in line and "3 variants" in line
    assert simulations == [] and not out.exists()


def test_the_api_makes_the_commands_page(pages, tmp_path):
    import ntkviz

    page = ntkviz.explore(
        "ntk-ellipses", vary={"alphas": [0.1, 10]}, quick=True, steps=100, snapshot_every=20,
        points=20, size="6x3", dpi=30, hold=0, cache=pages / "cache", jobs=1,
    )  # fmt: skip
    assert all(not r["computed"] for r in page.rows)  # the CLI's run cached them
    assert page.data == page_data(pages / "one.html")
    inline = page._repr_html_()
    assert 'class="np-option"' in inline and "ntkviz-player" in inline
    page.save(tmp_path / "api.html")
    assert page_data(tmp_path / "api.html") == page.data
    with pytest.raises(ntkviz.ConfigError, match="cannot vary"):
        ntkviz.explore("ntk-ellipses", vary={"layout": ["grid", "both"]}, quick=True)


def test_too_large_a_page_is_a_note_inline(pages, monkeypatch):
    import ntkviz
    from ntkviz import api

    page = ntkviz.explore(
        "ntk-ellipses", vary={"alphas": [0.1, 10]}, quick=True, steps=100, snapshot_every=20,
        points=20, size="6x3", dpi=30, hold=0, cache=pages / "cache", jobs=1,
    )  # fmt: skip
    monkeypatch.setattr(api, "MAX_INLINE_BYTES", 1000)
    inline = page._repr_html_()
    assert "too large to show inline" in inline and "np-option" not in inline


def test_import_ntkviz_stays_cheap():
    """``ntkviz.explore`` is there without importing the explorer, torch or matplotlib."""
    import subprocess

    code = (
        "import sys, ntkviz; f = ntkviz.explore;"
        "print(callable(f), *[m in sys.modules for m in ('torch', 'matplotlib')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


# -- in the browser ------------------------------------------------------------------------------


def _state(driver) -> dict:
    return driver.execute_script(
        "var p = window.ntkvizPlayers[0], r = document.querySelector('.ntkviz-player');"
        "return {frame: p.frame, variant: p.variant, at: p.at, count: p.count,"
        " label: r.querySelector('.np-pos').textContent,"
        " reading: r.querySelector('.np-reading').textContent,"
        " caption: r.querySelector('.np-caption').textContent,"
        " options: Array.prototype.map.call(r.querySelectorAll('.np-option'),"
        "   function (s) { return Number(s.value); })};"
    )


def _move_option(driver, axis: int, index: int) -> None:
    driver.execute_script(
        "var s = document.querySelectorAll('.np-option')[arguments[0]]; s.value = arguments[1];"
        "s.dispatchEvent(new Event('input', {bubbles: true}));",
        axis,
        index,
    )


def _seek(driver, frame: int) -> None:
    driver.execute_script("window.ntkvizPlayers[0].seek(arguments[0])", frame)


def test_option_slider_keeps_the_frame_and_shows_the_variants_own_pixels(pages, browser, tmp_path):
    data = page_data(pages / "one.html")
    gifs = [
        variant_gif(pages, "ntk-ellipses", {"alphas": a}, tmp_path / f"v{a}.gif") for a in ALPHAS
    ]
    _open(browser, pages / "one.html")
    _wait(browser, "return window.ntkvizPlayers && window.ntkvizPlayers[0].loaded")
    assert _state(browser)["variant"] == 0
    np.testing.assert_array_equal(_canvas_pixels(browser), gifs[0][0])
    for k, option in ((3, 1), (3, 0), (5, 1), (1, 0), (0, 1)):
        _seek(browser, k)
        _move_option(browser, 0, option)
        state = _state(browser)
        assert state["variant"] == option and state["frame"] == k, state
        assert state["label"].endswith(f"step {20 * k}")
        assert state["reading"] == data["variants"][option]["reading"]
        assert state["caption"] == data["variants"][option]["caption"]
        np.testing.assert_array_equal(_canvas_pixels(browser), gifs[option][k])
    assert _errors(browser) == []


def test_two_sliders_keys_and_the_address(pages, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, pages / "two.html")
    _wait(browser, "return window.ntkvizPlayers && window.ntkvizPlayers[0].loaded")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".np-option")) == 2
    _seek(browser, 2)
    _move_option(browser, 1, 1)
    state = _state(browser)
    assert state["at"] == [0, 1] and state["variant"] == 1 and state["frame"] == 2
    _move_option(browser, 0, 1)
    assert _state(browser)["at"] == [1, 1] and _state(browser)["variant"] == 3
    # keys: up and down move the first slider, page up and page down the second; the frame stays
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_DOWN)
    state = _state(browser)
    assert state["at"] == [0, 1] and state["options"] == [0, 1] and state["frame"] == 2
    body.send_keys(Keys.PAGE_DOWN)
    assert _state(browser)["at"] == [0, 0]
    body.send_keys(Keys.PAGE_DOWN, Keys.ARROW_DOWN)  # at the ends: nothing moves
    assert _state(browser)["at"] == [0, 0]
    body.send_keys(Keys.ARROW_UP, Keys.PAGE_UP, Keys.ARROW_RIGHT)
    state = _state(browser)
    assert state["at"] == [1, 1] and state["frame"] == 3
    assert _errors(browser) == []

    # the address: a variant and a frame
    browser.get("about:blank")
    _open(browser, pages / "two.html", "#alpha=10&width=50&frame=4")
    _wait(browser, "return window.ntkvizPlayers && window.ntkvizPlayers[0].loaded")
    state = _state(browser)
    assert state["at"] == [1, 1] and state["frame"] == 3
    browser.execute_script("location.hash = '#alphas=0.1&frame=2'")
    _wait(browser, "return window.ntkvizPlayers[0].variant == 1")
    assert _state(browser)["at"] == [0, 1] and _state(browser)["frame"] == 1
    assert _errors(browser) == []


# -- the gallery's explore pages -------------------------------------------------------------------


def test_the_gallery_explore_pages_are_planned_within_the_limits(tmp_path):
    """Each page of ``ntkviz gallery --explore`` passes every check at the post's settings (its
    size estimated under the player's limit), without computing anything."""
    from ntkviz.explorer import run
    from ntkviz.gallery.plan import EXPLORE_PAGES
    from ntkviz.output.explorer import MAX_BYTES

    assert {p.name for p in EXPLORE_PAGES} == {
        "explore-ntk-ellipses",
        "explore-rich-lazy",
        "explore-posterior",
    }
    for page in EXPLORE_PAGES:
        plan = run.plan(
            page.figure, page.vary, dict(page.options), {}, tmp_path / "x.html", tmp_path / "c"
        )
        page_bytes, _ = build.estimate(plan.tasks, plan.workers)
        assert page_bytes < MAX_BYTES
        assert page.command(tmp_path)[:3] == ["ntkviz", "explore", page.figure]
        if page.figure == "ntk-ellipses":
            alphas = [t.config.alphas for t in plan.tasks]
            assert len(alphas) >= 9 and alphas[0] == (0.01,) and alphas[-1] == (100.0,)
            assert {t.config.layout for t in plan.tasks} == {"both"}  # one plane
        if page.figure == "posterior":  # over the width, one ensemble's width a variant
            assert [t.config.widths for t in plan.tasks] == [(32,), (128,), (512,), (2048,)]
    assert not (tmp_path / "c").exists()


def test_a_list_option_that_needs_several_values_cannot_vary():
    from ntkviz.explorer import vary
    from ntkviz.figures import get

    with pytest.raises(Exception, match="--sweep of rich-lazy cannot vary .it needs at least 2"):
        vary.parse(get("rich-lazy"), ["sweep=1,2"])


def test_variants_that_train_together_are_split_among_the_workers(tmp_path):
    """Nine one-alpha variants: two ensembles of neighbouring alphas for two workers; a variant
    in the cache is read, not trained again; --vary lr: each variant its own simulation."""
    from ntkviz.explorer import run

    shared = dict(quick=True, size="6x3", dpi=30.0, hold=0.0)
    figure = dict(steps=100, snapshot_every=20, points=20)
    alphas = ["alphas=0.01,0.03,0.1,0.3,1,3,10,30,100"]
    tasks = run.plan("ntk-ellipses", alphas, figure, shared, None, tmp_path, 2).tasks
    assert build.groups(tasks, 2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    assert build.groups(tasks, 1) == [list(range(9))]
    build._store(build.result_path(tasks[0]), b"")  # in the cache
    assert build.groups(tasks, 2) == [[1, 2, 3, 4], [5, 6, 7, 8], [0]]
    lrs = run.plan("ntk-ellipses", ["lr=0.001,0.002"], figure, shared, None, tmp_path, 2).tasks
    assert build.groups(lrs, 2) == [[0], [1]]


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of an explore page whose data ``change(data)`` altered."""
    import json

    text = source.read_text(encoding="utf-8")
    data = player.read_html(source)
    change(data)
    start = text.index('class="np-data">') + len('class="np-data">')
    end = text.index("</script>", start)
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    target.write_text(text[:start] + payload + text[end:], encoding="utf-8")
    return target


def test_the_gallery_check_validates_explore_pages(pages, tmp_path):
    from ntkviz.gallery.check import explore_problems, validate

    good = pages / "two.html"
    assert explore_problems(good) == []
    assert "over the gallery's 0 MB" in explore_problems(good, limit=1000)[0]

    def corrupt(data):  # a patch whose bytes are not a GIF's
        patch = next(p for p in data["pool"] if "gif" in p)
        patch["gif"] = "AAAA" + patch["gif"][8:]

    bad = _rewrite(good, tmp_path / "explore-bad.html", corrupt)
    assert "'explore-bad.html': does not decode" in explore_problems(bad)[0]
    short = _rewrite(good, tmp_path / "explore-short.html", lambda d: d["variants"].pop())
    assert explore_problems(short) == ["'explore-short.html': 3 variants for 4 slider positions"]

    def slower(data):
        data["variants"][1]["frames"][-1]["ms"] += 500

    slow = _rewrite(good, tmp_path / "explore-slow.html", slower)
    assert "play for different times" in explore_problems(slow)[0]
    # validate() takes every explore page of the gallery folder
    (tmp_path / "fig.json").write_text("{}")
    found = validate(tmp_path)
    assert sum("'explore-" in line for line in found) == 3, found


def test_the_gallery_skips_an_explore_page_that_is_current(
    tmp_path, monkeypatch, simulations, capsys
):
    """`make gallery` on a current gallery computes nothing: an explore page whose stamp is
    its plan's is left as it is; --force, or a page made otherwise, is made again."""
    from ntkviz.cli import gallery as gallery_cli
    from ntkviz.gallery import plan as gallery_plan
    from ntkviz.output.explorer import read_stamp

    tiny = gallery_plan.ExplorePage(
        "explore-tiny",
        "ntk-ellipses",
        (f"alphas={','.join(ALPHAS)}",),
        (("steps", 100), ("snapshot_every", 20), ("points", 20), ("size", "6x3"), ("dpi", 30.0)),
    )
    monkeypatch.setattr(gallery_plan, "EXPLORE_PAGES", (tiny,))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    page = tmp_path / "explore-tiny.html"
    assert gallery_cli.explore_pages(tmp_path, True, 0, 1, False) == []
    made = page.read_bytes()
    assert read_stamp(page) and len(simulations) == 2
    assert gallery_cli.explore_pages(tmp_path, True, 0, 1, False) == []
    assert "explore-tiny.html: current" in capsys.readouterr().out
    assert page.read_bytes() == made and len(simulations) == 2
    page.write_bytes(made.replace(read_stamp(page).encode(), b"0" * 24, 1))  # made otherwise
    assert gallery_cli.explore_pages(tmp_path, True, 0, 1, False) == []
    assert page.read_bytes() == made  # made again, from the cache
    assert gallery_cli.explore_pages(tmp_path, True, 0, 1, False, force=True) == []
    assert "current" not in capsys.readouterr().out.splitlines()[-1]
    assert len(simulations) == 2  # the variants from the cache, every time


def test_a_cached_result_is_keyed_by_the_pins(monkeypatch, tmp_path):
    """The gallery builds pinned; a Result an unpinned explore run cached (other bits) must not
    stand in for its own."""
    from types import SimpleNamespace

    from ntkviz.explorer.build import Task, result_key
    from ntkviz.figures.toy_model import SPEC
    from ntkviz.runtime import pins

    options = SimpleNamespace(seed=0, device="cpu")
    task = Task("toy-model", SPEC.config_cls(), options, tmp_path)
    for name, value in pins.PINS.items():
        monkeypatch.setenv(name, value)
    pinned = result_key(task)
    monkeypatch.delenv(next(iter(pins.PINS)))
    assert result_key(task) != pinned
