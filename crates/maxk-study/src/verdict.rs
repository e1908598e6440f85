//! The verdict rules: pure functions from measured intervals (or test statistics) to a typed
//! verdict. Nothing here reads files, ids or configs; a study gathers its typed results and
//! calls these, and its report prints each rule's `RULE_*` text next to the verdict it
//! decided, so the rule a reader sees is the rule that ran.
//!
//! Two verdict types:
//! - [`Verdict`], a claim decided over several comparisons ([`majority`], [`unbiased`],
//!   [`detects`], [`centered`]): the synthetic experiments' claims.
//! - [`Outcome`], one paired difference "a - b > 0" decided by its interval ([`difference`])
//!   or by a p-value adjusted for a family of comparisons ([`adjusted`]): the trainer's model
//!   comparisons.
//!
//! Conventions shared by every rule: an interval is a 95% interval ([`Ci`], [`Paired`]);
//! "above x" means `lo > x` and "below x" means `hi < x` (strict, so an interval touching x
//! decides nothing); no comparison at all gives [`Verdict::NotRun`].

use std::fmt;

use serde::Serialize;

use crate::stats::{Ci, Paired};

/// A claim's verdict. `Display` writes the id (`confirmed`, `refuted`, `mixed`, `not-run`),
/// as serialised, padded to the width asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The data support the claim under its rule.
    Confirmed,
    /// The data significantly contradict it under its rule.
    Refuted,
    /// Neither: some comparisons hold, others are inconclusive or go the other way.
    Mixed,
    /// The experiment (or an estimator it needs) was not run.
    NotRun,
}

impl Verdict {
    /// The id, as serialised.
    pub fn id(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Refuted => "refuted",
            Verdict::Mixed => "mixed",
            Verdict::NotRun => "not-run",
        }
    }

    /// The word used in a Markdown report (bold when decided).
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Confirmed => "**confirmed**",
            Verdict::Refuted => "**refuted**",
            Verdict::Mixed => "**mixed**",
            Verdict::NotRun => "not run",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

/// The verdict on one paired difference `a - b`, read as the claim "a is higher".
/// `Display` writes `holds`, `does not hold` or `inconclusive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// a is significantly higher.
    Holds,
    /// a is significantly lower.
    DoesNotHold,
    /// No significant difference.
    Inconclusive,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Outcome::Holds => "holds",
            Outcome::DoesNotHold => "does not hold",
            Outcome::Inconclusive => "inconclusive",
        })
    }
}

/// [`difference`] in words.
pub const RULE_DIFFERENCE: &str = "holds when the 95% interval of the difference lies strictly above 0, does not \
     hold when it lies strictly below 0, inconclusive otherwise (also when the interval is not finite)";

/// The 95% interval of `a - b` against 0: [`RULE_DIFFERENCE`].
pub fn difference(i: Paired) -> Outcome {
    if !i.half.is_finite() {
        Outcome::Inconclusive
    } else if i.lo() > 0.0 {
        Outcome::Holds
    } else if i.hi() < 0.0 {
        Outcome::DoesNotHold
    } else {
        Outcome::Inconclusive
    }
}

/// Family-wise significance level of [`adjusted`].
pub const ALPHA: f64 = 0.05;

/// [`adjusted`] in words.
pub const RULE_ADJUSTED: &str = "significant when the p-value adjusted for the family of comparisons (Holm or \
     Bonferroni) is below 0.05: holds when the mean difference is above 0, does not hold otherwise; inconclusive when \
     not significant (also for a NaN p-value)";

/// One comparison of a family: its mean difference `a - b` and its p-value adjusted over the
/// family ([`crate::stats::holm`], [`crate::stats::bonferroni`]): [`RULE_ADJUSTED`].
pub fn adjusted(mean: f64, p_adjusted: f64) -> Outcome {
    match (p_adjusted < ALPHA, mean > 0.0) {
        (false, _) => Outcome::Inconclusive,
        (true, true) => Outcome::Holds,
        (true, false) => Outcome::DoesNotHold,
    }
}

/// z (|bias| in noise floors) above which a bias is declared. An unbiased estimator's z is
/// about 1; with pooled Gaussian noise, z > 3 has probability below 0.3% in every dimension.
pub const BIAS_Z: f64 = 3.0;
/// z from which an estimator expected to be unbiased refutes the unbiasedness claim.
pub const REFUTE_Z: f64 = 5.0;
/// Largest `|sum_i A_i| / max_i |A_i|` accepted as "exactly zero" (rounding only).
pub const CENTERED_TOL: f64 = 1e-9;

/// [`majority`] in words.
pub const RULE_MAJORITY: &str = "confirmed when more than half of the 95% intervals lie strictly above the null value \
     and none strictly below it; refuted when more than half lie strictly below it and none strictly above it; \
     mixed otherwise; not run when there is no comparison (symmetric: mirroring every interval about the null swaps \
     confirmed and refuted; with one interval: above confirms, below refutes)";

/// Counts of intervals above and below `null`, then [`RULE_MAJORITY`].
pub fn majority(intervals: &[Ci], null: f64) -> Verdict {
    let n = intervals.len();
    let above = intervals.iter().filter(|c| c.above(null)).count();
    let below = intervals.iter().filter(|c| c.below(null)).count();
    if n == 0 {
        Verdict::NotRun
    } else if below == 0 && 2 * above > n {
        Verdict::Confirmed
    } else if above == 0 && 2 * below > n {
        Verdict::Refuted
    } else {
        Verdict::Mixed
    }
}

/// [`unbiased`] in words.
pub const RULE_UNBIASED: &str = "confirmed when every estimator expected to be unbiased has bias z < 3 (noise floors) \
     both for the full gradient and for its direction; refuted when one has z >= 5 in either; mixed otherwise; not \
     run when there is none";

/// `z` holds the bias statistics (full and direction) of the estimators expected to be
/// unbiased: all below [`BIAS_Z`] -> confirmed, any at or above [`REFUTE_Z`] -> refuted.
pub fn unbiased(z: &[f64]) -> Verdict {
    if z.is_empty() {
        Verdict::NotRun
    } else if z.iter().any(|z| !z.is_finite() || *z >= REFUTE_Z) {
        Verdict::Refuted
    } else if z.iter().all(|z| *z < BIAS_Z) {
        Verdict::Confirmed
    } else {
        Verdict::Mixed
    }
}

/// [`detects`] in words.
pub const RULE_DETECTS: &str = "confirmed when every biased control has a direction bias z > 3 (noise floors); refuted \
     when none has; mixed otherwise; not run when there is no control";

/// `z` holds the direction-bias statistics of the biased controls: all above [`BIAS_Z`] ->
/// confirmed (the test has power against each), none -> refuted, some -> mixed.
pub fn detects(z: &[f64]) -> Verdict {
    let hits = z.iter().filter(|z| **z > BIAS_Z).count();
    if z.is_empty() {
        Verdict::NotRun
    } else if hits == z.len() {
        Verdict::Confirmed
    } else if hits == 0 {
        Verdict::Refuted
    } else {
        Verdict::Mixed
    }
}

/// [`centered`] in words.
pub const RULE_CENTERED: &str = "confirmed when every centered estimator has max |sum A_i| / max |A_i| <= 1e-9 over \
     every batch and raw EI's mean sum is > 0; refuted otherwise; not run when no centered estimator was measured";

/// `worst` holds the largest relative group sum of each estimator claimed to be centered;
/// `ei_mean` the mean relative sum of raw EI when it was run.
pub fn centered(worst: &[f64], ei_mean: Option<f64>) -> Verdict {
    if worst.is_empty() {
        Verdict::NotRun
    } else if worst.iter().all(|w| *w <= CENTERED_TOL) && ei_mean.is_none_or(|m| m > 0.0) {
        Verdict::Confirmed
    } else {
        Verdict::Refuted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(lo: f64, hi: f64) -> Ci {
        Ci { mean: 0.5 * (lo + hi), lo, hi, n: 8 }
    }

    #[test]
    fn majority_edge_cases() {
        assert_eq!(majority(&[], 1.0), Verdict::NotRun);
        let up = ci(1.1, 1.2);
        let down = ci(0.8, 0.9);
        let tie = ci(0.9, 1.1);
        assert_eq!(majority(&[up, up, up], 1.0), Verdict::Confirmed);
        assert_eq!(majority(&[up, up, tie], 1.0), Verdict::Confirmed);
        assert_eq!(majority(&[up, tie, tie], 1.0), Verdict::Mixed); // half or less above
        assert_eq!(majority(&[up, up, down], 1.0), Verdict::Mixed); // one significantly worse
        assert_eq!(majority(&[down, down, tie], 1.0), Verdict::Refuted);
        assert_eq!(majority(&[up, down, down], 1.0), Verdict::Mixed); // one significantly better
        assert_eq!(majority(&[down, down], 1.0), Verdict::Refuted);
        assert_eq!(majority(&[tie, tie], 1.0), Verdict::Mixed);
        assert_eq!(majority(&[up, down], 1.0), Verdict::Mixed);
        // One interval: above confirms, below refutes; touching the null decides nothing.
        assert_eq!(majority(&[ci(0.1, 0.2)], 0.0), Verdict::Confirmed);
        assert_eq!(majority(&[ci(-0.2, -0.1)], 0.0), Verdict::Refuted);
        assert_eq!(majority(&[ci(0.0, 0.3)], 0.0), Verdict::Mixed);
        assert_eq!(majority(&[ci(1.2, 1.2)], 1.0), Verdict::Confirmed);
        assert_eq!(majority(&[ci(0.9, 0.9)], 1.0), Verdict::Refuted);
    }

    #[test]
    fn majority_is_symmetric_under_mirroring() {
        // Every combination of up to 4 intervals from {above, below, straddling}: mirroring
        // every interval about the null swaps confirmed and refuted and keeps the rest.
        let kinds = [ci(0.1, 0.3), ci(-0.3, -0.1), ci(-0.1, 0.2)];
        let mirror = |c: &Ci| ci(-c.hi, -c.lo);
        for len in 1..=4u32 {
            for code in 0..3usize.pow(len) {
                let v: Vec<Ci> = (0..len).map(|i| kinds[code / 3usize.pow(i) % 3]).collect();
                let m: Vec<Ci> = v.iter().map(mirror).collect();
                let want = match majority(&v, 0.0) {
                    Verdict::Confirmed => Verdict::Refuted,
                    Verdict::Refuted => Verdict::Confirmed,
                    other => other,
                };
                assert_eq!(majority(&m, 0.0), want, "{v:?}");
            }
        }
    }

    #[test]
    fn unbiased_edge_cases() {
        assert_eq!(unbiased(&[]), Verdict::NotRun);
        assert_eq!(unbiased(&[0.5, 1.2, 2.99]), Verdict::Confirmed);
        assert_eq!(unbiased(&[0.5, 3.0]), Verdict::Mixed); // at the threshold: declared biased
        assert_eq!(unbiased(&[0.5, 4.9]), Verdict::Mixed);
        assert_eq!(unbiased(&[0.5, 5.0]), Verdict::Refuted);
        assert_eq!(unbiased(&[0.5, f64::NAN]), Verdict::Refuted); // never silently pass
        assert_eq!(unbiased(&[9.0, 9.0]), Verdict::Refuted); // all worse
    }

    #[test]
    fn detects_edge_cases() {
        assert_eq!(detects(&[]), Verdict::NotRun);
        assert_eq!(detects(&[3.5, 40.0]), Verdict::Confirmed);
        assert_eq!(detects(&[3.5, 1.0]), Verdict::Mixed);
        assert_eq!(detects(&[3.0, 1.0]), Verdict::Refuted); // z = 3 is not a detection
        assert_eq!(detects(&[f64::NAN]), Verdict::Refuted);
    }

    #[test]
    fn centered_edge_cases() {
        assert_eq!(centered(&[], Some(1.0)), Verdict::NotRun);
        assert_eq!(centered(&[1e-15, 1e-9], Some(2.0)), Verdict::Confirmed);
        assert_eq!(centered(&[1e-15], None), Verdict::Confirmed);
        assert_eq!(centered(&[1e-15, 2e-9], Some(2.0)), Verdict::Refuted);
        assert_eq!(centered(&[1e-15], Some(0.0)), Verdict::Refuted);
    }

    #[test]
    fn ids_and_words() {
        assert_eq!(Verdict::NotRun.to_string(), "not-run");
        assert_eq!(format!("[{:<9}]", Verdict::Mixed), "[mixed    ]"); // pads, for tables
        assert_eq!(Verdict::Confirmed.word(), "**confirmed**");
        for v in [Verdict::Confirmed, Verdict::Refuted, Verdict::Mixed, Verdict::NotRun] {
            assert_eq!(toml::Value::try_from(v).unwrap(), toml::Value::String(v.id().into()));
        }
        assert_eq!(Outcome::DoesNotHold.to_string(), "does not hold");
    }

    #[test]
    fn difference_edge_cases() {
        let p = |mean, half| Paired { mean, half, seeds: 4 };
        assert_eq!(difference(p(0.2, 0.1)), Outcome::Holds);
        assert_eq!(difference(p(-0.2, 0.1)), Outcome::DoesNotHold);
        assert_eq!(difference(p(0.1, 0.1)), Outcome::Inconclusive); // touching 0 decides nothing
        assert_eq!(difference(p(0.1, f64::NAN)), Outcome::Inconclusive);
        assert_eq!(difference(p(0.1, f64::INFINITY)), Outcome::Inconclusive);
        assert_eq!(difference(p(0.1, 0.0)), Outcome::Holds);
    }

    #[test]
    fn adjusted_edge_cases() {
        assert_eq!(adjusted(0.1, 0.01), Outcome::Holds);
        assert_eq!(adjusted(-0.1, 0.01), Outcome::DoesNotHold);
        assert_eq!(adjusted(0.0, 0.01), Outcome::DoesNotHold);
        assert_eq!(adjusted(0.1, 0.05), Outcome::Inconclusive); // p = alpha is not below it
        assert_eq!(adjusted(0.1, f64::NAN), Outcome::Inconclusive);
    }
}
