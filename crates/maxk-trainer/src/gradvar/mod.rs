//! Gradient variance of every estimator from the same rollouts (the paper's Fig. 3 without
//! the trajectory confound), per prompt, so that it can be read against the prompt's success
//! rate.
//!
//! At a fixed checkpoint (the base model, a mid-RL or final policy), `M` independent rollout
//! batches are drawn for one fixed set of `P` prompts, `N` samples each at the rollout
//! temperature. For every batch, prompt `p` and estimator the policy-gradient estimate of the
//! prompt's group at the PG scale ([`maxk_core::Scale::Pg`], so that `c sum_i A_i grad log pi(y_i)`
//! estimates the gradient of the estimator's own objective) is
//!
//! `g_p = sum_{i in group p} A_i grad log pi(y_i)`,  `log pi(y) = sum_t log pi(y_t | y_<t)`,
//!
//! computed by back-propagation through the engine ([`Policy::gradients`] of
//! `sum_{b,t} w[b,t] logp[b,t]` with `w = mask * A_b`), unclipped, with no optimiser in
//! between. Every estimator sees the same rewards, so differences in spread are due to the
//! estimator alone.
//!
//! The trace of the covariance, `T_p = tr Cov(g_p) = E||g_p - E g_p||^2`, is estimated without
//! bias from the `M/2` disjoint pairs of independent batches: `d_pj = ||g_p,2j - g_p,2j+1||^2 / 2`
//! has expectation `T_p`. The groups of different prompts are independent, so the batch
//! gradient `g = (1/P) sum_p g_p` of the RL step has `tr Cov(g) = (1/P^2) sum_p T_p`, estimated
//! per pair by `D_j = (1/P^2) sum_p d_pj`; its interval is `mean(D) +- t_{M/2-1} sd(D)/sqrt(M/2)`
//! (rollout noise at fixed prompts and weights). The ratio of two estimators' traces is paired
//! (same rollouts) with a delta-method interval. Intervals that also cover the choice of
//! prompts and the training seed are taken over seeds in [`report`] ([`crate::mechanism`]).
//!
//! Each prompt's success rate is measured from the same `M N` rollouts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use maxk_core::{Estimator, Scale, Spec, batch_advantages};
use maxk_study::Ci;
use maxk_study::stats::t975;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::backend::OnBackend;
use crate::checkpoint;
use crate::config::LmConfig;
use crate::diagnostics::progress_bar;
use crate::engine::{Engine, Policy, TokenBatch};
use crate::error::{Result, TrainerError};
use crate::eval::held_out;
use crate::run_label::RunLabel;
use crate::sampling::sample;
use crate::tasks::{Problem, TrainSampler, score};
use crate::vocab::encode_prompt;

pub mod report;

/// One model and its checkpoints: the config (model, tasks, N, K, rollout sampling, and the
/// seed that draws the prompts) and `(label, weights path)` pairs.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Study label (a regime, or empty for a single run).
    pub study: String,
    /// Config; `seed` draws the prompts and the rollouts.
    pub cfg: LmConfig,
    /// Checkpoints: (label, weights path).
    pub checkpoints: Vec<(String, PathBuf)>,
}

/// A checkpoint of every seed of a `maxk lm reproduce` output directory: the base model
/// (`base`), or the policy of RL run `<run>` after half (`mid-<run>`) or all (`final-<run>`)
/// of its steps, e.g. `final-maxpo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyCheckpoint {
    /// `base`: `seed<s>/base/base.safetensors`.
    Base,
    /// `mid-<run>`: `seed<s>/rl/<run>/policy-mid.safetensors`.
    Mid(RunLabel),
    /// `final-<run>`: `seed<s>/rl/<run>/policy.safetensors`.
    Final(RunLabel),
}

impl StudyCheckpoint {
    /// The weights file of this checkpoint in `seed_dir`.
    pub fn path(self, seed_dir: &Path) -> PathBuf {
        match self {
            StudyCheckpoint::Base => seed_dir.join("base").join("base.safetensors"),
            StudyCheckpoint::Mid(run) => {
                seed_dir.join("rl").join(run.to_string()).join("policy-mid.safetensors")
            }
            StudyCheckpoint::Final(run) => {
                seed_dir.join("rl").join(run.to_string()).join("policy.safetensors")
            }
        }
    }
}

impl fmt::Display for StudyCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StudyCheckpoint::Base => f.write_str("base"),
            StudyCheckpoint::Mid(run) => write!(f, "mid-{run}"),
            StudyCheckpoint::Final(run) => write!(f, "final-{run}"),
        }
    }
}

impl FromStr for StudyCheckpoint {
    type Err = TrainerError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || TrainerError::UnknownCheckpoint { label: s.into() };
        // The run of a mid or final checkpoint: an RL run, never the base model.
        let run = |r: &str| r.parse::<RunLabel>().ok().filter(|r| !r.is_base()).ok_or_else(bad);
        match s.split_once('-') {
            _ if s == "base" => Ok(StudyCheckpoint::Base),
            Some(("mid", r)) => Ok(StudyCheckpoint::Mid(run(r)?)),
            Some(("final", r)) => Ok(StudyCheckpoint::Final(run(r)?)),
            _ => Err(bad()),
        }
    }
}

impl Unit {
    /// The units of a `maxk lm reproduce` output directory: one per seed with RL runs, with the
    /// `checkpoints` of each seed; the config is the study's resolved `config.toml` with the
    /// seed set.
    pub fn from_study(study: &str, dir: &Path, checkpoints: &[StudyCheckpoint]) -> Result<Vec<Unit>> {
        let cfg = LmConfig::load(&dir.join("config.toml"))?;
        let entries = std::fs::read_dir(dir).map_err(TrainerError::io(dir))?;
        let mut seeds: Vec<u64> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("rl").is_dir())
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("seed")?.parse().ok())
            .collect();
        seeds.sort_unstable();
        if seeds.is_empty() {
            return Err(TrainerError::NoSeeds { dir: dir.into() });
        }
        seeds
            .into_iter()
            .map(|seed| {
                let seed_dir = dir.join(format!("seed{seed}"));
                let checkpoints = checkpoints
                    .iter()
                    .map(|&checkpoint| {
                        let path = checkpoint.path(&seed_dir);
                        if !path.is_file() {
                            return Err(TrainerError::MissingWeights {
                                checkpoint: checkpoint.to_string(),
                                seed,
                                path,
                            });
                        }
                        Ok((checkpoint.to_string(), path))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let mut cfg = cfg.clone();
                cfg.seed = seed;
                Ok(Unit { study: study.into(), cfg, checkpoints })
            })
            .collect()
    }
}

/// `maxk lm gradvar`: the study over units (seeds), checkpoints and estimators.
#[derive(Debug, Clone)]
pub struct GradVar {
    /// The models and their checkpoints.
    pub units: Vec<Unit>,
    /// Estimators compared on the same rollouts.
    pub estimators: Vec<Estimator>,
    /// Independent rollout batches M (even, >= 4).
    pub batches: usize,
    /// Fixed prompts P per batch.
    pub prompts: usize,
    /// Show progress bars.
    pub progress: bool,
}

/// One estimator at one checkpoint: the batch gradient `(1/P) sum_p g_p`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradVarRow {
    /// Study label.
    #[serde(default)]
    pub study: String,
    /// Seed of the unit.
    #[serde(default)]
    pub seed: u64,
    /// Checkpoint label.
    pub checkpoint: String,
    /// The estimator (its id in the file).
    pub estimator: Estimator,
    /// Estimate of `tr Cov(g)` (mean of the pair statistics `D_j`).
    pub trace: f64,
    /// Half-width of its 95% t interval over the pairs (rollout noise only).
    pub trace_ci: f64,
    /// `||mean g||^2` over the M batches (the signal; biased upwards by `tr Cov / M`).
    pub mean_grad_sq: f64,
    /// Fraction of batches whose gradient was exactly zero (no group with signal).
    pub zero_batches: f64,
    /// Mean reward of the rollouts (the same for every estimator at a checkpoint).
    pub reward_mean: f64,
}

/// A paired ratio of traces at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRatio {
    /// Study label.
    #[serde(default)]
    pub study: String,
    /// Seed of the unit.
    #[serde(default)]
    pub seed: u64,
    /// Checkpoint label.
    pub checkpoint: String,
    /// Numerator estimator.
    pub estimator: Estimator,
    /// Denominator estimator.
    pub reference: Estimator,
    /// `trace(estimator) / trace(reference)`.
    pub ratio: f64,
    /// Half-width of its 95% delta-method interval (pairs shared by both estimators).
    pub ci: f64,
}

/// One prompt at one checkpoint: its measured success rate and every estimator's `T_p`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptRow {
    /// Study label.
    pub study: String,
    /// Seed of the unit.
    pub seed: u64,
    /// Checkpoint label.
    pub checkpoint: String,
    /// Task id.
    pub task: String,
    /// Prompt text.
    pub prompt: String,
    /// Fraction of the `M N` rollouts of this prompt that were correct.
    pub success: f64,
    /// `T_p = tr Cov(g_p)` per estimator, in the order of [`GradVarResults::estimators`].
    pub traces: Vec<f64>,
}

/// Everything [`GradVar`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradVarResults {
    /// The config of the first unit (group size, K, sampling, model).
    pub config: LmConfig,
    /// The estimators, in the order of [`PromptRow::traces`].
    #[serde(default)]
    pub estimators: Vec<Estimator>,
    /// M.
    pub batches: usize,
    /// P.
    pub prompts: usize,
    /// One row per unit, checkpoint and estimator.
    pub rows: Vec<GradVarRow>,
    /// Every estimator against the first one (MaxPO when listed first), per checkpoint.
    pub ratios: Vec<TraceRatio>,
    /// One row per unit, checkpoint and prompt.
    #[serde(default)]
    pub prompt_rows: Vec<PromptRow>,
    /// Wall time.
    pub seconds: f64,
}

impl GradVarResults {
    /// Reads a `gradvar.json` written by [`report::write`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(TrainerError::io(path))?;
        serde_json::from_str(&text).map_err(TrainerError::json(path.display()))
    }

    /// The results of several runs as one (their units side by side; the first one's config,
    /// M and P, which must agree, and the summed wall time). An error when none is given or
    /// the runs differ in estimators, M or P.
    pub fn merge(parts: Vec<GradVarResults>) -> Result<Self> {
        let mut it = parts.into_iter();
        let mut out = it.next().ok_or(TrainerError::Argument {
            arg: "--merge",
            value: "(none)".into(),
            reason: "at least one gradvar.json is needed",
        })?;
        for r in it {
            if (r.estimators.as_slice(), r.batches, r.prompts)
                != (out.estimators.as_slice(), out.batches, out.prompts)
            {
                let protocol = |r: &GradVarResults| {
                    let ids: Vec<&str> = r.estimators.iter().map(|e| e.id()).collect();
                    format!("estimators {ids:?}, M = {}, P = {}", r.batches, r.prompts)
                };
                return Err(TrainerError::MergeMismatch { first: protocol(&out), other: protocol(&r) });
            }
            out.rows.extend(r.rows);
            out.ratios.extend(r.ratios);
            out.prompt_rows.extend(r.prompt_rows);
            out.seconds += r.seconds;
        }
        Ok(out)
    }
}

/// `mean(a)/mean(b)` with the 95% half-width of the delta method for paired samples:
/// `Var(r) ~ (Var a/mb^2 - 2 ma Cov(a,b)/mb^3 + ma^2 Var b/mb^4) / n`, t quantile with `n - 1`
/// degrees of freedom.
pub fn ratio_ci(a: &[f64], b: &[f64]) -> (f64, f64) {
    let len = a.len().min(b.len());
    let n = len as f64;
    if len < 2 {
        return (f64::NAN, f64::NAN);
    }
    let (ma, mb) = (a[..len].iter().sum::<f64>() / n, b[..len].iter().sum::<f64>() / n);
    let (mut va, mut vb, mut cab) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
        cab += (x - ma) * (y - mb);
    }
    let d = n - 1.0;
    let (va, vb, cab) = (va / d, vb / d, cab / d);
    let var = (va / mb.powi(2) - 2.0 * ma * cab / mb.powi(3) + ma.powi(2) * vb / mb.powi(4)) / n;
    (ma / mb, t975(len - 1) * var.max(0.0).sqrt())
}

impl GradVar {
    fn check(&self) -> Result<()> {
        if self.batches < 4 || !self.batches.is_multiple_of(2) {
            let value = self.batches.to_string();
            return Err(TrainerError::Argument { arg: "--batches", value, reason: "must be even and >= 4" });
        }
        let none =
            |arg| TrainerError::Argument { arg, value: "(none)".into(), reason: "at least one is needed" };
        for (arg, empty) in [
            ("--prompts", self.prompts == 0),
            ("--estimators", self.estimators.is_empty()),
            ("--study or --weights", self.units.is_empty()),
        ] {
            if empty {
                return Err(none(arg));
            }
        }
        for u in &self.units {
            u.cfg.validate()?;
            if u.checkpoints.is_empty() {
                return Err(none("--checkpoints"));
            }
            for e in &self.estimators {
                e.validate(u.cfg.rl.group_size, u.cfg.rl.k)?;
            }
        }
        Ok(())
    }
}

/// The per-pair statistics of one checkpoint.
struct Accumulator {
    /// `[estimator][pair]`: `D_j`.
    batch_pairs: Vec<Vec<f64>>,
    /// `[estimator][prompt]`: sum over pairs of `d_pj`.
    prompt_sums: Vec<Vec<f64>>,
    /// `[estimator]`: sum over batches of the batch gradient.
    grad_sums: Vec<Vec<f64>>,
    /// `[estimator]`: batches with an exactly zero gradient.
    zero: Vec<usize>,
    /// `[prompt]`: correct rollouts.
    correct: Vec<f64>,
}

impl OnBackend for GradVar {
    type Output = GradVarResults;

    fn run<E: Engine>(self, engine: E) -> Result<GradVarResults> {
        self.check()?;
        let start = Instant::now();
        let (mut rows, mut ratios, mut prompt_rows) = (Vec::new(), Vec::new(), Vec::new());
        for unit in &self.units {
            let cfg = &unit.cfg;
            let specs: Vec<Spec> =
                self.estimators.iter().map(|&e| Spec::new(e, cfg.rl.k).with_scale(Scale::Pg)).collect();
            let n = cfg.rl.group_size;
            let sampler = TrainSampler::new(cfg.task_list()?, &held_out(cfg)?);
            let mut prompt_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6a7d_0001);
            let problems: Vec<Problem> = (0..self.prompts).map(|_| sampler.sample(&mut prompt_rng)).collect();
            let mut prompts = Vec::with_capacity(problems.len() * n);
            for p in &problems {
                prompts.extend(std::iter::repeat_n(encode_prompt(&p.prompt)?, n));
            }
            let params = cfg.model.num_params();
            for (label, path) in &unit.checkpoints {
                let weights = checkpoint::load_weights(path, &cfg.model)?;
                let mut policy = engine.frozen(&weights)?;
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6a7d_0002);
                let bar =
                    progress_bar(self.progress, self.batches, &format!("gradvar seed {} {label}", cfg.seed));
                let e_count = specs.len();
                let mut acc = Accumulator {
                    batch_pairs: vec![Vec::new(); e_count],
                    prompt_sums: vec![vec![0.0; self.prompts]; e_count],
                    grad_sums: vec![vec![0.0; params]; e_count],
                    zero: vec![0; e_count],
                    correct: vec![0.0; self.prompts],
                };
                for _ in 0..self.batches / 2 {
                    let pair: [(Vec<Vec<u32>>, Vec<f64>); 2] = std::array::from_fn(|_| {
                        let completions = sample(&mut policy, &prompts, &cfg.rl.sampling, &mut rng);
                        let rewards = score(&problems, &completions, n);
                        (completions, rewards)
                    });
                    for (_, rewards) in &pair {
                        for (p, c) in acc.correct.iter_mut().enumerate() {
                            *c += rewards[p * n..(p + 1) * n].iter().sum::<f64>();
                        }
                    }
                    let mut batch_d = vec![0.0; e_count];
                    let mut batch_zero = [vec![true; e_count], vec![true; e_count]];
                    for p in 0..self.prompts {
                        let rows_p = p * n..(p + 1) * n;
                        for (e, spec) in specs.iter().enumerate() {
                            let mut g: [Option<Vec<f64>>; 2] = [None, None];
                            for (h, (completions, rewards)) in pair.iter().enumerate() {
                                let adv = batch_advantages(&rewards[rows_p.clone()], n, *spec)?;
                                if adv.iter().any(|&a| a != 0.0) {
                                    let (batch, mask) = TokenBatch::padded(
                                        &prompts[rows_p.clone()],
                                        &completions[rows_p.clone()],
                                    );
                                    let gp = group_gradient(&mut policy, &batch, &mask, &adv)?;
                                    let scale = 1.0 / self.prompts as f64;
                                    acc.grad_sums[e].iter_mut().zip(&gp).for_each(|(s, x)| *s += scale * x);
                                    batch_zero[h][e] = false;
                                    g[h] = Some(gp);
                                }
                            }
                            let d = match &g {
                                [None, None] => 0.0,
                                [Some(a), None] | [None, Some(a)] => {
                                    a.iter().map(|x| x * x).sum::<f64>() / 2.0
                                }
                                [Some(a), Some(b)] => {
                                    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / 2.0
                                }
                            };
                            acc.prompt_sums[e][p] += d;
                            batch_d[e] += d;
                        }
                    }
                    let p2 = (self.prompts * self.prompts) as f64;
                    for e in 0..e_count {
                        acc.batch_pairs[e].push(batch_d[e] / p2);
                        acc.zero[e] += batch_zero.iter().filter(|z| z[e]).count();
                    }
                    bar.inc(2);
                }
                bar.finish_and_clear();
                let (mf, pairs) = (self.batches as f64, (self.batches / 2) as f64);
                let reward_mean = acc.correct.iter().sum::<f64>() / (mf * (self.prompts * n) as f64);
                for (e, est) in self.estimators.iter().enumerate() {
                    let trace = Ci::of(&acc.batch_pairs[e]);
                    rows.push(GradVarRow {
                        study: unit.study.clone(),
                        seed: cfg.seed,
                        checkpoint: label.clone(),
                        estimator: *est,
                        trace: trace.mean,
                        trace_ci: trace.hi - trace.mean,
                        mean_grad_sq: acc.grad_sums[e].iter().map(|s| (s / mf).powi(2)).sum(),
                        zero_batches: acc.zero[e] as f64 / mf,
                        reward_mean,
                    });
                    let (ratio, ci) = ratio_ci(&acc.batch_pairs[e], &acc.batch_pairs[0]);
                    ratios.push(TraceRatio {
                        study: unit.study.clone(),
                        seed: cfg.seed,
                        checkpoint: label.clone(),
                        estimator: *est,
                        reference: self.estimators[0],
                        ratio,
                        ci,
                    });
                }
                for (p, problem) in problems.iter().enumerate() {
                    prompt_rows.push(PromptRow {
                        study: unit.study.clone(),
                        seed: cfg.seed,
                        checkpoint: label.clone(),
                        task: problem.task.id().into(),
                        prompt: problem.prompt.clone(),
                        success: acc.correct[p] / (mf * n as f64),
                        traces: (0..e_count).map(|e| acc.prompt_sums[e][p] / pairs).collect(),
                    });
                }
            }
        }
        Ok(GradVarResults {
            config: self.units[0].cfg.clone(),
            estimators: self.estimators.clone(),
            batches: self.batches,
            prompts: self.prompts,
            rows,
            ratios,
            prompt_rows,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// `sum_i A_i grad log pi(y_i)` over the rows of `batch` as one flat vector (parameter order
/// of [`crate::model::ModelConfig::param_specs`]): the engine's gradient of
/// `sum_{b,t} w[b,t] logp[b,t]` with `w[b,t] = mask[b,t] A_b`.
fn group_gradient<P: Policy>(
    policy: &mut P,
    batch: &TokenBatch,
    mask: &[f32],
    adv: &[f64],
) -> Result<Vec<f64>> {
    let width = batch.cols - 1;
    policy.forward_train(batch);
    let weight: Vec<f32> = (0..batch.rows * width).map(|j| mask[j] * adv[j / width] as f32).collect();
    let grads = policy.gradients(&weight)?;
    Ok(grads.into_iter().flat_map(|g| g.into_iter().map(f64::from)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::PAD;

    #[test]
    fn ratio_intervals_match_hand_computations() {
        // b = 2a exactly: the ratio is 1/2 with no spread.
        let a = [1.0, 2.0, 4.0, 3.0];
        let b: Vec<f64> = a.iter().map(|x| 2.0 * x).collect();
        let (r, ci) = ratio_ci(&a, &b);
        // (The delta-method variance cancels to rounding error, ~1e-17.)
        assert!((r - 0.5).abs() < 1e-12 && ci.abs() < 1e-6, "{r} {ci}");
        assert!(ratio_ci(&[1.0], &[1.0]).0.is_nan());
    }

    #[test]
    fn study_checkpoints_parse_name_their_files_and_reject_other_labels() {
        let seed = Path::new("s/seed3");
        let cases = [
            ("base", "s/seed3/base/base.safetensors"),
            ("mid-maxpo", "s/seed3/rl/maxpo/policy-mid.safetensors"),
            ("final-pkpo-loo1", "s/seed3/rl/pkpo-loo1/policy.safetensors"),
            ("final-maxpo-K4", "s/seed3/rl/maxpo-K4/policy.safetensors"),
        ];
        for (label, path) in cases {
            let c: StudyCheckpoint = label.parse().unwrap();
            assert_eq!(c.to_string(), label);
            assert_eq!(c.path(seed), Path::new(path));
        }
        for bad in ["final", "mid-base", "final-nope", "last-maxpo", "basis"] {
            let err = bad.parse::<StudyCheckpoint>().unwrap_err().to_string();
            assert!(err.starts_with(&format!("checkpoint {bad:?}: expected base")), "{err}");
        }
    }

    #[test]
    fn merge_concatenates_units_and_refuses_different_protocols() {
        let row = |seed: u64| PromptRow {
            study: "s".into(),
            seed,
            checkpoint: "base".into(),
            task: "mod".into(),
            prompt: "m:1*2%3=".into(),
            success: 0.5,
            traces: vec![1.0, 2.0],
        };
        let part = |seed: u64, seconds: f64| GradVarResults {
            config: LmConfig::preset("tiny").unwrap(),
            estimators: vec![Estimator::Maxpo, Estimator::PkpoLoo1],
            batches: 4,
            prompts: 1,
            rows: Vec::new(),
            ratios: Vec::new(),
            prompt_rows: vec![row(seed)],
            seconds,
        };
        let m = GradVarResults::merge(vec![part(0, 1.0), part(1, 2.0)]).unwrap();
        assert_eq!(m.prompt_rows.iter().map(|r| r.seed).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(m.seconds, 3.0);
        let mut other = part(2, 1.0);
        other.batches = 8;
        assert!(GradVarResults::merge(vec![part(0, 1.0), other]).unwrap_err().to_string().contains("M = 8"));
        assert!(GradVarResults::merge(Vec::new()).is_err());
    }

    #[test]
    fn pair_statistic_is_unbiased_for_the_trace_of_the_covariance() {
        // Independent N(mu, diag(s^2)) draws: E ||x - y||^2 / 2 = sum s^2.
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let s = [0.5, 1.0, 2.0];
        let draw = |rng: &mut ChaCha8Rng| -> Vec<f64> {
            s.iter()
                .map(|sd| {
                    // Box-Muller.
                    let (u, v): (f64, f64) = (rng.r#gen::<f64>().max(1e-300), rng.r#gen());
                    3.0 + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
                })
                .collect()
        };
        let d: Vec<f64> = (0..20000)
            .map(|_| {
                let (x, y) = (draw(&mut rng), draw(&mut rng));
                x.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 2.0
            })
            .collect();
        let c = Ci::of(&d);
        assert!((c.mean - 5.25).abs() < (c.hi - c.mean).max(0.05), "{c:?}");
    }

    #[test]
    fn policy_gradient_matches_finite_differences_of_the_weighted_log_likelihood() {
        use crate::engine::native::NativeEngine;
        use crate::model::{HostWeights, ModelConfig};
        let model = ModelConfig { d_model: 16, n_layers: 1, n_heads: 2, d_ff: 32, max_seq_len: 16 };
        let weights = model.init_host(3).unwrap();
        let prompts = [vec![1, 5, 6], vec![1, 7, 9], vec![1, 4, 8], vec![1, 3, 3]];
        let completions = [vec![8, 2], vec![11, 12, 2], vec![2], vec![10, 2]];
        let adv = [0.75, -0.25, 0.5, -1.0];
        let (batch, mask) = TokenBatch::padded(&prompts, &completions);
        let mut policy = NativeEngine.frozen(&weights).unwrap();
        let g = group_gradient(&mut policy, &batch, &mask, &adv).unwrap();
        // The objective sum_b A_b sum_t mask[b,t] logp[b,t], in f64 from the engine's logp.
        let width = batch.cols - 1;
        let objective = |w: &HostWeights| -> f64 {
            let logp = NativeEngine.frozen(w).unwrap().logprobs(&batch);
            (0..logp.len()).map(|j| f64::from(mask[j]) * adv[j / width] * f64::from(logp[j])).sum()
        };
        // Central differences on the largest gradient coordinates of every tensor.
        let mut offset = 0;
        let mut checked = 0;
        for (ti, tensor) in weights.tensors.iter().enumerate() {
            let block = &g[offset..offset + tensor.len()];
            offset += tensor.len();
            let (i, &gi) = block.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap();
            if gi.abs() < 1e-3 {
                continue;
            }
            let eps = 1e-2f32;
            let (mut plus, mut minus) = (weights.clone(), weights.clone());
            plus.tensors[ti][i] += eps;
            minus.tensors[ti][i] -= eps;
            let fd = (objective(&plus) - objective(&minus)) / (2.0 * f64::from(eps));
            assert!(
                (fd - gi).abs() < 0.05 * gi.abs() + 1e-3,
                "tensor {ti} index {i}: backprop {gi}, finite difference {fd}"
            );
            checked += 1;
        }
        assert_eq!(offset, g.len(), "one gradient entry per weight");
        assert!(checked >= 3, "only {checked} tensors had a gradient to check");
    }

    #[test]
    fn mask_scores_only_answer_tokens() {
        let (batch, mask) = TokenBatch::padded(&[vec![1, 5, 6], vec![1, 7]], &[vec![8, 2], vec![2]]);
        assert_eq!((batch.rows, batch.cols), (2, 5));
        assert_eq!(batch.tokens[5..10], [1, 7, 2, PAD, PAD]);
        // Row 0: logits at positions 2, 3 predict tokens 3, 4 (the answer 8, 2).
        assert_eq!(mask[..4], [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(mask[4..], [0.0, 1.0, 0.0, 0.0]);
    }
}
