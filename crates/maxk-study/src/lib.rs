//! # maxk-study
//!
//! What the maxk studies share (the synthetic experiments of `maxk-experiments` and the
//! tiny-transformer reproductions of `maxk-trainer`), so that both compute an interval, decide
//! a verdict and read a config the same way:
//!
//! - [`stats`]: means with Student-t 95% intervals over seeds ([`stats::Ci`]), paired
//!   seed-level intervals with problems clustered ([`stats::paired`]), the exact t quantile
//!   and p-value ([`stats::t975`], [`stats::t_two_sided_p`]), Holm and Bonferroni
//!   corrections, least squares per cluster.
//! - [`verdict`]: every verdict a typed value ([`Verdict`], [`Outcome`]), every rule a pure
//!   function over typed results with its text (`RULE_*`) for the report.
//! - [`config`]: a config is its defaults (a value of its type) with TOML overlays applied in
//!   order (preset, file, `key=value` overrides); unknown keys and wrong types are errors
//!   naming the origin, line and key path ([`ConfigError`]).
//!
//! ```
//! use maxk_study::stats::{Ci, paired};
//! use maxk_study::verdict::{Outcome, Verdict, difference, majority};
//!
//! // Four seeds of a variance ratio: the interval lies above 1, the claim is confirmed.
//! let ratio = Ci::of(&[1.8, 2.1, 1.6, 2.4]);
//! assert_eq!(majority(&[ratio], 1.0), Verdict::Confirmed);
//! // pass@k of model a minus model b on 3 problems (columns), 4 seeds (rows).
//! let d = paired(&[vec![0.1, 0.3, 0.2], vec![0.2, 0.2, 0.3], vec![0.2, 0.3, 0.2], vec![0.3, 0.2, 0.2]]);
//! assert_eq!(difference(d), Outcome::Holds);
//! assert_eq!(difference(d).to_string(), "holds");
//! ```

pub mod config;
pub mod stats;
pub mod verdict;

pub use config::{Assignment, ConfigError, Overlay};
pub use stats::{Ci, Paired};
pub use verdict::{Outcome, Verdict};
