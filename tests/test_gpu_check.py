"""bench/gpu_check.py: its dry run (no CUDA here, or --dry-run) and its comparison."""

from __future__ import annotations

import dataclasses

import numpy as np

from bench import gpu_check


def test_dry_run_quick_subset(tmp_path, capsys):
    report = tmp_path / "gpu.md"
    code = gpu_check.main(
        ["--quick", "--only", "toy-model,init-functions", "--dry-run", "--report", str(report)]
    )
    assert code == 0
    text = report.read_text()
    assert "DRY RUN" in text and "the cuda half is skipped" in text
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
