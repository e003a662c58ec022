"""``--config FILE.toml`` / ``FILE.json``: options read from a file; the command line wins."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ntkviz.config import ITEM_TYPES, load_json, option_name, read_small_file, typed
from ntkviz.errors import ConfigError
from ntkviz.options import get as shared_option


def read_config_file(path: Path) -> dict[str, Any]:
    """The table of options in a .toml or .json file, or one line saying why not."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"--config must name a .toml or .json file (got {path})")
    data = read_small_file(path, f"--config {path}")
    if suffix == ".json":
        try:
            table = load_json(data)
        except ValueError as exc:  # bad JSON, too deep, a 5,000-digit number
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
        except RecursionError:
            raise ConfigError(f"--config {path} is not valid TOML (nested too deeply)") from None
        except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError, a 5,000-digit number
            raise ConfigError(f"--config {path} is not valid TOML ({exc})") from None
    if not isinstance(table, dict):
        raise ConfigError(
            f"--config {path} must hold a table of options (got {type(table).__name__})"
        )
    return table


def apply_config_file(
    ctx: Any, path: Path, values: dict[str, Any], entry: Mapping[str, Any]
) -> dict[str, Any]:
    """``values`` with the options of the config file filled in, where the command line did not
    give them (the command line wins). Keys are option names with - or _ (``alpha-max``). Each
    value is typed by the schema every source goes through (:func:`ntkviz.config.typed`,
    :meth:`ntkviz.options.Option.coerce`): ``frames = true`` or ``seed = "5"`` is refused, not
    read as 1 or 5; the bounds are checked after, with the command line's."""
    params = {p.name for p in ctx.command.params if p.name not in ("config",)}
    own = {o["name"]: o for o in entry["options"]}
    table = read_config_file(path)
    values = dict(values)
    spelled: dict[str, str] = {}
    for key, value in table.items():
        name = str(key).strip().lstrip("-").replace("-", "_")
        if name not in params:
            raise ConfigError(
                f"--config {path}: unknown option {str(key)[:60]!r} "
                f"(see '{ctx.command_path} --help')"
            )
        if name in spelled:  # alpha-max and alpha_max: which one was meant is not ours to guess
            raise ConfigError(
                f"--config {path}: {spelled[name]!r} and {str(key)[:60]!r} are the same option "
                "given twice: keep one"
            )
        spelled[name] = str(key)[:60]
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT"):
            continue  # given on the command line: it wins
        try:
            if name in own:
                meta = own[name]
                item = ITEM_TYPES.get(meta["item"], float)
                flag = option_name(name)
                if meta["kind"] == "tuple":
                    value = typed(flag, value, "tuple")
                    if isinstance(value, list):
                        value = tuple(typed(flag, v, item) for v in value)
                else:
                    value = typed(flag, value, item)
            else:
                value = shared_option(name).coerce(value)
        except ConfigError as exc:
            raise ConfigError(f"--config {path}: {exc}") from None
        values[name] = value
    return values
