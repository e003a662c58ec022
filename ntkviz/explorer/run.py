"""An explore run: the variants planned and checked (before anything is computed), computed
(:mod:`ntkviz.explorer.build`), and the page written; the same for the command and the API.

>>> page = ntkviz.explore("ntk-ellipses", vary={"alphas": [0.01, 0.1, 1, 10]}, quick=True)
>>> page                       # in Jupyter: the page, inline
>>> page.save("ellipses.html")
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntkviz.errors import ConfigError
from ntkviz.explorer import build, vary


@dataclass(frozen=True)
class Plan:
    spec: Any
    varied: list[vary.Varied]
    at: list[tuple[int, ...]]
    tasks: list[build.Task]
    workers: int
    output: Path


def plan(
    name: str,
    texts: Sequence[str],
    figure: Mapping[str, Any],
    shared: Mapping[str, Any],
    output: Path | None,
    cache: Path | None = None,
    jobs: int = 0,
) -> Plan:
    """Every variant's config and run options, checked as the figure's command checks them, and
    the page's size and memory estimated: one line (ConfigError) before anything is computed."""
    from ntkviz.figures import get
    from ntkviz.pipeline import plan as plan_run
    from ntkviz.pipeline import resolve_device

    spec = get(name)
    given_output = output is not None
    if not spec.animated:
        raise ConfigError(f"{name} is a still: explore animates figures whose frames change")
    output = Path(output) if output is not None else Path("explore.html")
    if output.suffix.lower() != ".html":
        raise ConfigError(f"an explore page is an .html file (got {output})")
    varied = vary.parse(spec, texts, figure)
    combos = vary.variants(varied)
    count = len(combos)
    workers = min(count, jobs if jobs and jobs > 0 else (os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    cache = Path(cache) if cache is not None else build.default_cache()
    tasks = []
    for at, values in combos:
        where = " ".join(f"{v.flag} {v.labels[i]}" for v, i in zip(varied, at, strict=True))
        try:
            config, options = plan_run(spec, {**figure, **values, **shared, "output": output})
        except ConfigError as exc:
            raise ConfigError(f"--vary {where}: {exc}") from None
        tasks.append(build.Task(spec.name, config, options, cache, threads))
    from ntkviz.output.transaction import check_writable

    options = tasks[0].options
    for check in (options.style.check,):
        check()
    if not (0 < options.fps <= 240):
        raise ConfigError(f"--fps must be > 0 and <= 240 (got {options.fps:g})")
    resolve_device(options.device)
    if given_output:
        check_writable(output, "output")
    build.preflight(tasks, workers, output)
    return Plan(spec, varied, [at for at, _ in combos], tasks, workers, output)


class Exploration:
    """An explore page: ``save(path)`` writes it; in Jupyter it is shown inline. ``rows``: each
    variant's options, whether it was simulated now, its facts."""

    def __init__(self, plan_: Plan, data: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        self.plan = plan_
        self.name = plan_.spec.name
        self.data = data
        self.rows = rows

    @property
    def info(self) -> dict[str, Any]:
        spec = self.plan.spec
        varied = ", ".join(v.flag for v in self.plan.varied)
        first = self.data["variants"][0]
        return {
            "title": spec.name,
            "summary": f"{spec.summary} Varied: {varied}.",
            "caption": first.get("caption") or "",  # each variant's, as the slider moves
        }

    def html(self) -> str:
        from ntkviz.output import explorer

        return explorer.page(self.data, self.info, build.stamp(self.plan.tasks))

    def save(self, path: str | Path) -> int:
        """Write the page to ``path`` (staged, renamed into place); return its size in bytes."""
        from ntkviz.output import explorer
        from ntkviz.output.transaction import atomic_target, check_writable

        path = Path(path)
        check_writable(path, "output")
        text = self.html()
        size = explorer.check_size(text, path)
        with atomic_target(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        return size

    def _repr_html_(self) -> str:
        """The page inline (its own id, so it can be shown twice); a note where it is larger
        than a notebook should hold (:data:`ntkviz.api.MAX_INLINE_BYTES`)."""
        import html

        from ntkviz.api import MAX_INLINE_BYTES
        from ntkviz.output import explorer, player

        text = player.fragment(
            self.data,
            self.info,
            uid=uuid.uuid4().hex[:12],
            extra=explorer.controls(self.data["axes"]),
        )
        size = len(text.encode("utf-8"))
        if size > MAX_INLINE_BYTES:
            return (
                f"<p><i>{html.escape(repr(self))}: the page would be {size / 2**20:.0f} MB, too "
                f"large to show inline (over {MAX_INLINE_BYTES / 2**20:.0f} MB); save it with "
                ".save('page.html').</i></p>"
            )
        return text

    def __repr__(self) -> str:
        shown = " ".join(f"{v.flag}={','.join(v.labels)}" for v in self.plan.varied)
        return f"<ntkviz.Exploration {self.name} {shown}: {len(self.rows)} variants>"


def compute(plan_: Plan, on_done: Callable[[str, int, dict[str, Any]], None] | None = None):
    """The variants computed (cached where they were before) as an :class:`Exploration`."""
    from ntkviz.output import explorer

    encoded, _ = build.compute(plan_.tasks, plan_.workers, on_done)
    data = explorer.merge(
        [e["data"] for e in encoded],
        [v.axis() for v in plan_.varied],
        plan_.at,
        [{"caption": e["caption"], "reading": e["reading"]} for e in encoded],
    )
    rows = []
    for at, e in zip(plan_.at, encoded, strict=True):
        values = {v.name: v.labels[i] for v, i in zip(plan_.varied, at, strict=True)}
        rows.append({"values": values, "computed": e["computed"], "facts": e["facts"]})
    return Exploration(plan_, data, rows)


def explore(
    name: str,
    vary: Mapping[str, Sequence[Any]],
    quick: bool = False,
    seed: int = 0,
    *,
    cache: str | Path | None = None,
    jobs: int = 0,
    **options: Any,
) -> Exploration:
    """The figure ``name`` over the values of one or two of its options (``vary``: option ->
    values), as ``ntkviz explore`` computes it; ``options``: the figure's own and the run's
    shared ones (size, dpi, fps, hold, theme, device), as :func:`ntkviz.render` takes them."""
    from ntkviz import api
    from ntkviz.options import SHARED

    texts = [
        f"{key}={','.join(vary_label(v) for v in values)}" for key, values in dict(vary).items()
    ]
    running = [o for o in SHARED if o.where == "run"]
    shared = {o.name: api._given(o, options.pop(o.name, None)) for o in running}
    shared.update(quick=bool(quick), seed=seed)
    spec = api._spec(name)
    figure = api._figure_values(spec, options)
    plan_ = plan(name, texts, figure, shared, None, cache, jobs)
    return compute(plan_)


def vary_label(value: Any) -> str:
    return vary.label(
        float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    )
