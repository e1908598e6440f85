//! End to end: `maxk reproduce --quick` writes every promised file with a Claims section;
//! `maxk bandit` / `maxk maze` run one experiment; config errors name the key and exit 2.
//! Each run uses the `--quick` settings (a few seconds in a debug build).

use common::{assert_files, maxk, ok};

mod common;

#[test]
fn reproduce_quick_writes_every_promised_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = maxk(&["reproduce", "--quick", "--quiet", "--out", dir.to_str().unwrap()]);
    ok(&out);
    let mut names = vec!["config.toml", "report.md", "summary.json", "bandit_error_bias.csv"];
    names.extend(["maze_lr.csv", "maze_seeds.csv"]);
    let stems = ["bandit_error", "bandit_actions", "bandit_k", "variance_map", "maze"];
    let per_stem: Vec<String> =
        stems.iter().flat_map(|s| ["png", "svg", "csv"].map(|e| format!("{s}.{e}"))).collect();
    names.extend(per_stem.iter().map(String::as_str));
    assert_files(&dir, &names);

    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("\n## Claims\n"), "report has no Claims section");
    for s in stems {
        assert!(report.contains(&format!("]({s}.png)")), "report does not embed {s}.png");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let claims = summary["claims"].as_array().unwrap();
    // 3 bandit claims, one variance-map claim per reward family (continuous and the quick
    // config's 2 success fractions), one lower-variance claim per unbiased max@K peer (pkpo,
    // pkpo-loo, ei), then per maze variant one claim per peer: grpo, rloo (mean reward) and
    // pkpo, pkpo-loo, ei (non-centered).
    assert_eq!(claims.len(), 3 + 3 + 3 + 2 * 5, "{claims:?}");
    let mut ids: Vec<&str> = claims.iter().map(|c| c["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), claims.len(), "claim ids are unique");
    assert!(ids.contains(&"maxpo-lower-variance-vs-ei") && ids.contains(&"maze-lure-vs-grpo"), "{ids:?}");
    // Per-seed maze values: one row per (bait, estimator run, lr, seed set, seed).
    let seeds = std::fs::read_to_string(dir.join("maze_seeds.csv")).unwrap();
    assert_eq!(seeds.lines().next(), Some("bait,estimator,lr,set,seed,mean_pass_at_k"));
    for c in claims {
        let v = c["verdict"].as_str().unwrap();
        assert!(["confirmed", "refuted", "mixed"].contains(&v), "claim {} has verdict {v}", c["id"]);
    }
    // The exact-centering claim cannot depend on sampling luck.
    let centering = claims.iter().find(|c| c["id"] == "exact-centering").unwrap();
    assert_eq!(centering["verdict"], "confirmed");
    // The resolved config reloads to the same settings.
    let again = maxk(&[
        "reproduce",
        "--quick",
        "--config",
        dir.join("config.toml").to_str().unwrap(),
        "--print-config",
    ]);
    ok(&again);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        std::fs::read_to_string(dir.join("config.toml")).unwrap()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("report.md") && stdout.contains("exact-centering"), "{stdout}");
}

#[test]
fn runs_are_deterministic_and_only_selects() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = |name: &str| {
        let dir = tmp.path().join(name);
        ok(&maxk(&["reproduce", "--quick", "--quiet", "--only", "bandit-k", "--out", dir.to_str().unwrap()]));
        assert!(!dir.join("maze.png").exists(), "--only bandit-k also ran the maze");
        std::fs::read_to_string(dir.join("bandit_k.csv")).unwrap()
    };
    assert_eq!(csv("a"), csv("b"));
}

#[test]
fn bandit_and_maze_subcommands_take_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bandit");
    ok(&maxk(&[
        "bandit",
        "--experiment",
        "error",
        "--quick",
        "--quiet",
        "--max-batches",
        "64",
        "--estimators",
        "maxpo,grpo",
        "--out",
        dir.to_str().unwrap(),
    ]));
    assert_files(&dir, &["bandit_error.png", "bandit_error.csv", "report.md"]);
    let csv = std::fs::read_to_string(dir.join("bandit_error.csv")).unwrap();
    assert!(csv.contains(",maxpo,64,") && !csv.contains(",ei,"), "{csv}");

    let dir = tmp.path().join("maze");
    ok(&maxk(&[
        "maze",
        "--quick",
        "--quiet",
        "--updates",
        "12",
        "--depth",
        "5",
        "--traps",
        "1,3",
        "--baits",
        "0,0.5",
        "--lrs",
        "0.1,1,10",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("updates = 12") && config.contains("depth = 5"), "{config}");
    assert!(config.contains("lrs = [0.1, 1.0, 10.0]") && config.contains("baits = [0.0, 0.5]"), "{config}");
    assert_files(&dir, &["maze.png", "maze.svg", "maze.csv", "maze_lr.csv", "report.md"]);
}

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("[bandit_error]\nkk = 3\n", "unknown field `kk`"),
        ("[maze]\nlrs = \"fast\"\n", "invalid type"),
        ("[bandit_error]\nn = 8\nk = 8\n", "config key `bandit_error.k` = 8"),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = maxk(&[
            "reproduce",
            "--quick",
            "--config",
            path.to_str().unwrap(),
            "--out",
            tmp.path().to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "expected `{expect}` in: {err}");
    }
    // Typed flags: clap rejects an unknown id before anything runs, listing the known ones.
    let out = maxk(&["reproduce", "--quick", "--only", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown experiment `nope`") && err.contains("bandit-error, bandit-actions"),
        "{err}"
    );
    let out = maxk(&["reproduce", "--quick", "--estimators", "maxpo,maxpoo", "--print-config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--estimators") && err.contains("maxpoo") && err.contains("rs-grpo"), "{err}");
    let out = maxk(&["reproduce", "--quick", "--estimators", "maxpo, maxrl", "--print-config"]);
    assert_eq!(out.status.code(), Some(0));
    let config = String::from_utf8_lossy(&out.stdout);
    assert!(config.contains("estimators = [\"maxpo\", \"maxrl\"]"), "{config}");
}
