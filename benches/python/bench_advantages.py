"""MaxPO advantages of a [G, N] batch: maxk (Rust core, GIL released, rayon) vs a vectorized
numpy implementation of the same estimator vs a bare ``np.sort(axis=1)``, the floor.

    python benches/python/bench_advantages.py [--groups 4096] [--n 64] [--k 8] [--repeat 15] [--shapes]
    RAYON_NUM_THREADS=1 python benches/python/bench_advantages.py     # maxk on one thread

Every figure comes from interleaved rounds in the same run: the median time of each, and the
median [min, max] of the per-round ratios (no timing assertion anywhere: this is a benchmark,
not a test). numpy runs on one thread; maxk on RAYON_NUM_THREADS (default: every CPU). The numpy
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


def rounds(fns: list[Callable[[], object]], repeat: int, target: float = 0.02) -> list[list[float]]:
    """Seconds per call of every function, in ``repeat`` interleaved rounds: each round times
    each function once in turn over an inner loop calibrated to about ``target`` seconds, so
    that load on the machine hits every function alike. ``times[f][round]``."""
    inner = []
    for fn in fns:
        fn()  # warm-up: rayon pool, ratio tables, page faults of the first output
        start = time.perf_counter()
        fn()
        inner.append(max(1, math.ceil(target / max(time.perf_counter() - start, 1e-9))))
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, m, t in zip(fns, inner, times):
            start = time.perf_counter()
            for _ in range(m):
                fn()
            t.append((time.perf_counter() - start) / m)
    return times


def ratio_text(a: list[float], b: list[float]) -> str:
    """Median [min, max] of the per-round ratios a / b."""
    r = sorted(x / y for x, y in zip(a, b))
    return f"{statistics.median(r):6.2f}x [{r[0]:.2f}, {r[-1]:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4096)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--shapes",
        action="store_true",
        help="also [G, N] shapes of about 10^6 rewards from [1, 10^6] to [125000, 8], f64 and f32",
    )
    args = parser.parse_args()

    rewards = np.random.default_rng(args.seed).normal(size=(args.groups, args.n))
    ours = maxk.advantages(rewards, args.k, "maxpo")
    reference = maxpo_numpy(rewards, args.k)
    err = float(np.max(np.abs(ours - reference)))
    assert err < 1e-9, f"numpy and maxk disagree by {err}"
    rewards32 = rewards.astype(np.float32)

    times = rounds(
        [
            lambda: np.sort(rewards, axis=1),
            lambda: maxk.advantages(rewards, args.k, "maxpo"),
            lambda: maxk.advantages(rewards32, args.k, "maxpo"),
            lambda: maxpo_numpy(rewards, args.k),
            lambda: np.argsort(rewards, axis=1),
        ],
        args.repeat,
    )
    t_sort, t_maxk, t_maxk32, t_numpy, t_argsort = times
    # What the binding costs per call (argument checks, output allocation, GIL release, rayon
    # dispatch), apart from the per-group kernel of maxk-core.
    one = np.ascontiguousarray(rewards[:1])
    (t_call,) = rounds([lambda: maxk.advantages(one, args.k, "maxpo")], args.repeat, target=0.002)

    threads = os.environ.get("RAYON_NUM_THREADS", f"all {os.cpu_count()}")
    print(
        f"maxk {maxk.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; maxk threads: {threads} (RAYON_NUM_THREADS), numpy: 1"
    )
    print(
        f"MaxPO advantages of a [{args.groups}, {args.n}] batch, K = {args.k}, "
        f"{args.repeat} interleaved rounds: median time, ratio median [min, max]"
    )
    print(f"  max |maxk - numpy| = {err:.2e}")
    med = statistics.median
    for name, t in [
        ("np.sort(axis=1) f64", t_sort),
        ("maxk.advantages f64", t_maxk),
        ("maxk.advantages f32", t_maxk32),
        ("numpy MaxPO (vectorized)", t_numpy),
        ("np.argsort(axis=1) f64", t_argsort),
    ]:
        print(f"  {name:<28}{med(t) * 1e3:9.3f} ms")
    print(f"  {'maxk.advantages, 1 group':<28}{med(t_call) * 1e6:9.1f} us  (binding overhead + one group)")
    print(f"  numpy / maxk       = {ratio_text(t_numpy, t_maxk)}   (target >= 20x)")
    print(f"  maxk / np.sort     = {ratio_text(t_maxk, t_sort)}   (target <= 2x)")
    print(f"  maxk f32 / np.sort = {ratio_text(t_maxk32, t_sort)}   (np.sort of the f64 array)")
    print(f"  maxk / np.argsort  = {ratio_text(t_maxk, t_argsort)}")

    if args.shapes:
        print("[G, N] shapes, K = min(k, N - 1): ns per sample (median) and maxk / np.sort (same dtype)")
        print(f"  {'G':>7} {'N':>8}  {'np.sort f64':>11} {'maxk f64':>9} {'ratio f64':>22}  {'maxk f32':>9} {'ratio f32':>22}")
        rng = np.random.default_rng(args.seed + 1)
        for n in [1_000_000, 100_000, 10_000, 1000, 100, 64, 16, 8]:
            g, k = 1_000_000 // n, min(args.k, n - 1)
            x = rng.random((g, n))
            x32 = x.astype(np.float32)
            t64s, t64, t32s, t32 = rounds(
                [
                    lambda: np.sort(x, axis=1),
                    lambda: maxk.advantages(x, k, "maxpo"),
                    lambda: np.sort(x32, axis=1),
                    lambda: maxk.advantages(x32, k, "maxpo"),
                ],
                max(3, args.repeat // 3),
                target=0.05,
            )
            per = lambda t: med(t) / (g * n) * 1e9  # noqa: E731
            print(
                f"  {g:>7} {n:>8}  {per(t64s):11.2f} {per(t64):9.2f} {ratio_text(t64, t64s):>22}"
                f"  {per(t32):9.2f} {ratio_text(t32, t32s):>22}"
            )


if __name__ == "__main__":
    main()
