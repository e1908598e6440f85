//! Backend selection: NdArray on the CPU, CUDA behind the `cuda` cargo feature. The model
//! code is generic over [`AutodiffBackend`]; [`dispatch`] picks the concrete type at run time.

use std::fmt;
use std::str::FromStr;

use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;

use crate::error::{Result, TrainerError};

/// The CPU training backend.
pub type CpuBackend = Autodiff<NdArray<f32>>;

/// The CUDA training backend.
#[cfg(feature = "cuda")]
pub type CudaBackend = Autodiff<burn::backend::Cuda<f32, i32>>;

/// Where to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceKind {
    /// NdArray on the CPU (deterministic given the seed).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs the `cuda` feature and a driver).
    Cuda,
}

impl FromStr for DeviceKind {
    type Err = TrainerError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" => Ok(DeviceKind::Cuda),
            _ => Err(TrainerError::Config(format!("unknown device {s:?}; known: cpu, cuda"))),
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        })
    }
}

/// Work that can run on any autodiff backend (a generic closure).
pub trait OnBackend {
    /// What the work returns.
    type Output;
    /// Runs on backend `B` and `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>;
}

/// Runs `work` on the backend of `kind`. Asking for CUDA without the feature, or without a
/// working driver, is an error (the driver probe's panic is caught and reported).
pub fn dispatch<W: OnBackend>(kind: DeviceKind, work: W) -> Result<W::Output> {
    match kind {
        DeviceKind::Cpu => work.run::<CpuBackend>(Default::default()),
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
    work.run::<CudaBackend>(device)
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
