//! Emission distributions behind one trait, so the recursions are written once.
//!
//! An emission gives, for every observation `x_t` and state `j`, the
//! log-density `ln b_j(x_t)` ([`Emission::log_likelihoods`]); accumulates its
//! sufficient statistics from the state posteriors `γ_t(j)`
//! ([`Emission::accumulate`]); and maximises them ([`Emission::m_step`]).

use crate::{HmmError, MStepOptions, Sequences};
use faer::{Mat, MatRef};
use rand::Rng;

mod categorical;
mod gaussian;
mod gmm;
mod poisson;

pub use categorical::{CategoricalEmission, CategoricalInit, CategoricalStats, MAX_SYMBOLS};
pub use gaussian::{GaussianEmission, GaussianInit, GaussianStats};
pub use gmm::{GmmEmission, GmmInit, GmmStats};
pub use poisson::{PoissonEmission, PoissonInit, PoissonStats};

/// Sufficient statistics that can be merged (added) across sequences or chunks.
pub trait MergeStats {
    /// `self += other`. Both must come from the same model.
    fn merge(&mut self, other: &Self);
}

/// An emission distribution for K hidden states.
pub trait Emission: Clone + Send + Sync + std::fmt::Debug + Sized {
    /// Sufficient statistics of the E-step (mergeable).
    type Stats: MergeStats + Clone + Send + Sync + std::fmt::Debug;
    /// Configuration of [`Emission::init_from_data`].
    type InitConfig: Clone + std::fmt::Debug;

    /// Number of hidden states K.
    fn n_states(&self) -> usize;

    /// Number of columns d the observations must have.
    fn n_features(&self) -> usize;

    /// Checks data beyond the checks of [`Sequences::new`] (number of
    /// columns, symbol ranges, ...).
    ///
    /// # Errors
    /// [`HmmError::DimensionMismatch`], [`HmmError::SymbolOutOfRange`].
    fn check_data(&self, data: &Sequences<'_>) -> Result<(), HmmError>;

    /// `out[(t, j)] = ln b_j(x_t)` for the rows of `x` (n x d), as an n x K matrix.
    ///
    /// # Errors
    /// Errors of the underlying densities.
    fn log_likelihoods(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, HmmError>;

    /// Statistics of nothing (the identity of [`MergeStats::merge`]).
    fn zero_stats(&self) -> Self::Stats;

    /// Adds the statistics of the rows of `x` weighted by the posteriors
    /// `gamma` (n x K, `gamma[(t, j)] = p(z_t = j | x)`).
    ///
    /// # Errors
    /// Errors of the underlying accumulators.
    fn accumulate(
        &self,
        x: MatRef<'_, f64>,
        gamma: MatRef<'_, f64>,
        stats: &mut Self::Stats,
    ) -> Result<(), HmmError>;

    /// Returns the emission maximising the expected complete-data
    /// log-likelihood for `stats` (only the parameters `options.learn` asks for).
    /// A state (or component) without posterior mass keeps its parameters and
    /// is reported in the diagnostics.
    ///
    /// # Errors
    /// Statistics of another shape, invalid options or priors, numerical failures.
    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &MStepOptions,
    ) -> Result<(Self, EmissionDiagnostics), HmmError>;

    /// Number of free parameters.
    fn n_parameters(&self) -> usize;

    /// Draws one observation per entry of `states` (row t from state `states[t]`),
    /// as a `states.len()` x d matrix.
    ///
    /// # Errors
    /// A state index out of range ([`HmmError::DimensionMismatch`]).
    fn sample<R: Rng + ?Sized>(&self, states: &[usize], rng: &mut R) -> Result<Mat<f64>, HmmError>;

    /// Initialises an emission for `n_states` states from the stacked observations.
    ///
    /// # Errors
    /// Too few distinct points, bad configuration.
    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError>;
}

/// What an emission M-step had to do beyond the plain update.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EmissionDiagnostics {
    /// States whose emission parameters were kept: no posterior mass, or all
    /// of it on a single point (Gaussian emissions; mixture's collapse rule).
    pub states_kept: Vec<usize>,
    /// `(state, component)` mixture components kept for the same reason (GMM emissions).
    pub components_kept: Vec<(usize, usize)>,
    /// `(state, component)` whose new covariance did not factor and was kept
    /// (possible only with `reg_covar = 0`; component 0 for Gaussian emissions).
    pub degenerate_covariances: Vec<(usize, usize)>,
    /// A tied covariance did not factor and was kept.
    pub tied_degenerate: bool,
    /// `(state, component)` mixture weights raised to `mixture::WEIGHT_FLOOR`.
    pub weights_floored: Vec<(usize, usize)>,
    /// The covariance floor (`reg_covar`) lowered the expected complete-data
    /// log-likelihood by more than rounding: this step may lower the likelihood.
    pub objective_decreased: bool,
    /// Change of the emission part of EM's objective `Q` (a lower bound on its
    /// contribution to the log-likelihood gain); 0 for categorical emissions.
    pub objective_change: f64,
}

impl EmissionDiagnostics {
    /// True when nothing beyond the plain update happened.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.states_kept.is_empty()
            && self.components_kept.is_empty()
            && self.degenerate_covariances.is_empty()
            && !self.tied_degenerate
            && self.weights_floored.is_empty()
            && !self.objective_decreased
    }
}

impl std::fmt::Display for EmissionDiagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.states_kept.is_empty() {
            parts.push(format!(
                "emissions kept for states without mass {:?}",
                self.states_kept
            ));
        }
        if !self.components_kept.is_empty() {
            parts.push(format!(
                "mixture components kept without mass (state, component) {:?}",
                self.components_kept
            ));
        }
        if !self.degenerate_covariances.is_empty() {
            parts.push(format!(
                "degenerate covariances kept (state, component) {:?}",
                self.degenerate_covariances
            ));
        }
        if self.tied_degenerate {
            parts.push("degenerate tied covariance kept".to_string());
        }
        if !self.weights_floored.is_empty() {
            parts.push(format!(
                "mixture weights floored (state, component) {:?}",
                self.weights_floored
            ));
        }
        if self.objective_decreased {
            parts.push(format!(
                "covariance floor lowered the objective by {:.3e}",
                -self.objective_change
            ));
        }
        if parts.is_empty() {
            f.write_str("emission update clean")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// Checks that the data has the number of columns an emission needs.
pub(crate) fn check_columns(data: &Sequences<'_>, expected: usize) -> Result<(), HmmError> {
    if data.n_features() == expected {
        Ok(())
    } else {
        Err(HmmError::DimensionMismatch {
            what: "observation columns",
            expected,
            found: data.n_features(),
        })
    }
}

/// Checks that every entry of `states` is below `k`.
pub(crate) fn check_states(states: &[usize], k: usize) -> Result<(), HmmError> {
    match states.iter().find(|&&s| s >= k) {
        Some(&s) => Err(HmmError::DimensionMismatch {
            what: "state index bound",
            expected: k,
            found: s,
        }),
        None => Ok(()),
    }
}
