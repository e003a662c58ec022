"""What a figure module provides to the pipeline."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ntkviz.drawing.canvas import Renderer, Style


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its config class, numerics, renderer and defaults.

    ``simulate(config, generator, progress, device) -> Result`` does all the numerics;
    ``renderer(result, config, style)`` draws frames from the Result (the config gives views).
    """

    name: str
    summary: str  # one line from the post (``ntkviz list``)
    config_cls: type
    simulate: Callable[..., Any]
    renderer: type[Renderer]
    style: Style = Style()
    fps: float = 10.0
    quick: Mapping[str, Any] = field(default_factory=dict)  # overrides for --quick previews
    animated: bool = True
    # What to look for, for the gallery and --help: a template whose {fields} are filled from
    # ``facts(result, config)``, so every number a caption states is computed from the Result.
    caption: str = ""
    facts: Callable[[Any, Any], Mapping[str, Any]] | None = None
    # One line: what a reader sees in the picture (gallery text), a template like ``caption``.
    reading: str = ""
    # A list option whose values are independent runs of one ensemble (``ntkviz explore``
    # simulates variants that differ only in it together): see :class:`Runs`.
    runs: Runs | None = None


@dataclass(frozen=True)
class Runs:
    """A figure's list option (``option``, e.g. ``alphas``) whose values are independent runs
    trained as one ensemble: ``simulate(config, ..., members=[...])`` gives run k the initial net
    of ensemble member ``members[k]``, and ``axes`` names each Result field that holds one entry
    per run and its run axis. So configs that differ only in that option are simulated at once
    (:func:`simulate_together`), each run as its own config would draw it."""

    option: str
    axes: Mapping[str, int]


def simulate_together(
    spec: FigureSpec, configs: list[Any], generator: Any, progress: Any, device: str
) -> list[Any]:
    """One Result per config, from ONE simulation of their runs together: the configs differ
    only in ``spec.runs.option``; run j of config i starts from the net config i alone would
    give it (member j), so each Result is that config's own run, up to rounding."""
    runs = spec.runs
    if runs is None:
        raise ValueError(f"{spec.name} does not simulate its runs together")
    values = [tuple(getattr(c, runs.option)) for c in configs]
    bare = {dataclasses.replace(c, **{runs.option: ()}) for c in configs}
    if len(bare) != 1:
        raise ValueError(f"configs that differ in more than --{runs.option} are not one ensemble")
    together = dataclasses.replace(configs[0], **{runs.option: sum(values, ())})
    members = [j for v in values for j in range(len(v))]
    result = spec.simulate(together, generator, progress, device, members=members)
    out, start = [], 0
    for v in values:
        picked = np.arange(start, start + len(v))
        out.append(
            dataclasses.replace(
                result,
                **{
                    name: np.take(getattr(result, name), picked, axis=axis)
                    for name, axis in runs.axes.items()
                },
            )
        )
        start += len(v)
    return out


def figure_spec(namespace: Mapping[str, Any], **fields: Any) -> FigureSpec:
    """The FigureSpec of the figure module whose globals are ``namespace`` (it passes
    ``globals()``), by the house's naming: the name is the module's with "-" for "_", and for a
    module ``ntk_ellipses`` the parts are ``NtkEllipsesConfig``, ``simulate``,
    ``NtkEllipsesRenderer`` and ``facts``; ``fields`` give the rest (summary, style, quick,
    caption, reading...)."""
    module = namespace["__name__"].rsplit(".", 1)[-1]
    title = "".join(part.title() for part in module.split("_"))
    return FigureSpec(
        name=module.replace("_", "-"),
        config_cls=namespace[f"{title}Config"],
        simulate=namespace["simulate"],
        renderer=namespace[f"{title}Renderer"],
        facts=namespace["facts"],
        **fields,
    )


_FIELD = re.compile(r"\{[^{}]*\}")


def caption(spec: FigureSpec, result: Any, config: Any) -> dict[str, Any]:
    """The figure's caption and reading with their numbers filled in from ``result``, and the
    facts themselves: {"caption", "reading", "facts"}."""
    facts = {k: _plain(v) for k, v in (spec.facts(result, config) if spec.facts else {}).items()}
    return {
        "caption": spec.caption.format(**facts),
        "reading": spec.reading.format(**facts),
        "facts": facts,
    }


#: What --help says in place of a caption whose numbers only a run can fill.
RUN_CAPTION = (
    "A run writes this figure's caption, what the picture shows with that run's numbers, into "
    'its sidecar ("caption"), its player and the gallery.'
)


def static_caption(text: str) -> str:
    """The caption for --help, before any run: the text itself where it states no computed
    number, else :data:`RUN_CAPTION` (a template's numbers shown as "…" say nothing)."""
    return RUN_CAPTION if _FIELD.search(text) else text


def _plain(value: Any) -> Any:
    """NumPy scalars as Python numbers, so facts go into JSON as they are."""
    return value.item() if isinstance(value, np.generic) else value


QUICK_DPI_FACTOR = 0.5  # --quick previews are drawn at half the dpi


def defaults(spec: FigureSpec, quick: bool = False) -> tuple[Any, Style]:
    """The figure's config and style: the post's settings, or the --quick preview preset
    (fewer frames and steps from ``spec.quick``, half the pixels per inch)."""
    config, style = spec.config_cls(), spec.style
    if quick:
        config = dataclasses.replace(config, **spec.quick)
        style = dataclasses.replace(style, dpi=style.dpi * QUICK_DPI_FACTOR)
    return config, style


def result_arrays(result: Any) -> dict[str, np.ndarray]:
    """A Result's fields as arrays, for ``--data FILE.npz``."""
    return {f.name: np.asarray(getattr(result, f.name)) for f in dataclasses.fields(result)}


class NtkNets:
    """Mixin for configs with ``depth``, ``activation``, ``sigma_w`` and ``sigma_b`` fields: their
    nets (NTK parameterisation, biases) and the matching infinite-width kernel's options."""

    zero_output: ClassVar[bool] = False  # start the nets at f = 0 (subtract the initial output)

    def kernel_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ntkviz.numerics.ntk_analytic.infinite_ntk` for these nets."""
        return dict(
            depth=self.depth,
            activation=self.activation,
            sigma_w=self.sigma_w,
            sigma_b=self.sigma_b,
            bias=True,
        )

    def net(self, width: int):
        """The :class:`ntkviz.numerics.nets.NetSpec` of a net of this ``width``."""
        from ntkviz.numerics.nets import NetSpec

        return NetSpec(
            width=width,
            depth=self.depth,
            activation=self.activation,
            bias=True,
            zero_output=self.zero_output,
            parameterization="ntk",
            sigma_w=self.sigma_w,
            sigma_b=self.sigma_b,
        )
