//! The CLI contract of `maxk advantages`, `maxk estimate` and `maxk estimators`: JSON Lines in
//! and out, full f64 precision, `line N: <reason>` on the first bad line, exit status 2.

use std::process::Output;

use common::maxk_with_stdin as maxk;
use maxk_core::{Estimator, Scale, Spec, advantages, max_at_k};

mod common;

fn lines(out: &Output) -> Vec<Vec<f64>> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const GROUPS: &str =
    "[0.1, 0.9, 0.4, 0.4, 0.0, 0.7]\n[1, 0, 0, 1]\n[0.333333333333333314829616256247, 2e-300, -5]\n";

#[test]
fn advantages_round_trip_full_precision_for_every_estimator_and_scale() {
    let groups: Vec<Vec<f64>> = GROUPS.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for est in Estimator::ALL.into_iter().filter(|e| !e.needs_binary()) {
        for scale in Scale::ALL {
            let out =
                maxk(&["advantages", "--estimator", est.id(), "-k", "2", "--scale", scale.id()], GROUPS);
            assert!(out.status.success(), "{est}: {}", String::from_utf8_lossy(&out.stderr));
            let got = lines(&out);
            assert_eq!(got.len(), groups.len());
            for (g, r) in groups.iter().enumerate() {
                // Bit-exact: the CLI must print the shortest representation that round-trips.
                assert_eq!(
                    got[g],
                    advantages(r, Spec::new(est, 2).with_scale(scale)).unwrap(),
                    "{est} {scale}"
                );
            }
        }
    }
}

#[test]
fn first_bad_line_stops_with_its_number() {
    let input = "[0, 1, 0.5]\n[0, 1, \"x\"]\n[1, 2, 3]\n";
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1"], input);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines(&out).len(), 1, "only the good line before the bad one is written");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: line 2: expected a JSON array of finite numbers"), "{err}");

    let out = maxk(&["advantages", "-e", "maxpo", "-k", "3"], "[0, 1, 2, 3]\n[0, 1, 2]\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines(&out).len(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2: k = 3 is out of range for maxpo with group size 3 (needs 1 <= k <= N - 1)"),
        "{err}"
    );

    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1"], "[0, 1]\n\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: empty line"));

    let out = maxk(&["advantages", "-e", "nope", "-k", "1"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown estimator \"nope\""));
}

#[test]
fn estimate_prints_rho_per_line() {
    let out = maxk(&["estimate", "-k", "2"], GROUPS);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
    let want: Vec<f64> =
        GROUPS.lines().map(|l| max_at_k(&serde_json::from_str::<Vec<f64>>(l).unwrap(), 2).unwrap()).collect();
    assert_eq!(got, want);
}

#[test]
fn files_in_and_out() {
    let dir = std::env::temp_dir().join(format!("maxk-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, output) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    std::fs::write(&input, GROUPS).unwrap();
    let out = maxk(
        &[
            "advantages",
            "-e",
            "canonical",
            "-k",
            "2",
            "-i",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 3);
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "2", "-i", "/nonexistent/x.jsonl"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open input file /nonexistent/x.jsonl"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn estimators_lists_every_id() {
    let out = maxk(&["estimators"], "");
    let text = String::from_utf8(out.stdout).unwrap();
    for est in Estimator::ALL {
        assert!(text.lines().any(|l| l.starts_with(est.id()) && l.contains(est.description())), "{est}");
    }
}
