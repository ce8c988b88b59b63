//! The one error type of the crate, and the names of the matrices it reports.
//!
//! Messages count positions from 1 (row 1 is the first row; likewise
//! columns, components, states, features, sequences, time steps and pivots),
//! as the data files and programs do; the fields hold 0-based indices.

use linalg_kernels::KernelError;
use std::fmt;

use crate::param::{InputParam, Param};

/// A matrix of the model or of the sufficient statistics, as named in errors.
///
/// A parameter block is named by its [`Param`] (`Matrix::Param(Param::Q)`,
/// or `Param::Q.into()`); besides those, errors name the two Gram matrices of
/// the statistics that the M-step factors (and that can fail to factor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Matrix {
    /// A parameter block of the model: `A`, `Q`, `H`, `R`, `m0` or `P0`.
    Param(Param),
    /// An input block of the model: `B`, `D` or an offset.
    Input(InputParam),
    /// `Φ = Σ E[x_{k-1} x_{k-1}ᵀ]`, the Gram matrix the update of `A` solves with.
    TransitionGram,
    /// `Σ_all E[x_k x_kᵀ]`, the Gram matrix the update of `H` solves with.
    StateGram,
}

impl Matrix {
    /// The short name used in messages (`"A"`, `"Q"`, ..., `"Phi"`, `"Sxx"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Param(param) => em_core::Parameter::name(param),
            Self::Input(input) => em_core::Parameter::name(input),
            Self::TransitionGram => "Phi",
            Self::StateGram => "Sxx",
        }
    }
}

impl From<Param> for Matrix {
    fn from(param: Param) -> Self {
        Self::Param(param)
    }
}

impl From<InputParam> for Matrix {
    fn from(input: InputParam) -> Self {
        Self::Input(input)
    }
}

impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong in this crate, with where it went wrong.
///
/// Sequence and step indices are zero-based. Nothing here carries a string:
/// every field is structured so callers can match on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StateSpaceError {
    /// [`crate::LinearGaussianSsmBuilder::build`] was not given a parameter.
    #[error("the model builder was not given {parameter}")]
    MissingParameter {
        /// The parameter block that was not set.
        parameter: Param,
    },
    /// A model dimension (n or p) is zero.
    #[error("matrix {matrix} has a zero dimension: state and observation dimensions must be at least 1")]
    ZeroDimension {
        /// The matrix whose shape revealed the empty dimension.
        matrix: Matrix,
    },
    /// A parameter has the wrong shape.
    #[error("matrix {matrix} is {rows} x {cols}, expected {expected_rows} x {expected_cols}")]
    Shape {
        /// Which parameter.
        matrix: Matrix,
        /// Rows required by the other parameters.
        expected_rows: usize,
        /// Columns required by the other parameters.
        expected_cols: usize,
        /// Rows given.
        rows: usize,
        /// Columns given.
        cols: usize,
    },
    /// A parameter entry is NaN or infinite.
    #[error("matrix {matrix} has the non-finite entry {value} at ({}, {})", .row + 1, .col + 1)]
    NonFiniteParameter {
        /// Which parameter.
        matrix: Matrix,
        /// Row of the entry (0 for a vector).
        row: usize,
        /// Column of the entry (the index for a vector).
        col: usize,
        /// The entry.
        value: f64,
    },
    /// A covariance is not symmetric: `|c_ij − c_ji| > SYMMETRY · max(|c_ii|, |c_jj|)`
    /// with [`linalg_kernels::tolerance::SYMMETRY`].
    #[error("matrix {matrix} is not symmetric: entries ({}, {}) and ({}, {}) differ", .row + 1, .col + 1, .col + 1, .row + 1)]
    NotSymmetric {
        /// Which covariance.
        matrix: Matrix,
        /// Row of the first entry.
        row: usize,
        /// Column of the first entry.
        col: usize,
    },
    /// A covariance (or a Gram matrix of the statistics) is not positive definite.
    #[error("matrix {matrix} is not positive definite: Cholesky pivot {} is {value:e}", .pivot + 1)]
    NotPositiveDefinite {
        /// Which matrix.
        matrix: Matrix,
        /// The failing pivot of its Cholesky factorisation.
        pivot: usize,
        /// The value of the Schur complement at that pivot.
        value: f64,
    },
    /// No sequence was given.
    #[error("no sequences were given")]
    NoSequences,
    /// A sequence has no time steps (T = 0).
    #[error("sequence {} is empty (T = 0)", .sequence + 1)]
    EmptySequence {
        /// Index of the sequence.
        sequence: usize,
    },
    /// A sequence does not have p columns.
    #[error("sequence {} has {found} columns, the model observes {expected}", .sequence + 1)]
    ObservationDimension {
        /// Index of the sequence.
        sequence: usize,
        /// The observation dimension p of the model.
        expected: usize,
        /// Columns of the sequence.
        found: usize,
    },
    /// An observation is infinite (NaN marks a missing value; ±inf is an error).
    #[error("sequence {} has the infinite value {value} at step {}, coordinate {}", .sequence + 1, .step + 1, .coordinate + 1)]
    InfiniteObservation {
        /// Index of the sequence.
        sequence: usize,
        /// Time step (row).
        step: usize,
        /// Coordinate (column).
        coordinate: usize,
        /// The value.
        value: f64,
    },
    /// Every value of every sequence is missing (NaN): there is nothing to learn from.
    #[error("every observation is missing (NaN): nothing to learn from")]
    NoObservedValues,
    /// The model has inputs (m > 0) and a sequence came without them.
    #[error("sequence {} has no inputs, the model takes {expected} per step", .sequence + 1)]
    MissingInputs {
        /// Index of the sequence.
        sequence: usize,
        /// The input dimension m of the model.
        expected: usize,
    },
    /// The inputs of a sequence do not have one row per step.
    #[error("sequence {} has {steps} steps but {found} rows of inputs", .sequence + 1)]
    InputSteps {
        /// Index of the sequence.
        sequence: usize,
        /// Steps of the sequence (rows of its observations).
        steps: usize,
        /// Rows of its inputs.
        found: usize,
    },
    /// The inputs of a sequence do not have m columns.
    #[error("sequence {} has {found} input columns, the model takes {expected}", .sequence + 1)]
    InputDimension {
        /// Index of the sequence.
        sequence: usize,
        /// The input dimension m of the model.
        expected: usize,
        /// Columns of the inputs.
        found: usize,
    },
    /// An input is NaN or infinite (inputs are known: none may be missing).
    #[error("sequence {} has the non-finite input {value} at step {}, input {}", .sequence + 1, .step + 1, .input + 1)]
    NonFiniteInput {
        /// Index of the sequence.
        sequence: usize,
        /// Time step (row).
        step: usize,
        /// Input (column).
        input: usize,
        /// The value.
        value: f64,
    },
    /// A time-varying matrix sequence of a [`crate::Sequence`] does not
    /// have one matrix per step it acts at (T − 1 for `A` and `Q`, T for
    /// `H` and `R`; see [`crate::TimeVarying`]).
    #[error("sequence {} has {found} time-varying {matrix} matrices, expected {expected}", .sequence + 1)]
    TimeVaryingSteps {
        /// Index of the sequence.
        sequence: usize,
        /// Which block (`A`, `Q`, `H` or `R`).
        matrix: Param,
        /// Matrices required (T − 1 or T).
        expected: usize,
        /// Matrices given.
        found: usize,
    },
    /// A time-varying matrix of a [`crate::Sequence`] is bad at one step:
    /// `error` is the error of the model's own check of that matrix
    /// ([`Self::Shape`], [`Self::NonFiniteParameter`],
    /// [`Self::NotSymmetric`] or [`Self::NotPositiveDefinite`], naming the
    /// block). `step` is the time step the matrix acts at (0-based like
    /// every step here): `A_k`, `Q_k` at the transition into step k
    /// (k = 1..T-1, entry k − 1 of their slices), `H_k`, `R_k` at
    /// observation k (entry k).
    #[error("sequence {}, step {}: time-varying {error}", .sequence + 1, .step + 1)]
    TimeVaryingMatrix {
        /// Index of the sequence.
        sequence: usize,
        /// The time step the matrix acts at.
        step: usize,
        /// What is wrong with the matrix (names the block).
        error: Box<StateSpaceError>,
    },
    /// EM was asked to learn a block that some sequence gives as
    /// time-varying (it is data of that sequence, not a parameter).
    #[error("cannot learn {matrix}: it is given as time-varying matrices")]
    TimeVaryingLearned {
        /// The block.
        matrix: Param,
    },
    /// EM was asked to learn a block of a regression whose covariance and
    /// state coefficient are both time-varying (the transition: `B`, `b`
    /// with `A_k` and `Q_k`; the observation: `D`, `d` with `H_k` and
    /// `R_k`, in the same sequence or in different ones): the weighted
    /// regression of the residual is not supported (see [`crate::em`]).
    #[error(
        "cannot learn {learned} while {varying} is time-varying together with the coefficient of its regression (a weighted regression of the residual, which is not supported)"
    )]
    TimeVaryingCombination {
        /// The block asked for.
        learned: Matrix,
        /// The time-varying block of its regression.
        varying: Param,
    },
    /// An observation given to a [`crate::StreamingFilter`] does not have p
    /// values.
    #[error("the observation of step {} has {found} values, the model observes {expected}", .step + 1)]
    ObservationLength {
        /// The step (observations consumed before it).
        step: usize,
        /// The observation dimension p of the model.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// The inputs given to a [`crate::StreamingFilter`] at a step do not
    /// have m values (none given counts as 0).
    #[error("the inputs of step {} have {found} values, the model takes {expected}", .step + 1)]
    InputLength {
        /// The step (observations consumed before it).
        step: usize,
        /// The input dimension m of the model.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A saved [`crate::FilterState`] does not fit the model, or holds a
    /// value that no filter produces.
    #[error("the filter state cannot be resumed: its {field} {requirement}")]
    FilterState {
        /// The field of the state.
        field: &'static str,
        /// What is wrong with it.
        requirement: &'static str,
    },
    /// A forecast origin past the end of the filtered sequence.
    #[error("forecast origin step {} is past the end of the {steps} filtered steps", .origin + 1)]
    ForecastOrigin {
        /// The origin asked for.
        origin: usize,
        /// Steps of the filter output.
        steps: usize,
    },
    /// The lengths do not add up to the number of rows of the stacked data.
    #[error("sequence lengths add up to {total}, the data has {rows} rows")]
    LengthsMismatch {
        /// Sum of the lengths.
        total: usize,
        /// Rows of the data.
        rows: usize,
    },
    /// The innovation covariance `H P Hᵀ + R` of a step is not positive definite.
    #[error(
        "sequence {}, step {}: innovation covariance is not positive definite (pivot {})",
        .sequence + 1, .step + 1, .pivot + 1
    )]
    InnovationNotPositiveDefinite {
        /// Index of the sequence.
        sequence: usize,
        /// Time step.
        step: usize,
        /// The failing pivot (in the observed coordinates of the step).
        pivot: usize,
    },
    /// A predicted covariance `A P Aᵀ + Q` is not positive definite (smoother).
    #[error(
        "sequence {}, step {}: predicted covariance is not positive definite (pivot {})",
        .sequence + 1, .step + 1, .pivot + 1
    )]
    PredictedNotPositiveDefinite {
        /// Index of the sequence.
        sequence: usize,
        /// Time step of the predicted covariance.
        step: usize,
        /// The failing pivot.
        pivot: usize,
    },
    /// A mean or covariance overflowed (typically an unstable `A` over a long
    /// unobserved stretch).
    #[error("sequence {}, step {}: the recursion diverged (non-finite mean or covariance)", .sequence + 1, .step + 1)]
    Diverged {
        /// Index of the sequence.
        sequence: usize,
        /// Time step.
        step: usize,
    },
    /// The log-likelihood term of a step is not finite: the innovation
    /// `y − H m` (whitened) is too large for floating point, typically data
    /// or an initial mean of magnitude near `1e308`, or far outside what the
    /// model's covariances allow. Never reported as a log-likelihood of −∞.
    #[error(
        "sequence {}, step {}: the log-likelihood overflowed (the innovation is too large \
         for floating point: data or initial mean near the largest float?)",
        .sequence + 1, .step + 1
    )]
    LogLikelihoodOverflow {
        /// Index of the sequence.
        sequence: usize,
        /// Time step.
        step: usize,
    },
    /// Sampling overflowed: a drawn state or observation is not finite
    /// (typically an unstable `A`, spectral radius above 1, over many
    /// steps). Nothing non-finite is returned.
    #[error(
        "sampling sequence {}: the {what} of step {} overflowed (unstable transition A, \
         spectral radius above 1?)",
        .sequence + 1, .step + 1
    )]
    SampleOverflow {
        /// Index of the sequence (0 for [`crate::LinearGaussianSsm::sample`]).
        sequence: usize,
        /// Time step.
        step: usize,
        /// `"state"` or `"observation"`.
        what: &'static str,
    },
    /// The statistics hold no transition (every sequence has length 1), so
    /// `A` and `Q` cannot be learned.
    #[error("the statistics contain no transition (all sequences have length 1): cannot learn A or Q")]
    NoTransitions,
    /// Statistics and model disagree in dimensions.
    #[error("statistics are for n = {stats_state}, p = {stats_obs}; the model has n = {state}, p = {obs}")]
    StatisticsDimension {
        /// State dimension of the statistics.
        stats_state: usize,
        /// Observation dimension of the statistics.
        stats_obs: usize,
        /// State dimension of the model.
        state: usize,
        /// Observation dimension of the model.
        obs: usize,
    },
    /// Statistics and model disagree in the number of inputs.
    #[error("statistics are for m = {stats_inputs} inputs; the model has m = {inputs}")]
    StatisticsInputs {
        /// Input dimension of the statistics.
        stats_inputs: usize,
        /// Input dimension of the model.
        inputs: usize,
    },
    /// The statistics hold a NaN or infinite value.
    #[error("the sufficient statistics hold a non-finite value")]
    NonFiniteStatistics,
    /// An option is out of its range.
    #[error("invalid option {option}: {requirement}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// A covariance produced by the M-step could not be regularised by the floor.
    #[error("M-step: matrix {matrix} could not be floored: {source}")]
    FloorFailed {
        /// Which matrix.
        matrix: Matrix,
        /// What the kernel reported.
        source: KernelError,
    },
}

/// The crate's result type.
pub type Result<T, E = StateSpaceError> = std::result::Result<T, E>;
