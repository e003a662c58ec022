"""--reproducible: the numerical code paths pinned before torch and numpy load, honoured by each
library (as it reports), recorded in the sidecar, kept by ``rerun``, refused where torch loaded
unpinned first, and one thread for every op of the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ntkviz import sidecar
from ntkviz.runtime import pins

QUICK = ["--quick", "--size", "3x2", "--dpi", "40", "--hold", "0", "--no-progress", "-q"]


def unpinned() -> dict[str, str]:
    """This environment without the pins (the test process itself runs pinned: conftest)."""
    return {k: v for k, v in os.environ.items() if k not in pins.PINS}


def python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=unpinned(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def ntkviz(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ntkviz", *args],
        cwd=cwd,
        env=unpinned(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def has_avx2() -> bool:
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def test_each_pin_is_honoured_by_its_library_in_a_fresh_process(tmp_path):
    """apply() before the imports: torch's kernels run AVX2, MKL the COMPATIBLE branch,
    OpenBLAS the Haswell core on one thread, numpy's loops no AVX-512 (as each library reports
    it); without apply() (the same machine) the same readings are the libraries' own."""
    code = (
        "import json, sys\n"
        "from ntkviz.runtime import pins\n"
        "if sys.argv[-1] == 'pin': pins.apply()\n"
        "import numpy, torch\n"
        "print(json.dumps({**pins.measured(), 'in_force': pins.in_force()}))\n"
    )
    runs = {}
    for mode in ("pin", "free"):
        done = subprocess.run(
            [sys.executable, "-c", code, mode],
            cwd=tmp_path,
            env=unpinned(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        runs[mode] = json.loads(done.stdout)
    pinned, free = runs["pin"], runs["free"]
    assert pinned["in_force"] is True and free["in_force"] is False
    assert pinned["mkl_branch"] == "COMPATIBLE" and free["mkl_branch"] != "COMPATIBLE"
    if has_avx2():
        assert pinned["torch_kernels"] == "AVX2"
        assert pinned["openblas_core"] == "Haswell"
    assert pinned["openblas_threads"] == 1
    if "numpy_avx512" in pinned:
        assert pinned["numpy_avx512"] is False


def test_threads_pins_every_op_to_one_thread_and_restores():
    import torch

    from ntkviz.runtime import threads as policy

    torch.set_num_threads(2)
    before = policy._budget
    with pins.threads():
        assert torch.get_num_threads() == pins.THREADS == 1
        assert policy.threads_for(1e12) == 1  # even an op large enough for more
    assert torch.get_num_threads() == 2 and policy._budget == before


def test_a_reproducible_run_records_its_pins_and_rerun_keeps_them(tmp_path):
    done = ntkviz("toy-model", *QUICK, "--reproducible", "-o", "pinned.gif", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = sidecar.read(tmp_path / "pinned.gif.json")
    assert record["reproducible"] is True and record["cpu"]
    assert record["pins"]["environment"] == pins.PINS and record["pins"]["threads"] == 1
    assert record["pins"]["in_force"] is True
    assert record["pins"]["measured"]["mkl_branch"] == "COMPATIBLE"
    plain = ntkviz("toy-model", *QUICK, "-o", "plain.gif", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert sidecar.read(tmp_path / "plain.gif.json")["pins"] is None
    again = ntkviz("rerun", "pinned.gif.json", "-o", "again.gif", "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sidecar.read(tmp_path / "again.gif.json")["pins"]["in_force"] is True
    assert (tmp_path / "again.gif").read_bytes() == (tmp_path / "pinned.gif").read_bytes()


def test_the_api_pins_when_asked_first_and_refuses_after_torch_loaded_unpinned(tmp_path):
    first = python(
        "import ntkviz\n"
        "a = ntkviz.render('toy-model', quick=True, reproducible=True, size='3x2', dpi=40)\n"
        "a.save('api.gif')\n",
        tmp_path,
    )
    assert first.returncode == 0, first.stderr
    assert sidecar.read(tmp_path / "api.gif.json")["pins"]["in_force"] is True
    late = python(
        "import torch, ntkviz\n"
        "from ntkviz.errors import ConfigError\n"
        "try:\n"
        "    ntkviz.render('toy-model', quick=True, reproducible=True)\n"
        "except ConfigError as exc:\n"
        "    print('refused:', exc)\n",
        tmp_path,
    )
    assert late.returncode == 0, late.stderr
    (line,) = late.stdout.splitlines()
    assert line.startswith("refused: reproducible: torch") and "loaded before" in line
    assert all(f"{name}=" in line for name in pins.PINS)  # how to start Python pinned


@pytest.mark.parametrize("pinned", [True, False])
def test_a_record_made_with_other_code_paths_is_not_current(pinned, tmp_path):
    """The gallery skips a figure only when its sidecar's pins are the pins it would use."""
    import dataclasses

    from ntkviz.config import to_jsonable
    from ntkviz.gallery.plan import Job, plan

    _, config, options = plan(Job("toy-model", tmp_path))
    assert options.extra == {"reproducible": True}  # every gallery figure is pinned
    options = dataclasses.replace(options, extra={"reproducible": pinned})
    base = {
        "config": to_jsonable(config),
        "seed": options.seed,
        "quick": options.quick,
        "hold": options.hold,
        "style": to_jsonable(options.style),
        "fps": options.fps,
        "also": [str(p) for p in options.also],
        "still": str(options.still) if options.still else None,
        "versions": {"ntkviz": sidecar.__version__},
    }
    made_pinned = {**base, "pins": {"environment": dict(pins.PINS), "in_force": True}}
    made_free = {**base, "pins": None}
    assert sidecar.is_current(made_pinned, config, options) is pinned
    assert sidecar.is_current(made_free, config, options) is (not pinned)
    assert sidecar.is_current({**base}, config, options) is (not pinned)  # an older sidecar


def test_the_gallery_command_pins_before_its_modules_load_numpy(tmp_path):
    """``ntkviz gallery`` from an unpinned shell: the gallery's modules import numpy, so the pins
    must be set before them (once refused its own build: "numpy loaded before ...")."""
    done = ntkviz(
        "gallery", "--only", "kappa-scaling", "--quick", "--format", "png", "--out", "g", "-q",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "g" / "kappa-scaling.gif.json").read_text())
    assert record["pins"]["environment"] == pins.PINS and record["pins"]["in_force"] is True
