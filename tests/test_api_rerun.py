"""ntkviz.rerun and ntkviz.load_sidecar: the CLI's ``rerun`` from Python, on the same code
(ntkviz.sidecar.load), with the same bytes; the package's namespace is its public API."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ntkviz
from tests.conftest import TINY

ARGS = ["kappa-scaling", "--quick", *TINY]


@pytest.fixture
def recorded(cli, tmp_path):
    out = tmp_path / "k.gif"
    result = cli(*ARGS, "--dither", "--seed", "3", "-o", out)
    assert result.exit_code == 0, result.output
    return out


def test_api_rerun_writes_the_cli_reruns_bytes(cli, recorded, tmp_path):
    result = cli("rerun", f"{recorded}.json", "-o", tmp_path / "cli.gif", "--no-progress")
    assert result.exit_code == 0, result.output
    anim = ntkviz.rerun(f"{recorded}.json")
    anim.save(tmp_path / "api.gif")  # the recorded --dither is save()'s default here
    assert (tmp_path / "api.gif").read_bytes() == (tmp_path / "cli.gif").read_bytes()
    assert (tmp_path / "api.gif").read_bytes() == recorded.read_bytes()
    assert json.loads((tmp_path / "api.gif.json").read_text())["dither"] is True


def test_a_reruns_command_makes_the_same_file(cli, recorded, tmp_path):
    anim = ntkviz.rerun(f"{recorded}.json")
    assert anim.command[:2] == ["ntkviz", "kappa-scaling"] and "--quick" in anim.command
    words = [*anim.command[1:], "--dither", "-o", tmp_path / "again.gif", "--no-progress"]
    assert cli(*words).exit_code == 0
    assert (tmp_path / "again.gif").read_bytes() == recorded.read_bytes()


@pytest.mark.parametrize(
    "look",
    [
        ["--style", "paper", "--legend", "outside", "--no-layout-check"],
        ["--font-size", "7.5", "--no-title", "--theme", "dark", "--size", "4x3"],
    ],
    ids=["paper", "web-options"],
)
def test_a_reruns_command_keeps_the_look(cli, tmp_path, look):
    """The command of a rerun spells the --style preset and the look's options that differ from
    what the preset makes, so that it writes the recorded bytes."""
    out = tmp_path / "k.gif"
    assert cli("kappa-scaling", "--quick", "--no-progress", *look, "-o", out).exit_code == 0
    command = ntkviz.rerun(f"{out}.json").command
    assert cli(*command[1:], "-o", tmp_path / "again.gif", "--no-progress").exit_code == 0
    assert (tmp_path / "again.gif").read_bytes() == out.read_bytes()


def test_overrides_replace_the_recorded_values(recorded):
    anim = ntkviz.rerun(f"{recorded}.json", seed=5, seeds=3)
    fresh = ntkviz.render("kappa-scaling", quick=True, seed=5, seeds=3, size="3x2", dpi=40)
    assert anim.options.seed == 5 and anim.config == fresh.config
    for key, value in fresh.arrays.items():
        np.testing.assert_array_equal(anim.arrays[key], value)
    with pytest.raises(ntkviz.ConfigError, match="quick is the sidecar's"):
        ntkviz.rerun(f"{recorded}.json", quick=False)
    with pytest.raises(ntkviz.ConfigError, match="No such option: seedz"):
        ntkviz.rerun(f"{recorded}.json", seedz=3)


def test_load_sidecar_gives_the_typed_run(recorded):
    run = ntkviz.load_sidecar(f"{recorded}.json")
    fresh = ntkviz.configure("kappa-scaling", quick=True)
    assert run.figure == "kappa-scaling" and run.config == fresh
    assert run.settings["seed"] == 3 and run.settings["dither"] is True
    assert run.settings["quick"] is True and tuple(run.style.size) == (3.0, 2.0)


def test_load_sidecar_refuses_what_is_no_sidecar(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(ntkviz.ConfigError, match="is not an ntkviz sidecar"):
        ntkviz.load_sidecar(tmp_path / "x.json")
    with pytest.raises(TypeError, match="must be a file name"):
        ntkviz.load_sidecar(3)


def test_the_namespace_is_the_public_api():
    public = set(ntkviz.__all__)
    assert {"rerun", "load_sidecar", "render", "configure", "Animation"} <= public
    assert dir(ntkviz) == sorted(public)
    assert not public & {"Any", "annotations", "passive_wait", "threads", "sys", "types"}
    for name in public:
        assert getattr(ntkviz, name) is not None and not isinstance(
            getattr(ntkviz, name), type(ntkviz)
        )


def test_a_commands_numbers_keep_every_digit(cli, tmp_path):
    """A float that six significant digits would round (the command of a figure made from Python
    once read --x 0.123457 for x=0.123456789) is spelled exactly, so the command makes the same
    file."""
    out = tmp_path / "k.gif"
    anim = ntkviz.render("kappa-scaling", quick=True, x=0.123456789, alpha=2.5, hold=0)
    anim.save(out)
    command = json.loads(out.with_name("k.gif.json").read_text())["command"]
    assert command[command.index("--x") + 1] == "0.123456789"
    assert command[command.index("--alpha") + 1] == "2.5"  # short where short is exact
    again = ntkviz.rerun(f"{out}.json").command
    assert again[again.index("--x") + 1] == "0.123456789"
    assert cli(*command[1:], "-o", tmp_path / "again.gif", "--no-progress").exit_code == 0
    assert (tmp_path / "again.gif").read_bytes() == out.read_bytes()
