//! The hidden Markov model: its parameters, validating constructor and
//! accessors. The rest of `Hmm<E>` is split by what it does:
//!
//! - `options`: the M-step options and the initialisation config;
//! - `stats`: the sufficient statistics of the E-step;
//! - `passes`: the parallel passes over fixed chunks of sequences that run
//!   the recursions of the `inference` module;
//! - `baum_welch`: the E-step, the M-step and the initialisation behind the
//!   [`em_core::EmModel`] implementation (in `em.rs`);
//! - `prior`: the log prior of the parameters under the M-step's priors;
//! - `decoding`: scoring, posteriors, Viterbi decoding, information criteria;
//! - `sampling`: drawing sequences from the model.

mod baum_welch;
pub(crate) mod decoding;
pub(crate) mod options;
mod passes;
mod pool;
pub(crate) mod prior;
mod sampling;
pub(crate) mod stats;

use faer::MatRef;

use crate::emission::Emission;
use crate::error::{HmmError, Table};
use crate::inference::Chain;
use crate::probability::{ln_all, validate_row};

/// A hidden Markov model with K states: start probabilities π, transition
/// matrix A (`A_ij = p(z_{t+1} = j | z_t = i)`) and emissions `b_j(x)`.
///
/// ```text
/// p(x_{0:T−1}, z_{0:T−1}) = π_{z_0} b_{z_0}(x_0) Π_{t≥1} A_{z_{t−1} z_t} b_{z_t}(x_t)
/// ```
///
/// Parameters are validated at construction and immutable: an M-step returns
/// a new model. Zeros of π and A are structural: EM keeps them zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Hmm<E> {
    start: Vec<f64>,
    /// Row-major K x K.
    trans: Vec<f64>,
    emission: E,
    log_start: Vec<f64>,
    /// `log_trans[i * K + j] = ln A_ij`.
    log_trans: Vec<f64>,
}

impl<E: Emission> Hmm<E> {
    /// Validating constructor. `transitions` is K x K with K = `emission.n_states()`.
    ///
    /// Rows are checked (finite, non-negative, summing to 1 within
    /// [`linalg_kernels::tolerance::PROBABILITY_SUM`]) and stored as given.
    ///
    /// # Errors
    /// [`HmmError::NoStates`], [`HmmError::DimensionMismatch`],
    /// [`HmmError::InvalidProbability`], [`HmmError::RowSum`].
    pub fn new(start: Vec<f64>, transitions: MatRef<'_, f64>, emission: E) -> Result<Self, HmmError> {
        let k = emission.n_states();
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        for (what, found) in [
            ("start probabilities", start.len()),
            ("transition rows", transitions.nrows()),
            ("transition columns", transitions.ncols()),
        ] {
            if found != k {
                return Err(HmmError::DimensionMismatch {
                    what,
                    expected: k,
                    found,
                });
            }
        }
        let start = validate_row(&start, Table::Start, 0)?;
        let mut trans = Vec::with_capacity(k * k);
        for i in 0..k {
            let row: Vec<f64> = (0..k).map(|j| transitions[(i, j)]).collect();
            trans.extend(validate_row(&row, Table::Transitions, i)?);
        }
        Ok(Self::from_valid(start, trans, emission))
    }

    fn from_valid(start: Vec<f64>, trans: Vec<f64>, emission: E) -> Self {
        Self {
            log_start: ln_all(&start),
            log_trans: ln_all(&trans),
            start,
            trans,
            emission,
        }
    }

    /// The chain of the variational E-step: start and transition entries
    /// given by their logs, `exp(E_q[ln π_j])` and `exp(E_q[ln A_ij])` (plus
    /// the emission's per-state offsets), which sum to less than 1 and are
    /// not validated. The recursions run unchanged on it; their `ln p` is
    /// then the log normaliser `ln Z` of the variational state posterior.
    pub(crate) fn from_logs(log_start: Vec<f64>, log_trans: Vec<f64>, emission: E) -> Self {
        Self {
            start: log_start.iter().map(|v| v.exp()).collect(),
            trans: log_trans.iter().map(|v| v.exp()).collect(),
            log_start,
            log_trans,
            emission,
        }
    }

    /// Number of hidden states K.
    #[must_use]
    pub fn n_states(&self) -> usize {
        self.start.len()
    }

    /// Number of observation columns d.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.emission.n_features()
    }

    /// Start probabilities π.
    #[must_use]
    pub fn start_probs(&self) -> &[f64] {
        &self.start
    }

    /// Transition matrix A (K x K, rows sum to 1).
    #[must_use]
    pub fn transitions(&self) -> MatRef<'_, f64> {
        let k = self.n_states();
        MatRef::from_row_major_slice(&self.trans, k, k)
    }

    /// The transition matrix row-major (`A_ij` at `i K + j`).
    pub(crate) fn transition_entries(&self) -> &[f64] {
        &self.trans
    }

    /// The emission distribution.
    #[must_use]
    pub fn emission(&self) -> &E {
        &self.emission
    }

    /// The same chain with another emission (validated for the number of states).
    ///
    /// # Errors
    /// [`HmmError::DimensionMismatch`] if the emission has another K.
    pub fn with_emission<F: Emission>(&self, emission: F) -> Result<Hmm<F>, HmmError> {
        Hmm::new(self.start.clone(), self.transitions(), emission)
    }

    /// Number of free parameters: `(nnz(π) − 1) + Σ_i (nnz(A_i·) − 1)` (structural
    /// zeros are not parameters) plus the emission's free parameters.
    #[must_use]
    pub fn n_parameters(&self) -> usize {
        let k = self.n_states();
        let nnz = |row: &[f64]| row.iter().filter(|&&v| v > 0.0).count().saturating_sub(1);
        nnz(&self.start)
            + (0..k)
                .map(|i| nnz(&self.trans[i * k..(i + 1) * k]))
                .sum::<usize>()
            + self.emission.n_parameters()
    }

    /// The chain's parameters as the recursions take them.
    fn chain(&self) -> Chain<'_> {
        Chain {
            start: &self.start,
            trans: &self.trans,
            k: self.n_states(),
        }
    }
}
