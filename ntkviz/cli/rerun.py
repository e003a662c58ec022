"""``ntkviz rerun SIDECAR``: run again what a sidecar records.

The recorded options are those :mod:`ntkviz.options` marks ``record``: settings (fps, seed, hold,
...) always, each typed and checked as on the command line; the extra files (--still, --data,
--frames-dir, more formats) unless another ``-o`` is given. A sidecar decides no write outside its
own folder: each recorded file is placed beside the sidecar as it lay beside the recorded output,
and one that would leave the folder (an absolute path, ``..``, a link out) is refused unless the
user names it again (rerun's own --still, --data, --frames-dir).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Annotated, Any, Optional

import typer

from ntkviz.cli.environment import prepare as prepare_environment
from ntkviz.cli.open import report
from ntkviz.config import shown
from ntkviz.errors import ConfigError
from ntkviz.options import SHARED


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _refuse(sidecar: Path, message: str) -> ConfigError:
    return ConfigError(f"{sidecar}: {message}")


def _beside(sidecar: Path, record: Mapping[str, Any], what: str, recorded: str) -> Path:
    """Where a recorded extra file goes now: where it lay beside the recorded output, taken
    beside the sidecar. One that would leave the sidecar's folder (absolute against a relative
    output, ``..``, a link that leads out) is refused: a sidecar never steers a write
    elsewhere; the user names such a file again on the command line."""
    output_folder = PurePath(record["output"]).parent
    path = PurePath(recorded)
    inside = path.is_absolute() == output_folder.is_absolute()
    inside = inside and "\x00" not in recorded + record["output"]
    if inside:
        relative = PurePath(
            os.path.relpath(os.path.normpath(path), os.path.normpath(output_folder))
        )
        inside = not relative.is_absolute() and ".." not in relative.parts
    if inside:
        folder = os.path.realpath(sidecar.parent)
        target = sidecar.parent / relative
        inside = os.path.commonpath([folder, os.path.realpath(target)]) == folder
    if not inside:
        again = f"name it again ({what} PATH) or " if what.startswith("--") else ""
        raise _refuse(
            sidecar,
            f"the recorded {what} {shown(recorded)} lies outside the sidecar's folder: rerun "
            f"writes only beside the sidecar; {again}write the output alone with -o",
        )
    return target


def _recorded(sidecar: Path, record: Mapping[str, Any], option: Any) -> Any:
    """A recorded setting, typed and checked as the command line's (its default where the
    sidecar records none)."""
    value = record.get(option.name)
    if value is None:
        return option.default
    try:
        return option.coerce(value)
    except ConfigError as exc:
        raise _refuse(sidecar, str(exc)) from None


def _typed_fields(sidecar: Path, cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    from ntkviz import config as cfg

    try:
        return {k: cfg.typed_field(cls, k, v) for k, v in values.items()}
    except ConfigError as exc:
        raise _refuse(sidecar, str(exc)) from None


def rerun_plan(
    sidecar: Path,
    output: Path | None,
    command: tuple[str, ...],
    named: Mapping[str, Path | None] | None = None,
) -> tuple[Any, Any, Any, list[str]]:
    """(spec, config, RunOptions, version warnings) that reproduce the run ``sidecar`` records.

    Without ``output``: the recorded output beside the sidecar, with the recorded extra
    animations, --still, --data and --frames-dir where they lay beside the recorded output, now
    beside the sidecar (never outside its folder: :func:`_beside`). With ``output``: that file
    alone (its suffix picks the format). ``named``: --still, --data, --frames-dir given on the
    command line, which replace the recorded ones. Every recorded value goes through the
    command line's checks (:meth:`ntkviz.options.Option.coerce`, :func:`ntkviz.config.typed`)."""
    import dataclasses

    from ntkviz import config as cfg
    from ntkviz import sidecar as sidecars
    from ntkviz.drawing.style import Style
    from ntkviz.figures import FIGURES, get
    from ntkviz.pipeline import RunOptions

    sidecar = Path(sidecar)
    named = {k: v for k, v in (named or {}).items() if v is not None}
    record = sidecars.read(sidecar)
    if record["figure"] not in FIGURES:
        raise _refuse(sidecar, f"no figure {shown(record['figure'])} in this version of ntkviz")
    spec = get(record["figure"])
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = sorted(str(k) for k in set(record["config"]) - fields)
    if unknown:
        raise _refuse(
            sidecar, f"{spec.name} has no option {shown(unknown[0])} in this version of ntkviz"
        )
    style_fields = {f.name for f in dataclasses.fields(Style)}
    if set(record["style"]) - style_fields:
        raise _refuse(
            sidecar, f"unknown style {shown(sorted(set(record['style']) - style_fields)[0])}"
        )
    config = cfg.validate(
        dataclasses.replace(
            spec.config_cls(), **_typed_fields(sidecar, spec.config_cls, record["config"])
        )
    )
    style = Style(**_typed_fields(sidecar, Style, record["style"]))
    if len(style.size) != 2:
        raise _refuse(sidecar, f"the style's size must be two numbers (got {shown(style.size)})")
    style.check()
    values = {o.name: _recorded(sidecar, record, o) for o in SHARED if o.record == "setting"}
    extras = [o for o in SHARED if o.record == "file"]
    if output is None:
        name = sidecar.name[: -len(".json")] if sidecar.name.endswith(".json") else ""
        if name in ("", ".", ".."):
            raise _refuse(sidecar, "a sidecar is named <output>.json: give the output with -o")
        target = sidecar.with_name(name)
        for option in extras:
            recorded = record.get(option.name)
            values[option.name] = (
                Path(named[option.name])
                if option.name in named
                else _beside(sidecar, record, option.flag, recorded)
                if recorded
                else None
            )
        values["also"] = tuple(
            _beside(sidecar, record, "output", p) for p in record.get("also") or ()
        )
    else:
        target = Path(output)
        values.update({o.name: Path(named[o.name]) if o.name in named else None for o in extras})
    options = RunOptions.of(values, output=target, style=style, command=command)
    warnings = []
    recorded = record.get("versions") or {}
    installed = sidecars.versions()
    differ = [
        f"{name[:40]} {recorded[name][:40]} (installed: {installed.get(name)})"
        for name in recorded
        if recorded[name] != installed.get(name)
    ]
    if differ:
        warnings.append(
            f"{sidecar} was made with {', '.join(differ)}: the output may not be byte-identical"
        )
    return spec, config, options, warnings


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
    still: Annotated[
        Optional[Path],
        typer.Option(
            "--still",
            help="Write the still here (instead of where the sidecar records it; needed where "
            "that lies outside the sidecar's folder).",
            dir_okay=False,
        ),
    ] = None,
    data: Annotated[
        Optional[Path],
        typer.Option(
            "--data",
            help="Write the numbers here (as --still: instead of the recorded file).",
            dir_okay=False,
        ),
    ] = None,
    frames_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--frames-dir",
            help="Write the frames into this folder (as --still: instead of the recorded one).",
            file_okay=False,
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
    prepare_environment(reproducible=_recorded_pinned(sidecar))  # before torch, matplotlib load
    from ntkviz.pipeline import run_figure
    from ntkviz.runtime.progress import Progress, RichProgress

    named = {"still": still, "data": data, "frames_dir": frames_dir}
    spec, config, options, warnings = rerun_plan(sidecar, output, ("ntkviz", *sys.argv[1:]), named)
    for line in warnings:
        typer.echo(f"Warning: {line}", err=True)
    if progress is None:
        progress = sys.stderr.isatty() and not quiet
    bar = RichProgress(spec.name) if progress else Progress()
    with bar:
        record = run_figure(spec, config, options, bar)
    report(record, {"quiet": quiet, "open": open_})


def _recorded_pinned(file: Path) -> bool:
    """Whether the sidecar records a --reproducible run (to pin before torch loads; a sidecar
    that cannot be read is refused by :func:`rerun_plan`, with its one line)."""
    from ntkviz import sidecar as schema
    from ntkviz.errors import NtkvizError

    try:
        return schema.read(file, require=()).get("reproducible") is True
    except (NtkvizError, OSError):
        return False
