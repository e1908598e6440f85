//! # maxk-plot
//!
//! The small plotting layer shared by maxk's experiments and trainer: [`LineChart`] (lines with
//! optional 95% bands, linear or log axes), [`Panels`] (a grid of line charts with one legend,
//! as a paper figure), [`StackedBars`] and [`HeatMaps`] (diverging colour grids with cell
//! text). Every `save(stem)` writes `stem.png` and `stem.svg`.
//!
//! - Text is drawn with a bundled DejaVu Sans (plotters' `ab_glyph` feature), so PNGs render
//!   on machines without fontconfig or system fonts.
//! - Colours are deterministic per series name ([`style_for`]): an estimator id has the same
//!   colour in every figure ([`estimator_style`], one per `maxk_core::Estimator`).
//! - Legends sit in a column right of the plots and never hide data.
//!
//! ```no_run
//! use maxk_plot::{LineChart, Series};
//! let x: Vec<f64> = (1..=100).map(f64::from).collect();
//! let y: Vec<f64> = x.iter().map(|m| 1.0 / m.sqrt()).collect();
//! let lo = y.iter().map(|v| 0.9 * v).collect();
//! let hi = y.iter().map(|v| 1.1 * v).collect();
//! LineChart {
//!     title: "error vs batches".into(),
//!     x_label: "M".into(),
//!     y_label: "relative error".into(),
//!     log_x: true,
//!     log_y: true,
//!     series: vec![Series::new("maxpo", x, y).with_band(lo, hi)],
//! }
//! .save(std::path::Path::new("figures/error"))?;
//! # Ok::<(), maxk_plot::PlotError>(())
//! ```

mod axis;
mod bars;
mod error;
mod figure;
mod heatmap;
mod line;
mod style;

pub use bars::StackedBars;
pub use error::PlotError;
pub use heatmap::{HeatMap, HeatMaps};
pub use line::{LineChart, Panels, Series};
pub use style::{LineStyle, REFERENCE_LINE, estimator_style, style_for};
