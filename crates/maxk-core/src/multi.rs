//! Multi-objective max@K: several reward axes per sample, one estimator per axis, a weighted sum.
//!
//! Each sample i of a group carries D rewards `r_i = (r_i^1, ..., r_i^D)` (correctness, format,
//! length, ...). Axis d gets its own [`Spec`] (estimator, K_d, scale) and weight `lambda_d`:
//!
//! ```text
//! A_i = sum_d lambda_d * s_d * A^d_i(r^d_1, ..., r^d_N)
//! ```
//!
//! where `A^d` is the single-axis estimator of axis d on the column `r^d` and `s_d` its scale
//! ([`Scale::None`], [`Scale::Pg`], or [`Scale::Std`] = the per-axis normalisation
//! `1/(std(r^d) + 1e-6)`). This is the axis-wise "EI - L2O per axis, normalised, weighted sum"
//! of multi-reward max@K for text-to-image diffusion (arXiv 2607.14962), computed here in
//! O(D N log N) per group (one sort per axis, [`Workspace`]) instead of O(D N^2), for ragged
//! groups too, and for any estimator of the registry (GDPO-style "normalise then sum" is `grpo`
//! on every axis).
//!
//! Properties that follow axis by axis (tested in `tests/multi_objective.rs`):
//! - centering: if every axis's estimator is centered ([`Estimator::is_centered`]), the
//!   combined advantages sum to zero over the group;
//! - unbiasedness: with [`Scale::Pg`] on every axis and PG-unbiased estimators
//!   ([`Estimator::is_unbiased`]), `E[sum_i A_i grad log pi(y_i)] = sum_d lambda_d grad J^d_{K_d}`,
//!   the gradient of the weighted sum of the per-axis max@K objectives. [`Scale::Std`] divides
//!   by a sample-dependent std and gives up this property (as GRPO does).
//!
//! Shapes: one group is row-major `[N, D]` (sample i's rewards at `i*D .. i*D + D`), a dense
//! batch `[G, N, D]`, a ragged batch `[B, D]` with CSR offsets over the B samples. The output
//! has one advantage per sample (`[N]`, `[G, N]`, `[B]`).
//!
//! ```
//! use maxk_core::{multi_advantages, Axis, Estimator, MultiSpec, Scale, Spec};
//!
//! // 5 samples, axes (correct, format); max@2 on correctness, plain RLOO on format.
//! let rewards = [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
//! let spec = MultiSpec::new(vec![
//!     Axis::new(Spec::new(Estimator::Maxpo, 2), 1.0),
//!     Axis::new(Spec::new(Estimator::Rloo, 1), 0.2),
//! ])?;
//! let a = multi_advantages(&rewards, &spec)?;
//! assert_eq!(a.len(), 5);
//! assert!(a.iter().sum::<f64>().abs() < 1e-12); // both axes are centered
//! assert!(a[0] > a[3] && a[3] > a[1]);          // correct + formatted > correct > neither
//!
//! // The same estimator on every axis: MultiSpec::uniform.
//! let spec = MultiSpec::uniform(Spec::new(Estimator::Maxpo, 2).with_scale(Scale::Std), &[1.0, 0.5])?;
//! assert_eq!(spec.width(), 2);
//! # Ok::<(), maxk_core::Error>(())
//! ```

use crate::driver::Groups;
use crate::error::{Error, Result};
#[cfg(doc)]
use crate::estimator::Estimator;
use crate::estimator::{Scale, Spec};
use crate::float::Reward;
use crate::group::Workspace;
use crate::validate::{check_output, check_shape};

/// One reward axis: what to compute on its column, and its weight in the sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    /// Estimator, K and per-axis scale (`Scale::Std` is the per-axis normalisation).
    pub spec: Spec,
    /// Weight `lambda_d` of the axis (any finite number; 0 drops the axis, negative penalises).
    pub weight: f64,
}

impl Axis {
    /// An axis computing `spec` with weight `weight`.
    pub const fn new(spec: Spec, weight: f64) -> Axis {
        Axis { spec, weight }
    }
}

/// The D axes of a multi-objective estimator, in column order. Built by [`MultiSpec::new`] or
/// [`MultiSpec::uniform`], which reject an empty axis list and non-finite weights.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiSpec {
    axes: Vec<Axis>,
}

impl MultiSpec {
    /// The axes in column order.
    ///
    /// Errors: [`Error::NoAxes`] for an empty list, [`Error::InvalidWeight`] for a NaN or
    /// infinite weight.
    pub fn new(axes: Vec<Axis>) -> Result<MultiSpec> {
        if axes.is_empty() {
            return Err(Error::NoAxes);
        }
        if let Some((axis, a)) = axes.iter().enumerate().find(|(_, a)| !a.weight.is_finite()) {
            return Err(Error::InvalidWeight { axis, value: a.weight });
        }
        Ok(MultiSpec { axes })
    }

    /// The same `spec` on every axis, one axis per weight.
    pub fn uniform(spec: Spec, weights: &[f64]) -> Result<MultiSpec> {
        MultiSpec::new(weights.iter().map(|&w| Axis::new(spec, w)).collect())
    }

    /// The axes in column order.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// D, the number of reward axes (columns).
    pub fn width(&self) -> usize {
        self.axes.len()
    }

    /// Whether every axis's estimator is centered, so that the combined advantages of a group
    /// sum to zero (whatever the weights and scales).
    pub fn is_centered(&self) -> bool {
        self.axes.iter().all(|a| a.spec.estimator.is_centered())
    }

    /// Whether, with [`Scale::Pg`] on every axis, `E[sum_i A_i grad log pi(y_i)]` is the
    /// gradient of `sum_d lambda_d J^d_{K_d}`: every axis's estimator must be unbiased and no
    /// axis may use the sample-dependent [`Scale::Std`].
    pub fn is_unbiased(&self) -> bool {
        self.axes.iter().all(|a| a.spec.estimator.is_unbiased() && a.spec.scale != Scale::Std)
    }
}

/// Multi-objective advantages of one group: `rewards` is row-major `[N, D]`, the output `[N]`.
pub fn multi_advantages<T: Reward>(rewards: &[T], spec: &MultiSpec) -> Result<Vec<T>> {
    let n = rows(rewards.len(), spec.width())?;
    let mut out = vec![T::from_f64(0.0); n];
    multi_advantages_into(rewards, spec, &mut out)?;
    Ok(out)
}

/// [`multi_advantages`] into a caller buffer of length N.
pub fn multi_advantages_into<T: Reward>(rewards: &[T], spec: &MultiSpec, out: &mut [T]) -> Result<()> {
    let n = rows(rewards.len(), spec.width())?;
    check_output(out.len(), n)?;
    let mut ws = MultiWorkspace::default();
    ws.check(rewards, spec)?;
    ws.compute(rewards, spec, out)
}

/// Multi-objective advantages of a dense batch: `rewards` is row-major `[G, group_size, D]`,
/// the output `[G, group_size]`.
pub fn batch_multi_advantages<T: Reward>(
    rewards: &[T],
    group_size: usize,
    spec: &MultiSpec,
) -> Result<Vec<T>> {
    let n = rows(rewards.len(), spec.width())?;
    let mut out = vec![T::from_f64(0.0); n];
    batch_multi_advantages_into(rewards, group_size, spec, &mut out)?;
    Ok(out)
}

/// [`batch_multi_advantages`] into a caller buffer of length `G * group_size`.
pub fn batch_multi_advantages_into<T: Reward>(
    rewards: &[T],
    group_size: usize,
    spec: &MultiSpec,
    out: &mut [T],
) -> Result<()> {
    let n = rows(rewards.len(), spec.width())?;
    let groups = Groups::dense(n, group_size)?;
    check_output(out.len(), n)?;
    compute_groups(rewards, groups, spec, out)
}

/// Multi-objective advantages of ragged groups: `rewards` is row-major `[B, D]` and group `g`
/// is the samples `offsets[g]..offsets[g + 1]` (CSR offsets over samples, not over values).
pub fn ragged_multi_advantages<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    spec: &MultiSpec,
) -> Result<Vec<T>> {
    let n = rows(rewards.len(), spec.width())?;
    let mut out = vec![T::from_f64(0.0); n];
    ragged_multi_advantages_into(rewards, offsets, spec, &mut out)?;
    Ok(out)
}

/// [`ragged_multi_advantages`] into a caller buffer of length B.
pub fn ragged_multi_advantages_into<T: Reward>(
    rewards: &[T],
    offsets: &[usize],
    spec: &MultiSpec,
    out: &mut [T],
) -> Result<()> {
    let n = rows(rewards.len(), spec.width())?;
    let groups = Groups::ragged(offsets, n)?;
    check_output(out.len(), n)?;
    compute_groups(rewards, groups, spec, out)
}

/// Every group checked, then computed in parallel; `groups` split the samples (rows of D
/// values). On error nothing is written.
fn compute_groups<T: Reward>(
    rewards: &[T],
    groups: Groups<'_>,
    spec: &MultiSpec,
    out: &mut [T],
) -> Result<()> {
    let d = spec.width();
    let values = |s: std::ops::Range<usize>| &rewards[s.start * d..s.end * d];
    let mut ws = MultiWorkspace::default();
    groups.check(|_, s| ws.check(values(s), spec))?;
    groups.run(out, MultiWorkspace::default, |ws, _, s, o| ws.compute(values(s), spec, o))
}

/// Number of samples in `len` values of `d` axes.
fn rows(len: usize, d: usize) -> Result<usize> {
    if d == 0 {
        return Err(Error::NoAxes);
    }
    if !len.is_multiple_of(d) {
        return Err(Error::AxisShape { len, axes: d });
    }
    Ok(len / d)
}

/// Per-thread buffers: the single-axis workspace, one column and the running sum.
#[derive(Debug, Default)]
struct MultiWorkspace {
    ws: Workspace,
    column: Vec<f64>,
    axis_out: Vec<f64>,
    sum: Vec<f64>,
}

impl MultiWorkspace {
    /// Copies axis `a` of the row-major `[N, D]` group into `self.column`.
    fn gather<T: Reward>(&mut self, rewards: &[T], d: usize, a: usize) {
        self.column.clear();
        self.column.extend(rewards.iter().skip(a).step_by(d).map(|r| r.to_f64()));
    }

    /// Every check of one `[N, D]` group (whose length is a multiple of D): each axis's
    /// column must be a valid group for that axis's spec. Errors name the axis.
    fn check<T: Reward>(&mut self, rewards: &[T], spec: &MultiSpec) -> Result<()> {
        let d = spec.width();
        for (a, axis) in spec.axes().iter().enumerate() {
            self.gather(rewards, d, a);
            let located = |e: Error| Error::InAxis { axis: a, error: Box::new(e) };
            if let Some(index) = self.column.iter().position(|x| !x.is_finite()) {
                return Err(located(Error::NonFiniteReward { index, value: self.column[index] }));
            }
            check_shape(&self.column, axis.spec).map_err(located)?;
        }
        // Near the type's largest value, a trial run finds an overflowing advantage before
        // anything is written (the same bound as the single-axis path, with the weights).
        let weight: f64 = spec.axes().iter().map(|a| a.weight.abs()).sum();
        if crate::group::near_max::<T>(crate::group::max_abs(rewards) * weight.max(1.0)) {
            let mut trial = vec![T::from_f64(0.0); rewards.len() / d.max(1)];
            self.compute(rewards, spec, &mut trial)?;
        }
        Ok(())
    }

    /// The weighted sum of the per-axis advantages of a checked `[N, D]` group.
    /// Errors: [`Error::InAxis`] around an axis's overflow, [`Error::AdvantageOverflow`] when
    /// the weighted sum overflows `T`; `out` is written only on success.
    fn compute<T: Reward>(&mut self, rewards: &[T], spec: &MultiSpec, out: &mut [T]) -> Result<()> {
        let d = spec.width();
        let n = out.len();
        self.sum.clear();
        self.sum.resize(n, 0.0);
        self.axis_out.resize(n, 0.0);
        for (a, axis) in spec.axes().iter().enumerate() {
            self.gather(rewards, d, a);
            self.ws
                .compute(&self.column, axis.spec, &mut self.axis_out)
                .map_err(|e| Error::InAxis { axis: a, error: Box::new(e) })?;
            for (s, x) in self.sum.iter_mut().zip(&self.axis_out) {
                *s += axis.weight * x;
            }
        }
        if let Some(index) = self.sum.iter().position(|s| !T::from_f64(*s).to_f64().is_finite()) {
            return Err(Error::advantage_overflow("multi-objective", index, rewards));
        }
        for (o, s) in out.iter_mut().zip(&self.sum) {
            *o = T::from_f64(*s);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Estimator;

    #[test]
    fn errors_name_the_axis_the_group_and_the_value() {
        let spec = MultiSpec::uniform(Spec::new(Estimator::Maxpo, 2), &[1.0, 1.0]).unwrap();
        let err = multi_advantages(&[0.0, 1.0, 0.5, f64::NAN, 1.0, 0.0], &spec).unwrap_err();
        assert_eq!(err.to_string(), "axis 1: reward at index 1 is NaN, rewards must be finite");
        let err = multi_advantages(&[0.0, 1.0, 0.5], &spec).unwrap_err();
        assert_eq!(err.to_string(), "3 rewards cannot be split into rows of 2 axes");
        let err = batch_multi_advantages(&[0.0; 8], 2, &spec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "group 0: axis 0: k = 2 is out of range for maxpo with group size 2 (needs 1 <= k <= N - 1)"
        );
        let err = ragged_multi_advantages(&[0.0; 10], &[0, 3, 4], &spec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid group offsets: last offset is 4, must equal the number of rewards 5"
        );
        let err = MultiSpec::uniform(Spec::new(Estimator::Maxpo, 2), &[1.0, f64::INFINITY]).unwrap_err();
        assert_eq!(err.to_string(), "weight of axis 1 is inf, weights must be finite");
        assert_eq!(MultiSpec::new(vec![]).unwrap_err(), Error::NoAxes);
        let binary = MultiSpec::new(vec![
            Axis::new(Spec::new(Estimator::Maxpo, 1), 1.0),
            Axis::new(Spec::new(Estimator::PasskAnalytic, 1), 1.0),
        ])
        .unwrap();
        let err = multi_advantages(&[0.3, 1.0, 0.1, 0.5], &binary).unwrap_err();
        assert_eq!(
            err.to_string(),
            "axis 1: reward at index 1 is 0.5, but passk-analytic needs binary rewards (0 or 1)"
        );
    }

    #[test]
    fn a_failing_call_writes_nothing() {
        let spec = MultiSpec::uniform(Spec::new(Estimator::Maxpo, 1), &[1.0, 2.0]).unwrap();
        let mut out = [7.0f32; 4];
        // The second group is invalid: the first must not have been written either.
        let rewards = [0.0f32, 1.0, 1.0, 0.0, 0.5, 0.5, 0.5, f32::INFINITY];
        let err = batch_multi_advantages_into(&rewards, 2, &spec, &mut out).unwrap_err();
        assert_eq!(err.to_string(), "group 1: axis 1: reward at index 1 is inf, rewards must be finite");
        assert_eq!(out, [7.0; 4]);
    }

    #[test]
    fn registry_flags() {
        let maxpo = MultiSpec::uniform(Spec::new(Estimator::Maxpo, 2), &[1.0, 1.0]).unwrap();
        assert!(maxpo.is_centered() && maxpo.is_unbiased());
        let std = MultiSpec::uniform(Spec::new(Estimator::Maxpo, 2).with_scale(Scale::Std), &[1.0]).unwrap();
        assert!(std.is_centered() && !std.is_unbiased());
        let mixed = MultiSpec::new(vec![
            Axis::new(Spec::new(Estimator::Maxpo, 2), 1.0),
            Axis::new(Spec::new(Estimator::Pkpo, 2), 1.0),
        ])
        .unwrap();
        assert!(!mixed.is_centered() && mixed.is_unbiased());
    }
}
