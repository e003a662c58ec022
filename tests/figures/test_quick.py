"""--quick says what it changed (issue 24): the sidecar's "quick_changed" and the caption name
every setting the preset moved from the figure's defaults, the experiment (widths, steps, nets,
trials, inputs: other numbers) apart from its resolution (frames, grid points, dpi)."""

from __future__ import annotations

import json

import pytest
from conftest import TINY

import ntkviz
from ntkviz.figures import FIGURES
from ntkviz.figures.base import QUICK_DPI_FACTOR, defaults, quick_changes, quick_note

NO_DPI = [w for w in TINY if w not in ("--dpi", "40")]  # the preset's own dpi


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_setting_the_preset_moves_is_listed_and_said(name):
    spec = FIGURES[name]
    config, style = defaults(spec, quick=True)
    post = spec.config_cls()
    changes = quick_changes(spec, config, style.dpi)
    moved = {k for k, v in spec.quick.items() if getattr(post, k) != v}
    assert set(changes) == moved | {"dpi"}
    assert changes["dpi"] == {
        "value": spec.style.dpi * QUICK_DPI_FACTOR,
        "default": spec.style.dpi,
        "kind": "resolution",
    }
    note = quick_note(changes)
    for key, change in changes.items():
        assert change["kind"] in ("experiment", "resolution")
        default = change["default"]
        shown = len(default) if isinstance(default, list) else default
        assert f"(not {shown:g})" in note or f"(not {','.join(map(str, default))})" in note, key
    assert ("ran a smaller experiment" in note) == any(
        c["kind"] == "experiment" for c in changes.values()
    )


def test_which_settings_are_resolution_and_which_the_experiment():
    kinds = {
        name: {k: c["kind"] for k, c in quick_changes(s, defaults(s, True)[0]).items()}
        for name, s in FIGURES.items()
    }
    assert kinds["toy-model"] == {"frames": "resolution", "points": "resolution"}
    assert kinds["kernel-change"] == {"steps": "experiment", "trials": "experiment"}
    assert kinds["ntk-convergence"] == {"widths": "experiment", "points": "resolution"}
    # kernel-spectrum's points are the data's inputs, not a drawing grid
    assert kinds["kernel-spectrum"]["points"] == "experiment"
    assert kinds["weight-matrix"]["snapshot_every"] == "resolution"


def test_the_note_words_counts_and_lists():
    spec = FIGURES["ntk-convergence"]
    config, style = defaults(spec, quick=True)
    note = quick_note(quick_changes(spec, config, style.dpi))
    assert note == (
        "--quick ran a smaller experiment: 5 widths (not 7); and drew it coarser: "
        "61 grid points (not 121), 36 dpi (not 72)."
    )
    spec = FIGURES["generalization"]
    note = quick_note(quick_changes(spec, defaults(spec, True)[0]))
    assert "500 steps (not 625)" in note and "widths 100,500 (not 100,1000)" in note


def test_a_value_the_run_gave_is_its_own_not_quicks(cli, tmp_path):
    # --quick --frames 2 --dpi 40: frames and dpi are the user's; points is the preset's
    out = tmp_path / "q.gif"
    assert cli("toy-model", "-o", out, "--quick", "--frames", 2, *TINY).exit_code == 0
    sidecar = json.loads((tmp_path / "q.gif.json").read_text())
    assert sidecar["quick_changed"] == {
        "points": {"value": 200, "default": 400, "kind": "resolution"}
    }
    assert sidecar["caption"].endswith("--quick drew it coarser: 200 grid points (not 400).")


@pytest.mark.parametrize(
    "words, changed, experiment",
    [
        (["toy-model"], {"frames", "points", "dpi"}, False),
        (["kernel-change", "--alphas", "1,10", "--width", "20"], {"steps", "trials", "dpi"}, True),
        (["ntk-convergence", "--seeds", "3"], {"widths", "points", "dpi"}, True),
    ],
)
def test_the_sidecar_and_caption_say_what_quick_changed(cli, tmp_path, words, changed, experiment):
    out = tmp_path / f"q.{'png' if words[0] == 'kernel-change' else 'gif'}"
    result = cli(*words, "-o", out, "--quick", *NO_DPI)
    assert result.exit_code == 0, result.output
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    assert set(sidecar["quick_changed"]) == changed
    for key, change in sidecar["quick_changed"].items():
        if key != "dpi":
            assert sidecar["config"][key] == change["value"]  # what the run used
            assert change["default"] != change["value"]
    assert ("--quick ran a smaller experiment" in sidecar["caption"]) == experiment
    assert "drew it coarser" in sidecar["caption"]
    assert sidecar["caption"].endswith(quick_note(sidecar["quick_changed"]))


def test_without_quick_nothing_is_said(cli, tmp_path):
    out = tmp_path / "t.gif"
    assert cli("toy-model", "-o", out, "--frames", 2, *TINY).exit_code == 0
    sidecar = json.loads((tmp_path / "t.gif.json").read_text())
    assert "quick_changed" not in sidecar and "--quick" not in sidecar["caption"]


def test_the_api_caption_says_it_too():
    anim = ntkviz.render("toy-model", quick=True, frames=2, size=(3, 2))
    assert anim.caption.endswith(
        "--quick drew it coarser: 200 grid points (not 400), 36 dpi (not 72)."
    )
    assert "--quick" not in ntkviz.render("toy-model", frames=2, size=(3, 2), dpi=30).caption
