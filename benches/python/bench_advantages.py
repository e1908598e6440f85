"""MaxPO advantages of a [G, N] float64 batch: maxk (Rust core, GIL released, rayon) vs a
vectorized numpy implementation of the same estimator vs a bare ``np.sort(axis=1)``.

    python benches/python/bench_advantages.py [--groups 4096] [--n 64] [--k 8] [--repeat 30]

Prints the best and the median wall time of each and the ratios of the best times, all measured
in the same run (no timing assertion anywhere: this is a benchmark, not a test). The numpy
version follows MATH.md, "O(N log N)": sort each row, binomial-ratio weights from log-gamma, one
prefix and one suffix sum, ``maxpo_a = (N/K) (rho_K(B) - rho_K(B minus a))``, scatter back to the
original order.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from typing import Callable

import numpy as np

import maxk


def log_binom(n: np.ndarray, j: int, lgamma: np.ndarray) -> np.ndarray:
    """log C(n, j) elementwise, -inf where C(n, j) = 0 (n < j or n < 0)."""
    n = np.asarray(n)
    ok = (n >= j) & (n >= 0)
    safe = np.where(ok, n, j)
    out = lgamma[safe] - lgamma[j] - lgamma[safe - j]
    return np.where(ok, out, -np.inf)


def maxpo_numpy(rewards: np.ndarray, k: int) -> np.ndarray:
    """MaxPO of every row of ``rewards`` [G, N], vectorized numpy, 1 <= k <= N - 1."""
    g, n = rewards.shape
    lgamma = np.array([math.lgamma(i + 1) for i in range(n + 1)])  # lgamma[i] = log i!
    ranks = np.arange(n)
    # rho_K(B) = sum_l C(l, K-1)/C(N, K) s_l
    w_full = np.exp(log_binom(ranks, k - 1, lgamma) - log_binom(np.array(n), k, lgamma))
    # rho_K(B \ a) = [sum_{l<a} C(l, K-1) s_l + sum_{l>a} C(l-1, K-1) s_l] / C(N-1, K)
    norm = log_binom(np.array(n - 1), k, lgamma)
    w_before = np.exp(log_binom(ranks, k - 1, lgamma) - norm)
    w_after = np.exp(log_binom(ranks - 1, k - 1, lgamma) - norm)

    order = np.argsort(rewards, axis=1)
    s = np.take_along_axis(rewards, order, axis=1)
    rho = s @ w_full
    before = s * w_before
    prefix = np.cumsum(before, axis=1) - before  # sum over l < a
    after = s * w_after
    suffix = np.cumsum(after[:, ::-1], axis=1)[:, ::-1] - after  # sum over l > a
    adv_sorted = (n / k) * (rho[:, None] - (prefix + suffix))
    out = np.empty_like(rewards)
    np.put_along_axis(out, order, adv_sorted, axis=1)
    return out


def timings(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) wall time of ``repeat`` calls after one warm-up call. The best is the
    figure to compare: on a shared machine the median of a longer call absorbs more preemption."""
    fn()  # warm-up: rayon pool, ratio tables, page faults of the first output
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4096)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rewards = np.random.default_rng(args.seed).normal(size=(args.groups, args.n))
    ours = maxk.advantages(rewards, args.k, "maxpo")
    reference = maxpo_numpy(rewards, args.k)
    err = float(np.max(np.abs(ours - reference)))
    assert err < 1e-9, f"numpy and maxk disagree by {err}"

    t_maxk, m_maxk = timings(lambda: maxk.advantages(rewards, args.k, "maxpo"), args.repeat)
    t_numpy, m_numpy = timings(lambda: maxpo_numpy(rewards, args.k), args.repeat)
    t_sort, m_sort = timings(lambda: np.sort(rewards, axis=1), args.repeat)
    # Every rank-based estimator needs the permutation, not just the sorted values.
    t_argsort, m_argsort = timings(lambda: np.argsort(rewards, axis=1), args.repeat)
    # What the binding costs per call (argument checks, output allocation, GIL release, rayon
    # dispatch), apart from the per-group kernel of maxk-core.
    one = np.ascontiguousarray(rewards[:1])
    t_call, _ = timings(lambda: maxk.advantages(one, args.k, "maxpo"), args.repeat * 10)

    print(
        f"maxk {maxk.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"MaxPO advantages of a [{args.groups}, {args.n}] float64 batch, K = {args.k}, best (median) of {args.repeat}")
    print(f"  max |maxk - numpy| = {err:.2e}")
    for name, best, median in [
        ("maxk.advantages", t_maxk, m_maxk),
        ("numpy MaxPO (vectorized)", t_numpy, m_numpy),
        ("np.sort(axis=1)", t_sort, m_sort),
        ("np.argsort(axis=1)", t_argsort, m_argsort),
    ]:
        print(f"  {name:<28}{best * 1e3:9.3f} ms  ({median * 1e3:.3f} ms)")
    print(f"  {'maxk.advantages, 1 group':<28}{t_call * 1e6:9.1f} us  (binding overhead + one group)")
    print(f"  numpy / maxk   = {t_numpy / t_maxk:6.2f}x   (target >= 5x)")
    print(f"  maxk / np.sort = {t_maxk / t_sort:6.2f}x   (target <= 4x)")
    print(f"  maxk / np.argsort = {t_maxk / t_argsort:6.2f}x")


if __name__ == "__main__":
    main()
