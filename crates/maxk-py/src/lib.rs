//! `maxk._maxk`: the private native module behind the `maxk` Python package.
//!
//! A thin layer and nothing more: it borrows contiguous float32/float64 numpy arrays without
//! copying, releases the GIL, calls [`maxk_core`] and turns [`maxk_core::Error`] into `ValueError`
//! with the same message (its `Display`). There is no maths here and none in Python; the public
//! API, its dtype/shape/torch handling and the docs live in `python/maxk/__init__.py`.
//!
//! Every function expects what the Python layer guarantees (a C-contiguous float32 or float64
//! array of the right rank, non-negative integers), and still checks it: bad input is a Python
//! exception, never a panic.

mod schedule;

use maxk_core::{Diagnostics, Error, Estimator, Reward, Scale, SmallGroups, Spec};
use numpy::{Element, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `ValueError(str(e))`; errors of one group of a batch also carry the group as attributes
/// (`group`: index in a dense batch, or `group_id`: the u64 id of `grouped_advantages`) and the
/// inner message as `reason`, so that the Python layer can name the caller's own group id.
fn value_error(py: Python<'_>, e: Error) -> PyErr {
    let err = PyValueError::new_err(e.to_string());
    let (attr, group, source) = match &e {
        Error::InGroup { group, error } => ("group", *group as u64, error),
        Error::InGroupId { id, error } => ("group_id", *id, error),
        _ => return err,
    };
    let value = err.value(py);
    // Setting an attribute on a fresh ValueError cannot fail; if it ever did, the plain error
    // is still the right thing to raise.
    let _ = value.setattr(attr, group).and_then(|()| value.setattr("reason", source.to_string()));
    err
}

fn spec(py: Python<'_>, k: usize, estimator: &str, scale: &str) -> PyResult<Spec> {
    let estimator: Estimator = estimator.parse().map_err(|e| value_error(py, e))?;
    let scale: Scale = scale.parse().map_err(|e| value_error(py, e))?;
    Ok(Spec::new(estimator, k).with_scale(scale))
}

fn rule(py: Python<'_>, small_groups: &str) -> PyResult<SmallGroups> {
    small_groups.parse().map_err(|e| value_error(py, e))
}

fn unsupported(what: &str, rewards: &Bound<'_, PyAny>) -> PyErr {
    let got = rewards.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("{what} must be a C-contiguous float32 or float64 numpy array, got {got}"))
}

fn rank_error(what: &str, ndim: usize, allowed: &str) -> PyErr {
    PyValueError::new_err(format!("{what} must have shape {allowed}, got an array with {ndim} dimensions"))
}

/// Advantages of a dense array: `[N]` is one group, `[G, N]` is G groups of N.
fn dense<'py, T: Reward + Element>(
    py: Python<'py>,
    rewards: &Bound<'py, PyArrayDyn<T>>,
    spec: Spec,
    rule: SmallGroups,
) -> PyResult<Bound<'py, PyAny>> {
    let input = rewards.try_readonly()?;
    let shape = input.shape().to_vec();
    let r = input.as_slice()?;
    let out = PyArrayDyn::<T>::zeros(py, shape.as_slice(), false);
    {
        let mut output = out.try_readwrite()?;
        let o = output.as_slice_mut()?;
        let result = match *shape.as_slice() {
            [_] if rule == SmallGroups::Error => py.detach(|| maxk_core::advantages_into(r, spec, o)),
            [n] => py.detach(|| maxk_core::ragged_advantages_with(r, &[0, n], spec, rule, o).map(drop)),
            [_, n] if rule == SmallGroups::Error => {
                py.detach(|| maxk_core::batch_advantages_into(r, n, spec, o))
            }
            [_, n] => py.detach(|| maxk_core::batch_advantages_with(r, n, spec, rule, o).map(drop)),
            _ => return Err(rank_error("rewards", shape.len(), "[N] or [G, N]")),
        };
        result.map_err(|e| value_error(py, e))?;
    }
    Ok(out.into_any())
}

/// Advantages of a 1-D array grouped by a u64 id per sample, and their diagnostics when asked.
fn grouped<'py, T: Reward + Element>(
    py: Python<'py>,
    rewards: &Bound<'py, PyArrayDyn<T>>,
    ids: &[u64],
    spec: Spec,
    rule: SmallGroups,
    with_diagnostics: bool,
) -> PyResult<(Bound<'py, PyAny>, Option<Diagnostics>)> {
    let input = rewards.try_readonly()?;
    if input.ndim() != 1 {
        return Err(rank_error("scores", input.ndim(), "[B]"));
    }
    let r = input.as_slice()?;
    let out = PyArrayDyn::<T>::zeros(py, input.shape(), false);
    let diagnostics = {
        let mut output = out.try_readwrite()?;
        let o = output.as_slice_mut()?;
        let result = if with_diagnostics {
            py.detach(|| maxk_core::grouped_step(r, ids, spec, rule, o).map(Some))
        } else if rule == SmallGroups::Error {
            py.detach(|| maxk_core::grouped_advantages_into(r, ids, spec, o).map(|()| None))
        } else {
            py.detach(|| maxk_core::grouped_advantages_with(r, ids, spec, rule, o).map(|_| None))
        };
        result.map_err(|e| value_error(py, e))?
    };
    Ok((out.into_any(), diagnostics))
}

/// The diagnostics as a Python dict (`rho_k` is None when no group has K samples).
fn diagnostics_dict<'py>(py: Python<'py>, d: &Diagnostics) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("groups", d.groups)?;
    out.set_item("samples", d.samples)?;
    out.set_item("k", d.k)?;
    out.set_item("reward_mean", d.reward_mean)?;
    out.set_item("rho_k", d.rho_k)?;
    out.set_item("rho_groups", d.rho_groups)?;
    out.set_item("no_signal_groups", d.no_signal_groups)?;
    out.set_item("no_signal_share", d.no_signal_share)?;
    out.set_item("small_groups", d.small_groups.groups())?;
    out.set_item("small_groups_zeroed", d.small_groups.zeroed)?;
    out.set_item("small_groups_shrunk", d.small_groups.shrunk)?;
    out.set_item("small_groups_centered_ei", d.small_groups.centered_ei)?;
    out.set_item("small_group_samples", d.small_groups.samples)?;
    out.set_item("centering_residual", d.centering_residual)?;
    out.set_item("adv_mean", d.adv_mean)?;
    out.set_item("adv_std", d.adv_std)?;
    out.set_item("adv_abs_max", d.adv_abs_max)?;
    Ok(out)
}

fn ids_slice<'py>(group_ids: &Bound<'py, PyAny>) -> PyResult<numpy::PyReadonlyArrayDyn<'py, u64>> {
    let ids = group_ids.cast::<PyArrayDyn<u64>>().map_err(|_| {
        PyTypeError::new_err("group_ids must be a C-contiguous uint64 numpy array of shape [B]")
    })?;
    let ids = ids.try_readonly()?;
    if ids.ndim() != 1 {
        return Err(rank_error("group_ids", ids.ndim(), "[B]"));
    }
    Ok(ids)
}

/// rho per group: a float for `[N]`, a float64 array `[G]` for `[G, N]`.
fn rho<'py, T: Reward + Element>(
    py: Python<'py>,
    rewards: &Bound<'py, PyArrayDyn<T>>,
    k: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let input = rewards.try_readonly()?;
    let r = input.as_slice()?;
    match *input.shape() {
        [_] => {
            let rho = py.detach(|| maxk_core::max_at_k(r, k)).map_err(|e| value_error(py, e))?;
            Ok(rho.into_pyobject(py)?.into_any())
        }
        [_, n] => {
            let rho = py.detach(|| maxk_core::batch_max_at_k(r, n, k)).map_err(|e| value_error(py, e))?;
            Ok(PyArray1::from_vec(py, rho).into_any())
        }
        _ => Err(rank_error("rewards", input.ndim(), "[N] or [G, N]")),
    }
}

/// advantages(rewards, k, estimator, scale) -> ndarray
///
/// Advantages of one group (`rewards` of shape [N]) or of G groups of N ([G, N]), same dtype
/// (float32 or float64) and shape as `rewards`. Raises ValueError with maxk-core's message.
#[pyfunction]
#[pyo3(signature = (rewards, k, estimator = "maxpo", scale = "none", small_groups = "error"))]
fn advantages<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    k: usize,
    estimator: &str,
    scale: &str,
    small_groups: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec(py, k, estimator, scale)?;
    let rule = rule(py, small_groups)?;
    if let Ok(a) = rewards.cast::<PyArrayDyn<f64>>() {
        dense(py, a, spec, rule)
    } else if let Ok(a) = rewards.cast::<PyArrayDyn<f32>>() {
        dense(py, a, spec, rule)
    } else {
        Err(unsupported("rewards", rewards))
    }
}

/// grouped_advantages(scores, group_ids, k, estimator, scale, small_groups) -> ndarray
///
/// Advantages of a 1-D float32/float64 `scores` array whose sample i belongs to group
/// `group_ids[i]` (uint64, any order, groups of any size); output in the original order.
#[pyfunction]
#[pyo3(signature = (scores, group_ids, k, estimator = "maxpo", scale = "none", small_groups = "error"))]
fn grouped_advantages<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    group_ids: &Bound<'py, PyAny>,
    k: usize,
    estimator: &str,
    scale: &str,
    small_groups: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec(py, k, estimator, scale)?;
    let rule = rule(py, small_groups)?;
    let ids = ids_slice(group_ids)?;
    let ids = ids.as_slice()?;
    let (out, _) = if let Ok(a) = scores.cast::<PyArrayDyn<f64>>() {
        grouped(py, a, ids, spec, rule, false)?
    } else if let Ok(a) = scores.cast::<PyArrayDyn<f32>>() {
        grouped(py, a, ids, spec, rule, false)?
    } else {
        return Err(unsupported("scores", scores));
    };
    Ok(out)
}

/// grouped_step(scores, group_ids, k, estimator, scale, small_groups) -> (ndarray, dict)
///
/// `grouped_advantages` plus the step's diagnostics (maxk-core `grouped_step`).
#[pyfunction]
#[pyo3(signature = (scores, group_ids, k, estimator = "maxpo", scale = "none", small_groups = "error"))]
fn grouped_step<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    group_ids: &Bound<'py, PyAny>,
    k: usize,
    estimator: &str,
    scale: &str,
    small_groups: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let spec = spec(py, k, estimator, scale)?;
    let rule = rule(py, small_groups)?;
    let ids = ids_slice(group_ids)?;
    let ids = ids.as_slice()?;
    let (out, d) = if let Ok(a) = scores.cast::<PyArrayDyn<f64>>() {
        grouped(py, a, ids, spec, rule, true)?
    } else if let Ok(a) = scores.cast::<PyArrayDyn<f32>>() {
        grouped(py, a, ids, spec, rule, true)?
    } else {
        return Err(unsupported("scores", scores));
    };
    let d = d.ok_or_else(|| PyValueError::new_err("internal: grouped_step returned no diagnostics"))?;
    Ok((out, diagnostics_dict(py, &d)?))
}

/// grouped_diagnostics(rewards, group_ids, advantages, k, estimator, scale, small_groups) -> dict
///
/// Diagnostics of given float64 `advantages`; with `estimator`, also the groups that
/// `small_groups` would handle for it.
#[pyfunction]
#[pyo3(signature = (rewards, group_ids, advantages, k, estimator = None, scale = "none", small_groups = "error"))]
#[allow(clippy::too_many_arguments)]
fn grouped_diagnostics<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    group_ids: &Bound<'py, PyAny>,
    advantages: &Bound<'py, PyAny>,
    k: usize,
    estimator: Option<&str>,
    scale: &str,
    small_groups: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let plan = match estimator {
        Some(e) => Some((spec(py, k, e, scale)?, rule(py, small_groups)?)),
        None => None,
    };
    let ids = ids_slice(group_ids)?;
    let ids = ids.as_slice()?;
    let as_f64 = |x: &Bound<'py, PyAny>, what: &str| -> PyResult<numpy::PyReadonlyArrayDyn<'py, f64>> {
        let a = x.cast::<PyArrayDyn<f64>>().map_err(|_| {
            PyTypeError::new_err(format!("{what} must be a C-contiguous float64 numpy array of shape [B]"))
        })?;
        let a = a.try_readonly()?;
        if a.ndim() != 1 {
            return Err(rank_error(what, a.ndim(), "[B]"));
        }
        Ok(a)
    };
    let r = as_f64(rewards, "rewards")?;
    let a = as_f64(advantages, "advantages")?;
    let (r, a) = (r.as_slice()?, a.as_slice()?);
    let d =
        py.detach(|| maxk_core::grouped_diagnostics(r, ids, a, k, plan)).map_err(|e| value_error(py, e))?;
    diagnostics_dict(py, &d)
}

/// grouped_max_at_k(rewards, group_ids, k) -> (float | None, int, int)
///
/// The mean of rho_K over the groups with at least K samples, their number, and the number
/// of groups left out for having fewer (maxk-core `grouped_max_at_k`).
#[pyfunction]
fn grouped_max_at_k<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    group_ids: &Bound<'py, PyAny>,
    k: usize,
) -> PyResult<(Option<f64>, usize, usize)> {
    let ids = ids_slice(group_ids)?;
    let ids = ids.as_slice()?;
    let r = rewards.cast::<PyArrayDyn<f64>>().map_err(|_| unsupported("rewards", rewards))?;
    let r = r.try_readonly()?;
    if r.ndim() != 1 {
        return Err(rank_error("rewards", r.ndim(), "[B]"));
    }
    let r = r.as_slice()?;
    let v = py.detach(|| maxk_core::grouped_max_at_k(r, ids, k)).map_err(|e| value_error(py, e))?;
    Ok((v.value, v.groups, v.skipped))
}

/// small_groups_rules() -> list[str]
///
/// The ids of the small-group rules, in registry order.
#[pyfunction]
fn small_groups_rules() -> Vec<&'static str> {
    SmallGroups::ALL.iter().map(|r| r.id()).collect()
}

/// max_at_k(rewards, k) -> float | ndarray
///
/// rho_K, the unbiased max@K estimate (mean of the max over all K-subsets): a float for one
/// group [N], a float64 array [G] for G groups [G, N]. Needs 1 <= k <= N.
#[pyfunction]
fn max_at_k<'py>(py: Python<'py>, rewards: &Bound<'py, PyAny>, k: usize) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(a) = rewards.cast::<PyArrayDyn<f64>>() {
        rho(py, a, k)
    } else if let Ok(a) = rewards.cast::<PyArrayDyn<f32>>() {
        rho(py, a, k)
    } else {
        Err(unsupported("rewards", rewards))
    }
}

/// pass_at_k(n, c, k) -> float
///
/// The unbiased pass@k estimate 1 - C(n-c, k)/C(n, k) from n samples of which c are correct.
#[pyfunction]
fn pass_at_k(py: Python<'_>, n: usize, c: usize, k: usize) -> PyResult<f64> {
    maxk_core::pass_at_k(n, c, k).map_err(|e| value_error(py, e))
}

/// One row of [`estimator_table`].
type EstimatorRow =
    (&'static str, &'static str, bool, bool, &'static str, &'static str, bool, &'static str, usize);

/// estimator_table() -> list[tuple[str, str, bool, bool, str, str, bool, str, int]]
///
/// The core registry in order: (id, description, centered, pg_unbiased, pg_factor, objective,
/// uses_k, valid_k, min_group_size), the fields of `maxk estimators --json`.
#[pyfunction]
fn estimator_table() -> Vec<EstimatorRow> {
    Estimator::ALL
        .iter()
        .map(|e| {
            (
                e.id(),
                e.description(),
                e.is_centered(),
                e.is_unbiased(),
                e.pg_factor_formula(),
                e.objective(),
                e.uses_k(),
                e.k_range().requirement(),
                e.min_group_size(),
            )
        })
        .collect()
}

/// scales() -> list[str]
///
/// The ids of the post-estimator scalings, in registry order.
#[pyfunction]
fn scales() -> Vec<&'static str> {
    Scale::ALL.iter().map(|s| s.id()).collect()
}

/// The multi-objective spec from per-axis lists of equal length D.
fn multi_spec(
    py: Python<'_>,
    ks: &[usize],
    estimators: &[String],
    scales: &[String],
    weights: &[f64],
) -> PyResult<maxk_core::MultiSpec> {
    let d = weights.len();
    if ks.len() != d || estimators.len() != d || scales.len() != d {
        return Err(PyValueError::new_err(format!(
            "per-axis lists must all have length {d}: got {} ks, {} estimators, {} scales",
            ks.len(),
            estimators.len(),
            scales.len()
        )));
    }
    let axes = (0..d)
        .map(|a| Ok(maxk_core::Axis::new(spec(py, ks[a], &estimators[a], &scales[a])?, weights[a])))
        .collect::<PyResult<Vec<_>>>()?;
    maxk_core::MultiSpec::new(axes).map_err(|e| value_error(py, e))
}

/// Multi-objective advantages of `[N, D]`, `[G, N, D]`, or `[B, D]` with CSR `offsets`.
fn multi_dense<'py, T: Reward + Element>(
    py: Python<'py>,
    rewards: &Bound<'py, PyArrayDyn<T>>,
    offsets: Option<&[usize]>,
    spec: &maxk_core::MultiSpec,
) -> PyResult<Bound<'py, PyAny>> {
    let input = rewards.try_readonly()?;
    let shape = input.shape().to_vec();
    let r = input.as_slice()?;
    // Output shape, D, and how the samples are grouped.
    let (out_shape, d, group_size) = match (shape.as_slice(), offsets) {
        (&[n, d], _) => (vec![n], d, None),
        (&[g, n, d], None) => (vec![g, n], d, Some(n)),
        (_, None) => return Err(rank_error("rewards", shape.len(), "[N, D] or [G, N, D]")),
        (_, Some(_)) => return Err(rank_error("rewards", shape.len(), "[B, D] with offsets")),
    };
    if d != spec.width() {
        return Err(PyValueError::new_err(format!(
            "rewards have {d} axes (last dimension) but {} weights were given",
            spec.width()
        )));
    }
    let out = PyArrayDyn::<T>::zeros(py, out_shape.as_slice(), false);
    {
        let mut output = out.try_readwrite()?;
        let o = output.as_slice_mut()?;
        let result = match (offsets, group_size) {
            (Some(offsets), _) => py.detach(|| maxk_core::ragged_multi_advantages_into(r, offsets, spec, o)),
            (None, Some(n)) => py.detach(|| maxk_core::batch_multi_advantages_into(r, n, spec, o)),
            (None, None) => py.detach(|| maxk_core::multi_advantages_into(r, spec, o)),
        };
        result.map_err(|e| value_error(py, e))?;
    }
    Ok(out.into_any())
}

/// multi_advantages(rewards, ks, estimators, scales, weights, offsets=None) -> ndarray
///
/// Multi-objective advantages `sum_d weights[d] * A^d` of float32/float64 `rewards` of shape
/// [N, D] (one group), [G, N, D] (G groups) or [B, D] with CSR `offsets` (ragged groups of
/// samples); the per-axis lists have length D. Output [N], [G, N] or [B], same dtype.
#[pyfunction]
#[pyo3(signature = (rewards, ks, estimators, scales, weights, offsets = None))]
fn multi_advantages<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    ks: Vec<usize>,
    estimators: Vec<String>,
    scales: Vec<String>,
    weights: Vec<f64>,
    offsets: Option<Vec<usize>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = multi_spec(py, &ks, &estimators, &scales, &weights)?;
    let offsets = offsets.as_deref();
    if let Ok(a) = rewards.cast::<PyArrayDyn<f64>>() {
        multi_dense(py, a, offsets, &spec)
    } else if let Ok(a) = rewards.cast::<PyArrayDyn<f32>>() {
        multi_dense(py, a, offsets, &spec)
    } else {
        Err(unsupported("rewards", rewards))
    }
}

fn mixture(py: Python<'_>, text: &str) -> PyResult<maxk_core::Mixture> {
    text.parse().map_err(|e| value_error(py, e))
}

/// Mixture advantages of `[N]`, `[G, N]`, or `[B]` grouped by `group_ids`.
fn mixture_dense<'py, T: Reward + Element>(
    py: Python<'py>,
    rewards: &Bound<'py, PyArrayDyn<T>>,
    mix: &maxk_core::Mixture,
    group_ids: Option<&[u64]>,
) -> PyResult<Bound<'py, PyAny>> {
    let input = rewards.try_readonly()?;
    let shape = input.shape().to_vec();
    let r = input.as_slice()?;
    let result = match (shape.as_slice(), group_ids) {
        ([_], Some(ids)) => py.detach(|| maxk_core::grouped_mixture_advantages(r, ids, mix)),
        ([_], None) => py.detach(|| maxk_core::mixture_advantages(r, mix)),
        ([_, n], None) => py.detach(|| maxk_core::batch_mixture_advantages(r, *n, mix)),
        (_, Some(_)) => return Err(rank_error("scores", shape.len(), "[B] with group_ids")),
        _ => return Err(rank_error("rewards", shape.len(), "[N] or [G, N]")),
    };
    let out = result.map_err(|e| value_error(py, e))?;
    Ok(PyArray1::from_vec(py, out).reshape(shape.as_slice())?.into_any())
}

/// mixture_advantages(rewards, mixture, group_ids=None) -> ndarray
///
/// Advantages for the mixture `sum_k w_k J_k` (text form `harmonic` or `k:w,k:w`) of one group
/// [N], G groups [G, N], or a 1-D batch [B] whose sample i is in group `group_ids[i]` (uint64);
/// same dtype and shape as `rewards`.
#[pyfunction]
#[pyo3(signature = (rewards, mixture, group_ids = None))]
fn mixture_advantages<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    mixture: &str,
    group_ids: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mix = self::mixture(py, mixture)?;
    let ids = group_ids.map(ids_slice).transpose()?;
    let ids = ids.as_ref().map(|i| i.as_slice()).transpose()?;
    if let Ok(a) = rewards.cast::<PyArrayDyn<f64>>() {
        mixture_dense(py, a, &mix, ids)
    } else if let Ok(a) = rewards.cast::<PyArrayDyn<f32>>() {
        mixture_dense(py, a, &mix, ids)
    } else {
        Err(unsupported("rewards", rewards))
    }
}

/// mixture_terms(mixture) -> list[tuple[int, float]] | None
///
/// The parsed terms `(k, w)` of a mixture's text form; None for `harmonic` (its K list depends on N).
#[pyfunction]
fn mixture_terms(py: Python<'_>, mixture: &str) -> PyResult<Option<Vec<(usize, f64)>>> {
    Ok(match self::mixture(py, mixture)? {
        maxk_core::Mixture::Terms(t) => Some(t.iter().map(|t| (t.k, t.weight)).collect()),
        _ => None,
    })
}

/// mixture_value(rewards, mixture) -> float
///
/// The unbiased estimate `sum_k w_k rho_k` of the mixture objective for one float64 group [N].
#[pyfunction]
fn mixture_value(py: Python<'_>, rewards: Vec<f64>, mixture: &str) -> PyResult<f64> {
    let mix = self::mixture(py, mixture)?;
    mix.value(&rewards).map_err(|e| value_error(py, e))
}

fn maj_spec(py: Python<'_>, k: usize, ties: &str) -> PyResult<maxk_core::MajSpec> {
    let ties: maxk_core::Ties = ties.parse().map_err(|e| value_error(py, e))?;
    Ok(maxk_core::MajSpec::new(k).with_ties(ties))
}

/// maj_advantages(answers, correct, k, ties="split", group_ids=None) -> ndarray
///
/// maj@K advantages `U_K(B) - U_K(B without i)` (float64 [B]) of uint64 answer ids and bool
/// verdicts [B]: one group, or groups by uint64 `group_ids`.
#[pyfunction]
#[pyo3(signature = (answers, correct, k, ties = "split", group_ids = None))]
fn maj_advantages<'py>(
    py: Python<'py>,
    answers: numpy::PyReadonlyArray1<'py, u64>,
    correct: numpy::PyReadonlyArray1<'py, bool>,
    k: usize,
    ties: &str,
    group_ids: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let spec = maj_spec(py, k, ties)?;
    let (a, c) = (answers.as_slice()?, correct.as_slice()?);
    let ids = group_ids.map(ids_slice).transpose()?;
    let ids = ids.as_ref().map(|i| i.as_slice()).transpose()?;
    let out = match ids {
        Some(ids) => py.detach(|| maxk_core::grouped_maj_advantages(a, c, ids, spec)),
        None => py.detach(|| maxk_core::maj_advantages(a, c, spec)),
    }
    .map_err(|e| value_error(py, e))?;
    Ok(PyArray1::from_vec(py, out))
}

/// maj_at_k(answers, correct, k, ties="split") -> float
///
/// The unbiased maj@K estimate `U_K(B)` of one group (uint64 answer ids, bool verdicts).
#[pyfunction]
#[pyo3(signature = (answers, correct, k, ties = "split"))]
fn maj_at_k<'py>(
    py: Python<'py>,
    answers: numpy::PyReadonlyArray1<'py, u64>,
    correct: numpy::PyReadonlyArray1<'py, bool>,
    k: usize,
    ties: &str,
) -> PyResult<f64> {
    let spec = maj_spec(py, k, ties)?;
    maxk_core::maj_at_k(answers.as_slice()?, correct.as_slice()?, spec).map_err(|e| value_error(py, e))
}

/// plan(rates, n, k, target=None, actions=None) -> dict
///
/// `maxk plan` (maxk-core `plan::plan`): informative-group share, exact Var(EI)/Var(MaxPO) and
/// the smallest N reaching `target`.
#[pyfunction]
#[pyo3(signature = (rates, n, k, target = None, actions = None))]
fn plan<'py>(
    py: Python<'py>,
    rates: Vec<f64>,
    n: usize,
    k: usize,
    target: Option<f64>,
    actions: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let p =
        py.detach(|| maxk_core::plan::plan(&rates, n, k, target, actions)).map_err(|e| value_error(py, e))?;
    let out = PyDict::new(py);
    out.set_item("n", p.n)?;
    out.set_item("k", p.k)?;
    out.set_item("prompts", p.prompts)?;
    out.set_item("mean_rate", p.mean_rate)?;
    out.set_item("informative_share", p.informative_share)?;
    out.set_item("informative_limit", p.informative_limit)?;
    out.set_item("var_ei", p.var_ei)?;
    out.set_item("var_maxpo", p.var_maxpo)?;
    out.set_item("var_ratio_ei_over_maxpo", p.var_ratio)?;
    out.set_item("target", p.target)?;
    out.set_item("smallest_n", p.smallest_n)?;
    Ok(out)
}

/// The private native module of `maxk`; use the public API in `maxk` instead.
#[pymodule]
fn _maxk(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(advantages, m)?)?;
    m.add_function(wrap_pyfunction!(grouped_advantages, m)?)?;
    m.add_function(wrap_pyfunction!(grouped_step, m)?)?;
    m.add_function(wrap_pyfunction!(grouped_diagnostics, m)?)?;
    m.add_function(wrap_pyfunction!(grouped_max_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(small_groups_rules, m)?)?;
    m.add_function(wrap_pyfunction!(multi_advantages, m)?)?;
    m.add_function(wrap_pyfunction!(max_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(pass_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(estimator_table, m)?)?;
    m.add_function(wrap_pyfunction!(scales, m)?)?;
    m.add_function(wrap_pyfunction!(mixture_advantages, m)?)?;
    m.add_function(wrap_pyfunction!(mixture_value, m)?)?;
    m.add_function(wrap_pyfunction!(mixture_terms, m)?)?;
    m.add_function(wrap_pyfunction!(maj_advantages, m)?)?;
    m.add_function(wrap_pyfunction!(maj_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_class::<schedule::PyKSchedule>()?;
    Ok(())
}
