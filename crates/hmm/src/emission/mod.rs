//! Emission distributions behind one trait, so the recursions are written once.
//!
//! An emission gives, for every observation `x_t` and state `j`, the
//! log-density `ln b_j(x_t)` ([`Emission::log_likelihoods_into`]); accumulates its
//! sufficient statistics from the state posteriors `γ_t(j)`
//! ([`Emission::accumulate`]); and maximises them ([`Emission::m_step`]).
//!
//! The emissions are in `categorical.rs`, `gaussian.rs` (one Gaussian per
//! state, on the `mixture` crate), `gmm.rs` (one Gaussian mixture per state)
//! and `poisson.rs`; `normal.rs` holds the Gaussian M-step and its prior,
//! `kmeans.rs` the k-means of the initialisations; this file holds the
//! trait and the checks they share.

pub(crate) mod categorical;
pub(crate) mod gaussian;
pub(crate) mod gmm;
pub(crate) mod kmeans;
pub(crate) mod normal;
pub(crate) mod poisson;

use faer::{Mat, MatMut, MatRef};
use rand::Rng;

use crate::error::HmmError;
use crate::model::options::MStepOptions;
use crate::param::StepDiagnostics;
use crate::sequences::Sequences;

/// Sufficient statistics that can be merged (added) across sequences or chunks.
pub trait MergeStats {
    /// `self += other`. Both must come from the same model.
    fn merge(&mut self, other: &Self);
}

/// An emission distribution for K hidden states.
pub trait Emission: Clone + PartialEq + Send + Sync + std::fmt::Debug + Sized {
    /// Sufficient statistics of the E-step (mergeable).
    type Stats: MergeStats + Clone + Send + Sync + std::fmt::Debug;
    /// Configuration of [`Emission::init_from_data`] (shared by the restarts
    /// of a fit, so `Send + Sync`).
    type InitConfig: Clone + std::fmt::Debug + Send + Sync;

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

    /// `out[(t, j)] = ln b_j(x_t)` for the rows of `x` (n x d), written into
    /// a caller's n x K matrix, so that the passes over the data reuse one
    /// buffer per worker instead of allocating (and zeroing) one per chunk.
    /// Every entry is written; on error the content of `out` is unspecified.
    ///
    /// # Errors
    /// Errors of the underlying densities.
    fn log_likelihoods_into(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>) -> Result<(), HmmError>;

    /// `ln b_j(x_t)` for the rows of `x` (n x d), as a new n x K matrix
    /// ([`Emission::log_likelihoods_into`]).
    ///
    /// # Errors
    /// As [`Emission::log_likelihoods_into`].
    fn log_likelihoods(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, HmmError> {
        let mut out = Mat::zeros(x.nrows(), self.n_states());
        self.log_likelihoods_into(x, out.as_mut())?;
        Ok(out)
    }

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
    ) -> Result<(Self, StepDiagnostics), HmmError>;

    /// `ln p` of the emission's parameters up to a constant, under the
    /// priors of `options` on the blocks `options.learn` learns: the term
    /// the emission's MAP M-step adds to EM's objective
    /// ([`em_core::EmModel::log_prior`] of the HMM). `None` when no such
    /// prior is set. Default: `None` (an emission without priors).
    ///
    /// # Errors
    /// Priors of another shape or with invalid values, as [`Emission::m_step`].
    fn log_prior(&self, options: &MStepOptions) -> Result<Option<f64>, HmmError> {
        let _ = options;
        Ok(None)
    }

    /// Number of free parameters.
    fn n_parameters(&self) -> usize;

    /// The emission's blocks that `options.learn` learns, as one flat vector
    /// in a fixed order (natural parameters, structural zeros left out), for
    /// [`em_core::EmModel::flat_parameters`] of the HMM; the layouts of the
    /// crate's emissions are in [`crate::flat`]. An empty vector when no
    /// block of the emission is learned. Default: `None`, no flat view (an
    /// accelerated fit of the HMM then runs plain EM).
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        let _ = options;
        None
    }

    /// `self` with the learned blocks replaced by `flat` (the layout of
    /// [`Emission::flat_parameters`], exactly that many values) and the other
    /// parameters kept, rebuilt by the emission's validating constructor;
    /// `None` for a wrong length, a non-finite value or invalid parameters.
    /// Must never panic. Default: `None`.
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        let _ = (flat, options);
        None
    }

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

/// The checks every [`Emission::init_from_data`] makes around its own
/// recipe `build`: at least one state; the emission built (from given
/// parameters or from the data) has `n_states` states (`given` names the
/// given parameter whose rows are the states); the data fits it
/// ([`Emission::check_data`]).
///
/// # Errors
/// [`HmmError::NoStates`], the errors of `build`,
/// [`HmmError::DimensionMismatch`], the errors of [`Emission::check_data`].
pub(crate) fn init_checked<E: Emission>(
    data: &Sequences<'_>,
    n_states: usize,
    given: &'static str,
    build: impl FnOnce() -> Result<E, HmmError>,
) -> Result<E, HmmError> {
    if n_states == 0 {
        return Err(HmmError::NoStates);
    }
    let emission = build()?;
    if emission.n_states() != n_states {
        return Err(HmmError::DimensionMismatch {
            what: given,
            expected: n_states,
            found: emission.n_states(),
        });
    }
    emission.check_data(data)?;
    Ok(emission)
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
