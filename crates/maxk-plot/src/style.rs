//! Colours, line styles, the bundled font and tick labels.

use std::collections::HashMap;
use std::sync::OnceLock;

use maxk_core::Estimator;
use plotters::style::{FontStyle, RGBColor};

use crate::PlotError;

/// Font family name under which the bundled DejaVuSans is registered.
pub(crate) const FONT: &str = "sans-serif";

/// DejaVu Sans 2.37 from Debian's `fonts-dejavu-core` (Bitstream Vera licence, see
/// `assets/DejaVuSans-LICENSE.txt`). Bundled so that PNG text needs no system fonts.
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the bundled font with plotters once per process.
pub(crate) fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|style| plotters::style::register_font(FONT, style, FONT_BYTES).is_ok())
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// How one series is drawn: its colour and whether its line is dashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineStyle {
    /// Line, band and legend colour.
    pub colour: RGBColor,
    /// Dashed lines mark series that are expected to lie on top of a solid one.
    pub dashed: bool,
}

/// Tableau-10 plus black and navy, then four lighter Tableau-20 tones for figures with many
/// series: distinguishable, and printable in colour.
const PALETTE: [RGBColor; 16] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(0, 0, 128),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(174, 199, 232),
    RGBColor(197, 176, 213),
];

/// The fixed style of each estimator, so an estimator has one colour in every figure (a
/// `match`: a new estimator gets its style here or does not compile). At the PG scale
/// `canonical` equals `maxpo` and `pkpo-loo1` equals `ei` exactly, so those two are dashed in a
/// contrasting colour: both stay visible where they overlap.
pub fn estimator_style(e: Estimator) -> LineStyle {
    let (i, dashed) = match e {
        Estimator::Pkpo => (0, false),
        Estimator::Ei => (1, false),
        Estimator::PasskAnalytic => (2, false),
        Estimator::Maxpo => (3, false),
        Estimator::PkpoLoo1 => (4, true),
        Estimator::Rloo => (5, false),
        Estimator::BestMinusSecond => (6, false),
        Estimator::Grpo => (7, false),
        Estimator::DrGrpo => (8, false),
        Estimator::PkpoLoo => (9, false),
        Estimator::Canonical => (10, true),
        Estimator::Maxrl => (11, false),
        Estimator::BonMean => (12, false),
        Estimator::RsGrpo => (13, false),
    };
    LineStyle { colour: PALETTE[i], dashed }
}

/// The name of a reference line (e.g. a ratio of 1): drawn dashed black in every figure.
pub const REFERENCE_LINE: &str = "reference (no effect)";

/// The fixed style of a series name, if it has one: an estimator id ([`estimator_style`]) or
/// [`REFERENCE_LINE`] (dashed black).
fn fixed_style(name: &str) -> Option<LineStyle> {
    if name == REFERENCE_LINE {
        return Some(LineStyle { colour: PALETTE[10], dashed: true });
    }
    name.parse::<Estimator>().ok().map(estimator_style)
}

/// The style a series name gets on its own: the fixed one for estimator ids and the reference
/// line, otherwise a palette colour chosen by an FNV-1a hash of the name (stable across runs
/// and platforms).
pub fn style_for(name: &str) -> LineStyle {
    fixed_style(name).unwrap_or_else(|| LineStyle { colour: PALETTE[hash_index(name)], dashed: false })
}

fn hash_index(name: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % PALETTE.len() as u64) as usize
}

/// Styles for every distinct name of one figure: known ids keep their fixed style; other names
/// start at their hashed colour and move on through the palette past colours already used in
/// this figure, so two series of one figure never share a colour while the palette lasts.
pub(crate) fn assign_styles<'a>(names: impl IntoIterator<Item = &'a str>) -> HashMap<String, LineStyle> {
    let mut order: Vec<&str> = Vec::new();
    for n in names {
        if !order.contains(&n) {
            order.push(n);
        }
    }
    let mut out = HashMap::new();
    let mut used: Vec<RGBColor> = Vec::new();
    for n in &order {
        if let Some(s) = fixed_style(n) {
            used.push(s.colour);
            out.insert((*n).to_string(), s);
        }
    }
    let rest: Vec<&str> = order.into_iter().filter(|n| !out.contains_key(*n)).collect();
    for n in rest {
        let start = hash_index(n);
        let colour = (0..PALETTE.len())
            .map(|j| PALETTE[(start + j) % PALETTE.len()])
            .find(|c| !used.contains(c))
            .unwrap_or(PALETTE[start]);
        used.push(colour);
        out.insert(n.to_string(), LineStyle { colour, dashed: false });
    }
    out
}

/// A short tick label: at most 3 significant digits, scientific outside [1e-3, 1e5).
pub(crate) fn fmt_tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".to_string() } else { v.to_string() };
    }
    let mag = v.abs().log10().floor();
    if !(-3.0..5.0).contains(&mag) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let decimals = (2.0 - mag).clamp(0.0, 6.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(fmt_tick(0.0), "0");
        assert_eq!(fmt_tick(1.0), "1");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(fmt_tick(0.1 + 0.2), "0.3");
        assert_eq!(fmt_tick(1234.0), "1234");
        assert_eq!(fmt_tick(1e-4), "1e-4");
        assert_eq!(fmt_tick(2.5e6), "2.5e6");
        assert_eq!(fmt_tick(-0.5), "-0.5");
    }

    #[test]
    fn every_estimator_has_its_own_colour_and_only_the_twins_are_dashed() {
        let styles: Vec<LineStyle> = Estimator::ALL.iter().map(|&e| estimator_style(e)).collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[..i] {
                assert_ne!(a.colour, b.colour);
            }
        }
        for (e, s) in Estimator::ALL.iter().zip(&styles) {
            assert_eq!(style_for(e.id()), *s, "{e}");
            assert_eq!(s.dashed, matches!(e, Estimator::Canonical | Estimator::PkpoLoo1), "{e}");
        }
        assert_eq!(style_for(REFERENCE_LINE), LineStyle { colour: RGBColor(0, 0, 0), dashed: true });
        // The styles of before the table was typed: figures keep their colours.
        assert_eq!(style_for("maxpo").colour, RGBColor(214, 39, 40));
        assert_eq!(style_for("ei").colour, RGBColor(255, 127, 14));
    }

    #[test]
    fn styles_are_stable_and_distinct() {
        assert_eq!(style_for("maxpo"), style_for("maxpo"));
        assert!(style_for("canonical").dashed);
        let names = ["maxpo", "canonical", "train loss", "eval loss", "pass@1", "pass@8"];
        let styles = assign_styles(names);
        let mut colours: Vec<_> = names.iter().map(|n| styles[*n].colour).collect();
        colours.dedup();
        colours.sort_by_key(|c| (c.0, c.1, c.2));
        colours.dedup();
        assert_eq!(colours.len(), names.len());
        assert_eq!(assign_styles(names), styles);
    }
}
