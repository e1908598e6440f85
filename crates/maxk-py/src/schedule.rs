//! `maxk._maxk.KSchedule`: [`maxk_core::KSchedule`] for `python/maxk/schedule.py`, which keeps
//! the public dataclass, its input forms (ints, mappings) and the adapters' `ScheduledK`.

use maxk_core::KSchedule;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn value_error(e: maxk_core::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A validated K schedule (the core's); errors are `ValueError` with the core's message.
#[pyclass(frozen, eq, hash, name = "KSchedule", module = "maxk._maxk")]
#[derive(PartialEq, Hash)]
pub struct PyKSchedule(KSchedule);

#[pymethods]
impl PyKSchedule {
    /// `K(step) = k`.
    #[staticmethod]
    fn constant(k: usize) -> PyResult<Self> {
        KSchedule::constant(k).map(PyKSchedule).map_err(value_error)
    }

    /// From `start` at step 0 to `end` at step `steps`, rounded half up, then held.
    #[staticmethod]
    fn linear(start: usize, end: usize, steps: usize) -> PyResult<Self> {
        KSchedule::linear(start, end, steps).map(PyKSchedule).map_err(value_error)
    }

    /// `[(0, k0), (s1, k1), ...]`: the K of the last milestone at or before the step.
    #[staticmethod]
    fn steps(milestones: Vec<(usize, usize)>) -> PyResult<Self> {
        KSchedule::steps(milestones).map(PyKSchedule).map_err(value_error)
    }

    /// The text form: `"4"`, `"linear:2:8:1000"` or `"steps:0=2,100=4"`.
    #[staticmethod]
    fn parse(text: &str) -> PyResult<Self> {
        text.parse().map(PyKSchedule).map_err(value_error)
    }

    /// The known kinds.
    #[staticmethod]
    fn kinds() -> Vec<&'static str> {
        KSchedule::KINDS.to_vec()
    }

    /// `constant`, `linear` or `steps`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// The fields of the kind, as the `kind`-tagged mapping of the trainer's TOML config holds
    /// them: `{"k": ...}`, `{"start": ..., "end": ..., "steps": ...}` or `{"milestones": [...]}`.
    fn fields(&self, py: Python<'_>) -> PyResult<Py<pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        match &self.0 {
            KSchedule::Constant { k } => d.set_item("k", k)?,
            KSchedule::Linear { start, end, steps } => {
                d.set_item("start", start)?;
                d.set_item("end", end)?;
                d.set_item("steps", steps)?;
            }
            KSchedule::Steps { milestones } => d.set_item("milestones", milestones.clone())?,
        }
        Ok(d.unbind())
    }

    /// K at training step `step`.
    fn k_at(&self, step: usize) -> usize {
        self.0.k_at(step)
    }

    /// Every K the schedule can take.
    fn values(&self) -> Vec<usize> {
        self.0.values()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("KSchedule.parse({:?})", self.0.to_string())
    }
}
