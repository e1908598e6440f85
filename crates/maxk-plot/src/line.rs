//! Line charts with optional confidence bands, alone or as a grid of panels.

use std::collections::HashMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::axis::Axis;
use crate::figure::{LegendEntry, Render, frame, save_both};
use crate::style::{FONT, LineStyle, assign_styles};

/// One line: points `(x[i], y[i])` and an optional band `lower[i] <= y <= upper[i]` (e.g. a
/// 95% confidence interval) drawn as a translucent area in the line's colour.
///
/// Points with a non-finite coordinate, or a non-positive one on a log axis, are skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend name; also picks the colour (see [`crate::style_for`]).
    pub name: String,
    /// x values.
    pub x: Vec<f64>,
    /// y values, one per x.
    pub y: Vec<f64>,
    /// `(lower, upper)`, one each per x.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

impl Series {
    /// A series without band.
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { name: name.into(), x, y, band: None }
    }

    /// The same series with a band.
    pub fn with_band(self, lower: Vec<f64>, upper: Vec<f64>) -> Series {
        Series { band: Some((lower, upper)), ..self }
    }

    fn check(&self) -> Result<(), PlotError> {
        let mismatch =
            |y, what| PlotError::LengthMismatch { series: self.name.clone(), x: self.x.len(), y, what };
        if self.y.len() != self.x.len() {
            return Err(mismatch(self.y.len(), "y"));
        }
        if let Some((lo, hi)) = &self.band {
            if lo.len() != self.x.len() {
                return Err(mismatch(lo.len(), "band lower"));
            }
            if hi.len() != self.x.len() {
                return Err(mismatch(hi.len(), "band upper"));
            }
        }
        Ok(())
    }
}

/// A line chart: several [`Series`] on linear or log axes, legend on the right.
///
/// ```no_run
/// use maxk_plot::{LineChart, Series};
/// let chart = LineChart {
///     title: "relative error".into(),
///     x_label: "batches M".into(),
///     y_label: "error".into(),
///     log_x: true,
///     log_y: true,
///     series: vec![Series::new("maxpo", vec![1.0, 10.0, 100.0], vec![1.0, 0.3, 0.1])],
/// };
/// chart.save(std::path::Path::new("out/error"))?; // out/error.png and out/error.svg
/// # Ok::<(), maxk_plot::PlotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    /// Caption above the plot.
    pub title: String,
    /// x-axis description.
    pub x_label: String,
    /// y-axis description.
    pub y_label: String,
    /// Log-scaled x axis (base 10).
    pub log_x: bool,
    /// Log-scaled y axis (base 10).
    pub log_y: bool,
    /// The lines, drawn in order (later ones on top).
    pub series: Vec<Series>,
}

impl LineChart {
    /// Writes `stem.png` and `stem.svg` (the parent folder is created).
    pub fn save(&self, stem: &Path) -> Result<(), PlotError> {
        Panels { title: String::new(), columns: 1, charts: vec![self.clone()] }.save(stem)
    }
}

/// Several line charts in a grid with one shared legend, as a multi-panel paper figure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panels {
    /// Figure title above all panels (empty for none).
    pub title: String,
    /// Panels per row (at least 1).
    pub columns: usize,
    /// The panels, row by row.
    pub charts: Vec<LineChart>,
}

/// Pixel size of one panel.
const CELL: (u32, u32) = (640, 440);

impl Panels {
    /// Writes `stem.png` and `stem.svg` (the parent folder is created).
    pub fn save(&self, stem: &Path) -> Result<(), PlotError> {
        let prepared = self.charts.iter().map(Prepared::new).collect::<Result<Vec<_>, _>>()?;
        let names = self.charts.iter().flat_map(|c| c.series.iter().map(|s| s.name.as_str()));
        let styles = assign_styles(names.clone());
        let mut entries: Vec<LegendEntry> = Vec::new();
        for n in names {
            if !entries.iter().any(|e| e.name == n) {
                entries.push(LegendEntry { name: n.to_string(), style: styles[n], filled: false });
            }
        }
        save_both(stem, &PanelsFigure { panels: self, prepared, styles, entries })
    }

    fn grid(&self) -> (usize, usize) {
        let cols = self.columns.clamp(1, self.charts.len().max(1));
        (self.charts.len().div_ceil(cols).max(1), cols)
    }
}

struct PanelsFigure<'a> {
    panels: &'a Panels,
    prepared: Vec<Prepared>,
    styles: HashMap<String, LineStyle>,
    entries: Vec<LegendEntry>,
}

impl Render for PanelsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.panels.grid();
        let title = if self.panels.title.is_empty() { 0 } else { crate::figure::TITLE_HEIGHT };
        let legend = crate::figure::legend_width(&self.entries);
        (cols as u32 * CELL.0 + legend, rows as u32 * CELL.1 + title)
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let plots = frame(root, &self.panels.title, &self.entries)?;
        let cells = plots.split_evenly(self.panels.grid());
        for ((cell, chart), prep) in cells.iter().zip(&self.panels.charts).zip(&self.prepared) {
            panel(cell, chart, prep, &self.styles)?;
        }
        Ok(())
    }
}

/// A chart's drawable points (finite, positive on log axes) in plot space, and its axes.
struct Prepared {
    lines: Vec<Vec<(f64, f64)>>,
    bands: Vec<Vec<(f64, f64, f64)>>,
    x: Axis,
    y: Axis,
}

impl Prepared {
    fn new(chart: &LineChart) -> Result<Prepared, PlotError> {
        let ok_x = |x: f64| x.is_finite() && (!chart.log_x || x > 0.0);
        let ok_y = |y: f64| y.is_finite() && (!chart.log_y || y > 0.0);
        let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut bands: Vec<Vec<(f64, f64, f64)>> = Vec::new();
        for s in &chart.series {
            s.check()?;
            let pts =
                s.x.iter().zip(&s.y).map(|(&x, &y)| (x, y)).filter(|&(x, y)| ok_x(x) && ok_y(y)).collect();
            lines.push(pts);
            let band = match &s.band {
                Some((lo, hi)) => (0..s.x.len())
                    .map(|i| (s.x[i], lo[i], hi[i]))
                    .filter(|&(x, lo, hi)| ok_x(x) && lo.is_finite() && ok_y(hi))
                    .collect(),
                None => Vec::new(),
            };
            bands.push(band);
        }
        let xs = lines.iter().flatten().map(|p| p.0).chain(bands.iter().flatten().map(|b| b.0));
        let ys = lines
            .iter()
            .flatten()
            .map(|p| p.1)
            .chain(bands.iter().flatten().flat_map(|b| [b.1, b.2]))
            .filter(|&y| ok_y(y));
        let hint = if chart.log_x || chart.log_y { " (log axes show only positive values)" } else { "" };
        let empty = || PlotError::Empty { chart: chart.title.clone(), hint };
        let x = Axis::new(min_max(xs).ok_or_else(empty)?, chart.log_x, 0.02);
        let y = Axis::new(min_max(ys).ok_or_else(empty)?, chart.log_y, 0.06);
        for line in &mut lines {
            for p in line.iter_mut() {
                *p = (x.to_plot(p.0), y.to_plot(p.1));
            }
        }
        for band in &mut bands {
            for b in band.iter_mut() {
                // A band edge at or below zero on a log axis is drawn at the axis' bottom.
                let lo = if y.log && b.1 <= 0.0 { y.lo } else { y.to_plot(b.1).max(y.lo) };
                *b = (x.to_plot(b.0), lo, y.to_plot(b.2));
            }
        }
        Ok(Prepared { lines, bands, x, y })
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

fn panel<DB: DrawingBackend>(
    cell: &DrawingArea<DB, Shift>,
    chart: &LineChart,
    prep: &Prepared,
    styles: &HashMap<String, LineStyle>,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut cc = ChartBuilder::on(cell)
        .caption(&chart.title, (FONT, 21))
        .margin(14)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(prep.x.clone(), prep.y.clone())
        .map_err(err)?;
    cc.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 14))
        .x_label_formatter(&|v| prep.x.label(*v))
        .y_label_formatter(&|v| prep.y.label(*v))
        .bold_line_style(RGBColor(205, 205, 205))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(err)?;
    for (s, band) in chart.series.iter().zip(&prep.bands) {
        if band.len() >= 2 {
            let colour = styles[&s.name].colour;
            let outline: Vec<(f64, f64)> =
                band.iter().map(|b| (b.0, b.2)).chain(band.iter().rev().map(|b| (b.0, b.1))).collect();
            cc.draw_series(std::iter::once(Polygon::new(outline, colour.mix(0.16).filled()))).map_err(err)?;
        }
    }
    // Dashed series mark lines expected to coincide with a solid one: draw them last, on top.
    let mut order: Vec<usize> = (0..chart.series.len()).collect();
    order.sort_by_key(|&i| styles[&chart.series[i].name].dashed);
    for i in order {
        let (s, line) = (&chart.series[i], &prep.lines[i]);
        let st = styles[&s.name];
        let stroke = st.colour.stroke_width(2);
        if line.len() == 1 {
            cc.draw_series(std::iter::once(Circle::new(line[0], 4, st.colour.filled()))).map_err(err)?;
        } else if st.dashed {
            cc.draw_series(DashedLineSeries::new(line.iter().copied(), 9, 6, stroke)).map_err(err)?;
        } else {
            cc.draw_series(LineSeries::new(line.iter().copied(), stroke)).map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_skip_non_positive_points() {
        let chart = LineChart {
            log_y: true,
            series: vec![Series::new("a", vec![1.0, 2.0, 3.0], vec![0.0, 1.0, 100.0])],
            ..LineChart::default()
        };
        let p = Prepared::new(&chart).unwrap();
        assert_eq!(p.lines[0], vec![(2.0, 0.0), (3.0, 2.0)]);
        assert!(p.y.lo < 0.0 && p.y.hi > 2.0);
    }

    #[test]
    fn nothing_drawable_is_an_error() {
        let chart = LineChart {
            title: "t".into(),
            log_x: true,
            series: vec![Series::new("a", vec![-1.0], vec![1.0])],
            ..LineChart::default()
        };
        let e = Prepared::new(&chart).err().unwrap();
        assert!(e.to_string().contains("chart `t` has no finite point"), "{e}");
    }
}
