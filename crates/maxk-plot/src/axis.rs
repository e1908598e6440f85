//! Axis scaling and tick placement. Log axes are drawn as linear axes over `log10(value)` with
//! ticks chosen here, because plotters' own log ticks leave an axis spanning less than a decade
//! without a single label.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::style::fmt_tick;

/// One axis in plot space (`log10` of the value on a log axis), with its ticks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    pub log: bool,
    /// Plot-space range.
    pub lo: f64,
    pub hi: f64,
    /// Labelled ticks (plot space).
    pub major: Vec<f64>,
    /// Unlabelled grid lines (plot space).
    pub minor: Vec<f64>,
}

impl Axis {
    /// An axis over the data range `[lo, hi]` (values, positive when `log`), padded by `frac`
    /// of its span on each side; a single value gets a span of its own.
    pub fn new((lo, hi): (f64, f64), log: bool, frac: f64) -> Axis {
        let (a, b) = if log { (lo.log10(), hi.log10()) } else { (lo, hi) };
        let d = if b > a {
            (b - a) * frac
        } else if log {
            0.5
        } else {
            a.abs().max(1.0) * 0.1
        };
        let (lo, hi) = (a - d, b + d);
        let (major, minor) = if log { log_ticks(lo, hi) } else { (linear_ticks(lo, hi, 7), Vec::new()) };
        Axis { log, lo, hi, major, minor }
    }

    /// A value in plot space.
    pub fn to_plot(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }

    /// The tick label of a plot-space position.
    pub fn label(&self, p: f64) -> String {
        fmt_tick(if self.log { 10f64.powf(p) } else { p })
    }
}

/// plotters draws an [`Axis`] directly: linear in plot space, bold grid lines and labels at
/// `major`, light grid lines at `minor`.
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = if self.hi > self.lo { (v - self.lo) / (self.hi - self.lo) } else { 0.5 };
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.minor.clone() } else { self.major.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// About `target` ticks at a 1, 2 or 5 times a power of ten step (so integer data gets
/// integer ticks).
fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let raw = (hi - lo) / target as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return vec![lo];
    }
    let p = 10f64.powf(raw.log10().floor());
    // The smallest round step giving at most 30% more ticks than the target.
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|s| *s >= raw / 1.3).unwrap_or(10.0 * p);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Log ticks in log10 space: powers of ten when the axis spans 3+ decades (thinned to at most
/// 9), 1-2-5 multiples over 1 to 3 decades, every 1..9 multiple below a decade, and plain
/// linear ticks when even those give fewer than three. Minor lines at every 1..9 multiple
/// when the axis spans at most 4 decades.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let multiples = |mults: &[f64]| -> Vec<f64> {
        let mut out = Vec::new();
        for e in (lo.floor() as i64)..=(hi.ceil() as i64) {
            for m in mults {
                let p = (*m * 10f64.powi(e as i32)).log10();
                if p >= lo && p <= hi {
                    out.push(p);
                }
            }
        }
        out
    };
    let all: Vec<f64> = multiples(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    let span = hi - lo;
    let major = if span >= 3.0 {
        let powers = multiples(&[1.0]);
        let every = powers.len().div_ceil(9).max(1);
        powers.into_iter().enumerate().filter(|(i, _)| i % every == 0).map(|(_, p)| p).collect()
    } else if span >= 1.0 {
        multiples(&[1.0, 2.0, 5.0])
    } else if all.len() >= 3 {
        all.clone()
    } else {
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        linear_ticks(a, b, 5).into_iter().filter(|v| *v > 0.0).map(f64::log10).collect()
    };
    let minor = if span <= 4.0 { all } else { Vec::new() };
    (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(a: &Axis) -> Vec<String> {
        a.major.iter().map(|p| a.label(*p)).collect()
    }

    #[test]
    fn linear_ticks_are_round() {
        let a = Axis::new((0.0, 1.0), false, 0.0);
        assert_eq!(labels(&a), ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
    }

    #[test]
    fn log_ticks_fit_the_span() {
        let wide = Axis::new((1e-6, 1e3), true, 0.0);
        assert_eq!(labels(&wide), ["1e-6", "1e-4", "0.01", "1", "100"]);
        let mid = Axis::new((1.0, 100.0), true, 0.0);
        assert_eq!(labels(&mid), ["1", "2", "5", "10", "20", "50", "100"]);
        let narrow = Axis::new((0.3, 0.9), true, 0.0);
        assert_eq!(labels(&narrow), ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]);
        let tiny = Axis::new((0.31, 0.34), true, 0.0);
        assert!(labels(&tiny).len() >= 3, "{:?}", labels(&tiny));
    }
}
