//! The one trait every model implements so the loop can fit it, and the
//! shapes of what its steps return.

use rand::Rng;

use crate::diagnostics::Diagnostics;

/// What an E-step returns: the log-likelihood of the parameters the E-step
/// was run with, and the sufficient statistics for the next M-step.
#[derive(Debug, Clone, PartialEq)]
pub struct EStep<S> {
    /// `ln p(data | θ)` summed over all observations (all sequences), for
    /// the *current* parameters θ.
    pub log_likelihood: f64,
    /// The expected sufficient statistics under `p(latent | data, θ)`.
    pub stats: S,
}

/// One EM iteration without the loop ([`EmModel::em_iteration`]): the new
/// model, the log-likelihood of the model the iteration started from, and
/// what the M-step reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Iteration<M, D> {
    /// The updated parameters θₖ₊₁.
    pub model: M,
    /// `ln p(data | θₖ)` of the parameters the iteration started from.
    pub log_likelihood: f64,
    /// What the M-step reported.
    pub diagnostics: D,
}

/// A model that can be fitted by EM: one E-step and one M-step, nothing else.
///
/// The model owns the maths of one step; the loop ([`crate::fit`]) owns the
/// iteration policy (convergence, restarts, time budget, observers). One EM
/// iteration is
///
/// ```text
/// (ℓ(θₖ), S) = e_step(θₖ, data)        ℓ = ln p(data | θₖ)
/// θₖ₊₁       = m_step(θₖ, S, options)  (a NEW model; θₖ is untouched)
/// ```
///
/// and EM guarantees `ℓ(θₖ₊₁) ≥ ℓ(θₖ)` for exact steps (floors and re-seeding
/// reported in the diagnostics may break it; the loop records every fall).
///
/// The mixture, HMM and state-space crates implement it for their models;
/// implement it for your own model to get the same loop, restarts and reports.
pub trait EmModel: Sized + Send + Sync {
    /// The data a fit runs on, borrowed for the fit (e.g. `MatRef<'a, f64>`
    /// with one row per observation, or `&'a Sequences`).
    type Data<'a>: Copy + Send + Sync;
    /// The sufficient statistics an E-step hands to the M-step.
    type Stats: Send;
    /// Options of the M-step (regularisation, which parameters are learned,
    /// ...), the same for every iteration of a fit.
    type Options: Sync;
    /// How to initialise a model from data (number of components or states,
    /// covariance type, method, ...), used by [`crate::Start::FromData`].
    type InitConfig: Sync;
    /// What an M-step reports.
    type Diagnostics: Diagnostics;
    /// The model's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The log-likelihood of the current parameters and the statistics for
    /// the next M-step.
    ///
    /// # Errors
    /// Invalid data (shape, non-finite values) or a numerical failure.
    fn e_step(&self, data: Self::Data<'_>) -> Result<EStep<Self::Stats>, Self::Error>;

    /// New parameters from the statistics of an E-step of `self`, plus what
    /// the step had to do (floors, re-seeding). Never modifies `self`.
    ///
    /// # Errors
    /// Invalid options or statistics of another shape, or an unrecoverable
    /// numerical failure (e.g. a covariance that cannot be floored into an
    /// SPD matrix).
    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &Self::Options,
    ) -> Result<(Self, Self::Diagnostics), Self::Error>;

    /// A seeded initial model from data; all randomness comes from `rng`.
    ///
    /// # Errors
    /// Invalid data or configuration (e.g. more components than points).
    fn init_from_data<R: Rng + ?Sized>(
        data: Self::Data<'_>,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, Self::Error>;

    /// The learned parameters as one flat vector, for accelerated EM
    /// ([`crate::Acceleration::Squarem`]) and the parameter-change stopping
    /// rule ([`crate::Convergence::ParameterChange`]).
    ///
    /// Only the blocks `options` learns, and no structural zero (a forbidden
    /// transition stays out); natural parameters (means, covariance entries,
    /// probabilities) or a transformation where it is cheap (a log-variance).
    /// The layout is the model's own, the same for every model of the same
    /// shape and options. Default: `None` (no flat view: accelerated fits of
    /// the model run plain EM).
    fn flat_parameters(&self, options: &Self::Options) -> Option<Vec<f64>> {
        let _ = options;
        None
    }

    /// `self` with its learned parameters replaced by `flat` (the layout of
    /// [`EmModel::flat_parameters`]; the other parameters are kept), or
    /// `None` when `flat` is not a valid model (a covariance that is not
    /// positive definite, a probability vector off the simplex, a non-finite
    /// value, a wrong length). Default: `None`.
    fn with_flat_parameters(&self, flat: &[f64], options: &Self::Options) -> Option<Self> {
        let _ = (flat, options);
        None
    }

    /// One E-step and one M-step, without the loop's policy (for benchmarks
    /// and hand-written loops).
    ///
    /// # Errors
    /// As [`EmModel::e_step`] and [`EmModel::m_step`].
    fn em_iteration(
        &self,
        data: Self::Data<'_>,
        options: &Self::Options,
    ) -> Result<Iteration<Self, Self::Diagnostics>, Self::Error> {
        let e = self.e_step(data)?;
        let (model, diagnostics) = self.m_step(&e.stats, options)?;
        Ok(Iteration {
            model,
            log_likelihood: e.log_likelihood,
            diagnostics,
        })
    }
}
