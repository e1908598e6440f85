//! MaxPO (and canonical) of [`LANES`] small groups of one size at a time: the same sorts, then
//! the kernel's two prefix sums for all the groups in one loop.
//!
//! On a small group the gap-form kernel is bound by the latency of its two running sums
//! (`fwd_r = sum_{b<=r} g_b z_b` and `bwd_r = sum_{b>r} g_b zq_b`, one addition per rank
//! each, see [`super::kernel`]): 64 ranks are 64 additions in a row whatever the CPU's width.
//! Run for four groups side by side, the eight chains are independent, so the CPU overlaps
//! them (and packs them into vector registers) and the loop is bound by throughput instead.
//! Each chain adds its own group's terms in the order of the one-group kernel, so every result
//! is bit for bit the one of [`Workspace::compute`] (`tests.rs`,
//! `blocks_give_the_bits_of_one_group_at_a_time`).

use super::Workspace;
use super::kernel::{COMPENSATE_FROM, z_and_zq};
use super::rescale::{Unit, check_outputs, emit_as, near_max};
use super::scale::scale_stage;
use super::sort::Sorter;
use crate::error::Error;
use crate::estimator::{Estimator, Spec};
use crate::float::Reward;

/// Groups per block.
pub(crate) const LANES: usize = 4;

/// The buffers of a block: one sort per group, and the two sums of every rank, lane by lane.
#[derive(Debug, Default, Clone)]
pub(super) struct Lanes {
    sorters: [Sorter; LANES],
    fwd: Vec<[f64; LANES]>,
    bwd: Vec<[f64; LANES]>,
}

/// The largest group size that blocks take: the sorting network's. Larger groups spend most
/// of their time in the sort, and four of them no longer keep their buffers in the L1 cache
/// (at N = 100 and 1000, blocks took 1.05× the time of one group at a time).
const BLOCKS_UP_TO: usize = 64;

/// Whether [`Workspace::compute_block`] takes groups of `n` under `spec`: maxpo and canonical
/// (at any scale) on groups of up to [`BLOCKS_UP_TO`] (which the one-group kernel sums
/// without compensation).
pub(crate) fn takes_blocks(spec: Spec, n: usize) -> bool {
    const { assert!(BLOCKS_UP_TO < COMPENSATE_FROM) };
    matches!(spec.estimator, Estimator::Maxpo | Estimator::Canonical) && n <= BLOCKS_UP_TO
}

impl Workspace {
    /// The advantages of [`LANES`] consecutive validated groups of `n` rewards each
    /// (`rewards.len() == out.len() == LANES * n`, [`takes_blocks`] true), bit for bit those
    /// of [`Workspace::compute`] on each group. An error is the first failing group's, with
    /// its lane.
    pub(crate) fn compute_block<T: Reward>(
        &mut self,
        rewards: &[T],
        n: usize,
        spec: Spec,
        out: &mut [T],
    ) -> Result<(), (usize, Error)> {
        debug_assert!(takes_blocks(spec, n) && rewards.len() == LANES * n && out.len() == LANES * n);
        let (nf, kf) = (n as f64, spec.k as f64);
        let norm = nf / (nf - kf);
        let lanes = &mut self.lanes;
        let mut near = [false; LANES];
        let mut scale = [0.0; LANES];
        let mut back = [0.0; LANES];
        for (l, (group, sorter)) in rewards.chunks_exact(n).zip(&mut lanes.sorters).enumerate() {
            sorter.sort(group);
            let vals = &mut sorter.vals;
            near[l] = near_max::<T>(vals[0].abs().max(vals[n - 1].abs()));
            let unit = Unit::rescale_sorted(vals);
            let (mult, b) = scale_stage(group, spec, unit);
            // The factors of the one-group kernel, multiplied in its order.
            scale[l] = if spec.estimator == Estimator::Maxpo { mult * norm } else { mult * norm * kf / nf };
            back[l] = b;
        }
        let (z, zq) = z_and_zq(&mut self.tables.z_table, &mut self.tables.zq, n, spec.k);
        let s: [&[f64]; LANES] = std::array::from_fn(|l| &lanes.sorters[l].vals[..n]);
        let (z, zq) = (&z[..n], &zq[..n]);
        lanes.fwd.resize(n, [0.0; LANES]);
        lanes.bwd.resize(n, [0.0; LANES]);
        let (fwd, bwd) = (&mut lanes.fwd[..n], &mut lanes.bwd[..n]);
        // The sums of `super::kernel::both_sums`, lane by lane, each in the same order.
        fwd[0] = [0.0; LANES];
        bwd[n - 1] = [0.0; LANES];
        let (mut up, mut down) = ([0.0f64; LANES], [0.0f64; LANES]);
        for i in 1..n {
            let j = n - i;
            for l in 0..LANES {
                up[l] += (s[l][i] - s[l][i - 1]) * z[i];
                down[l] += (s[l][j] - s[l][j - 1]) * zq[j];
            }
            fwd[i] = up;
            bwd[j - 1] = down;
        }
        for (l, (o, sorter)) in out.chunks_exact_mut(n).zip(&lanes.sorters).enumerate() {
            let (keys, mask) = (&sorter.packed[..n], sorter.index_mask);
            let (scale, back) = (scale[l], back[l]);
            let rank = fwd.iter().zip(bwd.iter()).zip(keys);
            if near[l] {
                for ((f, b), &key) in rank {
                    o[(key & mask) as usize] = emit_as::<T>(scale * (f[l] - b[l]), back);
                }
            } else {
                // `emit_as` without its test: below `NEAR_MAX` every advantage is
                // representable, so the test would always pass.
                for ((f, b), &key) in rank {
                    o[(key & mask) as usize] = T::from_f64(scale * (f[l] - b[l]) * back);
                }
            }
        }
        for (l, (group, o)) in rewards.chunks_exact(n).zip(out.chunks_exact(n)).enumerate() {
            if near[l] {
                check_outputs(group, spec, o).map_err(|e| (l, e))?;
            }
        }
        Ok(())
    }
}
