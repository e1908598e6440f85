//! Device selection: the native CPU engine, burn's NdArray on the CPU (the reference), and
//! burn's CUDA backend behind the `cuda` cargo feature. The training code is generic over
//! [`Engine`]; [`dispatch`] picks the concrete engine at run time.

use std::fmt;
use std::str::FromStr;

use burn::backend::{Autodiff, NdArray};

use crate::engine::Engine;
use crate::engine::burn_engine::BurnEngine;
use crate::engine::native::NativeEngine;
use crate::error::{Result, TrainerError};

/// burn's CPU training backend (the `cpu-burn` device).
pub type CpuBackend = Autodiff<NdArray<f32>>;

/// The CUDA training backend.
#[cfg(feature = "cuda")]
pub type CudaBackend = Autodiff<burn::backend::Cuda<f32, i32>>;

/// Where to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceKind {
    /// The native CPU engine (deterministic given the seed).
    #[default]
    Cpu,
    /// burn's NdArray backend on the CPU (the reference implementation; slower).
    CpuBurn,
    /// The first CUDA GPU through burn (needs the `cuda` feature and a driver).
    Cuda,
}

impl FromStr for DeviceKind {
    type Err = TrainerError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cpu-burn" => Ok(DeviceKind::CpuBurn),
            "cuda" => Ok(DeviceKind::Cuda),
            _ => Err(TrainerError::UnknownDevice { name: s.into() }),
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::CpuBurn => "cpu-burn",
            DeviceKind::Cuda => "cuda",
        })
    }
}

/// Work that can run on any engine (a generic closure).
pub trait OnBackend {
    /// What the work returns.
    type Output;
    /// Runs on `engine`.
    fn run<E: Engine>(self, engine: E) -> Result<Self::Output>;
}

/// Runs `work` on the engine of `kind`. Asking for CUDA without the feature, or without a
/// working driver, is an error (the driver probe's panic is caught and reported); there is
/// no fallback to the CPU.
pub fn dispatch<W: OnBackend>(kind: DeviceKind, work: W) -> Result<W::Output> {
    match kind {
        DeviceKind::Cpu => work.run(NativeEngine),
        DeviceKind::CpuBurn => work.run(BurnEngine::<CpuBackend>::new(Default::default(), "cpu-burn")),
        DeviceKind::Cuda => run_cuda(work),
    }
}

#[cfg(feature = "cuda")]
fn run_cuda<W: OnBackend>(work: W) -> Result<W::Output> {
    use burn::tensor::Tensor;
    let device = burn::backend::cuda::CudaDevice::default();
    let probe = std::panic::catch_unwind(|| {
        let t = Tensor::<CudaBackend, 1>::ones([1], &device);
        t.into_data()
    });
    if probe.is_err() {
        return Err(TrainerError::Device("no usable CUDA driver or GPU (the probe tensor failed)".into()));
    }
    work.run(BurnEngine::<CudaBackend>::new(device, "cuda"))
}

#[cfg(not(feature = "cuda"))]
fn run_cuda<W: OnBackend>(_work: W) -> Result<W::Output> {
    Err(TrainerError::Device(
        "this binary was built without the `cuda` feature; rebuild with \
         `CUDARC_CUDA_VERSION=13000 cargo build --release --features cuda`"
            .into(),
    ))
}

/// Whether this build can use CUDA at all.
pub const fn cuda_compiled() -> bool {
    cfg!(feature = "cuda")
}
