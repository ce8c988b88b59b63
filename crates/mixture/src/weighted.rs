//! Weighted fits: EM where row i counts `wᵢ ≥ 0` times, through the same
//! loop of `em-core` as unweighted fits.
//!
//! [`WeightedMixture`] is a [`GaussianMixture`] whose [`EmModel::Data`] is
//! [`WeightedRows`] (the rows and, optionally, their weights). Its E-step is
//! [`GaussianMixture::e_step_weighted`], which returns `Σᵢ wᵢ ln p(xᵢ)` and
//! the statistics of `ρᵢₖ = wᵢ rᵢₖ`; its M-step, flat view and re-seeding
//! are the mixture's own. So the weighted log-likelihood never falls, and
//!
//! - integer weights give the fit of the data with row i repeated `wᵢ`
//!   times (from the same start: every statistic is the same sum);
//! - a zero weight removes the row.
//!
//! # Initialisation from data
//! [`EmModel::init_from_data`] runs the [`InitConfig`]'s method on the rows
//! of positive weight (all rows when no weight is zero), so a zero-weight
//! row is ignored by the start too; the magnitudes of the weights do not
//! enter the start (it is a heuristic; EM weighs every row from the first
//! E-step on).

use em_core::{EStep, EmModel};
use faer::{Mat, MatRef};
use rand::Rng;

use crate::data::check_sample_weights;
use crate::{GaussianMixture, InitConfig, MStepOptions, MixtureError, StepDiagnostics, SufficientStats};

/// Rows (n x d) and optional per-row weights (`None`: every weight is 1),
/// the data of a [`WeightedMixture`] fit.
#[derive(Debug, Clone, Copy)]
pub struct WeightedRows<'a> {
    x: MatRef<'a, f64>,
    weights: Option<&'a [f64]>,
}

impl<'a> WeightedRows<'a> {
    /// The rows `x` with weights `weights` (one per row, finite and ≥ 0, not
    /// all zero), or with unit weights for `None`.
    ///
    /// # Errors
    /// [`MixtureError::DimensionMismatch`] for a wrong number of weights;
    /// [`MixtureError::InvalidSampleWeight`] naming the first negative or
    /// non-finite weight; [`MixtureError::ZeroTotalWeight`] when every
    /// weight is zero.
    pub fn new(x: MatRef<'a, f64>, weights: Option<&'a [f64]>) -> Result<Self, MixtureError> {
        check_sample_weights(weights, x.nrows())?;
        if let Some(w) = weights
            && !w.is_empty()
            && w.iter().all(|&v| v == 0.0)
        {
            return Err(MixtureError::ZeroTotalWeight);
        }
        Ok(Self { x, weights })
    }

    /// The rows.
    #[must_use]
    pub fn rows(&self) -> MatRef<'a, f64> {
        self.x
    }

    /// The weights (`None`: every weight is 1).
    #[must_use]
    pub fn weights(&self) -> Option<&'a [f64]> {
        self.weights
    }

    /// `Σᵢ wᵢ` (n for unit weights).
    #[must_use]
    pub fn total_weight(&self) -> f64 {
        self.weights.map_or(self.x.nrows() as f64, |w| w.iter().sum())
    }
}

/// A [`GaussianMixture`] fitted to [`WeightedRows`] (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedMixture(pub GaussianMixture);

impl EmModel for WeightedMixture {
    type Data<'a> = WeightedRows<'a>;
    type Stats = SufficientStats;
    type Options = MStepOptions;
    type InitConfig = InitConfig;
    type Diagnostics = StepDiagnostics;
    type Error = MixtureError;

    /// [`GaussianMixture::e_step_weighted`] (the unweighted E-step for unit
    /// weights): `Σᵢ wᵢ ln p(xᵢ)` and the statistics of `wᵢ rᵢₖ`.
    ///
    /// # Errors
    /// As [`GaussianMixture::e_step_weighted`].
    fn e_step(&self, data: WeightedRows<'_>) -> Result<EStep<SufficientStats>, MixtureError> {
        self.0.e_step_with(data.x, data.weights)
    }

    /// `Σᵢ wᵢ ln p(xᵢ)` by the E-step's kernel without the statistics, bit
    /// for bit the E-step's.
    ///
    /// # Errors
    /// As [`EmModel::e_step`].
    fn log_likelihood(&self, data: WeightedRows<'_>) -> Result<f64, MixtureError> {
        if data.x.nrows() == 0 {
            return Err(MixtureError::EmptyData);
        }
        self.0.log_likelihood_only(data.x, data.weights)
    }

    /// The mixture's M-step ([`crate::mstep`]).
    ///
    /// # Errors
    /// As the mixture's [`EmModel::m_step`].
    fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), MixtureError> {
        let (model, diagnostics) = self.0.maximise(stats, options)?;
        Ok((Self(model), diagnostics))
    }

    /// The mixture's flat view ([`crate::flat`]).
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        self.0.flat_parameters(options)
    }

    /// The mixture's flat view ([`crate::flat`]).
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        self.0.with_flat_parameters(flat, options).map(Self)
    }

    /// The mixture's initialisation ([`InitConfig`]) on the rows of positive
    /// weight.
    ///
    /// # Errors
    /// As the mixture's [`EmModel::init_from_data`], counting only the rows
    /// of positive weight (e.g. [`MixtureError::TooFewSamples`]).
    fn init_from_data<R: Rng + ?Sized>(
        data: WeightedRows<'_>,
        config: &InitConfig,
        rng: &mut R,
    ) -> Result<Self, MixtureError> {
        let kept: Option<Vec<usize>> = data
            .weights
            .filter(|w| w.contains(&0.0))
            .map(|w| (0..w.len()).filter(|&i| w[i] > 0.0).collect());
        let model = match kept {
            None => GaussianMixture::initialise(data.x, config, rng)?,
            Some(rows) => {
                let x = data.x;
                let subset = Mat::from_fn(rows.len(), x.ncols(), |i, j| x[(rows[i], j)]);
                GaussianMixture::initialise(subset.as_ref(), config, rng)?
            }
        };
        Ok(Self(model))
    }
}
