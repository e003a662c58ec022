"""The figures' names, help and options as data, so the command line starts without torch.

``ntkviz/registry.json`` (package data) holds what ``ntkviz --help``, ``ntkviz list``,
``ntkviz <figure> --help``, shell completion and the plain bounds checks need: each figure's name,
summary, static caption, animated flag, fps, options (name, kind, item type, help, default,
bounds, choices, lengths) and its own defaults of the shared options that have no one default
(:data:`ntkviz.options.FIGURE`: fps, size, dpi, output), which its ``--help`` shows. It is generated from the live figure modules::

    python -m ntkviz.registry --write

and a test regenerates it and fails if the shipped file is stale. Reading it imports only
``json``; generating it imports every figure (torch and matplotlib).
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("registry.json")
REFRESH = "python -m ntkviz.registry --write"
_BOUNDS = ("gt", "ge", "le", "lt", "choices", "length", "min_length")


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    """The shipped registry: {"figures": {name: entry}, "themes", "devices", "formats"}."""
    return json.loads(PATH.read_text(encoding="utf-8"))


def figures() -> dict[str, dict[str, Any]]:
    return load()["figures"]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _non_none(tp: Any) -> type:
    """``float | None`` -> float (the option may be left out, which the CLI does anyway)."""
    import typing

    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args and not isinstance(tp, type) else tp


def generate() -> dict[str, Any]:
    """The registry, from the live figure modules (imports torch and matplotlib)."""
    import dataclasses

    from ntkviz import config as cfg
    from ntkviz.figures import FIGURES
    from ntkviz.figures.base import static_caption
    from ntkviz.options import DEVICES, THEMES, figure_defaults
    from ntkviz.output import formats

    entries = {}
    for name, spec in FIGURES.items():
        defaults = spec.config_cls()
        options = []
        for field in dataclasses.fields(spec.config_cls):
            meta = field.metadata
            if not meta.get("cli", True):
                continue
            kind, item = cfg.field_kind(spec.config_cls, field)
            item = _non_none(item)
            option = {
                "name": field.name,
                "kind": kind,
                "item": item.__name__,
                "help": meta.get("help", ""),
                "default": _plain(getattr(defaults, field.name)),
            }
            option.update({k: _plain(meta.get(k)) for k in _BOUNDS if meta.get(k) is not None})
            options.append(option)
        entries[name] = {
            "name": name,
            "summary": spec.summary,
            "caption": static_caption(spec.caption) if spec.caption else "",
            "animated": spec.animated,
            "fps": spec.fps,
            "options": options,
            "defaults": {k: _plain(v) for k, v in figure_defaults(spec, spec.style).items()},
        }
    return {
        "figures": entries,
        "themes": list(THEMES),
        "devices": list(DEVICES),
        "formats": list(formats.FORMATS),
    }


def dumps(registry: dict[str, Any]) -> str:
    return json.dumps(registry, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = dumps(generate())
    if "--write" in argv:
        PATH.write_text(text, encoding="utf-8")
        print(f"wrote {PATH}")
        return 0
    if "--check" in argv:
        if PATH.exists() and PATH.read_text(encoding="utf-8") == text:
            return 0
        print(f"{PATH} is stale: refresh it with `{REFRESH}`", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
