"""A self-contained, offline HTML player for an animation (``-o fig.html``, the gallery, Jupyter).

The file holds the GIF's own image blocks, each as a small GIF data URI: one palette for the
whole animation, a full *key* picture (lossless WebP) every 32 frames, and between key pictures
only the rectangle that changed since the previous picture, its unchanged pixels transparent. So
the player shows the GIF's pixels exactly, and where both are written the frames are drawn and
compressed once. A run of identical frames (a held frame, the end hold) is one picture shown
longer. A few lines of JavaScript draw a picture onto a canvas by painting the
nearest key picture and the patches after it (at most 31), so seeking anywhere is exact.

The page has play/pause, step back and forward, a scrubbing slider, speed, loop/once, the current
frame (and the figure's training step where its Result has one), keyboard control (space, the
arrows, Home/End) and the figure's caption. It loads nothing from anywhere: no fonts, no scripts,
no network (a Content-Security-Policy in the page says so to the browser).

Tests and notebooks reach each player on a page through ``window.ntkvizPlayers``: ``.frame``
(the picture shown, 0-based), ``.count``, ``.seek(i)``, ``.play()``, ``.pause()``, ``.playing``,
``.ready`` (a Promise resolved once every picture is decoded and the first is drawn) and
``.outputFrame(i)`` (the first writer frame that picture ``i`` stands for).

Only NumPy and Pillow are imported, and only when a player is written.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: A player file larger than this is refused (a one-line error suggests what to do instead).
MAX_BYTES = 64 * 1024 * 1024


def frame_labels(result: Any, renderer: Any) -> list[str] | None:
    """The training step each output frame shows, as ``"step N"``, where the figure's Result has
    ``steps`` for its snapshots (one per frame, or one more: the initial state before frame 0).
    None for figures whose frames are not training steps."""
    import numpy as np

    steps = getattr(result, "steps", None)
    if steps is None:
        return None
    steps = np.asarray(steps)
    count = renderer.count
    if steps.ndim != 1 or len(steps) not in (count, count + 1):
        return None
    shift = len(steps) - count
    return [f"step {int(steps[index + shift])}" for index in renderer.order]


def changed_options(spec: Any, config: Any) -> list[str]:
    """The figure's options whose values differ from the post's, as CLI words (from the config
    alone, so that the file does not depend on how the command line was spelled)."""
    import dataclasses

    from ntkviz.config import option_name

    def shown(value: Any) -> str:
        if isinstance(value, (tuple, list)):
            return ",".join(shown(v) for v in value)
        if isinstance(value, bool):
            return str(value).lower()
        return f"{value:g}" if isinstance(value, float) else str(value)

    post = spec.config_cls()
    words = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.metadata.get("cli", True) and value != getattr(post, field.name):
            words += [option_name(field.name), shown(value)]
    return words


def frame_info(spec: Any, result: Any, config: Any, renderer: Any) -> dict[str, Any]:
    """What a player shows beside the frames: the figure's name, its options that differ from the
    post's (else its one-line summary, which describes the post's figure), caption, step labels."""
    from ntkviz.figures.base import caption

    text = caption(spec, result, config)
    return {
        "title": spec.name,
        "summary": spec.summary,
        "options": " ".join(changed_options(spec, config)),
        "caption": text["caption"],
        "labels": frame_labels(result, renderer),
    }


def encode_frames(
    count: int,
    frame: Callable[[int], Any],
    fps: float,
    labels: Sequence[str] | None = None,
    advance: Callable[[int], None] = lambda n=1: None,
    *,
    dither: bool = False,
    jobs: int = 1,
) -> dict[str, Any]:
    """The player's data for ``count`` frames ``frame(i)`` ((H, W, 3 or 4) uint8; alpha is
    ignored): :func:`player_data` of their GIF encoding (:func:`ntkviz.output.writers.encode_gif_frames`)."""
    from ntkviz.output import writers

    source = writers.FrameSource(count, frame, keys=True)
    return player_data(writers.encode_gif_frames(source, dither, advance, jobs), fps, labels)


def player_data(encoded: Any, fps: float, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """The player's data from an :class:`ntkviz.output.writers.EncodedFrames`: its pictures with their
    durations and labels. A key picture is the encoding's lossless WebP (``src``); a patch is the
    GIF's own image block (``gif``: the rest of a one-picture GIF whose start, with the palette,
    is stored once as ``screen``), so the player shows the GIF's pixels at no second encoding.

    Returns a JSON-able dict: ``{"width", "height", "fps", "screen", "frames": [{"src" or
    "gif", "x", "y", "key", "ms", "first", "label"}]}`` where ``first`` is the first output frame
    the picture stands for.
    """
    from ntkviz.output import writers

    durations = writers.frame_durations_ms(len(encoded.blocks), fps, 1)
    pictures: list[dict[str, Any]] = []
    for i, block in enumerate(encoded.blocks):
        if block is None:  # the same picture again: the previous one is shown longer
            pictures[-1]["ms"] += durations[i]
            continue
        entry: dict[str, Any] = {"x": 0, "y": 0, "key": i in encoded.keys}
        if entry["key"]:
            entry["src"] = "data:image/webp;base64," + _base64(encoded.keys[i])
        else:
            body, (entry["x"], entry["y"]) = writers.gif_body(*block)
            entry["gif"] = _base64(body)
        entry.update(ms=durations[i], first=i)
        if labels is not None and labels[i] is not None:
            entry["label"] = labels[i]
        pictures.append(entry)
    return {
        "width": encoded.width,
        "height": encoded.height,
        "fps": fps,
        "screen": _base64(writers.gif_screen(encoded.palette)),
        "frames": pictures,
    }


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def picture_file(data: dict[str, Any], entry: dict[str, Any]) -> bytes:
    """The image file of one picture of a player's data (what the page decodes)."""
    from ntkviz.output import writers

    if "gif" in entry:
        screen = base64.b64decode(data["screen"])
        return writers.one_picture_gif(screen, base64.b64decode(entry["gif"]))
    return base64.b64decode(entry["src"].split(",", 1)[1])


def fragment(data: dict[str, Any], info: dict[str, Any] | None = None, uid: str = "p") -> str:
    """The player as an HTML fragment (style, markup, data, script): a page's body, or a notebook
    cell's output. ``uid`` keeps several players on one page apart."""
    info = info or {}
    uid = "".join(c for c in uid if c.isalnum() or c in "-_") or "p"
    title = info.get("title") or ""
    caption = info.get("caption") or ""
    summary = info.get("summary") or ""
    options = info.get("options") or ""
    count = len(data["frames"])
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    width, height = data["width"], data["height"]
    detail = f"<code>{html.escape(options)}</code>" if options else html.escape(summary)
    heading = f"<b>{html.escape(title)}</b> · {detail}" if title else ""
    return (
        STYLE + f'<div class="ntkviz-player" id="ntkviz-{uid}" tabindex="0" data-frame="0" '
        f'aria-label="{html.escape(title or "animation")} player">'
        + (f'<div class="np-title">{heading}</div>' if heading else "")
        # the first picture as a plain image until the script takes over (and where scripts
        # do not run: GitHub's notebook view, a mail client)
        + (
            f'<img class="np-poster" src="{data["frames"][0]["src"]}" width="{width}" '
            f'height="{height}" alt="{html.escape(title or "animation")}, first frame">'
            if count
            else ""
        )
        + f'<canvas class="np-canvas" width="{width}" height="{height}" '
        f'style="aspect-ratio: {width} / {height}; display: none"></canvas>'
        + '<div class="np-bar">'
        + _button("np-first", "First frame (Home)", ICONS["first"])
        + _button("np-back", "Step back (\u2190)", ICONS["back"])
        + _button("np-play", "Play (space)", ICONS["play"])
        + _button("np-fwd", "Step forward (\u2192)", ICONS["forward"])
        + _button("np-last", "Last frame (End)", ICONS["last"])
        + f'<input type="range" class="np-slider" min="0" max="{max(count - 1, 0)}" value="0" '
        'step="1" aria-label="frame">'
        '<span class="np-pos"></span>'
        '<select class="np-speed" title="Speed" aria-label="speed">'
        + "".join(
            f'<option value="{s}"{" selected" if s == 1 else ""}>{s:g}&#xD7;</option>'
            for s in (0.1, 0.25, 0.5, 1, 2, 4)
        )
        + "</select>"
        '<label class="np-loop-label" title="Loop, or play once and stop at the end">'
        '<input type="checkbox" class="np-loop" checked> loop</label>'
        "</div>"
        + (f'<p class="np-caption">{html.escape(caption)}</p>' if caption else "")
        + f'<script type="application/json" class="np-data">{payload}</script>'
        + "<script>"
        + SCRIPT.replace("__UID__", uid)
        .replace("__PLAY__", json.dumps(ICONS["play"]))
        .replace("__PAUSE__", json.dumps(ICONS["pause"]))
        + "</script>"
        + "</div>"
    )


def _icon(path: str) -> str:
    return (
        '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">'
        f'<path d="{path}" fill="currentColor"/></svg>'
    )


#: Button icons as inline SVG: no icon font to load, the same in every browser.
ICONS = {
    "first": _icon("M2 2h2v12H2zM14 2v12L5 8z"),
    "back": _icon("M12 2h2v12h-2zM11 2v12L2 8z"),
    "play": _icon("M3 1.5v13L14 8z"),
    "pause": _icon("M3 2h3.5v12H3zM9.5 2H13v12H9.5z"),
    "forward": _icon("M2 2h2v12H2zM5 2v12l9-6z"),
    "last": _icon("M12 2h2v12h-2zM2 2v12l9-6z"),
}


def _button(cls: str, title: str, icon: str) -> str:
    label = html.escape(title)
    return (
        f'<button type="button" class="{cls}" title="{label}" aria-label="{label}">{icon}</button>'
    )


#: The page forbids every load but inline code and data: URIs (the player is offline by design).
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def page(data: dict[str, Any], info: dict[str, Any] | None = None) -> str:
    """A whole HTML page with one player; the keyboard works without clicking it first."""
    info = info or {}
    title = info.get("title") or "ntkviz"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)} · ntkviz</title>\n"
        "<style>body { margin: 0; padding: 1em; font-family: system-ui, sans-serif; }\n"
        # in the gallery's index (page.html#embed): the index shows the title and caption
        "body.np-embed { padding: 0 2px 2px; } body.np-embed .ntkviz-player { display: block; }\n"
        "body.np-embed .np-title, body.np-embed .np-caption { display: none; }</style>\n"
        '</head>\n<body data-ntkviz-page="1">\n'
        + fragment(data, info, uid="page")
        + "\n</body>\n</html>\n"
    )


def write_html(
    tmp: Path,
    source: Any,
    fps: float,
    advance: Callable[[int], None],
    target: Path | None = None,
    *,
    dither: bool = False,
    jobs: int = 1,
) -> tuple[int, int]:
    """Write the player page for a :class:`ntkviz.output.writers.FrameSource` to ``tmp``; return
    (height, width). The pictures come from the source's GIF encoding, made here or reused from
    the .gif written beside it. Refuses (NtkvizError) a file over :data:`MAX_BYTES`."""
    import dataclasses

    from ntkviz.errors import NtkvizError
    from ntkviz.output import writers

    info = dict(getattr(source, "info", None) or {})
    labels = info.get("labels")
    if labels is not None and len(labels) != source.count:
        labels = None
    if not source.keys:  # a source not made for a player: encode again, with its key pictures
        source = dataclasses.replace(source, keys=True)
    encoded = writers.encode_gif_frames(source, dither, advance, jobs)
    data = player_data(encoded, fps, labels)
    text = page(data, info)
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise NtkvizError(
            f"the player {target or tmp} would be {size / 2**20:.0f} MB, over the "
            f"{MAX_BYTES / 2**20:.0f} MB limit: use --quick, a smaller --size or --dpi, "
            "fewer --frames, or write .mp4"
        )
    Path(tmp).write_text(text, encoding="utf-8")
    return data["height"], data["width"]


def read_html(path: Path) -> dict[str, Any]:
    """The data embedded in a player page (for checks): the dict :func:`encode_frames` made."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index('<script type="application/json" class="np-data">')
    start = text.index(">", start) + 1
    end = text.index("</script>", start)
    return json.loads(text[start:end].replace("<\\/", "</"))


def decode_frames(data: dict[str, Any]):
    """Yield each picture of a player's data as (H, W, 3) uint8, composited like the player does
    (an independent check of what the browser shows)."""
    import numpy as np
    from PIL import Image

    canvas = np.zeros((data["height"], data["width"], 3), dtype=np.uint8)
    for entry in data["frames"]:
        raw = picture_file(data, entry)
        with Image.open(io.BytesIO(raw)) as im:
            pixels = np.asarray(im.convert("RGBA"))
        h, w = pixels.shape[:2]
        region = canvas[entry["y"] : entry["y"] + h, entry["x"] : entry["x"] + w]
        keep = pixels[..., 3] == 255
        region[keep] = pixels[..., :3][keep]
        yield canvas.copy()


STYLE = """<style>
.ntkviz-player { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
  max-width: 100%; display: inline-block; outline: none; box-sizing: border-box;
  background: #fff; padding: .3em .4em; border-radius: 6px; }
.ntkviz-player:focus-visible { box-shadow: 0 0 0 2px #3f90da66; border-radius: 4px; }
.ntkviz-player .np-title { margin: 0 0 .3em; color: #444; }
.ntkviz-player .np-title code { font-size: .9em; }
.ntkviz-player .np-canvas, .ntkviz-player .np-poster { display: block; max-width: 100%; height: auto; border: 1px solid #ddd;
  background: #fff; }
.ntkviz-player .np-bar { display: flex; flex-wrap: wrap; align-items: center; gap: .35em;
  margin-top: .35em; }
.ntkviz-player button { font: inherit; min-width: 2.3em; padding: .25em .5em; cursor: pointer;
  line-height: 0;
  border: 1px solid #bbb; border-radius: 4px; background: #f6f6f6; color: #222; }
.ntkviz-player button:hover { background: #e8e8e8; }
.ntkviz-player .np-play { min-width: 3em; font-weight: bold; }
.ntkviz-player .np-slider { flex: 1 1 12em; min-width: 8em; }
.ntkviz-player .np-pos { font-variant-numeric: tabular-nums; white-space: nowrap; min-width: 11em; }
.ntkviz-player select { font: inherit; }
.ntkviz-player .np-caption { margin: .5em 0 0; color: #444; max-width: 60em; }
</style>"""

# The player's code. __UID__ is replaced by the player's id; everything else is plain ES2017.
SCRIPT = r"""
(function () {
  "use strict";
  var root = document.getElementById("ntkviz-__UID__");
  if (!root || root.ntkvizPlayer) return;
  var data = JSON.parse(root.querySelector(".np-data").textContent);
  var pics = data.frames, n = pics.length;
  var canvas = root.querySelector(".np-canvas"), ctx = canvas.getContext("2d");
  var slider = root.querySelector(".np-slider"), pos = root.querySelector(".np-pos");
  var playBtn = root.querySelector(".np-play"), speedSel = root.querySelector(".np-speed");
  var loopBox = root.querySelector(".np-loop");
  var ICON_PLAY = __PLAY__, ICON_PAUSE = __PAUSE__;
  var images = [], drawn = -1, timer = null;
  var keyOf = [], k = 0;
  for (var i = 0; i < n; i++) { if (pics[i].key) k = i; keyOf.push(k); }
  var player = {
    count: n, frame: 0, playing: false,
    outputFrame: function (i) { return pics[i].first; },
    seek: function (i) { show(i); },
    play: function () { play(); }, pause: function () { pause(); },
    toggle: function () { if (player.playing) pause(); else play(); }
  };
  root.ntkvizPlayer = player;
  (window.ntkvizPlayers = window.ntkvizPlayers || []).push(player);

  function paint(i) {
    var p = pics[i];
    ctx.drawImage(images[i], p.x, p.y);
  }
  function draw(i) {
    var start = keyOf[i];
    if (!(drawn >= start && drawn <= i)) { paint(start); drawn = start; }
    while (drawn < i) { drawn += 1; paint(drawn); }
  }
  function label(i) {
    var text = "frame " + (i + 1) + " / " + n;
    if (pics[i].label) text += " \u00b7 " + pics[i].label;
    return text;
  }
  function show(i) {
    i = Math.max(0, Math.min(n - 1, Math.round(Number(i)) || 0));
    draw(i);
    player.frame = i;
    root.setAttribute("data-frame", String(i));
    slider.value = String(i);
    pos.textContent = label(i);
  }
  function schedule() {
    var speed = Number(speedSel.value) || 1;
    timer = setTimeout(tick, Math.max(1, pics[player.frame].ms / speed));
  }
  function tick() {
    timer = null;
    if (!player.playing) return;
    if (player.frame >= n - 1) {
      if (!loopBox.checked) { pause(); return; }
      show(0);
    } else {
      show(player.frame + 1);
    }
    if (player.frame >= n - 1 && !loopBox.checked) {
      // played once: the last frame stays up for its hold, then stop
      timer = setTimeout(pause, pics[player.frame].ms / (Number(speedSel.value) || 1));
      return;
    }
    schedule();
  }
  function play() {
    if (player.playing || n < 2) return;
    if (player.frame >= n - 1 && !loopBox.checked) show(0);
    player.playing = true;
    playBtn.innerHTML = ICON_PAUSE;
    playBtn.title = "Pause (space)";
    schedule();
  }
  function pause() {
    player.playing = false;
    if (timer !== null) { clearTimeout(timer); timer = null; }
    playBtn.innerHTML = ICON_PLAY;
    playBtn.title = "Play (space)";
  }
  function step(d) { pause(); show(player.frame + d); }

  function on(selector, action) {
    // after a click the keys go to the player, not the button (space would click it again)
    root.querySelector(selector).onclick = function () {
      action();
      root.focus({ preventScroll: true });
    };
  }
  on(".np-first", function () { pause(); show(0); });
  on(".np-last", function () { pause(); show(n - 1); });
  on(".np-back", function () { step(-1); });
  on(".np-fwd", function () { step(1); });
  on(".np-play", function () { player.toggle(); });
  slider.addEventListener("input", function () { pause(); show(slider.value); });
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target && e.target.tagName;
    if (t === "SELECT" || (t === "INPUT" && e.target.type !== "range" && e.target.type !== "checkbox")) return;
    var big = e.shiftKey ? 10 : 1, used = true;
    if (e.key === " " || e.key === "k") player.toggle();
    else if (e.key === "ArrowRight" || e.key === "l") step(big);
    else if (e.key === "ArrowLeft" || e.key === "j") step(-big);
    else if (e.key === "Home") { pause(); show(0); }
    else if (e.key === "End") { pause(); show(n - 1); }
    else used = false;
    if (used) { e.preventDefault(); e.stopPropagation(); }
  }
  root.addEventListener("keydown", onKey);
  var own = document.body && document.body.getAttribute("data-ntkviz-page") === "1";
  var hash = {};
  function report() {  // in a frame (the gallery's index): tell it how tall the page is
    if (own && window.parent !== window) {
      var tall = document.body.getBoundingClientRect().height;
      window.parent.postMessage({ ntkvizHeight: tall }, "*");
    }
  }
  if (own) {
    // a page of its own: keys work without clicking the player first
    document.addEventListener("keydown", function (e) { if (!root.contains(e.target)) onKey(e); });
    // page.html#frame=101 shows frame 101 (a link to a moment); #embed: in the gallery's index
    var readHash = function () {
      hash = {};
      location.hash.slice(1).split("&").forEach(function (part) {
        var kv = part.split("=");
        if (kv[0]) hash[decodeURIComponent(kv[0])] = kv.length > 1 ? decodeURIComponent(kv[1]) : "";
      });
    };
    readHash();
    if ("embed" in hash) document.body.classList.add("np-embed");
    window.addEventListener("resize", report);
    window.addEventListener("hashchange", function () {
      readHash();
      if (player.loaded && hash.frame) { pause(); show(Number(hash.frame) - 1); }
    });
  }
  // A patch is the rest of a one-picture GIF: the shared screen (palette), sized to it.
  var screen = data.screen ? atob(data.screen) : "";
  function source(p) {
    if (p.src) return p.src;
    var body = atob(p.gif);
    return "data:image/gif;base64," +
      btoa(screen.slice(0, 6) + body.slice(13, 17) + screen.slice(10) + body);
  }
  player.ready = Promise.all(pics.map(function (p, i) {
    var img = new Image();
    images[i] = img;
    img.src = source(p);
    return img.decode ? img.decode() : new Promise(function (ok) { img.onload = ok; });
  })).then(function () {
    show(own && hash.frame ? Number(hash.frame) - 1 : 0);
    var poster = root.querySelector(".np-poster");
    if (poster) poster.parentNode.removeChild(poster);
    canvas.style.display = "block";
    player.loaded = true;
    report();
    return player;
  });
})();
"""
