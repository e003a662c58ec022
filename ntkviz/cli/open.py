"""``--open``: the result in the desktop's viewer, and the one line that reports a finished run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from ntkviz.cli.errors import stdout_failed
from ntkviz.errors import quoted


def describe(report: dict[str, Any]) -> str:
    """The one line of a finished run: file, frames, size, bytes and timings."""
    size = report["bytes"]
    shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    seconds = report["seconds"]
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
    unit = "pt" if report.get("format") in ("pdf", "svg") else "px"
    return (
        f"Wrote {quoted(report['output'])}: {report['frames']} frame(s), "
        f"{report['width']:g}x{report['height']:g} {unit}, "
        f"{shown} ({timing})"
    )


def report(record: dict[str, Any], flags: dict[str, Any]) -> None:
    """The one line of a finished run, one ``Warning:`` line on stderr per layout problem of
    its key frame (the sidecar's "layout"), then --open's viewer."""
    if not flags["quiet"]:
        try:
            typer.echo(describe(record))
            for problem in record.get("layout") or ():
                typer.echo(f"Warning: layout: {problem}", err=True)
        except OSError as exc:  # the files are written; only the report could not be shown
            stdout_failed(exc)
            raise typer.Exit(1) from None
    if flags.get("open"):
        problem = open_file(Path(record["output"]))
        if problem and not flags["quiet"]:
            typer.echo(f"Note: {problem}", err=True)


LAUNCH_WAIT_S = 1.0  # how long --open waits to hear that the launcher failed


def viewer_command() -> str:
    return "open" if sys.platform == "darwin" else "xdg-open"


def open_file(path: Path) -> str | None:
    """Show ``path`` in the desktop's viewer without waiting for it; None, or the one line saying
    why it could not be shown (the file is written either way)."""
    path = Path(path)
    if sys.platform.startswith("win"):  # pragma: no cover - Windows only
        try:
            os.startfile(path)  # type: ignore[attr-defined]
        except OSError as exc:
            return (
                f"--open: cannot show {quoted(path)} ({exc.strerror or exc}); the file is written"
            )
        return None
    command = viewer_command()
    exe = shutil.which(command)
    if exe is None:
        return f"--open: no viewer found ({command} is not installed); the file is {quoted(path)}"
    try:
        launcher = subprocess.Popen(
            [exe, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in this terminal must not close the viewer
        )
    except OSError as exc:
        return (
            f"--open: cannot run {quoted(exe)} ({exc.strerror or exc}); the file is {quoted(path)}"
        )
    # xdg-open hands the file to a viewer and exits 0, or stays up with it; where nothing can show
    # it (a container, a server without a desktop) it exits at once with an error (3: no
    # application). Wait that long, no longer, so that failure is not silent.
    try:
        status = launcher.wait(timeout=LAUNCH_WAIT_S)
    except subprocess.TimeoutExpired:
        return None  # still up: the viewer has it
    if status != 0:
        return (
            f"--open: no viewer could show it ({command} exited with status {status}); "
            f"the file is {quoted(path)}"
        )
    return None
