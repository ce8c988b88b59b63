//! Hidden Markov models for emfit: Gaussian (full, diagonal, spherical, tied),
//! Gaussian-mixture, categorical and Poisson emissions, over many sequences of
//! different lengths.
//!
//! A program that needs HMMs depends on this crate alone: [`Hmm`] implements
//! [`EmModel`] (one Baum-Welch E-step and M-step, and the initialisation from
//! data), and the EM loop of `em-core` is re-exported here ([`fit`],
//! [`fit_observed`], [`Settings`], [`Start`], [`FitReport`], ...), with
//! restarts, convergence report and fall handling.
//!
//! - [`Sequences`]: the observations (stacked rows plus lengths), validated.
//! - [`Emission`]: the one trait behind which every emission lives, so the
//!   scaled forward-backward and Viterbi recursions are written once.
//! - [`Hmm`]: start probabilities, transition matrix and an emission. Through
//!   [`EmModel`]: `e_step` (parallel over sequences, fixed reduction order),
//!   `m_step` (which blocks it learns: [`LearnSet`] of [`Param`]; optional
//!   Dirichlet, [`NormalPrior`] and [`GammaPrior`] priors: [`MStepOptions`];
//!   what it had to do: [`StepDiagnostics`]), `log_prior` (with priors the
//!   loop monitors the log posterior), `init_from_data` ([`InitConfig`]),
//!   `em_iteration`, and the learned parameters as one flat vector for
//!   accelerated EM and the parameter-change rule ([`flat`]).
//! - Inference: [`Hmm::score`], [`Hmm::forward_backward`],
//!   [`Hmm::predict_proba`], [`Hmm::decode`] (Viterbi with path
//!   log-probability), [`Hmm::predict`], [`Hmm::predict_posterior`],
//!   [`Hmm::bic`], [`Hmm::aic`]; sampling: [`Hmm::sample`],
//!   [`Hmm::sample_sequences`].
//! - [`match_labels`]: accuracy up to relabelling of the states.
//! - [`scenario`]: the crate's worked example, a 2-state HMM with 2-component
//!   Gaussian-mixture emissions, its sampler and the fit's settings.
//!
//! # Example
//! Fit a fresh 2-state, 2-component GMM-HMM to the scenario's 50 sequences
//! (initialised from the data by nested k-means; at most 100 iterations, the
//! default [`Settings`]) and decode them:
//!
//! ```
//! use hmm::{GmmHmm, Settings, Start, fit, match_labels, scenario};
//!
//! let train = scenario::sample(42); // 1000 observations in 50 sequences
//! let data = train.sequences()?;
//! let start = Start::FromData(scenario::init_config());
//! let fitted = fit::<GmmHmm>(&data, start, &scenario::m_step_options(), &Settings::default())?;
//! let report = &fitted.report;
//! assert!(report.falls.is_empty() && report.log_likelihood > report.history[0] + 100.0);
//! let path = fitted.model.predict(&data)?; // Viterbi
//! assert!(match_labels(&path, &train.states, 2).unwrap().accuracy > 0.95);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Numerics
//! - Forward-backward is Rabiner's scaled recursion on emission likelihoods
//!   shifted per time step (`e_t(j) = exp(ln b_j(x_t) − max_i ln b_i(x_t))`),
//!   so the largest scaled emission of every step is exactly 1: no underflow
//!   for long sequences or tiny densities. A step whose scale factor still
//!   underflows (structural zeros plus an outlier) is redone with the shift
//!   over the reachable states only; a sequence no path can produce is
//!   [`HmmError::ZeroLikelihood`] naming the sequence and the time step
//!   (from [`Hmm::score`] too), never `−∞` or NaN.
//! - Viterbi runs in log space (`ln 0 = −∞` for structural zeros); ties go to
//!   the lowest state index.
//! - Zeros of the start probabilities, transition matrix and categorical
//!   emission matrix are structural: EM and the MAP updates keep them zero.
//! - The E-step runs over fixed chunks of whole sequences ([`Sequences::chunks`])
//!   in parallel and merges them in chunk order: results are bit-identical
//!   for any number of threads.
//! - Emission log-densities and M-step statistics of Gaussian and GMM
//!   emissions come from the `mixture` crate (its kernels and its exact,
//!   centred statistics); exponentials from `linalg_kernels::fastexp`;
//!   `ln x!` of Poisson counts from statrs.
//!
//! # Speed
//! The recursions are specialised for K = 1..=8 states and compiled for
//! AVX-512, AVX2 and the baseline target by the workspace's
//! `linalg_kernels::for_each_isa!`, the variant chosen at run time by
//! `linalg_kernels::isa_dispatch!` (the only `unsafe` in the crate: calling
//! the `#[target_feature]` variants after the features were detected). Every
//! variant performs the same floating-point operations in the same order, so
//! the recursions give the same bits on every CPU (the `mixture` crate
//! documents its own density kernels).

mod em;
mod emission;
mod error;
pub mod flat;
mod inference;
mod labels;
mod model;
mod param;
mod probability;
pub mod scenario;
mod sequences;
pub mod variational;

pub use emission::categorical::{CategoricalEmission, CategoricalInit, CategoricalStats, MAX_SYMBOLS};
pub use emission::gaussian::{DEFAULT_INIT_FLOOR, GaussianEmission, GaussianInit, GaussianStats};
pub use emission::gmm::{GmmEmission, GmmInit, GmmStats};
pub use emission::kmeans::DEFAULT_KMEANS_RUNS;
pub use emission::normal::NormalPrior;
pub use emission::poisson::{GammaPrior, PoissonEmission, PoissonInit, PoissonStats};
pub use emission::{Emission, MergeStats};
pub use error::{HmmError, Table};
pub use labels::{LabelMatch, MAX_BRUTE_FORCE_LABELS, match_labels};
pub use model::Hmm;
pub use model::decoding::{Decoding, ForwardBackward};
pub use model::options::{InitConfig, MStepOptions};
pub use model::stats::{FlatEmissionStats, HmmStats};
pub use param::{LearnSet, Param, StepDiagnostics};
pub use sequences::{CHUNK_ROWS, Chunk, Sequences};

/// A hidden Markov model with Gaussian emissions (one Gaussian per state).
pub type GaussianHmm = Hmm<GaussianEmission>;
/// A hidden Markov model with Gaussian-mixture emissions (scenario 1).
pub type GmmHmm = Hmm<GmmEmission>;
/// A hidden Markov model with categorical emissions.
pub type CategoricalHmm = Hmm<CategoricalEmission>;
/// A hidden Markov model with Poisson emissions (independent counts per feature).
pub type PoissonHmm = Hmm<PoissonEmission>;

pub use em_core::{
    self, Acceleration, Convergence, EStep, EmModel, Fit, FitError, FitReport, Iteration, LogObserver,
    OnFall, Settings, Start, Tolerance, fit, fit_observed,
};
pub use faer;
/// The covariance types of Gaussian and GMM emissions (from the `mixture` crate).
pub use mixture::{CovarianceType, Covariances, DEFAULT_RELATIVE_FLOOR, Floor};
pub use rand;
