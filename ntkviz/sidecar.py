"""The sidecar: the JSON file beside every output (``<output>.json``) that records how it was made.

One schema, versioned by its ``"schema"`` key: :func:`make` builds a run's record (the pipeline
writes it with the outputs), :func:`read` reads one back, checking its keys and types, and
:func:`is_current` tells whether a record says its file was made exactly like this (the gallery
skips such a figure). ``ntkviz rerun`` reads the options :mod:`ntkviz.options` marks as recorded.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ntkviz.config import load_json, read_small_file, shown, to_jsonable
from ntkviz.errors import ConfigError, NtkvizError
from ntkviz.options import SHARED
from ntkviz.version import __version__

#: The version of the layout below; raised when a key changes meaning or goes.
SCHEMA = 1

_NUMBER = (int, float)
#: Keys every sidecar has, with their types.
REQUIRED: dict[str, Any] = {
    "figure": str,
    "output": str,
    "config": dict,
    "seed": int,
    "style": dict,
    "fps": _NUMBER,
    "frames": int,
    "width": _NUMBER,
    "height": _NUMBER,
}
#: Keys a sidecar may have, with their types (None: also null).
OPTIONAL: dict[str, Any] = {
    "schema": int,
    "format": str,
    "bytes": int,
    "device": str,
    "quick": bool,
    "hold": _NUMBER,
    "hold_frames": int,
    "hold_s": _NUMBER,
    "layout": list,
    "layout_check": bool,
    "caption": str,
    "dither": bool,
    "still": (str, type(None)),
    "also": list,
    "frames_dir": (str, type(None)),
    "data": (str, type(None)),
    "versions": dict,
    "seconds": dict,
    "jobs": int,
    "command": (list, type(None)),
}


def path(output: Path) -> Path:
    """The sidecar of ``output``: ``<output>.json`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".json")


def versions() -> dict[str, str]:
    """The versions that decide the bytes of a file (a rerun with others may differ)."""
    import imageio
    import matplotlib
    import numpy
    import torch

    return {
        "ntkviz": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "matplotlib": matplotlib.__version__,
        "imageio": imageio.__version__,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def make(
    spec: Any,
    config: Any,
    options: Any,
    written: Mapping[str, Any],
    caption: Mapping[str, Any],
    seconds: Mapping[str, float],
    jobs: int,
    layout: list[str] | None = None,
    held: int = 0,
) -> dict[str, Any]:
    """The record of a run: ``options`` (a :class:`ntkviz.pipeline.RunOptions`), what the writer
    reported (``written``: format, frames, size, bytes), the caption and the timings. ``held``:
    the end hold's copies of the last frame among the frames written: ``frames`` counts the
    frames drawn, each once, and ``hold_frames`` (``hold_s`` seconds) the copies apart."""
    return {
        "schema": SCHEMA,
        "figure": spec.name,
        "output": str(options.output),
        **written,
        # the frames drawn, each once; the end hold repeats the last hold_frames times
        "frames": written["frames"] - held,
        "hold_frames": held,
        "hold_s": held / options.fps,
        "fps": options.fps,
        "seed": options.seed,
        "device": options.device,
        "quick": options.quick,
        "hold": options.hold,
        **({"layout": layout} if layout is not None else {}),
        **caption,
        "config": to_jsonable(config),
        "style": to_jsonable(options.style),
        "dither": options.dither,
        "still": str(options.still) if options.still else None,
        "also": [str(p) for p in options.also],
        "frames_dir": str(options.frames_dir) if options.frames_dir else None,
        "data": str(options.data) if options.data else None,
        "versions": versions(),
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "jobs": jobs,  # processes allowed to draw GIF frames (render/write: this process's share)
        "command": list(options.command) if options.command else None,
        # shared options added since (ntkviz.options) that are recorded:
        **{k: _jsonable(v) for k, v in options.extra.items() if _recorded(k)},
    }


def _recorded(name: str) -> bool:
    return any(o.name == name and o.record is not None for o in SHARED)


def _type_name(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
    words.update({dict: "a table", list: "a list", type(None): "null"})
    return " or ".join(dict.fromkeys(words.get(k, k.__name__) for k in kinds))


def _is(value: Any, kind: Any) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # JSON's true is no number
    return isinstance(value, kinds)


#: What the pictures of a sidecar need (the gallery's check reads no more).
PICTURE = ("frames", "width", "height")


def read(file: Path, require: Iterable[str] = tuple(REQUIRED)) -> dict[str, Any]:
    """The record in ``file``, the keys ``require`` there and every known key's type checked;
    ConfigError (one line naming the file, exit 2) if it is not a sidecar. The file is read
    bounded (a regular file of at most 1 MB: :func:`ntkviz.config.read_small_file`)."""
    file = Path(file)
    data = read_small_file(file, str(file))
    try:
        record = load_json(data)
    except ValueError:
        raise ConfigError(f"{file} is not an ntkviz sidecar (not JSON)") from None
    if not isinstance(record, dict):
        raise ConfigError(f"{file} is not an ntkviz sidecar (not a JSON object)")
    missing = [k for k in require if k not in record]
    if missing:
        raise ConfigError(f"{file} is not an ntkviz sidecar (no {', '.join(missing)})")
    schema = record.get("schema", SCHEMA)
    if _is(schema, int) and schema > SCHEMA:
        raise ConfigError(
            f"{file} is a sidecar of a newer ntkviz (schema {shown(schema)}; this one reads "
            f"{SCHEMA})"
        )
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        if key in record and not _is(record[key], kind):
            raise ConfigError(
                f"{file} is not an ntkviz sidecar ('{key}' is not {_type_name(kind)})"
            )
    if any(not isinstance(p, str) for p in record.get("also") or ()):
        raise ConfigError(f"{file} is not an ntkviz sidecar ('also' is not a list of files)")
    if any(not isinstance(v, str) for v in (record.get("versions") or {}).values()):
        raise ConfigError(f"{file} is not an ntkviz sidecar ('versions' is not a table of text)")
    return record


def is_sidecar(file: Path) -> bool:
    """Whether ``file`` holds an ntkviz sidecar (what a run may replace with its own)."""
    try:
        read(file, require=("figure", "output", "config"))
    except NtkvizError:
        return False
    return True


def is_current(record: Mapping[str, Any], config: Any, options: Any) -> bool:
    """True when ``record`` says its file was made with this config, seed, style, fps, hold and
    outputs by this version of ntkviz (the bytes would be the same)."""
    wanted = {
        "config": to_jsonable(config),
        "seed": options.seed,
        "quick": options.quick,
        "hold": options.hold,
        "style": to_jsonable(options.style),
        "fps": options.fps,
        "also": [str(p) for p in options.also],
        "still": str(options.still) if options.still else None,
    }
    if any(record.get(k) != v for k, v in wanted.items()):
        return False
    recorded = record.get("versions")
    return isinstance(recorded, dict) and recorded.get("ntkviz") == __version__
