//! End to end: `maxk lm reproduce --preset tiny` (base training, RL with GRPO, PKPO s^(loo-1)
//! and MaxPO, pass@k evaluation) writes report.md with every section, passk.csv with the exact
//! header and one row per (run, benchmark, k), metrics.jsonl and the figures; `maxk lm ksweep`
//! runs the K sweep; bad inputs are clear errors. About 15 s in a debug build.

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
        "## pass@k per benchmark",
        "## Gradient-variance proxy",
        "## Support dynamics",
        "## Verdicts on the paper's LLM claims",
        "- command: `",
        "| base |",
        "| grpo |",
        "| pkpo-loo1 |",
        "| maxpo |",
    ] {
        assert!(report.contains(section), "report.md lacks {section:?}:\n{report}");
    }

    let csv = std::fs::read_to_string(dir.join("passk.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("estimator,seed,benchmark,k,pass_at_k"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // tiny: n = 16 samples, so k in {1, 2, 4, 8, 16}; 5 benchmarks + the average; 4 models.
    assert_eq!(rows.len(), 4 * 6 * 5, "{csv}");
    for r in &rows {
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(["base", "grpo", "pkpo-loo1", "maxpo"].contains(&r[0]), "{r:?}");
        assert_eq!(r[1], "0");
        assert!(["add", "sort", "path", "countdown", "mod", "average"].contains(&r[2]), "{r:?}");
        assert!(["1", "2", "4", "8", "16"].contains(&r[3]), "{r:?}");
        let p: f64 = r[4].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{r:?}");
    }

    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let stage = |s: &str| records.iter().filter(|r| r["stage"] == s).count();
    assert!(stage("pretrain") > 0 && stage("eval") == 4, "{metrics}");
    let rl: Vec<_> = records.iter().filter(|r| r["stage"] == "rl").collect();
    assert_eq!(rl.len(), 3 * 3, "3 estimators x 3 RL steps");
    for r in rl {
        for key in ["var_proxy", "adv_group_sum_abs", "adv_std", "reward_mean", "clip_frac"] {
            assert!(r[key].is_number(), "rl record lacks {key}: {r}");
        }
    }

    let figures: Vec<String> = ["passk_average", "passk_benchmarks", "variance", "support"]
        .iter()
        .flat_map(|fig| ["png", "svg"].map(|ext| format!("figures/{fig}.{ext}")))
        .collect();
    assert_files(&dir, &figures);
    assert_files(&dir, &["config.toml", "results.json"]);

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
    let out = maxk(&["lm", "bench", "--preset", "tiny", "--device", "cuda"]);
    if !out.status.success() {
        assert!(String::from_utf8_lossy(&out.stderr).contains("CUDA"));
    }
}
