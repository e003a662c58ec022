"""``ntkviz explore FIGURE --vary NAME=V1,V2,... [--vary NAME2=...] [figure options] -o page.html``:
the figure over the values of one or two of its options, as one page with a slider per option
(:mod:`ntkviz.explorer`). Every variant is the figure's command with those options set; the
checks (the figure's options, ``--vary``, the page's size) all run before anything is computed.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntkviz.cli.errors import OneLineErrors

#: The shared options an explore run takes (the rest are about one file: --still, --data, ...).
SHARED_KEPT = (
    "fps",
    "size",
    "dpi",
    "seed",
    "device",
    "theme",
    "hold",
    "quick",
    "quiet",
    "progress",
)


def _own_parameters() -> list[inspect.Parameter]:
    def option(
        name: str, annotation: Any, default: Any, *flags: str, help: str
    ) -> inspect.Parameter:
        return inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=default,
            annotation=Annotated[annotation, typer.Option(*flags, help=help, show_default=False)],
        )

    return [
        option(
            "vary",
            Optional[list[str]],
            None,
            "--vary",
            help="NAME=V1,V2,...: an option of the figure and its values, one variant each "
            "(a list option such as --alphas takes one value a variant). Once or twice.",
        ),
        option(
            "output",
            Optional[Path],
            None,
            "-o",
            "--output",
            help="The page, an .html file.  [default: explore-FIGURE.html]",
        ),
        option(
            "cache",
            Optional[Path],
            None,
            "--cache",
            help="Folder of computed variants, reused by later runs.  "
            "[default: ~/.cache/ntkviz/explore]",
        ),
        option(
            "jobs",
            int,
            0,
            "--jobs",
            "-j",
            help="Variants computed at once (processes).  [default: the number of cores]",
        ),
    ]


def _command(
    entry: Mapping[str, Any],
    config_parameters: Callable[[Any], list[inspect.Parameter]],
    shared_parameters: Callable[[Any], list[inspect.Parameter]],
    precheck: Callable[..., None],
):
    name = entry["name"]

    def command(**values: Any) -> None:
        from ntkviz.options import SHARED

        texts = values.pop("vary") or []
        output = values.pop("output") or Path(f"explore-{name}.html")
        cache, jobs = values.pop("cache"), values.pop("jobs")
        quiet, progress = values.pop("quiet"), values.pop("progress")
        precheck(entry, values, [".html"])
        from ntkviz.explorer import run

        shared_names = {o.name for o in SHARED}
        shared = {k: v for k, v in values.items() if k in shared_names}
        figure = {k: v for k, v in values.items() if k not in shared_names}
        plan = run.plan(name, texts, figure, shared, output, cache, jobs)
        count = len(plan.tasks)
        start = time.perf_counter()
        labels = [
            " ".join(f"{v.flag} {v.labels[i]}" for v, i in zip(plan.varied, at, strict=True))
            for at in plan.at
        ]
        counts = {"simulate": 0, "render": 0}

        def done(stage: str, index: int, row: dict[str, Any]) -> None:
            counts[stage] += 1
            if quiet or progress is False:
                return
            how = {
                "simulate": "simulated" if row.get("computed") else "cached",
                "render": "drawn" if row.get("encoded") else "cached",
            }[stage]
            typer.echo(
                f"  {stage} {counts[stage]}/{count}: {labels[index]} ({how}, "
                f"{time.perf_counter() - start:.1f} s)",
                err=True,
            )

        page = run.compute(plan, done)
        size = page.save(output)
        if not quiet:
            simulated = sum(r["computed"] for r in page.rows)
            typer.echo(
                f"Wrote {output}: {count} variants ({simulated} simulated, "
                f"{count - simulated} from the cache), {len(page.data['pool'])} pictures, "
                f"{size / 1e6:.1f} MB ({time.perf_counter() - start:.1f} s)"
            )

    kept = [p for p in shared_parameters(entry) if p.name in SHARED_KEPT]
    params = config_parameters(entry) + _own_parameters() + kept
    command.__signature__ = inspect.Signature(params)
    command.__name__ = name.replace("-", "_")
    command.__doc__ = (
        f"{entry['summary']} Explore it over one or two of its options: "
        f"ntkviz explore {name} --vary NAME=V1,V2,..."
    )
    return command


def explore_app(
    figures: Mapping[str, Mapping[str, Any]],
    full: Any,
    config_parameters: Callable[[Any], list[inspect.Parameter]],
    shared_parameters: Callable[[Any], list[inspect.Parameter]],
    precheck: Callable[..., None],
) -> typer.Typer:
    """``ntkviz explore``: one command per figure (with its options where ``full`` names it,
    or is None), made by the figure commands' own parameter builders (given by the app)."""
    app = typer.Typer(
        cls=OneLineErrors,
        name="explore",
        help="A figure over the values of one or two of its options: one offline page with a "
        "slider per option (ntkviz explore FIGURE --vary NAME=V1,V2,... -o page.html).",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    for name, entry in figures.items():
        if not entry.get("animated", True):
            continue
        if full is None or name in full:
            app.command(name)(_command(entry, config_parameters, shared_parameters, precheck))
        else:

            def stub() -> None:  # pragma: no cover - main() builds the command named
                raise RuntimeError("the command was not built")

            stub.__name__ = name.replace("-", "_")
            stub.__doc__ = entry["summary"]
            app.command(name)(stub)
    return app
