"""The GPU check (ntkviz check-gpu; bench/gpu_check.py runs it too): its dry run (no CUDA here,
or --dry-run), its comparison, and its bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench import gpu_check


def test_dry_run_quick_subset(tmp_path, capsys):
    report = tmp_path / "gpu.md"
    code = gpu_check.main(
        ["--quick", "--only", "toy-model,init-functions", "--dry-run", "--report", str(report)]
    )
    assert code == 0
    text = report.read_text()
    assert "DRY RUN" in text and "the GPU half is skipped" in text
    assert "| toy-model |" in text and "| init-functions |" in text
    assert "not compared (dry run)" in text
    assert text in capsys.readouterr().out


def test_compare_within_and_beyond_tolerance():
    @dataclasses.dataclass
    class Inner:
        curve: np.ndarray

    @dataclasses.dataclass
    class Result:
        values: np.ndarray
        steps: np.ndarray
        name: str
        inner: Inner
        records: dict

    def result(shift=0.0, steps=(1, 2), name="ntk"):
        return Result(
            values=np.array([1.0, -2.0, np.inf]) + shift,
            steps=np.array(steps),
            name=name,
            inner=Inner(np.array([0.5, 0.25]) + shift),
            records={"f": np.zeros(3) + shift},
        )

    assert gpu_check.compare(result(), result(1e-5), rtol=1e-3, atol=1e-4) == []
    problems = gpu_check.compare(result(), result(0.1), rtol=1e-3, atol=0)
    assert sorted(p.split(":")[0] for p in problems) == ["inner.curve", "records.f", "values"]
    assert gpu_check.compare(result(), result(steps=(1, 3)), 1, 1) == ["steps: not equal"]
    assert gpu_check.compare(result(), result(name="x"), 1, 1) == ["name: 'ntk' != 'x'"]


def test_tolerances_name_real_figures():
    from ntkviz.figures import FIGURES

    assert set(gpu_check.TOLERANCES) <= set(FIGURES)


# -- installed with the package: ntkviz check-gpu (issue 24) -------------------------------------


def test_check_gpu_is_a_command_of_the_package(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the check would run for real")
    report = tmp_path / "r.md"
    result = cli("check-gpu", "--quick", "--only", "toy-model", "--report", report)
    assert result.exit_code == 0, result.output
    assert "DRY RUN: --device cuda: no CUDA device is available" in result.stdout
    assert "| toy-model |" in result.stdout and "not compared (dry run)" in result.stdout
    assert report.read_text() in result.stdout
    assert "check-gpu" in cli("--help").stdout


@pytest.mark.parametrize(
    "args, said",
    [
        (["--device", "tpu"], "--device must be one of cpu, cuda, cuda:N, mps (got 'tpu')"),
        (["--device", "cpu"], "--device cpu: check-gpu compares a GPU with the CPU"),
        (["--only", "nope"], "--only: unknown figure nope"),
    ],
)
def test_check_gpu_bad_input_is_one_line(cli, tmp_path, args, said):
    result = cli("check-gpu", "--quick", *args, "--report", tmp_path / "r.md")
    assert result.exit_code == 2 and said in result.stderr, result.output
    assert list(tmp_path.iterdir()) == []


def test_python_dash_m_runs_the_installed_module(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ntkviz.cli.check_gpu", "--device", "tpu", "--only", "toy-model"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # outside the repository: nothing of bench/ is needed
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "Error: --device must be one of cpu, cuda, cuda:N, mps (got 'tpu')"
    )
