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


def caption(
    spec: FigureSpec, result: Any, config: Any, quick: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The figure's caption and reading with their numbers filled in from ``result``, and the
    facts themselves: {"caption", "reading", "facts"}. ``quick``: what --quick changed
    (:func:`quick_changes`); the caption ends by saying so."""
    facts = {k: _plain(v) for k, v in (spec.facts(result, config) if spec.facts else {}).items()}
    text = spec.caption.format(**facts)
    if quick:
        text = f"{text} {quick_note(quick)}".strip()
    return {
        "caption": text,
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


#: What a --quick setting is called in its note, where the field's name would not say it.
_QUICK_WORDS = {
    "count": "nets",
    "widths_count": "widths",
    "steps_per_frame": "steps per frame",
    "snapshot_every": "steps between snapshots",
}


def _is_resolution(spec: FigureSpec, name: str) -> bool:
    """Whether a --quick setting only changes how finely the same experiment is drawn (frames,
    snapshots, the grid a picture is evaluated on), not the experiment (its nets, steps, data)."""
    if name in ("frames", "snapshot_every", "dpi"):
        return True
    field = {f.name: f for f in dataclasses.fields(spec.config_cls)}.get(name)
    help_ = field.metadata.get("help", "") if field is not None else ""
    return name == "points" and help_.startswith(("grid points", "evaluation points"))


def quick_changes(spec: FigureSpec, config: Any, dpi: float | None = None) -> dict[str, Any]:
    """What --quick changed in this run from the figure's defaults: {setting: {"value",
    "default", "kind"}}, kind "experiment" (fewer widths, steps, nets, trials, inputs: other
    numbers) or "resolution" (fewer frames, grid points, pixels: the same numbers, drawn
    coarser). A setting the run gave its own value (``--quick --steps 900``) is the user's, not
    quick's; ``dpi``: the run's, compared with the preset's half dpi."""
    post = spec.config_cls()
    changes: dict[str, Any] = {}
    for name, value in spec.quick.items():
        now, default = getattr(config, name), getattr(post, name)
        if now == value and value != default:
            kind = "resolution" if _is_resolution(spec, name) else "experiment"
            changes[name] = {"value": _listed(now), "default": _listed(default), "kind": kind}
    half = spec.style.dpi * QUICK_DPI_FACTOR
    if dpi is not None and dpi == half != spec.style.dpi:
        changes["dpi"] = {"value": _plain(half), "default": spec.style.dpi, "kind": "resolution"}
    return changes


def _listed(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else _plain(value)


def _said(name: str, change: Mapping[str, Any]) -> str:
    value, default = change["value"], change["default"]
    if name == "dpi":
        return f"{value:g} dpi (not {default:g})"
    word = _QUICK_WORDS.get(name, name.replace("_", " "))
    if isinstance(value, list):
        if len(value) != len(default):
            return f"{len(value)} {word} (not {len(default)})"
        return f"{word} {','.join(map(str, value))} (not {','.join(map(str, default))})"
    if name == "points":  # where the picture is evaluated, or the data's inputs
        word = "grid points" if change["kind"] == "resolution" else "inputs"
    return f"{value} {word} (not {default})" if isinstance(value, int) else f"{word} {value}"


def quick_note(changes: Mapping[str, Any]) -> str:
    """One sentence for the caption: what --quick changed, the experiment apart from its
    resolution ("--quick ran a smaller experiment: 2 widths (not 3), ...")."""
    parts = []
    for kind, words in (
        ("experiment", "ran a smaller experiment"),
        ("resolution", "drew it coarser"),
    ):
        said = [_said(n, c) for n, c in changes.items() if c["kind"] == kind]
        if said:
            parts.append(f"{words}: {', '.join(said)}")
    return f"--quick {'; and '.join(parts)}." if parts else ""


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
            input_dim=getattr(self, "input_dim", 1),  # points of own data (figures.data)
        )
