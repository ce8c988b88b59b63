//! Gaussian mixture models for emfit.
//!
//! [`GaussianMixture`] holds K Gaussian components in d dimensions with
//! full, diagonal, spherical or tied covariances ([`CovarianceType`]),
//! validated at construction. This crate owns the mathematics of one EM step
//! and of inference, and implements [`EmModel`] for the mixture, so the loop
//! of `em-core` fits it: [`fit`] (re-exported here with the [`Settings`] and
//! the [`FitReport`] it takes and gives) runs restarts, the convergence test
//! and the fall policy. A program that needs only mixtures depends on this
//! crate alone.
//!
//! - the E-step ([`EmModel::e_step`], or [`GaussianMixture::e_step_weighted`]
//!   with sample weights, and [`WeightedMixture`] to fit weighted rows
//!   ([`WeightedRows`]) by the same loop): log-likelihood of the current parameters and
//!   mergeable [`SufficientStats`], over fixed chunks in parallel with a
//!   fixed reduction order;
//! - the M-step ([`EmModel::m_step`]): a new model plus [`StepDiagnostics`]
//!   (floors, collapsed components, objective check), see [`mstep`], with a
//!   covariance floor in the units of the data ([`floor`]); which
//!   blocks it updates is a [`LearnSet`] of [`Param`]s;
//! - the learned parameters as one flat vector ([`flat`]:
//!   [`EmModel::flat_parameters`], [`EmModel::with_flat_parameters`]), for
//!   accelerated EM (SQUAREM) and the parameter-change stopping rule;
//! - the initialisation ([`EmModel::init_from_data`] with an [`InitConfig`]:
//!   [`InitMethod`], [`kmeans()`](crate::kmeans::kmeans), [`GivenParameters`]);
//! - inference: [`GaussianMixture::log_prob_per_component`],
//!   [`GaussianMixture::score_samples`], [`GaussianMixture::predict_proba`],
//!   [`GaussianMixture::predict`], [`GaussianMixture::sample`],
//!   [`GaussianMixture::n_parameters`], [`GaussianMixture::bic`], [`GaussianMixture::aic`];
//! - [`variational`]: the variational Bayesian mixture
//!   ([`variational::VariationalMixture`], scikit-learn's
//!   `BayesianGaussianMixture`), fitted by the same loop;
//! - [`scenario`]: the project's 2-D mixture whose hand-written EM crashed.
//!
//! Data are `faer::MatRef<f64>` with one row per observation. Numerics go
//! through `linalg-kernels` (Cholesky, triangular solves, the vectorisable
//! exp); the E-step kernel is in `kernel.rs`.
//!
//! # Example
//! ```
//! use mixture::{CovarianceType, GaussianMixture, InitConfig, MStepOptions, Settings, Start, fit, scenario};
//!
//! let data = scenario::two_component_2d(7);
//! let settings = Settings::builder().max_iterations(500).restarts(4).seed(1).build()?;
//! let start = Start::FromData(InitConfig::new(2, CovarianceType::Full));
//! let fitted = fit::<GaussianMixture>(data.x.as_ref(), start, &MStepOptions::default(), &settings)?;
//! assert!(fitted.report.converged());
//! let mut weights = fitted.model.weights().to_vec();
//! weights.sort_by(f64::total_cmp);
//! assert!((weights[0] - 0.3).abs() < 0.05);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod covariance;
mod data;
mod em;
mod error;
mod estep;
pub mod flat;
pub mod floor;
pub mod gaussian_update;
mod init;
mod kernel;
pub mod kmeans;
mod model;
pub mod mstep;
mod param;
mod prior;
pub mod scenario;
mod stats;
pub mod variational;
mod weighted;

pub use covariance::{CovarianceType, Covariances};
pub use error::{CovarianceOwner, MixtureError, PosteriorParam};
pub use floor::{DEFAULT_RELATIVE_FLOOR, Floor};
pub use init::{GivenCovariances, GivenParameters, InitConfig, InitMethod};
pub use kmeans::{KMeans, kmeans};
/// The kernels' error, wrapped by [`MixtureError::NotPositiveDefinite`] and [`MixtureError::Kernel`].
pub use linalg_kernels::KernelError;
pub use model::GaussianMixture;
pub use mstep::{MStepOptions, WEIGHT_FLOOR};
pub use param::{LearnSet, Param, StepDiagnostics};
pub use prior::NormalPrior;
pub use stats::{ReseedCandidate, Scatter, SufficientStats};
pub use weighted::{WeightedMixture, WeightedRows};

pub use em_core::{
    self, Acceleration, Convergence, EStep, EmModel, Fit, FitError, FitReport, Iteration, LogObserver,
    OnFall, Settings, Start, Tolerance, fit, fit_observed,
};
pub use faer;
pub use rand;

/// Rows per parallel chunk of every data pass. Fixed, so that results do not
/// depend on the number of threads.
pub const CHUNK_ROWS: usize = kernel::CHUNK_ROWS;
