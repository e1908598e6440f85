//! Means and 95% confidence intervals over seeds, the Student-t distribution they rest on,
//! p-value corrections for families of comparisons, and least-squares fits.
//!
//! Two interval types, for two sampling designs:
//! - [`Ci`]: `n` independent values (one per seed), `mean +- t_{0.975, n-1} s / sqrt(n)` with
//!   `s` the unbiased standard deviation; exact for normal data and honest for the few seeds
//!   (3 to 30) the studies use.
//! - [`Paired`]: a `[seeds][problems]` matrix of paired differences with both the seeds and
//!   the problems random (crossed random effects), `t_{S-1}` at the seed level ([`paired`]).
//!
//! [`t975`] is the exact quantile (to double precision), not a rounded table: it inverts the
//! closed-form distribution function of [`t_two_sided_p`].

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
        let half = t975(n - 1) * (sample_var(&v) / n as f64).sqrt();
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

/// Unbiased sample variance `sum (x - mean)^2 / (n - 1)` (divided by 1 when `n = 1`).
pub fn sample_var(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)
}

/// A mean difference with its 95% interval at the seed level, problems clustered ([`paired`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    /// Mean over seeds and problems.
    pub mean: f64,
    /// Half-width of the 95% interval.
    pub half: f64,
    /// Seeds that entered.
    pub seeds: usize,
}

impl Paired {
    /// Lower end of the interval, `mean - half`.
    pub fn lo(&self) -> f64 {
        self.mean - self.half
    }

    /// Upper end of the interval, `mean + half`.
    pub fn hi(&self) -> f64 {
        self.mean + self.half
    }

    /// Two-sided p-value of "mean = 0": `t = mean / SE` with `SE = half / t_{0.975, S-1}` and
    /// `S - 1` degrees of freedom (NaN with one seed, where the interval is normal, or a
    /// non-finite half-width).
    pub fn p_value(&self) -> f64 {
        if self.seeds < 2 || !self.half.is_finite() {
            return f64::NAN;
        }
        let df = self.seeds - 1;
        let se = self.half / t975(df);
        if se == 0.0 {
            return if self.mean == 0.0 { 1.0 } else { 0.0 };
        }
        t_two_sided_p(self.mean / se, df)
    }
}

/// The 0.975 quantile of the standard normal distribution.
const Z975: f64 = 1.959_963_984_540_054;

/// Interval of the mean of a `[seeds][problems]` matrix of paired differences `d[s][j]`
/// (e.g. `pass@k_a - pass@k_b` of two models on the same problems, matched by seed) with both
/// the seeds (training randomness) and the problems (test-set sampling) treated as random:
/// crossed random effects, `SE^2 = Var_seeds(row means) / S + Var_problems(column means) / J`,
/// half-width `t_{0.975, S-1} SE` (Student's t at the seed level, the coarser of the two
/// samples); with one seed only the problem term and `z_{0.975}` remain. Rows are cut to the
/// shortest; no seed or no problem gives NaN.
pub fn paired(d: &[Vec<f64>]) -> Paired {
    let s = d.len();
    let j = d.iter().map(Vec::len).min().unwrap_or(0);
    if s == 0 || j == 0 {
        return Paired { mean: f64::NAN, half: f64::NAN, seeds: s };
    }
    let rows: Vec<f64> = d.iter().map(|r| r[..j].iter().sum::<f64>() / j as f64).collect();
    let cols: Vec<f64> = (0..j).map(|c| d.iter().map(|r| r[c]).sum::<f64>() / s as f64).collect();
    let mean = rows.iter().sum::<f64>() / s as f64;
    let prob = sample_var(&cols) / j as f64;
    let half =
        if s > 1 { t975(s - 1) * (sample_var(&rows) / s as f64 + prob).sqrt() } else { Z975 * prob.sqrt() };
    Paired { mean, half, seeds: s }
}

/// Degrees of freedom above which [`t975`] uses the Cornish-Fisher expansion: there its
/// fifth term is below 1e-15, and the exact inversion would sum `df / 2` terms per step.
const T975_SERIES_DF: usize = 1000;

/// The 0.975 quantile `t_{0.975, df}` of Student's t with `df` degrees of freedom (the
/// half-width factor of a two-sided 95% interval), exact to double precision: the root of
/// `P(|T| >= t) = 0.05` ([`t_two_sided_p`], closed form) by bisection for `df <= 1000`; above,
/// the Cornish-Fisher expansion in `1/df` to the fourth order (Abramowitz & Stegun 26.7.5),
/// whose remainder is below 1e-15 there. Infinite for `df = 0`.
///
/// ```
/// use maxk_study::stats::t975;
/// assert!((t975(1) - 12.706_204_736).abs() < 1e-8);
/// assert!((t975(30) - 2.042_272_456).abs() < 1e-8);
/// ```
pub fn t975(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=T975_SERIES_DF => {
            // t975 decreases from tan(0.475 pi) = 12.706... (df = 1) to z = 1.95996... (df -> inf).
            let (mut lo, mut hi) = (Z975, 13.0);
            loop {
                let mid = 0.5 * (lo + hi);
                if mid <= lo || mid >= hi {
                    return mid;
                }
                if t_two_sided_p(mid, df) > 0.05 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
        }
        _ => {
            let (z, n) = (Z975, df as f64);
            let z2 = z * z;
            let g1 = z * (z2 + 1.0) / 4.0;
            let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
            let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
            let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
            z + (g1 + (g2 + (g3 + g4 / n) / n) / n) / n
        }
    }
}

/// Two-sided p-value `P(|T| >= |t|)` of Student's t with `df >= 1` degrees of freedom, from
/// the closed form for integer df (Abramowitz & Stegun 26.7.3-4): with `theta = atan(|t|/sqrt(df))`,
/// `P(|T| < |t|)` is `sin(theta) (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)` (terms up to
/// `cos^(df-2)`) for even df and `(2/pi) (theta + sin(theta) (cos + 2/3 cos^3 + ...))` (up to
/// `cos^(df-2)`) for odd df. NaN for `df = 0` or a NaN `t`; 0 for an infinite `t`.
pub fn t_two_sided_p(t: f64, df: usize) -> f64 {
    if df == 0 || t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    let theta = (t.abs() / (df as f64).sqrt()).atan();
    let (s, c2) = (theta.sin(), theta.cos().powi(2));
    let inside = if df.is_multiple_of(2) {
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
/// controls the family-wise error rate at alpha (Holm 1979). A NaN p-value is treated as 1.
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

/// Least-squares line `y = intercept + slope x` as `(intercept, slope)` over the first
/// `min(len)` pairs (None with fewer than two distinct x).
pub fn ols(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let (x, y) = (&x[..n], &y[..n]);
    let (mx, my) = (x.iter().sum::<f64>() / n as f64, y.iter().sum::<f64>() / n as f64);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
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

/// Least-squares slope of `log y` on `log x` over the points with `x >= x_min` and `y > 0`
/// (NaN with fewer than two such points).
pub fn log_log_slope(x: &[f64], y: &[f64], x_min: f64) -> f64 {
    let (lx, ly): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|&(&a, &b)| a >= x_min && a > 0.0 && b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .unzip();
    ols(&lx, &ly).map_or(f64::NAN, |(_, slope)| slope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `qt(0.975, df)` of R (10 significant digits), the reference values of the quantile.
    const QT975: [(usize, f64); 10] = [
        (1, 12.706_204_74),
        (2, 4.302_652_730),
        (3, 3.182_446_305),
        (4, 2.776_445_105),
        (7, 2.364_624_252),
        (10, 2.228_138_852),
        (30, 2.042_272_456),
        (31, 2.039_513_446),
        (100, 1.983_971_519),
        (1000, 1.962_339_081),
    ];

    #[test]
    fn t_quantile_matches_reference_values() {
        for (df, want) in QT975 {
            let got = t975(df);
            assert!((got - want).abs() < 2e-9 * want, "df {df}: {got} vs {want}");
        }
        // Closed forms: df = 1 is Cauchy, tan(0.475 pi); df = 2 solves t / sqrt(t^2 + 2) = 0.95.
        assert!((t975(1) - (0.475 * std::f64::consts::PI).tan()).abs() < 1e-12);
        assert!((t975(2) - (2.0 * 0.9025f64 / 0.0975).sqrt()).abs() < 1e-13);
        assert_eq!(t975(0), f64::INFINITY);
        assert!((t975(usize::MAX) - Z975).abs() < 1e-15);
    }

    #[test]
    fn t_quantile_inverts_the_distribution_on_both_sides_of_the_switch() {
        for df in (1..=1000).step_by(37).chain([999, 1000, 1001, 1500, 4000, 100_000]) {
            // p at t975 is 0.05; the series branch is checked against the exact distribution
            // (whose own rounding grows with its df / 2 terms).
            let p = t_two_sided_p(t975(df), df);
            assert!((p - 0.05).abs() < 1e-12, "df {df}: p = {p}");
        }
        for df in 2..3000 {
            assert!(t975(df) < t975(df - 1), "t975 decreases in df at {df}");
        }
    }

    #[test]
    fn interval_matches_hand_computation() {
        // mean 2, s = 1, n = 3: half width t_{0.975, 2} / sqrt(3).
        let ci = Ci::of(&[1.0, 2.0, 3.0]);
        assert!((ci.mean - 2.0).abs() < 1e-15);
        assert!((ci.hi - 2.0 - 4.302_652_730 / 3f64.sqrt()).abs() < 1e-9);
        assert!(ci.below(10.0) && !ci.above(0.0) && Ci::of(&[1.0, 1.1, 0.9]).above(0.5));
        assert_eq!(Ci::of(&[5.0, f64::NAN]).n, 1);
        assert!(Ci::of(&[]).mean.is_nan());
        let g = Ci::geometric(&[1.0, 100.0, -1.0]);
        assert!((g.mean - 10.0).abs() < 1e-12 && g.n == 2 && g.lo < 10.0 && g.hi > 10.0);
        assert_eq!(Ci::exact(0.5), Ci { mean: 0.5, lo: 0.5, hi: 0.5, n: 0 });
    }

    #[test]
    fn t_p_values_match_tables() {
        // Closed forms: df = 1 is Cauchy, P(|T| >= 1) = 1/2; df = 2: P(|T| < t) = t/sqrt(t^2+2).
        assert!((t_two_sided_p(1.0, 1) - 0.5).abs() < 1e-12);
        assert!((t_two_sided_p(1.5, 2) - (1.0 - 1.5 / (2.25f64 + 2.0).sqrt())).abs() < 1e-12);
        for (df, t) in QT975 {
            let p = t_two_sided_p(t, df);
            assert!((p - 0.05).abs() < 1e-9, "df {df}: {p}");
        }
        assert!((t_two_sided_p(-Z975, 100_000) - 0.05).abs() < 1e-4);
        assert_eq!(t_two_sided_p(0.0, 5), 1.0);
        assert_eq!(t_two_sided_p(f64::INFINITY, 5), 0.0);
        assert!(t_two_sided_p(1.0, 0).is_nan());
        assert!(t_two_sided_p(f64::NAN, 3).is_nan());
    }

    #[test]
    fn paired_interval_matches_hand_computation() {
        // Two seeds, two problems: rows means 0.15, 0.35 (var 0.02), column means 0.2, 0.3
        // (var 0.005): SE^2 = 0.02/2 + 0.005/2 = 0.0125, half = t_{0.975,1} sqrt(0.0125).
        let i = paired(&[vec![0.1, 0.2], vec![0.3, 0.4]]);
        assert!((i.mean - 0.25).abs() < 1e-15 && i.seeds == 2);
        assert!((i.half - 12.706_204_74 * 0.0125f64.sqrt()).abs() < 1e-8);
        assert!((i.lo() - (0.25 - i.half)).abs() < 1e-15 && (i.hi() - (0.25 + i.half)).abs() < 1e-15);
        // One seed: the problem term alone with z.
        let one = paired(&[vec![0.0, 0.2, 0.4, 0.6]]);
        let var = sample_var(&[0.0, 0.2, 0.4, 0.6]);
        assert!((one.half - Z975 * (var / 4.0).sqrt()).abs() < 1e-15);
        assert!(one.p_value().is_nan());
        assert!(paired(&[]).mean.is_nan() && paired(&[vec![]]).half.is_nan());
        // Ragged rows are cut to the shortest.
        assert_eq!(paired(&[vec![0.1, 0.2, 9.0], vec![0.3, 0.4]]), i);
    }

    #[test]
    fn paired_p_value_is_the_t_test_of_the_interval() {
        // At the edge of the 95% interval (mean = half) the p-value is 0.05.
        let edge = Paired { mean: 0.3, half: 0.3, seeds: 5 };
        assert!((edge.p_value() - 0.05).abs() < 1e-12);
        assert_eq!(Paired { mean: 0.0, half: 0.0, seeds: 3 }.p_value(), 1.0);
        assert_eq!(Paired { mean: 0.1, half: 0.0, seeds: 3 }.p_value(), 0.0);
        assert!(Paired { mean: 0.1, half: f64::NAN, seeds: 3 }.p_value().is_nan());
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

    proptest! {
        /// Holm lies between the raw p-values and Bonferroni, and keeps their order.
        #[test]
        fn holm_between_raw_and_bonferroni(p in proptest::collection::vec(0.0f64..=1.0, 1..12)) {
            let (h, b) = (holm(&p), bonferroni(&p));
            for i in 0..p.len() {
                prop_assert!(p[i] <= h[i] && h[i] <= b[i] + 1e-15);
                for j in 0..p.len() {
                    if p[i] < p[j] {
                        prop_assert!(h[i] <= h[j]);
                    }
                }
            }
        }
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
        // Two clusters with slopes 1 and 3: mean 2, sd sqrt(2), se 1: half t_{0.975, 1}.
        let fit = ClusteredFit::fit(&[
            (vec![0.0, 1.0], vec![0.0, 1.0]),
            (vec![0.0, 1.0], vec![1.0, 4.0]),
            (vec![5.0], vec![1.0]),
        ]);
        assert_eq!(fit.slope.n, 2);
        assert!((fit.slope.mean - 2.0).abs() < 1e-12 && (fit.slope.hi - 2.0 - 12.706_204_74).abs() < 1e-8);
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
