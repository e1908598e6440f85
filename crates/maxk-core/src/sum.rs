//! Compensated (Kahan–Babuška–Neumaier) summation, so that prefix sums over millions of terms
//! keep full f64 accuracy (docs/MATH.md, "Numerics").

/// A running sum: [`Neumaier`] where accuracy over many terms matters, [`Plain`] where the
/// group is short enough that plain summation is already accurate (error <= N eps).
pub trait Accumulator: Default + Copy {
    /// Adds `x`.
    fn add(&mut self, x: f64);
    /// The current value.
    fn value(&self) -> f64;
}

/// Plain running sum.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain(f64);

impl Accumulator for Plain {
    #[inline(always)]
    fn add(&mut self, x: f64) {
        self.0 += x;
    }
    #[inline(always)]
    fn value(&self) -> f64 {
        self.0
    }
}

impl Accumulator for Neumaier {
    #[inline(always)]
    fn add(&mut self, x: f64) {
        Neumaier::add(self, x)
    }
    #[inline(always)]
    fn value(&self) -> f64 {
        Neumaier::value(self)
    }
}

/// A running compensated sum.
#[derive(Debug, Clone, Copy, Default)]
pub struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    /// Adds `x`.
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// The current value.
    #[inline(always)]
    pub fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// Compensated sum of a slice.
pub fn sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut acc = Neumaier::default();
    for x in xs {
        acc.add(x);
    }
    acc.value()
}
