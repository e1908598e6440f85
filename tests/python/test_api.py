"""The public API of the maxk wheel: values, dtypes, shapes, devices, errors, GIL and threads."""

from __future__ import annotations

import math
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import reference

import maxk

ESTIMATORS = list(maxk.estimators())
BINARY = ("passk-analytic", "maxrl")  # estimators for 0/1 rewards
RANKED = ["pkpo", "pkpo-loo", "pkpo-loo1", "ei", "maxpo", "canonical"]


def groups(seed: int = 0):
    """Small groups with ties, binary rewards and continuous rewards."""
    rng = np.random.default_rng(seed)
    out = []
    for n in range(2, 8):
        out.append(rng.integers(0, 3, n).astype(float))  # many ties
        out.append(rng.integers(0, 2, n).astype(float))  # binary
        out.append(rng.normal(size=n))
    return out


# ---- values against the brute-force reference -------------------------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("scale", ["none", "std", "pg"])
def test_matches_brute_force(estimator, scale):
    checked = 0
    for r in groups():
        if estimator in BINARY and not set(r) <= {0.0, 1.0}:
            continue
        for k in reference.valid_ks(estimator, len(r)):
            got = maxk.advantages(r, k, estimator, scale)
            want = reference.advantages(r, k, estimator, scale)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=f"{estimator} k={k} r={r}")
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_batch_equals_rows_and_by_index(estimator):
    rng = np.random.default_rng(1)
    rewards = rng.integers(0, 2, (9, 6)).astype(float) if estimator in BINARY else rng.normal(size=(9, 6))
    k = 3
    batch = maxk.advantages(rewards, k, estimator)
    rows = np.stack([maxk.advantages(row, k, estimator) for row in rewards])
    np.testing.assert_array_equal(batch, rows)
    # the same groups, shuffled and labelled with verl-style string uids
    order = rng.permutation(rewards.size)
    uid = np.array([f"prompt-{g}" for g in range(9) for _ in range(6)], dtype=object)
    flat = maxk.advantages_by_index(rewards.reshape(-1)[order], uid[order], k, estimator)
    np.testing.assert_allclose(flat, batch.reshape(-1)[order], rtol=0, atol=1e-15)


def test_maxpo_properties():
    r = np.array([0.1, 0.9, 0.4, 0.4, 0.0, 0.7])
    a = maxk.advantages(r, 4)
    assert abs(a.sum()) < 1e-12
    assert a[1] > a[5] > a[2] == a[3]
    np.testing.assert_allclose(maxk.advantages(r, 4, scale="pg"), maxk.advantages(r, 4, "canonical"), atol=1e-15)
    # MATH.md: binary rewards, closed form of maxpo
    n, c, k = 8, 3, 3
    b = np.array([1.0] * c + [0.0] * (n - c))
    comb = math.comb
    want_pos = comb(n - c, k) / comb(n - 1, k)
    want_neg = comb(n - 1 - c, k) / comb(n - 1, k) - comb(n - 1 - c, k - 1) / comb(n - 1, k - 1)
    np.testing.assert_allclose(maxk.advantages(b, k), [want_pos] * c + [want_neg] * (n - c), atol=1e-14)


def test_ragged_groups_by_index():
    scores = np.array([1.0, 0.0, 3.0, 2.0, 5.0, 4.0, 0.5])
    index = [7, 3, 7, 3, 7, 9, 9]  # groups of 3, 2 and 2, interleaved
    got = maxk.advantages_by_index(scores, index, 1)
    for g in set(index):
        mask = np.array(index) == g
        np.testing.assert_allclose(got[mask], maxk.advantages(scores[mask], 1), atol=1e-15)
    # any hashable ids, also ones that cannot be sorted together
    mixed = np.array([("a", 1), 5, ("a", 1), 5, ("a", 1), None, None], dtype=object)
    np.testing.assert_array_equal(maxk.advantages_by_index(scores, mixed, 1), got)
    np.testing.assert_array_equal(maxk.advantages_by_index(scores, [-1, 2, -1, 2, -1, 0, 0], 1), got)


def test_max_at_k_and_pass_at_k():
    r = np.array([0.0, 1.0, 0.0, 0.0])
    assert maxk.max_at_k(r, 2) == pytest.approx(0.5, abs=1e-15)
    assert isinstance(maxk.max_at_k(r, 2), float)
    rng = np.random.default_rng(2)
    batch = rng.normal(size=(5, 6))
    rho = maxk.max_at_k(batch, 3)
    assert rho.shape == (5,) and rho.dtype == np.float64
    np.testing.assert_allclose(rho, [reference.rho(list(row), 3) for row in batch], atol=1e-12)
    assert maxk.pass_at_k(10, 3, 4) == pytest.approx(1 - math.comb(7, 4) / math.comb(10, 4), abs=1e-15)
    assert maxk.pass_at_k(5, 0, 2) == 0.0
    assert maxk.pass_at_k(5, 5, 2) == 1.0


def test_estimators_registry():
    table = maxk.estimators()
    assert list(table)[:6] == RANKED
    assert all(isinstance(v, maxk.EstimatorInfo) and v.id == k and v.description for k, v in table.items())
    maxpo = table["maxpo"]
    assert "Leave-Two-Out" in maxpo.description
    assert (maxpo.centered, maxpo.pg_unbiased, maxpo.pg_factor, maxpo.objective) == (True, True, "K/N", "J_K")
    assert (maxpo.uses_k, maxpo.valid_k, maxpo.min_group_size) == (True, "1 <= k <= N - 1", 2)
    grpo = maxk.estimator_info("grpo")
    assert (grpo.centered, grpo.pg_unbiased, grpo.uses_k, grpo.objective) == (True, False, False, "J_1")
    assert grpo.valid_k == "k >= 1, unused"
    assert [e for e, i in table.items() if not i.uses_k] == ["rloo", "dr-grpo", "grpo", "best-minus-second", "maxrl", "rs-grpo"]
    assert table["ei"].valid_k == "1 <= k <= N" and not table["ei"].centered
    with pytest.raises(ValueError, match="unknown estimator 'nope'|unknown estimator \"nope\""):
        maxk.estimator_info("nope")
    assert maxk.scales() == ("none", "std", "pg")


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimator_metadata_matches_behaviour(estimator):
    """Each EstimatorInfo field is what the estimator does: centering, the K range, the pg factor."""
    info = maxk.estimator_info(estimator)
    rng = np.random.default_rng(11)
    n = 6
    binary = estimator in ("passk-analytic", "maxrl")  # the estimators that need 0/1 rewards
    r = rng.integers(0, 2, size=n).astype(np.float64) if binary else rng.normal(size=n)
    r[:2] = [0.0, 1.0]  # never a constant group
    k_max = {"1 <= k <= N": n, "1 <= k <= N - 1": n - 1, "k >= 1, unused": n + 5}[info.valid_k]
    a = maxk.advantages(r, k_max, estimator)
    if info.centered:
        assert abs(a.sum()) < 1e-12
    if info.uses_k:
        with pytest.raises(ValueError, match=f"needs {info.valid_k}"):
            maxk.advantages(r, k_max + 1, estimator)
    with pytest.raises(ValueError):
        maxk.advantages(r[: info.min_group_size - 1], 1, estimator)
    k = min(k_max, n - 1)  # passk-analytic's K/(N-K) needs K < N
    factor = eval(info.pg_factor, {"N": n, "K": k})  # a formula in N and K, from the registry
    np.testing.assert_allclose(
        maxk.advantages(r, k, estimator, "pg"), factor * maxk.advantages(r, k, estimator), rtol=1e-12, atol=1e-14
    )
    assert isinstance(maxk.__version__, str) and maxk.__version__.count(".") == 2


# ---- dtypes, shapes, devices --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(6,), (4, 6)])
def test_float_dtypes_kept(dtype, shape):
    r = np.random.default_rng(3).normal(size=shape).astype(dtype)
    a = maxk.advantages(r, 2)
    assert a.dtype == dtype and a.shape == shape and isinstance(a, np.ndarray)
    np.testing.assert_allclose(a, maxk.advantages(r.astype(np.float64), 2), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint16, np.bool_, np.float16])
def test_other_numeric_dtypes_give_float64(dtype):
    r = np.array([0, 1, 1, 0, 1], dtype=dtype)
    a = maxk.advantages(r, 2)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, maxk.advantages(r.astype(np.float64), 2))


def test_non_contiguous_and_lists_and_readonly():
    base = np.random.default_rng(4).normal(size=(6, 8))
    view = base[:, ::2]  # non-contiguous
    np.testing.assert_array_equal(maxk.advantages(view, 2), maxk.advantages(view.copy(), 2))
    np.testing.assert_array_equal(maxk.advantages(base.T, 2), maxk.advantages(np.ascontiguousarray(base.T), 2))
    np.testing.assert_array_equal(maxk.advantages([0.0, 1.0, 0.5], 1), maxk.advantages(np.array([0.0, 1.0, 0.5]), 1))
    frozen = base.copy()
    frozen.flags.writeable = False
    assert maxk.advantages(frozen, 2).shape == (6, 8)
    swapped = base.astype(base.dtype.newbyteorder())  # non-native byte order
    np.testing.assert_array_equal(maxk.advantages(swapped, 2), maxk.advantages(base, 2))


def test_no_copy_of_contiguous_input():
    """A C-contiguous float64 input is read in place: the call allocates only its output."""
    r = np.random.default_rng(5).normal(size=(2048, 64))
    maxk.advantages(r, 8)  # warm up (rayon pool, tables)
    tracemalloc.start()
    try:
        out = maxk.advantages(r, 8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.nbytes <= peak < out.nbytes + r.nbytes // 2


def test_empty_batch_of_groups():
    out = maxk.advantages(np.zeros((0, 5)), 2)
    assert out.shape == (0, 5)


# ---- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: maxk.advantages([0.0, math.nan], 1), "reward at index 1 is NaN, rewards must be finite"),
        (lambda: maxk.advantages([0.0, math.inf, 1.0], 1), "reward at index 1 is inf, rewards must be finite"),
        (
            lambda: maxk.advantages([[0.0, 1.0], [1.0, math.nan]], 1),
            "group 1: reward at index 1 is NaN, rewards must be finite",
        ),
        (
            lambda: maxk.advantages([0.0, 1.0, 2.0], 3),
            "k = 3 is out of range for maxpo with group size 3 (needs 1 <= k <= N - 1)",
        ),
        (
            lambda: maxk.advantages([0.0, 1.0, 2.0], 4, "pkpo"),
            "k = 4 is out of range for pkpo with group size 3 (needs 1 <= k <= N)",
        ),
        (lambda: maxk.advantages([0.0, 1.0], 0), "k = 0 is out of range for maxpo with group size 2"),
        (lambda: maxk.advantages([0.5], 1), "group size 1 is too small for maxpo (needs N >= 2)"),
        (lambda: maxk.advantages([], 1), "group is empty"),
        (lambda: maxk.advantages(np.zeros((3, 0)), 1), "group is empty"),
        (lambda: maxk.advantages([0.0, 0.5], 1, "passk-analytic"), "needs binary rewards (0 or 1)"),
        (lambda: maxk.advantages([0.0, 1.0], 1, "maxpo2"), 'unknown estimator "maxpo2"; known: pkpo, '),
        (lambda: maxk.advantages([0.0, 1.0], 1, "maxpo", "z"), 'unknown scale "z"; known: none, std, pg'),
        (lambda: maxk.advantages(np.zeros((2, 2, 2)), 1), "rewards must have shape [N] or [G, N]"),
        (lambda: maxk.advantages(np.float64(1.0), 1), "rewards must have shape [N] or [G, N]"),
        (lambda: maxk.advantages([0.0, 1.0], -1), "k = -1 must be a non-negative integer"),
        (lambda: maxk.advantages([0.0, 1.0], 2**70), f"k = {2**70} is too large"),
        (lambda: maxk.pass_at_k(3, 4, 1), "invalid pass@k arguments n = 3, c = 4, k = 1"),
        (lambda: maxk.pass_at_k(3, 1, 0), "invalid pass@k arguments n = 3, c = 1, k = 0"),
        (lambda: maxk.max_at_k([1.0, 2.0], 3), "k = 3 is out of range for rho with group size 2"),
        (
            lambda: maxk.advantages_by_index([0.0, 1.0, 2.0], ["a", "b", "a"], 1),
            "group id 'b': group size 1 is too small for maxpo (needs N >= 2)",
        ),
        (
            lambda: maxk.advantages_by_index([0.0, 1.0, 2.0], [4, 9, 4], 1),
            "group id 9: group size 1 is too small for maxpo (needs N >= 2)",
        ),
        (
            lambda: maxk.advantages_by_index([0.0, 1.0, 2.0], [0, 0], 1),
            "2 group ids for 3 rewards: give one group id per reward",
        ),
        (lambda: maxk.advantages_by_index([[0.0, 1.0]], [0], 1), "scores must have shape [B]"),
    ],
)
def test_errors_are_value_errors_with_core_messages(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_error_carries_group():
    with pytest.raises(ValueError) as info:
        maxk.advantages_by_index([0.0, 1.0, 2.0], ["a", "b", "a"], 1)
    assert info.value.group_id == "b" and "too small" in info.value.reason
    with pytest.raises(ValueError) as info:
        maxk.advantages([[0.0, 1.0], [1.0, math.nan]], 1)
    assert info.value.group == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: maxk.advantages(np.array(["a", "b"]), 1),
        lambda: maxk.advantages(np.array([1 + 1j, 2j]), 1),
        lambda: maxk.advantages([0.0, 1.0], 1.5),
        lambda: maxk.advantages_by_index([0.0, 1.0], [[0], [1]], 1),
    ],
)
def test_bad_types(call):
    with pytest.raises((TypeError, ValueError)):
        call()


def test_no_panic_on_odd_inputs():
    """Edge cases go through the core's validation: values or ValueError, never a panic."""
    odd = [
        np.array([1e308, -1e308, 0.0]),
        np.array([5e-324, 0.0, -5e-324]),
        np.full(4097, 3.0),
        np.zeros((1, 2)),
        np.array([-0.0, 0.0]),
    ]
    for r in odd:
        for estimator in ESTIMATORS:
            for k in (0, 1, 2, r.shape[-1] - 1, r.shape[-1], r.shape[-1] + 1, 2**40):
                try:
                    out = maxk.advantages(r, k, estimator)
                except ValueError:
                    continue
                assert out.shape == r.shape


# ---- GIL and threads ---------------------------------------------------------------------------


def test_gil_is_released():
    """A Python thread keeps running while a large batch is computed."""
    rewards = np.random.default_rng(6).normal(size=(16384, 256))
    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        time.sleep(0.05)
        before = ticks
        start = time.perf_counter()
        maxk.advantages(rewards, 8)
        elapsed = time.perf_counter() - start
        during = ticks - before
    finally:
        stop.set()
        thread.join()
    # With the GIL held the spinning thread would not run at all during the call.
    assert elapsed > 0.01
    assert during > 1000, (during, elapsed)


def test_thread_safety():
    rng = np.random.default_rng(7)
    batches = [rng.normal(size=(256, 16)) for _ in range(16)]
    want = [maxk.advantages(b, 4) for b in batches]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            got = list(pool.map(lambda b: maxk.advantages(b, 4), batches))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
        shared = batches[0]
        for out in pool.map(lambda _: maxk.advantages(shared, 4), range(32)):
            np.testing.assert_array_equal(out, want[0])
