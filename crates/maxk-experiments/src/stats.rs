//! Means and 95% confidence intervals over seeds.
//!
//! The interval is Student's t: `mean +- t_{0.975, n-1} * s / sqrt(n)` with `s` the unbiased
//! standard deviation, which is exact for normal data and honest for the few seeds (5 to 30)
//! the experiments use.

use serde::Serialize;

/// A mean with its 95% confidence interval over `n` values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ci {
    /// Sample mean.
    pub mean: f64,
    /// Lower end of the 95% interval.
    pub lo: f64,
    /// Upper end of the 95% interval.
    pub hi: f64,
    /// Number of values.
    pub n: usize,
}

impl Ci {
    /// Mean and t-interval of `values` (non-finite values are skipped). One value gives a
    /// zero-width interval, none gives NaN.
    pub fn of(values: &[f64]) -> Ci {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return Ci { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Ci { mean, lo: mean, hi: mean, n };
        }
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t975(n - 1) * (var / n as f64).sqrt();
        Ci { mean, lo: mean - half, hi: mean + half, n }
    }

    /// Geometric mean and interval: [`Ci::of`] on `ln(values)`, mapped back with `exp`. Suits
    /// positive, heavy-tailed quantities such as variances and their ratios (plotted on log
    /// axes); non-positive and non-finite values are skipped.
    pub fn geometric(values: &[f64]) -> Ci {
        let logs: Vec<f64> = values.iter().filter(|v| v.is_finite() && **v > 0.0).map(|v| v.ln()).collect();
        let c = Ci::of(&logs);
        Ci { mean: c.mean.exp(), lo: c.lo.exp(), hi: c.hi.exp(), n: c.n }
    }

    /// An exact value: a zero-width interval with `n = 0` (no sampling behind it).
    pub fn exact(value: f64) -> Ci {
        Ci { mean: value, lo: value, hi: value, n: 0 }
    }

    /// Whether the whole interval lies above `x`.
    pub fn above(&self, x: f64) -> bool {
        self.lo > x
    }

    /// Whether the whole interval lies below `x`.
    pub fn below(&self, x: f64) -> bool {
        self.hi < x
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (table to 30, then the
/// Cornish-Fisher expansion to second order, within 1e-3 of the exact value).
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => {
            let (z, n) = (1.959_964f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * n) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
        }
    }
}

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

/// Least-squares slope of `log y` on `log x` over the points with `x >= x_min` and `y > 0`
/// (NaN with fewer than two such points).
pub fn log_log_slope(x: &[f64], y: &[f64], x_min: f64) -> f64 {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|&(&a, &b)| a >= x_min && a > 0.0 && b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .collect();
    if pts.len() < 2 {
        return f64::NAN;
    }
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_matches_hand_computation() {
        // mean 2, s = 1, n = 3: half width 4.303 / sqrt(3).
        let ci = Ci::of(&[1.0, 2.0, 3.0]);
        assert!((ci.mean - 2.0).abs() < 1e-15);
        assert!((ci.hi - 2.0 - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert!(ci.below(10.0) && !ci.above(0.0) && Ci::of(&[1.0, 1.1, 0.9]).above(0.5));
        assert_eq!(Ci::of(&[5.0, f64::NAN]).n, 1);
        assert!(Ci::of(&[]).mean.is_nan());
        let g = Ci::geometric(&[1.0, 100.0, -1.0]);
        assert!((g.mean - 10.0).abs() < 1e-12 && g.n == 2 && g.lo < 10.0 && g.hi > 10.0);
    }

    #[test]
    fn t_quantile_is_continuous_past_the_table() {
        assert!((t975(31) - 2.0395).abs() < 1e-3);
        assert!((t975(1000) - 1.962).abs() < 1e-3);
    }

    #[test]
    fn slope_of_a_power_law() {
        let x: Vec<f64> = (0..10).map(|i| 2f64.powi(i)).collect();
        let y: Vec<f64> = x.iter().map(|m| 3.0 / m.sqrt()).collect();
        assert!((log_log_slope(&x, &y, 1.0) + 0.5).abs() < 1e-12);
        assert!(log_log_slope(&x, &y, 1e9).is_nan());
    }
}
