"""A property-based sweep over untrusted sidecars and --config files (issue 20, items 1, 4, 5).

Random types, sizes and nesting for every field: ``ntkviz rerun`` and ``--config`` either take the
file or refuse it with one line and exit 2 — never a traceback, never an "internal error", and a
sidecar never steers a write outside its own folder. The pipeline's run is replaced by its
preflight (every check a run makes before computing), so each example costs milliseconds.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import TINY

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SWEEP = settings(
    max_examples=int(os.environ.get("NTKVIZ_SWEEP_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PATHS = ["a.png", "x.npz", "frames", "../x.png", "/tmp/x.png", "sub/../../x.npz", "", ".", ".."]
WORDS = ["1,2", "3x2", "1e308x1e308", "nan", "inf", "true", "cuda", "dark", "x.gif", "a.mp4"]
#: Text without line breaks or other control characters: a path holding a newline is printed
#: raw in some messages (the quoting of paths in messages is issue 20's item of its own).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, 4, 40, 1e308, -1, 0.5, 2**63]),
    TEXT,
    st.sampled_from(PATHS + WORDS),
)
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=12,
)


def deep(depth: int, leaf: object = 1) -> object:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A real sidecar (toy-model, 4 frames) to mutate."""
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    out = tmp_path_factory.mktemp("base") / "toy.gif"
    args = ["toy-model", "-o", str(out), "--frames", "4", "--still", str(out.with_suffix(".png"))]
    result = CliRunner().invoke(app, [*args, *TINY, "-q"])
    assert result.exit_code == 0, result.output
    return json.loads(Path(f"{out}.json").read_text())


@pytest.fixture
def checked(monkeypatch, base):
    """run_figure replaced by preflight alone; the targets each run would write, recorded."""
    from ntkviz import pipeline

    runs: list[list[Path]] = []

    def preflight_only(spec, config, options, progress=None, simulated=None):
        targets = [options.output, pipeline.sidecar_path(options.output)]
        targets += [p for p in (options.still, options.data, options.frames_dir) if p]
        targets += list(options.also)
        runs.append(targets)
        if all(_inside(t, Path(tempfile.gettempdir())) for t in targets):
            pipeline.preflight(options)  # probes only inside the example's folder
        return {**base, "output": str(options.output)}

    monkeypatch.setattr(pipeline, "run_figure", preflight_only)
    return runs


def _inside(path: Path, folder: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, top]) == top


def _invoke(args: list[str], cwd: Path):
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    here = os.getcwd()
    os.chdir(cwd)  # a relative path a file names lands in the example's folder
    try:
        return CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(here)


def _one_line_or_success(result) -> None:
    hypothesis.event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _keys(base: dict) -> list[str]:
    return [
        *base,
        *(f"config.{k}" for k in base["config"]),
        *(f"style.{k}" for k in base["style"]),
        "config.nope",
        "nope",
    ]


@SWEEP
@given(data=st.data(), alone=st.booleans())
def test_any_sidecar_is_a_rerun_or_one_line_and_never_writes_outside(checked, base, data, alone):
    keys = st.sampled_from(_keys(base))
    changes = data.draw(st.lists(st.tuples(keys, VALUE | st.just(deep(3000))), max_size=3))
    record = copy.deepcopy(base)
    for key, value in changes:
        outer, _, inner = key.partition(".")
        if inner and isinstance(record.get(outer), dict):
            record[outer][inner] = value
        elif not inner:
            record[outer] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder, outside = Path(tmp) / "in", Path(tmp) / "outside"
        folder.mkdir()
        (folder / "sub").mkdir()
        outside.mkdir()
        (outside / "x.png").write_bytes(b"the user's own")
        sidecar = folder / "toy.gif.json"
        try:
            sidecar.write_text(json.dumps(record))
        except (ValueError, RecursionError):  # json cannot write it (a 3,000-deep list)
            sidecar.write_text(json.dumps(base)[:-1] + ', "seed": ' + "[" * 3000 + "]" * 3000 + "}")
        before = _files(outside)
        runs = len(checked)
        args = ["rerun", sidecar, "-q", *(["-o", folder / "b.gif"] if alone else [])]
        result = _invoke(args, cwd=folder / "sub")
        _one_line_or_success(result)
        assert _files(outside) == before
        if result.exit_code == 0:
            assert len(checked) == runs + 1
            for target in checked[-1]:
                assert _inside(target, folder), (target, record)


@SWEEP
@given(data=st.data())
def test_any_config_file_is_taken_or_one_line(checked, data):
    from ntkviz import registry

    entry = registry.figures()["toy-model"]
    from ntkviz.options import SHARED

    names = [o["name"] for o in entry["options"]] + [o.name for o in SHARED] + ["nope", "config"]
    key = st.sampled_from(names).map(lambda n: n.replace("_", "-")) | TEXT
    table = data.draw(st.dictionaries(key, VALUE, max_size=4))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "c.json"
        config.write_text(json.dumps(table))
        args = ["toy-model", "--config", config, "-o", folder / "a.gif", "--no-progress", "-q"]
        _one_line_or_success(_invoke(args, cwd=folder))
        assert config.read_text() == json.dumps(table)


@SWEEP
@given(depth=st.integers(1, 200_000), kind=st.sampled_from([".json", ".toml"]))
def test_any_nesting_depth_is_taken_or_one_line(checked, depth, kind):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / f"c{kind}"
        nested = "[" * depth + "1" + "]" * depth
        config.write_text(
            f'{{"f-limits": {nested}}}' if kind == ".json" else f"f-limits = {nested}\n"
        )
        args = ["toy-model", "--config", config, "-o", folder / "a.gif", "--no-progress", "-q"]
        _one_line_or_success(_invoke(args, cwd=folder))
