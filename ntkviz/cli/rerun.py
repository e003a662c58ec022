"""``ntkviz rerun SIDECAR``: run again what a sidecar records.

The recorded options are those :mod:`ntkviz.options` marks ``record``: settings (fps, seed, hold,
...) always, the extra files (--still, --data, --frames-dir) unless another ``-o`` is given.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntkviz.cli.environment import prepare as prepare_environment
from ntkviz.cli.open import report
from ntkviz.errors import NtkvizError
from ntkviz.options import SHARED


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _recorded(record: Mapping[str, Any], option: Any) -> Any:
    """The option's value as the sidecar records it (its default where it records none)."""
    value = record.get(option.name)
    if option.record == "file" or option.type is Path:
        return Path(value) if value else None
    if value is None:
        return option.default
    return option.type(value)


def rerun_plan(
    sidecar: Path, output: Path | None, command: tuple[str, ...]
) -> tuple[Any, Any, Any, list[str]]:
    """(spec, config, RunOptions, version warnings) that reproduce the run ``sidecar`` records.

    Without ``output``: the recorded output beside the sidecar, with the recorded extra
    animations, --still, --data and --frames-dir (paths as recorded, from the current folder).
    With ``output``: that file alone (its suffix picks the format)."""
    import dataclasses

    from ntkviz import config as cfg
    from ntkviz import sidecar as sidecars
    from ntkviz.drawing.style import Style
    from ntkviz.figures import get
    from ntkviz.pipeline import RunOptions

    sidecar = Path(sidecar)
    record = sidecars.read(sidecar)
    spec = get(record["figure"])
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = sorted(set(record["config"]) - fields)
    if unknown:
        raise NtkvizError(
            f"{sidecar}: {spec.name} has no option {unknown[0]!r} in this version of ntkviz"
        )
    try:
        config = cfg.validate(dataclasses.replace(spec.config_cls(), **_tuples(record["config"])))
        style = Style(**_tuples(record["style"])).check()
    except TypeError as exc:
        raise NtkvizError(f"{sidecar} is not an ntkviz sidecar ({exc})") from None
    recorded_output = Path(record["output"])
    values = {o.name: _recorded(record, o) for o in SHARED if o.record == "setting"}
    if output is None:
        target = (
            sidecar.with_name(sidecar.name[: -len(".json")])
            if sidecar.name.endswith(".json")
            else sidecar.parent / recorded_output.name
        )
        values.update({o.name: _recorded(record, o) for o in SHARED if o.record == "file"})
        values["also"] = tuple(Path(p) for p in record.get("also") or ())
    else:
        target = Path(output)
    options = RunOptions.of(values, output=target, style=style, command=command)
    warnings = []
    recorded = record.get("versions") or {}
    installed = sidecars.versions()
    differ = [
        f"{name} {recorded[name]} (installed: {installed.get(name)})"
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
    prepare_environment()  # before torch and matplotlib load
    from ntkviz.pipeline import run_figure
    from ntkviz.runtime.progress import Progress, RichProgress

    spec, config, options, warnings = rerun_plan(sidecar, output, ("ntkviz", *sys.argv[1:]))
    for line in warnings:
        typer.echo(f"Warning: {line}", err=True)
    if progress is None:
        progress = sys.stderr.isatty() and not quiet
    bar = RichProgress(spec.name) if progress else Progress()
    with bar:
        record = run_figure(spec, config, options, bar)
    report(record, {"quiet": quiet, "open": open_})
