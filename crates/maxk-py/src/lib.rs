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

use maxk_core::{Error, Estimator, Reward, Scale, Spec};
use numpy::{Element, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// `ValueError(str(e))`; errors of one group of a batch also carry the group as attributes
/// (`group`: index in a dense batch, or `group_id`: the u64 id of `grouped_advantages`) and the
/// inner message as `reason`, so that the Python layer can name the caller's own group id.
fn value_error(py: Python<'_>, e: Error) -> PyErr {
    let err = PyValueError::new_err(e.to_string());
    let (attr, group, source) = match &e {
        Error::InGroup { group, source } => ("group", *group as u64, source),
        Error::InGroupId { id, source } => ("group_id", *id, source),
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
) -> PyResult<Bound<'py, PyAny>> {
    let input = rewards.try_readonly()?;
    let shape = input.shape().to_vec();
    let r = input.as_slice()?;
    let out = PyArrayDyn::<T>::zeros(py, shape.as_slice(), false);
    {
        let mut output = out.try_readwrite()?;
        let o = output.as_slice_mut()?;
        let result = match *shape.as_slice() {
            [_] => py.detach(|| maxk_core::advantages_into(r, spec, o)),
            [_, n] => py.detach(|| maxk_core::batch_advantages_into(r, n, spec, o)),
            _ => return Err(rank_error("rewards", shape.len(), "[N] or [G, N]")),
        };
        result.map_err(|e| value_error(py, e))?;
    }
    Ok(out.into_any())
}

/// Advantages of a 1-D array grouped by a u64 id per sample.
fn grouped<'py, T: Reward + Element>(
    py: Python<'py>,
    rewards: &Bound<'py, PyArrayDyn<T>>,
    ids: &[u64],
    spec: Spec,
) -> PyResult<Bound<'py, PyAny>> {
    let input = rewards.try_readonly()?;
    if input.ndim() != 1 {
        return Err(rank_error("scores", input.ndim(), "[B]"));
    }
    let r = input.as_slice()?;
    let out = PyArrayDyn::<T>::zeros(py, input.shape(), false);
    {
        let mut output = out.try_readwrite()?;
        let o = output.as_slice_mut()?;
        py.detach(|| maxk_core::grouped_advantages_into(r, ids, spec, o)).map_err(|e| value_error(py, e))?;
    }
    Ok(out.into_any())
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
#[pyo3(signature = (rewards, k, estimator = "maxpo", scale = "none"))]
fn advantages<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    k: usize,
    estimator: &str,
    scale: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec(py, k, estimator, scale)?;
    if let Ok(a) = rewards.cast::<PyArrayDyn<f64>>() {
        dense(py, a, spec)
    } else if let Ok(a) = rewards.cast::<PyArrayDyn<f32>>() {
        dense(py, a, spec)
    } else {
        Err(unsupported("rewards", rewards))
    }
}

/// grouped_advantages(scores, group_ids, k, estimator, scale) -> ndarray
///
/// Advantages of a 1-D float32/float64 `scores` array whose sample i belongs to group
/// `group_ids[i]` (uint64, any order, groups of any size); output in the original order.
#[pyfunction]
#[pyo3(signature = (scores, group_ids, k, estimator = "maxpo", scale = "none"))]
fn grouped_advantages<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    group_ids: &Bound<'py, PyAny>,
    k: usize,
    estimator: &str,
    scale: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec(py, k, estimator, scale)?;
    let ids = group_ids.cast::<PyArrayDyn<u64>>().map_err(|_| {
        PyTypeError::new_err("group_ids must be a C-contiguous uint64 numpy array of shape [B]")
    })?;
    let ids = ids.try_readonly()?;
    if ids.ndim() != 1 {
        return Err(rank_error("group_ids", ids.ndim(), "[B]"));
    }
    let ids = ids.as_slice()?;
    if let Ok(a) = scores.cast::<PyArrayDyn<f64>>() {
        grouped(py, a, ids, spec)
    } else if let Ok(a) = scores.cast::<PyArrayDyn<f32>>() {
        grouped(py, a, ids, spec)
    } else {
        Err(unsupported("scores", scores))
    }
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

/// The private native module of `maxk`; use the public API in `maxk` instead.
#[pymodule]
fn _maxk(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(advantages, m)?)?;
    m.add_function(wrap_pyfunction!(grouped_advantages, m)?)?;
    m.add_function(wrap_pyfunction!(max_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(pass_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(estimator_table, m)?)?;
    m.add_function(wrap_pyfunction!(scales, m)?)?;
    Ok(())
}
