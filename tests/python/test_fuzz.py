"""Hypothesis fuzzing of the whole public Python API: empty, NaN, ragged, huge, mixed ids and
every dtype. Each call returns a value or raises ValueError/TypeError; a PanicException (a
Rust panic crossing PyO3, a BaseException) fails the test, and so does any other exception."""

from __future__ import annotations

import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import maxk  # noqa: E402

ESTIMATORS = list(maxk.estimators())
RULES = list(maxk.small_groups_rules())
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = st.sampled_from(
    [np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8, np.uint64, np.bool_, np.complex64]
)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, 1.0, -0.0, 5e-324, 1e308, -1e308, 0.5]),
)
KS = st.one_of(st.integers(-3, 12), st.sampled_from([2**40, 2**63 - 1, 2**63, 2**64 + 5]), st.floats(0, 3))
IDS = st.one_of(
    st.integers(-5, 5),
    st.integers(0, 2**64 - 1),
    st.text(max_size=2),
    st.sampled_from(["1", 1, 1.0, True, None, ("a", 1), b"x", float("nan")]),
)


def call(fn, *args, **kwargs):
    """Runs one API call: a result, or ValueError/TypeError. Anything else (a PanicException
    is a BaseException) propagates and fails the test."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError, OverflowError):
        return None


@st.composite
def arrays(draw, max_dims=2):
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims + 1, min_side=0, max_side=9))
    if np.dtype(dtype).kind == "f":
        big = float(np.finfo(dtype).max)
        elements = FLOATS.filter(lambda x: math.isnan(x) or math.isinf(x) or abs(x) < big)
    else:
        elements = None
    return draw(hnp.arrays(dtype, shape, elements=elements))


@SETTINGS
@given(arrays(), KS, st.sampled_from(ESTIMATORS + ["nope"]), st.sampled_from(["none", "std", "pg", "x"]),
       st.sampled_from(RULES + ["?"]))
def test_advantages_never_panics(rewards, k, estimator, scale, rule):
    out = call(maxk.advantages, rewards, k, estimator, scale, rule)
    if out is not None:
        # (finiteness of the advantages of rewards near f64::MAX is the kernel's business and
        # tested in maxk-core; here: a result of the right shape or an error, never a panic)
        assert out.shape == rewards.shape


@SETTINGS
@given(
    st.lists(FLOATS, max_size=20),
    st.lists(IDS, max_size=20),
    KS,
    st.sampled_from(ESTIMATORS),
    st.sampled_from(RULES),
    st.booleans(),
)
def test_by_index_and_diagnostics_never_panic(scores, ids, k, estimator, rule, same_length):
    if same_length:
        ids = (ids * (len(scores) // max(len(ids), 1) + 1))[: len(scores)] if ids else [0] * len(scores)
    out = call(maxk.advantages_by_index, np.array(scores), ids, k, estimator, "none", rule)
    if out is not None:
        assert out.shape == (len(scores),)
    res = call(maxk.advantages_with_diagnostics, np.array(scores), ids, k, estimator, "none", rule)
    if res is not None:
        np.testing.assert_array_equal(res[0], out)
        d = res[1]
        assert 0 <= d["no_signal_share"] <= 1 and d["small_groups"] <= d["groups"]
        assert all(v is None or math.isfinite(v) for v in d.values())
    call(maxk.diagnostics, np.array(scores), ids, k, estimator, "none", rule)
    call(maxk.diagnostics, np.array(scores), ids, k, estimator, "none", rule, advantages=np.array(scores))
    call(maxk.max_at_k_by_index, np.array(scores), ids, k)
    call(maxk.validation_pass_at_k, ids, np.array(scores), (k,) if isinstance(k, int) else (1,))


@SETTINGS
@given(arrays(), arrays(max_dims=1), KS)
def test_any_arrays_as_ids_and_rewards(rewards, ids, k):
    call(maxk.advantages_by_index, rewards, ids, k)
    call(maxk.diagnostics, rewards, ids, k)
    call(maxk.diagnostics, rewards, None, k)
    call(maxk.max_at_k, rewards, k)
    call(maxk.max_at_k_by_index, rewards, ids, k)


@SETTINGS
@given(st.integers(-3, 2**65), st.integers(-3, 2**65), st.integers(-3, 2**65))
def test_pass_at_k_never_panics(n, c, k):
    out = call(maxk.pass_at_k, n, c, k)
    if out is not None:
        assert 0.0 <= out <= 1.0


def test_huge_group_and_ragged_lists():
    big = np.random.default_rng(0).integers(0, 2, 200_001).astype(np.float32)
    for rule in RULES:
        out = call(maxk.advantages, big, 4096, "maxpo", "pg", rule)
        assert out is not None and np.all(np.isfinite(out))
    d = maxk.diagnostics(big, np.zeros(big.size, dtype=np.int64), 4096)
    assert 0 <= d["rho_k"] <= 1
    assert call(maxk.advantages, [[0.0, 1.0], [1.0]], 1) is None  # ragged list: ValueError
    assert call(maxk.advantages_by_index, [0.0, 1.0], [[0], [1, 2]], 1) is None
