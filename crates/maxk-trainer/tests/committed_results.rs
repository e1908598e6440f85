//! Every committed trainer study under `results/lm-*` still loads with the typed ids, and
//! writes back the same values: the `results.json` of every reproduction, the resolved
//! `config.toml` and declared `study.toml` files, every `gradvar.json` and the tuning records of
//! `tune.jsonl`. (`results/smollm2-*` holds TRL runs, not trainer files.)

use std::path::{Path, PathBuf};

use maxk_trainer::config::LmConfig;
use maxk_trainer::gradvar::GradVarResults;
use maxk_trainer::results::load_results;
use maxk_trainer::tune::TuneRun;

/// Every file under `results/lm-*`.
fn committed_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results");
    let mut stack: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("lm-"))
        .collect();
    let mut files = Vec::new();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            files.push(p);
        }
    }
    files.sort();
    files
}

fn named<'a>(files: &'a [PathBuf], name: &str) -> Vec<&'a PathBuf> {
    files.iter().filter(|p| p.file_name().unwrap() == name).collect()
}

/// The keys of `file` whose values differ from `back`, as JSON paths.
fn differences(file: &serde_json::Value, back: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (file, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => differences(v, w, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k} dropped")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                differences(v, w, &format!("{at}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{at}: {a} -> {b}")),
    }
}

fn assert_same(path: &Path, file: serde_json::Value, back: serde_json::Value) {
    let mut diff = Vec::new();
    differences(&file, &back, "", &mut diff);
    assert!(diff.is_empty(), "{}: {diff:?}", path.display());
}

#[test]
fn every_committed_results_json_loads_and_writes_back_the_same_values() {
    let files = committed_files();
    let found = named(&files, "results.json");
    assert!(found.len() >= 3, "{found:?}");
    for path in found {
        let results = load_results(path.parent().unwrap()).unwrap();
        assert!(!results.runs.is_empty() && !results.base.is_empty(), "{}", path.display());
        let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_same(path, file, serde_json::to_value(&results).unwrap());
    }
}

#[test]
fn every_committed_config_loads_and_writes_back_the_same_values() {
    let files = committed_files();
    let configs: Vec<&PathBuf> =
        files.iter().filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    assert!(configs.len() >= 8, "{configs:?}");
    for path in configs {
        let c = LmConfig::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        c.validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let back = toml::Value::try_from(&c).unwrap();
        assert_same(path, serde_json::to_value(file).unwrap(), serde_json::to_value(back).unwrap());
    }
}

#[test]
fn every_committed_gradvar_study_and_tuning_record_loads() {
    let files = committed_files();
    let found = named(&files, "gradvar.json");
    assert!(found.len() >= 2, "{found:?}");
    for path in found {
        let r = GradVarResults::load(path).unwrap();
        assert!(!r.rows.is_empty(), "{}", path.display());
        let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_same(path, file, serde_json::to_value(&r).unwrap());
    }
    let found = named(&files, "tune.jsonl");
    assert!(!found.is_empty());
    for path in found {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let run: TuneRun =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let file: serde_json::Value = serde_json::from_str(line).unwrap();
            let back = serde_json::to_value(&run).unwrap();
            for key in ["estimator", "k", "lr", "seed"] {
                assert_eq!(file[key], back[key], "{}: {line}", path.display());
            }
        }
    }
}
