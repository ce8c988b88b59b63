//! [`GaussianMixture`] as an [`EmModel`]: the E-step ([`crate::estep`]),
//! the M-step ([`crate::mstep`]), the initialisation ([`InitConfig`]) and
//! the flat view of the learned parameters ([`crate::flat`], for SQUAREM and
//! the parameter-change rule) that the loop of `em-core` ([`crate::fit`])
//! drives.

use em_core::{EStep, EmModel};
use faer::MatRef;
use rand::Rng;

use crate::{GaussianMixture, InitConfig, MStepOptions, MixtureError, StepDiagnostics, SufficientStats};

impl EmModel for GaussianMixture {
    /// The observations, one row each (n x d).
    type Data<'a> = MatRef<'a, f64>;
    type Stats = SufficientStats;
    type Options = MStepOptions;
    type InitConfig = InitConfig;
    type Diagnostics = StepDiagnostics;
    type Error = MixtureError;

    /// `Σᵢ ln p(xᵢ)` under the current parameters and the statistics of the
    /// responsibilities, with the K worst-explained rows as re-seeding
    /// candidates ([`GaussianMixture::e_step_weighted`] with unit weights).
    ///
    /// # Errors
    /// [`MixtureError::EmptyData`], [`MixtureError::DimensionMismatch`],
    /// [`MixtureError::NonFiniteData`] (row and column of the first bad
    /// value), [`MixtureError::ZeroLikelihood`].
    fn e_step(&self, x: MatRef<'_, f64>) -> Result<EStep<SufficientStats>, MixtureError> {
        self.e_step_with(x, None)
    }

    /// `Σᵢ ln p(xᵢ)` by the E-step's kernel without the statistics (see
    /// [`GaussianMixture::total_log_likelihood`]), bit for bit the E-step's.
    ///
    /// # Errors
    /// As [`EmModel::e_step`].
    fn log_likelihood(&self, x: MatRef<'_, f64>) -> Result<f64, MixtureError> {
        if x.nrows() == 0 {
            return Err(MixtureError::EmptyData);
        }
        self.log_likelihood_only(x, None)
    }

    /// A NEW model from `stats` (see [`crate::mstep`] for the formulas, the
    /// collapse policy and the objective check); `self` is unchanged and on
    /// error no model is produced. `stats` should come from this model's
    /// E-step (or, for other weights, from
    /// [`SufficientStats::from_responsibilities`]): the objective check
    /// compares this model with the new one.
    ///
    /// # Errors
    /// [`MixtureError::InvalidOption`]; [`MixtureError::CovarianceTypeMismatch`]
    /// or [`MixtureError::DimensionMismatch`] if the statistics do not fit the model.
    fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), MixtureError> {
        self.maximise(stats, options)
    }

    /// The blocks of `options.learn` (weights, means, covariances by their
    /// lower triangle or variances) in the layout of [`crate::flat`].
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        let mut out = Vec::new();
        self.push_flat_parameters(options.learn, &mut out);
        Some(out)
    }

    /// [`GaussianMixture::with_flat_parameters_of`] with `options.learn`:
    /// `None` for a wrong length, a non-finite value or an invalid mixture
    /// (see [`crate::flat`]).
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        self.with_flat_parameters_of(flat, options.learn)
    }

    /// See [`InitConfig`] and [`crate::InitMethod`].
    ///
    /// # Errors
    /// [`MixtureError::NoComponents`], [`MixtureError::EmptyData`],
    /// [`MixtureError::NoFeatures`], [`MixtureError::TooFewSamples`] (n < K),
    /// [`MixtureError::NonFiniteData`], [`MixtureError::TooFewDistinctPoints`]
    /// (k-means and random points); for an explicit model,
    /// [`MixtureError::DimensionMismatch`] or [`MixtureError::CovarianceTypeMismatch`].
    fn init_from_data<R: Rng + ?Sized>(
        x: MatRef<'_, f64>,
        config: &InitConfig,
        rng: &mut R,
    ) -> Result<Self, MixtureError> {
        Self::initialise(x, config, rng)
    }
}
