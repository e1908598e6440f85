//! The one batching driver: how a flat batch splits into groups (equal groups `[G, n]`,
//! CSR offsets, or an id per sample), how an error names its group and sample, and the
//! parallel loop over the groups with one workspace per rayon job.
//!
//! Every batch entry point (plain, under a small-group rule, multi-objective, mixtures of K,
//! maj@K) first validates its whole input group by group ([`Groups::check`]) and only then
//! computes through [`Groups::run`], so a failing call has written nothing.
//!
//! Errors name the group, and a sample by its index in its row for a dense batch, in the whole
//! batch for a ragged one ([`Groups::locate`]); a batch grouped by id names the group by its id
//! and the sample by its index in the caller's order ([`Grouping::name_group`]).

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::validate::check_offsets;

/// Groups per rayon task: enough work to amortise the task and the workspace.
pub(crate) const MIN_GROUPS_PER_TASK: usize = 16;

/// Groups per chunk of the work queue of [`Groups::run_blocks`]: about 16 µs of MaxPO at
/// N = 64, so that a paused thread holds back little.
const QUEUE_CHUNK_GROUPS: usize = 64;

/// How a batch of samples splits into groups.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Groups<'a> {
    /// `count` groups of `size` consecutive samples.
    Dense {
        /// Samples per group (at least 1).
        size: usize,
        /// Number of groups.
        count: usize,
    },
    /// Group `g` is the samples `offsets[g]..offsets[g + 1]` (checked CSR offsets).
    Ragged(&'a [usize]),
}

impl<'a> Groups<'a> {
    /// `samples` split into groups of `size`.
    ///
    /// Errors: [`Error::EmptyGroup`] for `size = 0`, [`Error::RaggedBatch`] when `size` does not
    /// divide `samples`.
    pub(crate) fn dense(samples: usize, size: usize) -> Result<Groups<'static>> {
        if size == 0 {
            return Err(Error::EmptyGroup);
        }
        if !samples.is_multiple_of(size) {
            return Err(Error::RaggedBatch { len: samples, group_size: size });
        }
        Ok(Groups::Dense { size, count: samples / size })
    }

    /// `samples` split by CSR `offsets`. Errors: [`Error::InvalidOffsets`], or
    /// [`Error::EmptyGroup`] inside the group that is empty.
    pub(crate) fn ragged(offsets: &'a [usize], samples: usize) -> Result<Groups<'a>> {
        check_offsets(offsets, samples)?;
        Ok(Groups::Ragged(offsets))
    }

    /// Number of groups.
    pub(crate) fn count(&self) -> usize {
        match *self {
            Groups::Dense { count, .. } => count,
            Groups::Ragged(offsets) => offsets.len().saturating_sub(1),
        }
    }

    /// The samples of group `g`.
    pub(crate) fn range(&self, g: usize) -> Range<usize> {
        match *self {
            Groups::Dense { size, .. } => g * size..(g + 1) * size,
            Groups::Ragged(offsets) => offsets[g]..offsets[g + 1],
        }
    }

    /// `e`, an error of group `g` whose sample index (if any) is within the group, as the
    /// batch's error: the index stays in the row for a dense batch and becomes the index in
    /// the batch for a ragged one.
    pub(crate) fn locate(&self, e: Error, g: usize) -> Error {
        match *self {
            Groups::Dense { .. } => e.in_group(g),
            Groups::Ragged(offsets) => e.in_flat_group(g, offsets[g]),
        }
    }

    /// Calls `check(g, samples of g)` on every group in order, serially; the first error,
    /// located ([`Groups::locate`]).
    pub(crate) fn check(&self, mut check: impl FnMut(usize, Range<usize>) -> Result<()>) -> Result<()> {
        (0..self.count()).try_for_each(|g| check(g, self.range(g)).map_err(|e| self.locate(e, g)))
    }

    /// [`Groups::check`] in parallel, with one `init()` workspace per rayon task: the error of
    /// the first failing group in order, the one the serial check gives. For the plain batches,
    /// whose checks are a pass over the rewards that would otherwise run on one thread while
    /// the compute pass uses all of them.
    pub(crate) fn check_in_parallel<W>(
        &self,
        init: impl Fn() -> W + Sync + Send,
        check: impl Fn(&mut W, Range<usize>) -> Result<()> + Sync + Send,
    ) -> Result<()> {
        if one_thread() {
            let mut ws = init();
            return self.check(|_, s| check(&mut ws, s));
        }
        (0..self.count())
            .into_par_iter()
            .with_min_len(MIN_GROUPS_PER_TASK)
            .map_init(init, |ws, g| check(ws, self.range(g)).map_err(|e| self.locate(e, g)))
            .find_first(Result::is_err)
            .unwrap_or(Ok(()))
    }

    /// Calls `f(workspace, g, samples of g, out[samples of g])` for every group g in parallel,
    /// [`MIN_GROUPS_PER_TASK`] groups at least per rayon task, one `init()` workspace per
    /// task (all on the calling thread, with one workspace, when the pool has one thread: see
    /// [`one_thread`]); an error is located ([`Groups::locate`]). `out` has one value per
    /// sample.
    pub(crate) fn run<O: Send, W>(
        &self,
        out: &mut [O],
        init: impl Fn() -> W + Sync + Send,
        f: impl Fn(&mut W, usize, Range<usize>, &mut [O]) -> Result<()> + Sync + Send,
    ) -> Result<()> {
        self.run_in_tasks(MIN_GROUPS_PER_TASK, out, init, f)
    }

    /// [`Groups::run`] with at least `grain` groups per rayon task (1 for groups that are
    /// costly one by one).
    pub(crate) fn run_in_tasks<O: Send, W>(
        &self,
        grain: usize,
        out: &mut [O],
        init: impl Fn() -> W + Sync + Send,
        f: impl Fn(&mut W, usize, Range<usize>, &mut [O]) -> Result<()> + Sync + Send,
    ) -> Result<()> {
        if one_thread() {
            let mut ws = init();
            let mut rest = out;
            return (0..self.count()).try_for_each(|g| {
                let s = self.range(g);
                let (o, tail) = std::mem::take(&mut rest).split_at_mut(s.len());
                rest = tail;
                f(&mut ws, g, s, o).map_err(|e| self.locate(e, g))
            });
        }
        match *self {
            Groups::Dense { size, .. } => out
                .par_chunks_mut(size)
                .enumerate()
                .with_min_len(grain)
                .try_for_each_init(init, |ws, (g, o)| {
                    f(ws, g, self.range(g), o).map_err(|e| self.locate(e, g))
                }),
            Groups::Ragged(offsets) => {
                let mut groups = Vec::with_capacity(self.count());
                let mut rest = out;
                for w in offsets.windows(2) {
                    let (head, tail) = rest.split_at_mut(w[1] - w[0]);
                    groups.push(head);
                    rest = tail;
                }
                groups
                    .into_par_iter()
                    .enumerate()
                    .with_min_len(grain)
                    .try_for_each_init(init, |ws, (g, o)| {
                        f(ws, g, self.range(g), o).map_err(|e| self.locate(e, g))
                    })
            }
        }
    }

    /// [`Groups::run`] for a dense batch, `lanes` groups per call: `f(workspace, first group,
    /// samples of the block, out[samples of the block])` on every full block of `lanes`
    /// consecutive groups, in parallel, and `rest(workspace, g, samples of g, out[..])` on each
    /// group after the last full block. An error of `f` names its lane (the group `first +
    /// lane`), and is located as [`Groups::run`]'s.
    ///
    /// The blocks are shared out through a queue of chunks of [`QUEUE_CHUNK_GROUPS`] groups,
    /// which one task per thread takes one at a time with one workspace, rather than by
    /// rayon's splitting: that cuts the blocks into a few large pieces up front, and a thread
    /// that the machine pauses in one of them leaves the others waiting (on the 2-vCPU VM a
    /// `[4096, 64]` batch on two threads took a median 0.94× the time with the queue, in
    /// alternating calls; finer rayon pieces, each with a new workspace, took 1.06×).
    pub(crate) fn run_blocks<O: Send, W>(
        &self,
        lanes: usize,
        out: &mut [O],
        init: impl Fn() -> W + Sync + Send,
        f: impl Fn(&mut W, usize, Range<usize>, &mut [O]) -> std::result::Result<(), (usize, Error)> + Sync + Send,
        rest: impl Fn(&mut W, usize, Range<usize>, &mut [O]) -> Result<()> + Sync + Send,
    ) -> Result<()> {
        let Groups::Dense { size, count } = *self else {
            return self.run(out, init, rest);
        };
        let full = count / lanes * lanes;
        let (head, tail) = out.split_at_mut(full * size);
        let block = |ws: &mut W, b: usize, o: &mut [O]| {
            let first = b * lanes;
            f(ws, first, first * size..(first + lanes) * size, o).map_err(|(l, e)| self.locate(e, first + l))
        };
        let mut last = |ws: &mut W| {
            (full..count)
                .zip(tail.chunks_mut(size))
                .try_for_each(|(g, o)| rest(ws, g, self.range(g), o).map_err(|e| self.locate(e, g)))
        };
        if one_thread() {
            let mut ws = init();
            head.chunks_mut(lanes * size).enumerate().try_for_each(|(b, o)| block(&mut ws, b, o))?;
            return last(&mut ws);
        }
        // A queue of chunks of blocks, taken one at a time by one task per thread, each with
        // its own workspace.
        let per_chunk = QUEUE_CHUNK_GROUPS.div_ceil(lanes);
        let queue = Mutex::new(head.chunks_mut(per_chunk * lanes * size).enumerate());
        let take = || queue.lock().unwrap_or_else(PoisonError::into_inner).next();
        (0..rayon::current_num_threads()).into_par_iter().with_max_len(1).try_for_each(|_| {
            let mut ws = init();
            while let Some((c, chunk)) = take() {
                for (i, o) in chunk.chunks_mut(lanes * size).enumerate() {
                    block(&mut ws, c * per_chunk + i, o)?;
                }
            }
            Ok(())
        })?;
        last(&mut init())
    }

    /// `f(workspace, samples of g)` of every group, in parallel as [`Groups::run`].
    pub(crate) fn map<R: Send, W>(
        &self,
        init: impl Fn() -> W + Sync + Send,
        f: impl Fn(&mut W, Range<usize>) -> R + Sync + Send,
    ) -> Vec<R> {
        if one_thread() {
            let mut ws = init();
            return (0..self.count()).map(|g| f(&mut ws, self.range(g))).collect();
        }
        (0..self.count())
            .into_par_iter()
            .with_min_len(MIN_GROUPS_PER_TASK)
            .map_init(init, |ws, g| f(ws, self.range(g)))
            .collect()
    }
}

/// Whether the rayon pool that would run a batch has one thread (`RAYON_NUM_THREADS=1`, or a
/// one-core machine): then the batch loops run on the calling thread instead. A parallel
/// iterator called from outside the pool hands its work to the pool's thread and sleeps until
/// it is done, and each of a batch's two passes (checks, then compute) pays that hand-over and
/// the wake-up of both threads: on one thread, 7-9 % of a `[4096, 64]` MaxPO batch's time
/// (`perf`) and most of the spread between repeated calls. The results are the same either
/// way: every group is computed alone.
fn one_thread() -> bool {
    rayon::current_num_threads() == 1
}

/// Runs `op`, whose parallel passes then start from a thread of the rayon pool: a call from
/// outside the pool hands its work over once and sleeps once, instead of once per pass (a
/// batch has two, the checks and the compute); on a pool of one thread, `op` runs on the
/// calling thread (see [`one_thread`]).
pub(crate) fn in_pool<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    if one_thread() { op() } else { rayon::scope(|_| op()) }
}

/// Samples grouped by id: a stable order that puts each group's samples together (in their
/// original relative order) and the CSR offsets of the groups in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grouping {
    /// `order[pos]` is the original index of the sample at position `pos`.
    pub(crate) order: Vec<usize>,
    /// Group `g` is `order[offsets[g]..offsets[g + 1]]`; `[0]` for an empty batch.
    pub(crate) offsets: Vec<usize>,
}

impl Grouping {
    /// Groups `group_ids` (any ids, any order).
    pub(crate) fn by_id(group_ids: &[u64]) -> Grouping {
        let mut order: Vec<usize> = (0..group_ids.len()).collect();
        order.sort_by_key(|&i| group_ids[i]);
        let mut offsets = vec![0];
        for w in 1..order.len() {
            if group_ids[order[w]] != group_ids[order[w - 1]] {
                offsets.push(w);
            }
        }
        if !order.is_empty() {
            offsets.push(order.len());
        }
        Grouping { order, offsets }
    }

    /// The values in grouped order.
    pub(crate) fn gather<T: Copy>(&self, values: &[T]) -> Vec<T> {
        self.order.iter().map(|&i| values[i]).collect()
    }

    /// Writes `grouped` (values in grouped order) into `out` in the original order.
    pub(crate) fn scatter<T: Copy>(&self, grouped: &[T], out: &mut [T]) {
        for (&i, &v) in self.order.iter().zip(grouped) {
            out[i] = v;
        }
    }

    /// Turns the error of group `g` of the grouped batch (a sample by its position there, as a
    /// ragged batch names it) into one naming the group's id and the sample's original index.
    pub(crate) fn name_group(&self, e: Error, group_ids: &[u64]) -> Error {
        match e {
            Error::InGroup { group, error } => Error::InGroupId {
                id: group_ids[self.order[self.offsets[group]]],
                error: Box::new(error.map_index(|p| self.order[p])),
            },
            e => e,
        }
    }
}

/// [`Error::IdsLength`] unless there is one group id per sample.
pub(crate) fn check_ids(group_ids: &[u64], len: usize) -> Result<()> {
    if group_ids.len() != len {
        return Err(Error::IdsLength { ids: group_ids.len(), rewards: len });
    }
    Ok(())
}
