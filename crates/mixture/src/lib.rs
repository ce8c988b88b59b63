//! Gaussian mixture models for emfit.
//!
//! [`GaussianMixture`] holds K Gaussian components in d dimensions with
//! full, diagonal, spherical or tied covariances ([`CovarianceType`]),
//! validated at construction. This crate owns the mathematics of ONE EM step
//! and inference; the iteration loop belongs to `em-driver` (tests and
//! examples here drive plain loops):
//!
//! - [`GaussianMixture::e_step`]: log-likelihood of the current parameters
//!   and mergeable [`SufficientStats`], over fixed chunks in parallel with a
//!   fixed reduction order;
//! - [`GaussianMixture::m_step`]: a new model plus [`MStepDiagnostics`]
//!   (floors, collapsed components, objective check), see [`mstep`];
//! - [`GaussianMixture::em_iteration`]: both, for benchmarks;
//! - [`GaussianMixture::init_from_data`] ([`InitMethod`]) and [`kmeans()`](crate::kmeans::kmeans);
//! - inference: [`GaussianMixture::log_prob_per_component`],
//!   [`GaussianMixture::score_samples`], [`GaussianMixture::predict_proba`],
//!   [`GaussianMixture::predict`], [`GaussianMixture::sample`],
//!   [`GaussianMixture::n_parameters`], [`GaussianMixture::bic`], [`GaussianMixture::aic`];
//! - [`scenario`]: scenario 2 of `shared/SCENARIOS.md`.
//!
//! Data are `faer::MatRef<f64>` with one row per observation. Numerics go
//! through `linalg-kernels` (Cholesky, triangular solves, the vectorisable
//! exp); the E-step kernel is in `kernel.rs`.

mod covariance;
mod data;
mod error;
mod estep;
mod init;
mod kernel;
pub mod kmeans;
mod model;
pub mod mstep;
pub mod scenario;
mod stats;

pub use covariance::{CovarianceType, Covariances, SYMMETRY_TOLERANCE};
pub use error::{CovarianceOwner, MixtureError};
pub use estep::EStep;
pub use init::InitMethod;
pub use kmeans::{KMeans, kmeans};
/// The kernels' error, wrapped by [`MixtureError::NotPositiveDefinite`] and [`MixtureError::Kernel`].
pub use linalg_kernels::KernelError;
pub use model::{GaussianMixture, WEIGHT_SUM_TOLERANCE};
pub use mstep::{
    DEFAULT_REG_COVAR, DEGENERATE_PIVOT_RATIO, MStepDiagnostics, MStepOptions, OBJECTIVE_TOLERANCE,
    WEIGHT_FLOOR,
};
pub use stats::{ReseedCandidate, Scatter, SufficientStats};

/// Rows per parallel chunk of every data pass. Fixed, so that results do not
/// depend on the number of threads.
pub const CHUNK_ROWS: usize = kernel::CHUNK_ROWS;

impl GaussianMixture {
    /// One full EM iteration: [`e_step`](Self::e_step) then
    /// [`m_step`](Self::m_step). Returns the new model, the log-likelihood
    /// of `self` (the model BEFORE the step) and the M-step diagnostics.
    /// Convenience for benchmarks and simple loops.
    ///
    /// # Errors
    /// As [`e_step`](Self::e_step) and [`m_step`](Self::m_step).
    pub fn em_iteration(
        &self,
        x: faer::MatRef<'_, f64>,
        sample_weights: Option<&[f64]>,
        options: &MStepOptions,
    ) -> Result<(GaussianMixture, f64, MStepDiagnostics), MixtureError> {
        let (ll, stats) = self.e_step(x, sample_weights)?.into_parts();
        let (model, diag) = self.m_step(&stats, options)?;
        Ok((model, ll, diag))
    }
}
