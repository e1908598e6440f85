//! Slow reference twins by brute-force subset enumeration, straight from the definitions
//! (docs/MATH.md, "Building blocks"). For tests and for checking the fast kernel; use N <= 16.

use crate::estimator::{Estimator, Scale, Spec};

/// PKPO values of the brute-force bon-mean whose std is at most this share of their largest
/// magnitude count as equal: the rounding of the subset means, never a real spread of rewards
/// at the sizes this reference is for (the fast path detects equal values exactly).
const SAME_S: f64 = 1e-13;

/// Every `k`-subset of `items` (as index lists).
fn subsets(items: &[usize], k: usize) -> Vec<Vec<usize>> {
    fn rec(items: &[usize], k: usize, start: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for j in start..items.len() {
            cur.push(items[j]);
            rec(items, k, j + 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    rec(items, k, 0, &mut Vec::new(), &mut out);
    out
}

fn max_of(r: &[f64], s: &[usize]) -> f64 {
    s.iter().map(|&j| r[j]).fold(f64::NEG_INFINITY, f64::max)
}

fn mean(xs: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    s / n as f64
}

/// rho_K(B): the mean of the max over every K-subset (0 for K = 0, by convention).
pub fn rho(r: &[f64], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let all: Vec<usize> = (0..r.len()).collect();
    mean(subsets(&all, k).iter().map(|s| max_of(r, s)))
}

fn without(r: &[f64], i: usize) -> Vec<f64> {
    r.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &x)| x).collect()
}

/// u_i: mean max over the K-subsets that contain i.
pub fn u(r: &[f64], k: usize, i: usize) -> f64 {
    let others: Vec<usize> = (0..r.len()).filter(|&j| j != i).collect();
    mean(subsets(&others, k - 1).iter().map(|s| r[i].max(max_of(r, s))))
}

/// v_i = rho_K(B \ i).
pub fn v(r: &[f64], k: usize, i: usize) -> f64 {
    rho(&without(r, i), k)
}

/// w_i = rho_{K-1}(B \ i).
pub fn w(r: &[f64], k: usize, i: usize) -> f64 {
    rho(&without(r, i), k - 1)
}

/// EI_i: mean over (K-1)-subsets S of the others of max(0, r_i - max S); r_i at K = 1.
pub fn ei(r: &[f64], k: usize, i: usize) -> f64 {
    if k == 1 {
        return r[i];
    }
    let others: Vec<usize> = (0..r.len()).filter(|&j| j != i).collect();
    mean(subsets(&others, k - 1).iter().map(|s| (r[i] - max_of(r, s)).max(0.0)))
}

/// The Leave-Two-Out baseline `(1/(N-1)) sum_{j != i} EI_j` computed on B \ i.
pub fn l2o(r: &[f64], k: usize, i: usize) -> f64 {
    let rest = without(r, i);
    mean((0..rest.len()).map(|j| ei(&rest, k, j)))
}

fn binom(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, t| acc * (n - t) as f64 / (t + 1) as f64)
}

/// Advantages of one group from the definitions (no validation: give valid input).
pub fn advantages(r: &[f64], spec: Spec) -> Vec<f64> {
    let (n, k) = (r.len(), spec.k);
    let (nf, kf) = (n as f64, k as f64);
    let m = mean(r.iter().copied());
    let sd = if n > 1 { (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt() } else { 0.0 };
    let equal = r.iter().all(|&x| x == r[0]);
    let raw: Vec<f64> = (0..n)
        .map(|i| match spec.estimator {
            Estimator::Pkpo => kf / nf * u(r, k, i),
            Estimator::PkpoLoo => kf / nf * u(r, k, i) - kf / (nf - 1.0) * v(r, k, i),
            Estimator::PkpoLoo1 => kf / nf * (u(r, k, i) - w(r, k, i)),
            Estimator::Ei => ei(r, k, i),
            Estimator::Maxpo => ei(r, k, i) - l2o(r, k, i),
            Estimator::Canonical => rho(r, k) - v(r, k, i),
            Estimator::Rloo if equal => 0.0,
            Estimator::Rloo => r[i] - mean(without(r, i)),
            // An all-equal group (a singleton included) carries no signal: exactly 0.
            Estimator::DrGrpo if equal => 0.0,
            Estimator::Grpo if equal => 0.0,
            Estimator::DrGrpo => r[i] - m,
            Estimator::Grpo => (r[i] - m) / (sd + 1e-6),
            Estimator::BestMinusSecond => {
                let mut sorted = r.to_vec();
                sorted.sort_by(f64::total_cmp);
                let (best, second) = (sorted[n - 1], sorted[n - 2]);
                let first_best = r.iter().position(|&x| x == best).unwrap();
                if best > second && i == first_best { best - second } else { 0.0 }
            }
            Estimator::PasskAnalytic => {
                let c = r.iter().filter(|&&x| x == 1.0).count();
                let big_r = 1.0 - binom(n - c, k) / binom(n, k);
                let sigma = (big_r * (1.0 - big_r)).sqrt();
                if sigma == 0.0 {
                    0.0
                } else if r[i] == 1.0 {
                    (1.0 - big_r) / sigma
                } else {
                    (1.0 - big_r - binom(n - c - 1, k - 1) / binom(n - 1, k - 1)) / sigma
                }
            }
            Estimator::BonMean => {
                let s: Vec<f64> = (0..n).map(|j| kf / nf * u(r, k, j)).collect();
                // the mean as s_0 plus the mean of the differences, exact when all s are equal
                let ms = s[0] + mean(s.iter().map(|x| x - s[0]));
                let sds = if n > 1 {
                    (s.iter().map(|x| (x - ms).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt()
                } else {
                    0.0
                };
                // equal s (up to rounding) carry no signal, as in the fast path
                if sds <= SAME_S * s.iter().fold(0.0f64, |m, x| m.max(x.abs())) {
                    0.0
                } else {
                    (s[i] - ms) / (sds + 1e-6)
                }
            }
            Estimator::RsGrpo => {
                let beta = crate::RS_GRPO_BETA;
                let top = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e = |x: f64| (beta * (x - top)).exp();
                (e(r[i]) / mean(r.iter().map(|&x| e(x))) - 1.0) / beta
            }
            Estimator::Maxrl => {
                if m == 0.0 {
                    0.0
                } else {
                    (r[i] - m) / m
                }
            }
        })
        .collect();
    let factor = match spec.scale {
        Scale::None => 1.0,
        Scale::Pg => spec.estimator.pg_factor(n, k),
        // An all-equal group is left unscaled.
        Scale::Std if equal => 1.0,
        Scale::Std => 1.0 / (sd + 1e-6),
    };
    raw.into_iter().map(|a| a * factor).collect()
}

/// Multi-objective advantages of one group from the definitions: `rows[i]` holds sample i's D
/// rewards; `A_i = sum_d lambda_d * advantages(column d, spec_d)_i` (no validation: give valid
/// input; see [`crate::MultiSpec`]).
pub fn multi_advantages(rows: &[Vec<f64>], spec: &crate::MultiSpec) -> Vec<f64> {
    let mut out = vec![0.0; rows.len()];
    for (d, axis) in spec.axes().iter().enumerate() {
        let column: Vec<f64> = rows.iter().map(|row| row[d]).collect();
        for (o, a) in out.iter_mut().zip(advantages(&column, axis.spec)) {
            *o += axis.weight * a;
        }
    }
    out
}

/// The U-statistic of a symmetric kernel over the `k`-subsets of `items` (indices into the
/// group): the mean of `h(subset)`.
pub fn u_statistic(items: &[usize], k: usize, h: &impl Fn(&[usize]) -> f64) -> f64 {
    mean(subsets(items, k).iter().map(|s| h(s)))
}

/// The canonical leave-one-out (jackknife) advantages `U(B) - U(B \ i)` of a symmetric kernel
/// `h` over K-subsets of a group of `n` samples, by enumeration (docs/MATH.md, "Any K-sample
/// objective"; `1 <= k <= n - 1`).
pub fn jackknife(n: usize, k: usize, h: impl Fn(&[usize]) -> f64) -> Vec<f64> {
    let all: Vec<usize> = (0..n).collect();
    let full = u_statistic(&all, k, &h);
    (0..n)
        .map(|i| {
            let rest: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
            full - u_statistic(&rest, k, &h)
        })
        .collect()
}

/// Mixture-of-K advantages from the definition, `sum_k w_k (rho_k(B) - rho_k(B \ i))` with
/// rho_k as the mean max over k-subsets (see [`crate::Mixture`]; no validation).
pub fn mixture_advantages(r: &[f64], mix: &crate::Mixture) -> Vec<f64> {
    let mut out = vec![0.0; r.len()];
    for t in mix.terms(r.len()) {
        let a = jackknife(r.len(), t.k, |s| max_of(r, s));
        for (o, x) in out.iter_mut().zip(a) {
            *o += t.weight * x;
        }
    }
    out
}

/// The maj@K score of one subset: the share of correct answers among its most frequent ones
/// (ties split), or 1 only for a unique correct winner (ties wrong).
pub fn maj_score(answers: &[u64], correct: &[bool], subset: &[usize], ties: crate::Ties) -> f64 {
    let mut counts: Vec<(u64, usize, bool)> = Vec::new();
    for &i in subset {
        match counts.iter_mut().find(|c| c.0 == answers[i]) {
            Some(c) => c.1 += 1,
            None => counts.push((answers[i], 1, correct[i])),
        }
    }
    let top = counts.iter().map(|c| c.1).max().unwrap_or(0);
    let tied: Vec<_> = counts.iter().filter(|c| c.1 == top).collect();
    let right = tied.iter().filter(|c| c.2).count();
    match ties {
        crate::Ties::Split => right as f64 / tied.len() as f64,
        crate::Ties::Wrong => f64::from(u8::from(tied.len() == 1 && right == 1)),
    }
}

/// maj@K of a group by enumerating its K-subsets (no validation).
pub fn maj_at_k(answers: &[u64], correct: &[bool], spec: crate::MajSpec) -> f64 {
    let all: Vec<usize> = (0..answers.len()).collect();
    u_statistic(&all, spec.k, &|s| maj_score(answers, correct, s, spec.ties))
}

/// maj@K advantages `U_K(B) - U_K(B \ i)` by enumeration (no validation).
pub fn maj_advantages(answers: &[u64], correct: &[bool], spec: crate::MajSpec) -> Vec<f64> {
    jackknife(answers.len(), spec.k, |s| maj_score(answers, correct, s, spec.ties))
}
