"""``ntkviz gallery``: every figure at the post's settings into a folder (:mod:`ntkviz.gallery`)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from ntkviz import registry
from ntkviz.cli.environment import prepare as prepare_environment
from ntkviz.errors import ConfigError, quoted
from ntkviz.options import check_jobs, check_seed, get

SEED = get("seed").default


def gallery_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the figures and index pages.", file_okay=False)
    ] = Path("gallery"),
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Figures built at once (processes).  [default: the number of cores]",
            show_default=False,
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
    seed: Annotated[int, typer.Option("--seed", help="Random seed for every figure.")] = SEED,
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
    explore: Annotated[
        bool,
        typer.Option(
            "--explore",
            help="Also make the explore pages (explore-<figure>.html: a figure over alpha or "
            "the width, with a slider); variants are cached in ~/.cache/ntkviz/explore.",
        ),
    ] = False,
) -> None:
    """Build every figure at the post's settings into a folder, with README.md and index.html."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ntkviz.runtime import pins

    pins.apply()  # before the gallery's modules load numpy: the same bytes on any CPU
    from ntkviz import gallery

    names = (
        list(registry.figures())
        if only is None
        else [n.strip() for n in only.split(",") if n.strip()]
    )
    if not names:
        raise ConfigError(f"--only names no figure (got {only!r}); see 'ntkviz list'")
    unknown = [n for n in names if n not in registry.figures()]
    if unknown:
        raise ConfigError(
            f"--only: unknown figure(s) {', '.join(unknown)}; choose from {', '.join(registry.figures())}"
        )
    check_seed(seed)
    check_jobs(jobs)  # 0: one figure per core
    format_list = [f.strip().lower().lstrip(".") for f in formats.split(",") if f.strip()]
    if not format_list:
        raise ConfigError(f"--format names no format (got {formats!r})")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {quoted(out)} exists and is not a folder")
    if out.is_dir():
        from ntkviz.gallery.index import foreign_index_files

        foreign = foreign_index_files(out)
        if foreign:
            raise ConfigError(
                f"--out {quoted(out)} holds {', '.join(quoted(p.name) for p in foreign)} that "
                "ntkviz did not write; the gallery would replace it: choose another folder"
            )
    gallery.check_tolerance(tolerance)
    if check is not None:
        gallery.check_reference(check)
    prepare_environment(reproducible=True)  # every gallery figure: the same bytes on any CPU
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
    table = Table(title=f"ntkviz gallery in {quoted(out)}")
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
    Console(quiet=quiet).print(f"{len(rows)} figure(s), {total / 1e6:.1f} MB in {quoted(out)}")
    skipped = [r["figure"] for r in rows if r["status"] == "skipped"]
    shown = shlex.quote(str(out)) if str(out).isprintable() else quoted(out)  # one line
    if skipped and not quiet:  # one unwrapped line: a newcomer learns what renders them
        typer.echo(
            f"skipped {len(skipped)} ({', '.join(skipped)}) as {gallery.SKIPPED} "
            f"(ntkviz gallery --out {shown} --force)"
        )
    failed = [r for r in rows if r["status"] == "failed"]
    if explore:
        failed += explore_pages(out, quick, seed, jobs, quiet, force)
        from ntkviz.gallery.index import write_index

        write_index(out, rows)  # again: the index links the explore pages now there
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
        typer.echo(f"Bytes: {gallery.byte_report(out, check)}.")
        if not problems:
            typer.echo(
                f"Gallery check: every figure decodes, matches its sidecar and {quoted(check)}."
            )
    if failed or problems:
        raise typer.Exit(1)


def explore_pages(
    out: Path, quick: bool, seed: int, jobs: int, quiet: bool, force: bool = False
) -> list[dict]:
    """The gallery's explore pages (:data:`ntkviz.gallery.plan.EXPLORE_PAGES`) into ``out``,
    but for a page current already (its stamp: the same variants, drawn alike, by this
    version) unless ``force``; the rows of those that failed."""
    import time

    from ntkviz.errors import NtkvizError
    from ntkviz.explorer import build, run
    from ntkviz.gallery.plan import EXPLORE_PAGES
    from ntkviz.output.explorer import read_stamp

    failed = []
    for page in EXPLORE_PAGES:
        start = time.perf_counter()
        target = out / f"{page.name}.html"
        try:
            plan = run.plan(
                page.figure,
                page.vary,
                dict(page.options),
                {"quick": quick, "seed": seed},
                target,
                jobs=jobs,
            )
            if not force and read_stamp(target) == build.stamp(plan.tasks):
                if not quiet:
                    typer.echo(f"{target}: current (--force rebuilds)")
                continue
            made = run.compute(plan)
            size = made.save(target)
        except NtkvizError as exc:
            failed.append({"figure": page.name, "error": str(exc)})
            continue
        if not quiet:
            simulated = sum(r["computed"] for r in made.rows)
            typer.echo(
                f"{target}: {len(made.rows)} variants ({simulated} simulated), "
                f"{size / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s"
            )
    return failed
