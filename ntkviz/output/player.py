"""A self-contained, offline HTML player for an animation (``-o fig.html``, the gallery, Jupyter).

The file holds the GIF's own image blocks, each as a small GIF data URI: one palette for the
whole animation, a full *key* picture (lossless WebP) every 64 frames, and between key pictures
only the rectangle that changed since the previous picture, its unchanged pixels transparent. So
the player shows the GIF's pixels exactly, and where both are written the frames are drawn and
compressed once. A run of identical frames (a held frame, the end hold) is one picture shown
longer. A few lines of JavaScript draw a picture onto a canvas by painting the
nearest key picture and the patches after it (at most 63), so seeking anywhere is exact.

The page has play/pause, step back and forward, a scrubbing slider, speed, loop/once, the current
frame (and the figure's training step where its Result has one), keyboard control (space, the
arrows, Home/End) and the figure's caption. It loads nothing from anywhere: no fonts, no scripts,
no network (a Content-Security-Policy in the page says so to the browser).

Tests and notebooks reach each player on a page through ``window.ntkvizPlayers``: ``.frame``
(the picture shown, 0-based), ``.count``, ``.seek(i)``, ``.play()``, ``.pause()``, ``.playing``,
``.ready`` (a Promise resolved once every picture is decoded and the first is drawn) and
``.outputFrame(i)`` (the first writer frame that picture ``i`` stands for).

Embedded (``page.html#embed``: the gallery's index) the page opens on its key frame (the data's
``key``: the picture of the figure's still), follows ``{ntkviz: "play" | "pause"}`` messages from
the page around it (in view, scrolled away) unless the reader paused it, and tells that page its
height whenever it changes.

The page's script and style are the package's files ``player.js`` and ``player.css``.
Only NumPy and Pillow are imported, and only when a player is written.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import io
import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ntkviz.errors import NtkvizError, quoted
from ntkviz.output.frames import FrameSource, frame_durations_ms
from ntkviz.output.gif import (
    EncodedFrames,
    encode_gif_frames,
    gif_body,
    gif_screen,
    one_picture_gif,
)

#: A player file larger than this is refused (a one-line error suggests what to do instead).
MAX_BYTES = 64 * 1024 * 1024


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
    ignored): :func:`player_data` of their GIF encoding (:func:`ntkviz.output.gif.encode_gif_frames`)."""
    source = FrameSource(count, frame, keys=True)
    return player_data(encode_gif_frames(source, dither, advance, jobs), fps, labels)


def player_data(
    encoded: EncodedFrames, fps: float, labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """The player's data from an :class:`ntkviz.output.gif.EncodedFrames`: its pictures with their
    durations and labels. A key picture is the encoding's lossless WebP (``src``); a patch is the
    GIF's own image block (``gif``: the rest of a one-picture GIF whose start, with the palette,
    is stored once as ``screen``), so the player shows the GIF's pixels at no second encoding.

    Returns a JSON-able dict: ``{"width", "height", "fps", "screen", "frames": [{"src" or
    "gif", "x", "y", "key", "ms", "first", "label"}]}`` where ``first`` is the first output frame
    the picture stands for.
    """
    durations = frame_durations_ms(len(encoded.blocks), fps, 1)
    pictures: list[dict[str, Any]] = []
    for i, block in enumerate(encoded.blocks):
        if block is None:  # the same picture again: the previous one is shown longer
            pictures[-1]["ms"] += durations[i]
            continue
        entry: dict[str, Any] = {"x": 0, "y": 0, "key": i in encoded.keys}
        if entry["key"]:
            entry["src"] = "data:image/webp;base64," + _base64(encoded.keys[i])
        else:
            body, (entry["x"], entry["y"]) = gif_body(*block)
            entry["gif"] = _base64(body)
        entry.update(ms=durations[i], first=i)
        if labels is not None and labels[i] is not None:
            entry["label"] = labels[i]
        pictures.append(entry)
    return {
        "width": encoded.width,
        "height": encoded.height,
        "fps": fps,
        "screen": _base64(gif_screen(encoded.palette)),
        "frames": pictures,
    }


def picture_at(data: dict[str, Any], output_frame: int) -> int:
    """The index of the picture that shows writer frame ``output_frame`` (held frames are
    merged into one picture: the last picture that starts at or before it)."""
    frames = data["frames"]
    return max((i for i, p in enumerate(frames) if p["first"] <= output_frame), default=0)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def picture_file(data: dict[str, Any], entry: dict[str, Any]) -> bytes:
    """The image file of one picture of a player's data (what the page decodes)."""
    if "gif" in entry:
        screen = base64.b64decode(data["screen"])
        return one_picture_gif(screen, base64.b64decode(entry["gif"]))
    return base64.b64decode(entry["src"].split(",", 1)[1])


def fragment(
    data: dict[str, Any], info: dict[str, Any] | None = None, uid: str = "p", extra: str = ""
) -> str:
    """The player as an HTML fragment (style, markup, data, script): a page's body, or a notebook
    cell's output. ``uid`` keeps several players on one page apart. ``data`` is one animation's
    (:func:`player_data`) or an explore page's variants (:mod:`ntkviz.output.explorer`), whose
    option sliders and reading are the markup ``extra``, placed under the controls."""
    info = info or {}
    uid = "".join(c for c in uid if c.isalnum() or c in "-_") or "p"
    title = info.get("title") or ""
    caption = info.get("caption") or ""
    summary = info.get("summary") or ""
    options = info.get("options") or ""
    first = data["frames"] if "frames" in data else data["variants"][0]["frames"]
    count = len(first)
    poster = first[0].get("src") or data["pool"][first[0]["p"]]["src"] if count else ""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    width, height = data["width"], data["height"]
    detail = f"<code>{html.escape(options)}</code>" if options else html.escape(summary)
    heading = f"<b>{html.escape(title)}</b> · {detail}" if title else ""
    return (
        style() + f'<div class="ntkviz-player" id="ntkviz-{uid}" tabindex="0" data-frame="0" '
        f'aria-label="{html.escape(title or "animation")} player">'
        + (f'<div class="np-title">{heading}</div>' if heading else "")
        # the first picture as a plain image until the script takes over (and where scripts
        # do not run: GitHub's notebook view, a mail client)
        + (
            f'<img class="np-poster" src="{poster}" width="{width}" '
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
        + extra
        + (f'<p class="np-caption">{html.escape(caption)}</p>' if caption else "")
        + f'<script type="application/json" class="np-data">{payload}</script>'
        + "<script>"
        + script()
        .replace("__UID__", uid)
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


def page(data: dict[str, Any], info: dict[str, Any] | None = None, extra: str = "") -> str:
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
        + fragment(data, info, uid="page", extra=extra)
        + "\n</body>\n</html>\n"
    )


def write_html(
    tmp: Path,
    source: FrameSource,
    fps: float,
    advance: Callable[[int], None],
    target: Path | None = None,
    *,
    dither: bool = False,
    jobs: int = 1,
) -> tuple[int, int]:
    """Write the player page for a :class:`ntkviz.output.frames.FrameSource` to ``tmp``; return
    (height, width). The pictures come from the source's GIF encoding, made here or reused from
    the .gif written beside it. Refuses (NtkvizError) a file over :data:`MAX_BYTES`."""
    info = dict(getattr(source, "info", None) or {})
    labels = info.get("labels")
    if labels is not None and len(labels) != source.count:
        labels = None
    if not source.keys:  # a source not made for a player: encode again, with its key pictures
        source = dataclasses.replace(source, keys=True)
    encoded = encode_gif_frames(source, dither, advance, jobs)
    data = player_data(encoded, fps, labels)
    data["key"] = picture_at(data, source.key_frame)  # the picture an embedded player opens on
    text = page(data, info)
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise NtkvizError(
            f"the player {quoted(target or tmp)} would be {size / 2**20:.0f} MB, over the "
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


@functools.cache
def style() -> str:
    """The player's CSS (``player.css``) as a <style> element."""
    return "<style>\n" + _package_file("player.css") + "</style>"


@functools.cache
def script() -> str:
    """The player's code (``player.js``): plain ES2017; ``__UID__`` stands for the player's id,
    ``__PLAY__`` and ``__PAUSE__`` for the play and pause icons (JSON strings)."""
    return "\n" + _package_file("player.js")


def _package_file(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def still_html(frame: Any, info: Mapping[str, Any], note: str = "") -> str:
    """A still figure (or an animation too large to show inline) as an HTML fragment: title,
    options or summary, the frame as a PNG data URI, caption and ``note``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame[..., :3].copy()).save(buffer, format="PNG")
    src = "data:image/png;base64," + _base64(buffer.getvalue())
    caption = info.get("caption") or ""
    return (
        '<div class="ntkviz-still">'
        + f"<div><b>{html.escape(info['title'])}</b> · "
        + (f"<code>{html.escape(info['options'])}</code>" if info["options"] else "")
        + (html.escape(info["summary"]) if not info["options"] else "")
        + "</div>"
        + f'<img src="{src}" alt="{html.escape(info.get("title", ""))}" style="max-width:100%">'
        + (f"<p>{html.escape(caption)}</p>" if caption else "")
        + (f"<p><i>{html.escape(note)}</i></p>" if note else "")
        + "</div>"
    )
