"""ntkviz.sidecar: one versioned schema, written by every run, read by rerun and the gallery."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ntkviz import sidecar
from ntkviz.errors import NtkvizError
from tests.conftest import TINY

#: Every key a sidecar had before the schema was stated (its values unchanged), and "schema".
KEYS = {
    "schema", "figure", "output", "format", "frames", "width", "height", "bytes", "fps", "seed",
    "device", "quick", "hold", "caption", "config", "style", "dither", "still", "also",
    "frames_dir", "data", "versions", "seconds", "jobs", "command",
}  # fmt: skip


@pytest.fixture
def made(cli, tmp_path):
    out = tmp_path / "toy.gif"
    result = cli("toy-model", "-o", out, "--frames", "4", "--seed", "3", *TINY, "-q")
    assert result.exit_code == 0, result.output
    return out


def test_a_run_writes_the_schema_and_read_gives_it_back(made):
    path = sidecar.path(made)
    assert path.name == "toy.gif.json"
    record = sidecar.read(path)
    assert record == json.loads(path.read_text())
    assert KEYS <= set(record) and record["schema"] == sidecar.SCHEMA == 1
    assert record["figure"] == "toy-model" and record["seed"] == 3 and record["frames"] > 1
    assert record["output"] == str(made) and record["fps"] == 10.0 and record["hold"] == 0.0
    assert record["still"] is None and record["also"] == [] and record["dither"] is False
    assert record["versions"] == sidecar.versions()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.pop("seed"), "is not an ntkviz sidecar (no seed)"),
        (lambda r: r.update(seed="3"), "('seed' is not a whole number)"),
        (lambda r: r.update(seed=True), "('seed' is not a whole number)"),
        (lambda r: r.update(fps="fast"), "('fps' is not a whole number or a number)"),
        (lambda r: r.update(config=[1]), "('config' is not a table)"),
        (lambda r: r.update(still=3), "('still' is not text or null)"),
        (lambda r: r.update(also=[1]), "('also' is not a list of files)"),
        (lambda r: r.update(schema=99), "is a sidecar of a newer ntkviz (schema 99"),
    ],
)
def test_read_refuses_a_bad_record_in_one_line_naming_the_file(made, edit, message):
    path = sidecar.path(made)
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(NtkvizError) as info:
        sidecar.read(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_read_refuses_what_is_no_sidecar(tmp_path):
    for text, message in [("{", "(not JSON)"), ("[]", "(not a JSON object)"), ("{}", "(no figure")]:
        path = tmp_path / "x.json"
        path.write_text(text)
        with pytest.raises(NtkvizError, match=f"{path} is not an ntkviz sidecar"):
            sidecar.read(path)
        with pytest.raises(NtkvizError, match=message.replace("(", r"\(").replace(")", r"\)")):
            sidecar.read(path)
    with pytest.raises(NtkvizError, match="cannot read"):
        sidecar.read(tmp_path / "missing.json")
    # only what the caller needs may be required
    path.write_text(json.dumps({"frames": 2, "width": 3, "height": 4}))
    assert sidecar.read(path, sidecar.PICTURE)["frames"] == 2


def test_is_current_only_for_the_same_config_seed_style_and_version(made):
    from ntkviz.figures import get
    from ntkviz.pipeline import plan

    spec = get("toy-model")
    record = sidecar.read(sidecar.path(made))
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in record["config"].items()}
    tiny = {"size": "3x2", "dpi": 40.0, "hold": 0.0}  # as TINY
    config, options = plan(spec, {**values, **tiny, "seed": 3, "output": made})
    assert sidecar.is_current(record, config, options)
    assert not sidecar.is_current(record, config, dataclasses.replace(options, seed=4))
    assert not sidecar.is_current(record, config, dataclasses.replace(options, hold=1.0))
    assert not sidecar.is_current(record, dataclasses.replace(config, frames=2), options)
    older = {**record, "versions": {**record["versions"], "ntkviz": "0.0.0"}}
    assert not sidecar.is_current(older, config, options)
    assert not sidecar.is_current({**record, "versions": None}, config, options)
