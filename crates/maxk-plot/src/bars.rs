//! Stacked bar charts (e.g. a time breakdown per configuration).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;
use crate::figure::{LegendEntry, Render, frame, save_both};
use crate::style::{FONT, assign_styles, fmt_tick};

/// One bar per category; each bar stacks the stacks' values bottom-up in the order given.
///
/// ```no_run
/// use maxk_plot::StackedBars;
/// let bars = StackedBars {
///     title: "time per step".into(),
///     categories: vec!["grpo".into(), "maxpo".into()],
///     stacks: vec![("sample".into(), vec![3.0, 3.0]), ("update".into(), vec![1.0, 1.1])],
///     y_label: "seconds".into(),
/// };
/// bars.save(std::path::Path::new("out/time"))?;
/// # Ok::<(), maxk_plot::PlotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StackedBars {
    /// Caption above the plot.
    pub title: String,
    /// One bar per category, labelled on the x axis.
    pub categories: Vec<String>,
    /// `(name, values)` with one finite, non-negative value per category.
    pub stacks: Vec<(String, Vec<f64>)>,
    /// y-axis description.
    pub y_label: String,
}

impl StackedBars {
    /// Writes `stem.png` and `stem.svg` (the parent folder is created).
    pub fn save(&self, stem: &Path) -> Result<(), PlotError> {
        for (name, values) in &self.stacks {
            if values.len() != self.categories.len() {
                return Err(PlotError::StackLength {
                    stack: name.clone(),
                    got: values.len(),
                    expected: self.categories.len(),
                });
            }
            if let Some((i, &v)) = values.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
                return Err(PlotError::BadBarValue {
                    stack: name.clone(),
                    category: self.categories[i].clone(),
                    value: v,
                });
            }
        }
        if self.categories.is_empty() || self.stacks.is_empty() {
            return Err(PlotError::Empty {
                chart: self.title.clone(),
                hint: " (no categories or no stacks)",
            });
        }
        let styles = assign_styles(self.stacks.iter().map(|(n, _)| n.as_str()));
        let entries = self
            .stacks
            .iter()
            .rev() // top of the stack first, as the bars read
            .map(|(n, _)| LegendEntry { name: n.clone(), style: styles[n], filled: true })
            .collect();
        save_both(stem, &BarsFigure { bars: self, entries })
    }
}

struct BarsFigure<'a> {
    bars: &'a StackedBars,
    entries: Vec<LegendEntry>,
}

impl Render for BarsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let width = (self.bars.categories.len() as u32 * 90).clamp(560, 1400);
        (width + crate::figure::legend_width(&self.entries), 460)
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let plots = frame(root, "", &self.entries)?;
        let b = self.bars;
        let n = b.categories.len();
        let top = (0..n).map(|i| b.stacks.iter().map(|(_, v)| v[i]).sum::<f64>()).fold(0.0, f64::max);
        let top = if top > 0.0 { top * 1.08 } else { 1.0 };
        let mut cc = ChartBuilder::on(&plots)
            .caption(&b.title, (FONT, 21))
            .margin(14)
            .x_label_area_size(52)
            .y_label_area_size(78)
            // `a..b` as a discrete axis holds b - a + 1 values, so `0..n - 1` makes n bars.
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)
            .map_err(err)?;
        cc.configure_mesh()
            .disable_x_mesh()
            .y_desc(&b.y_label)
            .axis_desc_style((FONT, 17))
            .label_style((FONT, 14))
            .x_labels(n)
            .y_labels(8)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => b.categories.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|v| fmt_tick(*v))
            .bold_line_style(RGBColor(210, 210, 210))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(err)?;
        let margin = (plots.dim_in_pixel().0 / (n as u32 * 6)).min(40);
        let mut base = vec![0.0; n];
        for (name, values) in &b.stacks {
            let colour = self.entries.iter().find(|e| &e.name == name).map_or(BLACK, |e| e.style.colour);
            let rects = (0..n).map(|i| {
                let (y0, y1) = (base[i], base[i] + values[i]);
                let mut r = Rectangle::new(
                    [(SegmentValue::Exact(i), y0), (SegmentValue::Exact(i + 1), y1)],
                    colour.filled(),
                );
                r.set_margin(0, 0, margin, margin);
                r
            });
            cc.draw_series(rects).map_err(err)?;
            for i in 0..n {
                base[i] += values[i];
            }
        }
        Ok(())
    }
}
