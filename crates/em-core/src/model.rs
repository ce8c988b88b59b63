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

/// What the loop monitors ([`crate::FitReport::objective`]): the quantity
/// EM's M-step never lowers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Objective {
    /// The log-likelihood `ℓ(θ) = ln p(data | θ)`: a model without priors
    /// ([`EmModel::log_prior`] is `None`).
    LogLikelihood,
    /// The log posterior `ℓ(θ) + ln p(θ)`, up to a constant that does not
    /// depend on θ: a model whose M-step is a MAP step.
    LogPosterior,
    /// The evidence lower bound of a variational model, up to a constant
    /// ([`EmModel::lower_bound`]): its coordinate ascent never lowers it.
    LowerBound,
}

impl Objective {
    /// `ℓ + ln p` with the log prior `log_prior` (`None`: `ℓ` exactly), and
    /// which objective that is.
    pub(crate) fn of(log_likelihood: f64, log_prior: Option<f64>) -> (Self, f64) {
        match log_prior {
            Some(p) => (Self::LogPosterior, log_likelihood + p),
            None => (Self::LogLikelihood, log_likelihood),
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LogLikelihood => "log-likelihood",
            Self::LogPosterior => "log posterior",
            Self::LowerBound => "lower bound",
        })
    }
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
/// The model owns the maths of one step; the loop ([`crate::fit()`]) owns the
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
/// An M-step that maximises the expected complete-data log-likelihood plus a
/// log prior `ln p(θ)` (a MAP step) guarantees instead that the log
/// posterior `ℓ(θ) + ln p(θ)` never falls, while `ℓ` alone may: such a model
/// says so through [`EmModel::log_prior`], and the loop then monitors the
/// log posterior ([`Objective`]).
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

    /// `ℓ = ln p(data | θ)` alone: the loop's evaluation of a point after
    /// which no M-step follows (the last point at the iteration cap), so no
    /// statistics are needed. It must equal [`EmModel::e_step`]'s
    /// log-likelihood bit for bit (the same sums in the same order), so that
    /// a history does not depend on where the cap cut it. Default: the
    /// E-step's; models override it with a pass that skips the statistics
    /// (a forward pass for an HMM, the filter for a state-space model).
    ///
    /// # Errors
    /// As [`EmModel::e_step`].
    fn log_likelihood(&self, data: Self::Data<'_>) -> Result<f64, Self::Error> {
        self.e_step(data).map(|e| e.log_likelihood)
    }

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

    /// `ln p(θ)` of the current parameters, up to a constant, for the prior
    /// the M-step maximises under `options`, or `None` when the M-step is
    /// maximum likelihood (no prior set). With a prior the loop monitors
    /// the log posterior `ℓ(θ) + ln p(θ)` ([`Objective::LogPosterior`]):
    /// convergence, falls, SQUAREM's safeguard and the report's history are
    /// of it, since that is what a MAP step never lowers. The constant must
    /// not depend on θ (only differences of the objective matter). Default:
    /// `None`, the loop monitors `ℓ` exactly.
    ///
    /// # Errors
    /// Priors of another shape than the model, or invalid prior values (the
    /// errors the M-step would return).
    fn log_prior(&self, options: &Self::Options) -> Result<Option<f64>, Self::Error> {
        let _ = options;
        Ok(None)
    }

    /// The evidence lower bound of a variational model, up to a constant
    /// that does not depend on the variational parameters, or `None` for a
    /// model fitted by EM proper. A variational model's state (its
    /// "parameters") is the variational distribution itself; its bound is
    /// either stored with the state, computed when the M-step built it
    /// (from the statistics of the E-step before; the variational mixture),
    /// or formed from `log_likelihood`, the data term of the E-step of this
    /// very state (the variational HMM: `ln Z` of the forward pass with the
    /// expected-log parameters, minus the divergence of the state from the
    /// prior). When `Some`, the loop monitors it instead of `ℓ` and
    /// [`EmModel::log_prior`] ([`Objective::LowerBound`]): convergence,
    /// falls and the report's history are of it. Default: `None`.
    ///
    /// # Errors
    /// The model's own (none for a bound stored with the state).
    fn lower_bound(&self, log_likelihood: f64, options: &Self::Options) -> Result<Option<f64>, Self::Error> {
        let _ = (log_likelihood, options);
        Ok(None)
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
