"""The index pages hold anyone's words (a sidecar's caption and reading, its command): in
README.md they are text, never markup a Markdown previewer would run or fetch; index.html has a
Content-Security-Policy like the players' (its own pictures and players, nothing else)."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from conftest import headless_chromium
from markdown_it import MarkdownIt

from ntkviz.gallery.index import CSP, md_code, md_text, write_index
from ntkviz.output.formats import write_animation
from ntkviz.output.frames import FrameSource

HOSTILE = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "![](http://example.invalid/track.png)",
    '<img src=x onerror="alert(1)">',
    "<http://example.invalid/>",
    "[ref]: http://example.invalid/",
    "# a heading\n- a list\n> a quote",
    "1. an ordered list",
    "1) another list",
    "+ a plus list",
    "> a quote",
    "***",
    "- - -",
    "=== under a line",
    "    indented code",
    "<b>bold</b> x_y_z",
    "*em* __strong__ ~~gone~~ `code` | a | table |\n|---|---|",
    "&lt;script&gt; &amp; &#60;",
    "a line\n```\n<script>x()</script>\n```",
    "$x^2$ and \\*escaped\\*",
    "<!-- hidden --> <iframe src=http://example.invalid></iframe>",
]


def render(markdown: str) -> str:
    """README.md as a previewer shows it: CommonMark with raw HTML, GitHub's tables and
    strikethrough."""
    return (
        MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)
    )


def text_of(rendered: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", rendered)).split())


@pytest.mark.parametrize("words", HOSTILE)
def test_md_text_is_shown_as_itself(words):
    rendered = render(md_text(words))
    assert re.fullmatch(r"<p>.*</p>\n", rendered, re.S), rendered
    assert "<" not in rendered[3:-5]  # no element inside the paragraph: text only
    assert text_of(rendered) == " ".join(words.split())


def test_md_text_leaves_plain_punctuation_alone():
    """A README that reads well as text: only markup is escaped."""
    plain = "2-hidden-layer nets (width 100): f(x=1.5) falls 0.08% by step 500; alpha = 11.3."
    assert md_text(plain) == plain


@pytest.mark.parametrize("command", ["ntkviz toy-model", "a ``` b", "x\n```\n<script>", "````"])
def test_md_code_cannot_be_closed_early(command):
    rendered = render("\n".join(md_code(command)))
    assert rendered.count("<pre>") == 1 and rendered.endswith("</code></pre>\n")
    assert html.unescape(re.sub(r"<[^>]+>", "", rendered)).rstrip("\n") == command


def moving(count: int = 3) -> FrameSource:
    def frame(i: int) -> np.ndarray:
        img = np.full((30, 40, 3), 255, np.uint8)
        img[5:15, 3 + 5 * i : 13 + 5 * i] = (200, 30, 30)
        return img

    return FrameSource(count, frame, key_frame=count - 1)


@pytest.fixture
def hostile_gallery(tmp_path):
    """A gallery folder of one figure whose sidecar carries markup everywhere it has words."""
    source = moving()
    for name in ("toy-model.gif", "toy-model.html", "toy-model.png"):
        report = write_animation(tmp_path / name, source, fps=10)
    sidecar = {
        **report,
        "caption": " ".join(HOSTILE),
        "reading": "<script>alert('reading')</script> [r](javascript:x) ![](http://x.invalid/r.png)",
        "command": ["ntkviz", "toy-model", "--title", "```\n<script>alert(2)</script>"],
    }
    (tmp_path / "toy-model.gif.json").write_text(json.dumps(sidecar))
    row = {"figure": "toy-model", "status": "built", "files": ["toy-model.gif", "toy-model.html"]}
    write_index(tmp_path, [row])
    return tmp_path, sidecar


def test_readme_shows_a_hostile_sidecar_as_text(hostile_gallery):
    folder, sidecar = hostile_gallery
    rendered = render((folder / "README.md").read_text())
    tags = {t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", rendered)}
    assert tags <= {"h1", "h2", "p", "img", "a", "em", "pre", "code"}, tags
    assert re.findall(r"<img [^>]*>", rendered) == ['<img src="toy-model.gif" alt="toy-model" />']
    assert re.findall(r'href="([^"]*)"', rendered) == ["toy-model.html"]  # the player's link
    text = text_of(rendered)
    assert " ".join(sidecar["caption"].split()) in text
    assert " ".join(sidecar["reading"].split()) in text
    code = re.findall(r"<pre><code>(.*?)</code></pre>", rendered, re.S)
    assert [html.unescape(c).rstrip("\n") for c in code] == [" ".join(sidecar["command"])]


def test_index_html_has_the_csp_and_escapes(hostile_gallery):
    folder, _ = hostile_gallery
    page = (folder / "index.html").read_text()
    assert page.count('http-equiv="Content-Security-Policy"') == 1
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    head = page[: page.index("</head>")]
    assert head.index("Content-Security-Policy") < head.index("<script>")  # before any script
    for directive in ("default-src 'none'", "base-uri 'none'", "form-action 'none'"):
        assert directive in CSP
    assert "http:" not in CSP and "https:" not in CSP and "*" not in CSP
    assert "<script>alert" not in page and "javascript:x" in html.unescape(page)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with the network off (conftest.headless_chromium)."""
    driver = headless_chromium(800, 600)
    yield driver
    driver.quit()


def test_index_html_shows_its_own_files_under_its_csp(hostile_gallery, browser):
    """From file://, under the policy: the picture decodes, the player page runs and tells the
    index its height, and a picture from elsewhere is refused by the policy."""
    folder, _ = hostile_gallery
    report = write_animation(folder / "ntk-ellipses.png", moving(), fps=10)
    (folder / "ntk-ellipses.png.json").write_text(json.dumps({**report, "caption": "<b>x</b>"}))
    rows = [
        {"figure": "toy-model", "status": "built", "files": ["toy-model.gif", "toy-model.html"]},
        {"figure": "ntk-ellipses", "status": "built", "files": ["ntk-ellipses.png"]},
    ]
    write_index(folder, rows)
    browser.get((folder / "index.html").as_uri())
    browser.get_log("browser")
    shown = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const refused = [];
        document.addEventListener("securitypolicyviolation", (e) => refused.push(e.blockedURI));
        const img = document.querySelector("img");
        const frame = document.querySelector("iframe");
        let tries = 0;
        (function wait() {
          const ready = img.complete && img.naturalWidth > 0 && frame.style.height !== "";
          if (!ready && tries++ < 100) return setTimeout(wait, 50);
          const probe = new Image();
          probe.src = "http://example.invalid/track.png";
          setTimeout(() => done({
            width: img.naturalWidth, height: frame.style.height, refused: refused,
          }), 300);
        })();
        """
    )
    assert shown["width"] == 40
    assert shown["height"].endswith("px") and float(shown["height"][:-2]) > 30
    assert shown["refused"] == ["http://example.invalid/track.png"]
