//! End to end: `maxk lm reproduce --preset tiny` (base training, RL with GRPO, PKPO s^(loo-1),
//! EI and MaxPO, pass@k evaluation) writes report.md with every section, passk.csv with the
//! exact header and one row per (run, benchmark, k), metrics.jsonl and the figures; `maxk lm
//! ksweep` runs the K sweep; `maxk lm rl --config FILE` trains exactly what FILE says and
//! flags override it only when given; `maxk lm gradvar` compares the estimators' gradients from
//! the same rollouts; runs never append to an old run; bad inputs are clear errors. About 30 s
//! in a debug build.

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_files, maxk, ok};

mod common;

#[test]
fn lm_reproduce_tiny_writes_report_csv_metrics_and_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lm");
    let out = maxk(&["lm", "reproduce", "--preset", "tiny", "--quiet", "--out", dir.to_str().unwrap()]);
    ok(&out);

    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for section in [
        "## Setup",
        "## pass@k, task average",
        "## Did RL improve what each estimator optimises?",
        "## MaxPO against each alternative",
        "## pass@k per benchmark",
        "## Training curves",
        "## Support dynamics",
        "## Adam-moment variance proxy",
        "- command: `",
        "| base |",
        "| grpo |",
        "| pkpo-loo1 |",
        "| ei |",
        "| maxpo |",
        "solution SRR",
    ] {
        assert!(report.contains(section), "report.md lacks {section:?}:\n{report}");
    }

    let csv = std::fs::read_to_string(dir.join("passk.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("estimator,seed,benchmark,k,pass_at_k"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // tiny: n = 16 samples, so k in {1, 2, 4, 8, 16}; 5 benchmarks + the average; 5 models.
    assert_eq!(rows.len(), 5 * 6 * 5, "{csv}");
    for r in &rows {
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(["base", "grpo", "pkpo-loo1", "ei", "maxpo"].contains(&r[0]), "{r:?}");
        assert_eq!(r[1], "0");
        assert!(["add", "sort", "path", "countdown", "mod", "average"].contains(&r[2]), "{r:?}");
        assert!(["1", "2", "4", "8", "16"].contains(&r[3]), "{r:?}");
        let p: f64 = r[4].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{r:?}");
    }

    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let stage = |s: &str| records.iter().filter(|r| r["stage"] == s).count();
    assert!(stage("pretrain") > 0 && stage("eval") == 5, "{metrics}");
    let rl: Vec<_> = records.iter().filter(|r| r["stage"] == "rl").collect();
    assert_eq!(rl.len(), 4 * 3, "4 estimators x 3 RL steps");
    for r in rl {
        for key in
            ["var_proxy", "adv_group_sum_abs", "adv_std", "reward_mean", "clip_frac", "entropy", "pass_at_k"]
        {
            assert!(r[key].is_number(), "rl record lacks {key}: {r}");
        }
    }

    let figures: Vec<String> = ["passk_average", "passk_benchmarks", "training", "variance", "support"]
        .iter()
        .flat_map(|fig| ["png", "svg"].map(|ext| format!("figures/{fig}.{ext}")))
        .collect();
    assert_files(&dir, &figures);
    assert_files(&dir, &["config.toml", "results.json"]);

    // A fresh run never appends to an old run's metrics.
    let again = maxk(&["lm", "reproduce", "--preset", "tiny", "--quiet", "--out", dir.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    assert_eq!(std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap(), metrics);
    // Resuming a finished reproduction retrains nothing and rewrites the same table.
    let before = csv.clone();
    ok(&maxk(&[
        "lm",
        "reproduce",
        "--preset",
        "tiny",
        "--quiet",
        "--resume",
        "--out",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(dir.join("passk.csv")).unwrap(), before);
    // The report can be redrawn from results.json alone.
    std::fs::remove_file(dir.join("report.md")).unwrap();
    ok(&maxk(&["lm", "report", "--dir", dir.to_str().unwrap()]));
    assert!(std::fs::read_to_string(dir.join("report.md")).unwrap().contains("## Support dynamics"));
}

#[test]
fn lm_ksweep_tiny_runs_maxpo_for_each_k() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ks");
    ok(&maxk(&["lm", "ksweep", "--preset", "tiny", "--k", "1,4", "--quiet", "--out", dir.to_str().unwrap()]));
    let csv = std::fs::read_to_string(dir.join("passk.csv")).unwrap();
    assert!(csv.contains("\nmaxpo-K1,0,average,1,") && csv.contains("\nmaxpo-K4,0,average,16,"), "{csv}");
}

#[test]
fn lm_reproduce_tunes_each_estimators_lr_on_the_validation_split_then_runs_the_k_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    // The tiny preset with an lr grid, a separate tuning seed and the rollout-temperature
    // evaluation, as a config file.
    let base = tmp.path().join("base");
    ok(&maxk(&["lm", "pretrain", "--preset", "tiny", "--quiet", "--out", base.to_str().unwrap()]));
    let mut text = std::fs::read_to_string(base.join("config.toml")).unwrap();
    text = text.replace("[tune]\nlrs = []\nseeds = [0]", "[tune]\nlrs = [0.001, 0.003]\nseeds = [9]");
    text = text.replace("at_rollout_temperature = false", "at_rollout_temperature = true");
    assert!(
        text.contains("lrs = [0.001, 0.003]") && text.contains("at_rollout_temperature = true"),
        "{text}"
    );
    // The study's endpoints, declared in the config before the runs.
    text.push_str(
        "\n[study]\nregime = \"tiny\"\nsecondary_ks = [1, 16]\ncorrection = \"holm\"\n\n\
         [study.primary]\nestimator = \"maxpo\"\nreference = \"grpo\"\nk = 4\n",
    );
    let file = tmp.path().join("tuned.toml");
    std::fs::write(&file, &text).unwrap();
    let dir = tmp.path().join("study");
    let args = [
        "lm",
        "reproduce",
        "--config",
        file.to_str().unwrap(),
        "--estimators",
        "grpo,maxpo",
        "--ksweep",
        "2",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ];
    ok(&maxk(&args));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for section in [
        "## Learning-rate selection (validation split)",
        "## K sweep",
        "all seeds at T = 1",
        "| maxpo-K2 |",
        "## Pre-declared endpoints",
        "Measured before RL: the base models' rollout success rate",
        "**Primary: pass@4 of maxpo − grpo = ",
        "Holm-adjusted p",
        "| maxpo − grpo | 16 |",
    ] {
        assert!(report.contains(section), "report.md lacks {section:?}:\n{report}");
    }
    // The resolved config names the selected lr of each estimator, one of the grid.
    let resolved = maxk_trainer::config::LmConfig::load(&dir.join("config.toml")).unwrap();
    let lrs = &resolved.rl.lr_by_estimator;
    assert_eq!(lrs.keys().map(|e| e.id()).collect::<Vec<_>>(), ["maxpo", "grpo"], "{resolved:?}");
    for lr in lrs.values() {
        assert!([0.001, 0.003].contains(lr), "{resolved:?}");
    }
    // One validation record for the tuning seed's base model and one per estimator and lr; the
    // final runs used the selected lrs.
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let tune: Vec<_> = records.iter().filter(|r| r["stage"] == "tune").collect();
    assert_eq!(tune.len(), 1 + 2 * 2, "{metrics}");
    assert!(tune.iter().all(|r| r["seed"] == 9));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let runs = results["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "grpo, maxpo, maxpo-K2");
    for run in runs {
        let est: maxk_core::Estimator = run["estimator"].as_str().unwrap().parse().unwrap();
        assert_eq!(run["lr"].as_f64(), Some(lrs[&est]), "{run}");
        assert!(!run["evals_rollout"].as_array().unwrap().is_empty());
    }
    assert_files(&dir, &["figures/ksweep.png"]);

    // The gradient variance at every seed's checkpoints of the study, per prompt, then merged.
    let gv = tmp.path().join("gv-study");
    let study = format!("tiny={}", dir.display());
    ok(&maxk(&[
        "lm",
        "gradvar",
        "--study",
        &study,
        "--checkpoints",
        "base,mid-maxpo,final-grpo",
        "--estimators",
        "maxpo,pkpo-loo1",
        "--batches",
        "4",
        "--prompts",
        "3",
        "--quiet",
        "--out",
        gv.to_str().unwrap(),
    ]));
    let prompts = std::fs::read_to_string(gv.join("prompts.csv")).unwrap();
    let mut lines = prompts.lines();
    assert_eq!(lines.next(), Some("study,seed,checkpoint,task,prompt,success,trace_maxpo,trace_pkpo-loo1"));
    // 1 seed x 3 checkpoints x 3 prompts.
    assert_eq!(lines.count(), 9, "{prompts}");
    let md = std::fs::read_to_string(gv.join("gradvar.md")).unwrap();
    assert!(md.contains("## tr Cov(pkpo-loo1) / tr Cov(maxpo) against the success rate"), "{md}");
    let merged = tmp.path().join("gv-merged");
    let json = gv.join("gradvar.json");
    ok(&maxk(&[
        "lm",
        "gradvar",
        "--merge",
        json.to_str().unwrap(),
        "--merge",
        json.to_str().unwrap(),
        "--quiet",
        "--out",
        merged.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(merged.join("prompts.csv")).unwrap().lines().count(), 1 + 18);
    let missing = maxk(&[
        "lm",
        "gradvar",
        "--study",
        &study,
        "--checkpoints",
        "final-ei",
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("final-ei"));

    // Tuning at several K at once is refused.
    let two = tmp.path().join("two");
    let out = maxk(&[
        "lm",
        "reproduce",
        "--config",
        file.to_str().unwrap(),
        "--k",
        "2,4",
        "--quiet",
        "--out",
        two.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("one training K"));
}

#[test]
fn lm_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let out = maxk(&["lm", "reproduce", "--preset", "huge", "--out", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("huge"));
    // MaxPO needs N >= K + 1: tiny has N = 8.
    let out =
        maxk(&["lm", "reproduce", "--preset", "tiny", "--k", "8", "--out", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains('8'), "{err}");
    let missing = tmp.path().join("nope.safetensors");
    let eval_out = tmp.path().join("eval");
    let args = ["lm", "eval", "--preset", "tiny", "--weights", missing.to_str().unwrap()];
    let out = maxk(&[&args[..], &["--out", eval_out.to_str().unwrap()]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.safetensors"));
    // A file overlays the preset, `--set` the file: a bad key is an error naming the file, line
    // and key, or the assignment; ids and devices are checked by their registries.
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "[rl]\nstepz = 3\n").unwrap();
    let out = maxk(&["lm", "pretrain", "--preset", "tiny", "--config", cfg.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: rl.stepz: unknown field `stepz`"), "{err}");
    let out = maxk(&["lm", "pretrain", "--preset", "tiny", "--set", "sft.steps=many"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`sft.steps=many`: sft.steps: invalid type: string \"many\""), "{err}");
    let args = ["lm", "rl", "--preset", "tiny", "--base", "b.safetensors", "--estimator", "nope"];
    let out = maxk(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.contains("maxpo"), "{err}");
    let out = maxk(&["lm", "pretrain", "--preset", "tiny", "--device", "tpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tpu"));
    let out = maxk(&["lm", "pretrain", "--preset", "tiny", "--resume"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
    let out = maxk(&["lm", "bench", "--preset", "tiny", "--device", "cuda"]);
    if !out.status.success() {
        assert!(String::from_utf8_lossy(&out.stderr).contains("CUDA"));
    }
}

/// Runs `maxk args...` in `dir`.
fn maxk_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maxk")).args(args).current_dir(dir).output().expect("maxk runs")
}

fn rl_records(dir: &Path) -> Vec<serde_json::Value> {
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["stage"] == "rl")
        .collect()
}

#[test]
fn lm_rl_trains_what_the_config_says_and_flags_override_only_when_given() {
    let tmp = tempfile::tempdir().unwrap();
    // Without --out, every run gets its own timestamped directory under runs/.
    ok(&maxk_in(tmp.path(), &["lm", "pretrain", "--preset", "tiny", "--quiet"]));
    let runs: Vec<_> =
        std::fs::read_dir(tmp.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].file_name().unwrap().to_str().unwrap().starts_with("lm-pretrain-"), "{runs:?}");
    let base = runs[0].join("base.safetensors");
    assert_files(&runs[0], &["base.safetensors", "config.toml", "metrics.jsonl"]);

    // A config that differs from the tiny preset in estimator, K, seed, steps and scale.
    let mut text = std::fs::read_to_string(runs[0].join("config.toml")).unwrap();
    for (from, to) in [
        ("\nestimator = \"maxpo\"\n", "\nestimator = \"ei\"\n"),
        ("\nk = 4\n", "\nk = 2\n"),
        ("\nseed = 0\n", "\nseed = 7\n"),
        ("\nsteps = 3\n", "\nsteps = 2\n"),
        ("\nscale = \"pg\"\n", "\nscale = \"none\"\n"),
    ] {
        assert!(text.contains(from), "config.toml lacks {from:?}:\n{text}");
        text = text.replacen(from, to, 1);
    }
    let file = tmp.path().join("ei.toml");
    std::fs::write(&file, &text).unwrap();
    let out = tmp.path().join("rl-file");
    let args = ["lm", "rl", "--quiet", "--config", file.to_str().unwrap(), "--base", base.to_str().unwrap()];
    ok(&maxk(&[&args[..], &["--out", out.to_str().unwrap()]].concat()));
    let written = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert_eq!(written, text, "the run's resolved config is the file, unchanged");
    let rl = rl_records(&out);
    assert_eq!(rl.len(), 2);
    for r in &rl {
        assert_eq!(
            (r["estimator"].as_str(), r["k"].as_u64(), r["seed"].as_u64()),
            (Some("ei"), Some(2), Some(7))
        );
    }
    assert_files(&out, &["policy.safetensors", "policy-mid.safetensors"]);

    // Flags that are given override the file; the others leave it alone.
    let out2 = tmp.path().join("rl-flags");
    let flags = ["--estimator", "grpo", "--seed", "3", "--out", out2.to_str().unwrap()];
    ok(&maxk(&[&args[..], &flags[..]].concat()));
    let rl = rl_records(&out2);
    assert_eq!(rl.len(), 2);
    assert_eq!(
        (rl[0]["estimator"].as_str(), rl[0]["k"].as_u64(), rl[0]["seed"].as_u64()),
        (Some("grpo"), Some(2), Some(3))
    );

    // Gradient variance from the same rollouts at the base checkpoint.
    let gv = tmp.path().join("gv");
    let weights = format!("base={}", base.display());
    let gargs = [
        "lm",
        "gradvar",
        "--preset",
        "tiny",
        "--quiet",
        "--weights",
        &weights,
        "--batches",
        "4",
        "--prompts",
        "2",
    ];
    ok(&maxk(&[&gargs[..], &["--out", gv.to_str().unwrap()]].concat()));
    assert_files(&gv, &["gradvar.md", "gradvar.json", "config.toml", "figures/gradvar.png"]);
    let csv = std::fs::read_to_string(gv.join("gradvar.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.iter().map(|r| r[3]).collect::<Vec<_>>(), ["maxpo", "pkpo-loo1", "ei", "grpo"], "{csv}");
    for r in &rows {
        let trace: f64 = r[4].parse().unwrap();
        assert!(trace.is_finite() && trace >= 0.0, "{csv}");
    }
    let bad =
        maxk(&["lm", "gradvar", "--preset", "tiny", "--weights", "nolabel", "--out", gv.to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("LABEL=PATH"));
}
