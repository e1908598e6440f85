//! `--resume` continues exactly: a run interrupted after its checkpoint and resumed ends with
//! the same weights, Adam moments, RNG position and variance-proxy history as an uninterrupted
//! run, bit for bit, on the native CPU engine (deterministic: parallel work is split by shape,
//! never by thread count, reductions run in a fixed order, and every random draw comes from
//! the checkpointed ChaCha stream).
//! Damaged checkpoints are errors, never a silent restart.

use std::path::{Path, PathBuf};

use maxk_trainer::TrainerError;
use maxk_trainer::config::LmConfig;
use maxk_trainer::diagnostics::MetricsLog;
use maxk_trainer::engine::native::NativeEngine;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("maxk-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn cfg() -> LmConfig {
    let mut c = LmConfig::preset("tiny").unwrap();
    // `mod` answers are short numbers, so a briefly trained model already solves some and the
    // RL steps carry non-zero advantages (all-zero groups would make RL a no-op).
    c.tasks = vec!["mod".into()];
    c.sft.steps = 40;
    c.rl.steps = 4;
    c.rl.checkpoint_every = 2;
    c.sft.checkpoint_every = 2;
    c
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files of a finished stage directory that must match bit for bit.
fn same_files(a: &Path, b: &Path, final_weights: &str) {
    for f in [final_weights, "ckpt/weights.safetensors", "ckpt/optimizer.safetensors", "ckpt/state.json"] {
        assert!(
            bytes(&a.join(f)) == bytes(&b.join(f)),
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn interrupted_and_resumed_equals_uninterrupted() {
    let full = cfg();
    let mut half = cfg();
    half.sft.steps = 2;
    half.rl.steps = 2;
    let (a, b) = (tmp("a"), tmp("b"));
    let log = &mut MetricsLog::sink();

    let base_a = maxk_trainer::sft::train(&full, &NativeEngine, &a.join("base"), false, log, false).unwrap();
    maxk_trainer::sft::train(&half, &NativeEngine, &b.join("base"), false, log, false).unwrap();
    let base_b = maxk_trainer::sft::train(&full, &NativeEngine, &b.join("base"), true, log, false).unwrap();
    same_files(&a.join("base"), &b.join("base"), "base.safetensors");

    // RL with MaxPO: rollouts, verifier rewards, maxk-core advantages, clipped surrogate.
    let (_, vp_a, _) =
        maxk_trainer::rl::train(&full, &base_a, &NativeEngine, &a.join("rl"), false, log, false).unwrap();
    maxk_trainer::rl::train(&half, &base_b, &NativeEngine, &b.join("rl"), false, log, false).unwrap();
    let (_, vp_b, _) =
        maxk_trainer::rl::train(&full, &base_b, &NativeEngine, &b.join("rl"), true, log, false).unwrap();
    same_files(&a.join("rl"), &b.join("rl"), "policy.safetensors");
    assert_eq!(vp_a.len(), 4);
    assert!(vp_a.iter().any(|&v| v > 0.0), "RL made no update: {vp_a:?}");
    assert_eq!(vp_a, vp_b);

    // Resuming a finished stage is a no-op that returns the same weights.
    maxk_trainer::rl::train(&full, &base_b, &NativeEngine, &b.join("rl"), true, log, false).unwrap();
    same_files(&a.join("rl"), &b.join("rl"), "policy.safetensors");
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn damaged_checkpoints_are_errors_not_silent_restarts() {
    let c = cfg();
    let d = tmp("damaged");
    let log = &mut MetricsLog::sink();
    maxk_trainer::sft::train(&c, &NativeEngine, &d, false, log, false).unwrap();
    let ckpt = d.join("ckpt");
    let run = || maxk_trainer::sft::train(&c, &NativeEngine, &d, true, &mut MetricsLog::sink(), false);

    // A missing file of the three.
    let opt = bytes(&ckpt.join("optimizer.safetensors"));
    std::fs::remove_file(ckpt.join("optimizer.safetensors")).unwrap();
    match run() {
        Err(TrainerError::MissingCheckpoint { path }) => {
            assert!(path.ends_with("optimizer.safetensors"), "{path:?}")
        }
        other => panic!("expected MissingCheckpoint, got {other:?}"),
    }
    // Truncated (corrupt) optimizer bytes.
    std::fs::write(ckpt.join("optimizer.safetensors"), &opt[..opt.len() / 2]).unwrap();
    let err = run().unwrap_err();
    assert!(matches!(err, TrainerError::BadCheckpoint { .. }), "{err}");
    std::fs::write(ckpt.join("optimizer.safetensors"), &opt).unwrap();
    // Garbage state.json.
    std::fs::write(ckpt.join("state.json"), "{\"step\": \"four\"}").unwrap();
    let err = run().unwrap_err();
    assert!(err.to_string().contains("state.json"), "{err}");
    // A config whose model does not fit the saved weights: the shape is named.
    let mut other = c.clone();
    other.model.d_ff *= 2;
    let err = maxk_trainer::checkpoint::load_weights(&d.join("base.safetensors"), &other.model)
        .unwrap_err()
        .to_string();
    assert!(err.contains("w_1") && err.contains(&format!("{}", other.model.d_ff)), "{err}");
    // A missing weights file for `maxk lm rl --base` / `maxk lm eval --weights`.
    let err = maxk_trainer::checkpoint::load_weights(&d.join("nope.safetensors"), &c.model).unwrap_err();
    assert!(matches!(err, TrainerError::MissingCheckpoint { .. }), "{err}");
    std::fs::remove_dir_all(d).unwrap();
}
