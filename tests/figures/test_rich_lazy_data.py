"""rich-lazy on points of one's own: x_train/y_train from Python (arrays or lists) and
--train-data FILE.csv|.npz train both regimes and the sweep, the kernel is measured over the
points' span, the sidecar records them and a rerun writes the same bytes; points the picture
cannot show (d > 1, outside --x-limits) are one line and exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY, gif_frames

import ntkviz

SMALL = dict(steps=30, frames=4, width=20, sweep=(1.0, 10.0), sweep_nets=2, sweep_points=21,
             points=31)  # fmt: skip
CLI = ["rich-lazy", "--quick", "--steps", "30", "--frames", "4", "--width", "20", "--sweep",
       "1,10", "--sweep-nets", "2", "--sweep-points", "21", "--points", "31", *TINY]  # fmt: skip
X = np.array([0.9, -1.7, 2.4, -0.3, 0.2, -1.0, 1.6])
Y = np.cos(2 * X)


def test_arrays_train_both_regimes_and_the_sweep_on_them():
    anim = ntkviz.render("rich-lazy", quick=True, x_train=X, y_train=Y, **SMALL)
    r, order = anim.result, np.argsort(X)
    np.testing.assert_array_equal(r.x_train, X[order])
    np.testing.assert_array_equal(r.y_train, Y[order])
    # zeroed nets: f = 0 at step 0, so the loss MSE / alpha^2 is mean(y^2) / alpha^2 for each
    np.testing.assert_allclose(r.loss[0], np.mean(Y**2) / r.alphas**2, rtol=1e-12)
    # both learn them: the loss falls, and the function on the grid moves toward the points
    assert (r.loss[-1] < 0.5 * r.loss[0]).all()
    at = np.interp(X, r.x_grid, r.functions[-1, 0])
    assert np.mean((at - Y) ** 2) < 0.5 * np.mean(Y**2)
    assert "on 7 given points" in anim.caption
    # the same points as lists, and as an (N, 1) column: the same run
    again = ntkviz.render("rich-lazy", quick=True, x_train=X[:, None], y_train=list(Y), **SMALL)
    np.testing.assert_array_equal(again.result.functions, r.functions)
    np.testing.assert_array_equal(again.result.sweep_kernel_nets, r.sweep_kernel_nets)


def test_the_kernel_is_measured_over_the_points_span():
    config = ntkviz.configure("rich-lazy", x_train=X, y_train=Y)
    assert config.span() == (-1.7, 2.4)
    assert ntkviz.configure("rich-lazy").span() == (-2.0, 2.0)  # --x-span without points
    # the sweep's kernel on the points' span differs from the one on --x-span
    narrow = ntkviz.render("rich-lazy", quick=True, x_train=X / 4, y_train=Y, **SMALL)
    spaced = ntkviz.render("rich-lazy", quick=True, x_train=X / 4, y_train=Y, x_span=(-0.425, 0.6),
                           **SMALL)  # fmt: skip
    np.testing.assert_array_equal(narrow.result.sweep_kernel, spaced.result.sweep_kernel)


def test_points_the_picture_cannot_show_are_refused():
    with pytest.raises(ntkviz.ConfigError, match=r"input 4 outside --x-limits \(-3, 3\)"):
        ntkviz.configure("rich-lazy", x_train=[0.0, 4.0], y_train=[1.0, 2.0])
    assert ntkviz.configure("rich-lazy", x_train=[0.0, 4.0], y_train=[1, 2], x_limits=(-5, 5))
    with pytest.raises(ntkviz.ConfigError, match="rich-lazy draws functions of one x"):
        ntkviz.configure("rich-lazy", x_train=np.ones((3, 2)), y_train=[1, 2, 3])
    assert ntkviz.configure("rich-lazy", x_train=[[0.5], [1.0]], y_train=[1, 2]).x_train == (
        0.5,
        1.0,
    )
    with pytest.raises(ntkviz.ConfigError, match="--x-train and --y-train go together"):
        ntkviz.configure("rich-lazy", x_train=X)


def test_a_csv_reruns_without_the_file_and_an_npz_with_it(cli, tmp_path):
    csv = tmp_path / "pts.csv"
    np.savetxt(csv, np.c_[X, Y], delimiter=",", header="x,y", comments="")
    out = tmp_path / "rl.gif"
    result = cli(*CLI, "--train-data", csv, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(gif_frames(out)[0]) == 5
    record = json.loads((tmp_path / "rl.gif.json").read_text())
    assert record["config"]["x_train"] == X.tolist() and record["config"]["y_train"] == Y.tolist()
    assert record["train_data"]["values"] == "config" and record["train_data"]["points"] == 7
    csv.unlink()
    result = cli("rerun", f"{out}.json", "-o", tmp_path / "again.gif", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again.gif").read_bytes() == out.read_bytes()

    x = np.linspace(-2.5, 2.5, 60)  # 120 numbers: the file's hash stands for them
    np.savez(tmp_path / "many.npz", x=x, y=np.abs(x) - 1)
    big = tmp_path / "many.gif"
    result = cli(*CLI, "--train-data", tmp_path / "many.npz", "-o", big)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "many.gif.json").read_text())
    assert record["train_data"]["values"] == "file" and record["config"]["x_train"] == []
    result = cli("rerun", f"{big}.json", "-o", tmp_path / "big-again.gif", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "big-again.gif").read_bytes() == big.read_bytes()


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("far.csv", "x,y\n0,1\n7,2\n", "input 7 outside --x-limits (-3, 3)"),
        ("two.csv", "a,b,y\n0,1,2\n1,0,3\n", "2 input columns, but rich-lazy draws functions"),
        ("word.csv", "x,y\n0,1\n1,one\n", "line 3: 'one' is not a number"),
        ("one.npz", None, "needs arrays x and y (it has x)"),
    ],
    ids=["outside", "two-columns", "word", "npz-without-y"],
)
def test_a_bad_file_is_one_line_exit_2_and_nothing_written(cli, tmp_path, name, text, message):
    path = tmp_path / name
    if text is None:
        np.savez(path, x=X)
    else:
        path.write_text(text)
    out = tmp_path / "rl.gif"
    result = cli(*CLI, "--train-data", path, "-o", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--train-data" in lines[0], lines
    assert list(tmp_path.iterdir()) == [path]
