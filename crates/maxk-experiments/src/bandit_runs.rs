//! Experiments 1 to 3 on the categorical bandit ([`crate::bandit`]), every estimator at
//! maxk-core's PG scale (`Spec::new(est, k).with_scale(Scale::Pg)`) so that an unbiased one
//! estimates `grad J_K` itself. Estimators identical at the PG scale ([`crate::twins`]) run
//! once.
//!
//! 1. **Estimation error**: the relative error `||mean of M batch gradients - grad J_K|| /
//!    ||grad J_K||` against M, on one fixed random instance (continuous rewards) and its binary
//!    pass@K twin. Unbiased estimators fall like `1/sqrt(M)`; biased ones level off at their
//!    bias. Two bias tests pool all batches of all seeds (n of them, mean `g_bar`):
//!    - full: `z = ||g_bar - grad J_K|| / sqrt(tr Cov / n)`;
//!    - direction (scale-free, since a constant factor only changes the step size): with
//!      `u = grad J_K / ||grad J_K||`, the residual `r = g_bar - <g_bar, u> u` against its noise
//!      floor, `z_dir = ||r|| / sqrt((tr Cov - Var<g, u>) / n)`.
//!
//!    Both are about 1 for an unbiased estimator and grow like `sqrt(n)` for a biased one. The
//!    biased controls are max@K estimators a user could run: `config.bandit_error.controls`
//!    (by default MaxPO and EI divided by the group's reward std, times their PG factor, and
//!    `passk-analytic`, binary rewards only); grpo and rloo target J_1 and are reported apart.
//! 2. **Variance vs A** and 3. **variance vs K**: the relative variance
//!    `tr Cov(g) / ||grad J_K||^2` of one batch's estimate (the number of batches needed for a
//!    relative error of 1). Continuous rewards: Monte Carlo on a fresh random instance per
//!    seed; instances with a tiny gradient make this heavy-tailed, so curves and ratios are
//!    geometric means over seeds ([`Ci::geometric`]), ratios taken per seed (paired: same
//!    instance, same batches). Binary rewards at each success fraction p: exact
//!    ([`crate::exact`], uniform two-class policy), drawn without band.

use maxk_core::{Estimator, Scale, Spec, Workspace};
use rayon::prelude::*;
use serde::Serialize;

use crate::bandit::{Bandit, BatchRunner, GradientStats, distance, norm};
use crate::config::{Config, Control};
use crate::error::Result;
use crate::exact::{TwoClass, moments};
use crate::progress::Progress;
use crate::seeding::job_rng;
use crate::stats::{Ci, Curve, log_log_slope};

/// Experiment keys of the random streams.
const ERROR_STREAM: u64 = 1;
const ACTIONS_STREAM: u64 = 2;
const K_STREAM: u64 = 3;

/// How close to exactly centered an estimator's advantages were.
#[derive(Debug, Clone, Serialize)]
pub struct Centering {
    /// The estimator (at the PG scale).
    pub estimator: Estimator,
    /// Largest `|sum_i A_i| / max_i |A_i|` over every batch.
    pub max_rel_sum: f64,
    /// Mean of `sum_i A_i / max_i |A_i|` over every batch.
    pub mean_rel_sum: f64,
}

/// What an estimator in the bias test is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Unbiased for `grad J_K` at the PG scale.
    Unbiased,
    /// Targets the mean reward `J_1` (grpo, rloo at K > 1): biased for `grad J_K` by design.
    MeanReward,
    /// A biased max@K control a user could run (`bandit_error.controls`).
    Control,
}

/// The pooled bias checks of one estimator in experiment 1.
#[derive(Debug, Clone, Serialize)]
pub struct BiasCheck {
    /// The estimator.
    pub estimator: Estimator,
    /// Its scale (`pg`, or a control's).
    #[serde(serialize_with = "scale_id")]
    pub scale: Scale,
    /// Legend label: the id, or `id:scale` for a control.
    pub label: String,
    /// What it is expected to be.
    pub role: Role,
    /// `||g_bar - grad J_K|| / ||grad J_K||` over all batches of all seeds.
    pub rel_bias: f64,
    /// The same error expected from noise alone, `sqrt(tr Cov / n) / ||grad J_K||`.
    pub noise_floor: f64,
    /// `rel_bias / noise_floor`: about 1 when unbiased.
    pub z: f64,
    /// Sine of the angle between `g_bar` and `grad J_K`.
    pub dir_bias: f64,
    /// Direction-bias statistic (module docs): about 1 when unbiased up to a constant factor.
    pub dir_z: f64,
    /// Log-log slope of the mean relative error over the upper half of the M grid
    /// (-0.5 when unbiased, towards 0 when the bias dominates).
    pub slope: f64,
}

fn scale_id<S: serde::Serializer>(s: &Scale, ser: S) -> std::result::Result<S::Ok, S::Error> {
    ser.serialize_str(s.id())
}

/// Experiment 1 on one reward variant.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorVariant {
    /// `continuous` or `binary`.
    pub name: String,
    /// The exact `J_K`.
    pub objective: f64,
    /// `||grad J_K||`.
    pub grad_norm: f64,
    /// Relative error vs M, one curve per estimator.
    pub curves: Vec<Curve>,
    /// One bias check per estimator.
    pub bias: Vec<BiasCheck>,
    /// One centering record per estimator at the PG scale.
    pub centering: Vec<Centering>,
}

/// Experiment 1: both reward variants.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorResult {
    /// `continuous` then `binary`.
    pub variants: Vec<ErrorVariant>,
    /// The M grid.
    pub grid: Vec<usize>,
    /// `(skipped, same as)`: estimators identical at their scale to one run earlier.
    pub twins: Vec<(String, String)>,
}

/// One binary-reward family of experiments 2/3, computed exactly.
#[derive(Debug, Clone, Serialize)]
pub struct BinaryFamily {
    /// Success fraction p.
    pub p: f64,
    /// Exact relative variance per estimator (zero-width intervals, `n = 0`).
    pub curves: Vec<Curve>,
    /// Exact ratio to the reference per estimator.
    pub ratios: Vec<Curve>,
}

/// Experiments 2 and 3: relative variance against A or K.
#[derive(Debug, Clone, Serialize)]
pub struct VarianceResult {
    /// What x is (`A` or `K`).
    pub x_name: String,
    /// The estimators of `curves` and `ratios`, in order.
    pub estimators: Vec<Estimator>,
    /// Continuous rewards: `tr Cov / ||grad J_K||^2` (geometric mean over seeds), one curve per
    /// estimator.
    pub curves: Vec<Curve>,
    /// Continuous rewards: per-seed ratio of each estimator's relative variance to the
    /// reference's (geometric mean).
    pub ratios: Vec<Curve>,
    /// Binary rewards, one family per success fraction.
    pub binary: Vec<BinaryFamily>,
    /// The reference estimator of the ratios (maxpo when compared, else the first).
    pub reference: Estimator,
    /// One centering record per estimator.
    pub centering: Vec<Centering>,
    /// `(skipped, same as)`: estimators identical at the PG scale to one run earlier.
    pub twins: Vec<(Estimator, Estimator)>,
}

impl VarianceResult {
    /// The index of raw EI in `estimators` (`ei`, else its PG-scale twin `pkpo-loo1`).
    pub fn ei_index(&self) -> Option<usize> {
        let at = |e: Estimator| self.estimators.iter().position(|x| *x == e);
        at(Estimator::Ei).or_else(|| at(Estimator::PkpoLoo1))
    }
}

fn pg(e: Estimator, k: usize) -> Spec {
    Spec::new(e, k).with_scale(Scale::Pg)
}

/// The estimators of `cfg` that are not identical at the PG scale to an earlier one (checked
/// at group size `n`, K = `k`), and the twins left out.
pub fn distinct(cfg: &Config, n: usize, k: usize) -> (Vec<Estimator>, Vec<(Estimator, Estimator)>) {
    let specs: Vec<Spec> = cfg.estimators.iter().map(|e| pg(*e, k)).collect();
    let classes = crate::twins::classes(&specs, n);
    let keep = (0..specs.len()).filter(|&i| classes[i] == i).map(|i| cfg.estimators[i]).collect();
    let twins = (0..specs.len())
        .filter(|&i| classes[i] != i)
        .map(|i| (cfg.estimators[i], cfg.estimators[classes[i]]))
        .collect();
    (keep, twins)
}

/// Whether `e` estimates `grad J_K` without bias at the PG scale.
pub fn unbiased_for(e: Estimator, k: usize) -> bool {
    e.is_unbiased() && (e.uses_k() || k == 1)
}

/// The M grid: 1, 2, 4, ... and `max` itself.
pub fn m_grid(max: usize) -> Vec<usize> {
    let mut g: Vec<usize> =
        std::iter::successors(Some(1usize), |m| m.checked_mul(2)).take_while(|m| *m <= max).collect();
    if g.last() != Some(&max) {
        g.push(max);
    }
    g
}

/// One estimator of experiment 1: spec, factor applied after maxk-core, label, role.
#[derive(Debug, Clone)]
struct Subject {
    id: Estimator,
    spec: Spec,
    factor: f64,
    label: String,
    role: Role,
}

/// The subjects of experiment 1 on one variant: distinct PG estimators, then the controls
/// that accept these rewards (a control identical to an earlier subject is left out).
/// `(skipped, same as)` label pairs.
type Twins = Vec<(String, String)>;

fn subjects(cfg: &Config, binary: bool) -> (Vec<Subject>, Twins) {
    let c = &cfg.bandit_error;
    let mut all: Vec<Subject> = cfg
        .estimators
        .iter()
        .map(|&id| Subject {
            id,
            spec: pg(id, c.k),
            factor: 1.0,
            label: id.id().to_string(),
            role: if unbiased_for(id, c.k) { Role::Unbiased } else { Role::MeanReward },
        })
        .collect();
    let probe: Vec<f64> = (0..c.n).map(|i| (i as f64 + 0.5) / c.n as f64).collect();
    let mut ws = Workspace::new();
    let mut out = vec![0.0; c.n];
    for &ctrl in &c.controls {
        let Control { estimator, scale } = ctrl;
        let spec = ctrl.spec(c.k);
        if !binary && ws.advantages_into(&probe, spec, &mut out).is_err() {
            continue; // binary rewards only (passk-analytic)
        }
        let factor = if scale == Scale::Std { estimator.pg_factor(c.n, c.k) } else { 1.0 };
        all.push(Subject { id: estimator, spec, factor, label: ctrl.label(), role: Role::Control });
    }
    let specs: Vec<Spec> = all.iter().map(|s| s.spec).collect();
    let classes = crate::twins::classes(&specs, c.n);
    let twins = (0..all.len())
        .filter(|&i| classes[i] != i)
        .map(|i| (all[i].label.clone(), all[classes[i]].label.clone()))
        .collect();
    let keep = all.into_iter().enumerate().filter(|(i, _)| classes[*i] == *i).map(|(_, s)| s).collect();
    (keep, twins)
}

struct ErrorJob {
    errors: Vec<Vec<f64>>, // [estimator][checkpoint]
    means: Vec<Vec<f64>>,
    traces: Vec<f64>,
    proj_vars: Vec<f64>,
    stats: Vec<GradientStats>,
}

/// Experiment 1. The instance is drawn once from the master seed; the batches of seed s come
/// from their own stream, and all estimators see the same batches.
pub fn run_error(cfg: &Config, show: bool) -> Result<ErrorResult> {
    let c = &cfg.bandit_error;
    let continuous = Bandit::random(c.actions, c.logit_std, &mut job_rng(cfg.seed, ERROR_STREAM, 0, 0));
    let variants = [("continuous", continuous.clone()), ("binary", continuous.binary(c.binary_fraction))];
    let subjects: [(Vec<Subject>, Twins); 2] = [subjects(cfg, false), subjects(cfg, true)];
    let grid = m_grid(c.max_batches);
    let progress = Progress::new("bandit error", (2 * cfg.seeds) as u64, show);
    let jobs: Vec<(usize, usize)> = (0..2).flat_map(|v| (0..cfg.seeds).map(move |s| (v, s))).collect();
    let results: Vec<ErrorJob> = jobs
        .par_iter()
        .map(|&(v, s)| {
            let bandit = &variants[v].1;
            let subs = &subjects[v].0;
            let truth = bandit.gradient(c.k);
            let scale = norm(&truth);
            let mut rng = job_rng(cfg.seed, ERROR_STREAM, v as u64 + 1, s as u64);
            let factors: Vec<f64> = subs.iter().map(|s| s.factor).collect();
            let mut runner =
                BatchRunner::new(bandit, subs.iter().map(|s| s.spec).collect(), c.n).with_factors(&factors);
            let mut stats: Vec<GradientStats> = subs
                .iter()
                .map(|_| GradientStats::new(c.actions).with_direction(&truth, bandit.probs()))
                .collect();
            let mut errors = vec![Vec::with_capacity(grid.len()); stats.len()];
            for &m in &grid {
                while stats[0].count() < m {
                    runner.step(&mut rng, &mut stats)?;
                }
                for (e, st) in errors.iter_mut().zip(&stats) {
                    e.push(distance(&st.mean(bandit.probs()), &truth) / scale);
                }
            }
            progress.inc();
            Ok(ErrorJob {
                errors,
                means: stats.iter().map(|st| st.mean(bandit.probs())).collect(),
                traces: stats.iter().map(|st| st.trace_cov(bandit.probs())).collect(),
                proj_vars: stats.iter().map(GradientStats::projection_var).collect(),
                stats,
            })
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let x: Vec<f64> = grid.iter().map(|&m| m as f64).collect();
    let mut twins: Vec<(String, String)> = Vec::new();
    for (_, t) in &subjects {
        for pair in t {
            if !twins.contains(pair) {
                twins.push(pair.clone());
            }
        }
    }
    let variants = variants
        .iter()
        .enumerate()
        .map(|(v, (name, bandit))| {
            let subs = &subjects[v].0;
            let jobs: Vec<&ErrorJob> =
                results.iter().zip(&jobs).filter(|(_, j)| j.0 == v).map(|(r, _)| r).collect();
            let truth = bandit.gradient(c.k);
            let scale = norm(&truth);
            let unit: Vec<f64> = truth.iter().map(|t| t / scale).collect();
            let total = (jobs.len() * c.max_batches) as f64;
            let mut curves = Vec::new();
            let mut bias = Vec::new();
            for (i, sub) in subs.iter().enumerate() {
                let samples: Vec<Vec<f64>> =
                    (0..grid.len()).map(|g| jobs.iter().map(|j| j.errors[i][g]).collect()).collect();
                let curve = Curve::from_samples(sub.label.clone(), x.clone(), &samples);
                let means: Vec<f64> = curve.ci.iter().map(|c| c.mean).collect();
                let slope = log_log_slope(&x, &means, (c.max_batches as f64).sqrt());
                curves.push(curve);
                let pooled: Vec<f64> = (0..c.actions)
                    .map(|a| jobs.iter().map(|j| j.means[i][a]).sum::<f64>() / jobs.len() as f64)
                    .collect();
                let trace = jobs.iter().map(|j| j.traces[i]).sum::<f64>() / jobs.len() as f64;
                let proj_var = jobs.iter().map(|j| j.proj_vars[i]).sum::<f64>() / jobs.len() as f64;
                let rel_bias = distance(&pooled, &truth) / scale;
                let noise_floor = (trace / total).sqrt() / scale;
                let along: f64 = pooled.iter().zip(&unit).map(|(g, u)| g * u).sum();
                let resid: Vec<f64> = pooled.iter().zip(&unit).map(|(g, u)| g - along * u).collect();
                let resid_norm = norm(&resid);
                let dir_floor = ((trace - proj_var).max(0.0) / total).sqrt();
                // Every batch gradient can lie on the line of grad J_K (binary rewards, one
                // correct action, EI): then no noise is orthogonal to it, and a residual at
                // rounding level means exactly parallel rather than infinitely biased.
                let pooled_norm = norm(&pooled);
                let dir_z = if dir_floor > 1e-9 * (trace / total).sqrt() {
                    resid_norm / dir_floor
                } else if resid_norm <= 1e-9 * pooled_norm {
                    0.0
                } else {
                    f64::INFINITY
                };
                bias.push(BiasCheck {
                    estimator: sub.id,
                    scale: sub.spec.scale,
                    label: sub.label.clone(),
                    role: sub.role,
                    rel_bias,
                    noise_floor,
                    z: rel_bias / noise_floor,
                    dir_bias: resid_norm / pooled_norm.max(f64::MIN_POSITIVE),
                    dir_z,
                    slope,
                });
            }
            let pg_only: Vec<usize> = (0..subs.len()).filter(|&i| subs[i].role != Role::Control).collect();
            let centering = centering(
                &pg_only.iter().map(|&i| subs[i].id).collect::<Vec<_>>(),
                jobs.iter().map(|j| pg_only.iter().map(|&i| &j.stats[i]).collect::<Vec<_>>()),
            );
            ErrorVariant {
                name: name.to_string(),
                objective: bandit.objective(c.k),
                grad_norm: scale,
                curves,
                bias,
                centering,
            }
        })
        .collect();
    Ok(ErrorResult { variants, grid, twins })
}

fn centering<'a>(ids: &[Estimator], jobs: impl Iterator<Item = Vec<&'a GradientStats>>) -> Vec<Centering> {
    let mut out: Vec<Centering> =
        ids.iter().map(|&e| Centering { estimator: e, max_rel_sum: 0.0, mean_rel_sum: 0.0 }).collect();
    let mut batches = 0usize;
    for stats in jobs {
        for (c, st) in out.iter_mut().zip(&stats) {
            c.max_rel_sum = c.max_rel_sum.max(st.max_rel_sum);
            c.mean_rel_sum += st.sum_rel_sum;
        }
        batches += stats.first().map_or(0, |s| s.count());
    }
    for c in &mut out {
        c.mean_rel_sum /= batches.max(1) as f64;
    }
    out
}

/// One variance setting: x value, A, N, K.
#[derive(Debug, Clone, Copy)]
struct Setting {
    x: f64,
    actions: usize,
    n: usize,
    k: usize,
}

/// Experiment 2: relative variance against the number of actions A.
pub fn run_actions(cfg: &Config, show: bool) -> Result<VarianceResult> {
    let c = &cfg.bandit_actions;
    let settings: Vec<Setting> =
        c.actions.iter().map(|&a| Setting { x: a as f64, actions: a, n: c.n, k: c.k }).collect();
    run_variance(cfg, "A", ACTIONS_STREAM, &settings, (c.batches, c.logit_std, &c.success), show)
}

/// Experiment 3: relative variance against K.
pub fn run_k(cfg: &Config, show: bool) -> Result<VarianceResult> {
    let c = &cfg.bandit_k;
    let settings: Vec<Setting> =
        c.ks.iter().map(|&k| Setting { x: k as f64, actions: c.actions, n: c.n, k }).collect();
    run_variance(cfg, "K", K_STREAM, &settings, (c.batches, c.logit_std, &c.success), show)
}

fn run_variance(
    cfg: &Config,
    x_name: &str,
    stream: u64,
    settings: &[Setting],
    (batches, logit_std, success): (usize, f64, &[f64]),
    show: bool,
) -> Result<VarianceResult> {
    // Twins are found at the largest K of the settings (at K = 1 more estimators coincide).
    let probe = settings.iter().max_by_key(|s| s.k).map_or((2, 1), |s| (s.n, s.k));
    let (ests, twins) = distinct(cfg, probe.0, probe.1);
    let jobs: Vec<(usize, usize)> =
        (0..settings.len()).flat_map(|i| (0..cfg.seeds).map(move |s| (i, s))).collect();
    let progress = Progress::new(&format!("variance vs {x_name}"), jobs.len() as u64, show);
    let results: Vec<(Vec<f64>, Vec<GradientStats>)> = jobs
        .par_iter()
        .map(|&(i, s)| {
            let st = settings[i];
            let mut rng = job_rng(cfg.seed, stream, i as u64, s as u64);
            let bandit = Bandit::random(st.actions, logit_std, &mut rng);
            let scale = norm(&bandit.gradient(st.k)).powi(2);
            let mut runner = BatchRunner::new(&bandit, ests.iter().map(|e| pg(*e, st.k)).collect(), st.n);
            let mut stats: Vec<GradientStats> = ests.iter().map(|_| GradientStats::new(st.actions)).collect();
            for _ in 0..batches {
                runner.step(&mut rng, &mut stats)?;
            }
            progress.inc();
            Ok((stats.iter().map(|g| g.trace_cov(bandit.probs()) / scale).collect(), stats))
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let reference = ests.iter().position(|e| *e == Estimator::Maxpo).unwrap_or(0);
    let x: Vec<f64> = settings.iter().map(|s| s.x).collect();
    let per_setting = |f: &dyn Fn(&[f64]) -> f64| -> Vec<Vec<f64>> {
        (0..settings.len())
            .map(|i| results.iter().zip(&jobs).filter(|(_, j)| j.0 == i).map(|(r, _)| f(&r.0)).collect())
            .collect()
    };
    let mut curves = Vec::new();
    let mut ratios = Vec::new();
    for (e, id) in ests.iter().enumerate() {
        curves.push(Curve::geometric(id.id(), x.clone(), &per_setting(&|rv| rv[e])));
        ratios.push(Curve::geometric(id.id(), x.clone(), &per_setting(&|rv| rv[e] / rv[reference])));
    }
    let binary = success
        .iter()
        .map(|&p| binary_family(&ests, reference, settings, &x, p))
        .collect::<Result<Vec<_>>>()?;
    Ok(VarianceResult {
        x_name: x_name.to_string(),
        estimators: ests.clone(),
        curves,
        ratios,
        binary,
        reference: ests[reference],
        centering: centering(&ests, results.iter().map(|r| r.1.iter().collect())),
        twins,
    })
}

/// Exact relative variance (and ratio to `ests[reference]`) of every estimator at every
/// setting, binary rewards with success fraction `p` on the uniform two-class policy.
fn binary_family(
    ests: &[Estimator],
    reference: usize,
    settings: &[Setting],
    x: &[f64],
    p: f64,
) -> Result<BinaryFamily> {
    let mut rv = vec![vec![f64::NAN; settings.len()]; ests.len()];
    for (i, st) in settings.iter().enumerate() {
        let policy = TwoClass::uniform(st.actions, p);
        for (e, id) in ests.iter().enumerate() {
            if let Some(m) = moments(&policy, pg(*id, st.k), st.n)? {
                rv[e][i] = m.relative_variance(&policy, st.k);
            }
        }
    }
    let exact = |name: &str, y: &[f64]| Curve {
        name: name.to_string(),
        x: x.to_vec(),
        ci: y.iter().map(|&v| Ci::exact(v)).collect(),
    };
    let curves = ests.iter().zip(&rv).map(|(id, y)| exact(id.id(), y)).collect();
    let ratios = ests
        .iter()
        .zip(&rv)
        .map(|(id, y)| {
            let r: Vec<f64> = y.iter().zip(&rv[reference]).map(|(a, b)| a / b).collect();
            exact(id.id(), &r)
        })
        .collect();
    Ok(BinaryFamily { p, curves, ratios })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_powers_of_two_then_max() {
        assert_eq!(m_grid(8), vec![1, 2, 4, 8]);
        assert_eq!(m_grid(10), vec![1, 2, 4, 8, 10]);
    }

    #[test]
    fn error_run_separates_biased_from_unbiased() {
        let mut cfg = Config::quick();
        cfg.bandit_error.max_batches = 4096;
        cfg.seeds = 4;
        let r = run_error(&cfg, false).unwrap();
        assert!(r.twins.contains(&("pkpo-loo1".to_string(), "ei".to_string())), "{:?}", r.twins);
        for v in &r.variants {
            assert!(v.bias.iter().all(|b| b.estimator != Estimator::Canonical), "twin ran");
            let controls = v.bias.iter().filter(|b| b.role == Role::Control).count();
            assert_eq!(controls, if v.name == "binary" { 3 } else { 2 }, "{}", v.name);
            for b in &v.bias {
                match b.role {
                    Role::Unbiased => {
                        assert!(
                            b.z < 4.0 && b.dir_z < 4.0,
                            "{} {}: z = {}, {}",
                            v.name,
                            b.label,
                            b.z,
                            b.dir_z
                        )
                    }
                    // With binary rewards in a single-state bandit every mean gradient is
                    // parallel to grad J_K (module `exact`): only the full test can see grpo.
                    Role::MeanReward if v.name == "binary" => assert!(b.z > 4.0, "{}: z = {}", b.label, b.z),
                    Role::MeanReward => assert!(b.dir_z > 4.0, "{} {}: z = {}", v.name, b.label, b.dir_z),
                    Role::Control => assert!(b.dir_z.is_finite() && b.dir_bias >= 0.0),
                }
            }
            for c in &v.centering {
                if c.estimator == Estimator::Maxpo {
                    assert!(c.max_rel_sum < 1e-12, "{}: {}", c.estimator, c.max_rel_sum);
                }
            }
        }
    }

    #[test]
    fn runs_are_deterministic() {
        let mut cfg = Config::quick();
        cfg.bandit_k.ks = vec![2];
        let a = run_k(&cfg, false).unwrap();
        let b = run_k(&cfg, false).unwrap();
        assert_eq!(a.curves, b.curves);
        assert_eq!(a.binary.len(), cfg.bandit_k.success.len());
    }
}
