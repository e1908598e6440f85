//! What to do with a group that cannot carry the estimator at the requested K.
//!
//! Real batches have such groups: verl pads a short batch with 1-row groups of zero reward,
//! a prompt loses rollouts to failures (N - failures <= K), TRL drops completions no reward
//! function scored, and K = N (pass@n with n rollouts, verl's `grpo_passk` setting) is outside
//! MaxPO's range `1 <= K <= N - 1` because its Leave-Two-Out baseline needs K others.
//! [`SmallGroups`] names the rule; [`plan`] applies it to one group and the `*_with` batch
//! functions apply it to every group and count what they did ([`SmallGroupCounts`]), so the
//! decision is never silent.
//!
//! A group "cannot carry the estimator" when [`Estimator::validate`] rejects its size for K
//! (K out of range, or fewer samples than the estimator needs). Every other error (NaN, a
//! non-binary reward for a binary estimator, K = 0, bad offsets) stays an error under every
//! rule: those are bad input, not small groups.
//!
//! ## The rules and what they do to bias and centering
//!
//! | rule | the group gets | bias | centering |
//! |---|---|---|---|
//! | `error` | an error naming the group (the default of the core and the Python API) | - | - |
//! | `zero` | advantage 0 for every sample (verl's GRPO/RLOO give a singleton 0 too) | drops the group's gradient; unbiased for the remaining groups | centered |
//! | `shrink-k` | the estimator at the largest valid K' < K (`N - 1` for maxpo, canonical, pkpo-loo; `N` for pkpo, pkpo-loo1, ei, passk-analytic); 0 when there is none (N = 1) | unbiased, but for grad J_{K'}, not grad J_K | as the estimator |
//! | `centered-ei` | for maxpo, canonical, pkpo-loo: `EI_i - mean_j EI_j` at K' = min(K, N) (times K'/N for canonical and pkpo-loo, their PG scale); 0 for a singleton; other estimators: 0 | no longer exactly unbiased: the mean of EI contains EI_i's own term and the others' EI depends on r_i | exactly centered |
//!
//! At K = N, `EI_i = max(0, r_i - max_{j != i} r_j)`: only a strict best sample gets
//! `r_max - r_second` (verl's `best-minus-second`), so `centered-ei` gives it
//! `(N-1)/N (r_max - r_second)` and every other sample `-(r_max - r_second)/N`.
//! `tests/small_groups.rs` checks these statements by exact expectations (the K = N closed form
//! of `centered-ei` included) and random batches; `tests/unbiasedness.rs` checks the bias
//! column by enumeration (`k_equal_n_fallbacks`: `shrink-k` unbiased for grad J_{N-1},
//! `centered-ei` biased for grad J_N).

use std::fmt;
use std::str::FromStr;

use crate::driver::{Grouping, Groups, check_ids};
use crate::error::{Error, Result};
use crate::estimator::{Estimator, Scale, Spec};
use crate::float::Reward;
use crate::group::{Unit, Workspace, max_abs, near_max, std_factor};
use crate::validate::{check_binary, check_finite, check_output};

/// The rule for groups that cannot carry the estimator (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SmallGroups {
    /// Raise an error that names the group.
    #[default]
    Error,
    /// Advantage 0 for every sample of the group.
    Zero,
    /// The estimator at the largest K that the group can carry (0 if none).
    ShrinkK,
    /// Expected improvement minus its group mean at K' = min(K, N), for the L2O family.
    CenteredEi,
}

impl SmallGroups {
    /// Every rule, in registry order.
    pub const ALL: [SmallGroups; 4] =
        [SmallGroups::Error, SmallGroups::Zero, SmallGroups::ShrinkK, SmallGroups::CenteredEi];

    /// The string id (Python `small_groups=`, adapter options).
    pub const fn id(self) -> &'static str {
        match self {
            SmallGroups::Error => "error",
            SmallGroups::Zero => "zero",
            SmallGroups::ShrinkK => "shrink-k",
            SmallGroups::CenteredEi => "centered-ei",
        }
    }

    /// Comma-separated list of every id.
    pub fn known_ids() -> String {
        SmallGroups::ALL.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for SmallGroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for SmallGroups {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        SmallGroups::ALL
            .into_iter()
            .find(|r| r.id() == s)
            .ok_or_else(|| Error::UnknownSmallGroups { name: s.to_string(), known: SmallGroups::known_ids() })
    }
}

/// How one group is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// The estimator as asked.
    Compute,
    /// Every advantage 0 (rule `zero`, or no fallback possible).
    Zero,
    /// The estimator at this smaller K (rule `shrink-k`).
    ShrinkK(usize),
    /// `EI - mean EI` at this K (rule `centered-ei`).
    CenteredEi(usize),
}

/// What the rule did over a batch: groups per decision and the samples in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmallGroupCounts {
    /// Groups given all-zero advantages.
    pub zeroed: usize,
    /// Groups computed at a smaller K.
    pub shrunk: usize,
    /// Groups given the centered-EI fallback.
    pub centered_ei: usize,
    /// Samples in all of those groups.
    pub samples: usize,
}

impl SmallGroupCounts {
    /// Groups the rule handled (zeroed + shrunk + centered-ei).
    pub fn groups(&self) -> usize {
        self.zeroed + self.shrunk + self.centered_ei
    }

    fn add(&mut self, plan: Plan, n: usize) {
        match plan {
            Plan::Compute => return,
            Plan::Zero => self.zeroed += 1,
            Plan::ShrinkK(_) => self.shrunk += 1,
            Plan::CenteredEi(_) => self.centered_ei += 1,
        }
        self.samples += n;
    }
}

/// The largest K the estimator accepts for a group of `n` (None if the group is too small
/// for any K, or the estimator does not read K).
fn largest_valid_k(estimator: Estimator, n: usize) -> Option<usize> {
    if !estimator.uses_k() || n == 0 {
        return None;
    }
    (1..=n).rev().find(|&k| estimator.validate(n, k).is_ok())
}

/// Whether the estimator has the centered-EI fallback (its K range stops at N - 1 because of
/// a leave-one-out or leave-two-out term).
fn has_centered_ei(estimator: Estimator) -> bool {
    matches!(estimator, Estimator::Maxpo | Estimator::Canonical | Estimator::PkpoLoo)
}

/// How a group of `n` samples is computed for `spec` under `rule`.
///
/// Errors: the estimator's own error when `rule` is [`SmallGroups::Error`], and under every
/// rule `k = 0` ([`Error::KOutOfRange`]).
pub fn plan(spec: Spec, n: usize, rule: SmallGroups) -> Result<Plan> {
    let err = match spec.estimator.validate(n, spec.k) {
        Ok(()) => return Ok(Plan::Compute),
        Err(e) => e,
    };
    let small = spec.k >= 1
        && matches!(err, Error::KOutOfRange { .. } | Error::GroupTooSmall { .. } | Error::EmptyGroup);
    if !small {
        return Err(err);
    }
    Ok(match rule {
        SmallGroups::Error => return Err(err),
        SmallGroups::Zero => Plan::Zero,
        SmallGroups::ShrinkK => match largest_valid_k(spec.estimator, n) {
            Some(k) if k < spec.k => Plan::ShrinkK(k),
            _ => Plan::Zero,
        },
        SmallGroups::CenteredEi if has_centered_ei(spec.estimator) && n >= 2 => {
            Plan::CenteredEi(spec.k.min(n))
        }
        SmallGroups::CenteredEi => Plan::Zero,
    })
}

/// Computes one group by its plan into `out` (values already validated).
pub(crate) fn compute_planned<T: Reward>(
    ws: &mut Workspace,
    rewards: &[T],
    spec: Spec,
    plan: Plan,
    out: &mut [T],
) -> Result<()> {
    match plan {
        Plan::Compute => ws.compute(rewards, spec, out),
        Plan::Zero => {
            out.fill(T::from_f64(0.0));
            Ok(())
        }
        Plan::ShrinkK(k) => ws.compute(rewards, Spec { k, ..spec }, out),
        Plan::CenteredEi(k) => centered_ei(ws, rewards, spec, k, out),
    }
}

/// [`Workspace::check_representable`] for a planned group, so that an overflowing advantage
/// is an error before anything is written (only groups near the type's largest value run a
/// trial).
fn check_planned<T: Reward>(ws: &mut Workspace, rewards: &[T], spec: Spec, plan: Plan) -> Result<()> {
    let m = max_abs(rewards);
    if !near_max::<T>(m) {
        return Ok(());
    }
    match plan {
        Plan::Compute => ws.check_representable(rewards, spec, m),
        Plan::ShrinkK(k) => ws.check_representable(rewards, Spec { k, ..spec }, m),
        Plan::Zero => Ok(()),
        Plan::CenteredEi(_) => {
            let mut trial = vec![T::from_f64(0.0); rewards.len()];
            compute_planned(ws, rewards, spec, plan, &mut trial)
        }
    }
}

/// `c (EI_i - mean_j EI_j)` at `k`, with `c` = 1 for maxpo (EI units) and K/N for canonical and
/// pkpo-loo (their PG scale), then `spec.scale`.
fn centered_ei<T: Reward>(
    ws: &mut Workspace,
    rewards: &[T],
    spec: Spec,
    k: usize,
    out: &mut [T],
) -> Result<()> {
    let n = rewards.len();
    let r64: Vec<f64> = rewards.iter().map(|r| r.to_f64()).collect();
    let mut ei = vec![0.0f64; n];
    ws.compute(&r64, Spec::new(Estimator::Ei, k), &mut ei)?;
    let mean = crate::sum::sum(ei.iter().copied()) / n as f64;
    let unit = if spec.estimator == Estimator::Maxpo { 1.0 } else { k as f64 / n as f64 };
    let factor = unit
        * match spec.scale {
            Scale::None => 1.0,
            Scale::Pg => spec.estimator.pg_factor(n, k),
            Scale::Std => std_factor(rewards, Unit::ONE).unwrap_or(1.0),
        };
    for (o, e) in out.iter_mut().zip(&ei) {
        *o = T::from_f64(factor * (e - mean));
    }
    match out.iter().position(|a| !a.to_f64().is_finite()) {
        None => Ok(()),
        Some(index) => Err(Error::advantage_overflow(spec.estimator.id(), index, rewards)),
    }
}

/// Value checks that hold under every rule: finite rewards, binary ones for binary estimators.
fn check_values<T: Reward>(rewards: &[T], spec: Spec) -> Result<()> {
    check_finite(rewards)?;
    check_binary(rewards, spec)
}

/// Plans of every group of a ragged batch, and what the rule did (no writes).
pub fn plan_ragged<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    spec: Spec,
    rule: SmallGroups,
) -> Result<(Vec<Plan>, SmallGroupCounts)> {
    plan_groups(rewards, Groups::ragged(offsets, rewards.len())?, spec, rule)
}

/// [`plan_ragged`] for any split of the batch.
fn plan_groups<T: Reward>(
    rewards: &[T],
    groups: Groups<'_>,
    spec: Spec,
    rule: SmallGroups,
) -> Result<(Vec<Plan>, SmallGroupCounts)> {
    let mut counts = SmallGroupCounts::default();
    let mut plans = Vec::with_capacity(groups.count());
    groups.check(|_, s| {
        let group = &rewards[s];
        check_values(group, spec)?;
        let p = plan(spec, group.len(), rule)?;
        counts.add(p, group.len());
        plans.push(p);
        Ok(())
    })?;
    Ok((plans, counts))
}

/// The advantages of every group under its plan: every check first, then the groups in
/// parallel. On error nothing is written.
fn advantages_with<T: Reward>(
    rewards: &[T],
    groups: Groups<'_>,
    spec: Spec,
    rule: SmallGroups,
    out: &mut [T],
) -> Result<SmallGroupCounts> {
    let (plans, counts) = plan_groups(rewards, groups, spec, rule)?;
    let mut ws = Workspace::new();
    groups.check(|g, s| check_planned(&mut ws, &rewards[s], spec, plans[g]))?;
    groups.run(out, Workspace::new, |ws, g, s, o| compute_planned(ws, &rewards[s], spec, plans[g], o))?;
    Ok(counts)
}

/// [`crate::ragged_advantages_into`] with a small-group rule: group `g` is
/// `rewards[offsets[g]..offsets[g + 1]]`. Returns what the rule did; on error nothing is written.
pub fn ragged_advantages_with<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    spec: Spec,
    rule: SmallGroups,
    out: &mut [T],
) -> Result<SmallGroupCounts> {
    check_output(out.len(), rewards.len())?;
    advantages_with(rewards, Groups::ragged(offsets, rewards.len())?, spec, rule, out)
}

/// [`crate::batch_advantages_into`] (row-major `[G, group_size]`) with a small-group rule.
pub fn batch_advantages_with<T: Reward>(
    rewards: &[T],
    group_size: usize,
    spec: Spec,
    rule: SmallGroups,
    out: &mut [T],
) -> Result<SmallGroupCounts> {
    let groups = Groups::dense(rewards.len(), group_size)?;
    check_output(out.len(), rewards.len())?;
    advantages_with(rewards, groups, spec, rule, out)
}

/// [`crate::grouped_advantages_into`] with a small-group rule: sample `i` belongs to group
/// `group_ids[i]`; output in the original order; errors name the group by its id. An empty
/// batch is valid and has no groups.
pub fn grouped_advantages_with<T: Reward>(
    rewards: &[T],
    group_ids: &[u64],
    spec: Spec,
    rule: SmallGroups,
    out: &mut [T],
) -> Result<SmallGroupCounts> {
    grouped_with(rewards, group_ids, spec, rule, out, |_, _, _, counts| Ok(counts))
}

/// The grouped path shared by [`grouped_advantages_with`] and [`crate::grouped_step`]: groups
/// the samples by id (contiguous, CSR `offsets`), computes the advantages under `rule`, calls
/// `then(gathered rewards, offsets, gathered advantages, counts)` and only if that succeeds
/// writes the advantages back in the original order. On error nothing is written.
pub(crate) fn grouped_with<T: Reward, R>(
    rewards: &[T],
    group_ids: &[u64],
    spec: Spec,
    rule: SmallGroups,
    out: &mut [T],
    then: impl FnOnce(&[T], &[usize], &[T], SmallGroupCounts) -> Result<R>,
) -> Result<R> {
    check_ids(group_ids, rewards.len())?;
    check_output(out.len(), rewards.len())?;
    let grouping = Grouping::by_id(group_ids);
    let gathered = grouping.gather(rewards);
    let mut tmp = vec![T::from_f64(0.0); rewards.len()];
    let counts = ragged_advantages_with(&gathered, &grouping.offsets, spec, rule, &mut tmp)
        .map_err(|e| grouping.name_group(e, group_ids))?;
    let result = then(&gathered, &grouping.offsets, &tmp, counts)?;
    grouping.scatter(&tmp, out);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for r in SmallGroups::ALL {
            assert_eq!(r.id().parse::<SmallGroups>().unwrap(), r);
        }
        let e = "shrink".parse::<SmallGroups>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown small-group rule \"shrink\"; known: error, zero, shrink-k, centered-ei"
        );
    }

    #[test]
    fn plans() {
        let maxpo = |k| Spec::new(Estimator::Maxpo, k);
        assert_eq!(plan(maxpo(3), 4, SmallGroups::Error), Ok(Plan::Compute));
        assert!(plan(maxpo(4), 4, SmallGroups::Error).is_err());
        assert_eq!(plan(maxpo(4), 4, SmallGroups::Zero), Ok(Plan::Zero));
        assert_eq!(plan(maxpo(4), 4, SmallGroups::ShrinkK), Ok(Plan::ShrinkK(3)));
        assert_eq!(plan(maxpo(6), 4, SmallGroups::ShrinkK), Ok(Plan::ShrinkK(3)));
        assert_eq!(plan(maxpo(4), 1, SmallGroups::ShrinkK), Ok(Plan::Zero));
        assert_eq!(plan(maxpo(4), 4, SmallGroups::CenteredEi), Ok(Plan::CenteredEi(4)));
        assert_eq!(plan(maxpo(6), 4, SmallGroups::CenteredEi), Ok(Plan::CenteredEi(4)));
        assert_eq!(plan(maxpo(2), 1, SmallGroups::CenteredEi), Ok(Plan::Zero));
        assert_eq!(plan(Spec::new(Estimator::Pkpo, 5), 4, SmallGroups::ShrinkK), Ok(Plan::ShrinkK(4)));
        assert_eq!(plan(Spec::new(Estimator::Pkpo, 5), 4, SmallGroups::CenteredEi), Ok(Plan::Zero));
        assert_eq!(plan(Spec::new(Estimator::Rloo, 1), 1, SmallGroups::ShrinkK), Ok(Plan::Zero));
        // k = 0 is a configuration error under every rule
        for rule in SmallGroups::ALL {
            assert!(matches!(plan(maxpo(0), 4, rule), Err(Error::KOutOfRange { .. })));
        }
    }

    #[test]
    fn empty_grouped_batch_is_valid() {
        let mut out: [f64; 0] = [];
        let c = grouped_advantages_with::<f64>(
            &[],
            &[],
            Spec::new(Estimator::Maxpo, 1),
            SmallGroups::Error,
            &mut out,
        )
        .unwrap();
        assert_eq!(c, SmallGroupCounts::default());
    }
}
