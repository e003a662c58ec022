"""Config -> simulate -> Result -> render -> frames -> writer -> file (+ sidecar).

:func:`run_figure` is the one way through for every figure; the CLI and the gallery call it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ntkviz import sidecar
from ntkviz.config import option_name
from ntkviz.drawing.canvas import Style
from ntkviz.drawing.style import preset
from ntkviz.errors import ConfigError, NtkvizError, quoted
from ntkviz.figures import FIGURES
from ntkviz.figures import data as own_data
from ntkviz.figures.base import FigureSpec, caption, defaults, quick_changes, result_arrays
from ntkviz.options import FIGURE, SHARED, parse_size
from ntkviz.options import get as shared_option
from ntkviz.output import formats
from ntkviz.output.formats import Frames
from ntkviz.output.frames import FrameSource
from ntkviz.output.transaction import FRAME_RE, check_writable, transaction
from ntkviz.runtime import pins
from ntkviz.runtime.devices import device_refusal, resolve_device
from ntkviz.runtime.parallel import resolve_jobs
from ntkviz.runtime.progress import Progress

#: The run options that are the Style's (the rest are RunOptions' fields, or its ``extra``).
STYLE_OPTIONS = ("size", "dpi", "theme", "style", "font_size", "title", "legend")


@dataclass(frozen=True)
class RunOptions:
    """Everything about a run that is not the figure's own config; the shared options' fields
    (their meaning and defaults: :mod:`ntkviz.options`) and the run's own."""

    output: Path
    style: Style
    fps: float
    seed: int = shared_option("seed").default
    device: str = shared_option("device").default
    data: Path | None = None
    still: Path | None = None
    frames_dir: Path | None = None
    also: tuple[
        Path, ...
    ] = ()  # more animation files from the same run (e.g. an .mp4 beside a .gif)
    dither: bool = shared_option("dither").default
    replace_frames: bool = shared_option("replace_frames").default
    jobs: int = shared_option("jobs").default
    quick: bool = shared_option("quick").default
    hold: float = shared_option("hold").default
    check_layout: bool = (
        False  # run ntkviz.drawing.layout on the frames and record problems (gallery)
    )
    sidecar: bool = True
    command: tuple[str, ...] | None = None  # the argv that made it, for the sidecar
    inputs: tuple[Path, ...] = ()  # files the run reads (--config): no output may replace one
    #: shared options (ntkviz.options) that are no field here, name -> value
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, values: Mapping[str, Any], **fields: Any) -> RunOptions:
        """RunOptions from shared option values (``extra`` takes those that are no field)."""
        own = {f.name for f in dataclasses.fields(cls)}
        fields.update({k: v for k, v in values.items() if k in own})
        extra = {k: v for k, v in values.items() if k not in own}
        return cls(**fields, extra=extra)


sidecar_path = sidecar.path
versions = sidecar.versions


def plan(
    spec: FigureSpec, values: Mapping[str, Any], command: tuple[str, ...] | None = None
) -> tuple[Any, RunOptions]:
    """(config, RunOptions) from the values of a figure's options (its own and the shared ones
    of :data:`ntkviz.options.SHARED` that are keywords of the API; None: the default)."""
    values = dict(values)
    shared = {}
    for option in SHARED:
        value = values.pop(option.name, None)
        if option.where == "cli":
            continue
        if value is None and not option.optional:
            value = option.default
        option.validate(value)
        shared[option.name] = value
    base, style = defaults(spec, bool(shared["quick"]))
    if shared.get("train_data") is not None:  # --train-data: the file's points, read once
        shared["train_data"] = own_data.read(shared["train_data"])
        data = shared["train_data"]
        values.update(own_data.values(spec.config_cls, data, spec.name, values, FIGURES))
    config = own_data.build(spec.config_cls, values, base, shared.get("train_data"))
    style = preset(
        style,
        shared["style"] or "web",
        size=parse_size(shared["size"]) if shared["size"] is not None else None,
        dpi=shared["dpi"],
        font_size=shared["font_size"],
        theme=shared["theme"],
        title=shared["title"],
        legend=shared["legend"],
        dpi_factor=style.dpi / spec.style.dpi,  # --quick's share of the pixels
    )
    for option in SHARED:  # the figure's own: its fps, its file name
        if option.default is FIGURE and option.name not in STYLE_OPTIONS:
            if shared.get(option.name) is None:
                shared[option.name] = option.own(spec, style)
    shared["output"] = Path(shared["output"])
    run = {k: v for k, v in shared.items() if k not in STYLE_OPTIONS}
    return config, RunOptions.of(run, style=style, command=command)


def preflight(options: RunOptions) -> None:
    """Refuse bad output options before any computing, so nothing is wasted or written."""
    formats.lookup(options.output).check(options.fps)
    width, height = options.style.size
    for name, value in (("--size", width), ("--size", height), ("--dpi", options.style.dpi)):
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number (got {value:g})")
    options.style.check()
    for option in SHARED:  # the shared options' own checks (--hold, --jobs, ...)
        if option.name in ("hold", "jobs"):
            option.validate(getattr(options, option.name))
        elif option.name in options.extra:
            option.validate(options.extra[option.name])
    check_writable(options.output, "output")
    if options.sidecar:
        check_writable(sidecar_path(options.output), "the sidecar")
        check_sidecar_target(sidecar_path(options.output), options.inputs)
    if options.still is not None:
        formats.lookup(options.still, "still")
        check_writable(options.still, "--still")
    if options.data is not None:
        formats.lookup(options.data, "data")
        check_writable(options.data, "--data")
    if options.frames_dir is not None:
        formats.FRAMES_FOLDER.check_folder(options.frames_dir, options.replace_frames)
    _check_distinct(options)
    for extra in options.also:
        formats.lookup(extra).check(options.fps)
        check_writable(extra, "output")
    resolve_device(options.device)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_sidecar_target(target: Path, inputs: tuple[Path, ...] = ()) -> None:
    """The sidecar is an output like any other, probed before computing: it replaces only an
    ntkviz sidecar (its schema says so), never a file the run reads (--config), never a link."""
    for read in inputs:
        if _same_file(read, target):
            raise ConfigError(
                f"--config {read} is where the sidecar of this output goes, and would be "
                "replaced: rename the config file or choose another -o"
            )
    if os.path.islink(target):
        raise ConfigError(
            f"the sidecar {target} is a symbolic link: ntkviz does not replace a link; remove "
            "it or choose another -o"
        )
    if os.path.lexists(target) and not sidecar.is_sidecar(target):
        raise ConfigError(
            f"{target} is where the sidecar goes, but it is no ntkviz sidecar: ntkviz does not "
            "replace it; move it or choose another -o"
        )


def _check_distinct(options: RunOptions) -> None:
    """No two outputs may be the same path (e.g. --frames-dir naming the output file)."""
    named = [("--output", options.output), ("its sidecar", sidecar_path(options.output))]
    named += [("--still", options.still), ("--data", options.data)]
    named += [("--frames-dir", options.frames_dir)] + [("output", p) for p in options.also]
    seen: dict[Path, str] = {}
    for what, path in named:
        if path is None:
            continue
        key = Path(os.path.abspath(path))
        if key in seen:
            raise ConfigError(
                f"{what} {quoted(path)} is the same path as {seen[key]}: give each its own"
            )
        seen[key] = what
    if options.frames_dir is not None:  # a frame's name inside --frames-dir is the frames' own
        folder = Path(os.path.abspath(options.frames_dir))
        for key, what in seen.items():
            if key.parent == folder and FRAME_RE.match(key.name):
                raise ConfigError(
                    f"{what} {quoted(key.name)} is a frame's name inside --frames-dir "
                    f"{quoted(options.frames_dir)}: give it its own path"
                )


def is_allocation_failure(exc: BaseException) -> bool:
    """A failed allocation: MemoryError, or a RuntimeError that is one (torch's out of memory,
    a C++ std::bad_alloc passed through)."""
    text = str(exc)
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError)
        and any(w in text for w in ("can't allocate memory", "out of memory", "bad_alloc"))
    )


def out_of_memory(device: str) -> ConfigError:
    """What an allocation failure says: the same refusal as the memory estimate's."""
    return ConfigError(
        f"the figure needs more memory than is free on {device}: use a smaller --width, "
        "fewer nets, --frames or --steps, or a smaller --size"
    )


def _suspects(spec: FigureSpec, config: Any, quick: bool) -> list[str]:
    """The options set away from their defaults, the furthest (by orders of magnitude) first."""
    base = defaults(spec, quick)[0]
    scored = []
    for field in dataclasses.fields(config):
        value, default = getattr(config, field.name), getattr(base, field.name)
        if value == default:
            continue
        try:
            ratio = abs(
                math.log10(abs(float(value)) + 1e-300) - math.log10(abs(float(default)) + 1e-300)
            )
        except (TypeError, ValueError, OverflowError):
            ratio = 0.0
        scored.append((-ratio, "--" + field.name.replace("_", "-"), value))
    return [f"{name} ({value})" for _, name, value in sorted(scored, key=lambda t: t[0])]


def check_finite(spec: FigureSpec, config: Any, result: Any, quick: bool = False) -> None:
    """Refuse a simulation whose numbers overflowed (an infinity in any result array, or a
    per-frame array that is NaN throughout) before anything is drawn, naming the option most
    likely at fault."""
    if not dataclasses.is_dataclass(result):
        return
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc" or value.size == 0:
            continue
        # Infinity never belongs in a result. NaN does, as the figures' own marker of "does not
        # apply" (a slope through one width, the closed form for --of loss) and of gaps in a
        # curve; but curves (2-D or more, along a grid or frames of 16 or more) that are NaN
        # throughout are a blank figure.
        curves = value.ndim >= 2 and max(value.shape) >= 16
        if np.isinf(value).any() or (curves and np.isnan(value).all()):
            raise overflowed(spec, config, quick, f"non-finite numbers (in {field.name})")


def overflowed(spec: FigureSpec, config: Any, quick: bool, detail: str) -> NtkvizError:
    """The refusal of a simulation whose numbers overflowed, are not finite, or whose solver
    failed; it names the options set furthest from their defaults."""
    suspects = _suspects(spec, config, quick)
    hint = (
        f"the most likely cause is {suspects[0]}: try a value closer to its default"
        + (f" (also changed: {', '.join(suspects[1:3])})" if len(suspects) > 1 else "")
        if suspects
        else "at the defaults this is a bug, please report it"
    )
    return NtkvizError(f"{spec.name}: the simulation gave {detail}; {hint}")


def hold_frames(seconds: float, fps: float) -> int:
    """How many extra frames keep the last one up for ``seconds`` at ``fps``."""
    return int(round(seconds * fps))


# -- what the player shows beside the frames ----------------------------------------------------------


def frame_labels(result: Any, renderer: Any) -> list[str] | None:
    """The training step each output frame shows, as ``"step N"``, where the figure's Result has
    ``steps`` for its snapshots (one per frame, or one more: the initial state before frame 0).
    None for figures whose frames are not training steps."""
    steps = getattr(result, "steps", None)
    if steps is None:
        return None
    steps = np.asarray(steps)
    if steps.ndim == 2 and (steps == steps[:, :1]).all():  # every run on one clock (ntk-ellipses)
        steps = steps[:, 0]
    count = renderer.count
    if steps.ndim != 1 or len(steps) not in (count, count + 1):
        return None
    shift = len(steps) - count
    return [f"step {int(steps[index + shift])}" for index in renderer.order]


def changed_options(spec: FigureSpec, config: Any) -> list[str]:
    """The figure's options whose values differ from the post's, as CLI words (from the config
    alone, so that the file does not depend on how the command line was spelled)."""

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


def frame_info(
    spec: FigureSpec,
    result: Any,
    config: Any,
    renderer: Any,
    quick: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a player shows beside the frames: the figure's name, its options that differ from the
    post's (else its one-line summary, which describes the post's figure), caption, step labels.
    ``quick``: what --quick changed (:func:`ntkviz.figures.base.quick_changes`)."""
    text = caption(spec, result, config, quick)
    return {
        "title": spec.name,
        "summary": spec.summary,
        "options": " ".join(changed_options(spec, config)),
        "caption": text["caption"],
        "labels": frame_labels(result, renderer),
    }


class _TimedFrames:
    """Wraps a renderer so that the time spent drawing is measured apart from encoding."""

    def __init__(self, renderer) -> None:
        self.renderer = renderer
        self.seconds = 0.0
        self.drawn = 0

    def __call__(self, i: int):
        start = time.perf_counter()
        frame = self.renderer.frame(i)
        self.seconds += time.perf_counter() - start
        self.drawn += 1
        return frame


def run_figure(
    spec: FigureSpec,
    config: Any,
    options: RunOptions,
    progress: Progress | None = None,
    simulated: tuple[Any, float] | None = None,
) -> dict[str, Any]:
    """Simulate, render and write one figure; return the sidecar's content.

    Nothing is written unless every step succeeds: all outputs appear together at the end.
    ``simulated``: (Result, seconds) of an earlier ``spec.simulate`` with this config and seed
    (:mod:`ntkviz.api`), used instead of simulating again.
    """
    progress = progress or Progress()
    preflight(options)
    reproducible = bool(options.extra.get("reproducible"))
    if reproducible:
        pins.apply()  # torch is loaded: refused unless the pins were set before it loaded
    generator = torch.Generator().manual_seed(options.seed)
    timing: dict[str, float] = {}

    start = time.perf_counter()
    try:
        if simulated is None:
            with pins.threads() if reproducible else contextlib.nullcontext():
                result = spec.simulate(config, generator, progress, options.device)
            timing["simulate"] = time.perf_counter() - start
        else:
            result, timing["simulate"] = simulated
    except (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError)) as exc:
        raise out_of_memory(options.device) from exc
    except (OverflowError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise overflowed(spec, config, options.quick, f"an overflow ({exc})") from exc
    except TypeError as exc:
        refusal = device_refusal(exc, options.device, spec.name)
        if refusal is None:
            raise
        raise refusal from exc
    except RuntimeError as exc:
        if isinstance(exc, getattr(torch.linalg, "LinAlgError", ())):
            raise overflowed(spec, config, options.quick, "a failed solver") from exc
        if not is_allocation_failure(exc):
            raise
        raise out_of_memory(options.device) from exc
    check_finite(spec, config, result, options.quick)

    # what --quick changed from the figure's defaults: the sidecar records it, the caption says it
    quick = quick_changes(spec, config, options.style.dpi) if options.quick else None
    start = time.perf_counter()
    renderer = spec.renderer(result, config, options.style)
    # the style the frames have: a paper figure's height follows its re-flowed panels
    options = dataclasses.replace(options, style=renderer.style)
    if spec.animated:
        renderer.hold(hold_frames(options.hold, options.fps))
    frames = _TimedFrames(renderer)
    frames.seconds = time.perf_counter() - start  # building the figure counts as rendering
    source = FrameSource(
        count=len(renderer),
        frame=frames,
        key_frame=renderer.key_frame,
        info=frame_info(spec, result, config, renderer, quick),  # for the .html player
        keys=any(formats.lookup(t).keys for t in (options.output, *options.also)),
    )
    # Every output is staged and renamed into place together at the end: an error or Ctrl-C
    # anywhere leaves all existing files (the sidecar included) as they were.
    jobs = resolve_jobs(options.jobs)
    run = Frames(source, options.fps, renderer, options.dither, progress, jobs)
    with transaction() as tx, renderer.drawing():
        written = [
            formats.lookup(target).write(target, run, tx=tx)
            for target in (options.output, *options.also)
        ][0]
        if options.still is not None:
            formats.lookup(options.still, "still").write_still(options.still, run, tx=tx)
        if options.frames_dir is not None:
            # every distinct frame once: the held end is a playback matter
            distinct = dataclasses.replace(source, count=len(renderer) - renderer.held)
            formats.FRAMES_FOLDER.write_folder(
                options.frames_dir,
                distinct,
                progress,
                tx=tx,
                jobs=jobs,
                replace=options.replace_frames,
            )
        elapsed = time.perf_counter() - start
        timing["render"] = frames.seconds
        timing["write"] = max(elapsed - frames.seconds, 0.0)
        layout = None
        key_check = options.extra.get("layout_check", shared_option("layout_check").default)
        if options.check_layout or key_check:
            from ntkviz.drawing.layout import layout_problems

            # the gallery's check: first, middle, last and key frame; a run's: its key frame
            frames = None if options.check_layout else [renderer.key_frame]
            layout = layout_problems(renderer, frames)
        report = sidecar.make(
            spec,
            config,
            options,
            written,
            caption(spec, result, config, quick),
            timing,
            jobs,
            layout,
            held=renderer.held if written["frames"] == len(renderer) else 0,  # not in a still
            quick=quick,
        )
        if options.data is not None:
            formats.lookup(options.data, "data").write_data(
                options.data,
                result_arrays(result),
                {"figure": spec.name, "config": report["config"], "seed": options.seed},
                tx=tx,
            )
        if options.sidecar:
            target = sidecar.path(options.output)
            formats.lookup(target, "sidecar").write_data(target, report, tx=tx)
    return report
