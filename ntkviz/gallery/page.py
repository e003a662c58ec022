"""The gallery's ``index.html``: one page that opens on the point.

At the top, an overview of every figure (its still, name and the lead of its reading, each a
link down to the figure's section). Each section gives the reading first, then the figure at the
same display scale as every other (pixels of every figure shrink alike, so their text is one
size), its explore pages where the folder has them, the long caption folded, and the command.
An animated figure is its own player page in a frame (``<figure>.html#embed``): it opens on its
key frame (the still's moment), plays while it is in view and pauses when scrolled away (an
IntersectionObserver here posts ``{ntkviz: "play" | "pause"}`` to it; ``player.js`` follows
unless the reader paused it). Everything is the folder's own files: no network, a CSP says so.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from ntkviz.gallery.plan import SHOWN_PX
from ntkviz.version import __version__

POST_TITLE = 'R. V. Dwaraknath, "Understanding the Neural Tangent Kernel" (2019)'
POST_URL = "https://rajatvd.github.io/NTK/"
POST = f"{POST_TITLE}, {POST_URL}"

#: CSP of index.html: its own inline style and script, pictures and player pages from its own
#: folder, and nothing from anywhere else (the player pages have their own, stricter one).
CSP = (
    "default-src 'none'; img-src 'self' file: data:; frame-src 'self' file:; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)

#: How far a player's picture sits inside its frame on each side (player.py's embedded page:
#: the body's 2px and the player's .4em of 14px; the canvas's border is outside its width): a
#: still gets the same, so that every figure's pixels are shown at one scale.
INSET_PX = 2 + 0.4 * 14

#: The page's padding left and right (the body's, 1.2em of its 16 px font).
PADDING_PX = 1.2 * 16
#: The page's column: as wide as shows the gallery's widest figure 1:1
#: (:data:`ntkviz.gallery.plan.SHOWN_PX`, the width the gallery draws it at), with the frame's
#: insets and the page's padding.
PAGE_PX = SHOWN_PX + 2 * INSET_PX + 2 * PADDING_PX

#: Where the lead of a reading ends: a ";" or ":" outside brackets, or the end of a sentence,
#: once the lead has this many characters.
LEAD_MIN = 25

STYLE = """
:root { color-scheme: light dark; --fg: #1d1d1f; --muted: #5c5c66; --bg: #fff; --card: #f4f4f6;
  --line: #d8d8de; --link: #0b57d0; --accent: #0b57d0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6ea; --muted: #a4a4ae; --bg: #121214; --card: #1e1e22; --line: #34343a;
    --link: #8ab4f8; --accent: #8ab4f8; }
}
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
  padding: 1.2em 1.2em 4em; color: var(--fg); background: var(--bg); }
a { color: var(--link); }
h1 { margin: 0 0 .2em; font-size: 1.7em; }
.intro { margin: 0 0 1em; color: var(--muted); max-width: 60em; }
.overview { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: .8em; margin: 0 0 2.5em; padding: 0; list-style: none; }
.overview a { display: flex; flex-direction: column; height: 100%; text-decoration: none;
  color: var(--fg); background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .5em; }
.overview a:hover, .overview a:focus-visible { border-color: var(--accent); }
.thumb { display: flex; align-items: center; justify-content: center; background: #fff;
  border-radius: 4px; overflow: hidden; }
.thumb img { display: block; height: auto; }
.overview b { margin: .4em 0 .1em; font-size: .95em; }
.lead { font-size: .82em; color: var(--muted); line-height: 1.35; display: -webkit-box;
  -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
section { margin: 0 0 3em; padding-top: 1em; border-top: 1px solid var(--line);
  scroll-margin-top: .5em; }
h2 { margin: 0 0 .3em; font-size: 1.35em; }
h2 a { color: inherit; text-decoration: none; }
h2 a:hover { text-decoration: underline; }
.reading { font-size: 1.08em; margin: 0 0 .7em; max-width: 62em; }
.shown { max-width: 100%; }
.shown iframe { width: 100%; border: 0; display: block; }
.shown .still { padding: 0 var(--inset) var(--inset); }
.shown .still img { box-sizing: content-box; max-width: 100%; height: auto; display: block;
  border: 1px solid #ddd; background: #fff; }
.links { font-size: .9em; color: var(--muted); margin: .4em 0; }
.links .explore { font-weight: 600; }
details { margin: .4em 0; max-width: 62em; }
details summary { cursor: pointer; color: var(--muted); }
details p { margin: .4em 0; }
pre { background: var(--card); padding: .6em; overflow-x: auto; border-radius: 4px;
  font-size: .85em; margin: .4em 0 0; }
.top { font-size: .85em; }
"""

SCRIPT = """
(function () {
  "use strict";
  var inView = new Map();  // frame -> whether it is in view
  function tell(frame) {  // the player plays while in view, pauses when scrolled away
    var win = frame.contentWindow;
    if (win) win.postMessage({ ntkviz: inView.get(frame) ? "play" : "pause" }, "*");
  }
  // each player page says how tall it is (once it is ready, and whenever that changes): its
  // frame takes that height (no inner scroll bars), and it is told whether it is in view
  window.addEventListener("message", function (e) {
    document.querySelectorAll("iframe.player").forEach(function (frame) {
      if (frame.contentWindow !== e.source) return;
      var tall = e.data && e.data.ntkvizHeight;
      if (tall) frame.style.height = Math.ceil(tall) + "px";
      tell(frame);
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (!("IntersectionObserver" in window)) return;
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (en) {
        var high = window.innerHeight || 1;
        var on = en.isIntersecting &&
          (en.intersectionRatio >= 0.5 || en.intersectionRect.height >= 0.5 * high);
        if (on !== !!inView.get(en.target)) { inView.set(en.target, on); tell(en.target); }
      });
    }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    document.querySelectorAll("iframe.player").forEach(function (f) { seen.observe(f); });
  });
})();
"""


def lead(reading: str) -> str:
    """The first clause of a reading, for the overview: up to the first ";" or ":" outside
    brackets (or a sentence's end) once it holds :data:`LEAD_MIN` characters; all of it if none."""
    depth = 0
    for i, c in enumerate(reading):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and i >= LEAD_MIN and (c in ";:" or reading[i : i + 2] == ". "):
            return reading[:i].rstrip()
    return reading.rstrip(". ")


def _e(text: Any) -> str:
    return html.escape(str(text))


def _scaled(width: Any, widest: int) -> str:
    """The CSS width that shows ``width`` pixels at the scale the widest figure fills the page
    with, at most 1:1 (the frame's insets, the same for every figure, apart)."""
    share = (width or widest) / widest
    inset = f"{2 * INSET_PX:g}px"  # never above 1:1 (a picture is not blown up)
    return f"width: calc(min(100% - {inset}, {widest}px) * {share:.5f} + {inset})"


def render(out: Path, entries: list[dict[str, Any]]) -> str:
    """index.html for ``entries`` (:func:`ntkviz.gallery.index._entries`, each with its
    ``still`` and ``explore`` pages)."""
    widest = max((e.get("width") or 0 for e in entries), default=0) or 1
    tallest = max((e.get("height") or 0 for e in entries), default=0) or widest
    cards = "".join(_card(e, widest, tallest) for e in entries)
    sections = "".join(_section(out, e, widest) for e in entries)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ntkviz gallery</title>
<style>{STYLE}body {{ max-width: {PAGE_PX:g}px; }} .shown {{ --inset: {INSET_PX:g}px; }}</style>
<script>{SCRIPT}</script>
</head>
<body>
<header id="top">
<h1>ntkviz gallery</h1>
<p class="intro">The figures of the post <a href="{_e(POST_URL)}">{_e(POST_TITLE)}</a>, and the
ones ntkviz adds beyond it, made by <code>ntkviz gallery</code> (ntkviz {_e(__version__)}) at the
post's settings. Each player opens on the moment that makes its point and plays while it is in
view; each figure is reproduced by the command under it.</p>
</header>
<nav aria-label="figures"><ul class="overview">{cards}</ul></nav>
<main>{sections}</main>
</body>
</html>
"""


def _card(e: dict[str, Any], widest: int, tallest: int) -> str:
    name = _e(e["name"])
    picture = ""
    if e.get("still"):
        share = 100 * (e.get("width") or widest) / widest
        picture = (
            f'<span class="thumb" style="aspect-ratio: {widest} / {tallest}">'
            f'<img src="{_e(e["still"])}" alt="{name}" style="width: {share:.2f}%"></span>'
        )
    gist = lead(e["reading"]) if e["reading"] else e["summary"]
    return (
        f'<li><a href="#{name}">{picture}<b>{name}</b>'
        f'<span class="lead" title="{_e(e["reading"] or e["summary"])}">{_e(gist)}</span></a></li>'
    )


def _section(out: Path, e: dict[str, Any], widest: int) -> str:
    name = _e(e["name"])
    reading = f'<p class="reading">{_e(e["reading"])}</p>' if e["reading"] else ""
    more = f'<p class="summary">{_e(e["summary"])}</p>' + (
        f'<p class="caption">{_e(e["caption"])}</p>' if e["caption"] else ""
    )
    return (
        f'<section id="{name}"><h2><a href="#{name}">{name}</a></h2>'
        + reading
        + f'<div class="shown" style="{_scaled(e.get("width"), widest)}">{_picture(e)}</div>'
        + _links(out, e)
        + f"<details><summary>Caption</summary>{more}</details>"
        + f"<pre><code>{_e(e['command'])}</code></pre>"
        + '<a class="top" href="#top">back to the overview</a></section>'
    )


def _picture(e: dict[str, Any]) -> str:
    """A figure's picture: its player (a frame on the figure's own page: the index stays small)
    where there is one, else its image, at the gallery's one scale."""
    alt = _e(e["summary"])
    if not e["player"]:
        return f'<div class="still"><img src="{_e(e["image"])}" alt="{alt}" loading="lazy"></div>'
    width, height = e.get("width") or 4, e.get("height") or 3
    return (
        f'<iframe class="player" src="{_e(e["player"])}#embed" title="{_e(e["name"])} player" '
        f'loading="lazy" style="aspect-ratio: {width} / {height + 60}"></iframe>'
    )


def _links(out: Path, e: dict[str, Any]) -> str:
    links = []
    many = len(e["explore"]) > 1
    for page, varied in e["explore"]:
        label = "explore" + (f" ({', '.join(varied)})" if many and varied else "")
        links.append(f'<a class="explore" href="{_e(page)}">{_e(label)}</a>')
    if e["player"]:
        size = (out / e["player"]).stat().st_size
        links.append(f'<a href="{_e(e["player"])}">the player alone</a> ({size / 1e6:.1f} MB)')
    links += [f'<a href="{_e(f)}">{_e(f)}</a>' for f in e["files"] if f != e["player"]]
    return f'<p class="links">{" · ".join(links)}</p>'


def explore_pages(out: Path, figure: str) -> list[tuple[str, tuple[str, ...]]]:
    """The explore pages of ``figure`` in ``out`` (``explore-<figure>.html`` and the gallery's
    other pages of it: :data:`ntkviz.gallery.plan.EXPLORE_PAGES`) that exist, each with the
    options it moves."""
    from ntkviz.gallery.plan import EXPLORE_PAGES

    pages = {f"explore-{figure}.html": ()}
    for page in EXPLORE_PAGES:
        if page.figure == figure:
            pages[f"{page.name}.html"] = tuple(re.sub(r"=.*", "", v) for v in page.vary)
    return [(name, varied) for name, varied in pages.items() if (out / name).is_file()]
