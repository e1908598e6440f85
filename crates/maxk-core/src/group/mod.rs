//! The per-group kernel: every estimator of one group in O(N log N) (one sort, then O(N)).
//!
//! After sorting ascending (`s_0 <= ... <= s_{N-1}`, gaps `g_b = s_b - s_{b-1} >= 0`), every
//! estimator is a sum of non-negative gap terms, so nothing cancels (derivation in docs/MATH.md,
//! "O(N log N)", rewritten over gaps by summation by parts):
//!
//! - `W_m = C(m, K-1) / C(N-1, K-1)`, `z_b = C(b, K) / C(N, K)` (ratio tables, [`crate::binom`]).
//! - `EI_a = sum_{b=1..=a} g_b W_b` (hockey-stick identity on `c_l = C(l,K-2)/C(N-1,K-1)`).
//! - `u_a - s_a = sum_{b>a} g_b (1 - W_{b-1})`.
//! - `maxpo_a = u_a - v_a = N/(N-K) [ sum_{b<=a} g_b z_b - sum_{b>a} g_b z_b (N-b)/b ]`.
//! - `rho = s_0 + sum_{b>=1} g_b (1 - z_b)`.
//!
//! Ties need no special case: a zero gap contributes nothing whatever the tie order.
//!
//! By concern: [`sort`] (the sorted group and its index by rank; [`small_sort`], its network
//! for groups of up to 64), [`kernel`] (the weight tables
//! and the gap-form passes above), [`block`] (maxpo's kernel for four small groups at once),
//! [`rescale`] (the exact power-of-two unit that keeps every
//! intermediate finite, and the overflow check of the outputs), [`scale`] (the `--scale`
//! stage); the peer estimators that need no sort are in [`crate::peers`]. This file holds the
//! [`Workspace`] that owns the buffers and dispatches one group to its estimator.

mod block;
mod kernel;
mod prefetch;
mod rescale;
mod scale;
mod small_sort;
mod sort;
#[cfg(test)]
mod tests;

pub(crate) use block::{LANES, takes_blocks};
pub(crate) use kernel::COMPENSATE_FROM;
use kernel::Tables;
pub(crate) use rescale::{Unit, check_outputs, emit_as, max_abs, near_max};
pub(crate) use scale::{scale_stage, spread_in, std_factor};
pub use small_sort::sort_keys;
use sort::{RADIX_FROM, Sorter};

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::estimator::{Estimator, Spec};
use crate::float::Reward;
use crate::peers;

/// Reusable buffers for one thread. Holding one across groups makes the hot loop allocation
/// free: buffers only grow, and the ratio tables are rebuilt only when (N, K) changes.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    sorter: Sorter,
    tables: Tables,
    /// The sorts and sums of [`Workspace::compute_block`].
    lanes: block::Lanes,
}

impl Workspace {
    /// An empty workspace.
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// Advantages of one group into `out` (`out.len() == rewards.len()`), with full validation.
    /// Convenience for callers that loop over groups themselves (experiments, trainer).
    pub fn advantages_into<T: Reward>(
        &mut self,
        rewards: &[T],
        spec: Spec,
        out: &mut [T],
    ) -> crate::Result<()> {
        crate::validate::check_output(out.len(), rewards.len())?;
        let max_abs = crate::validate::check_group(rewards, spec)?;
        self.check_representable(rewards, spec, max_abs)?;
        self.compute(rewards, spec, out)
    }

    /// Readies this workspace for one group of `n` rewards under `spec`, for a caller that
    /// learns a group's size before it has the rewards and has a core to spare meanwhile (the
    /// CLI runs this beside parsing a long JSON line): the buffers of the sort are allocated
    /// and every page of them written, and the weight tables of `(n, K)` filled, so that the
    /// group's own call spends no time in page faults or serial table recurrences. At
    /// N = 10^6 that is most of the difference between a fresh process and a warm one.
    ///
    /// Only a hint: it changes no result, does nothing for groups below the radix sort's size
    /// (whose buffers are small), for estimators that do not sort, or for an `(n, spec)` that
    /// [`Workspace::advantages_into`] would refuse, and gives up quietly if the memory cannot
    /// be had. A wrong `n` costs the time spent on it and nothing else.
    pub fn reserve(&mut self, n: usize, spec: Spec) {
        if is_ranked(spec.estimator)
            && n >= RADIX_FROM
            && spec.estimator.validate(n, spec.k).is_ok()
            && self.sorter.reserve(n)
        {
            self.tables.prepare(spec.estimator, n, spec.k);
        }
    }

    /// Sorts the group into `self.sorter`. For a large group, `prepare` fills the tables the
    /// kernel will read at the same time, on the rayon pool: their recurrences are serial
    /// chains as long as the group (about a third of the sort's time at N = 10^6), and
    /// independent of the order. Small groups leave the tables to the kernel, which fills
    /// them on first use (batches already keep every core busy).
    fn sort_and_prepare<T: Reward>(&mut self, rewards: &[T], prepare: impl FnOnce(&mut Tables) + Send) {
        let (sorter, tables) = (&mut self.sorter, &mut self.tables);
        if rewards.len() >= RADIX_FROM {
            rayon::join(|| sorter.sort(rewards), || prepare(tables));
        } else {
            sorter.sort(rewards);
        }
    }

    /// Sorts a group for a kernel outside this module (mixtures of K): the ascending rewards in
    /// the kernel's [`Unit`] (rescaled only near f64's range), the group index of each rank,
    /// and the unit. `side` runs beside the sort for a large group, as the tables of
    /// [`Workspace::sort_and_prepare`] do.
    pub(crate) fn sorted<T: Reward, R: Send>(
        &mut self,
        rewards: &[T],
        side: impl FnOnce() -> R + Send,
    ) -> (Sorted<'_>, R) {
        let sorter = &mut self.sorter;
        let r = if rewards.len() >= RADIX_FROM {
            rayon::join(|| sorter.sort(rewards), side).1
        } else {
            sorter.sort(rewards);
            side()
        };
        let unit = Unit::rescale_sorted(&mut self.sorter.vals);
        let s = &self.sorter;
        (Sorted { vals: &s.vals, keys: &s.packed, mask: s.index_mask, unit }, r)
    }

    /// Writes the advantages of a validated group into `out`.
    ///
    /// Every intermediate is computed on rewards rescaled by an exact power of two where it
    /// could overflow (see [`Unit`]), so an output is non-finite only when the true advantage
    /// is: then this returns [`Error::AdvantageOverflow`] (with `out` written). Callers that
    /// promise to change nothing on error call [`Workspace::check_representable`] first.
    pub(crate) fn compute<T: Reward>(&mut self, rewards: &[T], spec: Spec, out: &mut [T]) -> Result<()> {
        match spec.estimator {
            Estimator::Rloo | Estimator::DrGrpo | Estimator::Grpo => peers::mean_peers(rewards, spec, out),
            Estimator::BestMinusSecond => peers::best_minus_second(rewards, spec, out),
            Estimator::PasskAnalytic => {
                // Binary rewards: |A| <= sqrt(N) times a factor <= N, always finite.
                let (mult, back) = scale_stage(rewards, spec, Unit::ONE);
                peers::passk_analytic(rewards, spec.k, mult * back, out)
            }
            Estimator::BonMean => peers::bon_mean(self, rewards, spec, out),
            Estimator::RsGrpo => peers::rs_grpo(rewards, spec, out),
            Estimator::Maxrl => {
                // Binary rewards: |A| <= N times the scale factor, always finite.
                let (mult, back) = scale_stage(rewards, spec, Unit::ONE);
                peers::maxrl(rewards, mult * back, out)
            }
            est if is_ranked(est) => {
                let (n, k) = (rewards.len(), spec.k);
                self.sort_and_prepare(rewards, |t| t.prepare(spec.estimator, n, k));
                let vals = &self.sorter.vals;
                let max_abs = vals[0].abs().max(vals[n - 1].abs());
                let unit = Unit::rescale_sorted(&mut self.sorter.vals);
                let (mult, back) = scale_stage(rewards, spec, unit);
                self.ranked(n, spec.estimator, spec.k, mult, back, out);
                if !near_max::<T>(max_abs) {
                    // Every advantage is representable (the proof at `rescale::NEAR_MAX`),
                    // and the kernel's are finite: no pass over the outputs to check them.
                    return Ok(());
                }
            }
            est => unreachable!("{est} is neither a peer nor of the u/v/w family"),
        }
        check_outputs(rewards, spec, out)
    }

    /// Runs the kernel on a copy when the group's rewards come near the output type's largest
    /// value (within [`rescale::NEAR_MAX`]), so that an overflowing advantage is found before anything
    /// is written; below that bound every advantage is representable (the bound's proof is at
    /// [`rescale::NEAR_MAX`]). `max_abs` is `max |r|` of the group.
    pub(crate) fn check_representable<T: Reward>(
        &mut self,
        rewards: &[T],
        spec: Spec,
        max_abs: f64,
    ) -> Result<()> {
        if !near_max::<T>(max_abs) {
            return Ok(());
        }
        let mut trial = vec![T::from_f64(0.0); rewards.len()];
        self.compute(rewards, spec, &mut trial)
    }
}

/// Whether [`Workspace::compute`] sorts `est`'s groups and runs the gap-form kernel on them
/// ([`Workspace::ranked`]): the u/v/w family. Every other estimator is a peer
/// ([`crate::peers`]).
const fn is_ranked(est: Estimator) -> bool {
    matches!(
        est,
        Estimator::Pkpo
            | Estimator::PkpoLoo
            | Estimator::PkpoLoo1
            | Estimator::Ei
            | Estimator::Maxpo
            | Estimator::Canonical
    )
}

/// A sorted group (see [`Workspace::sorted`]).
pub(crate) struct Sorted<'a> {
    /// The rewards in ascending order, times `unit.to`.
    pub(crate) vals: &'a [f64],
    keys: &'a [u64],
    mask: u64,
    /// The rescaling of `vals`.
    pub(crate) unit: Unit,
}

impl Sorted<'_> {
    /// The group index of rank `b`.
    #[inline(always)]
    pub(crate) fn index(&self, b: usize) -> usize {
        (self.keys[b] & self.mask) as usize
    }
}
