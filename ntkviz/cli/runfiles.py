"""Config files, checks before the heavy imports, --open, and rerunning a run from its sidecar.

Everything here up to :func:`rerun_plan` imports nothing heavy: the figure commands use it before
torch and matplotlib load, so a bad option or config file is refused at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ntkviz import config as cfg
from ntkviz.errors import ConfigError, NtkvizError

ITEM_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


# -- plain checks from the registry ---------------------------------------------------------------


def precheck(
    entry: Mapping[str, Any],
    values: Mapping[str, Any],
    formats: list[str],
    choices: Mapping[str, list[str]] | None = None,
) -> None:
    """Bounds, choices and lengths of the options given, the seed and the output suffixes, from
    the registry's metadata alone (the figure's own cross-option checks run after its import)."""
    for option in entry["options"]:
        raw = values.get(option["name"])
        if raw is None:
            continue
        name = cfg.option_name(option["name"])
        if option["kind"] == "tuple":
            item = ITEM_TYPES.get(option["item"], float)
            value = (
                tuple(raw) if isinstance(raw, (tuple, list)) else cfg.parse_list(raw, item, name)
            )
            if option.get("length") is not None and len(value) != option["length"]:
                raise ConfigError(
                    f"{name} needs exactly {option['length']} values (got {len(value)})"
                )
            if len(value) < option.get("min_length", 1):
                raise ConfigError(f"{name} needs at least {option['min_length']} value(s)")
            for v in value:
                cfg._check_value(name, v, option)
        else:
            cfg._check_value(name, raw, option)
    seed = values.get("seed")
    if seed is not None and not 0 <= seed < 2**63:
        raise ConfigError(f"--seed must be between 0 and 2^63 - 1 (got {seed})")
    for name, allowed in (choices or {}).items():  # --theme, --device
        value = values.get(name)
        if value is not None and value not in allowed:
            raise ConfigError(f"--{name} must be one of {', '.join(allowed)} (got {value!r})")
    jobs = values.get("jobs")
    if jobs is not None and jobs < 0:
        raise ConfigError(f"--jobs must be >= 0, 0 meaning one per core (got {jobs})")
    size = values.get("size")
    if size is not None:
        parts = str(size).lower().replace("*", "x").split("x")
        try:
            [float(p) for p in parts]
        except ValueError:
            parts = []
        if len(parts) != 2:
            raise ConfigError(f"--size must look like WxH in inches, e.g. 12x9 (got {size!r})")
    output = values.get("output")
    if output is not None and Path(output).suffix.lower() not in formats:
        shown = Path(output).suffix or "(none)"
        raise ConfigError(f"unknown output format '{shown}' for {output}: use {', '.join(formats)}")


# -- --config FILE.toml / FILE.json ---------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, Any]:
    """The table of options in a .toml or .json file, or one line saying why not."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"--config must name a .toml or .json file (got {path})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    if suffix == ".json":
        try:
            table = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"--config {path} is not valid JSON ({exc})") from None
    else:
        try:
            import tomllib as toml
        except ImportError:  # Python 3.10
            try:
                import tomli as toml  # type: ignore[no-redef]
            except ImportError:
                raise ConfigError(
                    f"--config {path}: reading TOML needs Python >= 3.11 or the tomli package "
                    "(pip install tomli); or write the options as JSON"
                ) from None
        try:
            table = toml.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, toml.TOMLDecodeError) as exc:
            raise ConfigError(f"--config {path} is not valid TOML ({exc})") from None
    if not isinstance(table, dict):
        raise ConfigError(
            f"--config {path} must hold a table of options (got {type(table).__name__})"
        )
    return table


def apply_config_file(ctx: Any, path: Path, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the options of the config file filled in, where the command line did not
    give them (the command line wins). Keys are option names with - or _ (``alpha-max``)."""
    from typer import _click as click

    params = {p.name: p for p in ctx.command.params if p.name not in ("config",)}
    table = read_config_file(path)
    values = dict(values)
    for key, value in table.items():
        name = str(key).strip().lstrip("-").replace("-", "_")
        param = params.get(name)
        if param is None:
            raise ConfigError(
                f"--config {path}: unknown option {key!r} (see '{ctx.command_path} --help')"
            )
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT"):
            continue  # given on the command line: it wins
        if isinstance(value, (list, tuple)):
            value = ("x" if name == "size" else ",").join(str(v) for v in value)
        elif isinstance(value, dict):
            raise ConfigError(f"--config {path}: {key} must be a value, not a table")
        try:
            values[name] = param.process_value(ctx, value)  # the option's own conversion
        except click.exceptions.ClickException as exc:
            raise ConfigError(f"--config {path}: {key}: {exc.format_message()}") from None
    return values


# -- --open ---------------------------------------------------------------------------------------


def viewer_command() -> str:
    return "open" if sys.platform == "darwin" else "xdg-open"


def open_file(path: Path) -> str | None:
    """Show ``path`` in the desktop's viewer without waiting for it; None, or the one line saying
    why it could not be shown (the file is written either way)."""
    path = Path(path)
    if sys.platform.startswith("win"):  # pragma: no cover - Windows only
        try:
            os.startfile(path)  # type: ignore[attr-defined]
        except OSError as exc:
            return f"--open: cannot show {path} ({exc.strerror or exc}); the file is written"
        return None
    command = viewer_command()
    exe = shutil.which(command)
    if exe is None:
        return f"--open: no viewer found ({command} is not installed); the file is {path}"
    try:
        subprocess.Popen(
            [exe, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in this terminal must not close the viewer
        )
    except OSError as exc:
        return f"--open: cannot run {exe} ({exc.strerror or exc}); the file is {path}"
    return None


# -- ntkviz rerun SIDECAR -------------------------------------------------------------------------

SIDECAR_KEYS = ("figure", "output", "config", "seed", "style", "fps")


def read_sidecar(path: Path) -> dict[str, Any]:
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NtkvizError(f"cannot read {path} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise NtkvizError(f"{path} is not an ntkviz sidecar (not JSON)") from None
    missing = [k for k in SIDECAR_KEYS if not isinstance(record, dict) or k not in record]
    if missing:
        raise NtkvizError(f"{path} is not an ntkviz sidecar (no {', '.join(missing)})")
    return record


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def rerun_plan(
    sidecar: Path, output: Path | None, command: tuple[str, ...]
) -> tuple[Any, Any, Any, list[str]]:
    """(spec, config, RunOptions, version warnings) that reproduce the run ``sidecar`` records.

    Without ``output``: the recorded output beside the sidecar, with the recorded extra
    animations, --still, --data and --frames-dir (paths as recorded, from the current folder).
    With ``output``: that file alone (its suffix picks the format)."""
    import dataclasses

    from ntkviz.drawing.style import Style
    from ntkviz.figures import get
    from ntkviz.pipeline import RunOptions, versions

    sidecar = Path(sidecar)
    record = read_sidecar(sidecar)
    spec = get(record["figure"])
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = sorted(set(record["config"]) - fields)
    if unknown:
        raise NtkvizError(
            f"{sidecar}: {spec.name} has no option {unknown[0]!r} in this version of ntkviz"
        )
    try:
        config = cfg.validate(dataclasses.replace(spec.config_cls(), **_tuples(record["config"])))
        style = Style(**_tuples(record["style"])).check()
    except TypeError as exc:
        raise NtkvizError(f"{sidecar} is not an ntkviz sidecar ({exc})") from None
    recorded_output = Path(record["output"])
    if output is None:
        target = (
            sidecar.with_name(sidecar.name[: -len(".json")])
            if sidecar.name.endswith(".json")
            else sidecar.parent / recorded_output.name
        )
        extra = {
            "also": tuple(Path(p) for p in record.get("also") or ()),
            "still": Path(record["still"]) if record.get("still") else None,
            "data": Path(record["data"]) if record.get("data") else None,
            "frames_dir": Path(record["frames_dir"]) if record.get("frames_dir") else None,
        }
    else:
        target, extra = Path(output), {}
    options = RunOptions(
        output=target,
        style=style,
        fps=float(record["fps"]),
        seed=int(record["seed"]),
        device=record.get("device", "cpu"),
        dither=bool(record.get("dither", False)),
        quick=bool(record.get("quick", False)),
        hold=float(record.get("hold", 2.0)),
        command=command,
        **extra,
    )
    warnings = []
    recorded = record.get("versions") or {}
    installed = versions()
    differ = [
        f"{name} {recorded[name]} (installed: {installed.get(name)})"
        for name in recorded
        if recorded[name] != installed.get(name)
    ]
    if differ:
        warnings.append(
            f"{sidecar} was made with {', '.join(differ)}: the output may not be byte-identical"
        )
    return spec, config, options, warnings
