"""The benchmark harness runs and returns well-formed rows (tiny sizes; no timing assertions)."""

from __future__ import annotations

from pathlib import Path

import pytest

# bench/ is importable because pyproject.toml puts the repo root on pytest's pythonpath.
from bench import __main__ as harness
from bench import bench_toy
from bench.common import check_row, format_table, make_row, median_time, summary, temp_folder


def test_discovery_finds_the_toy_bench():
    names = harness.discover()
    assert "toy" in names
    assert names == sorted(names)
    assert callable(harness.load("toy").run)


def test_median_time_and_rows():
    calls = []
    assert median_time(lambda: calls.append(1), repeat=3, warmup=1) >= 0
    assert len(calls) == 4
    with pytest.raises(ValueError):
        median_time(lambda: None, repeat=0)
    fast = make_row("x", 1.0, 6.0, 5.0)
    small = make_row("y", 200, 100, 1.0, unit="bytes")
    for row in (fast, small):
        check_row(row)
    assert fast["ratio"] == 6.0 and fast["met"] is True
    assert small["ratio"] == 0.5 and small["met"] is False
    assert summary([fast, small]) == "1/2 targets met"
    lines = format_table([fast, small]).splitlines()
    assert len(lines) == 4 and lines[0].startswith("benchmark")
    with pytest.raises(ValueError):
        check_row({"name": "z"})


def test_temp_folder_is_removed():
    with temp_folder() as folder:
        (folder / "a").write_text("x")
    assert not folder.exists()


def test_toy_bench_runs_at_a_tiny_size():
    rows = bench_toy.run(repeat=1, frames=3, size=(3.0, 2.0), dpi=40)
    assert len(rows) == 2
    for row in rows:
        check_row(row)
        assert row["ratio"] > 0 and isinstance(row["met"], bool)
    timed, sized = rows
    assert "3x120x80" in timed["name"]
    assert timed["ours_s"] > 0 and timed["naive_s"] > 0
    assert sized["ours_bytes"] > 0 and sized["naive_bytes"] > 0


def test_harness_reports_and_exits_1_when_a_bench_raises(monkeypatch, capsys):
    class Broken:
        @staticmethod
        def run(repeat):
            raise RuntimeError("boom")

    class Fine:
        @staticmethod
        def run(repeat):
            return [make_row("fine", 1.0, 2.0, 5.0)]

    monkeypatch.setattr(harness, "discover", lambda: ["broken", "fine"])
    monkeypatch.setattr(harness, "load", lambda name: {"broken": Broken, "fine": Fine}[name])
    assert harness.main(["--repeat", "1"]) == 1
    out = capsys.readouterr().out
    assert "fine" in out and "0/1 targets met" in out and "failed: broken" in out
    # A missed target alone is reported, not an error.
    assert harness.main(["fine", "--repeat", "1"]) == 0
    with pytest.raises(SystemExit) as exc:
        harness.main(["nosuch"])
    assert exc.value.code == 2


def test_contention_rows_for_a_fast_figure():
    from bench import bench_contention
    from bench.common import check_row

    rows = bench_contention.run(repeat=1, names=["toy-model"])
    assert [r["name"].split(" (")[0] for r in rows] == [
        "contention control",
        "contention toy-model",
    ]
    for row in rows:
        check_row(row)
        assert "busy/quiet" in row["extra"] and "load" in row["extra"]


def test_startup_bench_runs_and_is_discovered():
    from bench import bench_startup

    assert "startup" in harness.discover()
    rows = bench_startup.run(repeat=1)
    assert [r["name"] for r in rows][0] == "startup: ntkviz --help"
    for row in rows:
        check_row(row)
        assert row["ours_s"] > 0 and row["naive_s"] > 0


def test_gallery_bench_reads_the_built_sidecars(monkeypatch):
    """The gallery bench times one real ``ntkviz gallery --force`` run (a minute: not run here);
    the row it makes from the sidecars is checked with a stand-in build of two figures."""
    import json
    import subprocess

    from bench import bench_gallery
    from bench.common import check_row

    def fake_build(argv, **kwargs):
        folder = Path(argv[argv.index("--out") + 1])
        for name, parts in {
            "generalization": {"simulate": 20.0, "render": 2.0, "write": 1.0},
            "toy-model": {"simulate": 0.1, "render": 1.9, "write": 1.0},
        }.items():
            (folder / f"{name}.gif.json").write_text(json.dumps({"figure": name, "seconds": parts}))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(bench_gallery.subprocess, "run", fake_build)
    monkeypatch.setattr(bench_gallery.os, "cpu_count", lambda: 2)
    (row,) = bench_gallery.run()
    check_row(row)
    assert row["naive_s"] == bench_gallery.TARGET_SECONDS
    assert "2 figures, 2 workers" in row["name"]
    assert "26 s in all, / 2 workers = 13 s" in row["extra"]
    assert "longest generalization 23.0 s" in row["extra"]
    assert "generalization simulate 20.0 s" in row["extra"]


def test_sampler_bench_runs_at_a_tiny_size():
    from bench import bench_sampler

    (row,) = bench_sampler.run(repeat=1, width=300, seeds=2, points=11)
    check_row(row)
    assert "width 300" in row["name"] and row["ours_s"] > 0 and row["naive_s"] > 0
