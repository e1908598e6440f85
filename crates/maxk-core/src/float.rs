//! Reward element types accepted by the estimators (f32 and f64).

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point reward type. All maths runs in f64; f32 input is widened on the way in and
/// rounded on the way out.
pub trait Reward: Copy + Send + Sync + PartialEq + std::fmt::Debug + sealed::Sealed + 'static {
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// Rounds from f64.
    fn from_f64(x: f64) -> Self;
    /// The type's name in error messages (`f32`, `f64`).
    const NAME: &'static str;
    /// The largest finite value, as f64.
    const MAX: f64;
}

impl Reward for f64 {
    const NAME: &'static str = "f64";
    const MAX: f64 = f64::MAX;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
}

impl Reward for f32 {
    const NAME: &'static str = "f32";
    const MAX: f64 = f32::MAX as f64;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}
