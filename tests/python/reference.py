"""Brute-force reference of every maxk estimator: enumerate the K-subsets (MATH.md,
"Building blocks"). Exponential, for groups of a few samples only; the twin of the Rust core's
O(N log N) kernel, written independently from the definitions."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np


def rho(r: list[float], k: int) -> float:
    """Mean over K-subsets of the max; rho_0 = 0 (the max of nothing counts as 0)."""
    if k == 0:
        return 0.0
    subsets = list(combinations(r, k))
    return sum(max(s) for s in subsets) / len(subsets)


def u(r: list[float], i: int, k: int) -> float:
    """Mean max over the K-subsets that contain sample i."""
    others = r[:i] + r[i + 1 :]
    subsets = list(combinations(others, k - 1))
    return sum(max((r[i],) + s) for s in subsets) / len(subsets)


def pg_factor(estimator: str, n: int, k: int) -> float:
    if estimator in ("pkpo", "pkpo-loo", "pkpo-loo1", "canonical", "best-minus-second", "bon-mean"):
        return 1.0
    if estimator in ("ei", "maxpo"):
        return k / n
    if estimator == "rloo":
        return 1.0 / n
    if estimator in ("dr-grpo", "grpo"):
        return 1.0 / (n - 1) if n > 1 else 1.0
    if estimator == "passk-analytic":
        return k / (n - k) if n > k else 1.0
    if estimator in ("maxrl", "rs-grpo"):
        return 1.0 / n
    raise KeyError(estimator)


def advantages(rewards, k: int, estimator: str = "maxpo", scale: str = "none") -> np.ndarray:
    r = [float(x) for x in rewards]
    n = len(r)
    mean = sum(r) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1)) if n > 1 else 0.0
    if estimator in ("pkpo", "pkpo-loo", "pkpo-loo1", "ei", "maxpo", "canonical"):
        out = []
        for i in range(n):
            rest = r[:i] + r[i + 1 :]
            ui = u(r, i, k)
            vi = rho(rest, k) if k <= n - 1 else float("nan")
            wi = rho(rest, k - 1)
            out.append(
                {
                    "pkpo": k / n * ui,
                    "pkpo-loo": k / n * ui - k / (n - 1) * vi if n > 1 else float("nan"),
                    "pkpo-loo1": k / n * (ui - wi),
                    "ei": ui - wi,
                    "maxpo": ui - vi,
                    "canonical": k / n * (ui - vi),
                }[estimator]
            )
    elif estimator == "rloo":
        out = [x - (sum(r) - x) / (n - 1) for x in r]
    elif estimator == "dr-grpo":
        out = [x - mean for x in r]
    elif estimator == "grpo":
        m, s = (0.0, 1.0) if n == 1 else (mean, sd)
        out = [(x - m) / (s + 1e-6) for x in r]
    elif estimator == "best-minus-second":
        order = sorted(range(n), key=lambda i: r[i])
        out = [0.0] * n
        best, second = r[order[-1]], r[order[-2]]
        if best > second:
            out[order[-1]] = best - second
    elif estimator == "passk-analytic":
        c = sum(1 for x in r if x == 1.0)
        q = math.comb(n - c, k) / math.comb(n, k)
        sigma = math.sqrt(q * (1 - q))
        if c == 0 or sigma == 0:
            out = [0.0] * n
        else:
            neg = q - math.comb(n - c - 1, k - 1) / math.comb(n - 1, k - 1)
            out = [(q if x == 1.0 else neg) / sigma for x in r]
    elif estimator == "maxrl":
        # arXiv 2602.02710: (r_i - mean r) / mean r, 0 for a group without a success
        out = [0.0] * n if mean == 0 else [(x - mean) / mean for x in r]
    elif estimator == "bon-mean":
        # Bagirov et al. 2025: PKPO's s_i = (K/N) u_i standardised per group; equal s (up to
        # rounding, 1e-13 of their size) carry no signal and give 0
        s = [k / n * u(r, i, k) for i in range(n)]
        ms = s[0] + sum(x - s[0] for x in s) / n
        sds = math.sqrt(sum((x - ms) ** 2 for x in s) / (n - 1)) if n > 1 else 0.0
        top = max(abs(x) for x in s)
        out = [0.0] * n if k == n or sds <= 1e-13 * top else [(x - ms) / (sds + 1e-6) for x in s]
    elif estimator == "rs-grpo":
        # arXiv 2509.24261 with beta = 2: (1/beta)(e^{beta r_i} / mean_j e^{beta r_j} - 1)
        beta, top = 2.0, max(r)
        e = [math.exp(beta * (x - top)) for x in r]
        out = [(x / (sum(e) / n) - 1.0) / beta for x in e]
    else:
        raise KeyError(estimator)
    factor = 1.0
    if scale == "pg":
        factor = pg_factor(estimator, n, k)
    elif scale == "std" and sd > 0:
        factor = 1.0 / (sd + 1e-6)
    return np.array(out) * factor


def valid_ks(estimator: str, n: int) -> range:
    if estimator in ("maxpo", "canonical", "pkpo-loo"):
        return range(1, n)
    if estimator in ("rloo", "dr-grpo", "grpo", "best-minus-second", "maxrl", "rs-grpo"):
        return range(1, 3)
    return range(1, n + 1)


def scheduled_k(schedule: dict, step: int) -> int:
    """K of a K schedule (its mapping form) at ``step``, in exact rationals: ``constant`` is k;
    ``linear`` rounds ``start + (end - start) min(step, steps) / steps`` half up; ``steps`` takes
    the K of the last milestone at or before the step."""
    from fractions import Fraction

    if schedule["kind"] == "constant":
        return schedule["k"]
    if schedule["kind"] == "linear":
        start, end, steps = schedule["start"], schedule["end"], schedule["steps"]
        x = start + Fraction((end - start) * min(step, steps), steps)
        return math.floor(x + Fraction(1, 2))
    return [k for at, k in schedule["milestones"] if at <= step][-1]
