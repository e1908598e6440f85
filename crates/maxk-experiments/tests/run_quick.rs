//! The library end to end on the `--quick` settings: every promised file, a verdict per claim,
//! and results that do not depend on how many threads rayon uses.

use maxk_experiments::{Config, Experiment, RunOptions, bandit_runs, maze_runs, run};

#[test]
fn quick_run_writes_every_file_and_a_verdict_per_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("quick");
    let summary =
        run(&Config::quick(), &RunOptions { out: out.clone(), only: None, progress: false }).unwrap();
    for stem in ["bandit_error", "bandit_actions", "bandit_k", "variance_map", "maze"] {
        for ext in ["png", "svg", "csv"] {
            let name = format!("{stem}.{ext}");
            assert!(summary.files.contains(&name), "{name} not listed");
        }
    }
    for f in &summary.files {
        let len = std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{f} missing or empty");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("\n## Claims\n"));
    // Every claims-table row has exactly its 4 cell borders: `|` in the text must be escaped.
    let rows = report.lines().filter(|l| l.starts_with("| **"));
    for row in rows {
        let borders = row.replace("\\|", "").matches('|').count();
        assert_eq!(borders, 4, "broken table row: {row}");
    }
    // 3 bandit claims, one variance-map claim per reward family (continuous and each binary
    // success fraction), one lower-variance claim per unbiased max@K peer (pkpo, pkpo-loo, ei),
    // then per maze variant one claim per peer (grpo, rloo, pkpo, pkpo-loo, ei).
    let quick = Config::quick();
    let families = 1 + quick.variance_map.success.len();
    assert_eq!(summary.claims.len(), 3 + families + 3 + 5 * quick.maze.baits.len());
    for c in &summary.claims {
        let v = serde_json::to_value(c.verdict).unwrap();
        assert!(["confirmed", "refuted", "mixed"].contains(&v.as_str().unwrap()), "{}: {v}", c.id);
        assert!(report.contains(&format!("**{}**", c.id)), "{} not in report", c.id);
    }
    // Exact centering holds batch by batch, so no sampling luck can change this verdict.
    let centering = summary.claims.iter().find(|c| c.id == "exact-centering").unwrap();
    assert_eq!(serde_json::to_value(centering.verdict).unwrap(), "confirmed");
    // The written config reloads to the one that ran.
    let again = Config::load(&out.join("config.toml"), false).unwrap();
    assert_eq!(again, Config::quick());
}

#[test]
fn only_runs_the_selected_experiment() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("maze");
    let opts = RunOptions { out: out.clone(), only: Some(vec![Experiment::Maze]), progress: false };
    let summary = run(&Config::quick(), &opts).unwrap();
    assert!(out.join("maze.png").exists() && !out.join("bandit_k.csv").exists());
    assert!(summary.bandit_k.is_none() && summary.maze.is_some());
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut cfg = Config::quick();
    cfg.bandit_k.ks = vec![1, 4];
    cfg.maze.updates = 10;
    let with_threads = |n: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        pool.install(|| {
            let k = bandit_runs::run_k(&cfg, false).unwrap();
            let maze = maze_runs::run_maze(&cfg, false).unwrap();
            let pass: Vec<_> = maze
                .variants
                .iter()
                .flat_map(|v| &v.estimators)
                .map(|e| e.curves.pass_at_k.clone())
                .collect();
            (k.curves, pass)
        })
    };
    assert_eq!(with_threads(1), with_threads(3));
}
