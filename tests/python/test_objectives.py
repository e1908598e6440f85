"""Objectives beyond max@K (python/maxk/objectives.py): the generic jackknife escape hatch
agrees with maxk's fast estimators on every objective they cover (max@K, mean reward, mixtures,
the harmonic mixture = MaxRL / N, maj@K with both tie rules); numpy and torch; errors; plan."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import maxk


def close(a, b, tol=1e-10) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol * (1 + np.maximum(np.abs(a), np.abs(b)))))


def maj_kernel(ties: str):
    """maj@K score of a tuple of (answer, correct) pairs, straight from the definition."""

    def h(subset):
        counts = Counter(a for a, _ in subset)
        verdict = dict(subset)
        top = max(counts.values())
        tied = [a for a, c in counts.items() if c == top]
        right = sum(verdict[a] for a in tied)
        if ties == "split":
            return right / len(tied)
        return float(len(tied) == 1 and right == 1)

    return h


@pytest.mark.parametrize("seed", range(6))
def test_jackknife_of_max_is_canonical_and_of_the_mean_is_rloo(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    r = rng.integers(-3, 4, size=n) / 2.0
    for k in range(1, n):
        assert close(maxk.jackknife_advantages(r, k, max), maxk.advantages(r, k, "canonical"))
    mean = lambda s: s[0]  # noqa: E731  (K = 1: the mean reward)
    assert close(maxk.jackknife_advantages(r, 1, mean), maxk.advantages(r, 1, "rloo", scale="pg"))


@pytest.mark.parametrize("seed", range(6))
def test_mixtures_agree_with_the_sum_of_jackknifes(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    r = rng.integers(0, 5, size=n) / 4.0
    terms = {int(k): float(w) for k, w in zip(rng.integers(1, n, size=3), rng.normal(size=3))}
    want = sum(w * maxk.jackknife_advantages(r, k, max) for k, w in terms.items())
    assert close(maxk.mixture_advantages(r, terms), want)
    assert close(maxk.mixture_advantages(r, list(terms.items())), want)
    harmonic = sum(maxk.jackknife_advantages(r, k, max) / k for k in range(1, n))
    assert close(maxk.mixture_advantages(r, "harmonic"), harmonic)
    value = sum(w * maxk.max_at_k(r, k) for k, w in terms.items())
    assert math.isclose(maxk.mixture_value(r, terms), value, rel_tol=1e-12, abs_tol=1e-12)


def test_harmonic_mixture_is_maxrl_over_n_on_binary_rewards():
    for n in range(2, 9):
        for c in range(n + 1):
            r = np.array([1.0] * c + [0.0] * (n - c))
            assert close(maxk.mixture_advantages(r, "harmonic"), maxk.advantages(r, 1, "maxrl", scale="pg"), 1e-13)


@pytest.mark.parametrize("ties", ["split", "wrong"])
@pytest.mark.parametrize("seed", range(8))
def test_maj_agrees_with_the_jackknife(seed, ties):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    keys = ["a", "b", 3, ("t", 1), "e"]
    verdict = {i: bool(rng.integers(0, 2)) for i in range(len(keys))}
    pick = rng.integers(0, len(keys), size=n)
    answers = [keys[i] for i in pick]
    correct = [verdict[i] for i in pick]
    pairs = list(zip(answers, correct))
    for k in range(1, n):
        want = maxk.jackknife_advantages(pairs, k, maj_kernel(ties))
        got = maxk.maj_advantages(answers, correct, k, ties=ties)
        assert close(got, want, 1e-12), (answers, correct, k)
        assert abs(got.sum()) < 1e-12
    # the estimate: the mean of the kernel over all K-subsets
    from itertools import combinations

    h = maj_kernel(ties)
    u = np.mean([h(s) for s in combinations(pairs, n - 1)])
    assert math.isclose(maxk.maj_at_k(answers, correct, n - 1, ties=ties), u, abs_tol=1e-12)


def test_maj_by_index_torch_and_errors():
    answers = ["4", "4", "5", "7", "x", "x", "y"]
    correct = [True, True, False, False, False, False, True]
    index = ["p", "p", "p", "p", "q", "q", "q"]
    got = maxk.maj_advantages(answers, correct, 2, index=index)
    assert close(got[:4], maxk.maj_advantages(answers[:4], correct[:4], 2))
    assert close(got[4:], maxk.maj_advantages(answers[4:], correct[4:], 2))
    torch = pytest.importorskip("torch")
    t = maxk.maj_advantages(answers, torch.tensor(correct), 2, index=index)
    assert close(t, got)
    with pytest.raises(ValueError, match=r"answer '4' is marked correct at sample 0 and wrong at sample 1"):
        maxk.maj_advantages(answers, [True, False, False, False, False, False, True], 2, index=index)
    with pytest.raises(ValueError, match=r"group id 'q': k = 3 is out of range for maj with group size 3"):
        maxk.maj_advantages(answers, correct, 3, index=index)
    with pytest.raises(ValueError, match="6 correct flags for 7 samples"):
        maxk.maj_advantages(answers, correct[:6], 2)
    with pytest.raises(ValueError, match='unknown tie rule "coin"'):
        maxk.maj_advantages(answers, correct, 2, ties="coin")


def test_mixture_torch_index_and_errors():
    torch = pytest.importorskip("torch")
    r = torch.tensor([[0.0, 1.0, 0.5, 0.25], [1.0, 1.0, 0.0, 0.0]], dtype=torch.float32)
    out = maxk.mixture_advantages(r, "1:1,2:0.5")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == r.shape
    want = np.stack([maxk.mixture_advantages(row, "1:1,2:0.5") for row in r.double().numpy()])
    assert close(out.double().numpy(), want, 1e-6)
    flat = maxk.mixture_advantages(r.reshape(-1), {1: 1.0, 2: 0.5}, index=["a"] * 4 + ["b"] * 4)
    assert close(flat.double().numpy(), want.reshape(-1), 1e-6)
    with pytest.raises(ValueError, match=r"group id 'b': k = 4 is out of range for mixture"):
        maxk.mixture_advantages(np.zeros(7), "4", index=["a"] * 5 + ["b"] * 2)
    with pytest.raises(ValueError, match='invalid mixture "1:x": a weight is not a number'):
        maxk.mixture_advantages(np.zeros(3), "1:x")


def test_jackknife_limits():
    with pytest.raises(ValueError, match=r"C\(30, 15\) = 155117520 K-subsets exceed max_subsets = 1000000"):
        maxk.jackknife_advantages(np.zeros(30), 15, max)
    with pytest.raises(ValueError, match=r"k = 3 is out of range for a group of 3 samples"):
        maxk.jackknife_advantages([1, 2, 3], 3, max)
    with pytest.raises(ValueError, match="kernel returned nan"):
        maxk.jackknife_advantages([1.0, 2.0, 3.0], 2, lambda s: float("nan"))


def test_plan():
    p = maxk.plan(0.05, n=8, k=4, target=0.5)
    assert math.isclose(p["informative_share"], 1 - 0.95**8 - 0.05**8)
    assert p["smallest_n"] == 14
    assert p["var_ratio_ei_over_maxpo"] > 0
    rates = maxk.plan([0.0, 0.5, 1.0], n=8, k=2, target=0.9)
    assert rates["informative_limit"] == pytest.approx(1 / 3) and rates["smallest_n"] is None
    with pytest.raises(ValueError, match=r"success rate 0 is 1.5, rates must lie in \[0, 1\]"):
        maxk.plan(1.5, n=8, k=2)


def test_mixture_diagnostics_report_rho_per_k():
    r = np.array([[0.0, 1.0, 0.5, 0.25], [1.0, 1.0, 0.0, 0.0]])
    d = maxk.mixture_diagnostics(r, None, {1: 1.0, 3: 0.5})
    want1 = np.mean([maxk.max_at_k(row, 1) for row in r])
    want3 = np.mean([maxk.max_at_k(row, 3) for row in r])
    assert math.isclose(d["rho@1"], want1) and math.isclose(d["rho@3"], want3)
    assert math.isclose(d["objective"], want1 + 0.5 * want3)
    assert maxk.mixture_diagnostics(r.reshape(-1), ["a"] * 4 + ["b"] * 4, "harmonic")["objective"] is None
