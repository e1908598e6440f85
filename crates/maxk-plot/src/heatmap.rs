//! Heat maps: a grid of cells coloured on a diverging scale around a centre value, each with
//! its own text, side by side as panels.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::PlotError;
use crate::figure::{TITLE_HEIGHT, save_both};
use crate::style::FONT;

/// One heat-map panel: `values[row][col]` coloured on a diverging scale, `labels[row][col]`
/// written in the cell. A non-finite value is drawn grey.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeatMap {
    /// Caption above the panel.
    pub title: String,
    /// One name per row (top to bottom).
    pub rows: Vec<String>,
    /// One name per column (left to right).
    pub columns: Vec<String>,
    /// The coloured values, `values[row][col]`.
    pub values: Vec<Vec<f64>>,
    /// The text of each cell, `labels[row][col]` (may be empty).
    pub labels: Vec<Vec<String>>,
}

/// Several heat maps side by side sharing one colour scale, with a colour key.
///
/// ```no_run
/// use maxk_plot::{HeatMap, HeatMaps};
/// let panel = HeatMap {
///     title: "A = 8".into(),
///     rows: vec!["p = 0.5".into()],
///     columns: vec!["K = 2".into(), "K = 4".into()],
///     values: vec![vec![0.3, -0.1]],
///     labels: vec![vec!["1.23".into(), "0.93".into()]],
/// };
/// HeatMaps {
///     title: "log2 ratio".into(),
///     centre: 0.0,
///     span: 1.0,
///     low_label: "raises".into(),
///     high_label: "lowers".into(),
///     panels: vec![panel],
/// }
/// .save(std::path::Path::new("out/map"))?;
/// # Ok::<(), maxk_plot::PlotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeatMaps {
    /// Figure title (empty for none).
    pub title: String,
    /// The value drawn white.
    pub centre: f64,
    /// `centre +- span` get the full colours (values beyond are clipped); must be > 0.
    pub span: f64,
    /// Key text for values below the centre (drawn red).
    pub low_label: String,
    /// Key text for values above the centre (drawn blue).
    pub high_label: String,
    /// The panels, left to right.
    pub panels: Vec<HeatMap>,
}

const CELL_W: u32 = 118;
const CELL_H: u32 = 46;
const ROW_LABELS: u32 = 170;
const KEY_H: u32 = 60;

impl HeatMaps {
    /// Writes `stem.png` and `stem.svg` (the parent folder is created).
    pub fn save(&self, stem: &Path) -> Result<(), PlotError> {
        if self.panels.is_empty() {
            return Err(PlotError::Empty { chart: self.title.clone(), hint: " (no panels)" });
        }
        for p in &self.panels {
            let rows_ok = p.values.len() == p.rows.len() && p.labels.len() == p.rows.len();
            let cols_ok = p.values.iter().all(|r| r.len() == p.columns.len())
                && p.labels.iter().all(|r| r.len() == p.columns.len());
            if !rows_ok || !cols_ok || p.rows.is_empty() || p.columns.is_empty() {
                return Err(PlotError::GridShape {
                    chart: p.title.clone(),
                    rows: p.rows.len(),
                    columns: p.columns.len(),
                });
            }
        }
        if !(self.span.is_finite() && self.span > 0.0 && self.centre.is_finite()) {
            return Err(PlotError::BadScale { centre: self.centre, span: self.span });
        }
        save_both(stem, self)
    }

    fn colour(&self, v: f64) -> RGBColor {
        if !v.is_finite() {
            return RGBColor(200, 200, 200);
        }
        let t = ((v - self.centre) / self.span).clamp(-1.0, 1.0);
        let mix = |a: u8, b: u8, t: f64| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        // White to blue above the centre, white to red below.
        let (end, t) = if t >= 0.0 { ((33, 102, 172), t) } else { ((178, 24, 43), -t) };
        RGBColor(mix(255, end.0, t), mix(255, end.1, t), mix(255, end.2, t))
    }
}

impl crate::figure::Render for HeatMaps {
    fn size(&self) -> (u32, u32) {
        let w: u32 = self.panels.iter().map(|p| ROW_LABELS + CELL_W * p.columns.len() as u32 + 20).sum();
        let rows = self.panels.iter().map(|p| p.rows.len()).max().unwrap_or(1) as u32;
        let title = if self.title.is_empty() { 0 } else { TITLE_HEIGHT };
        (w.max(600), title + 40 + 40 + rows * CELL_H + KEY_H)
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
        let body = if self.title.is_empty() {
            root.clone()
        } else {
            let (strip, body) = root.split_vertically(TITLE_HEIGHT);
            let style = (FONT, 24).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
            let centre = (strip.dim_in_pixel().0 as i32 / 2, TITLE_HEIGHT as i32 / 2 + 4);
            strip.draw(&Text::new(self.title.clone(), centre, style)).map_err(e)?;
            body
        };
        let centred = |size| (FONT, size).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        let right = (FONT, 15).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        let mut x0 = 0i32;
        for p in &self.panels {
            let width = (ROW_LABELS + CELL_W * p.columns.len() as u32) as i32;
            body.draw(&Text::new(p.title.clone(), (x0 + width / 2 + ROW_LABELS as i32 / 2, 18), centred(19)))
                .map_err(e)?;
            let top = 40 + 40;
            for (j, c) in p.columns.iter().enumerate() {
                let cx = x0 + ROW_LABELS as i32 + (CELL_W as i32) * j as i32 + CELL_W as i32 / 2;
                body.draw(&Text::new(c.clone(), (cx, top - 16), centred(14))).map_err(e)?;
            }
            for (i, r) in p.rows.iter().enumerate() {
                let y = top + (CELL_H as i32) * i as i32;
                body.draw(&Text::new(
                    r.clone(),
                    (x0 + ROW_LABELS as i32 - 8, y + CELL_H as i32 / 2),
                    right.clone(),
                ))
                .map_err(e)?;
                for j in 0..p.columns.len() {
                    let x = x0 + ROW_LABELS as i32 + (CELL_W as i32) * j as i32;
                    let v = p.values[i][j];
                    body.draw(&Rectangle::new(
                        [(x, y), (x + CELL_W as i32, y + CELL_H as i32)],
                        self.colour(v).filled(),
                    ))
                    .map_err(e)?;
                    body.draw(&Rectangle::new(
                        [(x, y), (x + CELL_W as i32, y + CELL_H as i32)],
                        RGBColor(255, 255, 255).stroke_width(1),
                    ))
                    .map_err(e)?;
                    let strong = v.is_finite() && ((v - self.centre) / self.span).abs() > 0.6;
                    let colour = if strong { WHITE } else { BLACK };
                    let style =
                        (FONT, 14).into_font().color(&colour).pos(Pos::new(HPos::Center, VPos::Center));
                    body.draw(&Text::new(
                        p.labels[i][j].clone(),
                        (x + CELL_W as i32 / 2, y + CELL_H as i32 / 2),
                        style,
                    ))
                    .map_err(e)?;
                }
            }
            x0 += width + 20;
        }
        // Colour key along the bottom.
        let (w, h) = body.dim_in_pixel();
        let (kx, ky, kw) = (w as i32 / 2 - 200, h as i32 - KEY_H as i32 + 8, 400);
        for s in 0..kw {
            let v = self.centre + self.span * (2.0 * f64::from(s) / f64::from(kw) - 1.0);
            body.draw(&Rectangle::new([(kx + s, ky), (kx + s + 1, ky + 16)], self.colour(v).filled()))
                .map_err(e)?;
        }
        let left = (FONT, 14).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        let rightk = (FONT, 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        body.draw(&Text::new(self.low_label.clone(), (kx - 8, ky + 8), left)).map_err(e)?;
        body.draw(&Text::new(self.high_label.clone(), (kx + kw + 8, ky + 8), rightk)).map_err(e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_diverge_around_the_centre_and_clip() {
        let m = HeatMaps { centre: 1.0, span: 0.5, ..HeatMaps::default() };
        assert_eq!(m.colour(1.0), RGBColor(255, 255, 255));
        assert_eq!(m.colour(1.5), RGBColor(33, 102, 172));
        assert_eq!(m.colour(9.0), RGBColor(33, 102, 172));
        assert_eq!(m.colour(0.5), RGBColor(178, 24, 43));
        assert_eq!(m.colour(f64::NAN), RGBColor(200, 200, 200));
    }

    #[test]
    fn bad_shapes_and_scales_are_errors() {
        let panel = HeatMap {
            title: "t".into(),
            rows: vec!["a".into()],
            columns: vec!["x".into(), "y".into()],
            values: vec![vec![1.0]],
            labels: vec![vec!["".into(), "".into()]],
        };
        let maps = HeatMaps { span: 1.0, panels: vec![panel.clone()], ..HeatMaps::default() };
        let e = maps.save(Path::new("/nonexistent/never")).unwrap_err();
        assert!(e.to_string().contains("`t`"), "{e}");
        let ok = HeatMap { values: vec![vec![1.0, 2.0]], ..panel };
        let maps = HeatMaps { span: 0.0, panels: vec![ok], ..HeatMaps::default() };
        assert!(maps.save(Path::new("/nonexistent/never")).unwrap_err().to_string().contains("span"));
    }
}
