//! The variational Bayesian Gaussian mixture (scikit-learn's
//! `BayesianGaussianMixture`): a posterior over the weights, means and
//! precisions instead of point estimates, fitted by coordinate ascent on
//! the evidence lower bound through the same loop as EM.
//!
//! - [`prior`]: the model and its priors (Dirichlet distribution or
//!   Dirichlet process on the weights, Normal-Wishart on the means and
//!   precisions), with scikit-learn's defaults from the data;
//! - [`weights`]: the posterior of the weights;
//! - [`posterior`]: [`VariationalMixture`], the update (the M-step) and
//!   inference;
//! - [`estep`]: the responsibilities' statistics and entropy
//!   ([`VariationalStats`], with a flat form);
//! - [`bound`]: the Wishart terms and the lower bound, which never falls;
//! - [`init`]: the start ([`VariationalInit`]);
//! - `em`: the [`crate::EmModel`] implementation (the bound is the loop's
//!   objective; SQUAREM is not used, see there).
//!
//! Every covariance type is supported; digamma, ln Γ and ln B are statrs's.
//!
//! # Example
//! ```
//! use mixture::variational::{VariationalInit, VariationalMixture};
//! use mixture::{Convergence, CovarianceType, Settings, Start, Tolerance, fit, scenario};
//!
//! let data = scenario::two_component_2d(7);
//! let settings = Settings::builder()
//!     .max_iterations(2000)
//!     .convergence(Convergence::LogLikelihood(Tolerance::absolute(1e-3)))
//!     .seed(1)
//!     .build()?;
//! let start = Start::FromData(VariationalInit::new(6, CovarianceType::Full));
//! let fitted = fit::<VariationalMixture>(data.x.as_ref(), start, &(), &settings)?;
//! assert!(fitted.report.converged());
//! assert_eq!(fitted.model.n_effective_components(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bound;
mod em;
pub mod estep;
pub mod init;
pub mod posterior;
pub mod prior;
pub mod weights;

pub use estep::VariationalStats;
pub use init::{DEFAULT_REG_COVAR, VariationalInit, VariationalInitMethod};
pub use posterior::{EFFECTIVE_WEIGHT, VariationalConfig, VariationalMixture};
pub use prior::{CovariancePrior, PriorSettings, VariationalPrior, WeightPrior};
pub use weights::WeightConcentration;
