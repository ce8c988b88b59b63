//! Hidden Markov models for emfit: Gaussian (full, diagonal, spherical, tied),
//! Gaussian-mixture, categorical and Poisson emissions, over many sequences of
//! different lengths.
//!
//! - [`Sequences`]: the observations (stacked rows plus lengths), validated.
//! - [`Emission`]: the one trait behind which every emission lives, so the
//!   scaled forward-backward and Viterbi recursions are written once
//!   (`inference` module docs give the maths).
//! - [`Hmm`]: start probabilities, transition matrix and an emission;
//!   [`Hmm::e_step`] (parallel over sequences, fixed reduction order) and
//!   [`Hmm::m_step`] are one Baum-Welch iteration, with learn-flags and
//!   optional Dirichlet priors ([`MStepOptions`]). The iteration loop and
//!   convergence policy live in `em-driver`; tests and examples drive a plain loop.
//! - Inference: [`Hmm::score`], [`Hmm::forward_backward`], [`Hmm::predict_proba`], [`Hmm::decode`]
//!   (Viterbi with path log-probability), [`Hmm::predict`],
//!   [`Hmm::predict_posterior`], [`Hmm::sample`], [`Hmm::bic`], [`Hmm::aic`].
//! - [`match_labels`]: accuracy up to relabelling of the states.
//! - [`scenario`]: scenario 1 (the GMM-HMM) of the project.
//!
//! # Numerics
//! - Forward-backward is Rabiner's scaled recursion on emission likelihoods
//!   shifted per time step (`e_t(j) = exp(ln b_j(x_t) − max_i ln b_i(x_t))`),
//!   so the largest scaled emission of every step is exactly 1: no underflow
//!   for long sequences or tiny densities. A step whose scale factor still
//!   underflows (structural zeros plus an outlier) is redone with the shift
//!   over the reachable states only; a sequence no path can produce is
//!   [`HmmError::ZeroLikelihood`] (or `−∞` from [`Hmm::score`]), never NaN.
//! - Viterbi runs in log space (`ln 0 = −∞` for structural zeros); ties go to
//!   the lowest state index.
//! - Zeros of the start probabilities, transition matrix and categorical
//!   emission matrix are structural: EM and the MAP updates keep them zero.
//! - The E-step runs over fixed chunks of whole sequences ([`Sequences::chunks`])
//!   in parallel and merges them in chunk order: results are bit-identical
//!   for any number of threads.
//! - Emission log-densities and M-step statistics of Gaussian and GMM
//!   emissions come from the `mixture` crate (its kernels and its exact,
//!   centred statistics); exponentials from `linalg_kernels::fastexp`.
//!
//! # Speed
//! The recursions are specialised for K = 1..=8 states and compiled for
//! AVX-512, AVX2 and the baseline target, selected at run time (the only
//! `unsafe` in the crate: calling the `#[target_feature]` variants after the
//! features were detected). Every variant performs the same floating-point
//! operations in the same order, so the recursions give the same bits on
//! every CPU (the `mixture` crate documents its own density kernels).

mod emission;
mod error;
mod inference;
mod labels;
mod model;
mod probability;
pub mod scenario;
mod sequences;
mod simd;

pub use emission::{
    CategoricalEmission, CategoricalInit, CategoricalStats, Emission, EmissionDiagnostics, GaussianEmission,
    GaussianInit, GaussianStats, GmmEmission, GmmInit, GmmStats, MAX_SYMBOLS, MergeStats, PoissonEmission,
    PoissonInit, PoissonStats,
};
pub use error::{HmmError, Table};
pub use labels::{LabelMatch, MAX_BRUTE_FORCE_LABELS, match_labels};
pub use model::{
    Decoding, EStep, ForwardBackward, Hmm, HmmInit, HmmStats, Learn, MStepOptions, StepDiagnostics,
};
pub use probability::ROW_SUM_TOLERANCE;
pub use sequences::{CHUNK_ROWS, Chunk, Sequences};

/// A hidden Markov model with Gaussian emissions (one Gaussian per state).
pub type GaussianHmm = Hmm<GaussianEmission>;
/// A hidden Markov model with Gaussian-mixture emissions (scenario 1).
pub type GmmHmm = Hmm<GmmEmission>;
/// A hidden Markov model with categorical emissions.
pub type CategoricalHmm = Hmm<CategoricalEmission>;
/// A hidden Markov model with Poisson emissions (independent counts per feature).
pub type PoissonHmm = Hmm<PoissonEmission>;
