"""ntkviz.cli.errors: the one change ntkviz makes to typer must fail loudly if typer changes."""

from __future__ import annotations

import inspect

from typer.core import TyperOption

from ntkviz.cli import errors


def test_typer_still_has_what_the_process_value_patch_relies_on():
    errors.skip_coercion_of_absent_options()  # idempotent
    assert getattr(TyperOption.process_value, "_ntkviz", False), (
        "typer.core.TyperOption.process_value is not ntkviz's: typer changed; "
        "see ntkviz.cli.errors.skip_coercion_of_absent_options"
    )
    original = errors.PATCHED.get("original")
    assert original is not None, "typer has no TyperOption.process_value to patch"
    assert list(inspect.signature(original).parameters) == ["self", "ctx", "value"]
    option = _option("--seed")
    for attribute in ("required", "multiple", "nargs", "callback"):
        assert hasattr(option, attribute), f"TyperOption has no {attribute!r} any more"


def test_an_absent_option_is_none_and_a_given_one_is_converted():
    option = _option("--fps")
    assert option.default is None and not option.required
    ctx = errors.click.Context(option.command)
    assert option.process_value(ctx, None) is None
    assert option.process_value(ctx, "2.5") == 2.5


def _option(flag: str) -> TyperOption:
    """The option ``flag`` of the toy-model command, as the CLI builds it."""
    import typer

    from ntkviz.cli.app import build_app

    command = typer.main.get_command(build_app({"toy-model"})).commands["toy-model"]
    option = next(p for p in command.params if flag in p.opts)
    assert isinstance(option, TyperOption)
    option.command = command
    return option
