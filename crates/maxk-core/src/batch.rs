//! One group, dense batches of equal-size groups, ragged batches (CSR offsets) and batches
//! grouped by an id per sample. Batches run in parallel with one [`Workspace`] per rayon job,
//! so the hot loop allocates nothing. Every entry point validates the whole input first: on
//! error nothing has been written.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::estimator::Spec;
use crate::float::Reward;
use crate::group::Workspace;
use crate::validate::{check_finite, check_group, check_offsets, check_output, check_rho, check_shape};

/// Groups per rayon task: enough work to amortise the task and the workspace.
const MIN_GROUPS_PER_TASK: usize = 16;

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
    check_dense(rewards, group_size)?;
    check_output(out.len(), rewards.len())?;
    let max_abs = check_finite(rewards).map_err(|e| locate(e, |i| (i / group_size, i % group_size)))?;
    let mut ws = Workspace::new();
    for (g, group) in rewards.chunks(group_size).enumerate() {
        check_shape(group, spec).map_err(|e| e.in_group(g))?;
        if crate::group::near_max::<T>(max_abs) {
            ws.check_representable(group, spec, crate::group::max_abs(group)).map_err(|e| e.in_group(g))?;
        }
    }
    out.par_chunks_mut(group_size)
        .zip(rewards.par_chunks(group_size))
        .enumerate()
        .with_min_len(MIN_GROUPS_PER_TASK)
        .try_for_each_init(Workspace::new, |ws, (g, (o, r))| {
            ws.compute(r, spec, o).map_err(|e| e.in_group(g))
        })
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
    check_offsets(offsets, rewards.len())?;
    check_output(out.len(), rewards.len())?;
    let mut ws = Workspace::new();
    for (g, w) in offsets.windows(2).enumerate() {
        let group = &rewards[w[0]..w[1]];
        let max_abs = check_group(group, spec).map_err(|e| e.in_flat_group(g, w[0]))?;
        ws.check_representable(group, spec, max_abs).map_err(|e| e.in_flat_group(g, w[0]))?;
    }
    let groups = split_ragged(out, offsets);
    groups.into_par_iter().enumerate().with_min_len(MIN_GROUPS_PER_TASK).try_for_each_init(
        Workspace::new,
        |ws, (g, (start, o))| {
            ws.compute(&rewards[start..start + o.len()], spec, o).map_err(|e| e.in_flat_group(g, start))
        },
    )
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
    crate::small_groups::check_ids(group_ids, rewards.len())?;
    check_output(out.len(), rewards.len())?;
    if rewards.is_empty() {
        // An empty batch has no groups: nothing to compute, nothing to name in an error.
        return Ok(());
    }
    // Stable order by id keeps each group's samples in their original relative order.
    let mut order: Vec<usize> = (0..rewards.len()).collect();
    order.sort_by_key(|&i| group_ids[i]);
    let gathered: Vec<T> = order.iter().map(|&i| rewards[i]).collect();
    let mut offsets = vec![0];
    for w in 1..order.len() {
        if group_ids[order[w]] != group_ids[order[w - 1]] {
            offsets.push(w);
        }
    }
    offsets.push(order.len());
    let mut tmp = vec![T::from_f64(0.0); rewards.len()];
    ragged_advantages_into(&gathered, &offsets, spec, &mut tmp).map_err(|e| match e {
        Error::InGroup { group, error } => Error::InGroupId {
            id: group_ids[order[offsets[group]]],
            error: Box::new(error.map_index(|p| order[p])),
        },
        e => e,
    })?;
    for (pos, &i) in order.iter().enumerate() {
        out[i] = tmp[pos];
    }
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
    check_dense(rewards, group_size)?;
    for (g, group) in rewards.chunks(group_size).enumerate() {
        check_rho(group, k).map_err(|e| e.in_group(g))?;
    }
    Ok(rewards
        .par_chunks(group_size)
        .with_min_len(MIN_GROUPS_PER_TASK)
        .map_init(Workspace::new, |ws, r| ws.rho(r, k))
        .collect())
}

/// rho of every group of a ragged batch given by CSR offsets.
pub fn ragged_max_at_k<T: Reward>(rewards: &[T], offsets: &[usize], k: usize) -> Result<Vec<f64>> {
    check_offsets(offsets, rewards.len())?;
    for (g, w) in offsets.windows(2).enumerate() {
        check_rho(&rewards[w[0]..w[1]], k).map_err(|e| e.in_flat_group(g, w[0]))?;
    }
    Ok(offsets
        .par_windows(2)
        .with_min_len(MIN_GROUPS_PER_TASK)
        .map_init(Workspace::new, |ws, w| ws.rho(&rewards[w[0]..w[1]], k))
        .collect())
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

fn check_dense<T>(rewards: &[T], group_size: usize) -> Result<()> {
    if group_size == 0 {
        return Err(Error::EmptyGroup);
    }
    if rewards.len() % group_size != 0 {
        return Err(Error::RaggedBatch { len: rewards.len(), group_size });
    }
    Ok(())
}

/// Turns a flat index error into a per-group one.
fn locate(e: Error, split: impl Fn(usize) -> (usize, usize)) -> Error {
    match e {
        Error::NonFiniteReward { index, value } => {
            let (g, i) = split(index);
            Error::NonFiniteReward { index: i, value }.in_group(g)
        }
        e => e,
    }
}

/// Splits `out` into one mutable slice per group, with each group's start offset.
fn split_ragged<'a, T>(mut out: &'a mut [T], offsets: &[usize]) -> Vec<(usize, &'a mut [T])> {
    let mut groups = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let (head, tail) = out.split_at_mut(w[1] - w[0]);
        groups.push((w[0], head));
        out = tail;
    }
    groups
}
