//! One group, dense batches of equal-size groups, ragged batches (CSR offsets) and batches
//! grouped by an id per sample. Batches run in parallel through the batching driver
//! ([`crate::driver`]) with one [`Workspace`] per rayon job, so the hot loop allocates
//! nothing. Every entry point validates the whole input first: on error nothing has been
//! written.

use std::ops::Range;

use crate::driver::{Grouping, Groups, check_ids, in_pool};
use crate::error::{Error, Result};
use crate::estimator::Spec;
use crate::float::Reward;
use crate::group::{LANES, Workspace, takes_blocks};
use crate::validate::{check_group, check_output, check_rho};

/// Advantages of one group.
///
/// ```
/// use maxk_core::{advantages, Estimator, Spec};
/// let a = advantages(&[0.0, 1.0, 0.5, 1.0], Spec::new(Estimator::Maxpo, 2))?;
/// assert!(a.iter().sum::<f64>().abs() < 1e-12); // MaxPO is centered
/// # Ok::<(), maxk_core::Error>(())
/// ```
pub fn advantages<T: Reward>(rewards: &[T], spec: Spec) -> Result<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    advantages_into(rewards, spec, &mut out)?;
    Ok(out)
}

/// [`advantages`] into a caller buffer of the same length.
pub fn advantages_into<T: Reward>(rewards: &[T], spec: Spec, out: &mut [T]) -> Result<()> {
    Workspace::new().advantages_into(rewards, spec, out)
}

/// Advantages of a dense batch: `rewards` is row-major `[G, group_size]`.
pub fn batch_advantages<T: Reward>(rewards: &[T], group_size: usize, spec: Spec) -> Result<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    batch_advantages_into(rewards, group_size, spec, &mut out)?;
    Ok(out)
}

/// [`batch_advantages`] into a caller buffer of the same length.
pub fn batch_advantages_into<T: Reward>(
    rewards: &[T],
    group_size: usize,
    spec: Spec,
    out: &mut [T],
) -> Result<()> {
    let groups = Groups::dense(rewards.len(), group_size)?;
    check_output(out.len(), rewards.len())?;
    check_and_run(rewards, groups, spec, out)
}

/// The plain batch of [`batch_advantages_into`] and [`ragged_advantages_into`]: every group
/// checked (in parallel), then computed (in parallel), both passes in one job of the rayon
/// pool ([`in_pool`]).
fn check_and_run<T: Reward>(rewards: &[T], groups: Groups<'_>, spec: Spec, out: &mut [T]) -> Result<()> {
    in_pool(|| check_then_run(rewards, groups, spec, out))
}

fn check_then_run<T: Reward>(rewards: &[T], groups: Groups<'_>, spec: Spec, out: &mut [T]) -> Result<()> {
    groups.check_in_parallel(Workspace::new, |ws, s| {
        let group = &rewards[s];
        let max_abs = check_group(group, spec)?;
        ws.check_representable(group, spec, max_abs)
    })?;
    let one = |ws: &mut Workspace, _, s: Range<usize>, o: &mut [T]| ws.compute(&rewards[s], spec, o);
    match groups {
        Groups::Dense { size, .. } if takes_blocks(spec, size) => groups.run_blocks(
            LANES,
            out,
            Workspace::new,
            |ws, _, s, o| ws.compute_block(&rewards[s], size, spec, o),
            one,
        ),
        _ => groups.run(out, Workspace::new, one),
    }
}

/// Advantages of ragged groups: group `g` is `rewards[offsets[g]..offsets[g + 1]]`.
pub fn ragged_advantages<T: Reward>(rewards: &[T], offsets: &[usize], spec: Spec) -> Result<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    ragged_advantages_into(rewards, offsets, spec, &mut out)?;
    Ok(out)
}

/// [`ragged_advantages`] into a caller buffer of the same length.
pub fn ragged_advantages_into<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    spec: Spec,
    out: &mut [T],
) -> Result<()> {
    let groups = Groups::ragged(offsets, rewards.len())?;
    check_output(out.len(), rewards.len())?;
    check_and_run(rewards, groups, spec, out)
}

/// Advantages where sample `i` belongs to group `group_ids[i]` (any ids, any order, as verl's
/// `uid`); output in the original order. Errors name the group by its id.
pub fn grouped_advantages<T: Reward>(rewards: &[T], group_ids: &[u64], spec: Spec) -> Result<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); rewards.len()];
    grouped_advantages_into(rewards, group_ids, spec, &mut out)?;
    Ok(out)
}

/// [`grouped_advantages`] into a caller buffer of the same length.
pub fn grouped_advantages_into<T: Reward>(
    rewards: &[T],
    group_ids: &[u64],
    spec: Spec,
    out: &mut [T],
) -> Result<()> {
    check_ids(group_ids, rewards.len())?;
    check_output(out.len(), rewards.len())?;
    let grouping = Grouping::by_id(group_ids);
    let mut tmp = vec![T::from_f64(0.0); rewards.len()];
    ragged_advantages_into(&grouping.gather(rewards), &grouping.offsets, spec, &mut tmp)
        .map_err(|e| grouping.name_group(e, group_ids))?;
    grouping.scatter(&tmp, out);
    Ok(())
}

/// rho, the unbiased max@K estimate of one group (docs/MATH.md: `rho_K(B) = sum_l C(l,K-1)/C(N,K) r_(l)`).
/// For 0/1 rewards with c correct this is `1 - C(N-c,K)/C(N,K)`, the unbiased pass@K.
pub fn max_at_k<T: Reward>(rewards: &[T], k: usize) -> Result<f64> {
    check_rho(rewards, k)?;
    Ok(Workspace::new().rho(rewards, k))
}

/// rho of every group of a dense `[G, group_size]` batch.
pub fn batch_max_at_k<T: Reward>(rewards: &[T], group_size: usize, k: usize) -> Result<Vec<f64>> {
    let groups = Groups::dense(rewards.len(), group_size)?;
    groups.check(|_, s| check_rho(&rewards[s], k))?;
    Ok(groups.map(Workspace::new, |ws, s| ws.rho(&rewards[s], k)))
}

/// rho of every group of a ragged batch given by CSR offsets.
pub fn ragged_max_at_k<T: Reward>(rewards: &[T], offsets: &[usize], k: usize) -> Result<Vec<f64>> {
    let groups = Groups::ragged(offsets, rewards.len())?;
    groups.check(|_, s| check_rho(&rewards[s], k))?;
    Ok(groups.map(Workspace::new, |ws, s| ws.rho(&rewards[s], k)))
}

/// The largest number of samples [`pass_at_k`] accepts (2^30): the exact ratio
/// `C(n-c, k)/C(n, k)` is a product of up to `min(k, c)` factors, so this bounds one call to
/// about a second; real evaluations use far fewer samples.
pub const MAX_PASS_AT_K_N: usize = 1 << 30;

/// The unbiased pass@k estimate from `n` samples of which `c` are correct:
/// `1 - C(n-c, k)/C(n, k)` (Chen et al. 2021), computed without forming binomials.
/// Errors: [`Error::PassAtKTooLarge`] for `n` above [`MAX_PASS_AT_K_N`],
/// [`Error::InvalidPassAtK`] unless `0 <= c <= n` and `1 <= k <= n`.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> Result<f64> {
    if n > MAX_PASS_AT_K_N {
        return Err(Error::PassAtKTooLarge { n, max: MAX_PASS_AT_K_N });
    }
    if c > n || k == 0 || k > n {
        return Err(Error::InvalidPassAtK { n, c, k });
    }
    Ok(1.0 - crate::binom::ratio_same_k(n - c, n, k))
}
