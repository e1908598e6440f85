//! The statistics of the experiments: maxk-study's ([`maxk_study::stats`], re-exported here
//! for the crates that still import them from this path) and [`Curve`], one line of a figure
//! with its 95% band.

pub use maxk_study::stats::*;
use serde::Serialize;

/// One line of a figure: a mean and 95% interval over seeds at each x.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// Legend name (an estimator id).
    pub name: String,
    /// x values.
    pub x: Vec<f64>,
    /// Mean and interval at each x.
    pub ci: Vec<Ci>,
}

impl Curve {
    /// The curve from per-x samples over seeds (`samples[i]` are the values at `x[i]`).
    pub fn from_samples(name: impl Into<String>, x: Vec<f64>, samples: &[Vec<f64>]) -> Curve {
        Curve { name: name.into(), x, ci: samples.iter().map(|s| Ci::of(s)).collect() }
    }

    /// [`Curve::from_samples`] with geometric means ([`Ci::geometric`]).
    pub fn geometric(name: impl Into<String>, x: Vec<f64>, samples: &[Vec<f64>]) -> Curve {
        Curve { name: name.into(), x, ci: samples.iter().map(|s| Ci::geometric(s)).collect() }
    }

    /// The plot series: the mean with the interval as band.
    pub fn series(&self) -> maxk_plot::Series {
        maxk_plot::Series::new(self.name.clone(), self.x.clone(), self.ci.iter().map(|c| c.mean).collect())
            .with_band(self.ci.iter().map(|c| c.lo).collect(), self.ci.iter().map(|c| c.hi).collect())
    }

    /// The interval at the last x.
    pub fn last(&self) -> Option<Ci> {
        self.ci.last().copied()
    }
}
