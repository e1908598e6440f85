//! Planning a run before it starts (`maxk plan`, `maxk.plan`): for binary rewards with success
//! rate p per prompt (or a list of per-prompt rates from a previous run), group size N and K,
//!
//! - the expected share of groups that carry a signal, `1 - p^N - (1-p)^N` averaged over the
//!   prompts (an all-correct or all-wrong group gets zero advantages from every centered
//!   estimator);
//! - the exact `Var(EI) / Var(MaxPO)` of the batch gradient at the PG scale, from the
//!   binary-reward formula of [`crate::exact_variance`] that the experiments use (prompts are
//!   independent, so their variances add: the ratio of the sums over the prompts);
//! - the smallest N whose informative share reaches a target.

use crate::error::{Error, Result};
use crate::estimator::{Estimator, Scale, Spec};
use crate::exact_variance::{TwoClass, moments};

/// The largest N [`smallest_n`] searches.
pub const MAX_PLAN_N: usize = 1 << 24;

/// What `maxk plan` reports for one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Group size N.
    pub n: usize,
    /// K.
    pub k: usize,
    /// Number of prompts (rates).
    pub prompts: usize,
    /// Mean success rate.
    pub mean_rate: f64,
    /// Expected share of informative groups (`0 < c < N`).
    pub informative_share: f64,
    /// The largest share any N can reach: the share of prompts with `0 < p < 1`.
    pub informative_limit: f64,
    /// `Var(EI) / Var(MaxPO)` at the PG scale (`> 1`: the Leave-Two-Out baseline lowers the
    /// variance); `None` when no prompt has `0 < p < 1` (both are 0).
    pub var_ratio: Option<f64>,
    /// Total `tr Cov` of the batch gradient of EI and of MaxPO, summed over the prompts.
    pub var_ei: f64,
    /// See `var_ei`.
    pub var_maxpo: f64,
    /// The target informative share asked for, if any.
    pub target: Option<f64>,
    /// The smallest N reaching `target` (`None`: unreachable, above `informative_limit`).
    pub smallest_n: Option<usize>,
}

/// Probability that a group of `n` samples at success rate `p` is neither all correct nor all
/// wrong: `1 - p^n - (1-p)^n`.
pub fn informative_share(p: f64, n: usize) -> f64 {
    let n = n as i32;
    (1.0 - p.powi(n) - (1.0 - p).powi(n)).max(0.0)
}

fn mean_share(rates: &[f64], n: usize) -> f64 {
    rates.iter().map(|&p| informative_share(p, n)).sum::<f64>() / rates.len() as f64
}

fn check_rates(rates: &[f64]) -> Result<()> {
    if rates.is_empty() {
        return Err(Error::InvalidPlan { reason: "no success rate given".into() });
    }
    if let Some((i, p)) = rates.iter().enumerate().find(|(_, p)| !(0.0..=1.0).contains(*p)) {
        return Err(Error::InvalidPlan {
            reason: format!("success rate {i} is {p}, rates must lie in [0, 1]"),
        });
    }
    Ok(())
}

/// The smallest `N >= 2` whose mean informative share over `rates` reaches `target`, or `None`
/// when no N does (the share tends to the fraction of rates in (0, 1)) or none up to
/// [`MAX_PLAN_N`] does.
pub fn smallest_n(rates: &[f64], target: f64) -> Result<Option<usize>> {
    check_rates(rates)?;
    if !(target > 0.0 && target < 1.0) {
        return Err(Error::InvalidPlan { reason: format!("target share is {target}, must lie in (0, 1)") });
    }
    // The share grows with N for every rate: double, then bisect.
    let mut hi = 2;
    while mean_share(rates, hi) < target {
        if hi >= MAX_PLAN_N {
            return Ok(None);
        }
        hi *= 2;
    }
    let mut lo = hi / 2; // share(lo) < target, or lo = 1 (no group of one is informative)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if mean_share(rates, mid) >= target { hi = mid } else { lo = mid }
    }
    Ok(Some(hi.max(2)))
}

/// The plan for `rates` (one per prompt), group size `n` and `k` (`1 <= k <= n - 1`, MaxPO's
/// range), optionally with a `target` informative share. `actions` gives the number of
/// equally likely actions of the experiments' two-class policy ([`TwoClass::uniform`]); `None`
/// is the language-model limit of distinct completions ([`TwoClass::distinct`]).
pub fn plan(rates: &[f64], n: usize, k: usize, target: Option<f64>, actions: Option<usize>) -> Result<Plan> {
    check_rates(rates)?;
    Estimator::Maxpo.validate(n, k)?;
    if let Some(a) = actions
        && a < 2
    {
        return Err(Error::InvalidPlan { reason: format!("{a} actions: need at least 2") });
    }
    let (mut var_ei, mut var_maxpo) = (0.0, 0.0);
    for &p in rates.iter().filter(|&&p| p > 0.0 && p < 1.0) {
        let policy = actions.map_or(TwoClass::distinct(p), |a| TwoClass::uniform(a, p));
        let var = |e| -> Result<f64> {
            let m = moments(&policy, Spec::new(e, k).with_scale(Scale::Pg), n)?;
            Ok(m.map_or(0.0, |m| m.trace_cov))
        };
        var_ei += var(Estimator::Ei)?;
        var_maxpo += var(Estimator::Maxpo)?;
    }
    let informative = rates.iter().filter(|&&p| p > 0.0 && p < 1.0).count();
    let smallest = target.map(|t| smallest_n(rates, t)).transpose()?.flatten();
    Ok(Plan {
        n,
        k,
        prompts: rates.len(),
        mean_rate: rates.iter().sum::<f64>() / rates.len() as f64,
        informative_share: mean_share(rates, n),
        informative_limit: informative as f64 / rates.len() as f64,
        var_ratio: (var_maxpo > 0.0).then(|| var_ei / var_maxpo),
        var_ei,
        var_maxpo,
        target,
        smallest_n: smallest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn informative_share_by_enumeration() {
        // P(0 < c < N) summed over the binomial directly.
        for p in [0.01f64, 0.3, 0.5, 0.97] {
            for n in 1..12 {
                let mut direct = 0.0;
                let mut choose = 1.0;
                for c in 0..=n {
                    if c > 0 {
                        choose = choose * (n - c + 1) as f64 / c as f64;
                    }
                    if c > 0 && c < n {
                        direct += choose * p.powi(c as i32) * (1.0 - p).powi((n - c) as i32);
                    }
                }
                assert!((informative_share(p, n) - direct).abs() < 1e-14, "p={p} n={n}");
            }
        }
    }

    #[test]
    fn smallest_n_is_the_first_n_reaching_the_target() {
        for (rates, target) in
            [(vec![0.05], 0.5), (vec![0.5], 0.9), (vec![0.01, 0.2, 0.9], 0.6), (vec![0.3], 0.4)]
        {
            let n = smallest_n(&rates, target).unwrap().unwrap();
            assert!(mean_share(&rates, n) >= target);
            assert!(n == 2 || mean_share(&rates, n - 1) < target, "{rates:?} {target}: {n}");
        }
        // p = 0.05, target 1/2: 1 - 0.95^N - 0.05^N >= 1/2 first at N = 14 (0.95^13 = 0.513).
        assert_eq!(smallest_n(&[0.05], 0.5).unwrap(), Some(14));
        // Half the prompts are never solved: 60% is out of reach.
        assert_eq!(smallest_n(&[0.0, 0.5], 0.6).unwrap(), None);
        assert_eq!(
            smallest_n(&[0.5, 1.5], 0.5).unwrap_err().to_string(),
            "invalid plan: success rate 1 is 1.5, rates must lie in [0, 1]"
        );
    }

    #[test]
    fn variance_ratio_is_the_experiments_formula() {
        let p = plan(&[0.1], 16, 4, Some(0.9), Some(50)).unwrap();
        let policy = TwoClass::uniform(50, 0.1);
        let v = |e| moments(&policy, Spec::new(e, 4).with_scale(Scale::Pg), 16).unwrap().unwrap().trace_cov;
        assert_eq!(p.var_ratio, Some(v(Estimator::Ei) / v(Estimator::Maxpo)));
        assert!(p.smallest_n.is_some());
        assert_eq!(plan(&[0.0, 1.0], 8, 2, None, None).unwrap().var_ratio, None);
        assert_eq!(
            plan(&[0.5], 4, 4, None, None).unwrap_err().to_string(),
            "k = 4 is out of range for maxpo with group size 4 (needs 1 <= k <= N - 1)"
        );
    }
}
