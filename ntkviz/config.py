"""Figure configs: frozen dataclasses whose fields carry their CLI help and bounds.

A field made with :func:`param` knows its help text and the values it allows, so the CLI can make
an option of it and :func:`validate` can refuse a bad value with one line naming the option.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import os
import stat
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ntkviz.errors import ArgumentError, ConfigError


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


def check_value(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    """One option's value against its bounds: a tuple its length, then each of its items."""
    if not isinstance(value, tuple):
        _check_value(name, value, meta)
        return
    if meta.get("length") is not None and len(value) != meta["length"]:
        raise ConfigError(f"{name} needs exactly {meta['length']} values (got {len(value)})")
    if len(value) < meta.get("min_length", 1):
        raise ConfigError(f"{name} needs at least {meta['min_length']} value(s)")
    for item in value:
        _check_value(name, item, meta)


def _check_value(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])} (got {value!r})")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number (got {value})")
    for key, op, word in (
        ("gt", operator.gt, ">"),
        ("ge", operator.ge, ">="),
        ("lt", operator.lt, "<"),
        ("le", operator.le, "<="),
    ):
        bound = meta.get(key)
        if bound is not None and not op(value, bound):  # int against float: exact, no overflow
            raise ConfigError(f"{name} must be {word} {bound:g} (got {shown(value)})")


# -- the one schema of a value's type, wherever it comes from ------------------------------------

#: The item types of the registry's options, by name.
ITEM_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}
#: Whole numbers from this on are refused as out of range by any option (each option's own
#: check says more below it: --seed's 2^63 - 1, a bound of the figure's).
MAX_INT = 10**30
_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def shown(value: Any) -> str:
    """A value for a message: short, whatever it is (a 5,000-digit integer cannot be printed)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"a whole number of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, float):
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def plain(value: Any) -> Any:
    """A NumPy scalar (np.int64(20), np.float32(40), np.bool_) as its Python value, a 1-D NumPy
    array as a list of them (a notebook's np.logspace for a list option); else as is."""
    if type(value).__module__ == "numpy":
        ndim = getattr(value, "ndim", None)
        if ndim == 0 and callable(getattr(value, "item", None)):
            return value.item()
        if ndim == 1 and callable(getattr(value, "tolist", None)):
            return value.tolist()
        if ndim == 2 and value.shape[1] == 1:  # a column of points, (N, 1)
            return value[:, 0].tolist()
    return value


def typed(name: str, value: Any, kind: Any, *, text: bool = False) -> Any:
    """``value`` as an option of type ``kind`` (bool, int, float, str, Path or "tuple") takes
    it, or ConfigError naming ``name``. ``text``: a string is parsed as the command line does
    (the API); from a file, a string is only a str's (or a list's, "1,2,3") value."""
    value = plain(value)
    if kind == "tuple":
        if isinstance(value, (str, tuple, list)):
            return value  # parse_list / coerce take it from here
        if text and isinstance(value, (int, float)) and not isinstance(value, bool):
            return (value,)  # the API's one number for a list of one
        raise ArgumentError(f"Invalid value for '{name}': must be a list (got {shown(value)})")
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is Path:
        if isinstance(value, (str, os.PathLike)) and str(value) and "\x00" not in str(value):
            return Path(value)
    elif isinstance(value, bool):
        pass  # true is no number
    elif kind is int:
        if isinstance(value, str) and text:
            try:
                value = int(value.strip())
            except ValueError:  # also a string of more than 4,300 digits
                pass
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, int):
            if abs(value) >= MAX_INT:
                raise ConfigError(f"{name} is out of range (got {shown(value)})")
            return value
    elif kind is float:
        if isinstance(value, str) and text:
            try:
                value = float(value.strip())
            except ValueError:
                pass
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= MAX_INT:
                raise ConfigError(f"{name} is out of range (got {shown(value)})")
            value = float(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number (got {value})")
            return value
    else:
        return value
    expected = "a file name" if kind is Path else _KINDS.get(kind, kind.__name__)
    raise ArgumentError(f"Invalid value for '{name}': must be {expected} (got {shown(value)})")


def typed_field(config_cls: type, name: str, value: Any, *, text: bool = False) -> Any:
    """A value of the Config field ``name`` typed as :func:`typed` (a tuple's items too)."""
    field = {f.name: f for f in dataclasses.fields(config_cls)}[name]
    kind, item = field_kind(config_cls, field)
    if kind == "tuple":
        value = typed(option_name(name), value, "tuple", text=text)
        if isinstance(value, (tuple, list)):
            return tuple(typed(option_name(name), v, item, text=text) for v in value)
        return value
    return typed(option_name(name), value, item, text=text)


def validate(config: Any) -> Any:
    """Check every field against its bounds, then the config's own ``check()``; return config."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        check_value(option_name(field.name), value, field.metadata)
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
            return tuple(typed(option_name(name), v, item) for v in raw)
        return parse_list(raw, item, option_name(name))
    return raw


def build(config_cls: type, overrides: Mapping[str, Any], base: Any | None = None) -> Any:
    """A validated config: ``base`` (default: the class defaults) with ``overrides`` applied."""
    base = config_cls() if base is None else base
    values = {k: coerce(config_cls, k, v) for k, v in overrides.items() if v is not None}
    return validate(dataclasses.replace(base, **values))


# -- reading a settings file (--config, a sidecar): bounded -------------------------------------

#: The largest --config file or sidecar read (they hold a few kilobytes).
MAX_FILE_BYTES = 1 << 20


def read_small_file(path: Path, what: str) -> bytes:
    """The bytes of ``path``, a regular file of at most :data:`MAX_FILE_BYTES`; ConfigError
    (``what`` names it) for anything else: a FIFO is refused without waiting for a writer, a
    device (a link to /dev/zero) without reading it, a large file without reading it all."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read it ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{what} is not a regular file")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise ConfigError(
            f"{what} is larger than {MAX_FILE_BYTES // 2**20} MB: not a settings file"
        )
    return b"".join(chunks)


def load_json(data: bytes) -> Any:
    """Parsed JSON; ValueError (its reason) for what is not, too deep or with too long a number
    included (Python refuses integers of more than 4,300 digits)."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


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
