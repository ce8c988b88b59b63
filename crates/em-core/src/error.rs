//! The errors of the loop: settings that cannot be used, and fits whose
//! every restart failed (with the model's own error inside, typed).
//!
//! Not converging is *not* an error: it is a [`crate::Termination`] in the
//! report of a successful fit.

use std::fmt;

/// A setting out of its valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid setting `{setting}`: {value} ({requirement})")]
#[non_exhaustive]
pub struct SettingsError {
    /// The setting's name, as in [`crate::SettingsBuilder`].
    pub setting: &'static str,
    /// The rejected value (integers are converted to f64).
    pub value: f64,
    /// What the value must satisfy.
    pub requirement: &'static str,
}

/// Which of the two steps of an EM iteration failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The E-step (log-likelihood and sufficient statistics of the current
    /// parameters).
    EStep,
    /// The M-step (new parameters from the statistics).
    MStep,
    /// The log prior of the current parameters ([`crate::EmModel::log_prior`]).
    LogPrior,
    /// The lower bound of a variational model ([`crate::EmModel::lower_bound`]).
    LowerBound,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EStep => "E-step",
            Self::MStep => "M-step",
            Self::LogPrior => "log prior",
            Self::LowerBound => "lower bound",
        })
    }
}

/// Why a fit (or one restart of it) failed; `E` is the model's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FitError<E> {
    /// A warm start (given parameters) combined with several restarts: every
    /// restart would run the identical fit.
    #[error("a warm start runs exactly one fit, but {restarts} restarts were requested")]
    WarmStartWithRestarts {
        /// The number of restarts requested.
        restarts: usize,
    },
    /// The initialisation of a restart from data failed.
    #[error("initialisation of restart {restart} (seed {seed:#018x}) failed: {source}")]
    Init {
        /// Index of the restart.
        restart: usize,
        /// The seed of that restart.
        seed: u64,
        /// What the model reported.
        source: E,
    },
    /// An E-step or M-step failed.
    #[error("{step} of iteration {iteration} (restart {restart}) failed: {source}")]
    Step {
        /// Index of the restart.
        restart: usize,
        /// The iteration (number of M-steps done before the failing step).
        iteration: usize,
        /// Which step failed.
        step: Step,
        /// What the model reported.
        source: E,
    },
    /// An E-step failed in one part of the data ([`crate::Parts`], the part
    /// of this process for [`crate::Ranks`]): the model's error names rows and
    /// sequences counted within that part (see [`crate::Parts`] for the
    /// global index).
    #[error("{step} of iteration {iteration} (restart {restart}) failed in part {part}: {source}")]
    Part {
        /// Index of the restart.
        restart: usize,
        /// The iteration (number of M-steps done before the failing step).
        iteration: usize,
        /// Which step failed.
        step: Step,
        /// Index of the part (in the executor's order).
        part: usize,
        /// What the model reported for that part.
        source: E,
    },
    /// An E-step failed in a part of the data that another process
    /// evaluated ([`crate::Ranks`]): that process's model error, as text
    /// (the same text [`FitError::Part`] shows on that process).
    #[error("{step} of iteration {iteration} (restart {restart}) failed in part {part}: {message}")]
    RemotePart {
        /// Index of the restart.
        restart: usize,
        /// The iteration (number of M-steps done before the failing step).
        iteration: usize,
        /// Which step failed.
        step: Step,
        /// Index of the part (the other process's rank).
        part: usize,
        /// What the model reported there.
        message: String,
    },
    /// [`crate::Start::FromData`] with an executor that cannot initialise
    /// a model from its data ([`crate::Executor::init_from_data`] is
    /// `None`, e.g. [`crate::Parts`]): give a warm start.
    #[error("restart {restart}: this executor cannot initialise a model from the data; give a warm start")]
    NoInitialisation {
        /// Index of the restart.
        restart: usize,
    },
    /// The stopping rule [`crate::Convergence::ParameterChange`] was asked of
    /// a model without flat parameters ([`crate::EmModel::flat_parameters`]).
    #[error(
        "the parameter-change stopping rule needs the model's flat parameters, which it does not provide (restart {restart})"
    )]
    NoFlatParameters {
        /// Index of the restart.
        restart: usize,
    },
    /// The E-step returned a log-likelihood that is NaN or infinite (the
    /// data have zero density under the parameters, or the numerics broke).
    #[error(
        "non-finite log-likelihood {value} at iteration {iteration} (restart {restart}): the data are impossible under the parameters or the numerics failed"
    )]
    NonFiniteLogLikelihood {
        /// Index of the restart.
        restart: usize,
        /// The iteration (number of M-steps done).
        iteration: usize,
        /// The value returned.
        value: f64,
    },
    /// The model's log prior ([`crate::EmModel::log_prior`]) of parameters
    /// with a finite log-likelihood is NaN or infinite: the parameters are
    /// impossible under the prior (e.g. a Poisson rate of 0 where a Gamma
    /// prior puts no mass), or the numerics broke.
    #[error(
        "non-finite log prior {value} at iteration {iteration} (restart {restart}): the parameters are impossible under the prior or the numerics failed"
    )]
    NonFiniteLogPrior {
        /// Index of the restart.
        restart: usize,
        /// The iteration (number of M-steps done).
        iteration: usize,
        /// The value returned.
        value: f64,
    },
}
