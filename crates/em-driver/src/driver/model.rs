//! The one trait every model implements so the driver can fit it.

use std::fmt;

use rand::Rng;

use crate::error::ModelError;

/// What an E-step returns: the log-likelihood of the parameters the E-step
/// was run with, and the sufficient statistics for the next M-step.
#[derive(Debug, Clone)]
pub struct EStepOutput<S> {
    /// `ln p(data | θ)` summed over all observations (all sequences), for
    /// the *current* parameters θ.
    pub log_likelihood: f64,
    /// The expected sufficient statistics under `p(latent | data, θ)`.
    pub stats: S,
}

/// What an M-step reports besides the new parameters: floors applied,
/// components or states re-seeded, ...
///
/// The driver keeps a diagnostics value in the report only when
/// [`Diagnostics::is_empty`] is false.
pub trait Diagnostics: fmt::Debug + fmt::Display + Clone + Default + Send + Sync {
    /// True when there is nothing to report.
    fn is_empty(&self) -> bool;

    /// True when the step deliberately left exact EM in a way that may
    /// lower the log-likelihood (e.g. a collapsed component re-seeded on a
    /// badly explained point). A fall right after such a step is recorded
    /// as expected ([`crate::Fall::expected`]) and does not stop the fit
    /// under [`crate::OnFall::StopKeepBest`]. Default: false.
    fn expects_fall(&self) -> bool {
        false
    }
}

/// Diagnostics of a model whose M-step never has anything to report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoDiagnostics;

impl fmt::Display for NoDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing to report")
    }
}

impl Diagnostics for NoDiagnostics {
    fn is_empty(&self) -> bool {
        true
    }
}

/// A model that can be fitted by EM: one E-step and one M-step, nothing else.
///
/// The model owns the maths of one step; the driver ([`crate::fit`]) owns the
/// iteration policy (convergence, restarts, time budget, observers). One EM
/// iteration is
///
/// ```text
/// (ℓ(θₖ), S) = e_step(θₖ, data)        ℓ = ln p(data | θₖ)
/// θₖ₊₁       = m_step(θₖ, S, options)  (a NEW model; θₖ is untouched)
/// ```
///
/// and EM guarantees `ℓ(θₖ₊₁) ≥ ℓ(θₖ)` for exact steps (floors and re-seeding
/// reported in the diagnostics may break it; the driver records every fall).
///
/// Implemented in [`crate::models`] for every model of the emfit model crates;
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
    type Error: Into<ModelError>;

    /// The log-likelihood of the current parameters and the statistics for
    /// the next M-step.
    ///
    /// # Errors
    /// Invalid data (shape, non-finite values) or a numerical failure.
    fn e_step(&self, data: Self::Data<'_>) -> Result<EStepOutput<Self::Stats>, Self::Error>;

    /// New parameters from the statistics of an E-step of `self`, plus what
    /// the step had to do (floors, re-seeding). Never modifies `self`.
    ///
    /// # Errors
    /// An unrecoverable numerical failure (e.g. a covariance that cannot be
    /// floored into an SPD matrix).
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
}
