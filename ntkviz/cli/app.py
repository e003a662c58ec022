"""The ntkviz command line: one command per figure, made from the figure's Config.

Every Config field becomes an option (``alpha_min`` -> ``--alpha-min``) with the field's help and
the post's value as its default, so a new figure needs no CLI code. The CLI only builds the
Config and the run options, then calls :func:`ntkviz.pipeline.run_figure`.

The commands are made from :mod:`ntkviz.registry` (a JSON file generated from the figure modules),
so ``--help``, ``list``, shell completion and a bad option never import torch or matplotlib: a
figure's module loads inside its command, when it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import inspect
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from ntkviz import registry
from ntkviz.cli.runfiles import ITEM_TYPES, apply_config_file, open_file, precheck
from ntkviz.errors import ConfigError, NtkvizError
from ntkviz.runtime.lifecycle import describe_os_error, ignore_stop_signals, interrupted_line
from ntkviz.version import __version__

try:  # typer >= 0.2x vendors its own click
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer
    import click


def _skip_coercion_of_absent_options() -> None:
    """An option left out (None) needs no coercion: typer (0.29) would build its pydantic
    adapter to turn None into None, which costs --help, a figure's --help and every TAB of shell
    completion ~100 ms (pydantic's import). Same result: the callback, then the value."""
    from typer.core import TyperOption

    original = getattr(TyperOption, "process_value", None)
    if original is None or getattr(original, "_ntkviz", False):
        return

    def process_value(self, ctx, value):
        if value is None and not self.required and not (self.multiple or self.nargs == -1):
            return value if self.callback is None else self.callback(ctx, self, value)
        return original(self, ctx, value)

    process_value._ntkviz = True
    TyperOption.process_value = process_value


_skip_coercion_of_absent_options()

#: Set by --debug (or NTKVIZ_DEBUG=1): errors show their traceback.
DEBUG = {"on": False}


def _debugging() -> bool:
    return DEBUG["on"] or os.environ.get("NTKVIZ_DEBUG", "") not in ("", "0")


#: Errors of a write to a stream: ntkviz's own file errors always name their file, so one of
#: these without a file name is standard output's (a full device, a closed pipe, ...).
STREAM_ERRORS = (errno.EPIPE, errno.EBADF, errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT)


def _stdout_broken(exc: OSError) -> bool:
    return exc.errno in STREAM_ERRORS


def _stdout_failed(exc: OSError) -> None:
    """stdout is a full device, a closed pipe or gone: say so once, on stderr."""
    with contextlib.suppress(OSError, ValueError):  # and let nothing more reach it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        click.echo(f"Error: {describe_os_error(exc, 'cannot write to standard output')}", err=True)


class _Stopped(Exception):
    """A KeyboardInterrupt (or SIGTERM, SIGHUP) carried past typer, which would swallow it."""

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(str(interrupt))
        self.interrupt = interrupt


class _SystemFailure(Exception):
    """An OSError carried past typer (which hides EPIPE): told as one line here."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class OneLineErrors(TyperGroup):
    """Every error is one line on stderr and a non-zero exit; Ctrl-C, SIGTERM and SIGHUP exit
    128 + the signal. Only ``--debug`` shows a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped(exc) from None
        except OSError as exc:
            raise _SystemFailure(exc) from exc

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = self._main(args, prog_name, complete_var, **extra)
        except (KeyboardInterrupt, _Stopped) as exc:
            ignore_stop_signals()
            sys.exit(interrupted_line(getattr(exc, "interrupt", exc)))
        if rv == 130:  # typer's own answer to a Ctrl-C while parsing
            ignore_stop_signals()
            sys.exit(interrupted_line(KeyboardInterrupt()))
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except OSError as exc:
            _stdout_failed(exc)
            sys.exit(1)
        sys.exit(rv)

    def _main(self, args, prog_name, complete_var, **extra) -> int:
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "ntkviz"
            click.echo(f"Error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.exceptions.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except NtkvizError as exc:
            if _debugging():
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except MemoryError:
            if _debugging():
                raise
            click.echo("Error: out of memory: try a smaller width, count or frame size", err=True)
            sys.exit(1)
        except (_Stopped, SystemExit):
            raise
        except (_SystemFailure, OSError) as failure:
            exc = getattr(failure, "error", failure)
            if _debugging():
                raise exc from None
            if exc.filename is None and _stdout_broken(exc):
                _stdout_failed(exc)
            else:
                click.echo(f"Error: {describe_os_error(exc)}", err=True)
            sys.exit(1)
        except Exception as exc:  # a bug: still one line, the traceback with --debug
            if _debugging():
                raise
            click.echo(
                f"Error: internal error: {type(exc).__name__}: {exc} "
                "(run 'ntkviz --debug ...' for the traceback)".replace("\n", " "),
                err=True,
            )
            sys.exit(1)
        return rv if isinstance(rv, int) else 0


APP_SETTINGS = dict(
    cls=OneLineErrors,
    name="ntkviz",
    help="Animations of neural networks training in the lazy / kernel regime, after the post "
    "'Understanding the Neural Tangent Kernel'. Run a figure with no options to reproduce "
    "the post's figure; every setting is an option.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ntkviz {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of an error, and library warnings."),
    ] = False,
) -> None:
    """ntkviz: pictures of the neural tangent kernel."""
    DEBUG["on"] = debug
    if debug:
        import warnings

        warnings.resetwarnings()


FIGURES = registry.figures()  # name -> registry entry (not the FigureSpec: that needs torch)
THEMES = tuple(registry.load()["themes"])
DEVICES = tuple(registry.load()["devices"])


def list_figures() -> None:
    """List the figures, each with one line from the post."""
    width = max(len(name) for name in FIGURES)
    for name, entry in FIGURES.items():
        typer.echo(f"{name:<{width}}  {entry['summary']}")


# -- options every figure shares ------------------------------------------------------------------


def _opt(*names: str, help: str, **kwargs: Any) -> Any:
    return typer.Option(*names, help=help, **kwargs)


COMMON: list[tuple[str, Any, Any]] = [
    (
        "output",
        Optional[Path],
        _opt(
            "-o",
            "--output",
            help="Output file; its suffix picks the format: "
            ".gif, .mp4, .webp, .html (a player), .png (a still) or .pdf/.svg (the still as "
            "vector graphics). [default: <figure>.gif]",
            dir_okay=False,
        ),
    ),
    (
        "fps",
        Optional[float],
        _opt("--fps", help="Frames per second. [default: 10, the post's 0.1 s a frame]"),
    ),
    (
        "size",
        Optional[str],
        _opt("--size", help="Figure size in inches, WxH. [default: the post's, e.g. 12x9]"),
    ),
    ("dpi", Optional[float], _opt("--dpi", help="Pixels per inch. [default: 72]")),
    ("seed", int, _opt("--seed", help="Random seed; the same seed gives the same file.")),
    ("device", str, _opt("--device", help=f"Where to compute: {'|'.join(DEVICES)}.")),
    ("theme", str, _opt("--theme", help=f"Colours: {'|'.join(THEMES)}.")),
    (
        "data",
        Optional[Path],
        _opt(
            "--data",
            help="Also save the numbers behind the figure to this .npz file.",
            dir_okay=False,
        ),
    ),
    (
        "still",
        Optional[Path],
        _opt(
            "--still",
            help="Also save the key frame as this .png, .pdf or .svg file.",
            dir_okay=False,
        ),
    ),
    (
        "frames_dir",
        Optional[Path],
        _opt(
            "--frames-dir",
            help="Also save every frame as numbered PNGs in this folder.",
            file_okay=False,
        ),
    ),
    (
        "hold",
        float,
        _opt(
            "--hold",
            help="Seconds the last frame of an animation stays up before it loops. [default: 2]",
        ),
    ),
    (
        "replace_frames",
        bool,
        _opt(
            "--replace-frames",
            help="Let --frames-dir be a folder that holds other files: only its "
            "frame_NNNNN.png files are replaced, nothing else is touched.",
        ),
    ),
    (
        "dither",
        bool,
        _opt("--dither/--no-dither", help="Dither GIF colours (smoother gradients, larger files)."),
    ),
    (
        "jobs",
        int,
        _opt(
            "--jobs",
            "-j",
            help="Processes drawing and encoding GIF frames (and --frames-dir PNGs) at once; "
            "0: one per core, at most 4 (the files are the same for any number).",
        ),
    ),
    (
        "quick",
        bool,
        _opt("--quick", help="Preview preset: fewer frames and steps (marked in the sidecar)."),
    ),
    ("quiet", bool, _opt("-q", "--quiet", help="Print nothing but errors.")),
    (
        "config",
        Optional[Path],
        _opt(
            "--config",
            help="Read options from this .toml or .json file (keys: option names, with - or _); "
            "options on the command line win.",
            dir_okay=False,
        ),
    ),
    ("open", bool, _opt("--open", help="Show the result in the desktop's viewer when done.")),
    (
        "progress",
        Optional[bool],
        _opt(
            "--progress/--no-progress",
            help="Show progress bars. [default: when stderr is a terminal]",
        ),
    ),
]
COMMON_DEFAULTS = {
    "seed": 0,
    "device": "cpu",
    "theme": "light",
    "hold": 2.0,
    "dither": False,
    "replace_frames": False,
    "jobs": 0,
    "quick": False,
    "quiet": False,
    "open": False,
}


def _config_parameters(entry: dict[str, Any]) -> list[inspect.Parameter]:
    """One keyword parameter per option of a figure's registry entry, defaulting to None
    (= the Config's default)."""
    from ntkviz.config import option_name

    params = []
    for meta in entry["options"]:
        kind, item = meta["kind"], ITEM_TYPES[meta["item"]]
        default = meta["default"]
        help_text = meta.get("help", "")
        help_text = help_text[:1].upper() + help_text[1:]
        if meta.get("choices"):
            help_text += f" [{'|'.join(meta['choices'])}]"
        if kind == "tuple":
            annotation, shown = Optional[str], ",".join(f"{v:g}" for v in default)
        elif item is bool:
            annotation, shown = Optional[bool], str(default).lower()
        else:
            annotation = Optional[item]
            shown = f"{default:.6g}" if isinstance(default, float) else str(default)
        name = option_name(meta["name"])
        names = (f"{name}/--no-{name[2:]}",) if item is bool else (name,)
        # The post's value, shown as typer shows defaults; the option itself defaults to None so
        # that an explicit value can be told from the --quick preset.
        if default is not None:
            help_text = f"{help_text}  [default: {shown}]"
        option = typer.Option(*names, help=help_text, show_default=False)
        params.append(
            inspect.Parameter(
                meta["name"],
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[annotation, option],
            )
        )
    return params


def _common_parameters() -> list[inspect.Parameter]:
    return [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=COMMON_DEFAULTS.get(name),
            annotation=Annotated[annotation, option],
        )
        for name, annotation, option in COMMON
    ]


def check_seed(seed: int) -> None:
    if not 0 <= seed < 2**63:
        raise ConfigError(f"--seed must be between 0 and 2^63 - 1 (got {seed})")


def build_run(spec: Any, values: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """(config, run options, display flags) from the parsed option values of a figure command."""
    from ntkviz import config as cfg
    from ntkviz.drawing.canvas import parse_size
    from ntkviz.figures.base import defaults
    from ntkviz.pipeline import RunOptions

    common = {name: values.pop(name, COMMON_DEFAULTS.get(name)) for name, _, _ in COMMON}
    check_seed(common["seed"])
    base, style = defaults(spec, common["quick"])
    config = cfg.build(spec.config_cls, values, base=base)
    if common["size"] is not None:
        style = style.resized(parse_size(common["size"]))
    if common["dpi"] is not None:
        style = dataclasses.replace(style, dpi=common["dpi"])
    style = dataclasses.replace(style, theme=common["theme"])
    output = common["output"] or Path(f"{spec.name}{'.gif' if spec.animated else '.png'}")
    options = RunOptions(
        output=output,
        style=style,
        fps=spec.fps if common["fps"] is None else common["fps"],
        seed=common["seed"],
        device=common["device"],
        data=common["data"],
        still=common["still"],
        frames_dir=common["frames_dir"],
        replace_frames=common["replace_frames"],
        dither=common["dither"],
        jobs=common["jobs"],
        quick=common["quick"],
        hold=common["hold"],
        command=("ntkviz", *sys.argv[1:]),
    )
    show_progress = common["progress"]
    if show_progress is None:
        show_progress = sys.stderr.isatty() and not common["quiet"]
    flags = {"quiet": common["quiet"], "progress": show_progress, "open": common["open"]}
    return config, options, flags


def _describe(report: dict[str, Any]) -> str:
    size = report["bytes"]
    shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    seconds = report["seconds"]
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
    unit = "pt" if report.get("format") in ("pdf", "svg") else "px"
    return (
        f"Wrote {report['output']}: {report['frames']} frame(s), "
        f"{report['width']:g}x{report['height']:g} {unit}, "
        f"{shown} ({timing})"
    )


def _report(report: dict[str, Any], flags: dict[str, Any]) -> None:
    """The one line of a finished run, then --open's viewer."""
    if not flags["quiet"]:
        try:
            typer.echo(_describe(report))
        except OSError as exc:  # the files are written; only the report could not be shown
            _stdout_failed(exc)
            raise typer.Exit(1) from None
    if flags.get("open"):
        problem = open_file(Path(report["output"]))
        if problem and not flags["quiet"]:
            typer.echo(f"Note: {problem}", err=True)


def _figure_command(entry: dict[str, Any]):
    name = entry["name"]

    def command(**values: Any) -> None:
        if values.get("config") is not None:
            ctx = click.globals.get_current_context()
            values = apply_config_file(ctx, values["config"], values)
        # before torch and matplotlib load:
        precheck(entry, values, registry.load()["formats"], {"theme": THEMES, "device": DEVICES})
        from ntkviz.figures import get
        from ntkviz.pipeline import run_figure
        from ntkviz.runtime.progress import Progress, RichProgress

        spec = get(name)
        config, options, flags = build_run(spec, values)
        progress = RichProgress(spec.name) if flags["progress"] else Progress()
        with progress:
            report = run_figure(spec, config, options, progress)
        _report(report, flags)

    params = _config_parameters(entry) + _common_parameters()
    names = [p.name for p in params]
    if len(names) != len(set(names)):
        raise RuntimeError(f"{name}: a config field shadows a common option")
    command.__signature__ = inspect.Signature(params)
    command.__name__ = name.replace("-", "_")
    command.__doc__ = (
        f"{entry['summary']}\n\n{entry['caption']}" if entry["caption"] else entry["summary"]
    )
    return command


def _stub_command(entry: dict[str, Any]):
    """A figure's name and help without its options: enough for ``ntkviz --help`` and completing
    a command's name (the console entry builds the full command of a figure it is given)."""

    def command() -> None:  # pragma: no cover - main() builds the figure named on the line
        raise RuntimeError(f"{entry['name']}: the command was not built")

    command.__name__ = entry["name"].replace("-", "_")
    command.__doc__ = (
        f"{entry['summary']}\n\n{entry['caption']}" if entry["caption"] else entry["summary"]
    )
    return command


def build_app(full: Any = None) -> typer.Typer:
    """The command line; ``full``: the figures whose commands get their options (None: all).
    Building a figure's ~30 options costs a few ms each, which ``--help`` need not pay."""
    new = typer.Typer(**APP_SETTINGS)
    new.callback()(_root)
    new.command("list")(list_figures)
    for entry in FIGURES.values():
        make = _figure_command if full is None or entry["name"] in full else _stub_command
        new.command(entry["name"])(make(entry))
    new.command("rerun")(rerun_command)
    new.command("gallery")(gallery_command)
    return new


def named_figures(argv: list[str], environ: Any = os.environ) -> set[str]:
    """The figures named on a command line, or in the words a shell asks to complete."""
    words = list(argv)
    if environ.get("_NTKVIZ_COMPLETE"):
        words += environ.get("COMP_WORDS", "").split()
    return {w for w in words if w in FIGURES}


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole command line (tests, typer's tools), built once on first use
        globals()["app"] = built = build_app()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rerun_command(
    sidecar: Annotated[
        Path, typer.Argument(help="The sidecar of a run: <output>.json.", dir_okay=False)
    ],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "-o",
            "--output",
            help="Write this file instead (its suffix picks the format); without it the recorded "
            "output is written again beside the sidecar, with the recorded --still, --data, "
            "--frames-dir and extra formats.",
            dir_okay=False,
        ),
    ] = None,
    open_: Annotated[
        bool, typer.Option("--open", help="Show the result in the desktop's viewer when done.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
    progress: Annotated[
        Optional[bool],
        typer.Option(
            "--progress/--no-progress",
            help="Show progress bars. [default: when stderr is a terminal]",
        ),
    ] = None,
) -> None:
    """Run again what a sidecar records (figure, config, seed, style, fps, hold, formats): the same
    versions give a byte-identical file."""
    from ntkviz.cli.runfiles import rerun_plan
    from ntkviz.pipeline import run_figure
    from ntkviz.runtime.progress import Progress, RichProgress

    spec, config, options, warnings = rerun_plan(sidecar, output, ("ntkviz", *sys.argv[1:]))
    for line in warnings:
        typer.echo(f"Warning: {line}", err=True)
    if progress is None:
        progress = sys.stderr.isatty() and not quiet
    bar = RichProgress(spec.name) if progress else Progress()
    with bar:
        report = run_figure(spec, config, options, bar)
    _report(report, {"quiet": quiet, "open": open_})


def gallery_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the figures and index pages.", file_okay=False)
    ] = Path("gallery"),
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", help="Figures built at once (processes). [default: the number of cores]"
        ),
    ] = 0,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help="Comma-separated figures to build (see 'ntkviz list'). [default: all]"
        ),
    ] = None,
    formats: Annotated[
        str,
        typer.Option(
            "--format",
            help="Comma-separated: gif, mp4, webp, html (animations; html: a player) and png "
            "(a still of each).",
        ),
    ] = "gif,html,png",
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild figures whose sidecar says they are current.")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Preview presets: fewer frames and steps.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed for every figure.")] = 0,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            help="After building, validate the files and "
            "compare them with this committed gallery folder; "
            "exit 1 if any figure changed.",
            file_okay=False,
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            help="With --check: largest mean pixel difference (0-255) that counts as unchanged.",
        ),
    ] = 2.0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
) -> None:
    """Build every figure at the post's settings into a folder, with README.md and index.html."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ntkviz.gallery import build as gallery

    names = list(FIGURES) if not only else [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ConfigError(
            f"--only: unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}"
        )
    check_seed(seed)
    if jobs < 0:
        raise ConfigError(f"--jobs must be >= 1 (got {jobs})")
    format_list = [f.strip().lower().lstrip(".") for f in formats.split(",") if f.strip()]
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    gallery.check_tolerance(tolerance)
    if check is not None:
        gallery.check_reference(check)
    console = Console(stderr=True, quiet=quiet)
    with Progress(
        TextColumn("gallery"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    ) as bar:
        task = bar.add_task("", total=len(names))

        def done(row: dict) -> None:
            bar.update(task, advance=1, description=f"{row['figure']} {row['status']}")

        rows = gallery.build(
            out,
            names,
            format_list,
            jobs or (os.cpu_count() or 1),
            quick=quick,
            force=force,
            seed=seed,
            on_done=done,
        )
    table = Table(title=f"ntkviz gallery in {out}")
    for column in ("figure", "status", "frames", "size", "MB", "seconds"):
        table.add_column(column, justify="left" if column in ("figure", "status") else "right")
    for row in rows:
        table.add_row(
            row["figure"],
            row["status"],
            str(row["frames"]),
            row["size"],
            f"{row['bytes'] / 1e6:.2f}",
            f"{row['seconds']:.1f}",
        )
    total = sum(r["bytes"] for r in rows)
    Console(quiet=quiet).print(table)
    Console(quiet=quiet).print(f"{len(rows)} figure(s), {total / 1e6:.1f} MB in {out}")
    skipped = [r["figure"] for r in rows if r["status"] == "skipped"]
    if skipped and not quiet:  # one unwrapped line: a newcomer learns what renders them
        typer.echo(
            f"skipped {len(skipped)} ({', '.join(skipped)}) as {gallery.SKIPPED} "
            f"(ntkviz gallery --out {out} --force)"
        )
    failed = [r for r in rows if r["status"] == "failed"]
    for row in failed:
        typer.echo(f"Error: {row['figure']} failed: {row['error']}", err=True)
    problems = []
    if check is not None:
        problems = gallery.validate(out) + [
            f"{line} (refresh the committed gallery with `make gallery`)"
            for line in gallery.compare(out, check, tolerance)
        ]
        for line in problems:
            typer.echo(f"Error: gallery check: {line}", err=True)
        if not problems:
            typer.echo(f"Gallery check: every figure decodes, matches its sidecar and {check}.")
    if failed or problems:
        raise typer.Exit(1)


def main() -> None:
    """Console entry point."""
    build_app(named_figures(sys.argv[1:]))()


__all__ = ["app", "main", "build_app", "build_run", "ConfigError"]  # noqa: F822 - app: __getattr__
