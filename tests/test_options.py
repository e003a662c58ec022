"""ntkviz.options: every shared option once. A throw-away option registered here at run time
reaches the CLI, the API, the registry, the sidecar and rerun; every figure's --help shows that
figure's own defaults, each once."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

import ntkviz
from ntkviz import registry
from ntkviz.errors import ConfigError
from ntkviz.options import FIGURE, SHARED, Option, get, one_of, parse_size, register


def _shade_check(value: float) -> None:
    if not 0 <= value <= 1:
        raise ConfigError(f"--shade must be between 0 and 1 (got {value:g})")


@pytest.fixture
def throwaway():
    """Two options no figure knows: --shade (a run setting whose default is each figure's
    own) and --stamp (an option of saving), both recorded in the sidecar."""
    added = [
        register(
            Option(
                "shade",
                ("--shade",),
                float,
                FIGURE,
                "A throw-away shade.",
                check=_shade_check,
                where="run",
                record="setting",
                own=lambda spec, style: len(spec.name) / 100,
            )
        ),
        register(
            Option(
                "stamp",
                ("--stamp",),
                str,
                "plain",
                "A throw-away stamp.",
                check=one_of("--stamp", ("plain", "fancy")),
                where="save",
                record="setting",
            )
        ),
    ]
    yield added
    for option in added:
        SHARED.remove(option)


def _app(monkeypatch, figures=None):
    from ntkviz.cli import app as cli_app

    if figures is not None:
        monkeypatch.setattr(cli_app, "FIGURES", figures)
    app = cli_app.build_app()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_a_registered_option_reaches_cli_api_registry_sidecar_and_rerun(
    throwaway, monkeypatch, tmp_path
):
    # the registry records the figure's own default of a FIGURE option
    generated = registry.generate()
    assert generated["figures"]["toy-model"]["defaults"]["shade"] == pytest.approx(0.09)
    # --help, with that default, built from the registry
    cli = _app(monkeypatch, generated["figures"])
    help_text = _flat(cli("toy-model", "--help").output)
    assert "--shade <float> A throw-away shade. [default: 0.09]" in help_text
    assert "--stamp <str> A throw-away stamp. [default: plain]" in help_text
    # the command line: checked before anything runs, recorded in the sidecar
    bad = cli("toy-model", "--shade", "2")
    assert bad.exit_code == 2 and "--shade must be between 0 and 1 (got 2)" in bad.stderr
    out = tmp_path / "cli.gif"
    done = cli("toy-model", "--quick", "--shade", "0.4", "--stamp", "fancy", "-o", out, "-q")
    assert done.exit_code == 0, done.output
    record = json.loads((tmp_path / "cli.gif.json").read_text())
    assert record["shade"] == 0.4 and record["stamp"] == "fancy"
    # left out: the figure's own default (shade) and the plain one (stamp)
    assert cli("toy-model", "--quick", "-o", tmp_path / "d.gif", "-q").exit_code == 0
    record = json.loads((tmp_path / "d.gif.json").read_text())
    assert record["shade"] == pytest.approx(0.09) and record["stamp"] == "plain"
    # --config files name it too
    config = tmp_path / "c.toml"
    config.write_text("shade = 0.7\n")
    assert (
        cli("toy-model", "--quick", "--config", config, "-o", tmp_path / "e.gif", "-q").exit_code
        == 0
    )
    assert json.loads((tmp_path / "e.gif.json").read_text())["shade"] == 0.7

    # the API: render() takes the run option, save() the option of saving
    anim = ntkviz.render("toy-model", quick=True, shade=0.3)
    assert anim.options.extra["shade"] == 0.3 and "--shade" in anim.command
    with pytest.raises(ConfigError, match="--shade must be between 0 and 1"):
        ntkviz.render("toy-model", quick=True, shade=1.5)
    with pytest.raises(ConfigError, match=r"stamp is an option of saving: \.save"):
        ntkviz.render("toy-model", quick=True, stamp="fancy")
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        anim.save(tmp_path / "x.gif", nope=1)
    with pytest.raises(ConfigError, match="--stamp must be one of plain, fancy"):
        anim.save(tmp_path / "x.gif", stamp="odd")
    record = anim.save(tmp_path / "api.gif", stamp="fancy")
    saved = json.loads((tmp_path / "api.gif.json").read_text())
    assert saved["shade"] == record["shade"] == 0.3 and saved["stamp"] == "fancy"
    assert saved["command"][-2:] == ["--stamp", "fancy"]

    # rerun reads it back from the sidecar
    again = cli("rerun", tmp_path / "api.gif.json", "-o", tmp_path / "again.gif", "-q")
    assert again.exit_code == 0, again.output
    rerun = json.loads((tmp_path / "again.gif.json").read_text())
    assert rerun["shade"] == 0.3 and rerun["stamp"] == "fancy"
    assert (tmp_path / "again.gif").read_bytes() == (tmp_path / "api.gif").read_bytes()


def test_every_figures_help_shows_its_own_defaults_once(cli):
    figures = registry.figures()
    for name, entry in figures.items():
        result = cli(name, "--help")
        assert result.exit_code == 0, result.output
        text = _flat(result.output)
        fps = entry["fps"]
        width, height = entry["defaults"]["size"].split("x")
        assert f"--fps <float> Frames per second. [default: {fps:g}]" in text, name
        assert f"WxH. [default: {entry['defaults']['size']}]" in text
        assert float(width) > 0 and float(height) > 0
        assert f"Pixels per inch. [default: {entry['defaults']['dpi']:g}]" in text
        suffix = ".gif" if entry["animated"] else ".png"
        assert f"[default: {name}{suffix}]" in text
        assert f"before it loops. [default: {get('hold').default:g}]" in text
        assert not re.search(r"\[default: [^\]]*\]\s*\[default:", text), name
    # the three whose fps is not the usual 10
    assert [figures[n]["fps"] for n in ("hessian-structure", "kappa-scaling")] == [1, 2]
    assert figures["ntk-convergence"]["fps"] == 1
    gallery = _flat(cli("gallery", "--help").output)
    assert "[default: the number of cores]" in gallery
    assert not re.search(r"\[default: [^\]]*\]\s*\[default:", gallery)


def test_figure_defaults_are_the_figures_style_and_fps():
    from ntkviz.figures import FIGURES

    for name, spec in FIGURES.items():
        own = registry.figures()[name]["defaults"]
        assert own["fps"] == spec.fps
        assert parse_size(own["size"]) == tuple(spec.style.size)
        assert own["dpi"] == spec.style.dpi


def test_the_checks_are_the_ones_the_cli_and_api_use(cli):
    for args, message in [
        (("--seed", "-1"), "--seed must be between 0 and 2^63 - 1 (got -1)"),
        (("--jobs", "-2"), "--jobs must be >= 0, 0 meaning one per core (got -2)"),
        (("--size", "12by9"), "--size must look like WxH in inches"),
        (("--theme", "pink"), "--theme must be one of light, dark (got 'pink')"),
        (("--device", "tpu"), "--device must be one of cpu, cuda, cuda:N, mps (got 'tpu')"),
        (("--hold", "601"), "--hold must be between 0 and 600 seconds (got 601)"),
    ]:
        result = cli("toy-model", *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
        keyword, value = args[0].lstrip("-"), args[1]
        with pytest.raises(ConfigError, match=re.escape(message)):
            if get(keyword).where == "run":
                ntkviz.render("toy-model", quick=True, **{keyword: value})
            else:  # save()'s: the same check
                get(keyword).validate(int(value))
    gallery = cli("gallery", "--jobs", "-1")
    assert gallery.exit_code == 2 and "--jobs must be >= 0" in gallery.stderr


def test_options_are_data():
    assert [o.name for o in SHARED][:4] == ["output", "fps", "size", "dpi"]
    assert {o.name for o in SHARED if o.default is FIGURE} == {"output", "fps", "size", "dpi"}
    assert get("dither").flags == ("--dither/--no-dither",) and get("dither").flag == "--dither"
    assert get("jobs").keyword_default == 1 and get("jobs").default == 0
    with pytest.raises(ValueError, match="exists already"):
        register(Option("seed", ("--seed",), int, 0, "again"))
    with pytest.raises(ValueError, match="needs own"):
        Option("x", ("--x",), int, FIGURE, "no own")
    assert parse_size("12*9") == (12.0, 9.0)
    with pytest.raises(ConfigError, match="--size must look like WxH"):
        parse_size("12x9x3")


def test_render_and_save_keywords_are_the_shared_options():
    import inspect

    from ntkviz.api import render

    signature = inspect.signature(render)
    assert signature.parameters["quick"].default is get("quick").default
    assert signature.parameters["seed"].default == get("seed").default


def test_package_dir_is_the_public_api():
    assert dir(ntkviz) == sorted(ntkviz.__all__)
    assert "passive_wait" not in dir(ntkviz) and "Any" not in dir(ntkviz)
    import importlib

    module = importlib.import_module("ntkviz.options")  # the submodule, loaded
    assert module.SHARED is SHARED
    # ... does not hide the API's function of that name
    assert callable(ntkviz.options) and ntkviz.options("toy-model")["frames"] == 100


# -- one schema of a value, wherever it comes from (command line, --config, sidecar, API) ------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("seed", 5, 5),
        ("seed", 5.0, 5),
        ("seed", "5", ConfigError),  # from a file a string is no number...
        ("seed", True, ConfigError),  # ...and true is no 1
        ("seed", 2**70, "--seed must be between 0 and 2^63 - 1"),
        ("seed", -5, "--seed must be between 0 and 2^63 - 1 (got -5)"),
        ("seed", 10**4000, "--seed is out of range (got a whole number of about 4001 digits)"),
        ("fps", 12, 12.0),
        ("fps", float("nan"), "--fps must be a finite number"),
        ("fps", 10**400, "--fps is out of range"),
        ("hold", "abc", "Invalid value for '--hold': must be a number (got 'abc')"),
        ("quick", "false", "Invalid value for '--quick': must be true or false (got 'false')"),
        ("quick", 0, "Invalid value for '--quick': must be true or false (got 0)"),
        ("theme", ["dark"], "Invalid value for '--theme': must be text"),
        ("still", 123, "Invalid value for '--still': must be a file name (got 123)"),
        ("still", "", "Invalid value for '--still': must be a file name"),
        ("size", [3, 2], "3x2"),
        ("size", [3], "--size must be two numbers, WxH (got [3])"),
        ("size", "1e999x2", "--size must be a finite number"),
        ("size", [True, 2], "Invalid value for '--size': must be a number (got True)"),
    ],
)
def test_coerce_is_the_one_check_of_a_value(name, value, expected):
    option = get(name)
    if isinstance(expected, str) and expected.startswith(("--", "Invalid")):
        with pytest.raises(ConfigError) as raised:
            option.coerce(value)
        assert str(raised.value).startswith(expected), str(raised.value)
    elif expected is ConfigError:
        with pytest.raises(ConfigError):
            option.coerce(value)
    else:
        got = option.coerce(value)
        assert got == expected and type(got) is type(expected)


def test_coerce_takes_numpy_scalars_and_the_command_lines_strings():
    import numpy as np

    assert get("seed").coerce(np.int64(7)) == 7
    assert type(get("dpi").coerce(np.float32(40))) is float
    assert get("dither").coerce(np.bool_(True)) is True
    assert get("seed").coerce(" 7 ", text=True) == 7  # the API parses as the CLI does
    with pytest.raises(ConfigError, match="must be a whole number"):
        get("seed").coerce("9" * 5000, text=True)  # past Python's 4,300 digits


def test_settings_files_are_read_bounded(tmp_path):
    from ntkviz.config import MAX_FILE_BYTES, load_json, read_small_file

    small = tmp_path / "s.json"
    small.write_bytes(b"x" * MAX_FILE_BYTES)
    assert len(read_small_file(small, "s")) == MAX_FILE_BYTES
    small.write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than 1 MB"):
        read_small_file(small, "s")
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_small_file(tmp_path, "s")
    for bad in (b"[" * 100_000, b"9" * 5000, b"\xff"):
        with pytest.raises(ValueError):
            load_json(bad)
