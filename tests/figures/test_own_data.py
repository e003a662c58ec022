"""Own training data: --train-data FILE.csv|.npz (and x_train/y_train from Python) reaches the
training set, bad files are one line and exit 2, the sidecar records the points (values when
few, the file's sha256 otherwise), and a rerun reproduces the bytes or refuses a changed file."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ntkviz
from ntkviz.figures import data as own_data
from tests.conftest import TINY

# posterior at a few steps, one small width: seconds
POSTERIOR = ["posterior", "--quick", "--steps", "20", "--frames", "4", "--widths", "32",
             "--count", "4", "--points", "21", *TINY]  # fmt: skip
SPECTRUM = ["kernel-spectrum", "--quick", "--steps", "50", "--frames", "5", "--widths", "32",
            "--count", "2", "--modes", "1,2,4", "--eigenfunctions", "2", *TINY]  # fmt: skip
POINTS = [(0.5, 1.0), (-2.0, 0.5), (1.5, 0.2), (-1.0, -0.3)]


def write_csv(path, rows, header="x,y"):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


def big_points(n=60):
    x = np.linspace(-2, 2, n)
    return np.c_[x, np.sin(3 * x)]


def test_csv_points_reach_the_training_set(tmp_path):
    csv = write_csv(tmp_path / "pts.csv", POINTS)
    anim = ntkviz.render("posterior", quick=True, train_data=csv, steps=20, frames=4,
                         widths=(32,), count=4, points=21)  # fmt: skip
    order = np.argsort([p[0] for p in POINTS])
    assert anim.result.x_train.tolist() == [POINTS[i][0] for i in order]
    assert anim.result.y_train.tolist() == [POINTS[i][1] for i in order]
    assert anim.config.x_train == tuple(p[0] for p in POINTS)
    # the same points given from Python, as NumPy arrays: the same numbers
    xs, ys = np.array(POINTS).T
    again = ntkviz.render("posterior", quick=True, x_train=xs, y_train=ys, steps=20, frames=4,
                          widths=(32,), count=4, points=21)  # fmt: skip
    np.testing.assert_array_equal(again.result.mean, anim.result.mean)


def test_npz_points_reach_kernel_spectrum(tmp_path):
    table = big_points(40)
    np.savez(tmp_path / "pts.npz", x=table[:, 0], y=table[:, 1])
    anim = ntkviz.render("kernel-spectrum", quick=True, train_data=tmp_path / "pts.npz",
                         steps=50, frames=5, widths=(32,), count=2, modes=(1, 2, 4),
                         eigenfunctions=2)  # fmt: skip
    np.testing.assert_array_equal(anim.result.x, table[:, 0])
    np.testing.assert_array_equal(anim.result.y, table[:, 1])
    assert anim.result.eigenvalues.shape == (40,)


def test_numpy_scalars_and_columns_are_lists():
    config = ntkviz.configure("posterior", x_train=np.float32(0.5), y_train=1)
    assert config.x_train == (0.5,) and config.y_train == (1.0,)
    config = ntkviz.configure("posterior", x_train=np.array([[1.0], [2.0]]), y_train=[3, 4])
    assert config.x_train == (1.0, 2.0)


BAD = [
    ("missing.csv", None, "no such file"),
    ("one.csv", "x\n1\n2\n", "line 2 has 1 column: give the columns x..., y"),
    ("ragged.csv", "x,y\n1,2\n3,4,5\n", "line 3 has 3 columns but line 2 has 2"),
    ("nan.csv", "x,y\n1,2\n3,nan\n", "line 3 has a value that is not finite (nan)"),
    ("word.csv", "x,y\n1,2\n3,abc\n", "line 3: 'abc' is not a number"),
    ("empty.csv", "x,y\n", "no points"),
    ("many.csv", "x,y\n" + "1,2\n" * (own_data.MAX_POINTS + 1), "more than 10000 points"),
    ("twice.csv", "x,y\n1,2\n1,3\n", "--x-train has the input 1 twice"),
    ("pts.txt", "1,2\n", "must be a .csv or .npz file"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_line_and_exit_2(cli, tmp_path, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    out = tmp_path / "p.gif"
    result = cli(*POSTERIOR, "--train-data", path, "-o", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--train-data" in lines[0], lines
    assert not out.exists()


def test_npz_without_y_is_refused(cli, tmp_path):
    np.savez(tmp_path / "a.npz", x=np.arange(3.0), z=np.arange(3.0))
    result = cli(*POSTERIOR, "--train-data", tmp_path / "a.npz", "-o", tmp_path / "p.gif")
    assert result.exit_code == 2
    assert "needs arrays x and y (it has x, z)" in result.output


def test_a_figure_without_a_training_set_refuses(cli, tmp_path):
    csv = write_csv(tmp_path / "pts.csv", POINTS)
    result = cli("toy-model", "--quick", *TINY, "--train-data", csv, "-o", tmp_path / "e.gif")
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "toy-model trains on no data set of its own" in line
    assert "posterior" in line and "kernel-spectrum" in line and "generalization" in line


def test_few_points_are_recorded_as_values_and_rerun_without_the_file(cli, tmp_path):
    csv = write_csv(tmp_path / "pts.csv", POINTS)
    out = tmp_path / "p.gif"
    assert cli(*POSTERIOR, "--train-data", csv, "-o", out).exit_code == 0
    record = json.loads((tmp_path / "p.gif.json").read_text())
    assert record["config"]["x_train"] == [p[0] for p in POINTS]
    assert record["train_data"]["values"] == "config" and record["train_data"]["points"] == 4
    csv.unlink()  # the values are in the sidecar: the file is not needed
    result = cli("rerun", f"{out}.json", "-o", tmp_path / "again.gif", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again.gif").read_bytes() == out.read_bytes()
    # a sidecar whose record and config disagree is refused in one line, nothing written
    record["config"].update(x_train=[], y_train=[])
    (tmp_path / "p.gif.json").write_text(json.dumps(record))
    result = cli("rerun", f"{out}.json", "-o", tmp_path / "bad.gif", "--no-progress")
    assert result.exit_code == 2 and "the config holds the points, and it does not" in result.output
    assert not (tmp_path / "bad.gif").exists()


def test_many_points_rerun_byte_identical_and_a_changed_file_is_refused(cli, tmp_path):
    csv = tmp_path / "big.csv"
    np.savetxt(csv, big_points(), delimiter=",", header="x,y", comments="")
    out = tmp_path / "s.gif"
    assert cli(*SPECTRUM, "--train-data", csv, "-o", out).exit_code == 0
    record = json.loads((tmp_path / "s.gif.json").read_text())
    import hashlib

    assert record["train_data"] == {"file": str(csv), "sha256": hashlib.sha256(csv.read_bytes())
                                    .hexdigest(), "points": 60, "dim": 1, "values": "file"}  # fmt: skip
    assert record["config"]["x_train"] == []  # the hash stands for the 120 numbers
    first = out.read_bytes()

    again = tmp_path / "again.gif"
    result = cli("rerun", f"{out}.json", "-o", again, "--no-progress")
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == first
    # the API's rerun writes the CLI's bytes
    ntkviz.rerun(f"{out}.json").save(tmp_path / "api.gif")
    assert (tmp_path / "api.gif").read_bytes() == first
    assert ntkviz.load_sidecar(f"{out}.json").config.x_train == tuple(big_points()[:, 0])

    with csv.open("a") as f:
        f.write("3,0\n")
    changed = tmp_path / "changed.gif"
    result = cli("rerun", f"{out}.json", "-o", changed, "--no-progress")
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "the training data" in line and "changed since the run" in line
    assert not changed.exists()
    with pytest.raises(ntkviz.ConfigError, match="changed since the run"):
        ntkviz.rerun(f"{out}.json")


def test_a_recorded_file_outside_the_sidecars_folder_is_not_read(cli, tmp_path):
    csv = tmp_path / "big.csv"
    np.savetxt(csv, big_points(), delimiter=",", header="x,y", comments="")
    (tmp_path / "run").mkdir()
    out = tmp_path / "run" / "s.gif"
    assert cli(*SPECTRUM, "--train-data", csv, "-o", out).exit_code == 0
    result = cli("rerun", f"{out}.json", "-o", tmp_path / "again.gif", "--no-progress")
    assert result.exit_code == 2
    assert "lies outside the sidecar's folder" in result.output and "--train-data" in result.output
    # named again, where it lies: read, its hash checked, the same bytes
    result = cli("rerun", f"{out}.json", "-o", tmp_path / "again.gif", "--train-data", csv,
                 "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again.gif").read_bytes() == out.read_bytes()


def test_points_of_three_coordinates_train_posterior_along_their_principal_line(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3))
    y = np.sin(x @ np.array([1.0, 0.5, -0.3]))
    np.savez(tmp_path / "p3.npz", x=x, y=y)
    anim = ntkviz.render("posterior", quick=True, train_data=tmp_path / "p3.npz", steps=20,
                         frames=4, widths=(32,), count=4, points=21)  # fmt: skip
    r = anim.result
    assert anim.config.input_dim == 3 and r.inputs.shape == (12, 3)
    np.testing.assert_array_equal(r.inputs, x)
    np.testing.assert_array_equal(r.y_train, y)
    centre, direction = r.line
    # the line: through the points' mean, along their first principal direction
    np.testing.assert_allclose(centre, x.mean(axis=0), atol=1e-12)
    top = np.linalg.eigh(np.cov(x, rowvar=False))[1][:, -1]
    assert abs(abs(direction @ top) - 1) < 1e-10
    np.testing.assert_allclose(r.x_train, (x - centre) @ direction, atol=1e-12)
    # the infinite-width mean after the last step, from ntkviz.kernels on the 3-d points
    grid = centre + r.x_grid[:, None] * direction
    kind = dict(depth=1, activation="erf", sigma_w=1.0, sigma_b=1.0)
    theta = ntkviz.kernels.infinite(x, **kind).ntk
    theta_grid = ntkviz.kernels.infinite(grid, x, **kind).ntk
    eta, t = r.rate, int(r.steps[-1])
    decay = np.linalg.matrix_power(np.eye(12) - eta * theta, t)
    expected = theta_grid @ np.linalg.solve(theta, (np.eye(12) - decay) @ y)
    np.testing.assert_allclose(r.theory_mean[-1], expected, atol=1e-8)
    assert "of 3 coordinates, drawn along their first principal direction" in anim.caption


def test_points_of_two_coordinates_are_refused_where_the_picture_has_one_x(cli, tmp_path):
    write_csv(tmp_path / "p2.csv", [(0, 1, 2), (1, 0, 3), (2, 2, 1)], header="a,b,y")
    out = tmp_path / "g.gif"
    result = cli("generalization", "--quick", *TINY, "--train-data", tmp_path / "p2.csv", "-o", out)
    assert result.exit_code == 2
    assert "2 input columns, but generalization draws functions of one x" in result.output
    assert not out.exists()
