"""Figure configs: frozen dataclasses whose fields carry their CLI help and bounds.

A field made with :func:`param` knows its help text and the values it allows, so the CLI can make
an option of it and :func:`validate` can refuse a bad value with one line naming the option.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any

from ntkviz.errors import ConfigError


def param(
    default: Any,
    help: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[str, ...] | None = None,
    length: int | None = None,
    min_length: int = 1,
    cli: bool = True,
) -> Any:
    """A dataclass field with CLI help and bounds (applied to each item of a tuple field)."""
    meta = dict(
        help=help,
        gt=gt,
        ge=ge,
        le=le,
        lt=lt,
        choices=choices,
        length=length,
        min_length=min_length,
        cli=cli,
    )
    return dataclasses.field(default=default, metadata=meta)


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def field_kind(config_cls: type, field: dataclasses.Field) -> tuple[str, type]:
    """('scalar'|'tuple', item type) of a config field, from its annotation."""
    hints = typing.get_type_hints(config_cls)
    tp = hints[field.name]
    if typing.get_origin(tp) is tuple:
        return "tuple", typing.get_args(tp)[0]
    return "scalar", tp


def parse_list(text: str, item_type: type, name: str) -> tuple:
    """Parse '1,2.5,3' into a tuple of item_type, naming the option on failure."""
    parts = [p.strip() for p in str(text).split(",")]
    if any(p == "" for p in parts):
        raise ConfigError(f"{name} expects a comma-separated list of numbers, got {text!r}")
    try:
        return tuple(
            item_type(float(p)) if item_type is int and float(p).is_integer() else item_type(p)
            for p in parts
        )
    except ValueError:
        what = "integers" if item_type is int else "numbers"
        raise ConfigError(
            f"{name} expects a comma-separated list of {what}, got {text!r}"
        ) from None


def _check_value(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])} (got {value!r})")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number (got {value})")
    for key, op, word in (
        ("gt", float.__gt__, ">"),
        ("ge", float.__ge__, ">="),
        ("lt", float.__lt__, "<"),
        ("le", float.__le__, "<="),
    ):
        bound = meta.get(key)
        if bound is not None and not op(float(value), float(bound)):
            raise ConfigError(f"{name} must be {word} {bound:g} (got {value:g})")


def validate(config: Any) -> Any:
    """Check every field against its bounds, then the config's own ``check()``; return config."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        name = option_name(field.name)
        meta = field.metadata
        if isinstance(value, tuple):
            if meta.get("length") is not None and len(value) != meta["length"]:
                raise ConfigError(
                    f"{name} needs exactly {meta['length']} values (got {len(value)})"
                )
            if len(value) < meta.get("min_length", 1):
                raise ConfigError(f"{name} needs at least {meta['min_length']} value(s)")
            for item in value:
                _check_value(name, item, meta)
        else:
            _check_value(name, value, meta)
    check = getattr(config, "check", None)
    if check is not None:
        check()
    return config


def coerce(config_cls: type, name: str, raw: Any) -> Any:
    """Turn a CLI value (string for tuple fields) into the field's type."""
    field = {f.name: f for f in dataclasses.fields(config_cls)}[name]
    kind, item = field_kind(config_cls, field)
    if kind == "tuple":
        if isinstance(raw, (tuple, list)):
            return tuple(item(v) for v in raw)
        return parse_list(raw, item, option_name(name))
    return raw


def build(config_cls: type, overrides: Mapping[str, Any], base: Any | None = None) -> Any:
    """A validated config: ``base`` (default: the class defaults) with ``overrides`` applied."""
    base = config_cls() if base is None else base
    values = {k: coerce(config_cls, k, v) for k, v in overrides.items() if v is not None}
    return validate(dataclasses.replace(base, **values))


def to_jsonable(config: Any) -> dict[str, Any]:
    """The config as plain JSON types (tuples become lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def check_frames(frames: int, steps: int) -> None:
    """Frames evenly spaced over the training: at most one a step, and dividing the steps."""
    if frames > steps:
        raise ConfigError(f"--frames ({frames}) must not exceed --steps ({steps})")
    if steps % frames:
        raise ConfigError(f"--steps ({steps}) must be a multiple of --frames ({frames})")
