"""Bool options through the API (a figure's own, kappa-scaling's --show-alpha/--no-show-alpha, and
saving's --dither/--no-dither), True and False: the sidecar's config is the CLI's, and the
command the sidecar records, run by the CLI, makes the same config and the same file."""

from __future__ import annotations

import json

import pytest
from conftest import TINY

import ntkviz

SMALL = {"size": "3x2", "dpi": 40, "hold": 0}  # the API's spelling of TINY


@pytest.mark.parametrize("show_alpha,dither", [(True, True), (False, False)], ids=["true", "false"])
def test_bool_options_reproduce_the_clis_sidecar(cli, tmp_path, show_alpha, dither):
    anim = ntkviz.render("kappa-scaling", quick=True, show_alpha=show_alpha, **SMALL)
    assert anim.config.show_alpha is show_alpha
    api = tmp_path / "api.gif"
    anim.save(api, dither=dither)
    recorded = json.loads((tmp_path / "api.gif.json").read_text())

    # the CLI, spelled by hand
    flags = ["--show-alpha" if show_alpha else "--no-show-alpha"]
    flags += ["--dither" if dither else "--no-dither"]
    by_hand = tmp_path / "cli.gif"
    result = cli("kappa-scaling", "--quick", *flags, "-o", by_hand, *TINY)
    assert result.exit_code == 0, result.output
    cli_sidecar = json.loads((tmp_path / "cli.gif.json").read_text())
    assert recorded["config"] == cli_sidecar["config"]
    assert recorded["config"]["show_alpha"] is show_alpha
    assert recorded["dither"] is cli_sidecar["dither"] is dither
    assert api.read_bytes() == by_hand.read_bytes()

    # the command the API recorded says the same, and makes the same thing
    command = recorded["command"]
    assert command[:2] == ["ntkviz", "kappa-scaling"]
    assert ("--show-alpha" in command) is show_alpha
    assert "--no-show-alpha" not in command or not show_alpha
    assert ("--dither" in command) is dither
    assert "--no-dither" not in command or not dither
    words = list(command[1:])
    at = words.index("-o")
    again = tmp_path / "again.gif"
    words[at + 1] = str(again)
    result = cli(*words, "--no-progress")
    assert result.exit_code == 0, result.output
    rerun = json.loads((tmp_path / "again.gif.json").read_text())
    assert rerun["config"] == recorded["config"]
    assert rerun["dither"] is dither
    assert again.read_bytes() == api.read_bytes()
