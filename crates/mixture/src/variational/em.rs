//! [`VariationalMixture`] as an [`EmModel`]: the E-step of
//! [`super::estep`], the update of [`super::posterior`] as the M-step, the
//! start of [`super::init`], and the lower bound as the objective of the
//! loop ([`EmModel::lower_bound`]).
//!
//! # The loop's objective
//! The M-step builds the posterior `q(π, μ, Λ)` of the E-step's
//! responsibilities and stores the bound of the pair (entropy of the
//! responsibilities carried by the statistics, the normalisers of the new
//! posterior; see [`super::bound`]). Recorded point k of the loop is thus
//! scikit-learn's bound after its k-th iteration, and point 0 the bound of
//! the start (the posterior of the initial responsibilities), which
//! scikit-learn does not record. The E-step's `log_likelihood` is the data
//! term `Σᵢ ln Σₖ ρᵢₖ` (scikit-learn's `score_samples` summed): it adds up
//! over parts of the data, but the loop does not monitor it.
//!
//! # No acceleration
//! [`EmModel::flat_parameters`] is `None`, so accelerated fits run plain
//! steps ([`em_core::Acceleration::Squarem`] falls back to EM, and the
//! parameter-change stopping rule is refused). SQUAREM extrapolates the
//! parameters and keeps the extrapolation when the objective does not fall;
//! here the objective of a state is the bound in its simplified form,
//! which holds only for a posterior that is the exact update of some
//! responsibilities. An extrapolated `(α, β, m, ν, W)` is not, so its
//! "bound" would not be the bound and the safeguard would compare
//! meaningless numbers.

use em_core::{EStep, EmModel, NoDiagnostics};
use faer::MatRef;
use rand::Rng;

use super::estep::VariationalStats;
use super::init::VariationalInit;
use super::posterior::VariationalMixture;
use crate::MixtureError;
use crate::mstep::expected_log_likelihood;

impl EmModel for VariationalMixture {
    /// The observations, one row each (n x d).
    type Data<'a> = MatRef<'a, f64>;
    type Stats = VariationalStats;
    type Options = ();
    type InitConfig = VariationalInit;
    type Diagnostics = NoDiagnostics;
    type Error = MixtureError;

    /// The responsibilities' statistics and entropy (see
    /// [`super::estep`]); `log_likelihood` is `Σᵢ ln Σₖ ρᵢₖ`.
    ///
    /// # Errors
    /// As the mixture's E-step ([`crate::GaussianMixture`]'s
    /// [`EmModel::e_step`]): empty data, wrong number of columns, a
    /// non-finite value (row and column), a row of zero density.
    fn e_step(&self, x: MatRef<'_, f64>) -> Result<EStep<VariationalStats>, MixtureError> {
        let expected = self.expected_mixture();
        let e = expected.e_step(x)?;
        let entropy = e.log_likelihood - expected_log_likelihood(expected, &e.stats);
        Ok(EStep {
            log_likelihood: e.log_likelihood + x.nrows() as f64 * self.log_weight_normaliser(),
            stats: VariationalStats {
                mixture: e.stats,
                entropy,
            },
        })
    }

    /// `Σᵢ ln Σₖ ρᵢₖ` without the statistics, bit for bit the E-step's.
    ///
    /// # Errors
    /// As [`EmModel::e_step`].
    fn log_likelihood(&self, x: MatRef<'_, f64>) -> Result<f64, MixtureError> {
        Ok(self.expected_mixture().log_likelihood(x)? + x.nrows() as f64 * self.log_weight_normaliser())
    }

    /// The posterior of the statistics ([`VariationalMixture::from_statistics`]).
    ///
    /// # Errors
    /// As [`VariationalMixture::from_statistics`].
    fn m_step(&self, stats: &VariationalStats, (): &()) -> Result<(Self, NoDiagnostics), MixtureError> {
        let next = Self::from_statistics(self.shared_config().clone(), &stats.mixture, stats.entropy)?;
        Ok((next, NoDiagnostics))
    }

    /// See [`VariationalInit`].
    ///
    /// # Errors
    /// [`MixtureError::NoComponents`], [`MixtureError::EmptyData`],
    /// [`MixtureError::NoFeatures`], [`MixtureError::TooFewSamples`],
    /// [`MixtureError::NonFiniteData`], an invalid prior
    /// ([`MixtureError::InvalidVariationalPrior`],
    /// [`MixtureError::DimensionMismatch`]) or `reg_covar`
    /// ([`MixtureError::InvalidOption`]), responsibilities of the wrong
    /// shape or with an invalid value ([`MixtureError::InvalidResponsibility`]).
    fn init_from_data<R: Rng + ?Sized>(
        x: MatRef<'_, f64>,
        config: &VariationalInit,
        rng: &mut R,
    ) -> Result<Self, MixtureError> {
        config.start(x, rng)
    }

    /// The stored bound ([`VariationalMixture::lower_bound`]); the E-step's
    /// data term is not part of it.
    fn lower_bound(&self, _: f64, (): &()) -> Result<Option<f64>, MixtureError> {
        Ok(Some(VariationalMixture::lower_bound(self)))
    }
}
