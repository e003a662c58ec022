"""The house in layers (ARCHITECTURE.md) as contracts: import-linter checks pyproject.toml's
[tool.importlinter] contracts (imports run down, no circles, no figure imports another), and
the size rules hold (no module over 500 lines, at most 12 modules directly in ntkviz/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ntkviz"
MAX_LINES = 500
MAX_TOP_MODULES = 12


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the package under ``root`` with the contracts of ``root``'s pyproject."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layers_hold():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "broken" not in run.stdout.lower().split("contracts:")[-1].split("kept")[0]


@pytest.mark.parametrize(
    "module,line",
    [
        # an import inside a function that runs back up: numerics reaching the CLI
        ("numerics/toy.py", "def _planted():\n    from ntkviz.cli import app  # noqa\n"),
        # a figure importing another figure
        ("figures/posterior.py", "from ntkviz.figures import rich_lazy  # noqa\n"),
    ],
)
def test_the_contracts_catch_a_planted_import(tmp_path, module, line):
    """The same check on a copy of the package with one bad import added must fail."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copytree(PACKAGE, copy / "ntkviz", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    with open(copy / "ntkviz" / module, "a", encoding="utf-8") as f:
        f.write("\n" + line)
    run = lint_imports(copy)
    assert run.returncode != 0, run.stdout[-2000:]


def test_no_module_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_at_most_12_modules_directly_in_the_package():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top
