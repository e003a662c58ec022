"""An explore page: one figure's variants (``ntkviz explore``) in one offline player.

Each variant is the player's data of its own animation (:func:`ntkviz.output.player.player_data`,
the GIF's image blocks). Here they become one page: every picture goes into one pool, stored
once however many variants show it (a picture is the same when its bytes and, for a patch, its
palette are), and each variant's pictures point into the pool. The page is the player's
(``player.js`` takes a page of variants), with one slider per varied option, labelled with its
values, and the current variant's reading beside the picture.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ntkviz.errors import NtkvizError
from ntkviz.output import player

#: The largest explore page written (the player's own limit).
MAX_BYTES = player.MAX_BYTES


def merge(
    variants: Sequence[Mapping[str, Any]],
    axes: Sequence[Mapping[str, Any]],
    at: Sequence[Sequence[int]],
    texts: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """One page's data from the variants' player data, in the order of ``at`` (each variant's
    index on every option's slider). ``axes``: {"name", "flag", "values": [labels]} per varied
    option; ``texts``: each variant's {"caption", "reading"}.

    Returns {"width", "height", "fps", "screens", "pool", "variants": [{"frames", "at",
    "caption", "reading"}], "axes"}; a picture in a variant is {"p": its index in the pool, "x",
    "y", "key", "ms", "first", "label"}."""
    if not variants:
        raise NtkvizError("an explore page needs at least one variant")
    sizes = {(v["width"], v["height"]) for v in variants}
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes))
        raise NtkvizError(f"the variants are drawn at different sizes ({shown}): cannot share axes")
    screens: dict[str, int] = {}
    pool: list[dict[str, Any]] = []
    seen: dict[tuple[int, str], int] = {}
    out = []
    for n, variant in enumerate(variants):
        screen = screens.setdefault(variant["screen"], len(screens))
        frames = []
        for picture in variant["frames"]:
            content = (-1, picture["src"]) if "src" in picture else (screen, picture["gif"])
            if content not in seen:
                seen[content] = len(pool)
                pool.append(
                    {"src": content[1]} if content[0] < 0 else {"gif": content[1], "s": screen}
                )
            entry = {"p": seen[content]}
            entry.update(
                {k: picture[k] for k in ("x", "y", "key", "ms", "first", "label") if k in picture}
            )
            frames.append(entry)
        text = texts[n] if n < len(texts) else {}
        out.append({"frames": frames, "at": list(at[n]), **{k: text[k] for k in text}})
    width, height = sizes.pop()
    return {
        "width": width,
        "height": height,
        "fps": variants[0]["fps"],
        "screens": list(screens),
        "pool": pool,
        "variants": out,
        "axes": [dict(a) for a in axes],
    }


def variant_data(data: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Variant ``index`` of an explore page's data as one animation's player data (what
    :func:`ntkviz.output.player.decode_frames` decodes): for checks."""
    variant = data["variants"][index]
    frames = []
    screen = None
    for entry in variant["frames"]:
        picture = data["pool"][entry["p"]]
        if "s" in picture:
            screen = data["screens"][picture["s"]]
        frames.append({**{k: v for k, v in entry.items() if k != "p"}, **picture})
    return {
        "width": data["width"],
        "height": data["height"],
        "fps": data["fps"],
        "screen": screen or (data["screens"][0] if data["screens"] else ""),
        "frames": frames,
    }


def controls(axes: Sequence[Mapping[str, Any]]) -> str:
    """The option sliders (one per varied option, its values written under it) and the reading."""
    rows = []
    for a, axis in enumerate(axes):
        values = axis["values"]
        name = html.escape(axis["flag"])
        keys = "\u2191 \u2193" if a == 0 else "PgUp PgDn"
        ticks = "".join(
            f'<span class="{"np-on" if i == 0 else ""}">{html.escape(v)}</span>'
            for i, v in enumerate(values)
        )
        rows.append(
            f'<div class="np-vary" title="{name}: {keys}">'
            f'<label class="np-vary-name">{name} = '
            f'<b class="np-option-value" data-axis="{a}">{html.escape(values[0])}</b></label>'
            f'<span class="np-vary-slide"><input type="range" class="np-option" data-axis="{a}" '
            f'min="0" max="{len(values) - 1}" value="0" step="1" aria-label="{name}">'
            f'<span class="np-ticks" data-axis="{a}">{ticks}</span></span>'
            f'<span class="np-vary-keys">{keys}</span></div>'
        )
    return "".join(rows) + '<p class="np-reading"></p>'


#: The page's stamp (what made it), in its head: ``<meta name="ntkviz-explore" content="...">``.
STAMP = "ntkviz-explore"


def page(data: Mapping[str, Any], info: Mapping[str, Any] | None = None, stamp: str = "") -> str:
    """The whole explore page (the player's page, with its Content-Security-Policy); ``stamp``
    (letters and digits) in its head says what made it (:func:`read_stamp`)."""
    text = player.page(dict(data), dict(info or {}), extra=controls(data["axes"]))
    stamp = "".join(c for c in stamp if c.isalnum())
    if stamp:
        text = text.replace("<head>\n", f'<head>\n<meta name="{STAMP}" content="{stamp}">\n', 1)
    return text


def read_stamp(path: Any) -> str | None:
    """The stamp of the explore page at ``path`` (None: none, or no page there)."""
    import re

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return None
    found = re.search(rf'<meta name="{STAMP}" content="([0-9A-Za-z]+)">', head)
    return found.group(1) if found else None


def check_size(text: str, target: Any) -> int:
    """The page's size in bytes; over :data:`MAX_BYTES` is one line saying what to do."""
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise NtkvizError(
            f"the explore page {target} would be {size / 2**20:.0f} MB, over the "
            f"{MAX_BYTES / 2**20:.0f} MB limit: vary fewer values, or use --quick, a smaller "
            "--size or --dpi"
        )
    return size
