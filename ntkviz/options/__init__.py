"""Every option the figures share, once, as data: its name, flags, type, default, help and check.

The command line (:mod:`ntkviz.cli`) makes one option of each for every figure command;
:func:`ntkviz.api.render` and :meth:`ntkviz.api.Animation.save` take them as keywords;
:mod:`ntkviz.registry` records each figure's own defaults (``FIGURE``: fps, size, dpi, output);
:mod:`ntkviz.pipeline` turns the values into a run; the sidecar records the ``record``-ed ones and
``ntkviz rerun`` reads them back; ``--config`` files name them.

Cheap to import (the CLI's ``--help`` and tab completion read it): only :mod:`ntkviz.errors`.
Import names from it (``from ntkviz.options import SHARED``): the package's ``ntkviz.options``
is the API's function of that name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntkviz.config import plain, shown, typed
from ntkviz.errors import ConfigError
from ntkviz.options.values import (  # noqa: F401 - the values and checks, re-exported
    DEVICES,
    LEGEND_LOCATIONS,
    LEGENDS,
    MAX_FONT,
    MAX_HOLD,
    MAX_SEED,
    PRESETS,
    THEMES,
    check_device,
    check_font_size,
    check_hold,
    check_jobs,
    check_legend,
    check_seed,
    format_value,
    legend_location,
    one_of,
    parse_device,
    parse_size,
)


class _FigureOwn:
    """The default of an option whose value is each figure's own (its fps, size, dpi, file)."""

    def __repr__(self) -> str:
        return "FIGURE"


#: The default of an option whose value is the figure's own; ``Option.own`` gives it.
FIGURE: Any = _FigureOwn()


#: Where an option is a keyword: ``render()`` ("run"), ``Animation.save()`` ("save"), or
#: nowhere but the command line ("cli").
WHERE = ("run", "save", "cli")
#: How the sidecar keeps an option: "setting" (recorded; ``rerun`` uses it), "file" (an extra file
#: recorded; ``rerun`` writes it again unless given another ``-o``), or None (not recorded).
RECORD = ("setting", "file", None)

_SAME: Any = object()


@dataclass(frozen=True)
class Option:
    """One shared option. ``flags``: as the CLI spells them ("-o", "--output"; a bool's
    "--dither/--no-dither"). ``default``: a value, None (left out) or :data:`FIGURE` (then
    ``own(spec, style)`` gives the figure's). ``check(value)`` raises ConfigError (one line)."""

    name: str
    flags: tuple[str, ...]
    type: type
    default: Any
    help: str
    check: Callable[[Any], None] | None = None
    where: str = "cli"
    record: str | None = None
    own: Callable[[Any, Any], Any] | None = None
    shown: str | None = None  # the default as --help words it, where the value would not say
    path: str | None = None  # "file" or "dir", for a Path
    api_default: Any = _SAME  # the API's default, where it differs (save's jobs)
    join: str | None = None  # a list value is these words joined by it (a size [12, 9]: "12x9")

    def __post_init__(self) -> None:
        if self.where not in WHERE or self.record not in RECORD:
            raise ValueError(f"option {self.name}: where {self.where!r}, record {self.record!r}")
        if (self.default is FIGURE) != (self.own is not None):
            raise ValueError(f"option {self.name}: a FIGURE default needs own(spec, style)")

    @property
    def flag(self) -> str:
        """The long flag, as messages name it (``--dither``)."""
        return next(f for f in self.flags if f.startswith("--")).split("/")[0]

    @property
    def optional(self) -> bool:
        """May be left out (None): the figure's own, or nothing."""
        return self.default is None or self.default is FIGURE

    @property
    def keyword_default(self) -> Any:
        """The default of the API's keyword (None for the figure's own)."""
        default = self.default if self.api_default is _SAME else self.api_default
        return None if default is FIGURE else default

    def validate(self, value: Any) -> None:
        if value is not None and self.check is not None:
            self.check(value)

    def coerce(self, value: Any, *, text: bool = False) -> Any:
        """``value`` as this option takes it, wherever it comes from (the command line, a
        ``--config`` file, a sidecar, the API): typed by :func:`ntkviz.config.typed` (a NumPy
        scalar as its Python value, ``text``: a string parsed as the command line does), then
        :meth:`validate`-d; None: left out. ConfigError (one line naming the flag) if not."""
        value = plain(value)
        if value is None:
            return None
        if self.join is not None and isinstance(value, (tuple, list)):
            if len(value) != 2 or isinstance(value, str):
                raise ConfigError(f"{self.flag} must be two numbers, WxH (got {shown(value)})")
            value = self.join.join(format_value(typed(self.flag, v, float)) for v in value)
        value = typed(self.flag, value, self.type, text=text)
        self.validate(value)
        return value

    def shown_default(self, own: Any = None) -> str | None:
        """The default as ``--help`` shows it: ``own`` is the figure's, for a FIGURE default."""
        if self.shown is not None:
            return self.shown
        value = own if self.default is FIGURE else self.default
        if value is None:
            return None
        if self.type is bool:
            if "/" in self.flags[0]:
                on, off = self.flags[0].split("/")
                return (on if value else off).lstrip("-")
            return None if value is False else "true"
        return format_value(value)


def _output_name(spec: Any, style: Any) -> str:
    return f"{spec.name}{'.gif' if spec.animated else '.png'}"


# -- the options ----------------------------------------------------------------------------------

#: Every shared option, in the order of a figure's ``--help``. Every reader iterates this list
#: when it runs, so an option :func:`register`-ed here counts everywhere.
SHARED: list[Option] = [
    Option(
        "output",
        ("-o", "--output"),
        Path,
        FIGURE,
        "Output file; its suffix picks the format: .gif, .mp4, .webp, .html (a player), .png "
        "(a still) or .pdf/.svg (the still as vector graphics).",
        where="save",
        own=_output_name,
        path="file",
    ),
    Option(
        "fps",
        ("--fps",),
        float,
        FIGURE,
        "Frames per second.",
        where="run",
        record="setting",
        own=lambda spec, style: spec.fps,
    ),
    Option(
        "size",
        ("--size",),
        str,
        FIGURE,
        "Figure size in inches, WxH.",
        check=parse_size,
        where="run",
        join="x",
        own=lambda spec, style: format_value(tuple(style.size)),
    ),
    Option(
        "dpi",
        ("--dpi",),
        float,
        FIGURE,
        "Pixels per inch.",
        where="run",
        own=lambda spec, style: style.dpi,
    ),
    Option(
        "seed",
        ("--seed",),
        int,
        0,
        "Random seed; the same seed gives the same file.",
        check=check_seed,
        where="run",
        record="setting",
    ),
    Option(
        "device",
        ("--device",),
        str,
        "cpu",
        f"Where to compute: {'|'.join(DEVICES)}.",
        check=check_device,
        where="run",
        record="setting",
    ),
    Option(
        "theme",
        ("--theme",),
        str,
        "light",
        f"Colours: {'|'.join(THEMES)}.",
        check=one_of("--theme", THEMES),
        where="run",
    ),
    Option(
        "style",
        ("--style",),
        str,
        "web",
        f"Preset look: {'|'.join(PRESETS)}. paper: 3.3 in wide and as tall as its re-flowed "
        "panels need (or --size, e.g. 6.8x3 for a page's width), 8 pt type, 300 dpi, no title; "
        "talk: 16:9 at 1080p; web: the figure's own, fonts scaled with --size.",
        check=one_of("--style", PRESETS),
        where="run",
    ),
    Option(
        "font_size",
        ("--font-size",),
        float,
        None,
        "Base font size in points, whatever the --size (ticks are 0.9 of it, legends 0.8).",
        check=check_font_size,
        where="run",
        shown="the style's",
    ),
    Option(
        "title",
        ("--title/--no-title",),
        bool,
        None,
        "Draw the figure's title (its heading, e.g. the step; a lone panel's title).",
        where="run",
        shown="on, off with --style paper",
    ),
    Option(
        "legend",
        ("--legend",),
        str,
        None,
        "Where legends go: a location (upper-left, lower-right, ...), outside (beside the "
        "panel), none, or auto (the figure's own).",
        check=check_legend,
        where="run",
        shown="auto",
    ),
    Option(
        "layout_check",
        ("--layout-check/--no-layout-check",),
        bool,
        True,
        "Check the key frame's layout (overlapping or clipped text, text under 6 pt): one "
        "Warning: line each on stderr, recorded in the sidecar.",
        where="run",
        record="setting",  # a rerun checks as the run did
    ),
    Option(
        "data",
        ("--data",),
        Path,
        None,
        "Also save the numbers behind the figure to this .npz file.",
        where="save",
        record="file",
        path="file",
    ),
    Option(
        "still",
        ("--still",),
        Path,
        None,
        "Also save the key frame as this .png, .pdf or .svg file.",
        where="save",
        record="file",
        path="file",
    ),
    Option(
        "frames_dir",
        ("--frames-dir",),
        Path,
        None,
        "Also save every frame as numbered PNGs in this folder.",
        where="save",
        record="file",
        path="dir",
    ),
    Option(
        "hold",
        ("--hold",),
        float,
        2.0,
        "Seconds the last frame of an animation stays up before it loops.",
        check=check_hold,
        where="run",
        record="setting",
    ),
    Option(
        "replace_frames",
        ("--replace-frames",),
        bool,
        False,
        "Let --frames-dir be a folder that holds other files: only its frame_NNNNN.png files "
        "are replaced, nothing else is touched.",
        where="save",
    ),
    Option(
        "dither",
        ("--dither/--no-dither",),
        bool,
        False,
        "Dither GIF colours (smoother gradients, larger files).",
        where="save",
        record="setting",
    ),
    Option(
        "jobs",
        ("--jobs", "-j"),
        int,
        0,
        "Processes drawing and encoding GIF frames (and --frames-dir PNGs) at once; 0: one per "
        "core, at most 4 (the files are the same for any number).",
        check=check_jobs,
        where="save",
        api_default=1,  # no worker processes from a notebook
    ),
    Option(
        "quick",
        ("--quick",),
        bool,
        False,
        "Preview preset: fewer frames and steps (marked in the sidecar).",
        where="run",
        record="setting",
    ),
    Option(
        "train_data",
        ("--train-data",),
        Path,
        None,
        "Train on these points: a .csv of columns x..., y (one point a line) or an .npz with "
        "arrays x and y; replaces the figure's own data (figures with a training set only).",
        where="run",
        path="file",
    ),
    Option(
        "reproducible",
        ("--reproducible",),
        bool,
        False,
        "Pin the numerical code paths (MKL, torch's kernels, OpenBLAS, numpy's loops; one "
        "thread) so that x86-64 CPUs with AVX2 take the same paths (recorded in the sidecar).",
        where="run",
        record="setting",
    ),
    Option("quiet", ("-q", "--quiet"), bool, False, "Print nothing but errors."),
    Option(
        "config",
        ("--config",),
        Path,
        None,
        "Read options from this .toml or .json file (keys: option names, with - or _); "
        "options on the command line win.",
        path="file",
    ),
    Option("open", ("--open",), bool, False, "Show the result in the desktop's viewer when done."),
    Option(
        "progress",
        ("--progress/--no-progress",),
        bool,
        None,
        "Show progress bars.",
        shown="when stderr is a terminal",
    ),
]


def register(option: Option) -> Option:
    """Add a shared option (a plugin's, or a test's); its name must be new."""
    if any(o.name == option.name for o in SHARED):
        raise ValueError(f"a shared option {option.name!r} exists already")
    SHARED.append(option)
    return option


def get(name: str) -> Option:
    for option in SHARED:
        if option.name == name:
            return option
    raise KeyError(name)


def names(where: str | None = None) -> tuple[str, ...]:
    return tuple(o.name for o in SHARED if where is None or o.where == where)


def validate(values: dict[str, Any]) -> None:
    """Check every shared option in ``values`` (None: left out)."""
    for option in SHARED:
        option.validate(values.get(option.name))


def figure_defaults(spec: Any, style: Any) -> dict[str, Any]:
    """The figure's own defaults of the FIGURE options (what the registry records)."""
    return {o.name: o.own(spec, style) for o in SHARED if o.default is FIGURE}
