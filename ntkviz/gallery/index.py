"""The gallery's index pages: ``README.md`` and a self-contained ``index.html`` (each animated
figure shown in its own player page), written from the figures' sidecars."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ntkviz.gallery.page import CSP, POST, explore_pages, render
from ntkviz.version import __version__

__all__ = ["CSP", "POST", "foreign_index_files", "md_code", "md_text", "write_index"]


#: Characters that are markup anywhere in a line of Markdown (CommonMark's and GitHub's: emphasis,
#: links and images, raw HTML and entities, code, strikethrough, math): each is shown as itself
#: after a backslash. The rest of the punctuation is left as it is, for a README that reads well
#: as text too: what is markup only at the start of a line is escaped there, and a table needs a
#: second line, which a text of one line (its lines joined) never has.
MARKUP = frozenset("\\`*_[]<&~$")
#: A line that starts like a heading, list, quote or rule.
LINE_START = re.compile(r"^([#+=>-]|\d{1,9}[.)])")
#: A spread a caption states (:func:`ntkviz.figures.common.spread_text`): "-0.99 (-1.02 to
#: -0.97 over 5 seeds)", the range of a number over independent draws.
SPREAD = re.compile(r"\([-+]?\d[\d.e+-]* to [-+]?\d[\d.e+-]* over \d+ [^)]+\)")
#: At least this many figures of a full gallery state a spread (issue 22: numbers drawn at
#: random are given with their spread, in six figures or more).
MIN_SPREADS = 6


def md_text(text: str) -> str:
    """``text`` (a sidecar's caption or reading: anyone's words) as plain text in Markdown, one
    paragraph: its markup escaped, its lines joined, a start like "# ", "- " or "1." escaped."""
    text = " ".join(str(text).split())
    text = "".join("\\" + c if c in MARKUP else c for c in text)
    return LINE_START.sub(lambda m: m[0][:-1] + "\\" + m[0][-1], text)


def md_code(text: str) -> list[str]:
    """``text`` as a fenced code block whose fence no run of backticks in it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _entries(out: Path, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    from ntkviz import registry  # names and summaries without importing the figures (torch)

    entries = []
    for row in rows:
        if row["status"] == "failed":
            continue
        figure = registry.figures()[row["figure"]]
        pictures = [f for f in row["files"] if not f.endswith(".html")] or row["files"]
        shown = next((f for f in pictures if not f.endswith(".png")), pictures[0])
        player = next((f for f in row["files"] if f.endswith(".html")), None)
        # the overview's picture: the still (the key frame) where there is one
        still = next((f for f in pictures if f.endswith(".png")), None)
        if still is None and shown.endswith((".gif", ".webp")):
            still = shown
        sidecar = json.loads((out / (row["files"][0] + ".json")).read_text())
        entries.append(
            {
                "name": row["figure"],
                "summary": figure["summary"],
                # computed from the figure's own Result when it was built
                "caption": str(sidecar.get("caption") or ""),
                "reading": str(sidecar.get("reading") or ""),
                "image": shown,
                "player": player,  # the figure's own player page, shown in index.html
                "width": sidecar.get("width"),
                "height": sidecar.get("height"),
                "still": still,
                "explore": explore_pages(out, row["figure"]),
                "files": row["files"],
                "command": " ".join(sidecar.get("command") or []),
            }
        )
    return entries


#: How the index files a gallery writes begin: a file there that does not is the user's own.
INDEX_MARKS = {"README.md": "# ntkviz gallery", "index.html": "<!DOCTYPE html>"}
INDEX_TITLE = "<title>ntkviz gallery</title>"


def foreign_index_files(out: Path) -> list[Path]:
    """The README.md and index.html in ``out`` that an ntkviz gallery did not write (a user's own
    notes in the folder): a build would replace them, so it is refused first."""
    foreign = []
    for name, mark in INDEX_MARKS.items():
        path = out / name
        if not os.path.lexists(path):
            continue
        try:
            with open(path, "rb") as f:
                head = f.read(4096).decode("utf-8", "replace")
        except OSError:
            foreign.append(path)
            continue
        ours = head.startswith(mark) and (name != "index.html" or INDEX_TITLE in head)
        if path.is_symlink() or not path.is_file() or not ours:
            foreign.append(path)
    return foreign


def write_index(out: Path, rows: Sequence[dict[str, Any]]) -> None:
    """gallery/README.md and a self-contained gallery/index.html for the figures built."""
    from ntkviz.output.transaction import atomic_target

    entries = _entries(out, rows)
    md = [
        "# ntkviz gallery",
        "",
        f"The figures of the post {POST}, and the ones ntkviz adds beyond it, made by "
        f"`ntkviz gallery` (ntkviz {__version__}) at the post's settings. Each is "
        "reproduced by the command under it; `make gallery` rebuilds those that are not "
        "current (`make gallery GALLERY_ARGS=--force`: all of them), "
        "`ntkviz gallery --quick` makes fast previews.",
        "",
    ]
    if not out.is_absolute():  # the commands write where `ntkviz gallery --out` pointed
        md[-2] += (
            f" The commands write into `{out.as_posix()}/` under the current folder: run where "
            "the gallery was built (the repository root, for the committed one) they overwrite "
            f"its files; anywhere else, make that folder first (`mkdir -p {out.as_posix()}`) or "
            "change `-o` and `--still`."
        )
    spreads = [e["name"] for e in entries if SPREAD.search(e["caption"] + " " + e["reading"])]
    if spreads:
        md += [
            f"Numbers drawn at random are stated with their spread (their range over seeds, or "
            f"over nets fitted alone) in {len(spreads)} figures: {', '.join(spreads)}.",
            "",
        ]
    for e in entries:
        md += [f"## {e['name']}", "", f"![{e['name']}]({e['image']})", ""]
        md += [md_text(e["summary"]), ""]
        if e["player"]:
            md += [f"[Player]({e['player']}): pause, step and scrub (open it in a browser)", ""]
        for page, _ in e["explore"]:
            md += [f"[Explore]({page}): the figure along a slider (open it in a browser)", ""]
        if e["reading"]:
            md += [f"*What you see:* {md_text(e['reading'])}", ""]
        if e["caption"]:
            md += [md_text(e["caption"]), ""]
        md += [*md_code(e["command"]), ""]
    with atomic_target(out / "README.md") as tmp:
        tmp.write_text("\n".join(md))

    page = render(out, entries)
    with atomic_target(out / "index.html") as tmp:
        tmp.write_text(page)


def readme_spreads(text: str) -> list[str]:
    """The figures (``## name`` sections) of a gallery README whose text states a spread."""
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    return [part.split("\n", 1)[0].strip() for part in sections if SPREAD.search(part)]


def spread_problem(text: str) -> str | None:
    """Why a full gallery's README falls short of :data:`MIN_SPREADS` figures stating their
    spreads (None when it does not)."""
    named = readme_spreads(text)
    if len(named) >= MIN_SPREADS:
        return None
    which = f" ({', '.join(named)})" if named else ""
    return (
        f"'README.md': states a spread over seeds for {len(named)} figures{which}, fewer than "
        f"{MIN_SPREADS}"
    )
