//! Bad input gives a precise error and leaves the caller's buffers untouched.

// Comparing parallel arrays element by element reads clearest with an index.
#![allow(clippy::needless_range_loop)]

use maxk_core::*;

#[test]
fn error_messages_name_the_offending_values() {
    let maxpo = |r: &[f64], k| advantages(r, Spec::new(Estimator::Maxpo, k)).unwrap_err().to_string();
    assert_eq!(maxpo(&[0.0, f64::NAN, 1.0], 1), "reward at index 1 is NaN, rewards must be finite");
    assert_eq!(maxpo(&[0.0, 1.0, f64::INFINITY], 1), "reward at index 2 is inf, rewards must be finite");
    assert_eq!(
        maxpo(&[0.0, 1.0, 0.5], 3),
        "k = 3 is out of range for maxpo with group size 3 (needs 1 <= k <= N - 1)"
    );
    assert_eq!(
        maxpo(&[0.0, 1.0], 0),
        "k = 0 is out of range for maxpo with group size 2 (needs 1 <= k <= N - 1)"
    );
    assert_eq!(maxpo(&[], 1), "group is empty");
    assert_eq!(maxpo(&[1.0], 1), "group size 1 is too small for maxpo (needs N >= 2)");
    let e = advantages(&[0.0, 0.5], Spec::new(Estimator::PasskAnalytic, 1)).unwrap_err();
    assert_eq!(e.to_string(), "reward at index 1 is 0.5, but passk-analytic needs binary rewards (0 or 1)");
    assert_eq!(
        "maxpoo".parse::<Estimator>().unwrap_err().to_string(),
        format!("unknown estimator \"maxpoo\"; known: {}", Estimator::known_ids())
    );
    assert_eq!(
        max_at_k(&[1.0, 2.0], 3).unwrap_err().to_string(),
        "k = 3 is out of range for rho with group size 2 (needs 1 <= k <= N)"
    );
    assert!(pass_at_k(5, 6, 1).is_err() && pass_at_k(5, 1, 0).is_err() && pass_at_k(5, 1, 6).is_err());
}

#[test]
fn batch_errors_name_the_group_and_change_nothing() {
    let spec = Spec::new(Estimator::Maxpo, 2);
    let rewards = [0.0, 1.0, 0.5, 1.0, f64::NAN, 0.0];
    let mut out = [7.0; 6];
    let e = batch_advantages_into(&rewards, 3, spec, &mut out).unwrap_err();
    assert_eq!(e.to_string(), "group 1: reward at index 1 is NaN, rewards must be finite");
    assert_eq!(out, [7.0; 6], "output touched on error");

    let e = batch_advantages(&rewards[..5], 3, spec).unwrap_err();
    assert_eq!(e.to_string(), "batch of 5 rewards cannot be split into groups of 3");
    assert!(matches!(batch_advantages(&rewards, 0, spec), Err(Error::EmptyGroup)));

    let good = [0.0, 1.0, 0.5, 1.0, 0.2, 0.0];
    let e = ragged_advantages_into(&good, &[0, 2, 6], spec, &mut out).unwrap_err();
    assert_eq!(
        e.to_string(),
        "group 0: k = 2 is out of range for maxpo with group size 2 (needs 1 <= k <= N - 1)"
    );
    assert_eq!(out, [7.0; 6]);
    for (offsets, msg) in [
        (vec![], "invalid group offsets: offsets are empty; need at least [0, len]"),
        (vec![1, 6], "invalid group offsets: first offset is 1, must be 0"),
        (vec![0, 5], "invalid group offsets: last offset is 5, must equal the number of rewards 6"),
        (vec![0, 4, 3, 6], "invalid group offsets: offsets decrease at group 1: 4 > 3"),
        (vec![0, 3, 3, 6], "group 1: group is empty"),
    ] {
        assert_eq!(ragged_advantages(&good, &offsets, spec).unwrap_err().to_string(), msg);
    }
    let e = grouped_advantages(&good, &[5, 5, 9, 9, 9, 9], Spec::new(Estimator::Maxpo, 4)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "group id 5: k = 4 is out of range for maxpo with group size 2 (needs 1 <= k <= N - 1)"
    );
    let e = advantages_into(&good, spec, &mut [0.0; 3]).unwrap_err();
    assert_eq!(e.to_string(), "output buffer has length 3, expected 6");
}

#[test]
fn batch_forms_agree_with_single_groups() {
    let rewards: Vec<f64> = (0..60).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
    for est in Estimator::ALL.into_iter().filter(|e| !e.needs_binary()) {
        let spec = Spec::new(est, 3).with_scale(Scale::Std);
        let dense = batch_advantages(&rewards, 6, spec).unwrap();
        let offsets: Vec<usize> = (0..=10).map(|g| g * 6).collect();
        let ragged = ragged_advantages(&rewards, &offsets, spec).unwrap();
        // Interleaved ids: sample i is in group i % 10.
        let ids: Vec<u64> = (0..60).map(|i| (i % 10) as u64 * 1000 + 3).collect();
        let grouped = grouped_advantages(&rewards, &ids, spec).unwrap();
        for g in 0..10 {
            let single = advantages(&rewards[g * 6..g * 6 + 6], spec).unwrap();
            assert_eq!(&dense[g * 6..g * 6 + 6], &single[..], "{est} dense");
            assert_eq!(&ragged[g * 6..g * 6 + 6], &single[..], "{est} ragged");
            let members: Vec<f64> = (0..60).filter(|i| i % 10 == g).map(|i| rewards[i]).collect();
            let want = advantages(&members, spec).unwrap();
            let got: Vec<f64> = (0..60).filter(|i| i % 10 == g).map(|i| grouped[i]).collect();
            assert_eq!(got, want, "{est} grouped");
        }
        let rho = batch_max_at_k(&rewards, 6, 3).unwrap();
        let rho_r = ragged_max_at_k(&rewards, &offsets, 3).unwrap();
        for g in 0..10 {
            assert_eq!(rho[g], max_at_k(&rewards[g * 6..g * 6 + 6], 3).unwrap());
            assert_eq!(rho_r[g], rho[g]);
        }
    }
}

#[test]
fn pass_at_k_refuses_more_samples_than_its_bound() {
    let n = maxk_core::MAX_PASS_AT_K_N;
    assert!(maxk_core::pass_at_k(n, n / 2, n / 4).is_ok_and(|p| p == 1.0));
    let err = maxk_core::pass_at_k(n + 1, 3, 2).unwrap_err();
    assert_eq!(err.to_string(), format!("pass@k from n = {} samples: n must be at most {n}", n + 1));
}
