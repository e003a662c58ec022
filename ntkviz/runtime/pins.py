"""Pinned numerical code paths: the same bits from the same inputs on any x86-64 CPU with AVX2
(``--reproducible`` and every gallery build).

torch (MKL's matmuls, ATen's own vectorised kernels), numpy (OpenBLAS's matmuls and LAPACK,
numpy's own SIMD loops) pick their code for the CPU they find when they load, and a reduction
split over threads adds in another order: each choice changes the last bits of a result, which
training amplifies into a different picture. Each library reads its setting once, from the
environment, when it loads, so :func:`apply` must run before torch and numpy are imported (the
CLI does it first thing; the gallery's spawned workers inherit the environment).

Measured on torch 2.13.0 (MKL 2024.2) and numpy 2.4 (scipy-openblas 0.3.31) on an AMD EPYC
(AVX-512): every variable below changes the bits of a result when it changes, i.e. each is
honoured; what each library then reports is read back by :func:`measured`. MKL honours an ISA
branch (``AVX2``) only on Intel CPUs (on AMD it reports AUTO), so the one branch the same on both
is ``COMPATIBLE``. numpy's groups before 2.4 had other names; a name it does not know is ignored
with an ImportWarning (unseen), so on such a numpy its own loops stay unpinned (``measured``
says so).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
from collections.abc import Iterator
from typing import Any

from ntkviz.errors import ConfigError

#: The variables set, and the values they are set to.
PINS: dict[str, str] = {
    # MKL (torch's matmuls): the SSE2 branch, the one MKL runs alike on Intel and AMD; STRICT:
    # bitwise even for unaligned arrays
    "MKL_CBWR": "COMPATIBLE,STRICT",
    # torch's own kernels (elementwise, reductions): AVX2 vectors, not AVX-512's wider ones
    "ATEN_CPU_CAPABILITY": "avx2",
    # numpy's OpenBLAS: the Haswell (AVX2) kernels, one thread (its split changes the sums)
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENBLAS_NUM_THREADS": "1",
    # numpy's own loops: no AVX-512 variants (numpy >= 2.4 names)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
#: torch's threads for every op of a pinned run (a reduction over 2 threads adds in another
#: order than over 1; machines differ in cores, so the one count the same everywhere is 1).
THREADS = 1

#: MKL's names of the branch numbers ``mkl_cbwr_get`` returns (mkl_cbwr.h).
_MKL_BRANCHES = {0: "OFF", 1: "OFF", 2: "AUTO", 3: "COMPATIBLE"}


def pinned_environment() -> bool:
    """Whether every pin is set in this process's environment."""
    return all(os.environ.get(k) == v for k, v in PINS.items())


def loaded() -> list[str]:
    """The libraries the pins are for that have loaded already (too late to pin them)."""
    return [name for name in ("torch", "numpy") if name in sys.modules]


def apply() -> None:
    """Set the pins, before torch and numpy load; where one has loaded already, make sure the
    pins were in force when it did, else ConfigError (one line): its code paths are chosen."""
    if pinned_environment():
        if loaded() and not in_force():
            raise _too_late()
        return
    if loaded():
        raise _too_late()
    os.environ.update(PINS)


def _too_late() -> ConfigError:
    words = " ".join(f"{k}={v!r}" for k, v in PINS.items())
    return ConfigError(
        f"reproducible: {' and '.join(loaded())} loaded before the numerical code paths could be "
        f"pinned; ask for reproducible first in a fresh Python, or start Python with {words}"
    )


def in_force() -> bool:
    """Whether the pins hold in this process: the environment says so and what the loaded
    libraries report agrees (torch's kernels AVX2 or less, numpy's no AVX-512)."""
    if not pinned_environment():
        return False
    found = measured()
    return found.get("torch_kernels") in (None, "AVX2", "AVX", "DEFAULT") and not found.get(
        "numpy_avx512"
    )


def measured() -> dict[str, Any]:
    """What the loaded libraries report they use (a key is left out where one cannot say):
    torch's kernels (ATen's capability), MKL's branch, OpenBLAS's core and threads, whether
    numpy's own loops may use AVX-512."""
    found: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            found["torch_kernels"] = str(torch.backends.cpu.get_cpu_capability())
        branch = _mkl_branch(torch)
        if branch is not None:
            found["mkl_branch"] = branch
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        with contextlib.suppress(Exception):
            from numpy._core._multiarray_umath import __cpu_features__ as features

            if "X86_V4" in features:
                found["numpy_avx512"] = bool(features["X86_V4"])
        found.update(_openblas(numpy))
    return found


def _mkl_branch(torch: Any) -> str | None:
    """MKL's code branch as MKL reports it (torch links MKL into libtorch_cpu)."""
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    branch = get(1)  # MKL_CBWR_BRANCH
    return _MKL_BRANCHES.get(branch, f"branch {branch}")


def _openblas(numpy: Any) -> dict[str, Any]:
    """OpenBLAS's core (its kernels) and thread count, from the library numpy's wheel bundles."""
    folder = os.path.join(os.path.dirname(numpy.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
            core = lib.scipy_openblas_get_corename64_
            count = lib.scipy_openblas_get_num_threads64_
        except (OSError, AttributeError):
            continue
        core.restype, count.restype = ctypes.c_char_p, ctypes.c_int
        return {"openblas_core": core().decode("ascii", "replace"), "openblas_threads": count()}
    return {}


def cpu() -> str:
    """The CPU's model name (which machine made a file), or the platform's word for it."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


def record() -> dict[str, Any]:
    """What a pinned run's sidecar records: the variables set, the thread count, what the
    libraries report, and whether the pins held."""
    return {
        "environment": {k: os.environ.get(k) for k in PINS},
        "threads": THREADS,
        "measured": measured(),
        "in_force": in_force(),
    }


@contextlib.contextmanager
def threads() -> Iterator[None]:
    """Every op of a pinned run on :data:`THREADS` threads inside (the thread budget too)."""
    import torch

    from ntkviz.runtime import threads as policy

    saved, count = policy._budget, torch.get_num_threads()
    policy.set_budget(THREADS)
    try:
        yield
    finally:
        policy.set_budget(saved)
        torch.set_num_threads(count)
