//! Every figure kind renders to a real PNG and SVG; bad input is an error, not a panic.
//! Set `MAXK_PLOT_OUT=DIR` to keep the files for a visual check.

use std::path::{Path, PathBuf};

use maxk_plot::{HeatMap, HeatMaps, LineChart, Panels, PlotError, Series, StackedBars};

fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("MAXK_PLOT_OUT") {
        Some(dir) => (None, PathBuf::from(dir)),
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn assert_written(stem: &Path, title: &str) {
    let png = std::fs::read(stem.with_extension("png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 5_000, "png of {} bytes is suspiciously small", png.len());
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
    assert!(svg.contains(title), "svg lacks its title {title}");
}

fn error_chart() -> LineChart {
    let m: Vec<f64> = (0..12).map(|i| 2f64.powi(i)).collect();
    let names = ["maxpo", "canonical", "ei", "pkpo-loo1", "pkpo", "pkpo-loo", "rloo", "grpo"];
    let series = names
        .iter()
        .enumerate()
        .map(|(j, n)| {
            let floor = if j >= 6 { 0.2 * j as f64 / 6.0 } else { 0.0 };
            let y: Vec<f64> = m.iter().map(|m| (1.0 + j as f64 * 0.1) / m.sqrt() + floor).collect();
            let lo = y.iter().map(|v| v * 0.85).collect();
            let hi = y.iter().map(|v| v * 1.15).collect();
            Series::new(*n, m.clone(), y).with_band(lo, hi)
        })
        .collect();
    LineChart {
        title: "Relative gradient error".into(),
        x_label: "batches averaged M".into(),
        y_label: "||g_M - grad J|| / ||grad J||".into(),
        log_x: true,
        log_y: true,
        series,
    }
}

#[test]
fn line_chart_panels_and_bars_render() {
    let (_keep, dir) = out_dir();
    let stem = dir.join("line.v1"); // a dot in the stem is kept, not taken as an extension
    error_chart().save(&stem).unwrap();
    assert_written(&dir.join("line.v1.x"), "Relative gradient error");

    let x: Vec<f64> = (0..200).map(f64::from).collect();
    let linear =
        |name: &str, f: fn(f64) -> f64| Series::new(name, x.clone(), x.iter().map(|v| f(*v)).collect());
    let panels = Panels {
        title: "Biased maze".into(),
        columns: 2,
        charts: vec![
            error_chart(),
            LineChart {
                title: "P(action 1)".into(),
                x_label: "update".into(),
                y_label: "probability".into(),
                series: vec![
                    linear("train loss", |v| (-v / 50.0).exp()),
                    linear("eval loss", |v| 0.5 + 0.001 * v),
                ],
                ..LineChart::default()
            },
            LineChart {
                title: "narrow log axis".into(),
                log_x: true,
                log_y: true,
                series: vec![linear("pass@8", |v| 0.3 + 0.003 * v)],
                ..LineChart::default()
            },
            LineChart {
                title: "single point".into(),
                series: vec![Series::new("x", vec![1.0], vec![2.0])],
                ..LineChart::default()
            },
        ],
    };
    panels.save(&dir.join("panels")).unwrap();
    assert_written(&dir.join("panels"), "Biased maze");

    let bars = StackedBars {
        title: "Time per step".into(),
        categories: vec!["grpo".into(), "maxpo".into(), "pkpo".into()],
        stacks: vec![("sample".into(), vec![3.0, 3.1, 2.9]), ("update".into(), vec![1.0, 1.2, 0.0])],
        y_label: "seconds".into(),
    };
    bars.save(&dir.join("nested/bars")).unwrap();
    assert_written(&dir.join("nested/bars"), "Time per step");
    let one = StackedBars { categories: vec!["only".into()], stacks: vec![("s".into(), vec![1.0])], ..bars };
    one.save(&dir.join("one_bar")).unwrap();
    assert_written(&dir.join("one_bar"), "Time per step");
}

#[test]
fn bad_input_is_an_error() {
    let (_keep, dir) = out_dir();
    let bad = LineChart { series: vec![Series::new("s", vec![1.0, 2.0], vec![1.0])], ..LineChart::default() };
    let e = bad.save(&dir.join("bad")).unwrap_err();
    assert_eq!(e.to_string(), "series `s` has 2 x values but 1 y values");

    let band = Series::new("b", vec![1.0], vec![1.0]).with_band(vec![0.0], vec![]);
    let e = LineChart { series: vec![band], ..LineChart::default() }.save(&dir.join("bad")).unwrap_err();
    assert!(matches!(e, PlotError::LengthMismatch { what: "band upper", .. }), "{e}");

    let empty = LineChart { title: "nothing".into(), ..LineChart::default() };
    assert!(matches!(empty.save(&dir.join("bad")), Err(PlotError::Empty { .. })));

    let bars = StackedBars {
        title: "t".into(),
        categories: vec!["a".into()],
        stacks: vec![("s".into(), vec![-1.0])],
        y_label: String::new(),
    };
    let e = bars.save(&dir.join("bad")).unwrap_err();
    assert_eq!(e.to_string(), "stack `s` has value -1 for category `a`; bar values must be finite and >= 0");
}

#[test]
fn heat_maps_render_with_cell_text_and_grey_gaps() {
    let (_keep, dir) = out_dir();
    let stem = dir.join("heatmap");
    let panel = |title: &str| HeatMap {
        title: title.into(),
        rows: vec!["continuous".into(), "binary, p = 0.01".into()],
        columns: vec!["N=8 K=2".into(), "N=8 K=8".into(), "N=16 K=4".into()],
        values: vec![vec![0.5, f64::NAN, -2.0], vec![-0.1, f64::NAN, 0.05]],
        labels: vec![
            vec!["1.41".into(), "n/a".into(), "0.25".into()],
            vec!["0.93".into(), "n/a".into(), "1.04".into()],
        ],
    };
    HeatMaps {
        title: "ratio map".into(),
        centre: 0.0,
        span: 1.0,
        low_label: "raises".into(),
        high_label: "lowers".into(),
        panels: vec![panel("A = 8"), panel("A = 1024")],
    }
    .save(&stem)
    .unwrap();
    assert_written(&stem, "ratio map");
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    assert!(svg.contains("A = 1024") && svg.contains("binary, p = 0.01") && svg.contains("1.41"));
}
