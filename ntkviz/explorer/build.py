"""Computing an explore page: every variant through the usual steps (simulate, check, render,
encode as the GIF's blocks) in the gallery's worker pool, with results cached by their config.

Two passes over the variants, both in :func:`ntkviz.runtime.pool.run_tasks`:

1. :func:`prepare`: the Results, from the cache or simulated (then cached) -- variants whose
   figure trains the varied option's values as one ensemble (``--vary alphas=...`` of
   ntk-ellipses) are simulated together, in about one group per worker (:func:`groups`) -- and
   each renderer's axis limits (:mod:`ntkviz.explorer.limits`) and a sample of its colours;
2. :func:`encode`: each variant's frames drawn once, with the limits united over all variants
   and one palette for all, encoded as the player's data (cached too, by the Result, the
   limits and the style).

So a rerun with one more value simulates that value alone. The cache is a folder of files named
by a hash of what made them; a file is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntkviz.errors import ConfigError, NtkvizError
from ntkviz.explorer import limits as shared_limits
from ntkviz.version import __version__

#: Bytes a pixel of a frame takes in a player page, at most about (the gallery's pages take
#: 0.007 to 0.06; GIF blocks, lossless key pictures and base64 together).
PAGE_BYTES_PER_PIXEL = 0.03
#: Memory one worker takes besides its canvases (its share of the figure and the encoder).
WORKER_BYTES = 150 << 20


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/ntkviz/explore`` (``~/.cache/ntkviz/explore``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ntkviz" / "explore"


@dataclass(frozen=True)
class Task:
    """One variant: its figure, config and run options, where the cache is, and (second pass)
    the shared limits."""

    figure: str
    config: Any
    options: Any  # ntkviz.pipeline.RunOptions
    cache: Path
    threads: int = 1
    limits: Any = None
    palette: Any = None  # (K, 3) uint8: the variants' one palette


def _hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def result_key(task: Task) -> str:
    """What a Result depends on: the figure, its config, the seed, the device, the version, and
    whether the numerical code paths were pinned (a pinned gallery never takes an unpinned run's
    Result: other bits)."""
    from ntkviz.config import to_jsonable
    from ntkviz.runtime.pins import pinned_environment

    options, pinned = task.options, pinned_environment()
    return _hash(
        task.figure, to_jsonable(task.config), options.seed, options.device, __version__, pinned
    )


def _store(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _simulate(spec: Any, configs: list[Any], options: Any) -> list[Any]:
    """One simulation, as :func:`ntkviz.pipeline.run_figure` runs it, of every config in
    ``configs``: one config alone, or several whose runs train as one ensemble
    (:func:`ntkviz.figures.base.simulate_together`). Tests count these calls."""
    import torch

    from ntkviz.figures.base import simulate_together
    from ntkviz.pipeline import check_finite, out_of_memory
    from ntkviz.runtime.progress import Progress

    generator = torch.Generator().manual_seed(options.seed)
    try:
        if len(configs) == 1:
            results = [spec.simulate(configs[0], generator, Progress(), options.device)]
        else:
            results = simulate_together(spec, configs, generator, Progress(), options.device)
    except MemoryError as exc:
        raise out_of_memory(options.device) from exc
    for config, result in zip(configs, results, strict=True):
        check_finite(spec, config, result, options.quick)
    return results


def together_key(task: Task) -> Any:
    """Tasks with equal keys are simulated as one (their figure trains the varied option's
    values as one ensemble: :class:`ntkviz.figures.base.Runs`); None: alone."""
    import dataclasses as dc

    from ntkviz.config import to_jsonable
    from ntkviz.figures import get

    runs = get(task.figure).runs
    if runs is None:
        return None
    bare = dc.replace(task.config, **{runs.option: ()})
    return _hash(task.figure, to_jsonable(bare), task.options.seed, task.options.device)


def groups(tasks: list[Task], workers: int) -> list[list[int]]:
    """The tasks' indices in the groups the first pass takes: variants not in the cache that
    can train together, split into about ``workers`` groups of neighbouring values (so each
    worker trains one ensemble); every other variant alone."""
    alone: list[list[int]] = []
    together: dict[Any, list[int]] = {}
    for index, task in enumerate(tasks):
        key = None if result_path(task).is_file() else together_key(task)
        if key is None:
            alone.append([index])
        else:
            together.setdefault(key, []).append(index)
    out = []
    parts = max(1, workers // max(1, len(together)))
    for members in together.values():
        count = min(parts, len(members))
        size, extra = divmod(len(members), count)
        start = 0
        for n in range(count):
            stop = start + size + (n < extra)
            out.append(members[start:stop])
            start = stop
    return out + alone


def result_path(task: Task) -> Path:
    return task.cache / f"{task.figure}-{result_key(task)}.result.pkl"


def page_path(task: Task) -> Path:
    """Where the variant's player data is cached: by its Result, the limits and the style."""
    options = task.options
    key = _hash(
        result_key(task),
        task.limits,
        repr(options.style),
        options.fps,
        options.hold,
        options.dither,
        __version__,
    )
    return task.cache / f"{task.figure}-{key}.page.json"


def result_of(task: Task) -> tuple[Any, bool]:
    """(the variant's Result, whether it was simulated now rather than read from the cache)."""
    return results_of([task])[0]


def _cached(task: Task) -> Any | None:
    path = result_path(task)
    if path.is_file():
        try:
            return pickle.loads(path.read_bytes())
        except Exception:  # noqa: BLE001 - a damaged cache file: compute again
            pass
    return None


def results_of(tasks: list[Task]) -> list[tuple[Any, bool]]:
    """Each task's (Result, simulated now): from the cache, else simulated (those that can train
    together in one simulation: :func:`together_key`) and cached."""
    from ntkviz.figures import get

    out: list[tuple[Any, bool] | None] = [None] * len(tasks)
    missing: dict[Any, list[int]] = {}
    for index, task in enumerate(tasks):
        result = _cached(task)
        if result is not None:
            out[index] = (result, False)
        else:
            key = together_key(task)
            missing.setdefault(index if key is None else key, []).append(index)
    for indices in missing.values():
        first = tasks[indices[0]]
        configs = [tasks[i].config for i in indices]
        for index, result in zip(
            indices, _simulate(get(first.figure), configs, first.options), strict=True
        ):
            task = tasks[index]
            try:
                _store(result_path(task), pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
            except OSError as exc:
                raise NtkvizError(
                    f"cannot write the explore cache {task.cache}: {exc.strerror or exc}"
                ) from exc
            out[index] = (result, True)
    return out  # type: ignore[return-value]


def _renderer(task: Task, result: Any):
    from ntkviz.figures import get
    from ntkviz.pipeline import hold_frames

    spec = get(task.figure)
    renderer = spec.renderer(result, task.config, task.options.style)
    if spec.animated:
        renderer.hold(hold_frames(task.options.hold, task.options.fps))
    return spec, renderer


def measure(task: Task) -> dict[str, Any]:
    """A variant's Result (cached) and its renderer's limits and colours: :func:`prepare`."""
    return prepare([task])[0]


def prepare(tasks: list[Task]) -> list[dict[str, Any]]:
    """First pass, in a worker: the variants' Results (from the cache, else simulated, together
    where they can be, and cached), and each one's renderer's limits and a sample of its colours
    (its background and :data:`PALETTE_FRAMES` frames drawn: the rest is drawn once, in
    :func:`encode`, with the limits and palette shared by every variant)."""
    from ntkviz.runtime.threads import set_budget

    set_budget(tasks[0].threads)
    start = time.perf_counter()
    rows = []
    for task, (result, computed) in zip(tasks, results_of(tasks), strict=True):
        _, renderer = _renderer(task, result)
        rows.append(
            {
                "computed": computed,
                "limits": shared_limits.read(renderer),
                "colours": colours(renderer),
                "seconds": time.perf_counter() - start,
            }
        )
    return rows


#: Frames of each variant whose colours make the variants' one palette, and the share of their
#: pixels taken.
PALETTE_FRAMES, PALETTE_STEP = 4, 29


def colours(renderer: Any) -> Any:
    """A sample of the colours a variant draws (packed codes), for the variants' one palette."""
    import numpy as np

    from ntkviz.output.frames import sample_indices
    from ntkviz.output.palette import pack_colors

    with renderer.drawing():
        picks = sample_indices(len(renderer), PALETTE_FRAMES)
        return np.concatenate([pack_colors(renderer.frame(i))[::PALETTE_STEP] for i in picks])


def shared_palette(samples: list[Any]) -> Any:
    """One palette for every variant (from their colour samples): a picture that two variants
    draw alike is then the same bytes, stored once on the page."""
    import numpy as np

    from ntkviz.output.gif import TRANSPARENT
    from ntkviz.output.palette import global_palette, unpack_colors

    codes = np.concatenate(samples)
    return global_palette(unpack_colors(codes).reshape(1, -1, 1, 3), colors=TRANSPARENT)


def encode(task: Task) -> dict[str, Any]:
    """Second pass, in a worker: the variant's frames with the shared limits, as the player's
    data, and its caption, reading and facts (cached by all that makes them)."""
    from ntkviz.runtime.threads import set_budget

    set_budget(task.threads)
    options = task.options
    path = page_path(task)
    if path.is_file():
        try:
            return {**json.loads(path.read_text(encoding="utf-8")), "encoded": False}
        except (OSError, ValueError):
            pass
    from ntkviz.figures.base import caption
    from ntkviz.output.gif import encode_gif_frames
    from ntkviz.output.player import player_data

    spec, result, info, source = variant_source(task)
    with source.info["renderer"].drawing():
        encoded = encode_gif_frames(source, options.dither, lambda n=1: None, 1, task.palette)
    text = caption(spec, result, task.config)
    made = {
        "data": player_data(encoded, options.fps, info["labels"]),
        "caption": text["caption"],
        "reading": text["reading"],
        "facts": text["facts"],
    }
    try:
        _store(path, json.dumps(made, separators=(",", ":")).encode("utf-8"))
    except OSError:
        pass  # the page is made all the same; only the next run does this again
    return {**made, "encoded": True}


def variant_source(task: Task):
    """(spec, Result, frame info, FrameSource): the variant's frames as its page shows them,
    drawn with ``task.limits`` (the same frames a .gif of them holds: tests write one)."""
    from ntkviz.output.frames import FrameSource
    from ntkviz.pipeline import frame_info

    result, _ = result_of(task)
    spec, renderer = _renderer(task, result)
    shared_limits.apply(renderer, task.limits)
    info = frame_info(spec, result, task.config, renderer)
    source = FrameSource(
        len(renderer), renderer.frame, renderer.key_frame, {"renderer": renderer}, keys=True
    )
    return spec, result, info, source


def stamp(tasks: list[Task]) -> str:
    """What makes a page: every variant's Result key and how it is drawn (a page whose stamp is
    this one is current: the gallery skips it)."""
    options = tasks[0].options
    drawn = (repr(options.style), options.fps, options.hold, options.dither)
    return _hash([result_key(t) for t in tasks], drawn, __version__)


# -- before anything is computed -----------------------------------------------------------------


def frames_of(config: Any, options: Any) -> int:
    """The output frames a variant will have, from its config (its frame count where it says;
    else 100), the step-0 frame and the end hold."""
    from ntkviz.pipeline import hold_frames

    count = getattr(config, "frame_count", None) or getattr(config, "frames", None) or 100
    return int(count) + 1 + hold_frames(options.hold, options.fps)


def estimate(tasks: list[Task], workers: int) -> tuple[int, int]:
    """(page bytes, memory bytes) the variants will take, about; from their sizes alone."""
    page = 0
    biggest = 0
    for task in tasks:
        width, height = task.options.style.size
        dpi = task.options.style.dpi
        pixels = (width * dpi) * (height * dpi)
        biggest = max(biggest, pixels)
        page += frames_of(task.config, task.options) * pixels * PAGE_BYTES_PER_PIXEL
    # the page three times over (its data, the JSON, the text) and each worker's canvases
    memory = 3 * page + max(1, workers) * (WORKER_BYTES + 16 * biggest)
    return int(page), int(memory)


def preflight(tasks: list[Task], workers: int, target: Any) -> tuple[int, int]:
    """Refuse, in one line, a page over the player's limit or more memory than is free."""
    from ntkviz.output.explorer import MAX_BYTES
    from ntkviz.runtime.memory import check_memory

    page, memory = estimate(tasks, workers)
    if page > MAX_BYTES:
        first = tasks[0]
        width, height = first.options.style.size
        dpi = first.options.style.dpi
        raise ConfigError(
            f"the explore page {target} would be about {page / 2**20:.0f} MB ({len(tasks)} "
            f"variants of about {frames_of(first.config, first.options)} frames at "
            f"{width * dpi:.0f}x{height * dpi:.0f}), over the {MAX_BYTES / 2**20:.0f} MB limit: "
            "vary fewer values, or use --quick, a smaller --size or --dpi"
        )
    check_memory(memory, "the explore's variants", "vary fewer values, or use --quick or --jobs 1")
    return page, memory


def compute(
    tasks: list[Task],
    workers: int,
    on_done: Callable[[str, int, dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], Any]:
    """Both passes over ``tasks`` in up to ``workers`` processes: (each variant's encoding, the
    shared limits). ``on_done(pass, index, row)`` as each variant finishes a pass."""
    from ntkviz.runtime.pool import run_tasks

    def done(stage: str):
        return (lambda index, row: on_done(stage, index, row)) if on_done else None

    # the first pass: the variants in groups (those trained together in one); a pass whose
    # every variant is in the cache runs here, with no worker to start
    parts = groups(tasks, workers)
    cached = all(result_path(t).is_file() for t in tasks)
    measured: list[dict[str, Any]] = [{}] * len(tasks)

    def prepared(index: int, rows: list[dict[str, Any]]) -> None:
        for n, row in zip(parts[index], rows, strict=True):
            measured[n] = row
            if on_done:
                on_done("simulate", n, row)

    run_tasks(prepare, [[tasks[n] for n in part] for part in parts], 1 if cached else workers,
              prepared)  # fmt: skip
    union = shared_limits.union([m["limits"] for m in measured])
    palette = shared_palette([m.pop("colours") for m in measured])
    second = [dataclasses.replace(t, limits=union, palette=palette) for t in tasks]
    cached = all(page_path(t).is_file() for t in second)
    encoded = run_tasks(encode, second, 1 if cached else workers, done("render"))
    for row, m in zip(encoded, measured, strict=True):
        row["computed"] = m["computed"]
    return encoded, union
