//! Checkpoints: a directory with `weights.safetensors` (f32, names from
//! [`ModelConfig::param_specs`]), `optimizer.safetensors` (Adam moments `m.<name>`,
//! `v.<name>`) and `state.json` (step, Adam step, the ChaCha RNG position). Restoring all three
//! continues a run exactly: on the CPU backend, 2 + 2 resumed steps equal 4 steps bitwise.
//!
//! Files are written to a temporary name and renamed, so an interrupted save leaves the
//! previous checkpoint intact.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::engine::Policy;
use crate::error::{Result, TrainerError};
use crate::model::{HostWeights, ModelConfig};
use crate::optim::AdamState;

/// Everything a training loop needs to continue, on the host.
#[derive(Debug, Clone)]
pub struct TrainState {
    /// Current weights.
    pub weights: HostWeights,
    /// Optimiser state.
    pub adam: AdamState,
    /// Updates done.
    pub step: usize,
    /// The run's single random stream (data, sampling).
    pub rng: ChaCha8Rng,
    /// Variance proxy of every update so far (kept so that a resumed run reports the whole
    /// curve).
    pub var_proxy: Vec<f64>,
}

impl TrainState {
    /// The state before the first update: zero Adam moments, step 0, a fresh stream.
    pub fn fresh(weights: HostWeights, rng: ChaCha8Rng) -> Self {
        TrainState { adam: AdamState::zeros(&weights.config), weights, step: 0, rng, var_proxy: Vec::new() }
    }

    /// Copies the weights and Adam state of `policy` (the engine's live copy) into the state.
    pub fn capture<P: Policy + ?Sized>(&mut self, policy: &P) {
        self.weights = policy.weights();
        self.adam = policy.adam_state();
    }
}

/// `state.json`.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    step: usize,
    adam_t: u64,
    rng_seed: Vec<u8>,
    rng_stream: u64,
    /// u128 as a decimal string (JSON numbers lose precision beyond 2^53).
    rng_word_pos: String,
    /// Variance proxy per update so far.
    var_proxy: Vec<f64>,
}

const WEIGHTS: &str = "weights.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";

/// Where `--resume` starts: `Ok(true)` when `dir` holds a complete checkpoint, `Ok(false)` when
/// it holds none of its files (the stage never saved one, so it starts from scratch), and a
/// [`TrainerError::MissingCheckpoint`] naming the first missing file when only some exist
/// (never silently restart from a damaged checkpoint).
pub fn resume_point(dir: &Path) -> Result<bool> {
    let present: Vec<bool> = [WEIGHTS, OPTIMIZER, STATE].iter().map(|f| dir.join(f).is_file()).collect();
    match [WEIGHTS, OPTIMIZER, STATE].iter().zip(&present).find(|(_, p)| !**p) {
        None => Ok(true),
        Some(_) if !present.contains(&true) => Ok(false),
        Some((missing, _)) => Err(TrainerError::MissingCheckpoint { path: dir.join(missing) }),
    }
}

/// Saves `state` into `dir` (created if needed).
pub fn save(dir: &Path, state: &TrainState) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
    save_weights(&dir.join(WEIGHTS), &state.weights)?;
    let specs = state.weights.config.param_specs();
    let mut named = Vec::new();
    for (prefix, moments) in [("m", &state.adam.m), ("v", &state.adam.v)] {
        for (spec, t) in specs.iter().zip(moments) {
            named.push((format!("{prefix}.{}", spec.name), spec.shape, &t[..]));
        }
    }
    write_tensors(&dir.join(OPTIMIZER), named, None)?;
    let rng = &state.rng;
    let file = StateFile {
        step: state.step,
        adam_t: state.adam.t,
        rng_seed: rng.get_seed().to_vec(),
        rng_stream: rng.get_stream(),
        rng_word_pos: rng.get_word_pos().to_string(),
        var_proxy: state.var_proxy.clone(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| bad(&dir.join(STATE), e.to_string()))?;
    write_atomic(&dir.join(STATE), text.as_bytes())
}

/// Loads a checkpoint written by [`save`] for a model of shape `config`. Errors name the
/// missing file, the bad tensor or the mismatched shape.
pub fn load(dir: &Path, config: &ModelConfig) -> Result<TrainState> {
    if !resume_point(dir)? {
        return Err(TrainerError::MissingCheckpoint { path: dir.to_path_buf() });
    }
    let weights = load_weights(&dir.join(WEIGHTS), config)?;
    let path = dir.join(OPTIMIZER);
    let bytes = std::fs::read(&path).map_err(TrainerError::io(&path))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(&path, e.to_string()))?;
    let specs = config.param_specs();
    let moments = |prefix: &str| -> Result<Vec<Vec<f32>>> {
        specs.iter().map(|s| read_tensor(&st, &path, &format!("{prefix}.{}", s.name), s.shape)).collect()
    };
    let (m, v) = (moments("m")?, moments("v")?);
    let path = dir.join(STATE);
    let text = std::fs::read_to_string(&path).map_err(TrainerError::io(&path))?;
    let file: StateFile = serde_json::from_str(&text).map_err(|e| bad(&path, e.to_string()))?;
    let seed: [u8; 32] =
        file.rng_seed.as_slice().try_into().map_err(|_| bad(&path, "rng_seed must be 32 bytes".into()))?;
    let word_pos: u128 =
        file.rng_word_pos.parse().map_err(|_| bad(&path, "rng_word_pos is not an integer".into()))?;
    let mut rng = <ChaCha8Rng as rand::SeedableRng>::from_seed(seed);
    rng.set_stream(file.rng_stream);
    rng.set_word_pos(word_pos);
    if file.var_proxy.len() != file.step {
        return Err(bad(
            &path,
            format!("{} variance-proxy values for step {}", file.var_proxy.len(), file.step),
        ));
    }
    let adam = AdamState { t: file.adam_t, m, v };
    Ok(TrainState { weights, adam, step: file.step, rng, var_proxy: file.var_proxy })
}

/// Writes only the weights (f32 safetensors with the model config as metadata).
pub fn save_weights(path: &Path, weights: &HostWeights) -> Result<()> {
    let specs = weights.config.param_specs();
    let named = specs.iter().zip(&weights.tensors).map(|(s, t)| (s.name.clone(), s.shape, &t[..])).collect();
    let meta = serde_json::to_string(&weights.config).map_err(|e| bad(path, e.to_string()))?;
    write_tensors(path, named, Some(HashMap::from([("model".to_string(), meta)])))
}

/// Reads weights for `config`, checking every name, dtype and shape.
pub fn load_weights(path: &Path, config: &ModelConfig) -> Result<HostWeights> {
    if !path.is_file() {
        return Err(TrainerError::MissingCheckpoint { path: path.to_path_buf() });
    }
    let bytes = std::fs::read(path).map_err(TrainerError::io(path))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(path, e.to_string()))?;
    let tensors = config
        .param_specs()
        .iter()
        .map(|s| read_tensor(&st, path, &s.name, s.shape))
        .collect::<Result<Vec<_>>>()?;
    Ok(HostWeights { config: config.clone(), tensors })
}

fn read_tensor(st: &SafeTensors<'_>, path: &Path, name: &str, shape: [usize; 2]) -> Result<Vec<f32>> {
    let view = st.tensor(name).map_err(|_| bad(path, format!("tensor {name} is missing")))?;
    if view.dtype() != Dtype::F32 {
        return Err(bad(path, format!("tensor {name} has dtype {:?}, expected F32", view.dtype())));
    }
    if view.shape() != shape {
        return Err(bad(
            path,
            format!("tensor {name} has shape {:?}, the config needs {shape:?}", view.shape()),
        ));
    }
    Ok(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

fn write_tensors(
    path: &Path,
    named: Vec<(String, [usize; 2], &[f32])>,
    meta: Option<HashMap<String, String>>,
) -> Result<()> {
    let bytes: Vec<(String, [usize; 2], Vec<u8>)> =
        named.into_iter().map(|(n, s, t)| (n, s, t.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let views = bytes
        .iter()
        .map(|(n, s, b)| {
            Ok((n.clone(), TensorView::new(Dtype::F32, s.to_vec(), b).map_err(|e| bad(path, e.to_string()))?))
        })
        .collect::<Result<Vec<_>>>()?;
    let buffer = safetensors::serialize(views, &meta).map_err(|e| bad(path, e.to_string()))?;
    write_atomic(path, &buffer)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(TrainerError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(TrainerError::io(path))
}

fn bad(path: &Path, reason: String) -> TrainerError {
    TrainerError::BadCheckpoint { path: PathBuf::from(path), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    fn cfg() -> ModelConfig {
        ModelConfig { d_model: 8, n_layers: 1, n_heads: 2, d_ff: 8, max_seq_len: 8 }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("maxk-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn round_trip_restores_weights_moments_and_rng() {
        let w = cfg().init_host(1).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        rng.next_u64();
        let mut state = TrainState::fresh(w, rng);
        state.step = 3;
        state.var_proxy = vec![0.5, 0.25, 0.125];
        let d = dir("rt");
        save(&d, &state).unwrap();
        let mut back = load(&d, &cfg()).unwrap();
        assert_eq!(back.step, 3);
        assert_eq!(back.weights, state.weights);
        assert_eq!(back.adam, state.adam);
        let mut rng = state.rng.clone();
        assert_eq!(back.rng.next_u64(), rng.next_u64());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_corrupt_and_mismatched_checkpoints_are_clear_errors() {
        let d = dir("bad");
        let err = load(&d, &cfg()).unwrap_err();
        assert!(matches!(err, TrainerError::MissingCheckpoint { .. }), "{err}");
        let w = cfg().init_host(1).unwrap();
        let state = TrainState::fresh(w, ChaCha8Rng::seed_from_u64(0));
        save(&d, &state).unwrap();
        let other = ModelConfig { d_ff: 16, ..cfg() };
        let err = load(&d, &other).unwrap_err().to_string();
        assert!(err.contains("layers.0.w_1") && err.contains("[8, 16]"), "{err}");
        std::fs::write(d.join(WEIGHTS), b"not a safetensors file").unwrap();
        let err = load(&d, &cfg()).unwrap_err();
        assert!(matches!(err, TrainerError::BadCheckpoint { .. }), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
