//! The one error type of the kernels.
//!
//! Messages count positions from 1 (row 1 is the first row; likewise
//! columns, components, states, features, sequences, time steps and pivots),
//! as the data files and programs do; the fields hold 0-based indices.

/// What went wrong in a kernel, and where.
///
/// Every variant carries the position (pivot, row, column) and the offending
/// value, so a caller can name the component or time step that failed.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A matrix that must be square is not.
    #[error("matrix is not square: {rows} x {cols}")]
    NotSquare {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
    },
    /// Two operands disagree in size.
    #[error("dimension mismatch for {what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// Which operand had the wrong size.
        what: &'static str,
        /// The size that was needed.
        expected: usize,
        /// The size that was given.
        found: usize,
    },
    /// Cholesky found a pivot that is not strictly positive.
    #[error("matrix is not positive definite: pivot {} is {value:e}", .pivot + 1)]
    NotPositiveDefinite {
        /// Zero-based index of the failing pivot.
        pivot: usize,
        /// The value of the Schur complement at that pivot (<= 0).
        value: f64,
    },
    /// A matrix entry is NaN or infinite.
    #[error("non-finite value {value} at row {}, column {}", .row + 1, .col + 1)]
    NonFinite {
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// The entry.
        value: f64,
    },
    /// Even the largest diagonal jitter of the schedule did not make the
    /// matrix factor (or reach the required condition).
    #[error(
        "matrix could not be regularised: still failing at pivot {} with diagonal jitter {jitter:e}",
        .pivot + 1
    )]
    FloorExhausted {
        /// The largest jitter that was tried.
        jitter: f64,
        /// The pivot that failed with that jitter.
        pivot: usize,
    },
    /// A log-domain value is NaN or +inf (only finite values and -inf are
    /// meaningful logarithms of non-negative numbers).
    #[error("invalid log-domain value {value} at row {}, column {}", .row + 1, .col + 1)]
    InvalidLogValue {
        /// Row of the value (0 for a slice).
        row: usize,
        /// Column of the value (its index for a slice).
        col: usize,
        /// The value.
        value: f64,
    },
}
