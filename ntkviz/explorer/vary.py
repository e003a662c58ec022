"""``--vary NAME=V1,V2,...``: which of a figure's options vary, over which values, checked before
anything is computed; and the variants, the product of the varied options' values.

A variant is the figure's config with each varied option set to one value; a list option
(``--alphas``, ``--widths``) is set to a one-element list. Options that shape the picture
(``--layout``), and lists of a fixed length (a MIN,MAX range, a pair of inputs), cannot vary.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ntkviz import config as cfg
from ntkviz.errors import ConfigError

#: At most this many options vary at once (one slider each).
MAX_VARIED = 2
#: Options that change the picture's layout: variants would not share axes.
FIXED = ("layout",)


@dataclass(frozen=True)
class Varied:
    """One varied option: its Config field, its flag, its values (as the field takes them, a
    one-element tuple for a list option) and their labels on the slider."""

    name: str
    flag: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]

    def axis(self) -> dict[str, Any]:
        return {"name": self.name, "flag": self.flag, "values": list(self.labels)}


def label(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(label(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse(spec: Any, texts: Sequence[str], given: Mapping[str, Any] = ()) -> list[Varied]:
    """The varied options of ``--vary`` words (``"alphas=0.1,1,10"``) for the figure ``spec``;
    ``given``: the figure options set on the line (an option may not be both). One line
    (ConfigError) for: no ``--vary``, more than :data:`MAX_VARIED`, a word that is not
    NAME=VALUES, an unknown option, one that cannot vary, a bad or repeated value."""
    if not texts:
        raise ConfigError("--vary NAME=V1,V2,... is needed: the option to vary and its values")
    if len(texts) > MAX_VARIED:
        raise ConfigError(
            f"--vary: at most {MAX_VARIED} options can vary at once (got {len(texts)}: "
            + ", ".join(t.partition("=")[0] for t in texts)
            + ")"
        )
    fields = {f.name: f for f in dataclasses.fields(spec.config_cls) if f.metadata.get("cli", True)}
    varied: list[Varied] = []
    for text in texts:
        name, sep, values = str(text).partition("=")
        key = name.strip().lstrip("-").replace("-", "_")
        if not sep or not key or not values.strip():
            raise ConfigError(
                f"--vary must look like NAME=V1,V2,... e.g. alphas=0.1,1,10 (got {text!r})"
            )
        flag = cfg.option_name(key)
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3, cutoff=0.6)
            hint = (
                f" (did you mean {', '.join(cfg.option_name(c) for c in close)}?)" if close else ""
            )
            raise ConfigError(
                f"--vary: {spec.name} has no option {flag}{hint}; see ntkviz {spec.name} --help"
            )
        field = fields[key]
        kind, item = cfg.field_kind(spec.config_cls, field)
        meta = field.metadata
        fixed_length = kind == "tuple" and meta.get("length") not in (None, 1)
        at_least = meta.get("min_length", 1) if kind == "tuple" else 1
        if key in FIXED or fixed_length or at_least > 1:
            if key in FIXED:
                why = "it changes the layout, so the variants could not share axes"
            elif fixed_length:
                why = f"it takes exactly {meta.get('length')} values together"
            else:
                why = f"it needs at least {at_least} values, and a variant takes one"
            raise ConfigError(f"--vary: {flag} of {spec.name} cannot vary ({why})")
        if any(v.name == key for v in varied):
            raise ConfigError(f"--vary: {flag} is varied twice")
        if given.get(key) is not None:
            raise ConfigError(f"{flag} is both given and varied: drop one of them")
        parsed = _values(flag, values, item, meta)
        shown = tuple(label(v) for v in parsed)
        repeated = sorted({s for s in shown if shown.count(s) > 1})
        if repeated:
            raise ConfigError(f"--vary {flag}: the value {repeated[0]} is given twice")
        typed = tuple((v,) for v in parsed) if kind == "tuple" else parsed
        varied.append(Varied(key, flag, typed, shown))
    return varied


def _values(flag: str, text: str, item: type, meta: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of one ``--vary`` word, each checked against the option's bounds."""
    if item is str:
        values: tuple[Any, ...] = tuple(v.strip() for v in text.split(","))
        if any(not v for v in values):
            raise ConfigError(f"--vary {flag} expects a comma-separated list, got {text!r}")
    elif item is bool:
        words = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
        try:
            values = tuple(words[v.strip().lower()] for v in text.split(","))
        except KeyError:
            raise ConfigError(f"--vary {flag} expects true,false (got {text!r})") from None
    else:
        values = cfg.parse_list(text, item, f"--vary {flag}")
    for value in values:
        cfg._check_value(f"--vary {flag}", value, meta)
    return values


def variants(varied: Sequence[Varied]) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
    """Every combination of the varied options' values: (its index on each slider, the options
    it sets), the first option's values slowest."""
    ranges = [range(len(v.values)) for v in varied]
    return [
        (at, {v.name: v.values[i] for v, i in zip(varied, at, strict=True)})
        for at in itertools.product(*ranges)
    ]
