"""The ntkviz command line: one command per figure, made from the figure's Config and the shared
options of :mod:`ntkviz.options`.

Every Config field becomes an option (``alpha_min`` -> ``--alpha-min``) with the field's help and
the post's value as its default, so a new figure needs no CLI code; every shared option becomes
one too, its default the figure's own where it has one (fps, size, dpi, file name). The CLI only
checks the values, then calls :func:`ntkviz.pipeline.plan` and :func:`ntkviz.pipeline.run_figure`.

The commands are made from :mod:`ntkviz.registry` (a JSON file generated from the figure modules),
so ``--help``, ``list``, shell completion and a bad option never import torch or matplotlib: a
figure's module loads inside its command, when it runs.
"""

from __future__ import annotations

import dataclasses
import errno
import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntkviz import config as cfg
from ntkviz import registry
from ntkviz.cli.check_gpu import check_gpu_command
from ntkviz.cli.configfile import apply_config_file
from ntkviz.cli.environment import prepare as prepare_environment
from ntkviz.cli.errors import DEBUG, OneLineErrors, click
from ntkviz.cli.explore import explore_app
from ntkviz.cli.gallery import gallery_command
from ntkviz.cli.open import report
from ntkviz.cli.rerun import rerun_command
from ntkviz.config import ITEM_TYPES
from ntkviz.errors import ConfigError, quoted
from ntkviz.options import SHARED
from ntkviz.version import __version__

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


def list_figures() -> None:
    """List the figures, each with one line from the post."""
    if sys.stdout is None:  # started with it closed (``>&-``): the list is the whole answer
        raise OSError(errno.EBADF, "standard output is closed")
    width = max(len(name) for name in FIGURES)
    for name, entry in FIGURES.items():
        typer.echo(f"{name:<{width}}  {entry['summary']}")


# -- checks before the heavy imports -------------------------------------------------------------


def precheck(entry: Mapping[str, Any], values: Mapping[str, Any], formats: list[str]) -> None:
    """Bounds, choices and lengths of the options given, the shared options' checks and the
    output suffix, from the registry's metadata and :mod:`ntkviz.options` alone (the figure's own
    cross-option checks run after its import)."""
    for option in entry["options"]:
        raw = values.get(option["name"])
        if raw is None:
            continue
        name = cfg.option_name(option["name"])
        if option["kind"] == "tuple":
            item = ITEM_TYPES.get(option["item"], float)
            raw = tuple(raw) if isinstance(raw, (tuple, list)) else cfg.parse_list(raw, item, name)
        cfg.check_value(name, raw, option)
    for shared in SHARED:
        shared.coerce(values.get(shared.name), text=True)
    output = values.get("output")
    if output is not None and Path(output).suffix.lower() not in formats:
        shown = repr(Path(output).suffix or "(none)")
        raise ConfigError(
            f"unknown output format {shown} for {quoted(output)}: use {', '.join(formats)}"
        )


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


def _shared_parameters(entry: Mapping[str, Any]) -> list[inspect.Parameter]:
    """One keyword parameter per shared option, its help ending in the default this figure
    uses (its own fps, size, dpi and file name where the option has no one default)."""
    own = entry.get("defaults", {})
    params = []
    for option in SHARED:
        shown = option.shown_default(own.get(option.name))
        help_text = option.help + (f"  [default: {shown}]" if shown is not None else "")
        extra: dict[str, Any] = {}
        if option.path == "file":
            extra["dir_okay"] = False
        elif option.path == "dir":
            extra["file_okay"] = False
        annotation = Optional[option.type] if option.optional else option.type
        params.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None if option.optional else option.default,
                annotation=Annotated[
                    annotation,
                    typer.Option(*option.flags, help=help_text, show_default=False, **extra),
                ],
            )
        )
    return params


def build_run(spec: Any, values: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """(config, run options, display flags) from the parsed option values of a figure command."""
    from ntkviz.pipeline import plan

    values = dict(values)
    flags = {o.name: values.pop(o.name, o.default) for o in SHARED if o.where == "cli"}
    flags.pop("config", None)
    config, options = plan(spec, values, command=("ntkviz", *sys.argv[1:]))
    if flags.get("progress") is None:
        flags["progress"] = sys.stderr.isatty() and not flags.get("quiet")
    return config, options, flags


def _figure_command(entry: dict[str, Any]):
    name = entry["name"]

    def command(**values: Any) -> None:
        if values.get("config") is not None:
            ctx = click.globals.get_current_context()
            values = apply_config_file(ctx, values["config"], values, entry)
        # before torch and matplotlib load:
        precheck(entry, values, registry.load()["formats"])
        prepare_environment(reproducible=bool(values.get("reproducible")))
        from ntkviz.figures import get
        from ntkviz.pipeline import run_figure
        from ntkviz.runtime.progress import Progress, RichProgress

        spec = get(name)
        config, options, flags = build_run(spec, values)
        if values.get("config") is not None:  # read, so never replaced (by the sidecar)
            options = dataclasses.replace(options, inputs=(Path(values["config"]),))
        progress = RichProgress(spec.name) if flags["progress"] else Progress()
        with progress:
            record = run_figure(spec, config, options, progress)
        report(record, flags)

    params = _config_parameters(entry) + _shared_parameters(entry)
    names = [p.name for p in params]
    if len(names) != len(set(names)):
        raise RuntimeError(f"{name}: a config field shadows a shared option")
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
    Building the ~30 options of every figure is work that ``ntkviz --help`` need not do."""
    new = typer.Typer(**APP_SETTINGS)
    new.callback()(_root)
    new.command("list")(list_figures)
    for entry in FIGURES.values():
        make = _figure_command if full is None or entry["name"] in full else _stub_command
        new.command(entry["name"])(make(entry))
    new.command("rerun")(rerun_command)
    new.command("gallery")(gallery_command)
    new.command("check-gpu")(check_gpu_command)
    new.add_typer(
        explore_app(FIGURES, full, _config_parameters, _shared_parameters, precheck),
        name="explore",
    )
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


def main() -> None:
    """Console entry point."""
    build_app(named_figures(sys.argv[1:]))()


__all__ = ["app", "main", "build_app", "build_run", "ConfigError"]  # noqa: F822 - app: __getattr__
