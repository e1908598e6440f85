//! Fuzzing of every estimator x scale x K against an exact-rational reference (issue 29; the
//! accuracy contract it checks is docs/accuracy.md).
//!
//! Adversarial groups (all equal at awkward values, huge, tiny and subnormal magnitudes,
//! outliers, ties, near-equal values, binary rewards, singletons) go through
//! [`maxk_core::advantages`] as f64 and as f32, for every estimator of [`Estimator::ALL`], every
//! [`Scale::ALL`] and every K from 0 to N + 1 (the invalid ones included). Every call must give
//! finite advantages within the contract of the exact value, or the right error: a validation
//! error exactly when the input is invalid, an overflow error only when an exact advantage is
//! beyond the output type's range. A panic, a non-finite output, an answer outside the
//! contract, a missing or a false error all count as failures.
//!
//! The reference writes every estimator as exact rational weights of the sorted rewards
//! (num-rational), from the definitions (docs/MATH.md), not from the kernels' gap sums. Its
//! `match` on the estimator has no wildcard: an estimator added to the registry does not
//! compile here until it has a reference.
//!
//! `cargo test` runs a brief pass; the long run (its last counts are in docs/accuracy.md):
//!
//! ```text
//! MAXK_FUZZ_GROUPS=1440 MAXK_FUZZ_SEED=1 cargo test -p maxk-core --test main fuzz -- --nocapture
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};

use maxk_core::{Error, Estimator, Reward, Scale, Spec, advantages};
use num_bigint::BigInt;
use num_rational::BigRational as Q;
use num_traits::{One, Signed, ToPrimitive, Zero};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The contract's relative tolerance, 2^-40 (docs/accuracy.md).
const TOL_LOG2: i32 = -40;

fn q(x: f64) -> Q {
    Q::from_float(x).expect("a finite float")
}

fn pow2(e: i32) -> Q {
    let one = BigInt::one();
    if e >= 0 { Q::from_integer(one << e as usize) } else { Q::new(one.clone(), one << (-e) as usize) }
}

/// Pascal's triangle up to the largest group.
struct Binom(Vec<Vec<BigInt>>);

impl Binom {
    fn new(top: usize) -> Binom {
        let mut rows: Vec<Vec<BigInt>> = vec![vec![BigInt::one()]];
        for n in 1..=top {
            let prev = &rows[n - 1];
            let row = (0..=n)
                .map(|k| {
                    let left = if k > 0 { prev[k - 1].clone() } else { BigInt::zero() };
                    let right = if k < n { prev[k].clone() } else { BigInt::zero() };
                    left + right
                })
                .collect();
            rows.push(row);
        }
        Binom(rows)
    }

    fn c(&self, n: usize, k: usize) -> BigInt {
        if k > n { BigInt::zero() } else { self.0[n][k].clone() }
    }

    /// rho_K weights of a sorted multiset of m values: `C(j, K-1)/C(m, K)` (0 for K = 0).
    fn rho(&self, m: usize, k: usize) -> Vec<Q> {
        if k == 0 || k > m {
            return vec![Q::zero(); m];
        }
        let den = self.c(m, k);
        (0..m).map(|j| Q::new(self.c(j, k - 1), den.clone())).collect()
    }
}

/// One group as the reference sees it: the rewards (widened exactly), sorted stably.
struct Group {
    values: Vec<f64>,
    sorted: Vec<Q>,
    /// The sorted rewards as integers times `2^exp` (sums of rational weights times integers
    /// are far cheaper than of rationals with denominators up to 2^1074).
    ints: Vec<BigInt>,
    exp: i32,
    /// `1 / (sd + 1e-6)`, or 1 for an all-equal group.
    std_factor: Q,
    /// `rank[i]`: the rank of sample i.
    rank: Vec<usize>,
    max_abs: f64,
    binary: bool,
}

impl Group {
    fn new(values: Vec<f64>) -> Group {
        let n = values.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| values[i].total_cmp(&values[j]).then(i.cmp(&j)));
        let mut rank = vec![0; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let sorted: Vec<Q> = order.iter().map(|&i| q(values[i])).collect();
        let max_abs = values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let all_equal = values.iter().all(|&x| x == values[0]);
        let binary = values.iter().all(|&x| x == 0.0 || x == 1.0);
        let sd = if n < 2 || all_equal {
            Q::zero()
        } else {
            // var / p^2 with p a power of two near max |r|, so that the f64 conversion neither
            // overflows nor underflows; sqrt, then times p (exact).
            let e = max_abs.log2().floor() as i32;
            let p = pow2(e);
            let mean = sorted.iter().fold(Q::zero(), |s, x| s + x) / Q::from_integer(BigInt::from(n));
            let ss = sorted.iter().fold(Q::zero(), |s, x| s + (x - &mean) * (x - &mean));
            let scaled = ss / Q::from_integer(BigInt::from(n - 1)) / (&p * &p);
            q(scaled.to_f64().expect("a finite variance").sqrt()) * p
        };
        // Every finite f64 is an integer times 2^-1074; the smallest exponent of the group
        // keeps the integers short.
        let parts: Vec<(BigInt, i32)> = order.iter().map(|&i| integer_parts(values[i])).collect();
        let exp = parts.iter().filter(|(m, _)| !m.is_zero()).map(|&(_, e)| e).min().unwrap_or(0);
        let ints =
            parts.into_iter().map(|(m, e)| if m.is_zero() { m } else { m << (e - exp) as usize }).collect();
        let std_factor = if all_equal { Q::one() } else { (&sd + q(1e-6)).recip() };
        Group { values, sorted, ints, exp, std_factor, rank, max_abs, binary }
    }

    fn n(&self) -> usize {
        self.values.len()
    }

    /// Exact `1 / (sd + 1e-6)`, the std scale and GRPO's divisor (1 for an all-equal group).
    fn std_factor(&self) -> Q {
        self.std_factor.clone()
    }

    /// `sum_l w_l x_l` for integers `x_l`, times `2^exp`.
    fn dot(&self, w: &[Q], x: impl Iterator<Item = BigInt>) -> Q {
        let s = w.iter().zip(x).fold(Q::zero(), |s, (c, m)| s + c * Q::from_integer(m));
        s * pow2(self.exp)
    }

    fn value(&self, w: &[Q]) -> Q {
        self.dot(w, self.ints.iter().cloned())
    }

    /// The scale an output's error is measured against: the weights' absolute values times
    /// the rewards, or, when the weights sum to 0 (the output depends on differences only),
    /// times the gaps between sorted rewards.
    fn scale_of(&self, w: &[Q]) -> Q {
        let total = w.iter().fold(Q::zero(), |s, c| s + c);
        if total.is_zero() {
            // sum_b |sum_{l>=b} w_l| gap_b
            let mut above = Q::zero();
            let mut tails = vec![Q::zero(); w.len()];
            for b in (1..w.len()).rev() {
                above += &w[b];
                tails[b] = above.abs();
            }
            let gaps =
                (0..w.len()).map(|b| if b == 0 { BigInt::zero() } else { &self.ints[b] - &self.ints[b - 1] });
            self.dot(&tails, gaps)
        } else {
            let abs: Vec<Q> = w.iter().map(Q::abs).collect();
            self.dot(&abs, self.ints.iter().map(BigInt::abs))
        }
    }
}

/// `x = m 2^e` with an integer `m` (exact for every finite f64).
fn integer_parts(x: f64) -> (BigInt, i32) {
    let bits = x.to_bits();
    let field = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if field == 0 { (frac, -1074) } else { (frac | (1u64 << 52), field - 1075) };
    let m = BigInt::from(m);
    (if x.is_sign_negative() { -m } else { m }, e)
}

/// The exact u, v and w weights (over ranks) of every rank at one K.
struct Uvw {
    u: Vec<Vec<Q>>,
    v: Vec<Vec<Q>>,
    w: Vec<Vec<Q>>,
    /// bon-mean's divisor `1 / (std s + 1e-6)` of PKPO's `s` (None: every s equal), once.
    bon: Option<Option<Q>>,
}

impl Uvw {
    fn new(b: &Binom, n: usize, k: usize) -> Uvw {
        let rho = b.rho(n, k);
        let (rho_k, rho_k1) =
            (b.rho(n.saturating_sub(1), k), b.rho(n.saturating_sub(1), k.saturating_sub(1)));
        let without = |weights: &[Q], a: usize| -> Vec<Q> {
            (0..n)
                .map(|l| match l.cmp(&a) {
                    std::cmp::Ordering::Less => weights[l].clone(),
                    std::cmp::Ordering::Equal => Q::zero(),
                    std::cmp::Ordering::Greater => weights[l - 1].clone(),
                })
                .collect()
        };
        let (nq, kq) = (Q::from_integer(n.into()), Q::from_integer(k.into()));
        let (mut u, mut v, mut w) = (Vec::new(), Vec::new(), Vec::new());
        for a in 0..n {
            let va = without(&rho_k, a);
            // rho_K(B) = (K/N) u_a + ((N-K)/N) v_a.
            let ua = if k == 0 {
                vec![Q::zero(); n]
            } else {
                rho.iter().zip(&va).map(|(r, x)| (&nq * r - (&nq - &kq) * x) / &kq).collect()
            };
            u.push(ua);
            w.push(without(&rho_k1, a));
            v.push(va);
        }
        Uvw { u, v, w, bon: None }
    }
}

/// The exact advantage of one sample: weights over the ranks, or (binary estimators) a value,
/// or (rs-grpo) a value and the ratio its error is relative to.
enum Exact {
    Weights(Vec<Q>),
    Value(Q),
    Ratio(Q, Q),
}

fn comb(a: &Q, x: &[Q], b: &Q, y: &[Q]) -> Vec<Q> {
    x.iter().zip(y).map(|(x, y)| a * x + b * y).collect()
}

/// The raw advantage (before `--scale`) of the sample at rank `a`, and GRPO's own divisor.
fn reference(g: &Group, b: &Binom, uvw: &Uvw, est: Estimator, k: usize, a: usize) -> (Exact, Q) {
    let n = g.n();
    let (nq, kq) = (Q::from_integer(n.into()), Q::from_integer(k.into()));
    let one = Q::one();
    let zero = Q::zero();
    let unit =
        |l: usize| -> Vec<Q> { (0..n).map(|j| if j == l { one.clone() } else { zero.clone() }).collect() };
    let (u, v, w) = (&uvw.u[a], &uvw.v[a], &uvw.w[a]);
    let k_n = &kq / &nq;
    let weights = match est {
        Estimator::Pkpo => comb(&k_n, u, &zero, u),
        Estimator::PkpoLoo => comb(&k_n, u, &-(&kq / (&nq - &one)), v),
        Estimator::PkpoLoo1 => comb(&k_n, u, &-&k_n, w),
        Estimator::Ei => comb(&one, u, &-&one, w),
        Estimator::Maxpo => comb(&one, u, &-&one, v),
        Estimator::Canonical => comb(&k_n, u, &-&k_n, v),
        Estimator::Rloo => {
            let others = vec![-(&nq - &one).recip(); n];
            comb(&(&one + (&nq - &one).recip()), &unit(a), &one, &others)
        }
        Estimator::DrGrpo | Estimator::Grpo => comb(&one, &unit(a), &one, &vec![-nq.recip(); n]),
        Estimator::BestMinusSecond => {
            if n >= 2 && g.sorted[n - 1] > g.sorted[n - 2] && a == n - 1 {
                comb(&one, &unit(n - 1), &-&one, &unit(n - 2))
            } else {
                vec![zero.clone(); n]
            }
        }
        Estimator::PasskAnalytic => {
            let c = g.values.iter().filter(|&&x| x == 1.0).count();
            let qk = Q::new(b.c(n - c, k), b.c(n, k));
            let r = &one - &qk;
            if r.is_zero() || r == one {
                return (Exact::Value(zero), one);
            }
            let sigma = q((&r * (&one - &r)).to_f64().unwrap().sqrt());
            let value = if g.sorted[a] == one {
                &qk / &sigma
            } else {
                (&qk - Q::new(b.c(n - c - 1, k - 1), b.c(n - 1, k - 1))) / &sigma
            };
            return (Exact::Value(value), one);
        }
        Estimator::BonMean => {
            // (s_a - mean s) / (std s + 1e-6) with s = (K/N) u; 0 when every s is equal (always
            // at K = N). The divisor is computed once per K ([`bon_divisor`]).
            return match uvw.bon.clone().expect("bon_divisor ran") {
                Some(f) => (Exact::Weights(bon_centered(uvw, n, k, a)), f),
                None => (Exact::Value(zero), one),
            };
        }
        Estimator::RsGrpo => {
            // (1/beta)(x_i / mean x - 1), x = e^{beta (r - max r)}: the exponentials in f64
            // (one rounding each), the rest exact. The error is relative to the magnitude of
            // the two terms, x_i / (beta mean x) + 1/beta, which the scale returned here carries.
            let beta = maxk_core::RS_GRPO_BETA;
            let top = g.values.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
            let x: Vec<Q> = g.values.iter().map(|&r| q((beta * (r - top)).exp())).collect();
            let mean = x.iter().fold(Q::zero(), |s, v| s + v) / &nq;
            let i = (0..n).find(|&i| g.rank[i] == a).expect("a rank of the group");
            let ratio = &x[i] / (&mean * q(beta));
            let value = &ratio - q(beta).recip();
            // The terms' magnitudes: the ratio and 1/beta.
            let terms = &ratio + q(beta).recip();
            return (Exact::Ratio(value, terms), one);
        }
        Estimator::Maxrl => {
            let c = g.values.iter().filter(|&&x| x == 1.0).count();
            let value = if c == 0 {
                zero
            } else if g.sorted[a] == one {
                &nq / Q::from_integer(c.into()) - &one
            } else {
                -one.clone()
            };
            return (Exact::Value(value), one);
        }
    };
    let divisor = if est == Estimator::Grpo { g.std_factor() } else { one };
    (Exact::Weights(weights), divisor)
}

/// bon-mean's weights of `s_a - mean s`, `s = (K/N) u`.
fn bon_centered(uvw: &Uvw, n: usize, k: usize, a: usize) -> Vec<Q> {
    let k_n = Q::new(k.into(), n.into());
    (0..n)
        .map(|l| {
            let mean = uvw.u.iter().fold(Q::zero(), |m, u| m + &u[l]) / Q::from_integer(n.into());
            &k_n * (&uvw.u[a][l] - mean)
        })
        .collect()
}

/// Fills `uvw.bon`: `1 / (std s + 1e-6)` of bon-mean's `s`, None when every s is equal.
fn bon_divisor(g: &Group, uvw: &mut Uvw, k: usize) {
    if uvw.bon.is_some() {
        return;
    }
    let n = g.n();
    let d: Vec<Q> = (0..n).map(|a| g.value(&bon_centered(uvw, n, k, a))).collect();
    let ss = d.iter().fold(Q::zero(), |s, x| s + x * x);
    uvw.bon = Some(if ss.is_zero() || n < 2 {
        None
    } else {
        let var = ss / Q::from_integer((n - 1).into());
        let e = var.to_f64().map_or(1000, |v| (v.log2() / 2.0).floor() as i32).clamp(-1000, 1000);
        let p = pow2(e);
        let sd = q((var / (&p * &p)).to_f64().expect("a finite variance").sqrt()) * p;
        Some((sd + q(1e-6)).recip())
    });
}

/// The `--scale` factor, exact (`pg` from the registry's formula).
fn scale_factor(g: &Group, est: Estimator, scale: Scale, k: usize) -> Q {
    let (n, kq) = (Q::from_integer(g.n().into()), Q::from_integer(k.into()));
    let one = Q::one();
    match scale {
        Scale::None => one,
        Scale::Std => g.std_factor(),
        Scale::Pg => match est.pg_factor_formula() {
            "1" => one,
            "K/N" => kq / n,
            "1/N" => n.recip(),
            "1/(N-1)" if g.n() > 1 => (n - one).recip(),
            "K/(N-K)" if g.n() > k => &kq / (n - &kq),
            "1/(N-1)" | "K/(N-K)" => one,
            other => panic!("no exact form of the pg factor {other:?}: add it to the fuzz reference"),
        },
    }
}

/// What one run found.
#[derive(Debug, Default)]
struct Counts {
    groups: u64,
    calls: u64,
    outputs: u64,
    panics: u64,
    non_finite: u64,
    outside: u64,
    false_errors: u64,
    missing_errors: u64,
    overflow_errors: u64,
    validation_errors: u64,
    /// The largest |A - exact| / (2^-40 F S_i) of an f64 output (1 is the contract's limit).
    worst: f64,
    /// Outputs within the bound only thanks to its absolute floor (results near subnormals).
    floor: u64,
    /// The call of `worst`.
    worst_case: String,
    examples: Vec<String>,
}

impl Counts {
    fn failures(&self) -> u64 {
        self.panics + self.non_finite + self.outside + self.false_errors + self.missing_errors
    }

    fn fail(&mut self, what: String) {
        if self.examples.len() < 12 {
            self.examples.push(what);
        }
    }
}

/// The error bound of one output of exact value `exact` with scale `s`, times the total factor
/// `f`, for output type `T`: TOL s |f| (+ the final rounding to f32, 2^-24 |exact|), and, only
/// where that is not enough (it is rare, and the tiny powers of two make it slow), an absolute
/// floor for arithmetic near the subnormal range in the group's unit (+ 2^-150 for f32).
fn within<T: Reward>(g: &Group, err: &Q, exact: &Q, s: &Q, f: &Q) -> Within {
    let mut b = pow2(TOL_LOG2) * s * f.abs();
    if T::NAME == "f32" {
        b += pow2(-24) * exact.abs();
    }
    if err <= &b {
        return Within::Relative(b);
    }
    let n = Q::from_integer((g.n() + 1).into());
    b += Q::from_integer(8.into()) * n * pow2(-1074) * q(g.max_abs.max(1.0)) * f.abs();
    if T::NAME == "f32" {
        b += pow2(-150);
    }
    if err <= &b { Within::Floor } else { Within::Outside(b) }
}

/// Where an output's error fell.
enum Within {
    /// Within the relative part of the bound (which is given).
    Relative(Q),
    /// Within the bound only with its absolute floor.
    Floor,
    /// Outside (the whole bound is given).
    Outside(Q),
}

fn check<T: Reward>(g: &Group, b: &Binom, uvws: &mut [Option<Uvw>], rewards: &[T], counts: &mut Counts) {
    let n = g.n();
    for est in Estimator::ALL {
        // K from 0 to N + 1: `uvws` has a slot for each.
        for (k, slot) in uvws.iter_mut().enumerate() {
            let valid = est.validate(n, k).is_ok() && (!est.needs_binary() || g.binary);
            // Per sample: the raw exact value, its scale S_i and GRPO's divisor (all scales).
            let mut raw: Option<Vec<(Q, Q, Q)>> = None;
            for scale in Scale::ALL {
                let spec = Spec::new(est, k).with_scale(scale);
                counts.calls += 1;
                let what = || format!("{est} {scale} K = {k} {} {:?}", T::NAME, g.values);
                let result = match catch_unwind(AssertUnwindSafe(|| advantages(rewards, spec))) {
                    Ok(r) => r,
                    Err(_) => {
                        counts.panics += 1;
                        counts.fail(format!("panic: {}", what()));
                        continue;
                    }
                };
                if !valid {
                    match result {
                        Err(
                            Error::KOutOfRange { .. }
                            | Error::GroupTooSmall { .. }
                            | Error::EmptyGroup
                            | Error::NotBinary { .. },
                        ) => counts.validation_errors += 1,
                        other => {
                            counts.missing_errors += 1;
                            counts.fail(format!("invalid input gave {other:?}: {}", what()));
                        }
                    }
                    continue;
                }
                let raw = raw.get_or_insert_with(|| {
                    let uvw = slot.get_or_insert_with(|| Uvw::new(b, n, k));
                    if est == Estimator::BonMean {
                        bon_divisor(g, uvw, k);
                    }
                    (0..n)
                        .map(|i| match reference(g, b, uvw, est, k, g.rank[i]) {
                            (Exact::Weights(w), divisor) => (g.value(&w), g.scale_of(&w), divisor),
                            (Exact::Value(v), divisor) => {
                                let s = v.abs();
                                (v, s, divisor)
                            }
                            (Exact::Ratio(v, ratio), divisor) => (v, ratio.abs(), divisor),
                        })
                        .collect()
                });
                let sf = scale_factor(g, est, scale, k);
                // Per sample: the exact advantage, its scale S_i and the total factor.
                let expected: Vec<(Q, &Q, Q)> = raw
                    .iter()
                    .map(|(value, s, divisor)| {
                        let f = &sf * divisor;
                        (value * &f, s, f)
                    })
                    .collect();
                match result {
                    Ok(out) => {
                        for (i, (a, (exact, s, f))) in out.iter().zip(&expected).enumerate() {
                            counts.outputs += 1;
                            let a = a.to_f64();
                            if !a.is_finite() {
                                counts.non_finite += 1;
                                counts.fail(format!("output {i} is {a}: {}", what()));
                                continue;
                            }
                            let err = (q(a) - exact).abs();
                            match within::<T>(g, &err, exact, s, f) {
                                Within::Relative(bd) => {
                                    if T::NAME == "f64" && !err.is_zero() {
                                        let ratio = (err / bd).to_f64().unwrap_or(0.0);
                                        if ratio > counts.worst {
                                            counts.worst = ratio;
                                            counts.worst_case = format!("output {i}: {}", what());
                                        }
                                    }
                                }
                                Within::Floor => counts.floor += 1,
                                Within::Outside(bd) => {
                                    counts.outside += 1;
                                    counts.fail(format!(
                                        "output {i} is {a:e}, exact {:e}, error {:e} > bound {:e}: {}",
                                        exact.to_f64().unwrap_or(f64::NAN),
                                        err.to_f64().unwrap_or(f64::NAN),
                                        bd.to_f64().unwrap_or(f64::NAN),
                                        what()
                                    ));
                                }
                            }
                        }
                    }
                    Err(Error::AdvantageOverflow { index, .. }) if index < n => {
                        let (exact, s, f) = &expected[index];
                        let room = q(T::MAX) - exact.abs();
                        if exact.abs() >= q(T::MAX)
                            || !matches!(within::<T>(g, &room, exact, s, f), Within::Outside(_))
                        {
                            counts.overflow_errors += 1;
                        } else {
                            counts.false_errors += 1;
                            counts.fail(format!(
                                "false overflow at {index} (exact {:e}): {}",
                                exact.to_f64().unwrap_or(f64::NAN),
                                what()
                            ));
                        }
                    }
                    Err(e) => {
                        counts.false_errors += 1;
                        counts.fail(format!("valid input gave {e}: {}", what()));
                    }
                }
            }
        }
    }
}

/// A finite f64 from random bits: any magnitude, subnormals included.
fn any_finite(rng: &mut ChaCha8Rng) -> f64 {
    loop {
        let x = f64::from_bits(rng.r#gen::<u64>());
        if x.is_finite() {
            return x;
        }
    }
}

/// Values that do not survive a round trip through a rounded mean, and the extremes.
const AWKWARD: [f64; 18] = [
    0.7,
    0.1,
    1.0 / 3.0,
    2.0 / 3.0,
    -0.3,
    1.5e7 + 0.3,
    1e300,
    -1e300,
    5e-324,
    -1e-310,
    f64::MIN_POSITIVE,
    f64::MAX,
    f64::MIN,
    0.0,
    1.0,
    65504.0,
    3.4e38,
    -2.5e-8,
];

fn one_value(rng: &mut ChaCha8Rng, kind: u32) -> f64 {
    let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    match kind {
        // ordinary values over many decades
        0 => rng.gen_range(-1.0..1.0) * 10f64.powi(rng.gen_range(-6..7)),
        // ties
        1 => f64::from(rng.gen_range(-3..=3)) / 2.0,
        // outliers
        2 => sign * [1e15, 1e20, 1e100, 1e300, f64::MAX, 1e-300][rng.gen_range(0..6)],
        // near the top of the range
        3 => sign * f64::MAX * rng.gen_range(0.25..=1.0),
        // subnormal and tiny normal
        4 => sign * f64::from_bits(rng.gen_range(0..1u64 << 54)),
        // anything finite
        _ => any_finite(rng),
    }
}

fn adversarial_group(rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n = if rng.gen_bool(0.1) { rng.gen_range(11..=20) } else { rng.gen_range(1..=10) };
    match rng.gen_range(0..9) {
        0 => {
            let v =
                if rng.gen_bool(0.6) { AWKWARD[rng.gen_range(0..AWKWARD.len())] } else { any_finite(rng) };
            vec![v; n]
        }
        1 => (0..n).map(|_| one_value(rng, 0)).collect(),
        2 => (0..n).map(|_| one_value(rng, 1)).collect(),
        3 => {
            let mut r: Vec<f64> = (0..n).map(|_| one_value(rng, 0)).collect();
            for _ in 0..rng.gen_range(1..=2) {
                let i = rng.gen_range(0..n);
                r[i] = one_value(rng, 2);
            }
            r
        }
        4 => (0..n)
            .map(|_| if rng.gen_bool(0.2) { f64::MAX.copysign(one_value(rng, 3)) } else { one_value(rng, 3) })
            .collect(),
        5 => (0..n).map(|_| one_value(rng, 4)).collect(),
        6 => (0..n).map(|_| f64::from(u8::from(rng.gen_bool(0.5)))).collect(),
        7 => {
            let base =
                if rng.gen_bool(0.5) { AWKWARD[rng.gen_range(0..AWKWARD.len())] } else { one_value(rng, 0) };
            (0..n)
                .map(|_| {
                    let x = f64::from_bits(base.to_bits().wrapping_add(rng.gen_range(0..4)));
                    if x.is_finite() { x } else { base }
                })
                .collect()
        }
        _ => (0..n)
            .map(|_| {
                let kind = rng.gen_range(0..6);
                one_value(rng, kind)
            })
            .collect(),
    }
}

/// Runs `groups` random groups from `seed`, each as f64 and as f32.
fn run(groups: u64, seed: u64) -> Counts {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let binom = Binom::new(24);
    let mut counts = Counts::default();
    for _ in 0..groups {
        let values = adversarial_group(&mut rng);
        counts.groups += 1;
        let g = Group::new(values.clone());
        let mut uvws: Vec<Option<Uvw>> = (0..values.len() + 2).map(|_| None).collect();
        check::<f64>(&g, &binom, &mut uvws, &values, &mut counts);
        // f32: the same group rounded (and clamped) into f32's range.
        let narrow: Vec<f32> =
            values.iter().map(|&x| x.clamp(f32::MIN as f64, f32::MAX as f64) as f32).collect();
        let g = Group::new(narrow.iter().map(|&x| f64::from(x)).collect());
        let mut uvws: Vec<Option<Uvw>> = (0..values.len() + 2).map(|_| None).collect();
        check::<f32>(&g, &binom, &mut uvws, &narrow, &mut counts);
    }
    counts
}

#[test]
fn fuzz_every_estimator_scale_and_k_against_exact_rationals() {
    let env =
        |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (groups, seed) = (env("MAXK_FUZZ_GROUPS", 20), env("MAXK_FUZZ_SEED", 29));
    let start = std::time::Instant::now();
    let counts = run(groups, seed);
    println!(
        "fuzz seed {seed}: {} groups, {} calls, {} outputs checked in {:.1} s; {} panics, {} non-finite, \
         {} outside the contract, {} false errors, {} missing errors; {} overflow errors and {} validation \
         errors as expected; worst f64 error {:.2e} of 2^-40 F S_i ({}), {} outputs within the subnormal floor",
        counts.groups,
        counts.calls,
        counts.outputs,
        start.elapsed().as_secs_f64(),
        counts.panics,
        counts.non_finite,
        counts.outside,
        counts.false_errors,
        counts.missing_errors,
        counts.overflow_errors,
        counts.validation_errors,
        counts.worst,
        counts.worst_case,
        counts.floor,
    );
    assert_eq!(counts.failures(), 0, "first failures:\n{}", counts.examples.join("\n"));
}
