"""Building the gallery: skips what is current, rebuilds on --force, runs the long figures
first, in worker processes that return every figure's row."""

from __future__ import annotations

import importlib

from test_gallery_index import check_index

from ntkviz import gallery
from ntkviz.gallery.plan import schedule

build_module = importlib.import_module("ntkviz.gallery.build")  # ntkviz.gallery.build is build()


def test_second_run_skips_and_force_rebuilds(cli, tmp_path):
    args = ("gallery", "--out", tmp_path, "--quick", "--only", "toy-model", "--jobs", "1")
    first = cli(*args)
    assert first.exit_code == 0, first.output
    stamp = (tmp_path / "toy-model.gif").stat().st_mtime_ns
    second = cli(*args)
    assert second.exit_code == 0 and "skipped" in second.stdout
    # Says why and how to force it, on one line.
    assert f"skipped 1 (toy-model) as {gallery.SKIPPED}" in second.stdout
    assert "--force" in gallery.SKIPPED and "--force)" in second.stdout
    assert (tmp_path / "toy-model.gif").stat().st_mtime_ns == stamp
    forced = cli(*args, "--force")
    assert forced.exit_code == 0 and "built" in forced.stdout
    assert (tmp_path / "toy-model.gif").stat().st_mtime_ns != stamp
    check_index(tmp_path)


def test_mp4_on_request_and_validation(cli, tmp_path):
    result = cli(
        "gallery",
        "--out",
        tmp_path,
        "--quick",
        "--only",
        "toy-model",
        "--format",
        "gif,mp4,png",
        "--jobs",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "toy-model.mp4").is_file()
    assert gallery.validate(tmp_path) == []


def test_unknown_figure_and_format(cli, tmp_path):
    result = cli("gallery", "--out", tmp_path, "--only", "nope")
    assert result.exit_code == 2 and "--only: unknown figure(s) nope" in result.stderr
    result = cli("gallery", "--out", tmp_path, "--only", "toy-model", "--format", "gif,avi")
    assert result.exit_code == 2 and "--format" in result.stderr


def test_build_runs_the_long_figures_first(tmp_path, monkeypatch):
    ran = []

    def fake(job):
        ran.append((job.name, job.threads))
        return {"figure": job.name, "status": "built"}

    monkeypatch.setattr(build_module, "_guarded", fake)
    monkeypatch.setattr(build_module, "write_index", lambda out, rows: None)
    names = ["toy-model", "ntk-convergence", "kappa-scaling", "generalization"]
    rows = gallery.build(tmp_path, names, ("gif",), jobs=1)
    assert [name for name, _ in ran] == schedule(names, tmp_path)
    assert [name for name, _ in ran][:2] == ["generalization", "ntk-convergence"]
    assert [row["figure"] for row in rows] == names  # the summary keeps the given order


def test_workers_build_and_a_failed_figure_is_a_row(tmp_path):
    """Two worker processes: one figure built, one that cannot be planned reported as failed
    (never hiding the other); the index shows the built one only."""
    done = []
    rows = gallery.build(
        tmp_path, ["toy-model", "no-such-figure"], ("gif",), jobs=2, quick=True, on_done=done.append
    )
    assert [row["figure"] for row in rows] == ["toy-model", "no-such-figure"]
    assert rows[0]["status"] == "built" and rows[0]["files"] == ["toy-model.gif"]
    assert rows[1]["status"] == "failed" and "no-such-figure" in rows[1]["error"]
    assert sorted(row["figure"] for row in done) == ["no-such-figure", "toy-model"]
    assert check_index(tmp_path) == {"toy-model.gif"}
