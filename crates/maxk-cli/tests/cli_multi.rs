//! `maxk multi-advantages`: a line is one group as an array of D-arrays; the output line holds
//! the combined advantages, bit-identical to `maxk_core::multi_advantages`.

use common::maxk_with_stdin as maxk;
use maxk_core::{Axis, Estimator, MultiSpec, Scale, Spec, multi_advantages};

mod common;

fn lines(out: &std::process::Output) -> Vec<Vec<f64>> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const INPUT: &str = "[[1, 0.5], [0, 1], [1, 0], [0, 0], [0.5, 0.25]]\n[[0, 1], [1, 1], [0, 0]]\n";

#[test]
fn per_axis_lists_match_the_core_bit_for_bit() {
    let out = maxk(
        &["multi-advantages", "-e", "maxpo,grpo", "-k", "2,1", "--scale", "pg,none", "-w", "1,-0.5"],
        INPUT,
    );
    common::ok(&out);
    let spec = MultiSpec::new(vec![
        Axis::new(Spec::new(Estimator::Maxpo, 2).with_scale(Scale::Pg), 1.0),
        Axis::new(Spec::new(Estimator::Grpo, 1), -0.5),
    ])
    .unwrap();
    let got = lines(&out);
    for (line, want) in INPUT.lines().zip(&got) {
        let rows: Vec<Vec<f64>> = serde_json::from_str(line).unwrap();
        assert_eq!(want, &multi_advantages(&rows.concat(), &spec).unwrap());
    }
}

#[test]
fn width_from_the_first_line_and_one_value_for_all_axes() {
    let out = maxk(&["multi-advantages", "-k", "1"], INPUT);
    common::ok(&out);
    let spec = MultiSpec::uniform(Spec::new(Estimator::Maxpo, 1), &[1.0, 1.0]).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_str(INPUT.lines().next().unwrap()).unwrap();
    assert_eq!(lines(&out)[0], multi_advantages(&rows.concat(), &spec).unwrap());
}

#[test]
fn bad_lines_stop_with_line_number_and_reason() {
    let cases = [
        ("[[0, 1], [1]]\n", "line 1: sample 1 has 1 rewards, expected 2 (one per axis)"),
        ("[[0, 1], [1, 0], [0.5, 0]]\n[0, 1]\n", "line 2: expected a JSON array of D-arrays"),
        ("[[0, 1], [1, 0], [0.5, 0]]\n\n[[0, 1], [1, 0]]\n", "line 2: empty line"),
    ];
    for (input, message) in cases {
        let out = maxk(&["multi-advantages", "-k", "1"], input);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{err}");
    }
    let out = maxk(&["multi-advantages", "-k", "2"], "[[0, 1], [1, 0]]\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1: axis 0: k = 2 is out of range for maxpo with group size 2"), "{err}");
    let out = maxk(&["multi-advantages", "-k", "1,1,1", "-w", "1,2"], "[[0, 1], [1, 0]]\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--k has 3 values for 2 reward axes"), "{err}");
    assert_eq!(out.status.code(), Some(2));
}
