"""Hypothesis fuzzing of every estimator x scale x K against an exact ``fractions`` reference,
through the public API, for float64/float32/float16 numpy arrays and float64/float32/float16/
bfloat16 torch tensors (the Rust twin is crates/maxk-core/tests/fuzz.rs; the contract is
docs/accuracy.md).

Each example is one adversarial group (all equal at awkward values, huge, tiny, subnormal,
outliers, ties, near-equal, binary; N from 1 to 8) in one dtype, run through every estimator,
scale and K from 0 to N + 1. Every call gives finite advantages within the contract of the exact
value (plus the rounding to the output dtype), or ValueError exactly where the input is invalid
or an exact advantage does not fit the output dtype. ``MAXK_FUZZ_EXAMPLES`` sets the number of
examples (default 40, about 10 s)."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from math import comb

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import maxk  # noqa: E402

INFO = maxk.estimators()
SCALES = maxk.scales()
EXAMPLES = int(os.environ.get("MAXK_FUZZ_EXAMPLES", "40"))
TOL = Fraction(1, 2**40)
F64_MAX = np.finfo(np.float64).max

#: dtype name -> (how the input is made, largest input, result rounding: relative half ulp,
#: half the smallest subnormal, largest finite result, and whether float32 is the working type)
DTYPES = {
    "numpy-float64": (lambda v: np.asarray(v, dtype=np.float64), F64_MAX, 0, 0, F64_MAX, False),
    "numpy-float32": (lambda v: np.asarray(v, dtype=np.float32), 3.4028234663852886e38, 2**-24, 2**-150, 3.4028234663852886e38, False),
    # numpy float16 is widened to float64 and gives float64
    "numpy-float16": (lambda v: np.asarray(v, dtype=np.float16), 65504.0, 0, 0, F64_MAX, False),
    "torch-float64": (lambda v: torch.tensor(v, dtype=torch.float64), F64_MAX, 0, 0, F64_MAX, False),
    "torch-float32": (lambda v: torch.tensor(v, dtype=torch.float32), 3.4028234663852886e38, 2**-24, 2**-150, 3.4028234663852886e38, False),
    "torch-float16": (lambda v: torch.tensor(v, dtype=torch.float16), 65504.0, 2**-11, 2**-25, 65504.0, True),
    "torch-bfloat16": (lambda v: torch.tensor(v, dtype=torch.bfloat16), 3.3895313892515355e38, 2**-8, 2**-134, 3.3895313892515355e38, True),
}

AWKWARD = [0.7, 0.1, 1 / 3, -0.3, 1.5e7 + 0.3, 1e300, -1e300, 5e-324, 1e-310, F64_MAX, -F64_MAX, 0.0, 1.0, 65504.0, 3.4e38, 6e-8]


def rho_weights(m: int, k: int) -> list[Fraction]:
    if k == 0 or k > m:
        return [Fraction(0)] * m
    return [Fraction(comb(j, k - 1), comb(m, k)) for j in range(m)]


def without(weights: list[Fraction], a: int, n: int) -> list[Fraction]:
    return [weights[l] if l < a else Fraction(0) if l == a else weights[l - 1] for l in range(n)]


def exact_sd(s: list[Fraction]) -> Fraction:
    """The unbiased standard deviation to an ulp or two (it may exceed the float range)."""
    n = len(s)
    mean = sum(s) / n
    var = sum((x - mean) ** 2 for x in s) / (n - 1)
    top = max(abs(x) for x in s)
    e = max(-1070, min(1070, top.numerator.bit_length() - top.denominator.bit_length()))
    return Fraction(math.sqrt(float(var / Fraction(2) ** (2 * e)))) * Fraction(2) ** e


def pg_factor(estimator: str, n: int, k: int) -> Fraction:
    nf, kf = Fraction(n), Fraction(k)
    return {
        "1": Fraction(1),
        "K/N": kf / nf,
        "1/N": 1 / nf,
        "1/(N-1)": 1 / (nf - 1) if n > 1 else Fraction(1),
        "K/(N-K)": kf / (nf - kf) if n > k else Fraction(1),
    }[INFO[estimator].pg_factor]


def reference(values: list[float], estimator: str, k: int) -> tuple[list[tuple[Fraction, Fraction]], Fraction]:
    """Per sample the exact raw advantage (before ``scale``) and its scale S_i, and the std
    factor ``1/(std + 1e-6)`` (1 for an all-equal group). An estimator without a reference
    raises KeyError: every registered estimator needs one here."""
    n = len(values)
    order = sorted(range(n), key=lambda i: (values[i], i))
    s = [Fraction(values[i]) for i in order]
    equal = all(v == values[0] for v in values)
    sd_factor = Fraction(1) if equal or n < 2 else 1 / (exact_sd(s) + Fraction(1e-6))
    nf, kf = Fraction(n), Fraction(k)
    rho = rho_weights(n, k)
    rho_k, rho_k1 = rho_weights(n - 1, k), rho_weights(n - 1, k - 1)
    c = sum(1 for v in values if v == 1.0)
    grpo = sd_factor if estimator == "grpo" else Fraction(1)
    if estimator == "rs-grpo":
        # (1/beta)(x_i / mean x - 1), x = e^{beta (r - max r)} in floats, the rest exact; the
        # error is relative to the two terms, x_i/(beta mean x) + 1/beta.
        beta = Fraction(2)
        x = [Fraction(math.exp(2.0 * (v - max(values)))) for v in values]
        mean_x = sum(x) / n
        return [((xi / mean_x - 1) / beta, xi / (beta * mean_x) + 1 / beta) for xi in x], sd_factor
    if estimator == "bon-mean":
        # (s_i - mean s)/(std s + 1e-6), s = (K/N) u; 0 when every s is equal.
        u_all = []
        for a in range(n):
            v = without(rho_k, a, n)
            u_all.append([(nf * r - (nf - kf) * y) / kf for r, y in zip(rho, v)])
        mean_w = [sum(u[l] for u in u_all) / n for l in range(n)]
        d_w = [[kf / nf * (u[l] - mean_w[l]) for l in range(n)] for u in u_all]
        d = [sum(w * y for w, y in zip(ws, s)) for ws in d_w]
        if n < 2 or all(x == 0 for x in d):
            return [(Fraction(0), Fraction(0))] * n, sd_factor
        bon = 1 / (exact_sd(d) + Fraction(1e-6))
        by_rank = []
        for ws, di in zip(d_w, d):
            above, scale_i = Fraction(0), Fraction(0)
            for b in range(n - 1, 0, -1):
                above += ws[b]
                scale_i += abs(above) * (s[b] - s[b - 1])
            by_rank.append((di * bon, scale_i * bon))
        rank_of = {i: a for a, i in enumerate(order)}
        return [by_rank[rank_of[i]] for i in range(n)], sd_factor
    out = []
    for a, i in enumerate(order):
        unit = [Fraction(int(l == a)) for l in range(n)]

        def uvw():
            v = without(rho_k, a, n)
            u = [(nf * r - (nf - kf) * x) / kf for r, x in zip(rho, v)]
            return u, v, without(rho_k1, a, n)

        if estimator in ("passk-analytic", "maxrl"):
            if estimator == "maxrl":
                value = Fraction(0) if c == 0 else (nf / c - 1 if values[i] == 1.0 else Fraction(-1))
            else:
                q = Fraction(comb(n - c, k), comb(n, k))
                big_r = 1 - q
                if big_r in (0, 1):
                    value = Fraction(0)
                else:
                    sigma = Fraction(math.sqrt(float(big_r * (1 - big_r))))
                    pos = q / sigma
                    value = pos if values[i] == 1.0 else pos - Fraction(comb(n - c - 1, k - 1), comb(n - 1, k - 1)) / sigma
            out.append((value, abs(value)))
            continue
        if estimator in ("rloo",):
            weights = [x - (1 - x) / (nf - 1) for x in unit]
        elif estimator in ("dr-grpo", "grpo"):
            weights = [(x - 1 / nf) * grpo for x in unit]
        elif estimator == "best-minus-second":
            best = n >= 2 and s[-1] > s[-2] and a == n - 1
            weights = [Fraction(int(l == n - 1)) - Fraction(int(l == n - 2)) if best else Fraction(0) for l in range(n)]
        else:
            u, v, w = uvw()
            weights = {
                "pkpo": lambda: [kf / nf * x for x in u],
                "pkpo-loo": lambda: [kf / nf * x - kf / (nf - 1) * y for x, y in zip(u, v)],
                "pkpo-loo1": lambda: [kf / nf * (x - y) for x, y in zip(u, w)],
                "ei": lambda: [x - y for x, y in zip(u, w)],
                "maxpo": lambda: [x - y for x, y in zip(u, v)],
                "canonical": lambda: [kf / nf * (x - y) for x, y in zip(u, v)],
            }[estimator]()
        value = sum(x * y for x, y in zip(weights, s))
        if sum(weights) == 0:
            above, scale_i = Fraction(0), Fraction(0)
            for b in range(n - 1, 0, -1):
                above += weights[b]
                scale_i += abs(above) * (s[b] - s[b - 1])
        else:
            scale_i = sum(abs(x) * abs(y) for x, y in zip(weights, s))
        out.append((value, scale_i))
    by_sample = [None] * n
    for a, i in enumerate(order):
        by_sample[i] = out[a]
    return by_sample, sd_factor


def valid(values: list[float], estimator: str, k: int) -> bool:
    info, n = INFO[estimator], len(values)
    if n < info.min_group_size or k < 1:
        return False
    top = {"1 <= k <= N": n, "1 <= k <= N - 1": n - 1}.get(info.valid_k, k)
    binary = all(v in (0.0, 1.0) for v in values)
    return k <= top and (binary or estimator not in ("passk-analytic", "maxrl"))


@st.composite
def groups(draw):
    n = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["equal", "ordinary", "ties", "outlier", "huge", "tiny", "binary", "near", "any"]))
    anything = st.floats(allow_nan=False, allow_infinity=False)
    if kind == "equal":
        return [draw(st.one_of(st.sampled_from(AWKWARD), anything))] * n
    if kind == "ordinary":
        return draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n))
    if kind == "ties":
        return [x / 2 for x in draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))]
    if kind == "outlier":
        base = draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n))
        i = draw(st.integers(0, n - 1))
        base[i] = draw(st.sampled_from([1e15, -1e20, 1e20, 1e100, -1e300, F64_MAX, 65504.0, 1e-300]))
        return base
    if kind == "huge":
        return draw(st.lists(st.one_of(st.floats(1e307, F64_MAX), st.floats(-F64_MAX, -1e307), st.sampled_from([F64_MAX, -F64_MAX])), min_size=n, max_size=n))
    if kind == "tiny":
        return draw(st.lists(st.one_of(st.floats(-1e-300, 1e-300), st.sampled_from([5e-324, -5e-324, 2.2250738585072014e-308])), min_size=n, max_size=n))
    if kind == "binary":
        return [float(x) for x in draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))]
    if kind == "near":
        base = draw(st.sampled_from(AWKWARD[:5]))
        return [np.nextafter(base, math.inf) if draw(st.booleans()) else base for _ in range(n)]
    return draw(st.lists(anything, min_size=n, max_size=n))


def as_values(x) -> list[float]:
    if isinstance(x, torch.Tensor):
        return x.to(torch.float64).tolist()
    return np.asarray(x, dtype=np.float64).tolist()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(groups(), st.sampled_from(sorted(DTYPES)))
def test_every_estimator_scale_and_k_against_exact_fractions(raw, dtype):
    make, top, rel, floor_sub, out_max, via_f32 = DTYPES[dtype]
    x = make([min(max(v, -top), top) for v in raw])
    values = as_values(x)
    note(f"{dtype} {values}")
    n = len(values)
    big = max(1.0, max(abs(v) for v in values))
    for estimator in INFO:
        for k in range(0, n + 2):
            raw = None
            for scale in SCALES:
                where = f"{estimator} {scale} k={k}"
                if not valid(values, estimator, k):
                    with pytest.raises(ValueError):
                        maxk.advantages(x, k, estimator, scale)
                    continue
                if raw is None:
                    raw = reference(values, estimator, k)
                per_sample, sd_factor = raw
                factor = {"none": Fraction(1), "std": sd_factor, "pg": pg_factor(estimator, n, k)}[scale]
                expected, bounds = [], []
                for value, s_i in per_sample:
                    exact = value * factor
                    b = TOL * s_i * factor + 8 * (n + 1) * Fraction(2) ** -1074 * Fraction(big) * factor
                    if via_f32:  # float32 working type, then the rounding to the result dtype
                        b += Fraction(2) ** -24 * abs(exact) + Fraction(2) ** -150
                    b += rel * abs(exact) + Fraction(floor_sub)
                    expected.append(exact)
                    bounds.append(b)
                try:
                    out = maxk.advantages(x, k, estimator, scale)
                except ValueError as e:
                    # only where an exact advantage does not fit the working or the result type
                    limit = min(out_max, 3.4028234663852886e38 if via_f32 or dtype.endswith("float32") else F64_MAX)
                    assert any(abs(ex) + b >= Fraction(limit) for ex, b in zip(expected, bounds)), f"{where}: {e}"
                    continue
                got = as_values(out)
                for i, (a, exact, b) in enumerate(zip(got, expected, bounds)):
                    assert math.isfinite(a), f"{where}: output {i} is {a}"
                    assert abs(Fraction(a) - exact) <= b, f"{where}: output {i} is {a!r}, exact {float(exact)!r}"
