//! The one error type of the core crate: every variant carries the offending values.

use crate::Estimator;
use crate::float::Reward;

/// Everything that can be wrong with the input of an estimator.
///
/// Messages name the value that was wrong, e.g. `group size 3 is too small for maxpo with k = 3
/// (needs N >= k + 1)`. Functions that return an error have not written into any caller buffer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A reward is NaN or infinite.
    #[error("reward at index {index} is {value}, rewards must be finite")]
    NonFiniteReward {
        /// Index of the reward: in its group for one group or a dense batch (whose error names
        /// the group), in the whole batch for ragged batches and batches grouped by id.
        index: usize,
        /// The value found there.
        value: f64,
    },
    /// `k` is outside the range the estimator supports for this group size.
    #[error("k = {k} is out of range for {estimator} with group size {n} (needs {requirement})")]
    KOutOfRange {
        /// The estimator (or `rho` for the max@K estimate).
        estimator: &'static str,
        /// Group size N.
        n: usize,
        /// The requested K.
        k: usize,
        /// Human-readable valid range, e.g. `1 <= k <= N - 1`.
        requirement: &'static str,
    },
    /// The group is too small for an estimator that needs several samples.
    #[error("group size {n} is too small for {estimator} (needs N >= {min})")]
    GroupTooSmall {
        /// The estimator id.
        estimator: &'static str,
        /// Group size N.
        n: usize,
        /// Minimum group size.
        min: usize,
    },
    /// A group has no rewards.
    #[error("group is empty")]
    EmptyGroup,
    /// An estimator for binary rewards got a reward that is neither 0 nor 1.
    #[error("reward at index {index} is {value}, but {estimator} needs binary rewards (0 or 1)")]
    NotBinary {
        /// The estimator id.
        estimator: &'static str,
        /// Index of the reward, as in [`Error::NonFiniteReward`].
        index: usize,
        /// The value found there.
        value: f64,
    },
    /// The true advantage of a sample is finite but too large for the output type: the rewards
    /// are within a small factor (at most 4) of its largest finite value. Rescaling the rewards
    /// by a positive constant rescales the advantages (GRPO's do not change at all).
    #[error(
        "the {estimator} advantage at index {index} is not representable as {ty} (|A| > {max:e}): \
         the rewards range from {low:e} to {high:e}; divide them by a constant"
    )]
    AdvantageOverflow {
        /// The estimator id.
        estimator: &'static str,
        /// Index of the first sample whose advantage overflows, as in [`Error::NonFiniteReward`].
        index: usize,
        /// The output type, `f32` or `f64`.
        ty: &'static str,
        /// Its largest finite value.
        max: f64,
        /// The smallest reward of the group.
        low: f64,
        /// The largest reward of the group.
        high: f64,
    },
    /// An error inside one group of a batch. Its message holds the inner error's, which is
    /// therefore not a `source()` (a printed chain would repeat it).
    #[error("group {group}: {error}")]
    InGroup {
        /// Index of the group in the batch.
        group: usize,
        /// What was wrong with it.
        error: Box<Error>,
    },
    /// An error inside the group with this id (batches grouped by id, e.g. verl's `uid`).
    #[error("group id {id}: {error}")]
    InGroupId {
        /// The group's id.
        id: u64,
        /// What was wrong with it.
        error: Box<Error>,
    },
    /// Dense batch whose length is not a multiple of the group size.
    #[error("batch of {len} rewards cannot be split into groups of {group_size}")]
    RaggedBatch {
        /// Number of rewards.
        len: usize,
        /// Requested group size.
        group_size: usize,
    },
    /// Group offsets are not a valid CSR offset array for the rewards.
    #[error("invalid group offsets: {reason}")]
    InvalidOffsets {
        /// What is wrong, with values.
        reason: String,
    },
    /// A batch grouped by id with a number of ids other than the number of rewards.
    #[error("{ids} group ids for {rewards} rewards: give one group id per reward")]
    IdsLength {
        /// Number of group ids.
        ids: usize,
        /// Number of rewards.
        rewards: usize,
    },
    /// Output buffer has the wrong length.
    #[error("output buffer has length {got}, expected {expected}")]
    OutputLength {
        /// Given length.
        got: usize,
        /// Needed length.
        expected: usize,
    },
    /// A string is not an estimator id.
    #[error("unknown estimator {name:?}; known: {known}")]
    UnknownEstimator {
        /// The string given.
        name: String,
        /// Comma-separated known ids.
        known: String,
    },
    /// A string is not a scale id.
    #[error("unknown scale {name:?}; known: none, std, pg")]
    UnknownScale {
        /// The string given.
        name: String,
    },
    /// A string is not a small-group rule id.
    #[error("unknown small-group rule {name:?}; known: {known}")]
    UnknownSmallGroups {
        /// The string given.
        name: String,
        /// Comma-separated known ids.
        known: String,
    },
    /// An advantage given to the diagnostics is NaN or infinite.
    #[error("advantage at index {index} is {value}, advantages must be finite")]
    NonFiniteAdvantage {
        /// Index of the advantage in the batch.
        index: usize,
        /// The value found there.
        value: f64,
    },
    /// pass@k from more samples than [`crate::MAX_PASS_AT_K_N`] (the exact ratio costs
    /// `min(k, c)` multiplications).
    #[error("pass@k from n = {n} samples: n must be at most {max}")]
    PassAtKTooLarge {
        /// Number of samples.
        n: usize,
        /// The largest accepted n.
        max: usize,
    },
    /// pass@k arguments out of range.
    #[error("invalid pass@k arguments n = {n}, c = {c}, k = {k} (needs 0 <= c <= n and 1 <= k <= n)")]
    InvalidPassAtK {
        /// Number of samples.
        n: usize,
        /// Number of correct samples.
        c: usize,
        /// K.
        k: usize,
    },
    /// An error in one reward axis of a multi-objective group ([`crate::MultiSpec`]).
    #[error("axis {axis}: {error}")]
    InAxis {
        /// Index of the axis (column).
        axis: usize,
        /// What was wrong with its column (in the message, not a `source()`).
        error: Box<Error>,
    },
    /// Multi-objective rewards whose length is not a multiple of the number of axes D.
    #[error("{len} rewards cannot be split into rows of {axes} axes")]
    AxisShape {
        /// Number of reward values.
        len: usize,
        /// Number of axes D.
        axes: usize,
    },
    /// A multi-objective axis weight that is NaN or infinite.
    #[error("weight of axis {axis} is {value}, weights must be finite")]
    InvalidWeight {
        /// Index of the axis.
        axis: usize,
        /// The weight given.
        value: f64,
    },
    /// A multi-objective spec without any axis.
    #[error("a multi-objective spec needs at least one axis")]
    NoAxes,
    /// A mixture of K ([`crate::Mixture`]) without any term.
    #[error("a mixture needs at least one term k:w")]
    EmptyMixture,
    /// A mixture weight that is NaN or infinite.
    #[error("weight of the k = {k} term is {value}, weights must be finite")]
    MixtureWeight {
        /// K of the term.
        k: usize,
        /// The weight given.
        value: f64,
    },
    /// A mixture's text form that does not parse.
    #[error("invalid mixture {text:?}: {reason}")]
    InvalidMixture {
        /// The text given.
        text: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two per-sample inputs of different lengths (maj@K answers and correct flags).
    #[error("{got} {what} for {expected} samples: give one per sample")]
    LengthMismatch {
        /// What the second input is.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The number of samples.
        expected: usize,
    },
    /// One maj@K answer key marked correct in one sample and wrong in another.
    #[error(
        "answer key {key} is marked correct at sample {correct_at} and wrong at sample {wrong_at}: \
         one answer must have one verdict"
    )]
    AnswerConflict {
        /// The answer key (as the caller's u64 id).
        key: u64,
        /// A sample where it is correct.
        correct_at: usize,
        /// A sample where it is wrong.
        wrong_at: usize,
    },
    /// Invalid input of `maxk plan` (a rate outside [0, 1], a target outside (0, 1), ...).
    #[error("invalid plan: {reason}")]
    InvalidPlan {
        /// What is wrong, with the values.
        reason: String,
    },
    /// A K schedule ([`crate::KSchedule`]) that is invalid or whose text form does not parse.
    #[error("K schedule: {reason}")]
    InvalidKSchedule {
        /// What is wrong, with the field and its value.
        reason: String,
    },
    /// A string is not a maj@K tie rule.
    #[error("unknown tie rule {name:?}; known: split, wrong")]
    UnknownTies {
        /// The string given.
        name: String,
    },
}

impl Error {
    /// Wraps `self` as the error of group `group` of a batch.
    pub fn in_group(self, group: usize) -> Error {
        Error::InGroup { group, error: Box::new(self) }
    }

    /// Wraps `self`, an error of the group `g` that starts at index `start` of a flat batch,
    /// with its sample index turned from the group's into the batch's.
    pub(crate) fn in_flat_group(self, group: usize, start: usize) -> Error {
        self.map_index(|i| start + i).in_group(group)
    }

    /// The same error with its sample index (if it has one) mapped by `f`.
    pub(crate) fn map_index(self, f: impl Fn(usize) -> usize) -> Error {
        match self {
            Error::NonFiniteReward { index, value } => Error::NonFiniteReward { index: f(index), value },
            Error::NotBinary { estimator, index, value } => {
                Error::NotBinary { estimator, index: f(index), value }
            }
            Error::AdvantageOverflow { estimator, index, ty, max, low, high } => {
                Error::AdvantageOverflow { estimator, index: f(index), ty, max, low, high }
            }
            e => e,
        }
    }

    /// [`Error::AdvantageOverflow`]: the advantage of `estimator` at `index` is not finite as
    /// `T`; the message gives the range of the group's `rewards`, its cause.
    pub(crate) fn advantage_overflow<T: Reward>(
        estimator: &'static str,
        index: usize,
        rewards: &[T],
    ) -> Error {
        let (low, high) = rewards
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| (lo.min(r.to_f64()), hi.max(r.to_f64())));
        Error::AdvantageOverflow { estimator, index, ty: T::NAME, max: T::MAX, low, high }
    }

    pub(crate) fn k_range(estimator: Estimator, n: usize, k: usize) -> Error {
        Error::KOutOfRange { estimator: estimator.id(), n, k, requirement: estimator.k_range().requirement() }
    }
}

/// Result alias of the core crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
