"""``ntkviz rerun SIDECAR``: run again what a sidecar records.

The recorded options are those :mod:`ntkviz.options` marks ``record``: settings (fps, seed, hold,
...) always, each typed and checked as on the command line; the extra files (--still, --data,
--frames-dir, more formats) unless another ``-o`` is given. A sidecar decides no write outside its
own folder: each recorded file is placed beside the sidecar as it lay beside the recorded output,
and one that would leave the folder (an absolute path, ``..``, a link out) is refused unless the
user names it again (rerun's own --still, --data, --frames-dir).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntkviz.cli.environment import prepare as prepare_environment
from ntkviz.cli.open import report


def rerun_plan(
    sidecar: Path,
    output: Path | None,
    command: tuple[str, ...],
    named: Mapping[str, Path | None] | None = None,
) -> tuple[Any, Any, Any, list[str]]:
    """(spec, config, RunOptions, version warnings) that reproduce the run ``sidecar`` records
    (:func:`ntkviz.sidecar.load` and :func:`ntkviz.sidecar.outputs`). ``named``: --still,
    --data, --frames-dir and --train-data given on the command line."""
    from ntkviz import sidecar as sidecars
    from ntkviz.pipeline import RunOptions

    named = dict(named or {})
    run = sidecars.load(Path(sidecar), named.pop("train_data", None))
    target, files = sidecars.outputs(run, output, named)
    options = RunOptions.of(
        {**run.settings, **files}, output=target, style=run.style, command=command
    )
    return run.spec, run.config, options, list(run.warnings)


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
    train_data: Annotated[
        Optional[Path],
        typer.Option(
            "--train-data",
            help="Where the recorded --train-data file lies now, if not beside the sidecar as "
            "it lay beside the output (its sha256 must be the recorded one).",
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
    prepare_environment(reproducible=_recorded_pinned(sidecar))  # before torch, matplotlib load
    from ntkviz.pipeline import run_figure
    from ntkviz.runtime.progress import Progress, RichProgress

    named = {"still": still, "data": data, "frames_dir": frames_dir, "train_data": train_data}
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
