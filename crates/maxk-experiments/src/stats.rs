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

/// Two-sided p-value `P(|T| >= |t|)` of Student's t with `df >= 1` degrees of freedom, from
/// the closed form for integer df (Abramowitz & Stegun 26.7.3-4): with `theta = atan(|t|/sqrt(df))`,
/// `P(|T| < |t|)` is `sin(theta) (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)` (terms up to
/// `cos^(df-2)`) for even df and `(2/pi) (theta + sin(theta) (cos + 2/3 cos^3 + ...))` (up to
/// `cos^(df-2)`) for odd df. NaN for `df = 0` or a non-finite `t` other than +-infinity.
pub fn t_two_sided_p(t: f64, df: usize) -> f64 {
    if df == 0 || t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    let theta = (t.abs() / (df as f64).sqrt()).atan();
    let (s, c2) = (theta.sin(), theta.cos().powi(2));
    let inside = if df % 2 == 0 {
        // 1 + sum_{j=1}^{df/2-1} prod_{i<=j} (2i-1)/(2i) cos^(2j)
        let (mut term, mut sum) = (1.0, 1.0);
        for j in 1..df / 2 {
            term *= (2 * j - 1) as f64 / (2 * j) as f64 * c2;
            sum += term;
        }
        s * sum
    } else {
        // cos + sum_{j=1}^{(df-3)/2} prod_{i<=j} (2i)/(2i+1) cos^(2j+1)
        let mut series = 0.0;
        if df > 1 {
            let mut term = theta.cos();
            series = term;
            for j in 1..(df - 1) / 2 {
                term *= (2 * j) as f64 / (2 * j + 1) as f64 * c2;
                series += term;
            }
        }
        2.0 / std::f64::consts::PI * (theta + s * series)
    };
    (1.0 - inside).clamp(0.0, 1.0)
}

/// Holm's step-down adjusted p-values (same order as `p`): with the m p-values sorted
/// ascending, `p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`. Rejecting where `p~ < alpha`
/// controls the family-wise error rate at alpha. A NaN p-value is treated as 1.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |x: f64| if x.is_nan() { 1.0 } else { x };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p[a]).total_cmp(&clean(p[b])));
    let mut out = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * clean(p[i])).min(1.0));
        out[i] = running;
    }
    out
}

/// Bonferroni-adjusted p-values: `min(1, m p)` (a NaN p-value is treated as 1).
pub fn bonferroni(p: &[f64]) -> Vec<f64> {
    let m = p.len() as f64;
    p.iter().map(|&x| if x.is_nan() { 1.0 } else { (m * x).min(1.0) }).collect()
}

/// Least-squares line `y = intercept + slope x` (None with fewer than two distinct x).
pub fn ols(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let (mx, my) = (x[..n].iter().sum::<f64>() / n as f64, y[..n].iter().sum::<f64>() / n as f64);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x[..n].iter().map(|a| (a - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// A regression fitted within each cluster (seed) and summarised over clusters: the
/// intercept and slope of [`ols`] per cluster, each with its t interval over the clusters
/// ([`Ci::of`]), so that the interval covers the variation between clusters (seeds) as well as
/// within them (prompts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClusteredFit {
    /// Intercept over clusters.
    pub intercept: Ci,
    /// Slope over clusters.
    pub slope: Ci,
}

impl ClusteredFit {
    /// Fits `y` on `x` in every cluster (`(x, y)` pairs per cluster); clusters with fewer than
    /// two distinct x are skipped.
    pub fn fit(clusters: &[(Vec<f64>, Vec<f64>)]) -> ClusteredFit {
        let fits: Vec<(f64, f64)> = clusters.iter().filter_map(|(x, y)| ols(x, y)).collect();
        ClusteredFit {
            intercept: Ci::of(&fits.iter().map(|f| f.0).collect::<Vec<_>>()),
            slope: Ci::of(&fits.iter().map(|f| f.1).collect::<Vec<_>>()),
        }
    }

    /// The fitted line at `x` (mean coefficients).
    pub fn at(&self, x: f64) -> f64 {
        self.intercept.mean + self.slope.mean * x
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
    fn t_p_values_match_tables() {
        // Closed forms: df = 1 is Cauchy, P(|T| >= 1) = 1/2; df = 2: P(|T| < t) = t/sqrt(t^2+2).
        assert!((t_two_sided_p(1.0, 1) - 0.5).abs() < 1e-12);
        assert!((t_two_sided_p(1.5, 2) - (1.0 - 1.5 / (2.25f64 + 2.0).sqrt())).abs() < 1e-12);
        // The 0.975 quantiles of the table give p = 0.05 (to their 3-4 digits).
        for df in [1, 2, 3, 7, 8, 15, 30] {
            let p = t_two_sided_p(t975(df), df);
            assert!((p - 0.05).abs() < 2e-4, "df {df}: {p}");
        }
        assert!((t_two_sided_p(-1.959_964, 100_000) - 0.05).abs() < 1e-4);
        assert_eq!(t_two_sided_p(0.0, 5), 1.0);
        assert_eq!(t_two_sided_p(f64::INFINITY, 5), 0.0);
        assert!(t_two_sided_p(1.0, 0).is_nan());
    }

    #[test]
    fn holm_and_bonferroni_match_hand_computations() {
        // Sorted 0.01 < 0.02 < 0.03 < 0.2 (m = 4): 4*0.01 = 0.04, 3*0.02 = 0.06, 2*0.03 = 0.06,
        // 1*0.2 = 0.2, running max keeps them; returned in the input order.
        let adj = holm(&[0.03, 0.2, 0.01, 0.02]);
        for (a, b) in adj.iter().zip([0.06, 0.2, 0.04, 0.06]) {
            assert!((a - b).abs() < 1e-12, "{adj:?}");
        }
        // The running maximum: 0.01 -> 0.03, 0.011 -> 0.022 raised to 0.03; and the cap at 1.
        let adj = holm(&[0.011, 0.01, 0.9]);
        for (a, b) in adj.iter().zip([0.03, 0.03, 0.9]) {
            assert!((a - b).abs() < 1e-12, "{adj:?}");
        }
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
        assert_eq!(holm(&[f64::NAN]), vec![1.0]);
        assert_eq!(bonferroni(&[0.01, 0.5, f64::NAN]), vec![0.03, 1.0, 1.0]);
    }

    #[test]
    fn clustered_regression_matches_hand_computation() {
        // y = 1 + 2x exactly: intercept 1, slope 2.
        let (a, b) = ols(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
        // (0,0),(1,1),(2,1): mean x 1, mean y 2/3, sxy = 1, sxx = 2: slope 1/2, intercept 1/6.
        let (a, b) = ols(&[0.0, 1.0, 2.0], &[0.0, 1.0, 1.0]).unwrap();
        assert!((a - 1.0 / 6.0).abs() < 1e-12 && (b - 0.5).abs() < 1e-12);
        assert!(ols(&[1.0, 1.0], &[0.0, 1.0]).is_none());
        // Two clusters with slopes 1 and 3: mean 2, t_1 = 12.706, sd sqrt(2), se 1.
        let fit = ClusteredFit::fit(&[
            (vec![0.0, 1.0], vec![0.0, 1.0]),
            (vec![0.0, 1.0], vec![1.0, 4.0]),
            (vec![5.0], vec![1.0]),
        ]);
        assert_eq!(fit.slope.n, 2);
        assert!((fit.slope.mean - 2.0).abs() < 1e-12 && (fit.slope.hi - 2.0 - 12.706).abs() < 1e-9);
        assert!((fit.intercept.mean - 0.5).abs() < 1e-12);
        assert!((fit.at(1.0) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn slope_of_a_power_law() {
        let x: Vec<f64> = (0..10).map(|i| 2f64.powi(i)).collect();
        let y: Vec<f64> = x.iter().map(|m| 3.0 / m.sqrt()).collect();
        assert!((log_log_slope(&x, &y, 1.0) + 0.5).abs() < 1e-12);
        assert!(log_log_slope(&x, &y, 1e9).is_nan());
    }
}
