"""The Python API at its edges (issue 29): all-equal groups and singletons, half-precision
results, NaN group ids, shapes of given advantages, tensors without values, and errors that name
the sample's index in the batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import maxk


def test_an_all_equal_group_is_left_unscaled_by_std_and_reported_as_no_signal():
    r = np.full(3, 0.7)
    std, diag = maxk.advantages_with_diagnostics(r, [0] * 3, 2, "pkpo", "std")
    none = maxk.advantages(r, 2, "pkpo")
    np.testing.assert_array_equal(std, none)
    assert diag["no_signal_groups"] == 1


@pytest.mark.parametrize("value", [0.7, 1e300, 1.5e7 + 0.1, 5e-324, -1.0 / 3.0])
@pytest.mark.parametrize("estimator", ["grpo", "rloo", "dr-grpo"])
@pytest.mark.parametrize("scale", ["none", "std", "pg"])
def test_mean_peers_give_exact_zeros_on_all_equal_groups(value, estimator, scale):
    a, diag = maxk.advantages_with_diagnostics(np.full(7, value), [3] * 7, 1, estimator, scale)
    assert np.all(a == 0.0), a
    assert diag["centering_residual"] == 0.0


@pytest.mark.parametrize("estimator", ["grpo", "dr-grpo"])
def test_singletons_are_zero(estimator):
    assert maxk.advantages(np.array([5.0]), 1, estimator).tolist() == [0.0]


@pytest.mark.parametrize(
    "rewards, estimator, scale",
    [([65504.0, -65504.0, 0.0], "rloo", "none"), ([1e-7, 0.0, 0.0], "grpo", "std")],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_results_beyond_the_range_raise(rewards, estimator, scale, dtype):
    t = torch.tensor(rewards, dtype=dtype)
    # bfloat16 has float32's range: its results fit.
    if dtype == torch.bfloat16:
        out = maxk.advantages(t, 1, estimator, scale)
        assert out.dtype == dtype and bool(torch.isfinite(out).all())
        return
    with pytest.raises(ValueError, match=r"advantage at index 0 is .* beyond the range of torch.float16"):
        maxk.advantages(t, 1, estimator, scale)


def test_half_precision_results_in_range_are_returned_in_that_dtype():
    t = torch.tensor([[1.0, 0.0, 0.5], [2.0, 2.0, 2.0]], dtype=torch.float16)
    out = maxk.advantages(t, 1, "rloo")
    assert out.dtype == torch.float16
    want = maxk.advantages(t.to(torch.float32), 1, "rloo").to(torch.float16)
    assert torch.equal(out, want)


def test_diagnostics_checks_the_shape_of_the_advantages():
    rewards = np.arange(6.0).reshape(2, 3)
    with pytest.raises(ValueError, match=r"advantages have shape \[3, 2\], rewards \[2, 3\]"):
        maxk.diagnostics(rewards, None, 1, advantages=np.zeros((3, 2)))
    d = maxk.diagnostics(rewards, None, 1, advantages=np.zeros((2, 3)))
    assert d["groups"] == 2


@pytest.mark.parametrize(
    "index",
    [
        [float("nan"), float("nan"), 1.0, 1.0],
        np.array([np.nan, np.nan, 1.0, 1.0]),
        np.array([float("nan"), float("nan"), "a", "a"], dtype=object),
    ],
)
def test_nan_ids_are_each_a_group_of_their_own(index):
    a = maxk.advantages_by_index(np.array([0.0, 1.0, 2.0, 3.0]), index, 1, "dr-grpo")
    assert a.tolist() == [0.0, 0.0, -0.5, 0.5]


def test_tensors_without_values_raise_type_error():
    dense = torch.tensor([[0.0, 1.0, 0.5]])
    for t in (dense[0].to_sparse(), dense.to_sparse(), dense.to_sparse_csr()):
        with pytest.raises(TypeError, match="dense"):
            maxk.advantages(t, 1)
    with pytest.raises(TypeError, match="meta device"):
        maxk.advantages(torch.empty(3, device="meta"), 1)
    with pytest.raises(TypeError, match="meta device"):
        maxk.multi_objective_advantages(torch.empty(3, 2, device="meta"), 1)


def test_errors_name_the_index_in_the_batch():
    scores = np.array([0.0, 1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match=r"^group id 7: reward at index 3 is NaN"):
        maxk.advantages_by_index(scores, [5, 7, 5, 7], 1)
    with pytest.raises(ValueError, match=r"^group id 'b': reward at index 3 is NaN"):
        maxk.advantages_by_index(scores, ["a", "b", "a", "b"], 1)
    with pytest.raises(ValueError, match=r"^2 group ids for 3 rewards: give one group id per reward$"):
        maxk.advantages_by_index(np.zeros(3), [0, 0], 1)
