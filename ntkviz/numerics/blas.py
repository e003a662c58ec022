"""Large batched matrix products on the CPU, by numpy's OpenBLAS where the code paths are pinned.

A pinned run (``--reproducible``, every gallery build, the tests: :mod:`ntkviz.runtime.pins`)
gives torch's matmuls MKL's COMPATIBLE branch, the one MKL runs alike on Intel and AMD: SSE2
code. numpy's OpenBLAS is pinned there too, to its Haswell kernels (AVX2 and FMA) on one thread,
the same on every CPU with AVX2, and ran the large products of the sampled kernels and of
frames' grid forwards 2.5 to 6 times faster (bench/README.md). So :func:`bmm` takes numpy's for
a product of at least ``large`` flops in a pinned run; anywhere else (unpinned: MKL's own
branch, as fast or faster; numpy's OpenBLAS would take every core; a GPU; autograd) torch's.
"""

from __future__ import annotations

import numpy as np
import torch

from ntkviz.runtime.pins import pinned_environment

#: The flops from which a product goes to numpy in a pinned run (:func:`bmm`'s default).
LARGE = 1e6
_DTYPES = (torch.float32, torch.float64)


def by_numpy(a: torch.Tensor, b: torch.Tensor, large: float = LARGE) -> bool:
    """Whether :func:`bmm` computes ``a @ b`` ((K, M, N) @ (K, N, P)) by numpy."""
    if a.device.type != "cpu" or b.device.type != "cpu" or a.dtype != b.dtype:
        return False
    if a.dtype not in _DTYPES or (torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)):
        return False
    flops = 2.0 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
    return flops >= large and pinned_environment()


def bmm(a: torch.Tensor, b: torch.Tensor, large: float = LARGE) -> torch.Tensor:
    """``torch.bmm(a, b)``, by ``numpy.matmul`` where :func:`by_numpy` says (the same product,
    rounded another way)."""
    if by_numpy(a, b, large):
        return torch.from_numpy(np.matmul(a.detach().numpy(), b.detach().numpy()))
    return torch.bmm(a, b)
