"""The command line starts without torch, matplotlib or numpy: --help, list, a figure's --help,
shell completion and a bad option are answered from ntkviz/registry.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ntkviz import registry

HEAVY = ("torch", "matplotlib", "numpy")

# Runs the console entry with the given argv, then prints which heavy modules were loaded.
PROBE = """
import sys, atexit
def report():
    sys.stderr.write("\\nHEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules) + "\\n")
atexit.register(report)
sys.argv = ["ntkviz", *{argv!r}]
from ntkviz.cli.console import main
main()
"""


def _run(argv, env=None):
    code = PROBE.format(heavy=HEAVY, argv=list(argv))
    full_env = {**os.environ, "COLUMNS": "100", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120
    )
    heavy = proc.stderr.rsplit("HEAVY=", 1)[-1].strip()
    return proc, [m for m in heavy.split(",") if m]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["list"],
        ["toy-model", "--help"],
        ["ntk-ellipses", "--help"],
        ["rerun", "--help"],
        ["--version"],
    ],
)
def test_help_and_list_import_nothing_heavy(argv):
    proc, heavy = _run(argv)
    assert proc.returncode == 0, proc.stderr
    assert heavy == [], f"{argv} imported {heavy}"
    assert proc.stdout.strip()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["toy-model", "--alpha-max", "-1"], "--alpha-max must be > 0"),
        (["toy-model", "--nope"], "No such option"),
        (["toy-model", "--frames", "abc"], "--frames"),
        (["ntk-ellipses", "--alphas", "1,x"], "--alphas expects a comma-separated list"),
        (["toy-model", "-o", "x.avi"], "unknown output format '.avi'"),
        (["toy-model", "--seed", "-3"], "--seed must be between"),
        (["toy-model", "--size", "12by9"], "--size must look like WxH"),
        (["toy-model", "--theme", "pink"], "--theme must be one of light, dark"),
        (["toy-model", "--device", "tpu"], "--device must be one of cpu, cuda"),
        (["toy-model", "--jobs", "-2"], "--jobs must be >= 0"),
    ],
)
def test_bad_option_refused_before_heavy_imports(argv, message, tmp_path):
    proc, heavy = _run(argv)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert heavy == [], f"{argv} imported {heavy}"


def test_completion_imports_nothing_heavy():
    proc, heavy = _run(
        [],
        env={"_NTKVIZ_COMPLETE": "complete_bash", "COMP_WORDS": "ntkviz ntk-", "COMP_CWORD": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert heavy == []
    assert set(proc.stdout.split()) == {"ntk-ellipses", "ntk-convergence"}


def test_shipped_registry_is_current():
    """The registry matches the live figure modules (a new figure, option, bound or help text
    changes it)."""
    live = registry.dumps(registry.generate())
    shipped = registry.PATH.read_text(encoding="utf-8")
    assert shipped == live, (
        f"ntkviz/registry.json is stale: refresh it with `{registry.REFRESH}` and commit it"
    )


def test_registry_names_every_figure_in_order():
    from ntkviz.figures import FIGURES

    data = json.loads(registry.PATH.read_text(encoding="utf-8"))
    assert list(data["figures"]) == list(FIGURES)
    toy = data["figures"]["toy-model"]
    assert toy["summary"] == FIGURES["toy-model"].summary
    assert {o["name"] for o in toy["options"]} >= {"alpha_max", "frames"}


def test_light_modules_stay_light():
    code = (
        "import sys; import ntkviz.config, ntkviz.errors, ntkviz.registry, ntkviz.options, ntkviz.cli.configfile;"
        f" print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_console_entry_builds_the_named_figure_in_full():
    proc, heavy = _run(["toy-model", "--help"])
    assert "--alpha-max" in proc.stdout and "--config" in proc.stdout and heavy == []
    proc, heavy = _run(
        [],
        env={
            "_NTKVIZ_COMPLETE": "complete_bash",
            "COMP_WORDS": "ntkviz toy-model --alpha-m",
            "COMP_CWORD": "2",
        },
    )
    assert set(proc.stdout.split()) == {"--alpha-min", "--alpha-max"} and heavy == []


def test_named_figures():
    from ntkviz.cli.app import named_figures

    assert named_figures(["--debug", "toy-model", "--x", "1"], {}) == {"toy-model"}
    assert named_figures(["--help"], {}) == set()
    env = {"_NTKVIZ_COMPLETE": "complete_bash", "COMP_WORDS": "ntkviz ntk-ellipses --w"}
    assert named_figures([], env) == {"ntk-ellipses"}
