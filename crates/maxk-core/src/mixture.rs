//! Mixtures of K: advantages for `J = sum_k w_k J_k` over a list of K values (e.g. pass@1 +
//! 0.5 pass@8), or for the harmonic mixture `w_k = 1/k` over `k = 1..=N-1`, MaxRL's objective
//! on binary rewards extended to any reward.
//!
//! The advantage is the jackknife of the mixture's U-statistic (docs/MATH.md, "Any K-sample
//! objective"), the sum of the canonical max@K advantages of its terms:
//!
//! `A_i = sum_k w_k (rho_k(B) - rho_k(B \ i))`, valid for `1 <= k <= N - 1` in every term.
//!
//! It is exactly centered (each term is) and PG-unbiased with factor 1:
//! `E[sum_i A_i grad log pi(y_i)] = grad sum_k w_k J_k` (checked by enumeration in
//! `tests/mixture.rs`).
//!
//! ## O(N log N + N |K|)
//! Over the sorted group (gaps `g_b = s_b - s_{b-1}`, `z^k_b = C(b,k)/C(N,k)`), the canonical
//! advantage of the sample at rank `a` is `k/(N-k) [sum_{b<=a} g_b z^k_b - sum_{b>a} g_b z^k_b
//! (N-b)/b]` (module `group`). The per-rank weights therefore combine before the sum:
//!
//! `A_a = sum_{b=1..=a} g_b F_b - sum_{b>a} g_b F_b (N-b)/b`,
//! `F_b = sum_k w_k k/(N-k) C(b,k)/C(N,k)`,
//!
//! one sort, one O(N |K|) table (the |K| ratio recurrences run side by side, beside the sort for
//! large groups) and two O(N) passes: the cost of one single-K MaxPO plus the table.
//!
//! ## The harmonic mixture and MaxRL
//! With `w_k = 1/k` for `k = 1..=N-1`, `F_b = (1/N) sum_{k=1..=N-1} C(b,k)/C(N-1,k) =
//! b / (N (N-b))` by `sum_{k=0..=b} C(b,k)/C(M,k) = (M+1)/(M+1-b)`, so `F_b (N-b)/b = 1/N` and
//!
//! `A_a = (1/N) [sum_{b=1..=a} g_b b/(N-b) - (s_{N-1} - s_a)]`, O(N log N) whatever N.
//!
//! On binary rewards with c correct (one gap, at `b = N - c`) this is `(N-c)/(N c)` for a
//! correct sample and `-1/N` for a wrong one, and 0 when `c = 0` or `c = N`: exactly MaxRL's
//! `(r_i - mean r)/mean r` divided by N, on every group (not merely in expectation). On
//! continuous rewards it is centered and unbiased for `grad sum_{k<N} J_k/k`, which for rewards
//! in [0, 1] is `grad int_0^1 sum_{k<N} (1 - F(x)^k)/k dx`, tending to
//! `grad int_0^1 log P(R > x) dx` (the log-probability of beating a threshold, averaged over
//! thresholds) as N grows: for binary rewards `log p`, MaxRL's maximum-likelihood objective.

use std::fmt;
use std::str::FromStr;

use crate::driver::{Grouping, Groups, check_ids};
use crate::error::{Error, Result};
use crate::float::Reward;
use crate::group::{COMPENSATE_FROM, Workspace};
use crate::sum::{Accumulator, Neumaier, Plain};
use crate::validate::{check_finite, check_output};

/// One term `w_k J_k` of a mixture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// K of max@K, `1 <= k <= N - 1` for every group.
    pub k: usize,
    /// The weight `w_k` (any finite number).
    pub weight: f64,
}

/// A mixture of max@K objectives `J = sum_k w_k J_k` (see the module docs).
///
/// Text form (CLI flag, Python, adapter configs): `harmonic`, or comma-separated terms `k:w`
/// (`k` alone means weight 1), e.g. `1:1,8:0.5` for pass@1 + 0.5 pass@8.
#[derive(Debug, Clone, PartialEq)]
pub enum Mixture {
    /// Explicit terms (at least one; K values may repeat, their weights add).
    Terms(Vec<Term>),
    /// `w_k = 1/k` for `k = 1..=N-1`, N the size of each group: on binary rewards, MaxRL
    /// divided by N exactly.
    Harmonic,
}

impl Mixture {
    /// The mixture of `terms` (pairs `(k, w_k)`).
    ///
    /// Errors: [`Error::EmptyMixture`] for no term, [`Error::MixtureWeight`] for a NaN or
    /// infinite weight, [`Error::InvalidMixture`] for `k = 0`.
    pub fn new(terms: &[(usize, f64)]) -> Result<Mixture> {
        if terms.is_empty() {
            return Err(Error::EmptyMixture);
        }
        for &(k, weight) in terms {
            if !weight.is_finite() {
                return Err(Error::MixtureWeight { k, value: weight });
            }
            if k == 0 {
                return Err(Error::InvalidMixture {
                    text: format!("{k}:{weight}"),
                    reason: "K must be at least 1",
                });
            }
        }
        Ok(Mixture::Terms(terms.iter().map(|&(k, weight)| Term { k, weight }).collect()))
    }

    /// The terms for a group of `n` samples.
    pub fn terms(&self, n: usize) -> Vec<Term> {
        match self {
            Mixture::Terms(t) => t.clone(),
            Mixture::Harmonic => (1..n).map(|k| Term { k, weight: 1.0 / k as f64 }).collect(),
        }
    }

    /// The largest K of the mixture for a group of `n`.
    pub fn max_k(&self, n: usize) -> usize {
        match self {
            Mixture::Terms(t) => t.iter().map(|t| t.k).max().unwrap_or(0),
            Mixture::Harmonic => n.saturating_sub(1),
        }
    }

    /// Checks a group size: `N >= 2` and every `k <= N - 1`.
    pub fn validate(&self, n: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::EmptyGroup);
        }
        if n < 2 {
            return Err(Error::GroupTooSmall { estimator: "mixture", n, min: 2 });
        }
        let k = self.max_k(n);
        if k > n - 1 {
            return Err(Error::KOutOfRange { estimator: "mixture", n, k, requirement: REQUIREMENT });
        }
        Ok(())
    }

    /// The unbiased estimate `sum_k w_k rho_k(B)` of the mixture objective for one group.
    pub fn value<T: Reward>(&self, rewards: &[T]) -> Result<f64> {
        check_finite(rewards)?;
        self.validate(rewards.len())?;
        let mut ws = Workspace::new();
        let mut acc = Neumaier::default();
        for t in self.terms(rewards.len()) {
            acc.add(t.weight * ws.rho(rewards, t.k));
        }
        Ok(acc.value())
    }
}

const REQUIREMENT: &str = "1 <= k <= N - 1 for every term";

impl fmt::Display for Mixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mixture::Harmonic => f.write_str("harmonic"),
            Mixture::Terms(terms) => {
                let parts: Vec<String> = terms.iter().map(|t| format!("{}:{}", t.k, t.weight)).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl FromStr for Mixture {
    type Err = Error;

    /// `harmonic`, or `k:w` terms separated by commas (`k` alone: weight 1).
    fn from_str(s: &str) -> Result<Mixture> {
        let text = s.trim();
        if text == "harmonic" {
            return Ok(Mixture::Harmonic);
        }
        let bad = |reason: &'static str| Error::InvalidMixture { text: s.to_string(), reason };
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, w) = match part.split_once(':') {
                Some((k, w)) => (k.trim(), w.trim()),
                None => (part, "1"),
            };
            let k: usize = k.parse().map_err(|_| bad("a K is not a positive integer"))?;
            let w: f64 = w.parse().map_err(|_| bad("a weight is not a number"))?;
            terms.push((k, w));
        }
        if terms.is_empty() {
            return Err(bad("no term; expected `harmonic` or terms `k:w` such as `1:1,8:0.5`"));
        }
        Mixture::new(&terms)
    }
}

/// Per-thread buffers of the mixture kernel.
#[derive(Debug, Default)]
pub(crate) struct MixtureWorkspace {
    ws: Workspace,
    /// `(N, fwd, bwd)`: `F_b` and `F_b (N-b)/b` by rank, cached by N (the mixture is fixed
    /// for the workspace's life).
    table: Option<(usize, Vec<f64>, Vec<f64>)>,
    fwd: Vec<f64>,
}

/// `F_b` and `F_b (N-b)/b` for `b = 0..N` (index 0 unused): the |K| downward recurrences
/// `C(b-1,k)/C(N,k) = C(b,k)/C(N,k) (1 - k/b)` run side by side, one division per rank.
fn weight_tables(mix: &Mixture, n: usize) -> (usize, Vec<f64>, Vec<f64>) {
    let nf = n as f64;
    let mut fwd = vec![0.0; n];
    let mut bwd = vec![0.0; n];
    match mix {
        Mixture::Harmonic => {
            for b in 1..n {
                let bf = b as f64;
                fwd[b] = bf / (nf * (nf - bf));
                bwd[b] = 1.0 / nf;
            }
        }
        Mixture::Terms(terms) => {
            let ks: Vec<f64> = terms.iter().map(|t| t.k as f64).collect();
            let coef: Vec<f64> = terms.iter().map(|t| t.weight * t.k as f64 / (nf - t.k as f64)).collect();
            // z[j] = C(b, k_j)/C(N, k_j), starting from b = N (ratio 1).
            let mut z = vec![1.0; terms.len()];
            for b in (1..=n).rev() {
                let inv = 1.0 / b as f64;
                // step b -> b - 1 after using b (b = N itself is not a rank)
                if b < n {
                    let f: f64 = z.iter().zip(&coef).map(|(z, c)| z * c).sum();
                    fwd[b] = f;
                    bwd[b] = f * (nf - b as f64) * inv;
                }
                for (zj, kj) in z.iter_mut().zip(&ks) {
                    *zj *= (1.0 - kj * inv).max(0.0);
                }
            }
        }
    }
    (n, fwd, bwd)
}

impl MixtureWorkspace {
    /// Checks one group (finite rewards, size, K range); returns nothing.
    pub(crate) fn check<T: Reward>(rewards: &[T], mix: &Mixture) -> Result<()> {
        check_finite(rewards)?;
        mix.validate(rewards.len())
    }

    /// Advantages of a checked group into `out` (written only on success).
    pub(crate) fn compute<T: Reward>(&mut self, rewards: &[T], mix: &Mixture, out: &mut [T]) -> Result<()> {
        let n = rewards.len();
        let cached = matches!(&self.table, Some((m, _, _)) if *m == n);
        let (sorted, fresh) = self.ws.sorted(rewards, || (!cached).then(|| weight_tables(mix, n)));
        if let Some(t) = fresh {
            self.table = Some(t);
        }
        let (_, f, g) = self.table.as_ref().expect("filled above");
        self.fwd.resize(n, 0.0);
        if n >= COMPENSATE_FROM {
            passes::<Neumaier>(sorted.vals, f, g, &mut self.fwd);
        } else {
            passes::<Plain>(sorted.vals, f, g, &mut self.fwd);
        }
        let back = sorted.unit.back;
        if let Some(b) = self.fwd.iter().position(|a| !T::from_f64(a * back).to_f64().is_finite()) {
            return Err(Error::advantage_overflow("mixture", sorted.index(b), rewards));
        }
        for (b, a) in self.fwd.iter().enumerate() {
            out[sorted.index(b)] = T::from_f64(a * back);
        }
        Ok(())
    }
}

/// `out[a] = sum_{b=1..=a} g_b f_b - sum_{b>a} g_b g_b'` over the sorted `s` (by rank).
fn passes<A: Accumulator>(s: &[f64], f: &[f64], bwd: &[f64], out: &mut [f64]) {
    let n = s.len();
    let mut acc = A::default();
    out[0] = 0.0;
    for b in 1..n {
        acc.add((s[b] - s[b - 1]) * f[b]);
        out[b] = acc.value();
    }
    let mut back = A::default();
    for a in (0..n - 1).rev() {
        back.add((s[a + 1] - s[a]) * bwd[a + 1]);
        out[a] -= back.value();
    }
}

/// Mixture advantages of one group (see the module docs).
///
/// Errors: a non-finite reward, `N < 2`, a term with `k > N - 1`, an advantage beyond `T`.
pub fn mixture_advantages<T: Reward>(rewards: &[T], mix: &Mixture) -> Result<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    mixture_advantages_into(rewards, mix, &mut out)?;
    Ok(out)
}

/// [`mixture_advantages`] into a caller buffer of the same length.
pub fn mixture_advantages_into<T: Reward>(rewards: &[T], mix: &Mixture, out: &mut [T]) -> Result<()> {
    check_output(out.len(), rewards.len())?;
    MixtureWorkspace::check(rewards, mix)?;
    MixtureWorkspace::default().compute(rewards, mix, out)
}

/// Mixture advantages of a dense batch `[G, group_size]`, in parallel over groups.
pub fn batch_mixture_advantages<T: Reward>(
    rewards: &[T],
    group_size: usize,
    mix: &Mixture,
) -> Result<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    compute_groups(rewards, Groups::dense(rewards.len(), group_size)?, mix, &mut out)?;
    Ok(out)
}

/// Mixture advantages of ragged groups: group `g` is `rewards[offsets[g]..offsets[g + 1]]`.
pub fn ragged_mixture_advantages<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    mix: &Mixture,
) -> Result<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    ragged_mixture_advantages_into(rewards, offsets, mix, &mut out)?;
    Ok(out)
}

/// [`ragged_mixture_advantages`] into a caller buffer; nothing is written on error.
pub fn ragged_mixture_advantages_into<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    mix: &Mixture,
    out: &mut [T],
) -> Result<()> {
    let groups = Groups::ragged(offsets, rewards.len())?;
    check_output(out.len(), rewards.len())?;
    // Compute into a scratch buffer so that an overflow in a late group leaves `out` untouched.
    let mut tmp = vec![T::from_f64(0.0); rewards.len()];
    compute_groups(rewards, groups, mix, &mut tmp)?;
    out.copy_from_slice(&tmp);
    Ok(())
}

/// Every group checked, then computed in parallel into `out` (which an overflow found in
/// the computation leaves partly written).
fn compute_groups<T: Reward>(rewards: &[T], groups: Groups<'_>, mix: &Mixture, out: &mut [T]) -> Result<()> {
    groups.check(|_, s| MixtureWorkspace::check(&rewards[s], mix))?;
    groups.run(out, MixtureWorkspace::default, |ws, _, s, o| ws.compute(&rewards[s], mix, o))
}

/// Mixture advantages where sample `i` belongs to group `group_ids[i]` (as verl's `uid`);
/// output in the input order, errors name the group by its id.
pub fn grouped_mixture_advantages<T: Reward>(
    rewards: &[T],
    group_ids: &[u64],
    mix: &Mixture,
) -> Result<Vec<T>> {
    check_ids(group_ids, rewards.len())?;
    let grouping = Grouping::by_id(group_ids);
    let tmp = ragged_mixture_advantages(&grouping.gather(rewards), &grouping.offsets, mix)
        .map_err(|e| grouping.name_group(e, group_ids))?;
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    grouping.scatter(&tmp, &mut out);
    Ok(out)
}
