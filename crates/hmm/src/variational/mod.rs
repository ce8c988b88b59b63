//! Variational Bayesian HMMs (hmmlearn's `VariationalCategoricalHMM` and
//! `VariationalGaussianHMM`): a
//! posterior over the start probabilities, transition rows and emission
//! parameters instead of point estimates, fitted by coordinate ascent on
//! the evidence lower bound through the same loop as EM.
//!
//! - `dirichlet`: Dirichlet rows (expected logs by statrs's digamma,
//!   divergences with its ln Γ, random starts);
//! - `emission`: [`VariationalEmission`], the conjugate emission trait;
//! - `categorical`: [`VariationalCategorical`], Dirichlet rows on the
//!   symbol probabilities;
//! - `gaussian`: [`VariationalGaussian`], Normal-Wishart on the means and
//!   precisions (all four covariance types; tied: one Wishart shared);
//! - `posterior`: [`VariationalHmm`], the expected-log chain of the E-step
//!   and the update;
//! - `bound`: the lower bound `ln Z − KL`, which never falls;
//! - `em`: the [`crate::EmModel`] implementation ([`VariationalInit`]).
//!
//! The E-step is the scaled forward-backward of [`crate::Hmm`] (same
//! kernels, same parallel chunks) run on `exp(E_q[ln π])`,
//! `exp(E_q[ln A])` and `exp(E_q[ln b(x)])`, which sum to less than 1.
//!
//! # Example
//! ```
//! use faer::Mat;
//! use hmm::variational::{VariationalCategoricalHmm, VariationalInit};
//! use hmm::{LearnSet, Sequences, Settings, Start, fit};
//!
//! let x = Mat::from_fn(200, 1, |t, _| ((t / 10) % 2 * 2 + t % 2) as f64);
//! let data = Sequences::new(x.as_ref(), &[100, 100])?;
//! let settings = Settings::builder().max_iterations(200).seed(3).build()?;
//! let start = Start::FromData(VariationalInit::new(2));
//! let fitted = fit::<VariationalCategoricalHmm>(&data, start, &LearnSet::all(), &settings)?;
//! assert!(fitted.report.falls.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bound;
pub mod categorical;
mod dirichlet;
mod em;
pub mod emission;
pub mod gaussian;
pub mod posterior;

pub use categorical::{VariationalCategorical, VariationalCategoricalInit};
pub use em::VariationalInit;
pub use emission::VariationalEmission;
pub use gaussian::{
    NormalWishart, POSTERIOR_FIELDS, PRIOR_FIELDS, VariationalGaussian, VariationalGaussianInit,
};
pub use posterior::VariationalHmm;

/// A variational HMM with categorical emissions.
pub type VariationalCategoricalHmm = VariationalHmm<VariationalCategorical>;
/// A variational HMM with Gaussian emissions (any covariance type).
pub type VariationalGaussianHmm = VariationalHmm<VariationalGaussian>;
