"""The small-group rule, the K = N options, the per-step diagnostics, validation pass@k and
MaxRL through the Python API, against the brute-force reference (tests/python/reference.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference

import maxk


def test_rules_registry():
    assert maxk.small_groups_rules() == ("error", "zero", "shrink-k", "centered-ei")
    with pytest.raises(ValueError, match='unknown small-group rule "drop"; known: error, zero, shrink-k, centered-ei'):
        maxk.advantages([0.0, 1.0], 1, small_groups="drop")


def padded_batch():
    """verl's padding (a 1-row group of reward 0 under its own uid) and a prompt that lost
    rollouts (3 left of 6) next to two full groups of 6; K = 3."""
    rng = np.random.default_rng(0)
    full = [rng.normal(size=6), rng.normal(size=6)]
    short = rng.normal(size=3)
    scores = np.concatenate([full[0], short, full[1], [0.0]])
    uid = np.array(["a"] * 6 + ["b"] * 3 + ["c"] * 6 + ["pad0"], dtype=object)
    return scores, uid


def test_zero_rule_on_padding_and_short_group():
    scores, uid = padded_batch()
    with pytest.raises(ValueError, match="group id 'b': k = 3 is out of range for maxpo with group size 3"):
        maxk.advantages_by_index(scores, uid, 3)
    adv = maxk.advantages_by_index(scores, uid, 3, small_groups="zero")
    for g in ("a", "c"):
        np.testing.assert_allclose(adv[uid == g], reference.advantages(scores[uid == g], 3, "maxpo"), atol=1e-12)
    assert np.all(adv[(uid == "b") | (uid == "pad0")] == 0)
    diag = maxk.diagnostics(scores, uid, 3, small_groups="zero")
    assert diag["small_groups"] == diag["small_groups_zeroed"] == 2 and diag["small_group_samples"] == 4


def test_shrink_k_and_centered_ei():
    scores, uid = padded_batch()
    b = uid == "b"
    shrunk = maxk.advantages_by_index(scores, uid, 3, small_groups="shrink-k")
    np.testing.assert_allclose(shrunk[b], reference.advantages(scores[b], 2, "maxpo"), atol=1e-12)
    assert shrunk[uid == "pad0"][0] == 0.0
    centered = maxk.advantages_by_index(scores, uid, 3, small_groups="centered-ei")
    ei = np.array([reference.advantages(scores[b], 3, "ei")]).ravel()
    np.testing.assert_allclose(centered[b], ei - ei.mean(), atol=1e-12)
    assert abs(centered[b].sum()) < 1e-12


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_k_equal_n_options(n):
    """K = N (pass@n with n rollouts): centered-ei is best-minus-second minus its mean;
    shrink-k is maxpo at K = N - 1. Both are centered."""
    rng = np.random.default_rng(n)
    for r in (rng.normal(size=n), rng.integers(0, 2, n).astype(float)):
        bms = reference.advantages(r, 1, "best-minus-second")
        got = maxk.advantages(r, n, "maxpo", small_groups="centered-ei")
        np.testing.assert_allclose(got, bms - bms.mean(), atol=1e-12)
        got = maxk.advantages(r, n, "maxpo", small_groups="shrink-k")
        np.testing.assert_allclose(got, reference.advantages(r, n - 1, "maxpo"), atol=1e-12)
        # dense batches apply the rule to every group
        batch = np.stack([r, r[::-1]])
        np.testing.assert_allclose(maxk.advantages(batch, n, small_groups="centered-ei")[0], bms - bms.mean(), atol=1e-12)


def test_empty_batches_never_panic():
    assert maxk.advantages_by_index(np.array([]), np.array([]), 1).shape == (0,)
    assert maxk.advantages_by_index([], [], 3, small_groups="zero").shape == (0,)
    adv, diag = maxk.advantages_with_diagnostics(np.array([], dtype=np.float32), [], 2)
    assert adv.dtype == np.float32 and diag["groups"] == 0 and diag["rho_k"] is None
    assert maxk.validation_pass_at_k([], [], ks=(1, 4)) == {
        "pass@1": None, "pass@1/prompts": 0, "pass@1/skipped": 0,
        "pass@4": None, "pass@4/prompts": 0, "pass@4/skipped": 0,
    }


def test_mixed_type_ids_stay_distinct():
    scores = np.array([1.0, 0.0, 0.5, 0.25])
    # numpy would coerce [1, "1", 1, "1"] to four equal strings: one group of 4
    got = maxk.advantages_by_index(scores, [1, "1", 1, "1"], 1, "rloo")
    want = maxk.advantages_by_index(scores, [0, 1, 0, 1], 1, "rloo")
    np.testing.assert_array_equal(got, want)
    # Python equality decides: 1, 1.0 and True are one id
    np.testing.assert_array_equal(
        maxk.advantages_by_index(scores, [1, 1.0, True, 1], 1, "rloo"), maxk.advantages(scores, 1, "rloo")
    )
    with pytest.raises(ValueError, match="group id '1': group size 1 is too small for rloo"):
        maxk.advantages_by_index(scores[:3], [1, "1", 1], 1, "rloo")


def test_diagnostics_values():
    rewards = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    diag = maxk.diagnostics(rewards, None, 2)
    want_rho = np.mean([maxk.pass_at_k(4, c, 2) for c in (1, 4, 2)])
    assert diag["rho_k"] == pytest.approx(want_rho, abs=1e-15)
    assert diag["no_signal_share"] == pytest.approx(1 / 3) and diag["no_signal_groups"] == 1
    adv = maxk.advantages(rewards, 2)
    assert diag["adv_mean"] == pytest.approx(adv.mean(), abs=1e-15)
    assert diag["adv_std"] == pytest.approx(adv.std(), abs=1e-15)
    assert diag["adv_abs_max"] == pytest.approx(np.abs(adv).max(), abs=1e-15)
    assert diag["centering_residual"] < 1e-14
    assert (diag["groups"], diag["samples"], diag["k"], diag["small_groups"]) == (3, 12, 2, 0)
    # external (e.g. a framework's own) advantages: pkpo is not centered
    pkpo = maxk.advantages(rewards, 2, "pkpo")
    d = maxk.diagnostics(rewards, None, 2, estimator=None, advantages=pkpo)
    sums = np.abs(pkpo.sum(axis=1)).max() / np.abs(pkpo).max()
    assert d["centering_residual"] == pytest.approx(sums, rel=1e-12)
    # the rule's counts for external advantages
    d = maxk.diagnostics(rewards, None, 4, estimator="maxpo", small_groups="zero", advantages=pkpo)
    assert d["small_groups"] == 3
    with pytest.raises(ValueError, match="advantage at index 1 is nan|advantage at index 1 is NaN"):
        maxk.diagnostics(rewards[0], [0, 0, 0, 0], 1, advantages=np.array([0.0, np.nan, 0.0, 0.0]))


def test_validation_pass_at_k():
    """(prompt id, correct) pairs in any order; prompts with fewer than k samples left out."""
    ids = ["p1"] * 5 + ["p2"] * 5 + ["p3"] * 2
    correct = [1, 0, 0, 0, 0] + [1, 1, 0, 1, 0] + [True, False]
    order = np.random.default_rng(1).permutation(len(ids))
    got = maxk.validation_pass_at_k(np.array(ids)[order], np.array(correct)[order], ks=(1, 4))
    assert got["pass@1"] == pytest.approx((1 / 5 + 3 / 5 + 1 / 2) / 3, abs=1e-15)
    p4 = (1 - math.comb(4, 4) / math.comb(5, 4) + 1 - math.comb(2, 4) / math.comb(5, 4)) / 2
    assert got["pass@4"] == pytest.approx(p4, abs=1e-15)
    assert (got["pass@4/prompts"], got["pass@4/skipped"]) == (2, 1)
    with pytest.raises(ValueError, match="correct at index 0 is 0.5"):
        maxk.validation_pass_at_k(["a"], [0.5])
    res = maxk.max_at_k_by_index([0.2, 0.9, 0.4], ["x", "x", "x"], 2)
    assert res["value"] == pytest.approx(reference.rho([0.2, 0.9, 0.4], 2)) and res["skipped"] == 0


def test_maxrl():
    r = np.array([1.0, 0.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(maxk.advantages(r, 1, "maxrl"), (r - r.mean()) / r.mean(), atol=1e-15)
    assert np.all(maxk.advantages(np.zeros(4), 1, "maxrl") == 0)
    np.testing.assert_allclose(maxk.advantages(r, 1, "maxrl", "pg"), (r - r.mean()) / r.mean() / 5, atol=1e-15)
    assert "maxrl" in maxk.estimators()
    with pytest.raises(ValueError, match="maxrl needs binary rewards"):
        maxk.advantages([0.0, 0.5], 1, "maxrl")
