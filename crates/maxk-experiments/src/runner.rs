//! Runs the selected experiments and writes every output file into one folder.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;

use crate::bandit_runs::{BiasCheck, Centering, run_actions, run_error, run_k};
use crate::claims::{Claim, Results, claims};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::maze_runs::MazeVariant;
use crate::output::{CsvOut, write_text};
use crate::report::{ReportInput, markdown};
use crate::stats::Curve;
use crate::variance_map::{Cell, Family};
use crate::{figures, maze_runs, variance_map};

/// One of the five experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Experiment {
    /// Experiment 1: estimation error vs batches (`bandit-error`).
    BanditError,
    /// Experiment 2: variance vs action-space size (`bandit-actions`).
    BanditActions,
    /// Experiment 3: variance vs K (`bandit-k`).
    BanditK,
    /// Experiment 4: where the Leave-Two-Out baseline lowers the variance (`variance-map`).
    VarianceMap,
    /// Experiment 5: the biased maze (`maze`).
    Maze,
}

impl Experiment {
    /// All experiments in run order.
    pub const ALL: [Experiment; 5] = [
        Experiment::BanditError,
        Experiment::BanditActions,
        Experiment::BanditK,
        Experiment::VarianceMap,
        Experiment::Maze,
    ];

    /// The name used by `--only` and in file names (with `_`).
    pub const fn id(self) -> &'static str {
        match self {
            Experiment::BanditError => "bandit-error",
            Experiment::BanditActions => "bandit-actions",
            Experiment::BanditK => "bandit-k",
            Experiment::VarianceMap => "variance-map",
            Experiment::Maze => "maze",
        }
    }

    fn stem(self) -> String {
        self.id().replace('-', "_")
    }
}

impl fmt::Display for Experiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Experiment {
    type Err = Error;

    fn from_str(s: &str) -> Result<Experiment> {
        Experiment::ALL.into_iter().find(|e| e.id() == s).ok_or_else(|| Error::UnknownExperiment {
            name: s.to_string(),
            known: Experiment::ALL.map(Experiment::id).join(", "),
        })
    }
}

/// Where and what to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output folder (created).
    pub out: PathBuf,
    /// The experiments to run; `None` runs all five.
    pub only: Option<Vec<Experiment>>,
    /// Draw progress bars on stderr.
    pub progress: bool,
}

/// The content of `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// maxk version.
    pub version: &'static str,
    /// The resolved config.
    pub config: Config,
    /// Seconds per experiment, in run order.
    pub seconds: Vec<(String, f64)>,
    /// Experiment 1, per reward variant.
    pub bandit_error: Vec<ErrorSummary>,
    /// Experiment 2.
    pub bandit_actions: Option<VarianceSummary>,
    /// Experiment 3.
    pub bandit_k: Option<VarianceSummary>,
    /// Experiment 4: every cell of the map.
    pub variance_map: Option<Vec<Cell>>,
    /// Experiment 5: per maze variant, every estimator's lr curve and tuned result.
    pub maze: Option<Vec<MazeVariant>>,
    /// Every claim with its verdict.
    pub claims: Vec<Claim>,
    /// Files written, relative to the output folder.
    pub files: Vec<String>,
}

/// Experiment 1 numbers of one reward variant.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSummary {
    /// `continuous` or `binary`.
    pub variant: String,
    /// Exact J_K.
    pub objective: f64,
    /// `||grad J_K||`.
    pub grad_norm: f64,
    /// Bias checks.
    pub bias: Vec<BiasCheck>,
    /// Centering records.
    pub centering: Vec<Centering>,
}

/// Experiments 2/3: the mean curves.
#[derive(Debug, Clone, Serialize)]
pub struct VarianceSummary {
    /// `A` or `K`.
    pub x_name: String,
    /// The x values.
    pub x: Vec<f64>,
    /// Mean relative variance per estimator.
    pub relative_variance: Vec<(String, Vec<f64>)>,
    /// Mean ratio to the reference per estimator.
    pub ratio_to_reference: Vec<(String, Vec<f64>)>,
    /// Binary rewards, exact: per success fraction, the ratio to the reference per estimator.
    pub binary_ratio_to_reference: Vec<BinaryRatios>,
    /// The reference estimator.
    pub reference: String,
}

/// One binary family's exact ratios to the reference, per estimator.
#[derive(Debug, Clone, Serialize)]
pub struct BinaryRatios {
    /// Success fraction p.
    pub p: f64,
    /// `(estimator, ratio per x)`.
    pub ratios: Vec<(String, Vec<f64>)>,
}

fn means(curves: &[Curve]) -> Vec<(String, Vec<f64>)> {
    curves.iter().map(|c| (c.name.clone(), c.ci.iter().map(|c| c.mean).collect())).collect()
}

impl VarianceSummary {
    fn of(v: &crate::bandit_runs::VarianceResult) -> VarianceSummary {
        VarianceSummary {
            x_name: v.x_name.clone(),
            x: v.curves.first().map(|c| c.x.clone()).unwrap_or_default(),
            relative_variance: means(&v.curves),
            ratio_to_reference: means(&v.ratios),
            binary_ratio_to_reference: v
                .binary
                .iter()
                .map(|b| BinaryRatios { p: b.p, ratios: means(&b.ratios) })
                .collect(),
            reference: v.reference.to_string(),
        }
    }
}

/// Runs the experiments of `opts.only` (all by default) with `cfg` and writes into `opts.out`:
/// `config.toml`, per experiment a figure (`.png` + `.svg`) and CSV, then `summary.json` and
/// `report.md`. Returns the summary.
pub fn run(cfg: &Config, opts: &RunOptions) -> Result<Summary> {
    cfg.validate()?;
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    let mut files = vec!["config.toml".to_string()];
    write_text(&out.join("config.toml"), &cfg.to_toml())?;
    let selected: Vec<Experiment> = match &opts.only {
        Some(list) => Experiment::ALL.into_iter().filter(|e| list.contains(e)).collect(),
        None => Experiment::ALL.to_vec(),
    };
    let mut results = Results::default();
    let mut seconds = Vec::new();
    for exp in selected {
        let t = Instant::now();
        let stem = exp.stem();
        let written = match exp {
            Experiment::BanditError => {
                let r = run_error(cfg, opts.progress)?;
                figures::error(&r, cfg, &out.join(&stem))?;
                let mut csv = CsvOut::curves(&out.join(format!("{stem}.csv")), &["variant"], "batches")?;
                for v in &r.variants {
                    csv.add_curves(&[&v.name], &v.curves)?;
                }
                csv.finish()?;
                write_bias_csv(&out.join(format!("{stem}_bias.csv")), &r)?;
                results.error = Some(r);
                vec![format!("{stem}_bias.csv")]
            }
            Experiment::BanditActions | Experiment::BanditK => {
                let (r, title, log_x) = if exp == Experiment::BanditActions {
                    let c = &cfg.bandit_actions;
                    let title = format!(
                        "Gradient variance vs action-space size (N = {}, K = {}; continuous: geometric mean and 95% CI over {} seeds; binary: exact)",
                        c.n, c.k, cfg.seeds
                    );
                    (run_actions(cfg, opts.progress)?, title, true)
                } else {
                    let c = &cfg.bandit_k;
                    let title = format!(
                        "Gradient variance vs K (A = {}, N = {}; continuous: geometric mean and 95% CI over {} seeds; binary: exact)",
                        c.actions, c.n, cfg.seeds
                    );
                    (run_k(cfg, opts.progress)?, title, false)
                };
                figures::variance(&r, &title, log_x, &out.join(&stem))?;
                let x_name = if r.x_name == "A" { "actions" } else { "k" };
                let mut csv =
                    CsvOut::curves(&out.join(format!("{stem}.csv")), &["family", "metric"], x_name)?;
                let ratio = format!("ratio_to_{}", r.reference);
                csv.add_curves(&["continuous", "relative_variance"], &r.curves)?;
                csv.add_curves(&["continuous", &ratio], &r.ratios)?;
                for b in &r.binary {
                    let fam = format!("binary_p{}", b.p);
                    csv.add_curves(&[&fam, "relative_variance"], &b.curves)?;
                    csv.add_curves(&[&fam, &ratio], &b.ratios)?;
                }
                csv.finish()?;
                if exp == Experiment::BanditActions {
                    results.actions = Some(r);
                } else {
                    results.k = Some(r);
                }
                Vec::new()
            }
            Experiment::VarianceMap => {
                let r = variance_map::run_map(cfg, opts.progress)?;
                figures::variance_map(&r, cfg, &out.join(&stem))?;
                write_map_csv(&out.join(format!("{stem}.csv")), &r.cells)?;
                results.map = Some(r);
                Vec::new()
            }
            Experiment::Maze => {
                let r = maze_runs::run_maze(cfg, opts.progress)?;
                figures::maze(&r, cfg, &out.join(&stem))?;
                let mut csv =
                    CsvOut::curves(&out.join(format!("{stem}.csv")), &["bait", "metric", "lr"], "update")?;
                for v in &r.variants {
                    let bait = v.bait.to_string();
                    for e in &v.estimators {
                        let lr = e.best_lr.to_string();
                        let c = &e.curves;
                        csv.add_curves(
                            &[&bait, "return_moving_average", &lr],
                            std::slice::from_ref(&c.returns),
                        )?;
                        csv.add_curves(&[&bait, "p_action1_traps", &lr], std::slice::from_ref(&c.p1))?;
                        csv.add_curves(
                            &[&bait, &format!("exact_pass_at_{}", r.k), &lr],
                            std::slice::from_ref(&c.pass_at_k),
                        )?;
                    }
                }
                csv.finish()?;
                write_lr_csv(&out.join(format!("{stem}_lr.csv")), &r)?;
                write_maze_seeds_csv(&out.join(format!("{stem}_seeds.csv")), &r)?;
                results.maze = Some(r);
                vec![format!("{stem}_lr.csv"), format!("{stem}_seeds.csv")]
            }
        };
        files.extend([format!("{stem}.png"), format!("{stem}.svg"), format!("{stem}.csv")]);
        files.extend(written);
        seconds.push((exp.id().to_string(), t.elapsed().as_secs_f64()));
    }
    let claims = claims(&results, cfg);
    files.extend(["summary.json".to_string(), "report.md".to_string()]);
    let summary = Summary {
        version: env!("CARGO_PKG_VERSION"),
        config: cfg.clone(),
        seconds: seconds.clone(),
        bandit_error: results
            .error
            .iter()
            .flat_map(|e| &e.variants)
            .map(|v| ErrorSummary {
                variant: v.name.clone(),
                objective: v.objective,
                grad_norm: v.grad_norm,
                bias: v.bias.clone(),
                centering: v.centering.clone(),
            })
            .collect(),
        bandit_actions: results.actions.as_ref().map(VarianceSummary::of),
        bandit_k: results.k.as_ref().map(VarianceSummary::of),
        variance_map: results.map.as_ref().map(|m| m.cells.clone()),
        maze: results.maze.as_ref().map(|m| m.variants.clone()),
        claims: claims.clone(),
        files,
    };
    let json =
        serde_json::to_string_pretty(&summary).map_err(|e| Error::write(&out.join("summary.json"), e))?;
    write_text(&out.join("summary.json"), &json)?;
    let report =
        markdown(&ReportInput { config: cfg, results: &results, claims: &claims, seconds: &seconds });
    write_text(&out.join("report.md"), &report)?;
    Ok(summary)
}

fn write_bias_csv(path: &Path, r: &crate::bandit_runs::ErrorResult) -> Result<()> {
    let mut csv = CsvOut::with_header(
        path,
        &[
            "variant",
            "estimator",
            "scale",
            "role",
            "rel_bias",
            "noise_floor",
            "z",
            "dir_bias",
            "dir_z",
            "slope",
        ],
    )?;
    for v in &r.variants {
        for b in &v.bias {
            let role = serde_json::to_value(b.role).ok().and_then(|x| x.as_str().map(str::to_string));
            csv.row(&[
                v.name.clone(),
                b.estimator.to_string(),
                b.scale.id().to_string(),
                role.unwrap_or_default(),
                b.rel_bias.to_string(),
                b.noise_floor.to_string(),
                b.z.to_string(),
                b.dir_bias.to_string(),
                b.dir_z.to_string(),
                b.slope.to_string(),
            ])?;
        }
    }
    csv.finish()
}

fn write_map_csv(path: &Path, cells: &[Cell]) -> Result<()> {
    let mut csv = CsvOut::with_header(
        path,
        &[
            "family",
            "success_fraction",
            "actions",
            "n",
            "k",
            "ratio_ei_over_maxpo",
            "ci_low",
            "ci_high",
            "seeds",
            "check_ratio",
            "check_ci_low",
            "check_ci_high",
            "check_max_abs_z",
        ],
    )?;
    for c in cells {
        let (fam, p) = match c.family {
            Family::Continuous => ("continuous", String::new()),
            Family::Binary { p } => ("binary", p.to_string()),
        };
        let check = c.check.map_or([String::new(), String::new(), String::new(), String::new()], |ch| {
            [ch.ratio.mean, ch.ratio.lo, ch.ratio.hi, ch.max_abs_z].map(|v| v.to_string())
        });
        let mut row = vec![fam.to_string(), p];
        row.extend([c.actions, c.n, c.k].map(|v| v.to_string()));
        row.extend([c.ratio.mean, c.ratio.lo, c.ratio.hi].map(|v| v.to_string()));
        row.push(c.ratio.n.to_string());
        row.extend(check);
        csv.row(&row)?;
    }
    csv.finish()
}

/// Every run's mean exact pass@K over training, per seed: selection and evaluation seeds at
/// every lr, so that every maze interval and paired difference can be recomputed.
fn write_maze_seeds_csv(path: &Path, r: &maze_runs::MazeResult) -> Result<()> {
    let mut csv = CsvOut::with_header(path, &["bait", "estimator", "lr", "set", "seed", "mean_pass_at_k"])?;
    for v in &r.variants {
        for e in &v.estimators {
            for (p, f) in e.lr_curve.iter().zip(&e.every_lr) {
                let sets = [("selection", &p.tune_per_seed), ("evaluation", &f.mean_pass_at_k_per_seed)];
                for (set, values) in sets {
                    for (seed, x) in values.iter().enumerate() {
                        csv.row(&[
                            v.bait.to_string(),
                            e.estimator.to_string(),
                            p.lr.to_string(),
                            set.to_string(),
                            seed.to_string(),
                            x.to_string(),
                        ])?;
                    }
                }
            }
        }
    }
    csv.finish()
}

fn write_lr_csv(path: &Path, r: &maze_runs::MazeResult) -> Result<()> {
    let mut csv = CsvOut::with_header(
        path,
        &["bait", "estimator", "lr", "selected", "set", "mean_pass_at_k", "ci_low", "ci_high", "seeds"],
    )?;
    for v in &r.variants {
        for e in &v.estimators {
            for p in &e.lr_curve {
                for (set, ci) in [("selection", p.tune), ("evaluation", p.eval)] {
                    csv.row(&[
                        v.bait.to_string(),
                        e.estimator.to_string(),
                        p.lr.to_string(),
                        (p.lr == e.best_lr).to_string(),
                        set.to_string(),
                        ci.mean.to_string(),
                        ci.lo.to_string(),
                        ci.hi.to_string(),
                        ci.n.to_string(),
                    ])?;
                }
            }
        }
    }
    csv.finish()
}
