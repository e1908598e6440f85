"""maxk.multi_objective_advantages: numpy and torch, dense, batched and ragged, against the
brute-force reference (the weighted sum of each axis's reference advantages)."""

from __future__ import annotations

import numpy as np
import pytest
import reference

import maxk

ESTIMATORS = list(maxk.estimators())


def multi_reference(rows, ks, estimators, scales, weights) -> np.ndarray:
    rows = np.asarray(rows, dtype=float)
    out = np.zeros(rows.shape[0])
    for d in range(rows.shape[1]):
        out += weights[d] * reference.advantages(rows[:, d], ks[d], estimators[d], scales[d])
    return out


def random_case(rng: np.random.Generator, n: int):
    """Per-axis estimator, K and scale drawn at random, binary columns for the binary estimators (passk-analytic, maxrl)."""
    d = int(rng.integers(1, 4))
    estimators = [str(e) for e in rng.choice(ESTIMATORS, d)]
    ks = [int(rng.choice(list(reference.valid_ks(e, n)))) for e in estimators]
    scales = [str(s) for s in rng.choice(["none", "std", "pg"], d)]
    weights = rng.normal(size=d).tolist()
    cols = [
        rng.integers(0, 2, n).astype(float) if e in ("passk-analytic", "maxrl") else rng.integers(0, 5, n) / 4.0
        for e in estimators
    ]
    return np.stack(cols, axis=1), ks, estimators, scales, weights


def test_matches_brute_force_for_every_estimator_mix():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 8))
        rows, ks, ests, scales, weights = random_case(rng, n)
        got = maxk.multi_objective_advantages(rows, ks, weights=weights, estimator=ests, scale=scales)
        want = multi_reference(rows, ks, ests, scales, weights)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=f"{ests} {ks} {scales}")


def test_batch_ragged_and_broadcast_settings():
    rng = np.random.default_rng(1)
    groups = [rng.integers(0, 3, (n, 2)).astype(float) for n in (3, 5, 4)]
    weights = [1.0, 0.25]
    one = [maxk.multi_objective_advantages(g, 2, weights=weights) for g in groups]
    for g, a in zip(groups, one):
        np.testing.assert_allclose(a, multi_reference(g, [2, 2], ["maxpo"] * 2, ["none"] * 2, weights), atol=1e-12)
        assert abs(a.sum()) < 1e-12  # MaxPO on both axes: centered
    offsets = np.cumsum([0] + [len(g) for g in groups])
    ragged = maxk.multi_objective_advantages(np.concatenate(groups), 2, weights=weights, offsets=offsets)
    np.testing.assert_array_equal(ragged, np.concatenate(one))
    dense = np.stack([g[:3] for g in groups])  # [G, N, D]
    batched = maxk.multi_objective_advantages(dense, 2, weights=weights)
    assert batched.shape == (3, 3)
    for g in range(3):
        np.testing.assert_array_equal(batched[g], maxk.multi_objective_advantages(dense[g], 2, weights=weights))


def test_one_hot_weights_give_the_single_axis_advantages():
    rows = np.array([[0.0, 1.0], [1.0, 0.5], [0.5, 0.5], [1.0, 0.0], [0.0, 0.0]])
    for d in range(2):
        w = [1.0 if e == d else 0.0 for e in range(2)]
        got = maxk.multi_objective_advantages(rows, [3, 2], weights=w, estimator=["maxpo", "pkpo"])
        want = maxk.advantages(rows[:, d], [3, 2][d], ["maxpo", "pkpo"][d])
        np.testing.assert_array_equal(got, want)


def test_dtypes_and_torch():
    rows32 = np.array([[0, 1], [1, 1], [0, 0], [1, 0]], dtype=np.float32)
    out32 = maxk.multi_objective_advantages(rows32, 2)
    assert out32.dtype == np.float32 and out32.shape == (4,)
    np.testing.assert_allclose(out32, maxk.multi_objective_advantages(rows32.astype(np.float64), 2), rtol=1e-6)
    assert maxk.multi_objective_advantages([[0, 1], [1, 1], [0, 0]], 1).dtype == np.float64
    torch = pytest.importorskip("torch")
    t = torch.tensor(rows32, dtype=torch.bfloat16)
    got = maxk.multi_objective_advantages(t, 2, weights=[1.0, 2.0])
    assert isinstance(got, torch.Tensor) and got.dtype == torch.bfloat16 and got.shape == (4,)
    want = maxk.multi_objective_advantages(rows32, 2, weights=[1.0, 2.0])
    np.testing.assert_allclose(got.float().numpy(), want, rtol=1e-2)
    batch = torch.tensor(np.stack([rows32, rows32[::-1].copy()]))
    assert maxk.multi_objective_advantages(batch, 2).shape == (2, 4)


def test_errors_name_axis_group_and_value():
    rows = np.array([[0.0, 1.0], [1.0, np.nan], [0.5, 0.0]])
    with pytest.raises(ValueError, match=r"^axis 1: reward at index 1 is NaN, rewards must be finite$"):
        maxk.multi_objective_advantages(rows, 1)
    batch = np.zeros((2, 3, 2))
    batch[1, 2, 0] = np.inf
    with pytest.raises(ValueError, match=r"^group 1: axis 0: reward at index 2 is inf"):
        maxk.multi_objective_advantages(batch, 1)
    with pytest.raises(ValueError, match=r"k = 3 is out of range for maxpo with group size 3"):
        maxk.multi_objective_advantages(np.zeros((3, 2)), [1, 3])
    with pytest.raises(ValueError, match=r"weights has 3 values for 2 reward axes"):
        maxk.multi_objective_advantages(np.zeros((3, 2)), 1, weights=[1, 2, 3])
    with pytest.raises(ValueError, match=r"weight of axis 0 is NaN, weights must be finite"):
        maxk.multi_objective_advantages(np.zeros((3, 2)), 1, weights=[float("nan"), 1.0])
    with pytest.raises(ValueError, match=r"unknown estimator \"nope\""):
        maxk.multi_objective_advantages(np.zeros((3, 2)), 1, estimator=["maxpo", "nope"])
    with pytest.raises(ValueError, match=r"shape \[N, D\] or \[G, N, D\]"):
        maxk.multi_objective_advantages(np.zeros(3), 1)
    with pytest.raises(ValueError, match=r"last offset is 4, must equal the number of rewards 5"):
        maxk.multi_objective_advantages(np.zeros((5, 2)), 1, offsets=[0, 2, 4])
