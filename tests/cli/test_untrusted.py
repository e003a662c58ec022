"""Untrusted input: a sidecar or a --config file someone else wrote, unbounded values and reads.

Every refusal here is one line on stderr and exit 2, before any computing, with every file that
was there before byte-identical after (issue 20, items 1, 3, 4 and 5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY

FAST = ["--frames", "4", *TINY, "-q"]
BARE = ["--frames", "4", "--no-progress", "--hold", "0", "-q"]  # no --size, --dpi: the file's


def snapshot(*folders: Path) -> dict[Path, bytes | str]:
    """Every file (its bytes) and link (its target) under ``folders``."""
    seen: dict[Path, bytes | str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                seen[path] = "-> " + os.readlink(path)
            elif path.is_file():
                seen[path] = path.read_bytes()
    return seen


def refused(result, *words: str) -> str:
    """The one line of a refusal with exit 2 (and no internal error), containing ``words``."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """A real run's files: sub/toy.gif, its still sub/toy.png and sidecar, made from a folder
    above (so the sidecar records the paths as "sub/..."), copied into each test's folder."""
    from typer.testing import CliRunner

    from ntkviz.cli.app import app

    base = tmp_path_factory.mktemp("made")
    (base / "sub").mkdir()
    here = os.getcwd()
    os.chdir(base)
    try:
        args = ["toy-model", "-o", "sub/toy.gif", "--still", "sub/toy.png", "--seed", "3", *FAST]
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.output
    record = json.loads((base / "sub" / "toy.gif.json").read_text())
    assert record["output"] == "sub/toy.gif" and record["still"] == "sub/toy.png"
    return base / "sub"


@pytest.fixture
def made(original, tmp_path):
    """This test's copy: tmp_path/sub/{toy.gif, toy.png, toy.gif.json}."""
    shutil.copytree(original, tmp_path / "sub")
    return tmp_path / "sub"


def edit(sidecar: Path, **changes) -> None:
    record = json.loads(sidecar.read_text())
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            record[outer][inner] = value
        else:
            record[key] = value
    sidecar.write_text(json.dumps(record))


# -- 1. a sidecar steers no write outside its folder ---------------------------------------------


def _outside(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for name in ("evil.gif", "x.npz", "x.png"):
        (outside / name).write_bytes(b"the user's own " + name.encode())
    (outside / "frames").mkdir()
    return outside


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("also", ["{outside}/evil.gif"], "the recorded output"),  # absolute
        ("data", "../elsewhere/x.npz", "the recorded --data"),  # .. from the output's folder
        ("data", "sub/../../elsewhere/x.npz", "the recorded --data"),
        ("still", "{outside}/x.png", "the recorded --still"),
        ("frames_dir", "{outside}/frames", "the recorded --frames-dir"),
        ("still", "sub/link/x.png", "the recorded --still"),  # a link in the folder leads out
        ("still", "sub/x.png\u0000", "the recorded --still"),
    ],
)
def test_a_sidecar_cannot_steer_a_write_outside_its_folder(cli, made, tmp_path, key, value, words):
    outside = _outside(tmp_path)
    (made / "link").symlink_to(outside)
    sidecar = made / "toy.gif.json"
    edit(sidecar, **{key: json.loads(json.dumps(value).replace("{outside}", str(outside)))})
    before = snapshot(tmp_path)
    line = refused(cli("rerun", sidecar, "--no-progress"), words, "outside the sidecar's folder")
    assert "-o" in line
    assert snapshot(tmp_path) == before  # nothing written, anywhere


def test_rerun_from_another_folder_writes_beside_the_sidecar(cli, made, tmp_path, monkeypatch):
    """`ntkviz rerun sub/toy.gif.json` run in a folder holding the user's own toy.png: the still
    recorded as sub/toy.png beside sub/toy.gif is written in sub/, and ./toy.png is untouched."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "toy.png").write_bytes(b"the user's own picture")
    (elsewhere / "sub").mkdir()  # a "sub" here too: the recorded "sub/toy.png" is not it
    gif, still = (made / "toy.gif").read_bytes(), (made / "toy.png").read_bytes()
    (made / "toy.gif").unlink()
    (made / "toy.png").unlink()
    monkeypatch.chdir(elsewhere)
    result = cli("rerun", "../sub/toy.gif.json", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (made / "toy.gif").read_bytes() == gif and (made / "toy.png").read_bytes() == still
    assert (elsewhere / "toy.png").read_bytes() == b"the user's own picture"
    assert list((elsewhere / "sub").iterdir()) == []


def test_a_file_outside_is_written_when_the_user_names_it_again(cli, made, tmp_path):
    outside = _outside(tmp_path)
    sidecar = made / "toy.gif.json"
    edit(sidecar, still=str(outside / "x.png"))
    chosen = tmp_path / "chosen.png"
    result = cli("rerun", sidecar, "--still", chosen, "--no-progress")
    assert result.exit_code == 0, result.output
    assert chosen.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (outside / "x.png").read_bytes() == b"the user's own x.png"


# -- 3. the sidecar replaces only a sidecar -----------------------------------------------------


def test_the_users_notes_at_the_sidecar_path_are_kept(cli, tmp_path):
    notes = tmp_path / "u.gif.json"
    notes.write_text('{"my": "notes"}')
    before = snapshot(tmp_path)
    result = cli("toy-model", "-o", tmp_path / "u.gif", *FAST)
    refused(result, str(notes), "no ntkviz sidecar")
    assert snapshot(tmp_path) == before


def test_the_config_file_is_never_replaced_by_the_sidecar(cli, tmp_path):
    config = tmp_path / "a.gif.json"
    config.write_text('{"seed": 4}')
    before = snapshot(tmp_path)
    result = cli("toy-model", "--config", config, "-o", tmp_path / "a.gif", *FAST)
    refused(result, f"--config {config}", "would be replaced")
    assert snapshot(tmp_path) == before


def test_a_link_at_the_sidecar_path_is_refused_not_replaced(cli, made, tmp_path):
    target = tmp_path / "target.json"
    target.write_bytes((made / "toy.gif.json").read_bytes())  # even a link to a sidecar
    (tmp_path / "v.gif.json").symlink_to(target)
    before = snapshot(tmp_path)
    refused(cli("toy-model", "-o", tmp_path / "v.gif", *FAST), "symbolic link")
    assert snapshot(tmp_path) == before and (tmp_path / "v.gif.json").is_symlink()


def test_an_ntkviz_sidecar_is_replaced(cli, made):
    record = json.loads((made / "toy.gif.json").read_text())
    result = cli("toy-model", "-o", made / "toy.gif", "--seed", "5", *FAST)
    assert result.exit_code == 0, result.output
    again = json.loads((made / "toy.gif.json").read_text())
    assert record["seed"] == 3 and again["seed"] == 5


# -- 4. unbounded input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--dpi", "1e308"],
        ["--size", "1e308x1e308"],
        ["--size", "1e200x3", "--dpi", "1e200"],
    ],
)
def test_huge_pixel_counts_are_refused(cli, tmp_path, args):
    result = cli("toy-model", "-o", tmp_path / "a.gif", *FAST, *args)
    refused(result, "px")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"dpi": 1e308}', "px"),
        ('{"size": [1e308, 1e308]}', "px"),
        ('{"size": "1e999x2"}', "--size must be a finite number"),
        ('{"frames": ' + "9" * 5000 + "}", "is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"seed": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ],
)
def test_unbounded_json_config(cli, tmp_path, text, words):
    config = tmp_path / "c.json"
    config.write_text(text)
    before = snapshot(tmp_path)
    refused(cli("toy-model", "--config", config, "-o", tmp_path / "a.gif", *BARE), words)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("dpi = 1e308\n", "px"),
        ("frames = " + "9" * 5000 + "\n", "is not valid TOML"),
        ("seed = " + "[" * 100_000 + "]" * 100_000 + "\n", "is not valid TOML"),
    ],
)
def test_unbounded_toml_config(cli, tmp_path, text, words):
    pytest.importorskip("tomllib")
    config = tmp_path / "c.toml"
    config.write_text(text)
    before = snapshot(tmp_path)
    refused(cli("toy-model", "--config", config, "-o", tmp_path / "a.gif", *BARE), words)
    assert snapshot(tmp_path) == before


def test_a_config_file_over_the_cap_is_refused_unread(cli, tmp_path):
    config = tmp_path / "big.json"
    config.write_text('{"seed": 1' + " " * (1 << 20) + "}")
    refused(
        cli("toy-model", "--config", config, "-o", tmp_path / "a.gif", *TINY), "larger than 1 MB"
    )
    assert not (tmp_path / "a.gif").exists()


def test_a_config_linked_to_dev_zero_is_refused_unread(cli, tmp_path):
    (tmp_path / "z.json").symlink_to("/dev/zero")
    result = cli("toy-model", "--config", tmp_path / "z.json", "-o", tmp_path / "a.gif", *TINY)
    refused(result, "is not a regular file")


def test_a_sidecar_linked_to_dev_zero_is_refused_unread(cli, tmp_path):
    (tmp_path / "z.gif.json").symlink_to("/dev/zero")
    refused(cli("rerun", tmp_path / "z.gif.json"), "is not a regular file")


@pytest.mark.parametrize("command", ["config", "rerun"])
def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "f.json" if command == "config" else tmp_path / "f.gif.json"
    os.mkfifo(fifo)
    args = (
        ["toy-model", "--config", str(fifo), "-o", str(tmp_path / "a.gif"), *TINY]
        if command == "config"
        else ["rerun", str(fifo)]
    )
    done = subprocess.run(
        [sys.executable, "-m", "ntkviz", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"Error: {fifo} is not a regular file"] or (
        done.stderr.strip() == f"Error: --config {fifo} is not a regular file"
    )


def test_allocation_failures_end_as_the_memory_line(cli, tmp_path, monkeypatch):
    """torch passes a C++ std::bad_alloc on as a RuntimeError: inside the simulation it is the
    memory refusal (exit 2), outside it the out-of-memory line (exit 1); a MemoryError too."""
    import dataclasses

    from ntkviz import figures, pipeline

    spec = figures.get("toy-model")

    def bad_alloc(*args, **kwargs):
        raise RuntimeError("std::bad_alloc")

    failing_spec = dataclasses.replace(spec, simulate=bad_alloc)
    monkeypatch.setattr(figures, "get", lambda name: failing_spec)
    refused(cli("toy-model", "-o", tmp_path / "a.gif", *FAST), "needs more memory than is free")
    for error in (RuntimeError("std::bad_alloc"), MemoryError()):

        def failing(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(pipeline, "run_figure", failing)
        result = cli("toy-model", "-o", tmp_path / "a.gif", *FAST)
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            "Error: out of memory: try a smaller width, count or frame size"
        ]
    assert list(tmp_path.iterdir()) == []


# -- 5. sidecars and config files go through the command line's checks ---------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"seed": "1; rm -rf /"}, "'seed' is not a whole number"),
        ({"fps": "abc"}, "'fps' is not a whole number or a number"),
        ({"seed": 2**70}, "--seed must be between 0 and 2^63 - 1"),
        ({"seed": -5}, "--seed must be between 0 and 2^63 - 1 (got -5)"),
        ({"seed": 10**4000}, "--seed is out of range (got a whole number of about 4001 digits)"),
        ({"frames": "3"}, "'frames' is not a whole number"),
        ({"versions": "x"}, "'versions' is not a table"),
        ({"versions": {"torch": 5}}, "'versions' is not a table of text"),
        ({"also": [123]}, "'also' is not a list of files"),
        ({"quick": "false"}, "'quick' is not true or false"),
        ({"hold": 1e400}, "--hold must be a finite number (got inf)"),  # json: Infinity
        ({"hold": -1}, "--hold must be between 0 and 600"),
        ({"config.frames": True}, "Invalid value for '--frames': must be a whole number"),
        ({"config.frames": "3"}, "Invalid value for '--frames': must be a whole number"),
        ({"config.alpha_max": -3}, "--alpha-max must be > 0"),
        ({"config.nope": 1}, "toy-model has no option 'nope'"),
        ({"style.dpi": 1e308}, "px"),
        ({"style.size": [1e308, 1e308]}, "px"),
        ({"style.size": [3, 2, 1]}, "size must be two numbers"),
        ({"style.theme": "neon"}, "--theme must be one of"),
        ({"style.font_size": 1e308}, "the style's font size must be > 0"),
        ({"style.line_width": -1}, "the style's line width must be > 0"),
        ({"style.dpi": "40"}, "Invalid value for '--dpi'"),
        ({"figure": "nope"}, "no figure 'nope'"),
    ],
)
def test_bad_sidecar_values_are_the_options_refusal(cli, made, tmp_path, changes, words):
    sidecar = made / "toy.gif.json"
    edit(sidecar, **changes)
    before = snapshot(tmp_path)
    refused(cli("rerun", sidecar, "-o", tmp_path / "b.gif", "--no-progress"), words)
    assert snapshot(tmp_path) == before


def test_a_sidecar_with_a_5000_digit_number_is_refused(cli, made, tmp_path):
    sidecar = made / "toy.gif.json"
    text = sidecar.read_text()
    sidecar.write_text(text.replace('"seed": 3', '"seed": ' + "9" * 5000))
    before = snapshot(tmp_path)
    refused(cli("rerun", sidecar, "-o", tmp_path / "b.gif"), "is not an ntkviz sidecar (not JSON)")
    assert snapshot(tmp_path) == before


def test_a_deeply_nested_sidecar_is_refused(cli, tmp_path):
    sidecar = tmp_path / "d.gif.json"
    sidecar.write_text('{"config": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(cli("rerun", sidecar), "is not an ntkviz sidecar (not JSON)")
    assert [p.name for p in tmp_path.iterdir()] == ["d.gif.json"]


@pytest.mark.parametrize("name", [".json", "..json"])
def test_a_sidecar_with_no_output_name_is_refused(cli, made, tmp_path, name):
    sidecar = made / name
    shutil.copy(made / "toy.gif.json", sidecar)
    before = snapshot(tmp_path)
    refused(cli("rerun", sidecar, "--no-progress"), "give the output with -o")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("frames = true\n", "Invalid value for '--frames': must be a whole number (got True)"),
        ('seed = "5"\n', "Invalid value for '--seed': must be a whole number (got '5')"),
        ('quick = "false"\n', "Invalid value for '--quick': must be true or false"),
        ("seed = 1180591620717411303424\n", "--seed must be between 0 and 2^63 - 1"),
        ("dither = 1\n", "Invalid value for '--dither': must be true or false"),
        ("still = 3\n", "Invalid value for '--still': must be a file name"),
        ("f-limits = [true, 2]\n", "Invalid value for '--f-limits': must be a number"),
        ("points = 2.5\n", "Invalid value for '--points': must be a whole number (got 2.5)"),
        ("alpha-max = nan\n", "--alpha-max must be a finite number"),
        ("fps = inf\n", "--fps must be a finite number"),
        ("size = [3]\n", "--size must be two numbers"),
        ("theme = {a = 1}\n", "Invalid value for '--theme': must be text"),
    ],
)
def test_bad_config_values_are_the_options_refusal(cli, tmp_path, text, words):
    pytest.importorskip("tomllib")
    config = tmp_path / "c.toml"
    config.write_text(text)
    before = snapshot(tmp_path)
    args = ["--no-progress", "--hold", "0", "-q"]  # nothing the file says: the file's value
    refused(cli("toy-model", "--config", config, "-o", tmp_path / "a.gif", *args), words)
    assert snapshot(tmp_path) == before


def test_config_values_of_the_right_type_are_taken(cli, tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"frames": 4.0, "size": [3, 2], "dither": true, "f-limits": "-3,8"}')
    result = cli("toy-model", "--config", config, "-o", tmp_path / "a.gif", *TINY, "-q")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "a.gif.json").read_text())
    assert record["config"]["frames"] == 4 and record["style"]["size"] == [3, 2]
    assert record["dither"] is True and record["config"]["f_limits"] == [-3, 8]


def test_under_ulimit_v_a_large_run_is_the_memory_refusal(tmp_path):
    """Under ``ulimit -v`` the memory check counts what the limit leaves (not only the free
    memory): a run too large for it is the one-line refusal, exit 2, before it allocates."""
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))\n"
        "from ntkviz.cli.app import main\n"
        "sys.argv = ['ntkviz', 'init-functions', '-o', sys.argv[1], '--count', '2', '--width',"
        " '10000', '--frames', '2', '--size', '3x2', '--dpi', '40', '--no-progress']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "a.gif")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "GiB on cpu; the limit is" in lines[0], lines
    assert list(tmp_path.iterdir()) == []
