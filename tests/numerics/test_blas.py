"""Large products of a pinned run go to numpy's BLAS (ntkviz.numerics.blas): the same product
as torch.bmm to rounding; small ones, products that need autograd and unpinned runs stay torch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ntkviz.numerics import blas
from ntkviz.runtime.pins import PINS, pinned_environment


def test_the_tests_run_pinned():
    assert pinned_environment()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_large_product_is_numpys_and_torchs_to_rounding(dtype):
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3, 40, 300, generator=generator, dtype=dtype)
    b = torch.randn(3, 100, 300, generator=generator, dtype=dtype).transpose(1, 2)
    assert blas.by_numpy(a, b)
    got = blas.bmm(a, b)
    expected = np.matmul(a.numpy(), b.numpy())
    assert got.dtype == dtype and got.shape == (3, 40, 100)
    assert np.array_equal(got.numpy(), expected)  # numpy's product itself
    # sums of 300 products of size ~17: float32 rounds them to about 3e-5 either way
    atol = 1e-4 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, torch.bmm(a, b), rtol=0, atol=atol)


def test_small_products_autograd_and_unpinned_runs_stay_torchs(monkeypatch):
    a, b = torch.randn(2, 50, 100), torch.randn(2, 100, 100)
    assert blas.by_numpy(a, b) and not blas.by_numpy(a[:, :1], b)  # 2e6 flops, then 4e4
    assert not blas.by_numpy(a, b, large=1e8)
    assert not blas.by_numpy(a.requires_grad_(True), b)
    with torch.no_grad():
        assert blas.by_numpy(a, b)  # no graph to keep
    assert not blas.by_numpy(a.detach().double(), b)  # mixed dtypes: torch's error
    monkeypatch.delenv(next(iter(PINS)))
    assert not blas.by_numpy(a.detach(), b)
