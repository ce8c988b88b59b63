//! The one error type of the crate.
//!
//! Messages count positions from 1 (row 1 is the first row; likewise
//! columns, components, states, features, sequences, time steps and pivots),
//! as the data files and programs do; the fields hold 0-based indices.

use linalg_kernels::KernelError;
use mixture::MixtureError;

/// Which probability table a validation error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Table {
    /// The start probabilities `π` (one row).
    Start,
    /// The transition matrix `A` (row `i` = from state `i`).
    Transitions,
    /// The categorical emission probabilities `B` (row = state, column = symbol).
    EmissionProbabilities,
    /// The mixture weights of a Gaussian-mixture emission (row = state, column = component).
    MixtureWeights,
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Start => "start probabilities",
            Self::Transitions => "transition matrix",
            Self::EmissionProbabilities => "emission probabilities",
            Self::MixtureWeights => "mixture weights",
        })
    }
}

/// Everything that can go wrong in this crate, with the position it went wrong at.
///
/// `sequence` is the zero-based index of a sequence in a [`crate::Sequences`],
/// `time` the zero-based row inside that sequence and `row` the row of the
/// stacked data matrix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HmmError {
    /// The model would have no hidden state (K = 0).
    #[error("a hidden Markov model needs at least one state")]
    NoStates,
    /// The data matrix has no column.
    #[error("observations must have at least one feature")]
    NoFeatures,
    /// No sequence was given.
    #[error("no sequence given")]
    NoSequences,
    /// A sequence has length 0.
    #[error("sequence {} has length 0", .sequence + 1)]
    EmptySequence {
        /// Index of the sequence.
        sequence: usize,
    },
    /// The sequence lengths do not add up to the number of rows of the data.
    #[error("sequence lengths sum to {total} but the data has {rows} rows")]
    LengthMismatch {
        /// Sum of the lengths.
        total: usize,
        /// Rows of the data matrix.
        rows: usize,
    },
    /// An observation is NaN or infinite.
    #[error("non-finite observation {value} in sequence {}, time {} (row {}), column {}", .sequence + 1, .time + 1, .row + 1, .col + 1)]
    NonFinite {
        /// Index of the sequence.
        sequence: usize,
        /// Row inside the sequence.
        time: usize,
        /// Row of the stacked data.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: f64,
    },
    /// Two sizes disagree.
    #[error("dimension mismatch for {what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// What had the wrong size.
        what: &'static str,
        /// The size that was needed.
        expected: usize,
        /// The size that was given.
        found: usize,
    },
    /// A probability is negative, NaN or infinite.
    #[error("invalid {table} entry at ({}, {}): {value}", .row + 1, .col + 1)]
    InvalidProbability {
        /// The table.
        table: Table,
        /// Row of the entry (0 for the start probabilities).
        row: usize,
        /// Column of the entry.
        col: usize,
        /// The value.
        value: f64,
    },
    /// A row of probabilities does not sum to 1.
    #[error("row {} of the {table} sums to {sum}, not 1", .row + 1)]
    RowSum {
        /// The table.
        table: Table,
        /// The row (0 for the start probabilities).
        row: usize,
        /// Its sum.
        sum: f64,
    },
    /// A categorical observation is not one of the symbols `0..n_symbols`.
    #[error("sequence {}, time {} (row {}): {value} is not a symbol in 0..{n_symbols}", .sequence + 1, .time + 1, .row + 1)]
    SymbolOutOfRange {
        /// Index of the sequence.
        sequence: usize,
        /// Row inside the sequence.
        time: usize,
        /// Row of the stacked data.
        row: usize,
        /// The observation.
        value: f64,
        /// Number of symbols of the model.
        n_symbols: usize,
    },
    /// A Poisson observation is not a non-negative integer.
    #[error("sequence {}, time {} (row {}), column {}: {value} is not a count", .sequence + 1, .time + 1, .row + 1, .col + 1)]
    InvalidCount {
        /// Index of the sequence.
        sequence: usize,
        /// Row inside the sequence.
        time: usize,
        /// Row of the stacked data.
        row: usize,
        /// Column.
        col: usize,
        /// The observation.
        value: f64,
    },
    /// A Poisson rate is negative, NaN or infinite (or too large to sample).
    #[error("rate of state {}, feature {} is invalid: {value}", .state + 1, .feature + 1)]
    InvalidRate {
        /// The state.
        state: usize,
        /// The feature.
        feature: usize,
        /// The rate.
        value: f64,
    },
    /// A sequence has probability zero under the model (no state path can
    /// produce it, e.g. a symbol with zero probability in every reachable state).
    #[error("sequence {} has probability zero under the model (first impossible at time {})", .sequence + 1, .time + 1)]
    ZeroLikelihood {
        /// Index of the sequence.
        sequence: usize,
        /// First time step at which no state path remains.
        time: usize,
    },
    /// An emission log-likelihood was NaN or `+inf` (a bug or an emission
    /// with degenerate parameters; never propagated).
    #[error("invalid emission log-likelihood {value} at row {}, state {}", .row + 1, .state + 1)]
    InvalidLogLikelihood {
        /// Row of the stacked data.
        row: usize,
        /// State.
        state: usize,
        /// The value.
        value: f64,
    },
    /// The forward-backward recursions lost all precision on a sequence
    /// (a posterior came out non-finite). Never propagated as NaN.
    #[error("forward-backward lost precision on sequence {}", .sequence + 1)]
    NumericalFailure {
        /// Index of the sequence.
        sequence: usize,
    },
    /// A Dirichlet prior concentration is below 1 or not finite (the MAP
    /// estimate needs `α ≥ 1`).
    #[error("invalid Dirichlet prior on the {table} at ({}, {}): {value} (need a finite value >= 1)", .row + 1, .col + 1)]
    InvalidPrior {
        /// The table the prior is on.
        table: Table,
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// The value.
        value: f64,
    },
    /// A Dirichlet concentration of a variational HMM (prior or posterior)
    /// is not finite and positive.
    #[error("invalid Dirichlet {} concentration of the {table} at ({}, {}): {value} (need a finite value > 0)", if *.posterior { "posterior" } else { "prior" }, .row + 1, .col + 1)]
    InvalidConcentration {
        /// The table the concentrations are of.
        table: Table,
        /// Whether it is the posterior's (`false`: the prior's).
        posterior: bool,
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// The value.
        value: f64,
    },
    /// A prior parameter of Gaussian or Poisson emissions has the wrong shape.
    #[error("{parameter}{} has shape {}x{}, expected {}x{}", state_suffix(*.state), .found.0, .found.1, .expected.0, .expected.1)]
    PriorShape {
        /// The prior parameter.
        parameter: &'static str,
        /// The state whose prior it is (GMM emissions); `None`: the emission's.
        state: Option<usize>,
        /// The shape needed (rows, columns).
        expected: (usize, usize),
        /// The shape given.
        found: (usize, usize),
    },
    /// A prior parameter of Gaussian or Poisson emissions is out of range
    /// (not finite, negative, or a scale matrix that is not symmetric
    /// positive semi-definite).
    #[error("{parameter}{} entry ({}, {}) is invalid: {value} (need a finite, non-negative value; scale matrices symmetric positive semi-definite)", state_suffix(*.state), .index.0 + 1, .index.1 + 1)]
    InvalidPriorValue {
        /// The prior parameter.
        parameter: &'static str,
        /// The state whose prior it is (GMM emissions); `None`: the emission's.
        state: Option<usize>,
        /// The entry (row, column; a full scale matrix's row is its component).
        index: (usize, usize),
        /// The value.
        value: f64,
    },
    /// A numeric option is out of range.
    #[error("invalid option {what}: {value}")]
    InvalidOption {
        /// The option.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// A sample length of zero was requested.
    #[error("cannot sample a sequence of length 0")]
    ZeroLength,
    /// The mixture crate reported an error for a state's emission.
    #[error("emission{}: {source}", StateName(*.state))]
    Mixture {
        /// The state whose mixture failed (`None` when one mixture holds all states).
        state: Option<usize>,
        /// The mixture error (its `component` is the state for Gaussian emissions).
        source: MixtureError,
    },
    /// A kernel failed on a state's covariance.
    #[error("covariance of state {}: {source}", .state + 1)]
    Kernel {
        /// The state.
        state: usize,
        /// The kernel error.
        source: KernelError,
    },
}

/// " of state k" counted from 1, or " (all states)" for an emission that
/// holds them all (one mixture shared by the states).
struct StateName(Option<usize>);

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(state) => write!(f, " of state {}", state + 1),
            None => f.write_str(" (all states)"),
        }
    }
}

/// ` of state j` (counted from 1) for `Some(j)`, nothing for `None`.
fn state_suffix(state: Option<usize>) -> String {
    state.map_or_else(String::new, |j| format!(" of state {}", j + 1))
}
