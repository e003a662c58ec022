"""The Python API (ntkviz.list_figures/options/configure/render): the CLI one to one."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY, gif_frames

import ntkviz
from ntkviz.errors import ConfigError

# The API's spelling of TINY (--size 3x2 --dpi 40 --hold 0)
SMALL = {"size": "3x2", "dpi": 40, "hold": 0}


def test_import_is_cheap_and_lazy():
    code = (
        "import sys, ntkviz; heavy = [m for m in ('torch', 'matplotlib', 'numpy', 'ntkviz.api')"
        " if m in sys.modules]; print(heavy); print(callable(ntkviz.render))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]


def test_figures_and_options_mirror_the_cli():
    from ntkviz.figures import FIGURES

    names = ntkviz.list_figures()
    assert list(names) == list(FIGURES)
    assert names["toy-model"] == FIGURES["toy-model"].summary
    options = ntkviz.options("toy-model")
    config = FIGURES["toy-model"].config_cls()
    assert options["frames"] == 100 and options["f_limits"] == config.f_limits
    with pytest.raises(ConfigError, match="unknown figure 'nope'"):
        ntkviz.options("nope")


def test_configure_is_the_clis_config():
    from ntkviz.cli.app import build_run

    config = ntkviz.configure("ntk-ellipses", quick=True, alphas=[0.1, 1], width=50)
    assert config.alphas == (0.1, 1.0) and config.width == 50 and config.steps == 2000
    assert ntkviz.configure("ntk-ellipses", alphas="0.1,1") == ntkviz.configure(
        "ntk-ellipses", alphas=(0.1, 1)
    )
    values = {name: None for name in ntkviz.options("toy-model")}
    values.update(frames=7, output=None, fps=None, size=None, dpi=None, seed=0, device="cpu")
    values.update(theme="light", data=None, still=None, frames_dir=None, hold=2.0, dither=False)
    values.update(jobs=0, quick=False, quiet=True, progress=False, replace_frames=False)
    config, _, _ = build_run(_spec("toy-model"), values)
    assert config == ntkviz.configure("toy-model", frames=7)


def _spec(name):
    from ntkviz.figures import get

    return get(name)


@pytest.mark.parametrize(
    "options, cli_args",
    [
        ({"frames": 0}, ["--frames", "0"]),
        ({"alpha_min": 10, "alpha_max": 1}, ["--alpha-min", "10", "--alpha-max", "1"]),
        ({"f_limits": (1, 2, 3)}, ["--f-limits", "1,2,3"]),
        ({"f_limits": "1,x"}, ["--f-limits", "1,x"]),
        ({"theme": "blue"}, ["--theme", "blue"]),
        ({"dpi": -1}, ["--dpi", "-1"]),
        ({"size": "3y2"}, ["--size", "3y2"]),
        ({"fps": 500}, ["--fps", "500"]),
        ({"hold": -1}, ["--hold", "-1"]),
        ({"seed": -1}, ["--seed", "-1"]),
        ({"device": "tpu"}, ["--device", "tpu"]),
    ],
)
def test_bad_options_raise_the_clis_message(options, cli_args, cli, tmp_path):
    result = cli("toy-model", *TINY, *cli_args, "-o", tmp_path / "x.gif")
    assert result.exit_code == 2
    message = result.output.strip().removeprefix("Error: ")
    with pytest.raises(ConfigError) as raised:
        ntkviz.render("toy-model", **options)
    assert str(raised.value) == message


def test_bad_keywords_and_types_are_config_errors():
    with pytest.raises(ConfigError, match=r"No such option: framez \(Possible options: frames\)"):
        ntkviz.render("toy-model", framez=3)
    with pytest.raises(ConfigError, match="Invalid value for '--frames': must be a whole number"):
        ntkviz.render("toy-model", frames="abc")
    with pytest.raises(ConfigError, match="Invalid value for '--alpha-max'"):
        ntkviz.configure("toy-model", alpha_max=[1])
    with pytest.raises(ConfigError, match=r"jobs is an option of saving: .save\(path, jobs=...\)"):
        ntkviz.render("toy-model", jobs=2)
    with pytest.raises(ConfigError, match="Invalid value for '--quick'"):
        ntkviz.render("toy-model", quick="yes")


def test_render_holds_result_config_and_frames(capsys):
    anim = ntkviz.render("ntk-ellipses", quick=True, **SMALL, alphas=(0.1, 10), frames=5)
    assert capsys.readouterr() == ("", "")  # nothing printed unless asked
    assert anim.config.alphas == (0.1, 10.0) and anim.config.frames == 5
    assert anim.result.kernels.shape[:2] == (6, 2)  # the initial snapshot and 5 frames
    assert set(anim.arrays) >= {"kernels", "steps"} and "{" not in anim.caption
    # step 0 and the 5 frames after it
    assert len(anim) == 6 and anim.frame(0).shape == (80, 120, 4)
    assert anim.frame(-1).shape == anim.still().shape
    with pytest.raises(IndexError):
        anim.frame(6)
    assert anim.command[:3] == ["ntkviz", "ntk-ellipses", "--alphas"]
    assert "--quick" in anim.command and "ntk-ellipses" in repr(anim)


def test_save_is_byte_identical_to_the_clis(cli, tmp_path):
    args = ["--quick", "--frames", "6", "--alpha-max", "50"]
    result = cli("toy-model", *args, "-o", tmp_path / "cli.gif", *TINY)
    assert result.exit_code == 0, result.output
    anim = ntkviz.render("toy-model", quick=True, frames=6, alpha_max=50, **SMALL)
    report = anim.save(tmp_path / "api.gif", still=tmp_path / "api.png")
    assert (tmp_path / "api.gif").read_bytes() == (tmp_path / "cli.gif").read_bytes()
    # and the player page
    assert cli("toy-model", *args, "-o", tmp_path / "cli.html", *TINY).exit_code == 0
    anim.save(tmp_path / "api.html", sidecar=False)
    assert (tmp_path / "api.html").read_bytes() == (tmp_path / "cli.html").read_bytes()
    sidecar = json.loads((tmp_path / "api.gif.json").read_text())
    cli_sidecar = json.loads((tmp_path / "cli.gif.json").read_text())
    assert sidecar == report
    same = ("figure", "frames", "width", "height", "bytes", "config", "style", "caption", "seed")
    assert {k: sidecar[k] for k in same} == {k: cli_sidecar[k] for k in same}
    # the sidecar's command makes the same file from the shell
    assert sidecar["command"][:2] == ["ntkviz", "toy-model"] and "--still" in sidecar["command"]
    frames, _, _ = gif_frames(tmp_path / "api.gif")
    assert len(frames) == 6 and frames[0].shape == anim.frame(0)[..., :3].shape
    from PIL import Image

    with Image.open(tmp_path / "api.png") as still:  # the key frame as the GIF shows it, exactly
        shown = np.asarray(still.convert("RGB"))
    np.testing.assert_array_equal(shown, frames[anim.renderer.key_frame])
    assert np.abs(shown.astype(int) - anim.still()[..., :3]).mean() < 2  # up to its palette


def test_save_every_format_atomically(tmp_path):
    anim = ntkviz.render("toy-model", quick=True, frames=4, **SMALL)
    for suffix in (".gif", ".webp", ".html", ".png", ".mp4"):
        report = anim.save(tmp_path / f"t{suffix}")
        assert report["format"] == suffix[1:] and (tmp_path / f"t{suffix}.json").is_file()
    anim.save(tmp_path / "numbers.npz")
    with np.load(tmp_path / "numbers.npz") as data:
        assert json.loads(str(data["__config__"]))["config"]["frames"] == 4
    with pytest.raises(ConfigError, match="unknown output format '.avi'"):
        anim.save(tmp_path / "t.avi")
    with pytest.raises(ConfigError, match="folder .* does not exist"):
        anim.save(tmp_path / "missing" / "t.gif")
    leftovers = [p.name for p in tmp_path.iterdir() if ".part" in p.name or ".probe" in p.name]
    assert leftovers == []


def test_repr_html_is_the_player_and_a_still_figure_is_an_image():
    anim = ntkviz.render("toy-model", quick=True, frames=3, **SMALL)
    first, second = anim._repr_html_(), anim._repr_html_()
    assert 'class="ntkviz-player"' in first and "np-slider" in first
    assert first != second  # each display gets its own id
    still = ntkviz.render("kernel-change", quick=True, **SMALL, alphas=(1, 10), width=20, steps=20)
    page = still._repr_html_()
    assert "data:image/png;base64," in page and "ntkviz-player" not in page


def test_oversized_inline_player_falls_back_to_the_still(monkeypatch):
    from ntkviz import api

    monkeypatch.setattr(api, "MAX_INLINE_BYTES", 100)
    page = ntkviz.render("toy-model", quick=True, frames=3, **SMALL)._repr_html_()
    assert "too large to show inline" in page and "ntkviz-player" not in page


def test_progress_only_when_asked(tmp_path, capsys):
    anim = ntkviz.render("toy-model", quick=True, frames=3, progress=True, **SMALL)
    anim.save(tmp_path / "p.gif")
    assert capsys.readouterr().out == ""  # a bar (tqdm's, else Rich's on stderr), never stdout
    quiet = ntkviz.render("toy-model", quick=True, frames=3, **SMALL)
    quiet.save(tmp_path / "q.gif")
    assert capsys.readouterr() == ("", "")


def test_numpy_scalars_are_their_python_values():
    """Notebooks hand over np.int64 and np.float32: taken as the int and float they are, and
    checked as such (a np.bool_ is no number, a non-integral np.float64 no count)."""
    import numpy as np

    config = ntkviz.configure("toy-model", frames=np.int64(4), alpha_max=np.float32(40))
    assert config.frames == 4 and type(config.frames) is int
    assert config.alpha_max == 40.0 and type(config.alpha_max) is float
    anim = ntkviz.render(
        "toy-model", frames=np.int64(4), dpi=np.float32(40), size=(np.int32(3), 2), seed=np.int8(3)
    )
    assert anim.options.style.dpi == 40.0 and anim.options.seed == 3
    assert anim.frame(0).shape == (80, 120, 4)
    with pytest.raises(ConfigError, match="'--frames': must be a whole number"):
        ntkviz.configure("toy-model", frames=np.float64(4.5))
    with pytest.raises(ConfigError, match="'--frames': must be a whole number"):
        ntkviz.configure("toy-model", frames=np.bool_(True))
    with pytest.raises(ConfigError, match="--dpi must be a finite number"):
        ntkviz.render("toy-model", frames=4, dpi=np.float64("inf"))
    with pytest.raises(ConfigError, match="px: at most"):
        ntkviz.render("toy-model", frames=4, dpi=1e308)
