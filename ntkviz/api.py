"""ntkviz from Python and Jupyter: the CLI's commands as functions, one to one.

>>> import ntkviz
>>> ntkviz.list_figures()                              # like `ntkviz list`
>>> anim = ntkviz.render("ntk-ellipses", quick=True, alphas=(0.1, 1, 10))
>>> anim                                               # last line of a cell: the player, inline
>>> anim.save("ellipses.gif")                          # like `ntkviz ntk-ellipses ... -o ...`
>>> anim.result.kernels.shape, anim.frame(0).shape     # the numbers, and frames on demand

Every CLI option is a keyword: ``--alpha-max 100`` is ``alpha_max=100``, a list option takes a
tuple or list (or the CLI's "1,2,3" string), ``--size 6x4`` is ``size="6x4"`` or ``(6, 4)``. The
shared options (:mod:`ntkviz.options`) are ``render``'s keywords (seed, fps, size, ...) or
``save``'s (still, data, dither, jobs, ...), with the CLI's defaults.
Options are checked by the same code as the CLI's, before anything is computed; a bad one raises
:class:`ntkviz.errors.ConfigError` with the CLI's message. ``render(...).save(path)`` writes
through the same pipeline as the CLI (same atomic writer, same sidecar), and the file is
byte-identical to the CLI's with the same options. Nothing is printed unless ``progress=True``.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ntkviz.config import typed
from ntkviz.errors import ArgumentError, ConfigError, FrameIndexError
from ntkviz.options import SHARED, get, names
from ntkviz.runtime.progress import notebook_progress

#: An animation larger than this is shown inline as its still, with a note (saving still works).
MAX_INLINE_BYTES = 32 * 1024 * 1024


def list_figures() -> dict[str, str]:
    """The figures, name -> one line from the post (``ntkviz list``)."""
    from ntkviz.figures import FIGURES

    return {name: spec.summary for name, spec in FIGURES.items()}


def options(name: str) -> dict[str, Any]:
    """A figure's own options, keyword -> the post's default (``ntkviz <name> --help``)."""
    spec = _spec(name)
    base = spec.config_cls()
    return {
        f.name: getattr(base, f.name)
        for f in dataclasses.fields(spec.config_cls)
        if f.metadata.get("cli", True)
    }


def configure(name: str, quick: bool = False, **options: Any) -> Any:
    """The figure's validated Config: the post's settings (or the ``--quick`` preset) with
    ``options`` applied, checked exactly as the CLI checks them."""
    from ntkviz import config as cfg
    from ntkviz.figures.base import defaults

    spec = _spec(name)
    base, _ = defaults(spec, typed("quick", quick, bool))
    return cfg.build(spec.config_cls, _figure_values(spec, options), base=base)


def render(
    name: str,
    quick: bool = get("quick").default,
    seed: int = get("seed").default,
    *,
    progress: bool = False,
    **options: Any,
) -> Animation:
    """Simulate a figure, as ``ntkviz <name> [options]`` does, and return an :class:`Animation`
    holding the Result, the config and frames on demand (nothing is written until ``save``).

    ``options`` are the figure's own (``ntkviz.options(name)``) and the CLI's shared options of a
    run (``size``, ``dpi``, ``theme``, ``fps``, ``hold``, ``device``, ...: those of
    :mod:`ntkviz.options` marked "run"), with the CLI's defaults. ``progress=True`` shows
    progress bars (tqdm's notebook bar where tqdm is installed, else Rich's).
    """
    if _given(get("reproducible"), options.get("reproducible")):
        from ntkviz.runtime.pins import apply

        apply()  # before torch loads; refused (ConfigError) where it loaded unpinned already

    from ntkviz.pipeline import preflight

    spec = _spec(name)
    config_, run_options, words = _run_options(spec, {**options, "quick": quick, "seed": seed})
    with tempfile.TemporaryDirectory() as folder:  # the CLI's checks, none of them for a file
        preflight(dataclasses.replace(run_options, output=Path(folder) / "check.webp"))
    return _simulated(spec, config_, run_options, words, progress)


def _simulated(spec: Any, config: Any, options: Any, words: list[str], progress: bool) -> Animation:
    import torch

    from ntkviz.runtime.progress import Progress

    progress = typed("progress", progress, bool)
    bar = notebook_progress(spec.name) if progress else None
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(options.seed)
    with bar or Progress() as shown:
        result = spec.simulate(config, generator, shown, options.device)
    seconds = time.perf_counter() - start
    return Animation(spec, config, options, result, seconds, words, bool(progress))


def load_sidecar(path: str | os.PathLike) -> Any:
    """The run a sidecar (``<output>.json``) records, read back and checked as ``ntkviz rerun``
    reads it: a :class:`ntkviz.sidecar.Recorded` with ``.figure``, ``.config`` (the figure's
    Config), ``.style``, ``.settings`` (seed, fps, hold, device, quick, dither; ``train_data``
    where a --train-data file gave the points), ``.record`` (the JSON) and ``.warnings``."""
    from ntkviz.sidecar import load

    return load(_path("load_sidecar(path)", path))


def rerun(
    path: str | os.PathLike,
    *,
    train_data: str | os.PathLike | None = None,
    progress: bool = False,
    **overrides: Any,
) -> Animation:
    """Simulate again the run a sidecar records (``ntkviz rerun``) and return an
    :class:`Animation`: ``.save(file)`` writes the bytes ``ntkviz rerun SIDECAR -o file`` writes
    (the recorded --dither its default). ``overrides``: the figure's options and render()'s
    (seed, fps, hold, device, size, dpi, theme) replace the recorded ones. ``train_data``: where
    the recorded --train-data file lies now (its sha256 must be the recorded one)."""
    import warnings

    from ntkviz import config as cfg
    from ntkviz.options import parse_size
    from ntkviz.pipeline import RunOptions, preflight
    from ntkviz.sidecar import load

    run = load(_path("rerun(path)", path), train_data and _path("rerun(train_data)", train_data))
    for line in run.warnings:
        warnings.warn(line, stacklevel=2)
    spec, running = run.spec, {o.name: o for o in SHARED if o.where == "run"}
    for key in set(overrides) & {"quick", "train_data", "x_train", "y_train"}:
        raise ConfigError(f"rerun(): {key} is the sidecar's; render() makes another run")
    shared = {k: _given(running[k], v) for k, v in overrides.items() if k in running}
    figure = _figure_values(spec, {k: v for k, v in overrides.items() if k not in running})
    config_ = cfg.build(spec.config_cls, figure, base=run.config)
    style = run.style.resized(parse_size(shared["size"])) if shared.get("size") else run.style
    for key in ("dpi", "theme"):
        style = dataclasses.replace(style, **{key: shared[key]}) if shared.get(key) else style
    output = Path(get("output").own(spec, style))
    own = {k: v for k, v in shared.items() if v is not None and k not in ("size", "dpi", "theme")}
    options_ = RunOptions.of({**run.settings, **own}, output=output, style=style)
    with tempfile.TemporaryDirectory() as folder:  # the CLI's checks, none of them for a file
        preflight(dataclasses.replace(options_, output=Path(folder) / "check.webp"))
    return _simulated(spec, config_, options_, _rerun_words(spec, config_, options_), progress)


def _rerun_words(spec: Any, config: Any, options: Any) -> list[str]:
    """The CLI words (after ``ntkviz <figure>``) of a rerun: its config's fields away from the
    (quick) defaults, --train-data for the points of a file, the recorded settings."""
    from ntkviz.figures.base import defaults

    base, look = defaults(spec, options.quick)
    skip = ("x_train", "y_train") if (data := options.extra.get("train_data")) else ()
    own = [f.name for f in dataclasses.fields(config) if f.metadata.get("cli", True)]
    figure = {k: getattr(config, k) for k in own if getattr(config, k) != getattr(base, k)}
    running = [o for o in SHARED if o.where == "run" and o.record == "setting"]
    values = {o.name: getattr(options, o.name, options.extra.get(o.name)) for o in running}
    words = _figure_words({k: v for k, v in figure.items() if k not in skip})
    words += _words(running, values)
    return (
        words
        + _style_words(spec, look, options.style)
        + (["--train-data", data.file] if data is not None else [])
    )


def _style_words(spec: Any, look: Any, style: Any) -> list[str]:
    """The --style preset and the look's options, where they differ from what the preset makes
    of the figure's own ``look`` (a paper figure's fitted height is the preset's own doing)."""
    from ntkviz.drawing.style import preset
    from ntkviz.options import format_value

    words = ["--style", style.preset] if style.preset != "web" else []
    sized = None if style.fit_height or style.size == look.size else tuple(style.size)
    made = preset(look, style.preset, size=sized, dpi_factor=look.dpi / spec.style.dpi)
    words += ["--size", format_value(tuple(style.size))] if sized else []
    words += ["--dpi", format_value(style.dpi)] if style.dpi != made.dpi else []
    words += (
        ["--font-size", format_value(style.font_size)] if style.font_size != made.font_size else []
    )
    words += ["--theme", style.theme] if style.theme != made.theme else []
    words += [] if style.title == made.title else ["--title" if style.title else "--no-title"]
    return words + (
        ["--legend", style.legend_at.replace(" ", "-")] if style.legend_at != made.legend_at else []
    )


class Animation:
    """A rendered figure: ``result`` (the numbers), ``config``, ``frame(i)`` (RGBA arrays, drawn on
    demand), ``save(path)`` (any format the CLI writes) and, in Jupyter, an inline player."""

    def __init__(
        self,
        spec: Any,
        config: Any,
        options: Any,
        result: Any,
        seconds: float,
        words: list[str],
        progress: bool = False,
    ) -> None:
        self.spec = spec
        self.name: str = spec.name
        self.config = config
        self.options = options  # the ntkviz.pipeline.RunOptions the CLI would use
        self.result = result
        self.seconds = seconds  # spent simulating
        self._words = words
        self._progress = progress
        self._renderer = None
        self._html: tuple[Any, Any] | None = None  # (player data, info) or (still html, None)

    # -- the numbers --------------------------------------------------------------------------
    @property
    def arrays(self) -> dict[str, Any]:
        """The Result's fields as NumPy arrays (what ``--data FILE.npz`` saves)."""
        from ntkviz.figures.base import result_arrays

        return result_arrays(self.result)

    @property
    def caption(self) -> str:
        return self._caption()["caption"]

    @property
    def facts(self) -> dict[str, Any]:
        """The numbers the caption states, computed from the Result."""
        return self._caption()["facts"]

    def _caption(self) -> dict[str, Any]:
        from ntkviz.figures.base import caption

        return caption(self.spec, self.result, self.config, self._quick())

    def _quick(self) -> dict[str, Any] | None:
        """What ``quick=True`` changed from the figure's defaults (None without it)."""
        from ntkviz.figures.base import quick_changes

        if not self.options.quick:
            return None
        return quick_changes(self.spec, self.config, self.options.style.dpi)

    @property
    def command(self) -> list[str]:
        """The ntkviz command line that makes the same figure (without ``-o``)."""
        return ["ntkviz", self.name, *self._words]

    # -- frames -------------------------------------------------------------------------------
    @property
    def renderer(self):
        """The figure's renderer, made on first use, with the end hold the CLI adds."""
        if self._renderer is None:
            from ntkviz.pipeline import hold_frames

            renderer = self.spec.renderer(self.result, self.config, self.options.style)
            if self.spec.animated:
                renderer.hold(hold_frames(self.options.hold, self.options.fps))
            self._renderer = renderer
        return self._renderer

    def __len__(self) -> int:
        return len(self.renderer)

    def frame(self, i: int):
        """Output frame ``i`` (the end hold included) as an (H, W, 4) uint8 RGBA array."""
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise ArgumentError(f"frame(i) takes a whole number (got {i!r})")
        if not -n <= i < n:
            raise FrameIndexError(f"frame {i} of {n}: i must be from {-n} to {n - 1}")
        return self.renderer.frame(int(i) % n).copy()

    def frames(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self.frame(i)

    @property
    def key_frame(self) -> int:
        return self.renderer.key_frame

    def still(self):
        """The key frame (what ``--still`` and ``.png`` write)."""
        return self.frame(self.key_frame)

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path, *, sidecar: bool = True, **options: Any) -> dict[str, Any]:
        """Write the figure to ``path`` (.gif, .mp4, .webp, .html or .png, as the CLI's
        ``-o``) with the CLI's writer and sidecar. ``options``: the CLI's shared options of
        saving (:mod:`ntkviz.options` marks them "save": ``still``, ``data``, ``frames_dir``,
        ``dither``, ``jobs``, ...), with the CLI's defaults but ``jobs=1`` (no worker processes
        from a notebook; the file is the same for any number). A ``.npz`` path saves only the
        numbers, as ``--data``. Returns the sidecar's content."""
        from ntkviz.output import formats
        from ntkviz.pipeline import run_figure

        path = _path("save(path)", path)
        sidecar = typed("sidecar", sidecar, bool)
        saving = [o for o in SHARED if o.where == "save" and o.name != "output"]
        unknown = sorted(set(options) - {o.name for o in saving})
        if unknown:
            raise ArgumentError(
                f"save() got an unexpected keyword argument {unknown[0]!r} (its options: "
                f"sidecar, {', '.join(o.name for o in saving)})"
            )
        values = {o.name: _given(o, options.get(o.name, self._default(o))) for o in saving}
        if (
            path.suffix.lower() == ".npz"
            and values["still"] is None
            and values["frames_dir"] is None
        ):
            return self._save_npz(path)
        for option in saving:
            option.validate(values[option.name])
        words = [*self.command, "-o", str(path), *_words(saving, values)]
        fields = {f.name for f in dataclasses.fields(self.options)}
        options_ = dataclasses.replace(
            self.options,
            output=path,
            sidecar=sidecar,
            command=tuple(words),
            extra={
                **self.options.extra,
                **{k: v for k, v in values.items() if k not in fields},
            },
            **{k: v for k, v in values.items() if k in fields},
        )
        formats.output_format(path)
        bar = notebook_progress(self.name) if self._progress else None
        from ntkviz.runtime.progress import Progress

        with bar or Progress() as shown:
            return run_figure(
                self.spec, self.config, options_, shown, simulated=(self.result, self.seconds)
            )

    def _default(self, option: Any) -> Any:
        """save()'s default of a saving option: the run's own where it records one (a rerun's
        --dither), else the CLI's."""
        if option.record == "setting" and hasattr(self.options, option.name):
            return getattr(self.options, option.name)
        return option.keyword_default

    def _save_npz(self, path: Path) -> dict[str, Any]:
        from ntkviz.config import to_jsonable
        from ntkviz.output import formats
        from ntkviz.output.transaction import check_writable

        check_writable(path, "--data")
        metadata = {"figure": self.name, "config": to_jsonable(self.config)}
        metadata["seed"] = self.options.seed
        formats.lookup(path, "data").write_data(path, self.arrays, metadata)
        return {"figure": self.name, "output": str(path), "format": "npz"}

    # -- Jupyter --------------------------------------------------------------------------------
    def player_html(self) -> str:
        """The player as an HTML fragment (what Jupyter shows); the frames are encoded once, and
        each call gets its own id, so that the same animation can be shown twice on a page."""
        from ntkviz.output import player
        from ntkviz.pipeline import frame_info

        if self._html is None:
            info = frame_info(self.spec, self.result, self.config, self.renderer, self._quick())
            with self.renderer.drawing():
                if not self.spec.animated:
                    self._html = (player.still_html(self.still(), info), None)
                else:
                    fps = self.options.fps
                    data = player.encode_frames(len(self), self.frame, fps, info["labels"])
                    self._html = (data, info)
        data, info = self._html
        if info is None:
            return data
        text = player.fragment(data, info, uid=uuid.uuid4().hex[:12])
        size = len(text.encode("utf-8"))
        if size > MAX_INLINE_BYTES:
            note = (
                f"{self.name}: the player would be {size / 2**20:.0f} MB, too large to show "
                f"inline (over {MAX_INLINE_BYTES / 2**20:.0f} MB); its still is shown. Use "
                "quick=True, a smaller size or dpi, or save it with .save('x.html')."
            )
            return player.still_html(self.still(), info, note)
        return text

    def _repr_html_(self) -> str:
        return self.player_html()

    def __repr__(self) -> str:
        return f"<ntkviz.Animation {' '.join(self.command[1:])}>"


# -- options, as the CLI reads them -------------------------------------------------------------


def _spec(name: str):
    from ntkviz.figures import get

    return get(name)


def _figure_values(spec: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The figure's own keyword options as the CLI would have parsed them, type-checked like it."""
    from ntkviz import config as cfg
    from ntkviz.figures.data import given_rows

    fields = {f.name: f for f in dataclasses.fields(spec.config_cls) if f.metadata.get("cli", True)}
    options = {**options, **given_rows(spec.config_cls, spec.name, options)}  # (N, d) points
    values: dict[str, Any] = {}
    for key, value in options.items():
        if key in names("save"):
            raise ConfigError(
                f"{key} is an option of saving: .save(path, {key}=...) (the CLI's "
                f"{cfg.option_name(key)})"
            )
        if key not in fields:
            close = difflib.get_close_matches(key, [*fields, *names("run")], n=3, cutoff=0.6)
            hint = f" (Possible options: {', '.join(close)})" if close else ""
            raise ConfigError(f"No such option: {key}{hint} (see ntkviz.options({spec.name!r}))")
        if value is None:
            continue
        values[key] = cfg.typed_field(spec.config_cls, key, value, text=True)
    return values


def _path(what: str, value: Any) -> Path:
    """A file name given to the API (str or os.PathLike), else one line."""
    if isinstance(value, (str, os.PathLike)) and isinstance(os.fspath(value), str):
        return Path(value)
    shown = repr(value) if len(repr(value)) <= 80 else type(value).__name__
    raise ArgumentError(f"{what} must be a file name, a str or a pathlib.Path (got {shown})")


def _given(option: Any, value: Any) -> Any:
    """A shared option's keyword value as the CLI's parser would give it (None: left out)."""
    return option.coerce(value, text=True)


def _run_options(spec: Any, options: Mapping[str, Any]) -> tuple[Any, Any, list[str]]:
    """(config, RunOptions, the equivalent CLI words) through the CLI's own
    :func:`ntkviz.pipeline.plan`, from render()'s keywords."""
    from ntkviz.pipeline import plan

    running = [o for o in SHARED if o.where == "run"]
    common = {o.name: _given(o, options.get(o.name, o.keyword_default)) for o in running}
    figure = _figure_values(spec, {k: v for k, v in options.items() if k not in common})
    config_, run_options = plan(spec, {**figure, **common})
    return config_, run_options, _figure_words(figure) + _words(running, common)


def _figure_words(figure: Mapping[str, Any]) -> list[str]:
    """The CLI options of the figure's own that give the same figure."""
    from ntkviz.config import option_name
    from ntkviz.options import format_value

    words: list[str] = []
    for key, value in figure.items():
        name = option_name(key)
        if isinstance(value, bool):
            words.append(name if value else f"--no-{name[2:]}")
        elif isinstance(value, (tuple, list)):
            words += [name, ",".join(format_value(v) for v in value)]
        else:
            words += [name, format_value(value)]
    return words


def _words(shared: list[Any], values: Mapping[str, Any]) -> list[str]:
    """The CLI words of the shared options set away from their defaults (what the sidecar
    records as the command); --quick first."""
    from ntkviz.options import format_value

    words: list[str] = []
    for option in sorted(shared, key=lambda o: o.name != "quick"):
        value = values[option.name]
        if value is None or value == option.keyword_default:
            continue
        if option.type is bool:
            on, _, off = option.flags[-1].partition("/")
            words.append(on if value else off)
        else:
            words += [option.flag, format_value(value)]
    return words
