//! The shared frame of every figure: output paths, the two backends, the title strip and the
//! legend column on the right (outside the plot, so it never hides data).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::PlotError;
use crate::style::{FONT, LineStyle, ensure_font};

/// One legend entry: a name, its style, and whether it is drawn as a filled box (bars).
pub(crate) struct LegendEntry {
    pub name: String,
    pub style: LineStyle,
    pub filled: bool,
}

/// Height of the figure title strip, in pixels.
pub(crate) const TITLE_HEIGHT: u32 = 50;

/// Width of the legend column for these entries, in pixels.
pub(crate) fn legend_width(entries: &[LegendEntry]) -> u32 {
    let longest = entries.iter().map(|e| e.name.chars().count()).max().unwrap_or(0) as u32;
    (longest * 9 + 70).clamp(150, 420)
}

/// `stem.png` and `stem.svg` (the extension is appended, so dots in the stem are kept).
fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s: OsString = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// A figure that can draw itself on any plotters backend.
pub(crate) trait Render {
    /// Canvas size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on the whole (already white) canvas; errors are plotters' messages.
    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Draws `fig` twice, into `stem.png` and `stem.svg`, creating the parent folder.
pub(crate) fn save_both<R: Render>(stem: &Path, fig: &R) -> Result<(), PlotError> {
    let size = fig.size();
    ensure_font()?;
    if let Some(parent) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|source| PlotError::Io { path: parent.to_path_buf(), source })?;
    }
    let png = with_ext(stem, "png");
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| PlotError::Draw { path, message }
    };
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string()).map_err(fail(&png))?;
        fig.render(&root).map_err(fail(&png))?;
        root.present().map_err(|e| e.to_string()).map_err(fail(&png))?;
    }
    let svg = with_ext(stem, "svg");
    let root = SVGBackend::new(&svg, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string()).map_err(fail(&svg))?;
    fig.render(&root).map_err(fail(&svg))?;
    root.present().map_err(|e| e.to_string()).map_err(fail(&svg))
}

/// Splits off the title strip (when `title` is not empty) and the legend column; returns the
/// area left for the plots.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[LegendEntry],
) -> Result<DrawingArea<DB, Shift>, String> {
    let body = if title.is_empty() {
        root.clone()
    } else {
        let (strip, body) = root.split_vertically(TITLE_HEIGHT);
        let style = (FONT, 26).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        let centre = (strip.dim_in_pixel().0 as i32 / 2, TITLE_HEIGHT as i32 / 2 + 4);
        strip.draw(&Text::new(title.to_string(), centre, style)).map_err(|e| e.to_string())?;
        body
    };
    let (w, _) = body.dim_in_pixel();
    let (plots, legend) = body.split_horizontally(w.saturating_sub(legend_width(entries)));
    draw_legend(&legend, entries)?;
    Ok(plots)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<(), String> {
    let text = (FONT, 16).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let y = 60 + 28 * i as i32;
        let c = e.style.colour;
        if e.filled {
            area.draw(&Rectangle::new([(8, y - 8), (36, y + 8)], c.filled())).map_err(|e| e.to_string())?;
        } else if e.style.dashed {
            for x0 in [6, 18, 30] {
                area.draw(&PathElement::new(vec![(x0, y), (x0 + 7, y)], c.stroke_width(3)))
                    .map_err(|e| e.to_string())?;
            }
        } else {
            area.draw(&PathElement::new(vec![(6, y), (38, y)], c.stroke_width(3)))
                .map_err(|e| e.to_string())?;
        }
        area.draw(&Text::new(e.name.clone(), (46, y), text.clone())).map_err(|e| e.to_string())?;
    }
    Ok(())
}
