"""The plan of a gallery build: each figure's files and command, the sidecar read once, a
figure rebuilt when anything that made it changed, and the order the figures start in."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ntkviz.errors import NtkvizError
from ntkviz.figures import FIGURES
from ntkviz.gallery import build, plan, validate


def test_files_and_command_line(tmp_path):
    spec, _, options = plan.plan(plan.Job("toy-model", tmp_path, ("gif", "mp4", "png"), seed=3))
    assert options.output == tmp_path / "toy-model.gif"
    assert options.also == (tmp_path / "toy-model.mp4",)
    assert options.still == tmp_path / "toy-model.png"
    assert plan.outputs(options) == [options.output, *options.also, options.still]
    assert list(options.command) == [
        "ntkviz", "toy-model", "-o", str(tmp_path / "toy-model.gif"),
        "--still", str(tmp_path / "toy-model.png"), "--seed", "3", "--dpi", "59",
        "--reproducible",
    ]  # fmt: skip
    still_spec = FIGURES["kernel-change"]
    assert not still_spec.animated
    assert plan.files(still_spec, plan.Job("kernel-change", tmp_path)) == (
        tmp_path / "kernel-change.png", (), None
    )  # fmt: skip


def test_gallery_draws_its_widest_figure_as_wide_as_the_page_shows_it(tmp_path):
    """One resolution for every figure (their text one size), at which the widest is exactly
    as many pixels as the page's column shows it: nothing drawn that a screen shrinks away."""
    from ntkviz.gallery import page

    pixels = {}
    for name in FIGURES:
        _, _, options = plan.plan(plan.Job(name, tmp_path))
        assert options.style.dpi == plan.gallery_dpi()
        assert options.command[-3:] == ("--dpi", f"{options.style.dpi:g}", "--reproducible")
        pixels[name] = options.style.pixels[0]
    assert max(pixels.values()) == plan.SHOWN_PX
    assert page.PAGE_PX - 2 * page.PADDING_PX - 2 * page.INSET_PX == pytest.approx(plan.SHOWN_PX)
    assert f"max-width: {page.PAGE_PX:g}px" in page.render(tmp_path, [])
    # the base font and the smallest text the layout check allows stay over 11 px
    style = plan.plan(plan.Job("posterior", tmp_path))[2].style
    assert style.min_text * style.dpi / 72 > 11
    # --quick keeps its share of the pixels
    quick = plan.plan(plan.Job("posterior", tmp_path, quick=True))[2].style
    assert quick.dpi == pytest.approx(0.5 * style.dpi)


@pytest.mark.parametrize(
    "text,reason",
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"frames": 3, "width": 4}', "no height"),
        ('{"frames": true, "width": 4, "height": 3}', "'frames' is not"),
        ('{"frames": 3, "width": 4, "height": 3, "also": "x.mp4"}', "'also' is not"),
        ('{"frames": 3, "width": 4, "height": 3, "still": 1}', "'still' is not"),
    ],
)
def test_read_sidecar_says_why_a_file_is_not_a_sidecar(tmp_path, text, reason):
    path = tmp_path / "a.gif.json"
    path.write_text(text)
    with pytest.raises(NtkvizError, match=reason) as caught:
        plan.read_sidecar(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    path.write_text('{"frames": 3, "width": 4, "height": 3, "also": [], "still": null}')
    assert plan.read_sidecar(path)["frames"] == 3


def _plan(out: Path, **changes):
    job = plan.Job("toy-model", out, ("gif", "png"), quick=True)
    return plan.plan(dataclasses.replace(job, **changes))


def _edit_sidecar(out: Path, edit) -> None:
    path = out / "toy-model.gif.json"
    sidecar = json.loads(path.read_text())
    edit(sidecar)
    path.write_text(json.dumps(sidecar))


def test_rebuilt_when_config_seed_style_version_or_picture_changed(tmp_path):
    out = tmp_path / "g"
    build(out, ["toy-model"], ["gif", "png"], 1, quick=True)
    _, config, options = _plan(out)
    assert plan.is_current(config, options)
    # another seed asked for
    _, config2, options2 = _plan(out, seed=5)
    assert not plan.is_current(config2, options2)
    # another config or style than the sidecar records
    assert not plan.is_current(dataclasses.replace(config, frames=config.frames + 1), options)
    restyled = dataclasses.replace(options, style=dataclasses.replace(options.style, theme="dark"))
    assert not plan.is_current(config, restyled)
    # made by another ntkviz
    saved = (out / "toy-model.gif.json").read_text()
    _edit_sidecar(out, lambda s: s["versions"].update(ntkviz="0.0.0"))
    assert not plan.is_current(config, options)
    (out / "toy-model.gif.json").write_text(saved)
    assert plan.is_current(config, options)
    # the picture itself: truncated, or another size than the sidecar says
    gif = (out / "toy-model.gif").read_bytes()
    (out / "toy-model.gif").write_bytes(gif[: len(gif) // 2])
    assert not plan.is_current(config, options)
    (out / "toy-model.gif").write_bytes(gif)
    _edit_sidecar(out, lambda s: s.update(width=s["width"] + 1))
    assert not plan.is_current(config, options)
    (out / "toy-model.gif.json").write_text(saved)
    (out / "toy-model.png").write_bytes(b"broken still")
    assert not plan.is_current(config, options)
    # a sidecar that is not one: not current, and kept (ntkviz replaces only its own sidecars)
    (out / "toy-model.gif.json").write_text("[]")
    assert not plan.is_current(config, options)
    rows = build(out, ["toy-model"], ["gif", "png"], 1, quick=True)
    assert rows[0]["status"] == "failed" and (out / "toy-model.gif.json").read_text() == "[]"
    # a damaged sidecar of ntkviz's is rebuilt, current again
    (out / "toy-model.gif.json").write_text(saved.replace('"width"', '"widthx"'))
    assert not plan.is_current(config, options)
    rows = build(out, ["toy-model"], ["gif", "png"], 1, quick=True)
    assert rows[0]["status"] == "built" and plan.is_current(config, options)
    assert validate(out) == []


def test_schedule_unknown_first_then_longest_recorded_first(tmp_path):
    names = ["toy-model", "generalization", "kappa-scaling", "ntk-convergence", "brand-new"]
    # No sidecars: the known long figures first, in LONG_FIRST's order, then the given order.
    assert plan.schedule(names, tmp_path) == [
        "generalization", "ntk-convergence", "toy-model", "kappa-scaling", "brand-new"
    ]  # fmt: skip
    # A previous build's sidecars: those figures after the unknown ones, longest first.
    for name, total in (("toy-model", 60.0), ("generalization", 3.0), ("kappa-scaling", 9.0)):
        seconds = {"simulate": total - 2, "render": 1.0, "write": 1.0}
        (tmp_path / f"{name}.gif.json").write_text(json.dumps({"seconds": seconds}))
    (tmp_path / "brand-new.gif.json").write_text("not json")  # unreadable: no record
    (tmp_path / "ntk-convergence.gif.json").write_text('{"seconds": {"simulate": "nan"}}')
    assert plan.recorded_seconds("toy-model", tmp_path) == 60.0
    assert plan.recorded_seconds("brand-new", tmp_path) is None
    assert plan.recorded_seconds("ntk-convergence", tmp_path) is None
    assert plan.schedule(names, tmp_path) == [
        "ntk-convergence", "brand-new", "toy-model", "kappa-scaling", "generalization"
    ]  # fmt: skip


def test_long_first_names_real_figures():
    assert plan.LONG_FIRST and set(plan.LONG_FIRST) <= set(FIGURES)
