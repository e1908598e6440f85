//! `maxk mixture`, `maxk maj`, `maxk plan`: JSON Lines through the binary equal the core, and
//! bad input is an error naming the line and the value.

use common::maxk_with_stdin as maxk;
use maxk_core::{MajSpec, Mixture, Ties, maj_advantages, mixture_advantages};

mod common;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn mixture_matches_the_core_bit_for_bit() {
    let input = "[0, 1, 0.5, 0.25]\n[1, 1, 0, 0, 0.75]\n";
    for m in ["1:1,2:0.5", "harmonic", "3"] {
        let out = maxk(&["mixture", "-m", m], input);
        common::ok(&out);
        let mix: Mixture = m.parse().unwrap();
        for (line, got) in input.lines().zip(stdout(&out).lines()) {
            let r: Vec<f64> = serde_json::from_str(line).unwrap();
            let got: Vec<f64> = serde_json::from_str(got).unwrap();
            assert_eq!(got, mixture_advantages(&r, &mix).unwrap(), "{m}");
        }
    }
    let out = maxk(&["mixture", "-m", "1:1,2:0.5", "--estimate"], "[0, 1, 0.5]\n");
    common::ok(&out);
    let v: f64 = stdout(&out).trim().parse().unwrap();
    // rho_1 = 0.5, rho_2 = (1 + 0.5 + 1)/3
    assert!((v - (0.5 + 0.5 * 2.5 / 3.0)).abs() < 1e-15);
    let out = maxk(&["mixture", "-m", "1,3"], "[0, 1, 0.5]\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 1: k = 3 is out of range for mixture with group size 3 (needs 1 <= k <= N - 1 for every term)"),
        "{}",
        stderr(&out)
    );
    let out = maxk(&["mixture", "-m", "1:w"], "");
    assert!(stderr(&out).contains("invalid mixture \"1:w\": a weight is not a number"), "{}", stderr(&out));
}

#[test]
fn maj_matches_the_core_and_names_the_answer() {
    let input = r#"{"answers": ["42", "41", 42, "42", "x"], "correct": [true, false, false, true, false]}"#;
    let out = maxk(&["maj", "-k", "3"], input);
    common::ok(&out);
    let got: Vec<f64> = serde_json::from_str(stdout(&out).trim()).unwrap();
    // "42" and 42 are different answers
    let want = maj_advantages(&[0, 1, 2, 0, 3], &[true, false, false, true, false], MajSpec::new(3)).unwrap();
    assert_eq!(got, want);
    let out = maxk(&["maj", "-k", "5", "--estimate", "--ties", "wrong"], input);
    common::ok(&out);
    let u: f64 = stdout(&out).trim().parse().unwrap();
    // the whole group: "42" twice, every other answer once: "42" wins and is correct
    let spec = MajSpec::new(5).with_ties(Ties::Wrong);
    assert_eq!(u, maxk_core::maj_at_k(&[0, 1, 2, 0, 3], &[true, false, false, true, false], spec).unwrap());
    assert_eq!(u, 1.0);
    let bad = r#"{"answers": ["a", "b", "a"], "correct": [true, false, false]}"#;
    let out = maxk(&["maj", "-k", "1"], bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(r#"line 1: answer "a" is marked correct at sample 0 and wrong at sample 2"#),
        "{}",
        stderr(&out)
    );
    let out = maxk(&["maj", "-k", "1"], r#"{"answers": ["a", 1.5], "correct": [true, false]}"#);
    assert!(
        stderr(&out).contains("answer 1 is 1.5: answers must be strings or integers"),
        "{}",
        stderr(&out)
    );
    let out = maxk(&["maj", "-k", "1"], r#"{"answers": ["a", "b"], "correct": [true]}"#);
    assert!(stderr(&out).contains("1 correct flags for 2 samples"), "{}", stderr(&out));
}

#[test]
fn plan_reports_share_ratio_and_smallest_n() {
    let out = maxk(&["plan", "-p", "0.05", "-n", "8", "-k", "4", "--target", "0.5", "--json"], "");
    common::ok(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["smallest_n"], 14);
    let share = v["informative_share"].as_f64().unwrap();
    assert!((share - (1.0 - 0.95f64.powi(8) - 0.05f64.powi(8))).abs() < 1e-15);
    assert!(v["var_ratio_ei_over_maxpo"].as_f64().unwrap() > 0.0);
    let out = maxk(&["plan", "-p", "0.3,0,1", "-n", "16", "-k", "4", "--target", "0.9"], "");
    common::ok(&out);
    let text = stdout(&out);
    assert!(text.contains("no N reaches 90.00% informative groups"), "{text}");
    let out = maxk(&["plan", "-p", "1.2", "-n", "8", "-k", "2"], "");
    assert!(stderr(&out).contains("invalid plan: success rate 0 is 1.2"), "{}", stderr(&out));
}
