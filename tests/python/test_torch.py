"""torch tensors in, torch tensors out: dtype and device kept."""

from __future__ import annotations

import numpy as np
import pytest

import maxk

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_torch_float_dtypes_kept(dtype):
    r = torch.tensor([[0.1, 0.9, 0.4, 0.4, 0.0, 0.7], [1.0, 0.0, 0.0, 1.0, 0.5, 0.5]], dtype=dtype)
    a = maxk.advantages(r, 3)
    assert isinstance(a, torch.Tensor) and a.dtype == dtype and a.shape == r.shape and a.device == r.device
    want = maxk.advantages(r.double().numpy(), 3)
    tol = {torch.float64: 1e-15, torch.float32: 1e-6}.get(dtype, 1e-2)
    np.testing.assert_allclose(a.double().numpy(), want, atol=tol, rtol=tol)


def test_torch_integer_bool_noncontiguous_and_grad():
    r = torch.tensor([0, 1, 1, 0, 1])
    assert maxk.advantages(r, 2).dtype == torch.float64
    assert maxk.advantages(r.bool(), 2).dtype == torch.float64
    base = torch.randn(6, 8, dtype=torch.float64)
    np.testing.assert_array_equal(maxk.advantages(base.t(), 2).numpy(), maxk.advantages(base.t().contiguous(), 2))
    leaf = torch.randn(5, requires_grad=True)
    out = maxk.advantages(leaf, 2)
    assert not out.requires_grad
    assert maxk.advantages_by_index(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0, 1, 0, 1]), 1).shape == (4,)
    rho = maxk.max_at_k(torch.ones(3, 4), 2)
    assert isinstance(rho, torch.Tensor) and rho.dtype == torch.float64


def test_torch_accelerator_device_kept():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    r = torch.rand(64, 8, device="cuda")
    a = maxk.advantages(r, 4)
    assert a.device == r.device and a.dtype == r.dtype
    np.testing.assert_allclose(a.cpu().numpy(), maxk.advantages(r.cpu().numpy(), 4), atol=0)
