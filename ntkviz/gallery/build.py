"""The gallery: every figure at the post's defaults, built in parallel, with an index.

``ntkviz gallery`` (and ``make gallery``) writes ``<figure>.gif`` plus a ``<figure>.png`` still for
each animated figure, ``<figure>.png`` for stills, sidecars, ``README.md`` and ``index.html``.
A figure whose sidecar says it was made with the same config, seed, style and ntkviz version is
skipped unless ``force``. :func:`validate` and :func:`compare` are what CI runs on a rebuilt gallery.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ntkviz import sidecar as sidecar_schema
from ntkviz.errors import ConfigError, NtkvizError
from ntkviz.version import __version__

ANIMATION_FORMATS = ("gif", "mp4", "webp", "html")  # html: the player (ntkviz.output.player)
FORMATS = ANIMATION_FORMATS + ("png",)
POST = (
    'R. V. Dwaraknath, "Understanding the Neural Tangent Kernel" (2019), '
    "https://rajatvd.github.io/NTK/"
)


@dataclass(frozen=True)
class Job:
    name: str
    out: Path
    formats: tuple[str, ...] = ("gif", "html", "png")
    quick: bool = False
    seed: int = 0
    force: bool = False
    threads: int = 1


def _files(spec, job: Job) -> tuple[Path, tuple[Path, ...], Path | None]:
    """(main output, more animations, still) for a figure."""
    if not spec.animated:
        return job.out / f"{spec.name}.png", (), None
    animations = [f for f in job.formats if f in ANIMATION_FORMATS] or ["gif"]
    main, *more = (job.out / f"{spec.name}.{fmt}" for fmt in animations)
    still = job.out / f"{spec.name}.png" if "png" in job.formats else None
    return main, tuple(more), still


def plan(job: Job):
    """(spec, config, run options) for one gallery figure."""
    from ntkviz.figures import get
    from ntkviz.figures.base import defaults
    from ntkviz.pipeline import RunOptions

    spec = get(job.name)
    config, style = defaults(spec, job.quick)
    main, more, still = _files(spec, job)
    options = RunOptions(
        output=main,
        style=style,
        fps=spec.fps,
        seed=job.seed,
        also=more,
        still=still,
        quick=job.quick,
        jobs=job.threads,
        check_layout=True,
        command=tuple(command_line(spec.name, main, more, still, job.quick, job.seed)),
    )
    return spec, config, options


def command_line(
    name: str, main: Path, more: Sequence[Path], still: Path | None, quick: bool, seed: int
) -> list[str]:
    """The ntkviz command that makes one gallery figure by hand."""
    words = ["ntkviz", name, "-o", str(main)]
    if still is not None:
        words += ["--still", str(still)]
    if quick:
        words.append("--quick")
    if seed:
        words += ["--seed", str(seed)]
    return words


def is_current(config: Any, options) -> bool:
    """True when the sidecar of every output says it was made exactly like this."""
    try:
        sidecar = sidecar_schema.read(sidecar_schema.path(options.output))
    except NtkvizError:
        return False
    if not sidecar_schema.is_current(sidecar, config, options):
        return False
    outputs = [options.output, *options.also] + ([options.still] if options.still else [])
    return all(_looks_right(p, sidecar) for p in outputs)


def _looks_right(path: Path, sidecar: dict[str, Any]) -> bool:
    """The file decodes (headers and every GIF block, without drawing) to its sidecar's size
    and, for animations, frame count: a corrupt or replaced picture is rebuilt."""
    from ntkviz.output.writers import probe

    try:
        fmt = path.suffix.lower()
        frames, width, height = probe(path, fmt)
    except Exception:  # noqa: BLE001 - anything unreadable is not current
        return False
    if fmt == ".png":
        return frames == 1
    if (width, height) != (sidecar.get("width"), sidecar.get("height")):
        return False
    wanted = sidecar.get("frames")
    if fmt in (".gif", ".html"):  # both merge held frames: at most one picture a frame
        return isinstance(wanted, int) and 1 <= frames <= wanted
    return frames == wanted


#: Why a figure is skipped, as the summary says it.
SKIPPED = "current: same config, seed, style and version; --force rebuilds"

#: Seconds each figure takes at the post's settings (simulate + render + write, one thread, from
#: `ntkviz gallery --force` on the 2-core machine, 2 workers): the order of a build with no
#: sidecars.
ESTIMATES = {
    "generalization": 23.1,
    "ntk-convergence": 20.3,
    "weight-matrix": 16.6,
    "ntk-ellipses": 7.3,
    "kernel-spectrum": 4.9,
    "linearized": 4.6,
    "posterior": 4.4,
    "init-functions": 3.7,
    "kernel-change": 3.0,
    "loss-surface": 2.0,
    "rich-lazy": 2.0,
    "toy-model": 1.7,
    "hessian-structure": 1.4,
    "kappa-scaling": 0.7,
}
#: A figure with neither a sidecar nor an estimate (a new one): assumed this long.
UNKNOWN_SECONDS = 5.0


def expected_seconds(name: str, out: Path) -> float:
    """How long ``name`` should take: its last build's seconds from a sidecar in ``out`` (any of
    its outputs), else :data:`ESTIMATES`, else :data:`UNKNOWN_SECONDS`."""
    for path in sorted(out.glob(f"{name}.*.json")):
        try:
            seconds = json.loads(path.read_text()).get("seconds", {})
            total = sum(float(seconds[k]) for k in ("simulate", "render", "write"))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        if math.isfinite(total) and total >= 0:
            return total
    return ESTIMATES.get(name, UNKNOWN_SECONDS)


def schedule(names: Sequence[str], out: Path) -> list[str]:
    """The figures longest first (ties in the given order), so that the long ones start at
    once and the short ones fill in around them: the gallery ends when its longest figure does,
    not when a long figure started last does."""
    expected = {name: expected_seconds(name, out) for name in names}
    return sorted(names, key=lambda name: -expected[name])


def build_one(job: Job) -> dict[str, Any]:
    """Build (or skip) one figure; return a summary row. Runs in a worker process."""
    from ntkviz.pipeline import run_figure
    from ntkviz.runtime.threads import set_budget

    set_budget(job.threads)
    spec, config, options = plan(job)
    start = time.perf_counter()
    reason = None
    if not job.force and is_current(config, options):
        report = json.loads((options.output.parent / (options.output.name + ".json")).read_text())
        status, reason = "skipped", SKIPPED
    else:
        report = run_figure(spec, config, options)
        status = "built"
    outputs = [options.output, *options.also] + ([options.still] if options.still else [])
    return {
        "figure": job.name,
        "status": status,
        "reason": reason,
        "frames": report["frames"],
        "size": f"{report['width']}x{report['height']}",
        "bytes": sum(p.stat().st_size for p in outputs),
        "seconds": round(time.perf_counter() - start, 1),
        "files": [p.name for p in outputs],
    }


def build(
    out: Path,
    names: Sequence[str],
    formats: Sequence[str],
    jobs: int,
    quick: bool = False,
    force: bool = False,
    seed: int = 0,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Build the figures ``names`` into ``out`` with ``jobs`` worker processes; rows in order."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"--format must be a list of {', '.join(FORMATS)} (got {', '.join(bad)})")
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs, len(names)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    tasks = [
        Job(name, out, tuple(formats), quick, seed, force, threads) for name in schedule(names, out)
    ]
    rows: dict[str, dict[str, Any]] = {}
    if jobs == 1:
        for task in tasks:
            rows[task.name] = _guarded(task)
            if on_done:
                on_done(rows[task.name])
    else:
        import multiprocessing

        from ntkviz.runtime.lifecycle import quiet_section

        pool = ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(os.getpid(),),
        )
        try:
            with quiet_section():  # workers start with signals held, until their handlers are set
                futures = {pool.submit(_pool_task, task): task.name for task in tasks}
            for future in as_completed(futures):
                rows[futures[future]] = future.result()
                if on_done:
                    on_done(rows[futures[future]])
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
    ordered = [rows[name] for name in names]
    write_index(out, ordered)
    return ordered


def _worker_start(parent: int) -> None:
    """In each gallery worker: die with the parent (SIGTERM, so it cleans up first), leave
    Ctrl-C to the parent (which stops us), and clean up on SIGTERM and SIGHUP."""
    import signal

    from ntkviz.runtime.lifecycle import STOP_SIGNALS, die_with_parent, install_stop_handlers

    die_with_parent(signal.SIGTERM)
    install_stop_handlers()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held by the parent as we started
    if os.getppid() != parent:
        os._exit(1)


def _pool_task(job: Job) -> dict[str, Any]:
    """A gallery figure in a worker; a stop signal ends the worker once its files are cleaned
    up (the transactions have aborted by the time it gets here)."""
    from ntkviz.runtime.lifecycle import interrupt_code

    try:
        return _guarded(job)
    except KeyboardInterrupt as exc:
        os._exit(interrupt_code(exc)[0])


def _stop_pool(pool: ProcessPoolExecutor, grace: float = 10.0) -> None:
    """Stop every worker now: SIGTERM (each cleans up its temporary files and exits), then
    SIGKILL for any still there after ``grace`` seconds; queued figures are dropped."""
    import signal

    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGTERM)
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1)


def _error_line(exc: BaseException) -> str:
    from ntkviz.errors import NtkvizError
    from ntkviz.runtime.lifecycle import describe_os_error

    if isinstance(exc, NtkvizError):
        text = str(exc)
    elif isinstance(exc, OSError):
        text = describe_os_error(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _guarded(job: Job) -> dict[str, Any]:
    try:
        return build_one(job)
    except Exception as exc:  # one failed figure must not hide the others
        return {
            "figure": job.name,
            "status": "failed",
            "error": _error_line(exc),
            "frames": 0,
            "size": "-",
            "bytes": 0,
            "seconds": 0.0,
            "files": [],
        }


# -- the index pages --------------------------------------------------------------------------------


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
        sidecar = json.loads((out / (row["files"][0] + ".json")).read_text())
        entries.append(
            {
                "name": row["figure"],
                "summary": figure["summary"],
                # computed from the figure's own Result when it was built
                "caption": sidecar.get("caption", ""),
                "reading": sidecar.get("reading", ""),
                "image": shown,
                "player": player,  # the figure's own player page, shown in index.html
                "width": sidecar.get("width"),
                "height": sidecar.get("height"),
                "files": row["files"],
                "command": " ".join(sidecar.get("command") or []),
            }
        )
    return entries


def write_index(out: Path, rows: Sequence[dict[str, Any]]) -> None:
    """gallery/README.md and a self-contained gallery/index.html for the figures built."""
    from ntkviz.output.writers import atomic_target

    entries = _entries(out, rows)
    md = [
        "# ntkviz gallery",
        "",
        f"The figures of the post {POST}, and the ones ntkviz adds beyond it, made by "
        f"`ntkviz gallery` (ntkviz {__version__}) at the post's settings. Each is "
        "reproduced by the command under it; `make gallery` rebuilds them all, "
        "`ntkviz gallery --quick` makes fast previews.",
        "",
    ]
    for e in entries:
        md += [f"## {e['name']}", "", f"![{e['name']}]({e['image']})", "", e["summary"], ""]
        if e["player"]:
            md += [f"[Player]({e['player']}): pause, step and scrub (open it in a browser)", ""]
        if e["reading"]:
            md += [f"*What you see:* {e['reading']}", ""]
        if e["caption"]:
            md += [e["caption"], ""]
        md += ["```", e["command"], "```", ""]
    with atomic_target(out / "README.md") as tmp:
        tmp.write_text("\n".join(md))

    cards = []
    for e in entries:
        cards.append(
            f'<section id="{html.escape(e["name"])}"><h2>{html.escape(e["name"])}</h2>'
            + _picture(out, e)
            + f"<p>{html.escape(e['summary'])}</p>"
            + (
                f"<p class=reading><b>What you see:</b> {html.escape(e['reading'])}</p>"
                if e["reading"]
                else ""
            )
            + (f"<p class=caption>{html.escape(e['caption'])}</p>" if e["caption"] else "")
            + f"<pre><code>{html.escape(e['command'])}</code></pre></section>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ntkviz gallery</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }}
img {{ max-width: 100%; height: auto; border: 1px solid #ddd; }}
pre {{ background: #f4f4f4; padding: .6em; overflow-x: auto; }}
.caption {{ color: #444; }}
nav a {{ margin-right: 1em; }}
iframe {{ width: 100%; border: 0; display: block; }}
.files {{ font-size: .9em; color: #555; }}
</style>
<script>
// each player page says how tall it is; its frame takes that height (no inner scroll bars)
window.addEventListener("message", function (e) {{
  var tall = e.data && e.data.ntkvizHeight;
  if (!tall) return;
  document.querySelectorAll("iframe").forEach(function (f) {{
    if (f.contentWindow === e.source) f.style.height = Math.ceil(tall) + "px";
  }});
}});
</script>
</head>
<body>
<h1>ntkviz gallery</h1>
<p>The figures of the post {html.escape(POST)}, and the ones ntkviz adds beyond it, made by
<code>ntkviz gallery</code> (ntkviz {html.escape(__version__)}) at the post's settings.
Each is reproduced by the command under it.</p>
<nav>{"".join(f'<a href="#{html.escape(e["name"])}">{html.escape(e["name"])}</a>' for e in entries)}</nav>
{"".join(cards)}
</body>
</html>
"""
    with atomic_target(out / "index.html") as tmp:
        tmp.write_text(page)


def _picture(out: Path, e: dict[str, Any]) -> str:
    """A figure's card picture: its player (an iframe on the figure's own page: the index stays
    small) where there is one, else its image."""
    alt = html.escape(e["summary"])
    if not e["player"]:
        return f'<img src="{html.escape(e["image"])}" alt="{alt}" loading="lazy">'
    src = html.escape(e["player"])
    size = (out / e["player"]).stat().st_size
    width, height = e.get("width") or 4, e.get("height") or 3
    links = [f'<a href="{src}">the player alone</a> ({size / 1e6:.1f} MB)']
    links += [
        f'<a href="{html.escape(f)}">{html.escape(f)}</a>' for f in e["files"] if f != e["player"]
    ]
    return (
        f'<iframe src="{src}#embed" title="{html.escape(e["name"])} player" loading="lazy" '
        f'style="aspect-ratio: {width} / {height + 60}"></iframe>'
        f'<p class="files">{" · ".join(links)}</p>'
    )


# -- checks CI runs ----------------------------------------------------------------------------------


def _frames(path: Path) -> Iterator[np.ndarray]:
    """The frames of an image or animation one at a time, (H, W, 3) uint8, decoded by
    imageio-ffmpeg or Pillow (one frame in memory at a time: a 1001-frame GIF is 1.7 GB whole)."""
    if path.suffix == ".html":  # the player's pictures, composited as the browser does
        from ntkviz.output.player import decode_frames, read_html

        yield from decode_frames(read_html(path))
        return
    if path.suffix == ".mp4":
        import imageio.v2 as iio2

        reader = iio2.get_reader(path, format="FFMPEG")
        try:
            yield from reader
        finally:
            reader.close()
        return
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            yield np.asarray(frame.convert("RGB"))


def _shape(path: Path) -> tuple[int, int, int]:
    """(frames, height, width), decoding every frame."""
    count, height, width = 0, 0, 0
    for frame in _frames(path):
        count += 1
        height, width = frame.shape[:2]
    return count, height, width


def _picture_problem(path: Path, frames: int, width: int, height: int) -> str | None:
    """Why ``path`` is not the picture its sidecar describes (None when it is): it does not
    decode, or its size or frame count differ. Decodes every frame."""
    try:
        count, got_height, got_width = _shape(path)
    except Exception as exc:  # noqa: BLE001 - any decoder error is the finding
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return f"{path.name}: does not decode ({reason})"
    if (got_width, got_height) != (width, height):
        return f"{path.name}: {got_width}x{got_height} px, sidecar says {width}x{height}"
    # GIF and the player merge identical consecutive frames: they may hold fewer than drawn
    merges = path.suffix in (".gif", ".html")
    if (not merges and count != frames) or (merges and not 1 <= count <= frames):
        return f"{path.name}: {count} frames, sidecar says {frames}"
    return None


IMAGE_SUFFIXES = (".gif", ".png", ".mp4", ".webp")


def validate(out: Path) -> list[str]:
    """Problems with a gallery folder, one line each, never an exception: sidecars that are not
    sidecars, files that are missing, do not decode or disagree with their sidecar, pictures no
    sidecar names, and layout problems (:mod:`ntkviz.drawing.layout`) found when a figure was built."""
    problems: list[str] = []
    try:
        sidecars = sorted(p for p in out.glob("*.json") if not p.name.startswith("."))
    except OSError as exc:
        return [f"{out}: cannot be read ({exc.strerror})"]
    if not sidecars:
        return [f"{out}: no sidecars, so no figures"]
    named: set[str] = set()
    for sidecar_file in sidecars:
        main = out / sidecar_file.name[: -len(".json")]
        try:
            sidecar = sidecar_schema.read(sidecar_file, sidecar_schema.PICTURE)
        except NtkvizError as exc:
            problems.append(str(exc))
            named.add(main.name)
            continue
        files = [main, *(out / Path(str(p)).name for p in sidecar.get("also") or [])]
        named.update(p.name for p in files)
        for path in files:
            if not path.is_file():
                problems.append(f"{path.name}: missing (its sidecar is there)")
                continue
            problem = _picture_problem(path, sidecar["frames"], sidecar["width"], sidecar["height"])
            if problem:
                problems.append(problem)
        for problem in sidecar.get("layout") or []:
            problems.append(f"{main.name}: layout: {problem}")
        if sidecar.get("still"):
            still = out / Path(sidecar["still"]).name
            named.add(still.name)
            if not still.is_file():
                problems.append(f"{still.name}: missing (the sidecar names it)")
            else:
                try:
                    from ntkviz.output.writers import probe

                    probe(still, ".png")
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"{still.name}: does not decode ({exc})")
    for path in sorted(out.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.name not in named:
            problems.append(f"{path.name}: a stray file (no sidecar names it)")
    return problems


def check_reference(reference: Path) -> None:
    """Refuse, before anything is built, a --check folder that cannot be compared with."""
    if not reference.exists():
        raise ConfigError(f"--check folder {reference} does not exist")
    if not reference.is_dir():
        raise ConfigError(f"--check {reference} is not a folder")
    try:
        next(iter(reference.iterdir()), None)
    except OSError as exc:
        raise ConfigError(f"--check folder {reference} cannot be read ({exc.strerror})") from None


def check_tolerance(tolerance: float) -> None:
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ConfigError(
            f"--tolerance must be a finite number >= 0, a mean pixel difference in 0-255 "
            f"(got {tolerance:g})"
        )


def compare(built: Path, reference: Path, tolerance: float = 2.0) -> list[str]:
    """Figures in ``built`` that differ from ``reference`` by more than ``tolerance`` (mean
    absolute difference per pixel channel, 0-255) or in shape/frame count; a file on either
    side that does not decode is a finding too, never an exception."""
    check_tolerance(tolerance)
    changed = []
    try:
        paths = sorted(reference.iterdir())
    except OSError as exc:
        return [f"{reference}: cannot be read ({exc.strerror})"]
    for path in paths:
        if path.suffix not in IMAGE_SUFFIXES or path.name.startswith("."):
            continue
        other = built / path.name
        if not other.exists():
            changed.append(f"{path.name}: not rebuilt")
            continue
        total, count, shapes = 0.0, 0, set()
        missing = object()
        try:
            for a, b in itertools.zip_longest(_frames(path), _frames(other), fillvalue=missing):
                if a is missing or b is missing or a.shape != b.shape:
                    shapes.add("frame count or size")
                    break
                total += float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
                count += 1
        except Exception as exc:  # noqa: BLE001 - a corrupt file on either side is a finding
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            changed.append(f"{path.name}: cannot be compared, a file does not decode ({reason})")
            continue
        if shapes:
            changed.append(f"{path.name}: {', '.join(shapes)} differ from the committed file")
            continue
        diff = total / max(count, 1)
        if diff > tolerance:
            changed.append(f"{path.name}: mean pixel difference {diff:.2f} > {tolerance}")
    return changed
