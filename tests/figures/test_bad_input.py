"""Bad input, for every figure: one "Error: ..." line, the right exit code, nothing written.

One parametrised test, fed by one table per figure: a tiny run's options (so a case that passes
the checks fails fast) and its cases (options, exit code, a fragment of the message). Exit code 2
is a refused option; 1 a run that fails on its way (training diverged).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import TINY

#: Stands for ``tmp_path / "x.png"`` in a table's options (a --still next to the output).
STILL = "<tmp>/x.png"
HESSIAN_BASE = ["--widths", "2,4,8", "--ratio-max-width", "64", "--seeds", "3", "--hold", "0"]
SMALL_FRAMES = ["--size", "6x3", "--dpi", "30", "--no-progress"]  # 180 x 90 px frames
KAPPA_FRAMES = ["--size", "6x2", "--dpi", "30", "--no-progress"]  # 180 x 60 px frames


@dataclass(frozen=True)
class Table:
    figure: str
    output: str  # the -o file's name under tmp_path
    options: list  # a tiny run of the figure
    cases: list  # (options, exit code, a fragment of the one error line)


TABLES = [
    Table(
        "generalization",
        "gen.gif",
        ["--widths", 8, "--count", 2, "--steps", 20, "--frames", 4, "--points", 20, *TINY],
        [
            (["--n-train", "0"], 2, "--n-train must be >= 1"),
            (["--count", "0"], 2, "--count must be >= 1"),
            (["--widths", "8,0"], 2, "--widths must be >= 1"),
            (["--depth", "0"], 2, "--depth must be >= 1"),
            (["--steps", "0"], 2, "--steps must be >= 1"),
            (["--lr", "0"], 2, "--lr must be > 0"),
            (["--lr", "-0.1"], 2, "--lr must be > 0"),
            (["--noise", "-1"], 2, "--noise must be >= 0"),
            (
                ["--x-train", "1,2", "--y-train", "1"],
                2,
                "--x-train has 2 value(s) but --y-train has 1",
            ),
            (["--y-train", "1,2"], 2, "--y-train needs --x-train"),
            (["--x-train", "1,2,1"], 2, "--x-train has the input 1 twice"),
            (["--x-train", "1,1.0000000000001"], 2, "--x-train: the kernel matrix Theta(X, X)"),
            (["--x-span", "2,2"], 2, "--x-span must be MIN,MAX with MIN < MAX"),
            (["--target", "exp"], 2, "--target must be one of sin, cos, abs, step"),
            (["--activation", "tanh"], 2, "--activation must be one of relu, erf"),
            (
                ["--clock", "linear", "--steps", "100", "--frames", "7"],
                2,
                "--steps (100) must be a multiple of --frames (7)",
            ),
            (
                ["--steps", "100", "--frames", "101"],
                2,
                "--frames (101) must not exceed --steps (100)",
            ),
            (["--clock", "sqrt"], 2, "--clock must be one of log, linear"),
            (["--lr", "100"], 1, "training diverged at step"),
        ],
    ),
    Table(
        "hessian-structure",
        "hs.gif",
        [*HESSIAN_BASE, *SMALL_FRAMES],
        [
            (["--widths", "0,4"], 2, "--widths must be >= 1 (got 0)"),
            (["--widths", "2,x"], 2, "--widths expects a comma-separated list of integers"),
            (["--widths", "100000"], 2, "--widths: width 100000 needs about"),
            (["--x", "0"], 2, "--x must not be 0"),
            (["--of", "gradient"], 2, "--of must be one of output, loss"),
            (["--layout", "sideways"], 2, "--layout must be one of both, raw, permuted"),
            (["--permutation", "random"], 2, "--permutation must be one of swap, pairs"),
            (["--activation", "gelu"], 2, "--activation must be one of"),
        ],
    ),
    Table(
        "init-functions",
        "x.gif",
        ["--count", 3, "--width", 8, "--frames", 3, "--points", 20, *TINY],
        [
            (["--width", "0"], 2, "--width must be >= 1"),
            (["--depth", "0"], 2, "--depth must be >= 1"),
            (["--count", "0"], 2, "--count must be >= 1"),
            (["--frames", "0"], 2, "--frames must be >= 1"),
            (["--steps-per-frame", "0"], 2, "--steps-per-frame must be >= 1"),
            (["--lr", "0"], 2, "--lr must be > 0"),
            (["--lr", "-1"], 2, "--lr must be > 0"),
            (["--x-train", "1,2,3"], 2, "--x-train has 3 value(s) but --y-train has 2"),
            (["--y-train", "1"], 2, "--x-train has 2 value(s) but --y-train has 1"),
            (["--x-train", "a,b"], 2, "--x-train expects a comma-separated list of numbers"),
            (["--y-train", "1,"], 2, "--y-train expects a comma-separated list of numbers"),
            (["--activation", "cube"], 2, "--activation must be one of relu"),
            (["--init", "xavier"], 2, "--init must be one of pytorch, lecun"),
            (["--xlim", "4,-4"], 2, "--xlim must be MIN,MAX with MIN < MAX"),
            (["--width", "1000000", "--count", "100000"], 2, "GiB on cpu; the limit is"),
            (
                ["--points", "1000000", "--frames", "100000", "--count", "10"],
                2,
                "snapshots of 10 nets",
            ),
            (["--lr", "100"], 1, "training diverged at step"),
        ],
    ),
    Table(
        "kappa-scaling",
        "x.gif",
        ["--still", STILL, *KAPPA_FRAMES],
        [
            (["--min-width", "0"], 2, "--min-width must be >= 1"),
            (["--max-width", "0.5"], 2, "--max-width must be >= 1"),
            (
                ["--min-width", "100", "--max-width", "10"],
                2,
                "--min-width (100) must not exceed --max-width (10)",
            ),
            (["--widths", "5,0"], 2, "--widths must be >= 1"),
            (["--widths", "5,x"], 2, "--widths expects a comma-separated list"),
            (["--widths-count", "0"], 2, "--widths-count must be >= 1"),
            (["--seeds", "0"], 2, "--seeds must be >= 1"),
            (["--alpha", "0"], 2, "--alpha must be > 0"),
            (["--alpha", "-2"], 2, "--alpha must be > 0"),
            (["--x", "0"], 2, "--x must not be 0"),
            (["--activation", "swish"], 2, "--activation must be one of"),
            (["--method", "magic"], 2, "--method must be one of exact, hvp, dense"),
            (
                ["--method", "dense", "--max-width", "20000"],
                2,
                "--method dense at width 20000 needs about",
            ),
            (["--method", "hvp", "--max-width", "1e7"], 2, "--method hvp at width 10000000"),
            (["--max-width", "1e10"], 2, "--max-width: width 10000000000 needs about"),
        ],
    ),
    Table(
        "kernel-change",
        "kc.png",
        ["--width", 8, "--trials", 1, *TINY],
        [
            (["--alphas", "0"], 2, "--alphas must be > 0"),
            (["--alphas", ""], 2, "--alphas expects a comma-separated list"),
            (["--widths", "0,10"], 2, "--widths must be >= 1"),
            (["--width", "0"], 2, "--width must be >= 1"),
            (["--trials", "0"], 2, "--trials must be >= 1"),
            (["--steps", "0"], 2, "--steps must be >= 1"),
            (["--lr", "0"], 2, "--lr must be > 0"),
            (["--x-train", "1,2,3"], 2, "--x-train and --y-train need the same number of values"),
            (["--vs", "depth"], 2, "--vs must be one of alpha, width"),
            (["--lr", "1", "--steps", "20"], 1, "training diverged at step"),
        ],
    ),
    Table(
        "kernel-spectrum",
        "k.gif",
        [
            "--widths",
            8,
            "--count",
            2,
            "--steps",
            20,
            "--frames",
            4,
            "--points",
            8,
            "--modes",
            "1,2,4",
            "--eigenfunctions",
            2,
            *TINY,
        ],
        [
            (["--points", "1"], 2, "--points must be >= 2"),
            (["--modes", "1,9"], 2, "--modes: mode 9 does not exist with --points 8"),
            (["--modes", "1,1"], 2, "--modes has a mode twice"),
            (["--eigenfunctions", "5"], 2, "--eigenfunctions must be <= the number of --modes (3)"),
            (["--frames", "30"], 2, "--frames (30) must not exceed --steps (20)"),
            (["--widths", "0"], 2, "--widths must be >= 1"),
            (["--x-span", "1,1"], 2, "--x-span must be MIN,MAX with MIN < MAX"),
            (["--target", "exp"], 2, "--target must be one of modes, sin, step, noise"),
            (["--lr", "100"], 1, "training diverged at step"),
        ],
    ),
    Table(
        "linearized",
        "lin.gif",
        ["--width", 8, "--sweep", "none", "--steps", 40, "--frames", 4, *TINY],
        [
            (["--width", "0"], 2, "--width must be >= 1"),
            (["--depth", "0"], 2, "--depth must be >= 1"),
            (["--steps", "0"], 2, "--steps must be >= 1"),
            (["--frames", "0"], 2, "--frames must be >= 1"),
            (["--points", "1"], 2, "--points must be >= 2"),
            (["--lr", "0"], 2, "--lr must be > 0"),
            (["--lr", "-1e-3"], 2, "--lr must be > 0"),
            (["--alpha", "0"], 2, "--alpha must be > 0"),
            (["--alphas", "1,-2"], 2, "--alphas must be > 0"),
            (["--widths", "10,0"], 2, "--widths must be >= 1"),
            (["--trials", "0"], 2, "--trials must be >= 1"),
            (["--x-train", "1,2,3"], 2, "--x-train has 3 value(s) but --y-train has 2"),
            (["--x-train", "1,1"], 2, "--x-train has the input 1 twice"),
            (["--x-train", "1,2,3", "--y-train", "1,2,3"], 2, "it needs exactly 2 training points"),
            (
                ["--clock", "linear", "--steps", "100", "--frames", "7"],
                2,
                "--steps (100) must be a multiple of --frames (7)",
            ),
            (
                ["--steps", "100", "--frames", "101"],
                2,
                "--frames (101) must not exceed --steps (100)",
            ),
            (["--clock", "sqrt"], 2, "--clock must be one of log, linear"),
            (["--steps", "10", "--frames", "20"], 2, "--frames (20) must not exceed --steps (10)"),
            (["--sweep", "depth"], 2, "--sweep must be one of none, alpha, width"),
            (["--x-limits", "3,1"], 2, "--x-limits must be MIN,MAX with MIN < MAX"),
            (["--lr", "1", "--steps", "40", "--frames", "4"], 1, "training diverged at step"),
        ],
    ),
    Table(
        "ntk-convergence",
        "conv.gif",
        [
            "--widths",
            "10,40",
            "--seeds",
            3,
            "--points",
            20,
            "--size",
            "6x3",
            "--dpi",
            30,
            "--no-progress",
        ],
        [
            (["--widths", "0,10"], 2, "--widths must be >= 1"),
            (["--widths", "10,abc"], 2, "--widths expects a comma-separated list"),
            (
                ["--seeds", "1"],
                2,
                "--seeds must be >= 2: the spread across nets needs at least two",
            ),
            (["--seeds", "0"], 2, "--seeds must be >= 2"),
            (
                ["--activation", "tanh"],
                2,
                "--activation tanh has no closed-form infinite-width kernel",
            ),
            (["--activation", "swish"], 2, "--activation swish is unknown: use one of relu, erf"),
            (["--x-limits", "3,-3"], 2, "--x-limits must be MIN,MAX with MIN < MAX"),
            (["--x-limits", "1,1"], 2, "--x-limits must be MIN,MAX with MIN < MAX"),
            (["--x-limits", "1,2,3"], 2, "--x-limits needs exactly 2 values"),
            (["--points", "1"], 2, "--points must be >= 2"),
            (["--depth", "0"], 2, "--depth must be >= 1"),
            (["--sigma-w", "0"], 2, "--sigma-w must be > 0"),
            (["--sigma-b", "-1"], 2, "--sigma-b must be >= 0"),
            (["--parameterization", "mup"], 2, "--parameterization must be one of standard, ntk"),
            (["--x0", "0", "--no-bias"], 2, "--x0 must not be 0 without biases"),
            (["--widths", "1000000", "--seeds", "100"], 2, "need about"),
        ],
    ),
    Table(
        "ntk-ellipses",
        "ell.gif",
        ["--width", 8, *TINY],
        [
            (["--alphas", "0,1"], 2, "--alphas must be > 0"),
            (["--alphas", "-1"], 2, "--alphas must be > 0"),
            (["--alphas", ""], 2, "--alphas expects a comma-separated list"),
            (["--width", "0"], 2, "--width must be >= 1"),
            (["--depth", "0"], 2, "--depth must be >= 1"),
            (["--steps", "0"], 2, "--steps must be >= 1"),
            (["--lr", "0"], 2, "--lr must be > 0"),
            (["--lr", "-1e-3"], 2, "--lr must be > 0"),
            (["--x-train", "1,2,3"], 2, "--x-train needs exactly 2 values"),
            (["--y-train", "1"], 2, "--y-train needs exactly 2 values"),
            (["--x-train", "1,1"], 2, "--x-train needs two different inputs"),
            (
                ["--clock", "linear", "--steps", "100", "--snapshot-every", "7"],
                2,
                "must be a multiple of --snapshot-every",
            ),
            (["--clock", "sqrt"], 2, "--clock must be one of own, log, linear"),
            (["--converged", "1"], 2, "--converged must be < 1"),
            (["--steps", "10", "--frames", "20"], 2, "--frames (20) must not exceed --steps (10)"),
            (["--ellipse-scale", "0"], 2, "--ellipse-scale must be > 0"),
            (
                ["--layout", "sideways"],
                2,
                "--layout must be one of both, grid, ellipses, functions",
            ),
            (["--activation", "swish"], 2, "--activation must be one of"),
            (
                ["--lr", "1", "--steps", "40", "--snapshot-every", "10"],
                1,
                "training diverged at step",
            ),
        ],
    ),
    Table(
        "posterior",
        "p.gif",
        ["--widths", 8, "--count", 3, "--steps", 20, "--frames", 4, "--points", 20, *TINY],
        [
            (["--count", "1"], 2, "--count must be >= 2"),
            (["--widths", "8,0"], 2, "--widths must be >= 1"),
            (["--lr", "0"], 2, "--lr must be > 0"),
            (["--band", "0"], 2, "--band must be > 0"),
            (["--time", "euler"], 2, "--time must be one of discrete, flow"),
            (["--x-limits", "2,1"], 2, "--x-limits must be MIN,MAX with MIN < MAX"),
            (
                ["--clock", "linear", "--steps", "20", "--frames", "7"],
                2,
                "--steps (20) must be a multiple of --frames (7)",
            ),
            (["--steps", "20", "--frames", "21"], 2, "--frames (21) must not exceed --steps (20)"),
            (["--clock", "sqrt"], 2, "--clock must be one of log, linear"),
            (["--activation", "tanh"], 2, "--activation must be one of relu, erf"),
            (["--lr", "100"], 1, "training diverged at step"),
        ],
    ),
    Table(
        "rich-lazy",
        "r.gif",
        ["--width", 10, "--steps", 20, "--frames", 4, "--points", 20, *TINY],
        [
            (["--width", "0"], 2, "--width must be >= 1"),
            (["--lazy-alpha", "0"], 2, "--lazy-alpha must be > 0"),
            (["--rich-alpha", "-1"], 2, "--rich-alpha must be >= 0"),
            (["--sweep", "1"], 2, "--sweep needs at least 2 value(s)"),
            (["--sweep", "1,1"], 2, "--sweep needs at least two different alphas"),
            (
                ["--clock", "linear", "--steps", "20", "--frames", "7"],
                2,
                "--steps (20) must be a multiple of --frames (7)",
            ),
            (["--steps", "20", "--frames", "21"], 2, "--frames (21) must not exceed --steps (20)"),
            (["--clock", "sqrt"], 2, "--clock must be one of log, linear"),
            (["--target", "exp"], 2, "--target must be one of abs, sin, step"),
            (["--lr", "1000"], 1, "training diverged at step"),
        ],
    ),
    Table(
        "weight-matrix",
        "x.gif",
        ["--widths", "4,6", "--steps", 10, *TINY],
        [
            (["--widths", "10,0"], 2, "--widths must be >= 1"),
            (["--widths", "10,abc"], 2, "--widths expects a comma-separated list of integers"),
            (["--widths", "10.5"], 2, "--widths expects a comma-separated list of integers"),
            (["--depth", "0"], 2, "--depth must be >= 1"),
            (["--count", "0"], 2, "--count must be >= 1"),
            (["--steps", "0"], 2, "--steps must be >= 1"),
            (["--snapshot-every", "0"], 2, "--snapshot-every must be >= 1"),
            (["--lr", "0"], 2, "--lr must be > 0"),
            (["--lr", "-0.1"], 2, "--lr must be > 0"),
            (["--x-train", "1,2,3"], 2, "--x-train has 3 value(s) but --y-train has 2"),
            (["--y-train", "2,x"], 2, "--y-train expects a comma-separated list of numbers"),
            (["--max-pixels", "0"], 2, "--max-pixels must be >= 1"),
            (["--layout", "grid"], 2, "--layout must be one of matrices, curves, full"),
            (["--show", "grads"], 2, "--show must be one of weights, delta"),
            (["--widths", "1000000", "--count", "1000"], 2, "GiB on cpu; the limit is"),
            (
                [
                    "--widths",
                    "4000",
                    "--max-pixels",
                    "4000",
                    "--steps",
                    "10000000",
                    "--frames",
                    "100000",
                ],
                2,
                "snapshots of the weight matrices",
            ),
            (["--lr", "100"], 1, "training diverged at step"),
        ],
    ),
]

CASES = [
    pytest.param(table, args, code, message, id=f"{table.figure} {' '.join(args)}")
    for table in TABLES
    for args, code, message in table.cases
]


@pytest.mark.parametrize("table,args,code,message", CASES)
def test_bad_input_one_line_nothing_written(cli, tmp_path, table, args, code, message):
    options = [tmp_path / "x.png" if option == STILL else option for option in table.options]
    result = cli(table.figure, "-o", tmp_path / table.output, *options, *args)
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []


def test_every_table_has_cases_and_no_case_twice():
    assert len(TABLES) == len({table.figure for table in TABLES})
    for table in TABLES:
        keys = [tuple(args) for args, _, _ in table.cases]
        assert keys and len(keys) == len(set(keys)), table.figure
