"""``--config FILE.toml`` / ``FILE.json``: options read from a file; the command line wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ntkviz.errors import ConfigError


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
    from ntkviz.cli.errors import click

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
