//! Run configuration: serde structs, one base config plus per-preset overrides, TOML in and out.
//!
//! Every stage writes its resolved config (`config.toml`) next to its results.

use std::collections::BTreeMap;
use std::path::Path;

use maxk_core::{Estimator, Mixture, Scale};
pub use maxk_study::config::Assignment;
use maxk_study::config::{ConfigError, Overlay, at_least, positive};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainerError};
use crate::model::ModelConfig;
use crate::optim::AdamConfig;
use crate::sampling::SampleConfig;
use crate::tasks::Task;

/// Everything a run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    /// Preset name this config was derived from.
    pub preset: String,
    /// Master seed (model init, data, sampling).
    pub seed: u64,
    /// Task ids trained and evaluated.
    pub tasks: Vec<String>,
    /// Model size.
    pub model: ModelConfig,
    /// Supervised base-model training.
    pub sft: SftConfig,
    /// Group RL.
    pub rl: RlConfig,
    /// pass@k evaluation.
    pub eval: EvalConfig,
    /// Learning-rate selection on a validation split (`[tune]`; off when `lrs` is empty).
    #[serde(default)]
    pub tune: TuneConfig,
    /// The endpoints of a study, declared before its runs (`[study]`; none for a plain run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<StudyConfig>,
}

/// A study's pre-declared analysis (`[study]`), written into the config before the runs so
/// that the report cannot choose its endpoint after seeing the data.
///
/// The primary endpoint is the pass@`k` difference `estimator - reference` on the test
/// problems, reported with its seed-level t interval (problems clustered,
/// [`maxk_study::stats::paired`]) at the 95 % level. The secondary family is every pair of the
/// study's estimators at every k of `secondary_ks` (the primary comparison excluded), with
/// Holm's step-down correction of their two-sided t p-values (`correction = "holm"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// The success-rate regime the study targets, in words (e.g. `moderate: base-model
    /// rollouts succeed 20-40 % of the time on the validation split`).
    pub regime: String,
    /// Primary endpoint.
    pub primary: Endpoint,
    /// The k values of the secondary comparisons.
    pub secondary_ks: Vec<usize>,
    /// Multiplicity correction of the secondary family: `holm` or `bonferroni`.
    pub correction: Correction,
}

/// The multiplicity correction of a study's secondary comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// Holm's step-down method.
    Holm,
    /// Bonferroni's.
    Bonferroni,
}

/// A pass@k difference between two runs' estimators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The minuend's estimator (a run of the study, at its one training K).
    pub estimator: Estimator,
    /// The subtrahend's estimator.
    pub reference: Estimator,
    /// The k of pass@k.
    pub k: usize,
}

/// Learning-rate selection (`maxk lm reproduce` with a non-empty `lrs`): every estimator is
/// trained with every lr of the grid from the same base model(s) and scored on validation
/// problems disjoint from the test set ([`crate::tune`]); the final runs use each estimator's
/// best lr, recorded in `rl.lr_by_estimator`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuneConfig {
    /// RL Adam learning rates tried for every estimator (empty: no tuning).
    pub lrs: Vec<f64>,
    /// Seeds of the tuning runs; a seed that is also a final seed shares its base model.
    pub seeds: Vec<u64>,
    /// Validation problems per task.
    pub problems_per_task: usize,
    /// Samples per validation problem (scored with the evaluation sampling, `eval.sampling`).
    pub n_samples: usize,
    /// Seed of the validation problem stream (must differ from `eval.test_seed`; validation
    /// problems that are test problems are skipped, so the two sets are disjoint).
    pub val_seed: u64,
}

impl Default for TuneConfig {
    fn default() -> Self {
        TuneConfig { lrs: Vec::new(), seeds: vec![0], problems_per_task: 30, n_samples: 32, val_seed: 4321 }
    }
}

/// Supervised training of the base model on reference answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    /// Updates.
    pub steps: usize,
    /// Sequences per update.
    pub batch_size: usize,
    /// Optimiser.
    pub adam: AdamConfig,
    /// Checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: usize,
}

/// GRPO-style group RL with a maxk-core advantage estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlConfig {
    /// The advantage estimator (its id in the file, `maxk estimators`).
    pub estimator: Estimator,
    /// Training K of max@K (every step, unless `k_schedule` is set).
    pub k: usize,
    /// K as a function of the step (`[rl.k_schedule]`, see [`maxk_core::KSchedule`]): a table
    /// with `kind = "constant"` and `k`, `kind = "linear"` with `start`, `end` and `steps`, or
    /// `kind = "steps"` with `milestones = [[0, k0], [s1, k1], ...]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k_schedule: Option<maxk_core::KSchedule>,
    /// Post-estimator scale: `none`, `std` or `pg`.
    pub scale: Scale,
    /// Train on a mixture of K instead of the estimator (`maxk_core::Mixture`'s text form):
    /// `"1:1,8:0.5"` for pass@1 + 0.5 pass@8, `"harmonic"` for MaxRL's objective extended to
    /// any reward. Its advantages are PG-unbiased with factor 1; `estimator` and `scale` are then
    /// unused and `k` only names the logged max@K.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixture: Option<Mixture>,
    /// Updates.
    pub steps: usize,
    /// Prompts per update.
    pub prompts_per_step: usize,
    /// Samples per prompt (N).
    pub group_size: usize,
    /// Gradient steps per batch (the batch is split into this many minibatches; the importance
    /// ratio differs from 1 from the second one on).
    pub minibatches: usize,
    /// PPO clip range epsilon.
    pub clip_eps: f64,
    /// Coefficient of the k3 KL estimate to the base model (0 disables and skips its forward).
    pub kl_coef: f64,
    /// Rollout sampling (temperature 1, no nucleus, by default).
    pub sampling: SampleConfig,
    /// Optimiser.
    pub adam: AdamConfig,
    /// Checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: usize,
    /// Per-estimator Adam lr (estimator id -> lr) that replaces `adam.lr` for that estimator;
    /// filled in by the lr selection of `[tune]`. Written in id order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", serialize_with = "in_id_order")]
    pub lr_by_estimator: BTreeMap<Estimator, f64>,
}

/// Writes an estimator-keyed map in the order of the ids (as the files have always listed
/// them), not in the registry order of [`Estimator`].
fn in_id_order<S: serde::Serializer>(map: &BTreeMap<Estimator, f64>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(e, lr)| (e.id(), lr)).collect::<BTreeMap<_, _>>())
}

impl RlConfig {
    /// The Adam lr of `estimator`: its `lr_by_estimator` entry, else `adam.lr`.
    pub fn lr_for(&self, estimator: Estimator) -> f64 {
        self.lr_by_estimator.get(&estimator).copied().unwrap_or(self.adam.lr)
    }

    /// The training K at step `step`: `k_schedule`'s, or `k` without one.
    pub fn k_at(&self, step: usize) -> usize {
        self.k_schedule.as_ref().map_or(self.k, |s| s.k_at(step))
    }

    /// Every training K the run can use (the schedule validated first), to check each against
    /// the group size before training.
    pub fn k_values(&self) -> Result<Vec<usize>> {
        match &self.k_schedule {
            None => Ok(vec![self.k]),
            Some(s) => {
                s.validate().map_err(|e| match e {
                    maxk_core::Error::InvalidKSchedule { reason } => {
                        ConfigError::invalid("rl.k_schedule", s, reason).into()
                    }
                    e => TrainerError::from(e),
                })?;
                Ok(s.values())
            }
        }
    }
}

/// pass@k evaluation protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out problems per task.
    pub problems_per_task: usize,
    /// Samples per problem (n); pass@k is reported for k = 1, 2, 4, ... <= n.
    pub n_samples: usize,
    /// Seed of the held-out sets (fixed across runs so every estimator sees the same problems).
    pub test_seed: u64,
    /// Sampling (default temperature 0.6, top-p 0.95: maxk's choice).
    pub sampling: SampleConfig,
    /// Sequences per sampling batch.
    pub batch_rows: usize,
    /// Also evaluate at the rollout sampling (`rl.sampling`, temperature 1 by default), to
    /// separate the effect of RL from the temperature mismatch between training and evaluation.
    #[serde(default)]
    pub at_rollout_temperature: bool,
}

/// The presets, each a TOML overlay on [`LmConfig::base`] (`presets/<name>.toml`): `tiny`
/// (CI: seconds), `cpu` (the committed multi-seed CPU study: a smaller model, so that
/// 4 estimators x 3 seeds fit in about an hour of 2-core time), `small` (the defaults
/// themselves) and `gpu` (tens of M parameters).
pub const PRESETS: [(&str, &str); 4] = [
    ("tiny", include_str!("../presets/tiny.toml")),
    ("cpu", include_str!("../presets/cpu.toml")),
    ("small", include_str!("../presets/small.toml")),
    ("gpu", include_str!("../presets/gpu.toml")),
];

/// The preset names, comma-separated (for messages and help).
pub fn preset_names() -> String {
    PRESETS.map(|(name, _)| name).join(", ")
}

impl LmConfig {
    /// The defaults, which are the `small` preset and the base every overlay changes: an
    /// 0.8M-parameter model on all five tasks, evaluation with n = 256 samples (pass@k to
    /// k = 256, as far as the paper's curves reach) at temperature 0.6, top-p 0.95, and
    /// rollouts at temperature 1.
    pub fn base() -> Self {
        LmConfig {
            preset: "small".into(),
            seed: 0,
            tasks: Task::ALL.iter().map(|t| t.id().to_string()).collect(),
            model: ModelConfig { d_model: 128, n_layers: 4, n_heads: 4, d_ff: 512, max_seq_len: 32 },
            sft: SftConfig {
                steps: 600,
                batch_size: 64,
                adam: AdamConfig { lr: 2e-3, ..AdamConfig::default() },
                checkpoint_every: 200,
            },
            rl: RlConfig {
                estimator: Estimator::Maxpo,
                k: 8,
                k_schedule: None,
                scale: Scale::Pg,
                mixture: None,
                steps: 100,
                prompts_per_step: 16,
                group_size: 16,
                minibatches: 2,
                clip_eps: 0.2,
                kl_coef: 0.0,
                sampling: SampleConfig { temperature: 1.0, top_p: 1.0, max_new_tokens: 8 },
                // No gradient clipping: Adam's normalisation bounds the step already, and the
                // Adam-moment variance proxy then sees the estimators' own gradients.
                adam: AdamConfig { lr: 1e-4, grad_clip: 0.0, ..AdamConfig::default() },
                checkpoint_every: 20,
                lr_by_estimator: BTreeMap::new(),
            },
            eval: EvalConfig {
                problems_per_task: 20,
                n_samples: 256,
                test_seed: 1234,
                sampling: SampleConfig { temperature: 0.6, top_p: 0.95, max_new_tokens: 8 },
                batch_rows: 1024,
                at_rollout_temperature: false,
            },
            tune: TuneConfig::default(),
            study: None,
        }
    }

    /// Preset `name` ([`PRESETS`]): its overlay on [`LmConfig::base`], named `name`.
    pub fn preset(name: &str) -> Result<Self> {
        LmConfig::resolve(Some(name), None, &[])
    }

    /// The config of a run: the defaults ([`LmConfig::base`]), then the overlays in order: the
    /// preset `preset`, the TOML file `file` (any subset of the keys; a config written next to
    /// a run is a complete one) and the `key=value` assignments (`maxk lm --set`). Unknown keys
    /// and wrong types are errors naming the origin, line and key; ranges are checked by
    /// [`LmConfig::validate`].
    pub fn resolve(preset: Option<&str>, file: Option<&Path>, set: &[Assignment]) -> Result<Self> {
        let mut c = LmConfig::base();
        if let Some(name) = preset {
            let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == name) else {
                return Err(TrainerError::UnknownPreset { name: name.into(), known: preset_names() });
            };
            c = Overlay::parse(text, format!("preset {name}"))?.apply(&c)?;
            c.preset = name.into();
        }
        let mut overlays = Vec::new();
        if let Some(path) = file {
            overlays.push(Overlay::read(path)?);
        }
        overlays.extend(set.iter().map(Assignment::overlay));
        Ok(maxk_study::config::resolve(&c, &overlays)?)
    }

    /// The parsed task list.
    pub fn task_list(&self) -> Result<Vec<Task>> {
        self.tasks.iter().map(|t| t.parse()).collect()
    }

    /// Checks that the pieces fit together (K vs N, sizes, sampling ranges); an error names
    /// the key and its value.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if self.task_list()?.is_empty() {
            return Err(ConfigError::invalid("tasks", "[]", "at least one task is needed").into());
        }
        let rl = &self.rl;
        for k in rl.k_values()? {
            let key = if rl.k_schedule.is_some() { "rl.k_schedule" } else { "rl.k" };
            rl.estimator
                .validate(rl.group_size, k)
                .map_err(|e| ConfigError::invalid(key, k, e.to_string()))?;
        }
        if let Some(mixture) = &rl.mixture {
            mixture
                .validate(rl.group_size)
                .map_err(|e| ConfigError::invalid("rl.mixture", mixture, e.to_string()))?;
        }
        if rl.minibatches == 0 || rl.minibatches > rl.prompts_per_step {
            let reason = format!("must be in 1..={} (rl.prompts_per_step)", rl.prompts_per_step);
            return Err(ConfigError::invalid("rl.minibatches", rl.minibatches, reason).into());
        }
        at_least("sft.batch_size", self.sft.batch_size, 1)?;
        at_least("rl.prompts_per_step", rl.prompts_per_step, 1)?;
        at_least("eval.n_samples", self.eval.n_samples, 1)?;
        at_least("eval.problems_per_task", self.eval.problems_per_task, 1)?;
        at_least("eval.batch_rows", self.eval.batch_rows, 1)?;
        rl.sampling.validate("rl.sampling")?;
        self.eval.sampling.validate("eval.sampling")?;
        for (id, &lr) in &rl.lr_by_estimator {
            positive(&format!("rl.lr_by_estimator.{id}"), lr)?;
        }
        self.tune.validate(self.eval.test_seed)?;
        if let Some(study) = &self.study {
            study.validate(self.eval.n_samples)?;
        }
        // Longest prompt (path: 2 + 6*3 - 1 + 4 = 23 chars) + BOS + answer + EOS.
        let need = 24 + rl.sampling.max_new_tokens.max(self.eval.sampling.max_new_tokens);
        if self.model.max_seq_len < need {
            let reason = format!("must be at least {need}, the longest prompt and answer");
            return Err(ConfigError::invalid("model.max_seq_len", self.model.max_seq_len, reason).into());
        }
        Ok(())
    }

    /// The config with `rl.adam.lr` set to the lr of `rl.estimator` (`rl.lr_by_estimator`).
    pub fn with_estimator_lr(&self) -> Self {
        let mut c = self.clone();
        c.rl.adam.lr = self.rl.lr_for(self.rl.estimator);
        c
    }

    /// Reads a TOML config: the file overlaid on the defaults ([`LmConfig::resolve`]).
    pub fn load(path: &Path) -> Result<Self> {
        LmConfig::resolve(None, Some(path), &[])
    }

    /// Writes the resolved config as `dir/config.toml`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Serialize(e.to_string()))?;
        let path = dir.join("config.toml");
        std::fs::write(&path, text).map_err(TrainerError::io(path))
    }
}

impl SampleConfig {
    /// Temperature finite and > 0, top-p in (0, 1], at least one new token; keys under `key`.
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        positive(&format!("{key}.temperature"), self.temperature)?;
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ConfigError::invalid(format!("{key}.top_p"), self.top_p, "must be in (0, 1]"));
        }
        at_least(&format!("{key}.max_new_tokens"), self.max_new_tokens, 1)
    }
}

impl StudyConfig {
    fn validate(&self, n_samples: usize) -> Result<(), ConfigError> {
        let p = &self.primary;
        if p.estimator == p.reference {
            let reason = "the primary endpoint compares study.primary.estimator with itself";
            return Err(ConfigError::invalid("study.primary.reference", p.reference, reason));
        }
        let ks = std::iter::once(("study.primary.k", p.k))
            .chain(self.secondary_ks.iter().map(|&k| ("study.secondary_ks", k)));
        if let Some((key, k)) = ks.into_iter().find(|&(_, k)| k == 0 || k > n_samples) {
            return Err(ConfigError::invalid(
                key,
                k,
                format!("pass@{k} needs 1 <= k <= eval.n_samples = {n_samples}"),
            ));
        }
        Ok(())
    }
}

impl TuneConfig {
    /// Whether lr selection runs.
    pub fn enabled(&self) -> bool {
        !self.lrs.is_empty()
    }

    fn validate(&self, test_seed: u64) -> Result<(), ConfigError> {
        for &lr in &self.lrs {
            positive("tune.lrs", lr)?;
        }
        if !self.enabled() {
            return Ok(());
        }
        if self.seeds.is_empty() {
            return Err(ConfigError::invalid("tune.seeds", "[]", "at least one tuning seed is needed"));
        }
        at_least("tune.problems_per_task", self.problems_per_task, 1)?;
        at_least("tune.n_samples", self.n_samples, 1)?;
        if self.val_seed == test_seed {
            let reason = "equals eval.test_seed: the validation problems must come from another stream";
            return Err(ConfigError::invalid("tune.val_seed", self.val_seed, reason));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_round_trip_through_toml() {
        for (name, _) in PRESETS {
            let c = LmConfig::preset(name).unwrap();
            c.validate().unwrap();
            let back: LmConfig = toml::from_str(&toml::to_string_pretty(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
        let err = LmConfig::preset("huge").unwrap_err().to_string();
        assert_eq!(err, "unknown preset \"huge\"; known: tiny, cpu, small, gpu");
        // The list is the preset table's, so it cannot miss one.
        assert_eq!(err, format!("unknown preset \"huge\"; known: {}", preset_names()));
        assert!(PRESETS.iter().all(|(name, _)| err.contains(name)));
    }

    #[test]
    fn a_partial_file_and_assignments_overlay_the_preset_and_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, "[rl]\nestimator = \"grpo\"\nsteps = 7\n").unwrap();
        let set: Assignment = "rl.adam.lr=0.01".parse().unwrap();
        let c = LmConfig::resolve(Some("tiny"), Some(&path), &[set]).unwrap();
        let mut want = LmConfig::preset("tiny").unwrap();
        (want.rl.estimator, want.rl.steps, want.rl.adam.lr) = (Estimator::Grpo, 7, 0.01);
        assert_eq!(c, want);
        // Without a preset the file overlays the defaults.
        let c = LmConfig::load(&path).unwrap();
        assert_eq!((c.preset.as_str(), c.rl.steps, c.model), ("small", 7, LmConfig::base().model));
        std::fs::write(&path, "[rl]\nsteps = 7\nestimator = \"grpoo\"\n").unwrap();
        let err = LmConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 3: rl.estimator: unknown estimator \"grpoo\""), "{err}");
        let err = LmConfig::resolve(None, None, &["rl.stepz=3".parse().unwrap()]).unwrap_err().to_string();
        assert!(err.starts_with("`rl.stepz=3`: rl.stepz: unknown field `stepz`"), "{err}");
    }

    #[test]
    fn presets_are_the_base_plus_their_overrides() {
        let base = LmConfig::base();
        assert_eq!(LmConfig::preset("small").unwrap(), base);
        for (name, _) in PRESETS {
            let c = LmConfig::preset(name).unwrap();
            // What no preset overrides stays the base's: the evaluation protocol, the rollout
            // sampling and the estimator settings.
            assert_eq!(c.eval.sampling, base.eval.sampling, "{name}");
            assert_eq!(c.rl.sampling, base.rl.sampling, "{name}");
            assert_eq!((c.rl.estimator, c.rl.scale), (Estimator::Maxpo, Scale::Pg), "{name}");
            assert_eq!(c.eval.test_seed, base.eval.test_seed, "{name}");
        }
    }

    #[test]
    fn configs_that_do_not_fit_are_errors() {
        let mut c = LmConfig::preset("tiny").unwrap();
        c.rl.k = c.rl.group_size; // maxpo needs K <= N - 1
        let core = Estimator::Maxpo.validate(8, 8).unwrap_err();
        assert_eq!(c.validate().unwrap_err().to_string(), format!("config key `rl.k` = 8: {core}"));
        let mut c = LmConfig::preset("tiny").unwrap();
        c.model.max_seq_len = 8;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "config key `model.max_seq_len` = 8: must be at least 32, the longest prompt and answer"
        );
        let mut c = LmConfig::preset("tiny").unwrap();
        c.rl.minibatches = 5;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "config key `rl.minibatches` = 5: must be in 1..=4 (rl.prompts_per_step)"
        );
        // An unknown estimator cannot be in a config: it fails to load, naming the id.
        let text = toml::to_string_pretty(&LmConfig::preset("tiny").unwrap()).unwrap();
        let bad = text.replace("estimator = \"maxpo\"", "estimator = \"nope\"");
        assert_ne!(bad, text);
        assert!(
            toml::from_str::<LmConfig>(&bad).unwrap_err().to_string().contains("unknown estimator \"nope\"")
        );
    }

    #[test]
    fn a_k_schedule_is_an_rl_table_checked_by_validate() {
        let rl = |schedule: &str| -> std::result::Result<RlConfig, toml::de::Error> {
            let mut text = toml::to_string_pretty(&LmConfig::preset("tiny").unwrap().rl).unwrap();
            text.push_str(&format!("\n[k_schedule]\n{schedule}\n"));
            toml::from_str(&text)
        };
        let c = rl("kind = \"linear\"\nstart = 2\nend = 8\nsteps = 4").unwrap();
        assert_eq!(c.k_schedule, Some(maxk_core::KSchedule::Linear { start: 2, end: 8, steps: 4 }));
        assert_eq!((0..6).map(|t| c.k_at(t)).collect::<Vec<_>>(), [2, 4, 5, 7, 8, 8]);
        assert_eq!(c.k_values().unwrap(), [2, 8]);
        assert_eq!(toml::from_str::<RlConfig>(&toml::to_string_pretty(&c).unwrap()).unwrap(), c);
        let c = rl("kind = \"steps\"\nmilestones = [[0, 2], [10, 4]]").unwrap();
        assert_eq!((c.k_at(9), c.k_at(12)), (2, 4));
        assert_eq!(rl("kind = \"constant\"\nk = 4").unwrap().k_at(7), 4);
        assert!(rl("kind = \"cosine\"\nk = 2").is_err());
        assert!(rl("kind = \"constant\"\nk = 2\nextra = 1").is_err());
        let err = rl("kind = \"steps\"\nmilestones = [[1, 2]]").unwrap().k_values().unwrap_err();
        assert_eq!(
            err.to_string(),
            "config key `rl.k_schedule` = steps:1=2: the step list must start at step 0, got [(1, 2)]"
        );
        let err = rl("kind = \"linear\"\nstart = 0\nend = 2\nsteps = 3").unwrap().k_values().unwrap_err();
        assert_eq!(err.to_string(), "config key `rl.k_schedule` = linear:0:2:3: start = 0 must be >= 1");
        let c = LmConfig::preset("tiny").unwrap().rl;
        assert_eq!((c.k_at(3), c.k_values().unwrap()), (c.k, vec![c.k]));
    }

    #[test]
    fn a_mixture_of_k_is_one_rl_key() {
        let mut c = LmConfig::preset("tiny").unwrap();
        c.rl.mixture = Some("1:1,4:0.5".parse().unwrap());
        c.validate().unwrap();
        let text = toml::to_string_pretty(&c).unwrap();
        assert!(text.contains("mixture = \"1:1,4:0.5\""), "{text}");
        assert_eq!(toml::from_str::<LmConfig>(&text).unwrap(), c);
        c.rl.mixture = Some(format!("1,{}", c.rl.group_size).parse().unwrap());
        assert!(c.validate().unwrap_err().to_string().contains("out of range for mixture"));
        let bad = text.replace("1:1,4:0.5", "1:x");
        assert!(toml::from_str::<LmConfig>(&bad).unwrap_err().to_string().contains("invalid mixture"));
        c.rl.mixture = Some(maxk_core::Mixture::Harmonic);
        c.validate().unwrap();
    }

    #[test]
    fn study_endpoints_round_trip_and_bad_ones_are_errors() {
        let mut c = LmConfig::preset("tiny").unwrap();
        c.study = Some(StudyConfig {
            regime: "moderate".into(),
            primary: Endpoint { estimator: Estimator::Maxpo, reference: Estimator::PkpoLoo1, k: 4 },
            secondary_ks: vec![1, 16],
            correction: Correction::Holm,
        });
        c.validate().unwrap();
        let text = toml::to_string_pretty(&c).unwrap();
        assert!(text.contains("[study.primary]"), "{text}");
        assert_eq!(toml::from_str::<LmConfig>(&text).unwrap(), c);
        let with = |f: &dyn Fn(&mut StudyConfig)| {
            let mut c = c.clone();
            f(c.study.as_mut().unwrap());
            c.validate().unwrap_err().to_string()
        };
        // tiny evaluates n = 16 samples: pass@32 cannot be estimated.
        assert!(with(&|s| s.secondary_ks.push(32)).contains("pass@32"));
        assert!(with(&|s| s.primary.k = 0).contains("pass@0"));
        assert!(with(&|s| s.primary.reference = Estimator::Maxpo).contains("itself"));
        // An unknown correction or estimator fails to load, naming the value.
        for (from, to) in [("correction = \"holm\"", "correction = \"none\""), ("\"pkpo-loo1\"", "\"nope\"")]
        {
            let bad = text.replace(from, to);
            assert_ne!(bad, text);
            let err = toml::from_str::<LmConfig>(&bad).unwrap_err().to_string();
            assert!(err.contains(if from.contains("holm") { "none" } else { "nope" }), "{err}");
        }
    }

    #[test]
    fn tuning_and_per_estimator_lrs_round_trip_and_apply() {
        let mut c = LmConfig::preset("tiny").unwrap();
        c.tune.lrs = vec![1e-4, 3e-4, 1e-3];
        c.tune.seeds = vec![5, 6];
        c.eval.at_rollout_temperature = true;
        c.rl.lr_by_estimator.insert(Estimator::Grpo, 1e-3);
        c.rl.lr_by_estimator.insert(Estimator::Ei, 2e-3);
        c.validate().unwrap();
        let text = toml::to_string_pretty(&c).unwrap();
        assert!(text.contains("[tune]") && text.contains("[rl.lr_by_estimator]"), "{text}");
        // In id order (ei before grpo), as before the ids were typed.
        assert!(text.contains("[rl.lr_by_estimator]\nei = 0.002\ngrpo = 0.001\n"), "{text}");
        let back: LmConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
        // The estimator's own lr replaces adam.lr; the others keep adam.lr.
        c.rl.estimator = Estimator::Grpo;
        assert_eq!(c.with_estimator_lr().rl.adam.lr, 1e-3);
        c.rl.estimator = Estimator::Maxpo;
        assert_eq!(c.with_estimator_lr().rl.adam.lr, c.rl.adam.lr);
        // A file written before [tune] existed still loads, with tuning off.
        let mut old = toml::Value::try_from(LmConfig::preset("tiny").unwrap()).unwrap();
        let table = old.as_table_mut().unwrap();
        table.remove("tune");
        table["eval"].as_table_mut().unwrap().remove("at_rollout_temperature");
        let old: LmConfig = toml::from_str(&toml::to_string(&old).unwrap()).unwrap();
        assert_eq!(old.tune, TuneConfig::default());
        assert!(!old.tune.enabled() && !old.eval.at_rollout_temperature);
    }

    #[test]
    fn bad_tuning_configs_are_errors_naming_the_value() {
        let mut c = LmConfig::preset("tiny").unwrap();
        c.tune.lrs = vec![1e-3];
        c.tune.val_seed = c.eval.test_seed;
        assert!(c.validate().unwrap_err().to_string().contains("val_seed"));
        let mut c = LmConfig::preset("tiny").unwrap();
        c.tune.lrs = vec![1e-3, -1.0];
        assert!(c.validate().unwrap_err().to_string().contains("-1"));
        let mut c = LmConfig::preset("tiny").unwrap();
        c.rl.lr_by_estimator.insert(Estimator::Maxpo, f64::NAN);
        assert!(c.validate().unwrap_err().to_string().contains("maxpo"));
        let text = toml::to_string_pretty(&c).unwrap().replace("maxpo = nan", "nope = 0.001");
        assert!(toml::from_str::<LmConfig>(&text).unwrap_err().to_string().contains("nope"));
        // Tuning off: val_seed is not checked.
        let mut c = LmConfig::preset("tiny").unwrap();
        c.tune.val_seed = c.eval.test_seed;
        c.validate().unwrap();
    }
}
