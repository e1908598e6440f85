//! # maxk-core
//!
//! Exact, O(N log N) advantage estimators for policy gradients on **max@K** (the expected best
//! of K samples) and **pass@K** (its binary-reward case), including **MaxPO** = expected
//! improvement + Leave-Two-Out baseline (Takashiro, Nishimori, Parmas et al. 2026, arXiv
//! 2606.06080, "On Advantage Estimates for Max@K Policy Gradients") and the PKPO family
//! (Walder & Karkhanis 2025, arXiv 2505.15201). The maths with derivations is in the
//! repository's `docs/MATH.md`; this crate is std + rayon only.
//!
//! ## Notation
//! A group B holds N rewards `r_1..r_N` of samples drawn i.i.d. for one prompt, and
//! `1 <= K <= N`. `rho_K(B) = sum_l C(l, K-1)/C(N, K) r_(l)` (ascending ranks `l`, 0-based) is
//! the mean of the max over all K-subsets, an unbiased estimate of `J_K = E[max(R_1..R_K)]`.
//!
//! - `u_i` — mean max over the K-subsets that contain sample i;
//! - `v_i = rho_K(B \ i)`;
//! - `w_i = rho_{K-1}(B \ i)`;
//! - identity: `rho_K(B) = (K/N) u_i + ((N-K)/N) v_i` for every i.
//!
//! ## Every estimator in the u, v, w basis
//!
//! | id | A_i | sum over the group | PG-unbiased (factor c) | valid K |
//! |---|---|---|---|---|
//! | `pkpo` | (K/N) u_i | K rho_K | yes (1) | 1..=N |
//! | `pkpo-loo` | (K/N) u_i - (K/(N-1)) v_i | -K rho_K/(N-1) | yes (1) | 1..=N-1 |
//! | `pkpo-loo1` | (K/N)(u_i - w_i) = (K/N) EI_i | K(rho_K - rho_{K-1}) | yes (1) | 1..=N |
//! | `ei` | u_i - w_i = EI_i | N(rho_K - rho_{K-1}) | yes (K/N) | 1..=N |
//! | `maxpo` | EI_i - L2O_i = u_i - v_i | 0 exactly | yes (K/N) | 1..=N-1 |
//! | `canonical` | (K/N)(u_i - v_i) = rho_K(B) - rho_K(B\i) | 0 exactly | yes (1) | 1..=N-1 |
//! | `rloo` | maxpo at K = 1 | 0 | for J_1 (1/N) | unused |
//! | `dr-grpo` | r_i - mean r = ((N-1)/N) rloo | 0 | for J_1 (1/(N-1)) | unused |
//! | `grpo` | (r_i - mean r)/(std r + 1e-6) | 0 | no | unused |
//! | `best-minus-second` | best: r_max - r_second, else 0 | >= 0 | no | unused |
//! | `passk-analytic` | ((N-K)/N) maxpo / sigma (binary r) | 0 | no | 1..=N |
//! | `maxrl` | (r_i - mean r)/mean r, 0 if mean r = 0 (binary r) | 0 | no (for sum_{k<=N-1} pass@k/k, times 1/N) | unused |
//! | `bon-mean` | PKPO s standardised: (s_i - mean s)/(std s + 1e-6) | 0 | no | 1..=N |
//! | `rs-grpo` | (1/b)(e^{b r_i}/mean e^{b r} - 1), b = 2 | 0 | no (not for its J_RS either) | unused |
//!
//! Beyond the registry, the same jackknife `A_i = U(B) - U(B\i)` of other K-sample objectives
//! (docs/MATH.md): mixtures of K ([`Mixture`], [`mixture_advantages`]), maj@K
//! ([`maj_advantages`]), and the planning maths of `maxk plan` ([`plan`]). [`KSchedule`] is
//! the training K as a function of the step (constant, linear or a step list).
//!
//! The PG factor c is one convention everywhere ([`Estimator::pg_factor`], [`Scale::Pg`],
//! `maxk estimators`, docs/MATH.md): `c * sum_i A_i grad log pi(y_i)` is an unbiased estimate
//! of `grad J_K` (of `grad J_1` for the estimators that ignore K). For K >= 2, `EI_i`
//! (expected improvement of sample i over the best of K-1 others) is never negative, so
//! pkpo-loo1 and ei are not centered; at K = 1 there are no comparators and `EI_i = r_i`,
//! negative for negative rewards. `L2O_i = (1/(N-1)) sum_{j != i} EI_j(B \ i) = v_i - w_i`
//! does not depend on `r_i`, so subtracting it keeps the gradient unbiased, and the MaxPO
//! advantages sum to exactly zero.
//!
//! ## Numerics
//! Every output is finite or an error: the kernels rescale a group by an exact power of two
//! where an intermediate (a gap, a mean, a square in the std) could overflow, and a true
//! advantage beyond the output type's range is [`Error::AdvantageOverflow`], never an
//! infinity or a NaN. Each output is within 2^-40 of its own scale (its weights times the
//! rewards, or times the gaps between them for the estimators that depend on differences only),
//! not of the group's largest reward, and an all-equal group is exact: the contract per
//! estimator is in the repository's `docs/accuracy.md`, checked against exact rationals by
//! `tests/fuzz.rs`.
//!
//! ## Example
//! ```
//! use maxk_core::{advantages, batch_advantages, max_at_k, Estimator, Scale, Spec};
//!
//! // One group of 6 completions with continuous rewards, training for max@4.
//! let rewards = [0.1, 0.9, 0.4, 0.4, 0.0, 0.7];
//! let a = advantages(&rewards, Spec::new(Estimator::Maxpo, 4))?;
//! assert!(a.iter().sum::<f64>().abs() < 1e-12);      // exactly centered
//! assert!(a[1] > a[5] && a[5] > a[2]);               // ordered like the rewards
//!
//! // The same at the PG-unbiased scale equals the canonical form.
//! let pg = advantages(&rewards, Spec::new(Estimator::Maxpo, 4).with_scale(Scale::Pg))?;
//! let canonical = advantages(&rewards, Spec::new(Estimator::Canonical, 4))?;
//! assert!(pg.iter().zip(&canonical).all(|(x, y)| (x - y).abs() < 1e-12));
//!
//! // A dense batch [G, N] in parallel, f32 in and out.
//! let batch: Vec<f32> = vec![0., 1., 0., 0., 1., 1., 1., 0.];
//! let b = batch_advantages(&batch, 4, Spec::new(Estimator::Maxpo, 2))?;
//! assert_eq!(b.len(), 8);
//!
//! // The unbiased max@K (here pass@2) estimate of a group.
//! let rho = max_at_k(&[0.0, 1.0, 0.0, 0.0], 2)?;
//! assert!((rho - 0.5).abs() < 1e-15);                 // 1 - C(3,2)/C(4,2)
//!
//! // Bad input is an error that names the value, never a panic.
//! let err = advantages(&[0.0, f64::NAN], Spec::new(Estimator::Maxpo, 1)).unwrap_err();
//! assert_eq!(err.to_string(), "reward at index 1 is NaN, rewards must be finite");
//! # Ok::<(), maxk_core::Error>(())
//! ```

mod batch;
pub mod binom;
pub mod diagnostics;
mod driver;
mod error;
mod estimator;
pub mod exact_variance;
mod float;
mod group;
mod majority;
mod mixture;
mod multi;
pub(crate) mod peers;
pub mod plan;
pub mod quadratic;
pub mod reference;
mod schedule;
#[cfg(feature = "serde")]
mod serde_ids;
pub mod small_groups;
pub mod sum;
mod validate;

// The crate README (shown on crates.io) is compiled and run as a doctest, so its example works
// when pasted.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

pub use batch::{
    MAX_PASS_AT_K_N, advantages, advantages_into, batch_advantages, batch_advantages_into, batch_max_at_k,
    grouped_advantages, grouped_advantages_into, max_at_k, pass_at_k, ragged_advantages,
    ragged_advantages_into, ragged_max_at_k,
};
pub use diagnostics::{Diagnostics, GroupedMaxAtK, grouped_diagnostics, grouped_max_at_k, grouped_step};
pub use error::{Error, Result};
pub use estimator::{Estimator, KRange, Scale, Spec};
pub use float::Reward;
pub use group::{Workspace, sort_keys};
pub use majority::{
    MAX_MAJ_K, MajSpec, Ties, grouped_maj_advantages, maj_advantages, maj_at_k, ragged_maj_advantages,
};
pub use mixture::{
    Mixture, Term, batch_mixture_advantages, grouped_mixture_advantages, mixture_advantages,
    mixture_advantages_into, ragged_mixture_advantages, ragged_mixture_advantages_into,
};
pub use multi::{
    Axis, MultiSpec, batch_multi_advantages, batch_multi_advantages_into, multi_advantages,
    multi_advantages_into, ragged_multi_advantages, ragged_multi_advantages_into,
};
pub use peers::RS_GRPO_BETA;
pub use schedule::KSchedule;
pub use small_groups::{
    SmallGroupCounts, SmallGroups, batch_advantages_with, grouped_advantages_with, ragged_advantages_with,
};
