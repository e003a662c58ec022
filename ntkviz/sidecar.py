"""The sidecar: the JSON file beside every output (``<output>.json``) that records how it was made.

One schema, versioned by its ``"schema"`` key: :func:`make` builds a run's record (the pipeline
writes it with the outputs), :func:`read` reads one back, checking its keys and types, and
:func:`is_current` tells whether a record says its file was made exactly like this (the gallery
skips such a figure). ``ntkviz rerun`` reads the options :mod:`ntkviz.options` marks as recorded.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath
from typing import Any

from ntkviz.config import load_json, read_small_file, shown, to_jsonable
from ntkviz.errors import ConfigError, NtkvizError
from ntkviz.options import SHARED
from ntkviz.runtime import pins
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
    "quick_changed": dict,
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
    "train_data": (dict, type(None)),
    # since 0.x (schema 1 still: keys added, none changed): the CPU that made the file, and
    # for a --reproducible run (every gallery figure) the pinned code paths (runtime/pins.py)
    "cpu": str,
    "pins": (dict, type(None)),
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
    quick: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of a run: ``options`` (a :class:`ntkviz.pipeline.RunOptions`), what the writer
    reported (``written``: format, frames, size, bytes), the caption and the timings. ``held``:
    the end hold's copies of the last frame among the frames written: ``frames`` counts the
    frames drawn, each once, and ``hold_frames`` (``hold_s`` seconds) the copies apart.
    ``quick``: what --quick changed from the figure's defaults ("quick_changed": setting ->
    value, default and kind, experiment or resolution)."""
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
        **({"quick_changed": dict(quick)} if quick is not None else {}),
        "hold": options.hold,
        **({"layout": layout} if layout is not None else {}),
        **caption,
        "config": _config(config, options.extra.get("train_data")),
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
        "cpu": pins.cpu(),
        "pins": pins.record() if options.extra.get("reproducible") else None,
        # shared options added since (ntkviz.options) that are recorded:
        **{k: _jsonable(v) for k, v in options.extra.items() if _recorded(k)},
        **_train_data(options.extra.get("train_data")),
    }


def _train_data(data: Any) -> dict[str, Any]:
    """--train-data's record: the file's name and sha256, its size and where the values are."""
    return {} if data is None else {"train_data": data.record()}


def _config(config: Any, data: Any) -> dict[str, Any]:
    """The config as recorded: the training points of a --train-data file only when few (else
    the file's hash stands for them: ``train_data``)."""
    values = to_jsonable(config)
    if data is not None and not data.small:
        values.update({k: [] for k in ("x_train", "y_train")})
    return values


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
    pinned = record.get("pins") if isinstance(record.get("pins"), dict) else {}
    wanted_pins = pins.PINS if getattr(options, "extra", {}).get("reproducible") else None
    if (pinned.get("environment") if pinned else None) != wanted_pins:
        return False  # made with other code paths: other bytes
    recorded = record.get("versions")
    return isinstance(recorded, dict) and recorded.get("ntkviz") == __version__


# -- a run read back: ``ntkviz rerun``, ``ntkviz.rerun`` and ``ntkviz.load_sidecar`` -------------


@dataclasses.dataclass(frozen=True)
class Recorded:
    """A sidecar read back, every value checked as the command line checks it: the figure's
    ``spec``, its validated ``config`` and ``style``, the recorded ``settings`` (the shared
    options :mod:`ntkviz.options` marks "setting": seed, fps, hold, device, quick, dither, and
    ``train_data``: the points' record, where a --train-data file gave them), the ``record``
    itself and ``warnings`` (versions that differ from the installed ones)."""

    path: Path
    record: dict[str, Any]
    spec: Any
    config: Any
    style: Any
    settings: dict[str, Any]
    warnings: tuple[str, ...]

    @property
    def figure(self) -> str:
        return self.spec.name


def _refuse(file: Path, message: str) -> ConfigError:
    return ConfigError(f"{file}: {message}")


def placed(file: Path, record: Mapping[str, Any], what: str, recorded: str) -> Path:
    """Where a file the sidecar ``file`` records is now: where it lay beside the recorded output,
    taken beside the sidecar. One that would leave the sidecar's folder (absolute against a
    relative output, ``..``, a link that leads out) is refused: a sidecar never steers a write
    (or a read) elsewhere; the user names such a file again."""
    output_folder = PurePath(record["output"]).parent
    path = PurePath(recorded)
    inside = path.is_absolute() == output_folder.is_absolute()
    inside = inside and "\x00" not in recorded + record["output"]
    if inside:
        relative = PurePath(
            os.path.relpath(os.path.normpath(path), os.path.normpath(output_folder))
        )
        inside = not relative.is_absolute() and ".." not in relative.parts
    if inside:
        folder = os.path.realpath(file.parent)
        target = file.parent / relative
        inside = os.path.commonpath([folder, os.path.realpath(target)]) == folder
    if not inside:
        again = f"name it again ({what} PATH) or " if what.startswith("--") else ""
        raise _refuse(
            file,
            f"the recorded {what} {shown(recorded)} lies outside the sidecar's folder: rerun "
            f"writes only beside the sidecar; {again}write the output alone with -o",
        )
    return target


def _typed_fields(file: Path, cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    from ntkviz.config import typed_field

    try:
        return {k: typed_field(cls, k, v) for k, v in values.items()}
    except ConfigError as exc:
        raise _refuse(file, str(exc)) from None


def _setting(file: Path, record: Mapping[str, Any], option: Any) -> Any:
    value = record.get(option.name)
    if value is None:
        return option.default
    try:
        return option.coerce(value)
    except ConfigError as exc:
        raise _refuse(file, str(exc)) from None


def _points(file: Path, record: Mapping[str, Any], config: Any, moved: Path | None) -> Any:
    """The recorded --train-data points (a :class:`ntkviz.figures.data.TrainData`): from the
    config where it holds them, else the file read again (beside the sidecar, or at ``moved``),
    refused unless its sha256 is the recorded one."""
    import numpy as np

    from ntkviz.figures import data as own_data

    info = record["train_data"]
    name, digest = info.get("file"), info.get("sha256")
    if not (isinstance(name, str) and isinstance(digest, str)) or not own_data.takes_data(
        type(config)
    ):
        raise _refuse(file, "'train_data' is not a record of a --train-data file")
    if info.get("values") == "config":
        if not getattr(config, "y_train", ()):
            raise _refuse(file, "'train_data' says the config holds the points, and it does not")
        x, y = (np.asarray(getattr(config, k), dtype=np.float64) for k in own_data.FIELDS)
        return own_data.TrainData(x.reshape(len(y), -1), y, name, digest)
    data = own_data.read(moved or placed(file, record, "--train-data", name))
    own_data.check_same(data, info, str(file))
    return data


def load(file: Path, train_data: Path | None = None) -> Recorded:
    """The run the sidecar ``file`` records, read back and checked (ConfigError, one line
    naming the file, for anything this version cannot reproduce). ``train_data``: where the
    recorded --train-data file lies now, if not beside the sidecar (its hash must match)."""
    from ntkviz import config as cfg
    from ntkviz.drawing.style import Style
    from ntkviz.figures import FIGURES, get
    from ntkviz.figures import data as own_data

    file = Path(file)
    record = read(file)
    if record["figure"] not in FIGURES:
        raise _refuse(file, f"no figure {shown(record['figure'])} in this version of ntkviz")
    spec = get(record["figure"])
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = sorted(str(k) for k in set(record["config"]) - fields)
    if unknown:
        raise _refuse(
            file, f"{spec.name} has no option {shown(unknown[0])} in this version of ntkviz"
        )
    style_fields = {f.name for f in dataclasses.fields(Style)}
    if set(record["style"]) - style_fields:
        raise _refuse(
            file, f"unknown style {shown(sorted(set(record['style']) - style_fields)[0])}"
        )
    config = dataclasses.replace(
        spec.config_cls(), **_typed_fields(file, spec.config_cls, record["config"])
    )
    settings = {o.name: _setting(file, record, o) for o in SHARED if o.record == "setting"}
    if record.get("train_data") is not None:
        data = _points(file, record, config, train_data)
        settings["train_data"] = data
        config = dataclasses.replace(config, **own_data.values(type(config), data, spec.name, {}))
    config = cfg.validate(config)
    style = Style(**_typed_fields(file, Style, record["style"]))
    if len(style.size) != 2:
        raise _refuse(file, f"the style's size must be two numbers (got {shown(style.size)})")
    style.check()
    recorded = record.get("versions") or {}
    installed = versions()
    differ = [
        f"{name[:40]} {recorded[name][:40]} (installed: {installed.get(name)})"
        for name in recorded
        if recorded[name] != installed.get(name)
    ]
    warnings = (
        [f"{file} was made with {', '.join(differ)}: the output may not be byte-identical"]
        if differ
        else []
    )
    return Recorded(file, record, spec, config, style, settings, tuple(warnings))


def outputs(
    run: Recorded, output: Path | None, named: Mapping[str, Path | None] | None = None
) -> tuple[Path, dict[str, Any]]:
    """(the output, the recorded files' option values) of a rerun. Without ``output``: the
    recorded output beside the sidecar, with the recorded extra animations, --still, --data and
    --frames-dir where they lay beside the recorded output, now beside the sidecar (never
    outside its folder: :func:`placed`). With ``output``: that file alone. ``named``: --still,
    --data, --frames-dir given again, which replace the recorded ones."""
    named = {k: v for k, v in (named or {}).items() if v is not None}
    file, record = run.path, run.record
    extras = [o for o in SHARED if o.record == "file"]
    values: dict[str, Any] = {}
    if output is None:
        name = file.name[: -len(".json")] if file.name.endswith(".json") else ""
        if name in ("", ".", ".."):
            raise _refuse(file, "a sidecar is named <output>.json: give the output with -o")
        for option in extras:
            recorded = record.get(option.name)
            values[option.name] = (
                Path(named[option.name])
                if option.name in named
                else placed(file, record, option.flag, recorded)
                if recorded
                else None
            )
        values["also"] = tuple(placed(file, record, "output", p) for p in record.get("also") or ())
        return file.with_name(name), values
    values.update({o.name: Path(named[o.name]) if o.name in named else None for o in extras})
    return Path(output), values
