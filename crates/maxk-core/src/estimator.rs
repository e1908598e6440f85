//! The estimator registry: one enum, one string id per estimator, used unchanged by the CLI
//! flag, the Python API and the framework adapters.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Every advantage estimator maxk implements.
///
/// The ids (`Display`/`FromStr`) are a public contract. In the basis of `u_i`, `v_i`, `w_i`
/// (see the crate docs and `docs/MATH.md`):
///
/// | id | advantage A_i | source |
/// |---|---|---|
/// | `pkpo` | (K/N) u_i | PKPO eq. 19 |
/// | `pkpo-loo` | (K/N) u_i - (K/(N-1)) v_i | PKPO eq. 29 |
/// | `pkpo-loo1` | (K/N)(u_i - w_i) | PKPO eq. 33 |
/// | `ei` | u_i - w_i | MaxPO paper, expected improvement |
/// | `maxpo` | u_i - v_i = EI_i - L2O_i | MaxPO paper (EI + Leave-Two-Out) |
/// | `canonical` | (K/N)(u_i - v_i) = rho(B) - rho(B\i) | MaxPO paper, canonical form |
/// | `rloo` | r_i - mean of the others | Kool et al. 2019 |
/// | `dr-grpo` | r_i - mean r | Liu et al. 2025 |
/// | `grpo` | (r_i - mean r)/(std r + 1e-6) | Shao et al. 2024, as verl |
/// | `best-minus-second` | best sample r_max - r_second, others 0 | arXiv 2503.19595 |
/// | `passk-analytic` | Chen et al. closed form, binary | arXiv 2508.10751 |
/// | `maxrl` | (r_i - mean r)/mean r, 0 when mean r = 0, binary | arXiv 2602.02710 |
/// | `bon-mean` | PKPO s standardised per group: (s_i - mean s)/(std s + 1e-6) | Bagirov et al. 2025 |
/// | `rs-grpo` | (1/beta)(e^{beta r_i}/mean_j e^{beta r_j} - 1), beta = 2 | arXiv 2509.24261 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Estimator {
    /// PKPO `s_i = (K/N) u_i` (Walder & Karkhanis 2025, eq. 19). 1 <= K <= N.
    Pkpo,
    /// PKPO leave-one-out `s^(loo)_i = (K/N) u_i - (K/(N-1)) v_i` (eq. 29). 1 <= K <= N-1.
    PkpoLoo,
    /// PKPO `s^(loo-1)_i = (K/N)(u_i - w_i) = (K/N) EI_i` (eq. 33); never negative for K >= 2,
    /// `r_i / N` at K = 1. 1 <= K <= N.
    PkpoLoo1,
    /// Expected improvement `EI_i = u_i - w_i`: mean over (K-1)-subsets S of the others of
    /// `max(0, r_i - max S)`; never negative for K >= 2. At K = 1 there are no comparators and
    /// `EI_i = r_i` (negative for negative rewards). 1 <= K <= N.
    Ei,
    /// MaxPO `EI_i - L2O_i = u_i - v_i = (N/K)(rho(B) - rho(B\i))`: sums to zero. 1 <= K <= N-1.
    Maxpo,
    /// Canonical finite-batch advantage `rho(B) - rho(B\i) = (K/N)(u_i - v_i)`. 1 <= K <= N-1.
    Canonical,
    /// RLOO `r_i - mean_{j != i} r_j` (MaxPO at K = 1). K unused, N >= 2.
    Rloo,
    /// Dr. GRPO `r_i - mean r`. K unused.
    DrGrpo,
    /// GRPO `(r_i - mean r) / (std r + 1e-6)`, unbiased std, as verl. K unused. An all-equal
    /// group, a singleton included, gets exactly 0 (verl gives a singleton its reward).
    Grpo,
    /// verl's `grpo_passk`: only the best sample gets `r_max - r_second_max`. K unused, N >= 2.
    BestMinusSecond,
    /// Chen et al. 2025 analytic pass@K advantage for binary rewards. 1 <= K <= N.
    PasskAnalytic,
    /// MaxRL (maximum-likelihood RL, arXiv 2602.02710) for binary rewards:
    /// `A_i = (r_i - mean r) / mean r = N r_i / c - 1` with `c` correct samples out of N, and 0
    /// for every sample when `c = 0`. Sums to zero. `E[sum_i A_i grad log pi(y_i)] =
    /// N grad sum_{k=1..=N-1} pass@k / k`: unbiased (times 1/N) for the maximum-likelihood
    /// objective `log pass@1 = -sum_{k>=1} (1 - p)^k / k` truncated after N - 1 terms (the
    /// zero for `c = 0` costs the N-th term), not for `grad J_K` at any K nor for `grad J_1`
    /// (`tests/unbiasedness.rs` checks all three by enumeration). K unused, N >= 1.
    Maxrl,
    /// "BoN mean" (Bagirov et al. 2025): PKPO's `s_i = (K/N) u_i` standardised per group,
    /// `(s_i - mean s) / (std s + 1e-6)` (unbiased std, as GRPO); 0 when every s is equal
    /// (always at K = N). Centered; biased for `grad J_K` at every fixed scale
    /// (`tests/unbiasedness.rs`). 1 <= K <= N.
    BonMean,
    /// Risk-seeking GRPO (Jiang et al. 2025, arXiv 2509.24261):
    /// `A_i = (1/beta)(e^{beta r_i} / mean_j e^{beta r_j} - 1)` with `beta = 2`
    /// ([`crate::RS_GRPO_BETA`]), for `J_RS = (1/beta) log E[e^{beta R}]`. Centered; biased
    /// for `grad J_RS`, `grad J_1` and `grad J_K` (`tests/unbiasedness.rs`). K unused.
    RsGrpo,
}

impl Estimator {
    /// Every estimator, in registry order.
    pub const ALL: [Estimator; 14] = [
        Estimator::Pkpo,
        Estimator::PkpoLoo,
        Estimator::PkpoLoo1,
        Estimator::Ei,
        Estimator::Maxpo,
        Estimator::Canonical,
        Estimator::Rloo,
        Estimator::DrGrpo,
        Estimator::Grpo,
        Estimator::BestMinusSecond,
        Estimator::PasskAnalytic,
        Estimator::Maxrl,
        Estimator::BonMean,
        Estimator::RsGrpo,
    ];

    /// The string id (CLI flag value, Python name, verl `adv_estimator`).
    pub const fn id(self) -> &'static str {
        match self {
            Estimator::Pkpo => "pkpo",
            Estimator::PkpoLoo => "pkpo-loo",
            Estimator::PkpoLoo1 => "pkpo-loo1",
            Estimator::Ei => "ei",
            Estimator::Maxpo => "maxpo",
            Estimator::Canonical => "canonical",
            Estimator::Rloo => "rloo",
            Estimator::DrGrpo => "dr-grpo",
            Estimator::Grpo => "grpo",
            Estimator::BestMinusSecond => "best-minus-second",
            Estimator::PasskAnalytic => "passk-analytic",
            Estimator::Maxrl => "maxrl",
            Estimator::BonMean => "bon-mean",
            Estimator::RsGrpo => "rs-grpo",
        }
    }

    /// One-line description for `maxk estimators` and `maxk.estimators()`.
    pub const fn description(self) -> &'static str {
        match self {
            Estimator::Pkpo => {
                "PKPO s_i = (K/N) u_i: unbiased max@K weights, not centered (arXiv 2505.15201 eq. 19)"
            }
            Estimator::PkpoLoo => "PKPO leave-one-out s^(loo): (K/N) u_i - (K/(N-1)) v_i (eq. 29)",
            Estimator::PkpoLoo1 => {
                "PKPO s^(loo-1) = (K/N) EI_i: unbiased, not centered, never negative for K >= 2 (r_i/N at K = 1) (eq. 33)"
            }
            Estimator::Ei => {
                "expected improvement EI_i of sample i over the best of K-1 others: never negative for K >= 2, r_i at K = 1 (arXiv 2606.06080)"
            }
            Estimator::Maxpo => {
                "MaxPO = EI - Leave-Two-Out baseline: unbiased, sums to exactly 0 (arXiv 2606.06080)"
            }
            Estimator::Canonical => {
                "canonical advantage rho(B) - rho(B without i) = (K/N) maxpo, PG-unbiased scale (arXiv 2606.06080)"
            }
            Estimator::Rloo => "RLOO r_i - mean of the others (= maxpo at K=1)",
            Estimator::DrGrpo => "Dr. GRPO r_i - mean r",
            Estimator::Grpo => "GRPO (r_i - mean r)/(std r + 1e-6) with unbiased std, as verl; biased",
            Estimator::BestMinusSecond => {
                "verl grpo_passk: best sample gets r_max - r_second_max, others 0 (arXiv 2503.19595)"
            }
            Estimator::PasskAnalytic => {
                "Chen et al. analytic pass@K advantage, binary rewards only (arXiv 2508.10751)"
            }
            Estimator::Maxrl => {
                "MaxRL (r_i - mean r)/mean r, 0 if no success: binary rewards, centered, unbiased (x 1/N) for log pass@1 truncated to N-1 terms, not for J_K (arXiv 2602.02710); K unused"
            }
            Estimator::BonMean => {
                "BoN mean: PKPO s standardised per group, (s_i - mean s)/(std s + 1e-6); centered, biased for J_K (Bagirov et al. 2025)"
            }
            Estimator::RsGrpo => {
                "RS-GRPO (1/b)(e^(b r_i)/mean e^(b r) - 1), b = 2: centered, biased for its (1/b) log E e^(bR), J_1 and J_K (arXiv 2509.24261); K unused"
            }
        }
    }

    /// Which K the estimator accepts for a group of N samples.
    pub const fn k_range(self) -> KRange {
        match self {
            Estimator::PkpoLoo | Estimator::Maxpo | Estimator::Canonical => KRange::BelowN,
            Estimator::Rloo
            | Estimator::DrGrpo
            | Estimator::Grpo
            | Estimator::BestMinusSecond
            | Estimator::Maxrl
            | Estimator::RsGrpo => KRange::Unused,
            Estimator::Pkpo
            | Estimator::PkpoLoo1
            | Estimator::Ei
            | Estimator::PasskAnalytic
            | Estimator::BonMean => KRange::UpToN,
        }
    }

    /// The smallest group the estimator accepts: 2 for those that compare a sample with the
    /// others (leave-one-out means, the best-minus-second gap, `K <= N - 1`), else 1.
    pub const fn min_group_size(self) -> usize {
        match self {
            Estimator::Rloo
            | Estimator::BestMinusSecond
            | Estimator::PkpoLoo
            | Estimator::Maxpo
            | Estimator::Canonical => 2,
            _ => 1,
        }
    }

    /// Whether the estimator reads `k` (`rloo`, `dr-grpo`, `grpo`, `best-minus-second` and
    /// `maxrl` ignore it).
    pub const fn uses_k(self) -> bool {
        !matches!(self.k_range(), KRange::Unused)
    }

    /// Whether `sum_i A_i grad log pi(y_i)`, times [`Estimator::pg_factor`], is an unbiased
    /// estimate of `grad J_K` (of `grad J_1`, the mean reward, for the estimators that ignore K).
    /// `maxrl` is not: it is unbiased for another objective, the truncated log-likelihood
    /// (see [`Estimator::Maxrl`]).
    pub const fn is_unbiased(self) -> bool {
        !matches!(
            self,
            Estimator::Grpo
                | Estimator::BestMinusSecond
                | Estimator::PasskAnalytic
                | Estimator::Maxrl
                | Estimator::BonMean
                | Estimator::RsGrpo
        )
    }

    /// The degree d with `A(c r) = c^d A(r)` for every `c > 0`: 1 for most estimators, 0 for
    /// those that divide by the group's own std (`grpo`, `bon-mean`, up to their 1e-6), `None`
    /// for `rs-grpo` (exponential in the rewards). `Scale::Std` makes any degree 0.
    pub const fn homogeneity(self) -> Option<u32> {
        match self {
            Estimator::Grpo | Estimator::BonMean => Some(0),
            Estimator::RsGrpo => None,
            _ => Some(1),
        }
    }

    /// Whether the estimator needs binary (0/1) rewards.
    pub const fn needs_binary(self) -> bool {
        matches!(self, Estimator::PasskAnalytic | Estimator::Maxrl)
    }

    /// Whether the group's advantages sum to exactly zero (up to rounding) for every group.
    pub const fn is_centered(self) -> bool {
        matches!(
            self,
            Estimator::Maxpo
                | Estimator::Canonical
                | Estimator::Rloo
                | Estimator::DrGrpo
                | Estimator::Grpo
                | Estimator::PasskAnalytic
                | Estimator::Maxrl
                | Estimator::BonMean
                | Estimator::RsGrpo
        )
    }

    /// [`Estimator::pg_factor`] as a formula in N and K, for tables (`maxk estimators`).
    pub const fn pg_factor_formula(self) -> &'static str {
        match self {
            Estimator::Pkpo | Estimator::PkpoLoo | Estimator::PkpoLoo1 | Estimator::Canonical => "1",
            Estimator::Ei | Estimator::Maxpo => "K/N",
            Estimator::Rloo => "1/N",
            Estimator::DrGrpo | Estimator::Grpo => "1/(N-1)",
            Estimator::PasskAnalytic => "K/(N-K)",
            Estimator::BestMinusSecond => "1",
            Estimator::Maxrl => "1/N",
            Estimator::BonMean => "1",
            Estimator::RsGrpo => "1/N",
        }
    }

    /// The objective whose policy gradient the estimator targets: `J_K` (max@K), or `J_1`
    /// (the mean reward) for the estimators that ignore K.
    pub const fn objective(self) -> &'static str {
        if self.uses_k() { "J_K" } else { "J_1" }
    }

    /// Checks that a group of size `n` and this `k` are valid for the estimator.
    ///
    /// Errors: [`Error::EmptyGroup`] for `n = 0`, [`Error::GroupTooSmall`] when the estimator
    /// needs several samples, [`Error::KOutOfRange`] when `k` is outside [`Estimator::k_range`].
    pub fn validate(self, n: usize, k: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::EmptyGroup);
        }
        if k == 0 {
            return Err(Error::k_range(self, n, k));
        }
        let min_n = self.min_group_size();
        if n < min_n {
            return Err(Error::GroupTooSmall { estimator: self.id(), n, min: min_n });
        }
        if k > self.k_range().max(n) {
            return Err(Error::k_range(self, n, k));
        }
        Ok(())
    }

    /// The factor `c` that makes `c * sum_i A_i grad log pi(y_i)` an unbiased estimate of the
    /// policy gradient of the estimator's objective (`J_K`, or `J_1` for the peers that ignore
    /// K), for a group of size `n` (docs/MATH.md, "Estimators in one basis"). This is the one
    /// convention of the whole project: "PG-unbiased, times c" means multiply the advantages
    /// by c (equivalently, their expected gradient is `grad J / c`; for maxpo `(N/K) grad J_K`).
    ///
    /// `ei`, `maxpo`: K/N. `pkpo*`, `canonical`: 1. `rloo`: 1/N. `dr-grpo`: 1/(N-1).
    /// Biased estimators have no such factor; they get the factor of their unbiased twin so that
    /// comparisons put them on one footing: `grpo` that of `dr-grpo`, `passk-analytic`
    /// `K/(N-K)` (it is `(N-K)/N` times maxpo before its division by sigma), `best-minus-second` 1.
    /// `maxrl`: 1/N, which makes it unbiased for the gradient of its own objective
    /// `sum_{k=1..=N-1} pass@k / k` (not of `J_K`).
    pub fn pg_factor(self, n: usize, k: usize) -> f64 {
        let (n, kf) = (n as f64, k as f64);
        match self {
            Estimator::Pkpo | Estimator::PkpoLoo | Estimator::PkpoLoo1 | Estimator::Canonical => 1.0,
            Estimator::Ei | Estimator::Maxpo => kf / n,
            Estimator::Rloo => 1.0 / n,
            Estimator::DrGrpo | Estimator::Grpo => {
                if n > 1.0 {
                    1.0 / (n - 1.0)
                } else {
                    1.0
                }
            }
            Estimator::PasskAnalytic => {
                if n > kf {
                    kf / (n - kf)
                } else {
                    1.0
                }
            }
            Estimator::BestMinusSecond => 1.0,
            Estimator::Maxrl => 1.0 / n,
            Estimator::BonMean => 1.0,
            Estimator::RsGrpo => 1.0 / n,
        }
    }

    /// Comma-separated list of every id, for error messages and help texts.
    pub fn known_ids() -> String {
        Estimator::ALL.iter().map(|e| e.id()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Estimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Estimator {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Estimator::ALL
            .into_iter()
            .find(|e| e.id() == s)
            .ok_or_else(|| Error::UnknownEstimator { name: s.to_string(), known: Estimator::known_ids() })
    }
}

/// The K an estimator accepts for a group of N samples ([`Estimator::k_range`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KRange {
    /// `1 <= K <= N`.
    UpToN,
    /// `1 <= K <= N - 1` (the estimator needs a sample outside every K-subset).
    BelowN,
    /// K is not used; any `K >= 1` is accepted.
    Unused,
}

impl KRange {
    /// The largest valid K for a group of `n` samples.
    pub const fn max(self, n: usize) -> usize {
        match self {
            KRange::UpToN => n,
            KRange::BelowN => n.saturating_sub(1),
            KRange::Unused => usize::MAX,
        }
    }

    /// The range as text, as error messages and `maxk estimators` print it.
    pub const fn requirement(self) -> &'static str {
        match self {
            KRange::UpToN => "1 <= k <= N",
            KRange::BelowN => "1 <= k <= N - 1",
            KRange::Unused => "k >= 1, unused",
        }
    }
}

/// How a group's advantages are rescaled after the estimator (`--scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scale {
    /// Leave the advantages as the estimator defines them.
    #[default]
    None,
    /// Divide by the group's unbiased reward std + 1e-6 (as GRPO); a group whose rewards are all
    /// exactly equal (or of size 1) is left unscaled instead of being divided by 1e-6.
    /// `dr-grpo` with `std` equals `grpo`.
    Std,
    /// Multiply by [`Estimator::pg_factor`], the PG-unbiased scale.
    Pg,
}

impl Scale {
    /// Every scale, in registry order.
    pub const ALL: [Scale; 3] = [Scale::None, Scale::Std, Scale::Pg];

    /// The string id.
    pub const fn id(self) -> &'static str {
        match self {
            Scale::None => "none",
            Scale::Std => "std",
            Scale::Pg => "pg",
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Scale {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Scale::ALL
            .into_iter()
            .find(|e| e.id() == s)
            .ok_or_else(|| Error::UnknownScale { name: s.to_string() })
    }
}

/// What to compute for a group: estimator, K and scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spec {
    /// The estimator.
    pub estimator: Estimator,
    /// K of max@K (ignored by estimators whose [`Estimator::uses_k`] is false, but must be >= 1).
    pub k: usize,
    /// Post-estimator scaling.
    pub scale: Scale,
}

impl Spec {
    /// `estimator` at `k`, no scaling.
    pub const fn new(estimator: Estimator, k: usize) -> Spec {
        Spec { estimator, k, scale: Scale::None }
    }

    /// The same spec with another scale.
    pub const fn with_scale(self, scale: Scale) -> Spec {
        Spec { scale, ..self }
    }
}
