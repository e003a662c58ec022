"""kernel-spectrum on points of one's own with d coordinates: from Python as an (N, d) array or
rows, from the command line as a CSV of columns x1..xd, y or an .npz; the spectrum and the modes'
decay are the real d-dimensional kernel's, the eigenfunctions are drawn along the points' first
principal direction, the sidecar records the points and a rerun writes the same bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY, gif_frames

import ntkviz

SMALL = dict(steps=40, frames=4, widths=(32,), count=2, modes=(1, 2, 4), eigenfunctions=2)
CLI = ["kernel-spectrum", "--quick", "--steps", "40", "--frames", "4", "--widths", "32",
       "--count", "2", "--modes", "1,2,4", "--eigenfunctions", "2", *TINY]  # fmt: skip


def points(n: int = 16, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, np.sin(x @ np.linspace(1.0, -0.5, d))


def test_an_array_of_points_gives_the_kernels_own_spectrum_and_decay():
    x, y = points()
    anim = ntkviz.render("kernel-spectrum", quick=True, x_train=x, y_train=y, **SMALL)
    r, config = anim.result, anim.config
    assert config.input_dim == 3 and config.x_train == tuple(x.ravel())
    np.testing.assert_array_equal(r.x, x)  # the points in their order: no sorting of rows
    np.testing.assert_array_equal(r.y, y)
    # the eigen-decomposition is numpy's of ntkviz.kernels' NTK on the same 3-d points
    kind = dict(depth=config.depth, activation=config.activation, sigma_w=1.0, sigma_b=1.0)
    theta = ntkviz.kernels.infinite(x, **kind).ntk
    lam, vec = np.linalg.eigh(theta)
    np.testing.assert_allclose(r.eigenvalues, lam[::-1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.abs(r.eigenvectors.T @ vec[:, ::-1]), np.eye(16), atol=1e-8)
    # each eigen-direction's theory: (1 - eta lambda_k)^t with eta = 2 lr / N
    eta = 2 * config.lr / 16
    np.testing.assert_allclose(r.theory, (1 - eta * lam[::-1][None]) ** r.steps[:, None])
    # the zeroed nets start at u(0) = -Y on every direction: each ratio 1 at step 0
    np.testing.assert_allclose(r.projections[0], np.broadcast_to(-y @ r.eigenvectors, (1, 2, 16)),
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(r.ratio[0, 0], 1.0, atol=1e-12)
    # the picture's axis: each point's position along the first principal direction
    centre, direction = r.line
    top = np.linalg.eigh(np.cov(x, rowvar=False))[1][:, -1]
    assert abs(abs(direction @ top) - 1) < 1e-10
    np.testing.assert_allclose(r.t, (x - x.mean(axis=0)) @ direction, atol=1e-12)
    assert "16 given inputs of 3 coordinates" in anim.caption
    assert "first principal direction" in anim.caption
    fun = anim.renderer.figure.axes[1]
    assert fun.get_xlabel() == "$t$ along the first principal direction"
    # the eigenfunctions are the points themselves, unjoined
    assert all(line.get_linestyle() == "None" for line in fun.get_lines())


def test_rows_a_list_and_one_coordinate():
    x, y = points(12, 2)
    config = ntkviz.configure("kernel-spectrum", x_train=x.tolist(), y_train=list(y), **SMALL)
    assert config.input_dim == 2 and config.x_train == tuple(x.ravel())
    # (N,) stays one coordinate: the inputs sorted, t = x, the axis x
    flat = ntkviz.render("kernel-spectrum", quick=True, x_train=x[:, 0], y_train=y, **SMALL)
    assert flat.config.input_dim == 1 and flat.result.x.ndim == 1
    np.testing.assert_array_equal(flat.result.x, np.sort(x[:, 0]))
    np.testing.assert_array_equal(flat.result.t, flat.result.x)
    assert flat.renderer.figure.axes[1].get_xlabel() == "$x$"
    assert "12 given inputs (NTK" in flat.caption


def test_rows_that_disagree_with_input_dim_or_repeat_are_one_line():
    x, y = points(6, 3)
    with pytest.raises(ntkviz.ConfigError, match="points of 3 coordinates but input_dim is 2"):
        ntkviz.configure("kernel-spectrum", x_train=x, y_train=y, input_dim=2)
    with pytest.raises(ntkviz.ConfigError, match=r"must be \(N,\) or \(N, d\)"):
        ntkviz.configure("kernel-spectrum", x_train=x.reshape(3, 2, 3), y_train=y)
    with pytest.raises(ntkviz.ConfigError, match="has a point twice"):
        ntkviz.configure("kernel-spectrum", x_train=np.r_[x, x[:1]], y_train=np.r_[y, 0])


def test_a_csv_of_three_columns_and_its_rerun(cli, tmp_path):
    x, y = points(10, 2)  # 30 numbers: the sidecar keeps them
    csv = tmp_path / "p2.csv"
    np.savetxt(csv, np.c_[x, y], delimiter=",", header="x1,x2,y", comments="")
    out = tmp_path / "s.gif"
    result = cli(*CLI, "--train-data", csv, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(gif_frames(out)[0]) == 5
    record = json.loads((tmp_path / "s.gif.json").read_text())
    assert record["train_data"]["dim"] == 2 and record["train_data"]["values"] == "config"
    assert record["config"]["input_dim"] == 2
    np.testing.assert_array_equal(np.reshape(record["config"]["x_train"], (10, 2)), x)
    assert "10 given inputs of 2 coordinates" in record["caption"]
    csv.unlink()  # the values are the sidecar's
    again = tmp_path / "again.gif"
    result = cli("rerun", f"{out}.json", "-o", again, "--no-progress")
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == out.read_bytes()


def test_an_npz_of_many_points_is_hashed_and_its_rerun_writes_the_same_bytes(cli, tmp_path):
    x, y = points(40, 3)  # 160 numbers: the file's hash stands for them
    np.savez(tmp_path / "p3.npz", x=x, y=y)
    out = tmp_path / "s.gif"
    result = cli(*CLI, "--train-data", tmp_path / "p3.npz", "-o", out)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "s.gif.json").read_text())
    assert record["train_data"]["dim"] == 3 and record["train_data"]["points"] == 40
    assert record["train_data"]["values"] == "file" and record["config"]["x_train"] == []
    again = tmp_path / "again.gif"
    result = cli("rerun", f"{out}.json", "-o", again, "--no-progress")
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == out.read_bytes()
    # the API's rendering of the same array writes the CLI's bytes
    anim = ntkviz.render("kernel-spectrum", quick=True, x_train=x, y_train=y, size="3x2", dpi=40,
                         hold=0, layout_check=False, **SMALL)  # fmt: skip
    anim.save(tmp_path / "api.gif")
    assert (tmp_path / "api.gif").read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    "text,message",
    [
        ("a,b,y\n0,1,2\n1,0\n", "line 3 has 2 columns but line 2 has 3"),
        ("a,b,y\n0,1,2\n1,0,3\n0,1,4\n", "--x-train has a point twice"),
    ],
    ids=["ragged", "twice"],
)
def test_a_bad_file_of_points_is_one_line_exit_2_and_nothing_written(cli, tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    out = tmp_path / "s.gif"
    result = cli(*CLI, "--train-data", tmp_path / "bad.csv", "-o", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--train-data" in lines[0], lines
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.csv"]
