//! Observation sequences: validation and splitting of stacked data.

use crate::error::{Result, StateSpaceError};
use faer::MatRef;

/// Splits stacked data (one row per time step, sequences one after the
/// other) into one view per sequence.
///
/// # Errors
/// [`StateSpaceError::LengthsMismatch`] if the lengths do not add up to the
/// number of rows; [`StateSpaceError::EmptySequence`] for a zero length.
pub fn split_sequences<'a>(data: MatRef<'a, f64>, lengths: &[usize]) -> Result<Vec<MatRef<'a, f64>>> {
    let total = lengths.iter().try_fold(0usize, |acc, &l| acc.checked_add(l));
    match total {
        Some(total) if total == data.nrows() => {}
        _ => {
            return Err(StateSpaceError::LengthsMismatch {
                total: total.unwrap_or(usize::MAX),
                rows: data.nrows(),
            });
        }
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(lengths.len());
    for (sequence, &len) in lengths.iter().enumerate() {
        if len == 0 {
            return Err(StateSpaceError::EmptySequence { sequence });
        }
        out.push(data.subrows(start, len));
        start += len;
    }
    Ok(out)
}

/// What the validation of one sequence found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SequenceSummary {
    /// Number of observed (non-NaN) values.
    pub observed_values: usize,
    /// Number of steps with at least one observed value.
    pub observed_steps: usize,
    /// True when some value is missing.
    pub any_missing: bool,
}

/// Checks the shape of one sequence and that no value is infinite.
pub(crate) fn validate_sequence(sequence: usize, y: MatRef<'_, f64>, p: usize) -> Result<SequenceSummary> {
    if y.ncols() != p {
        return Err(StateSpaceError::ObservationDimension {
            sequence,
            expected: p,
            found: y.ncols(),
        });
    }
    if y.nrows() == 0 {
        return Err(StateSpaceError::EmptySequence { sequence });
    }
    let mut summary = SequenceSummary::default();
    let mut step_observed = vec![false; y.nrows()];
    for j in 0..p {
        let col = y.col(j);
        for (step, observed) in step_observed.iter_mut().enumerate() {
            let value = col[step];
            if value.is_nan() {
                summary.any_missing = true;
            } else if value.is_infinite() {
                return Err(StateSpaceError::InfiniteObservation {
                    sequence,
                    step,
                    coordinate: j,
                    value,
                });
            } else {
                summary.observed_values += 1;
                *observed = true;
            }
        }
    }
    summary.observed_steps = step_observed.iter().filter(|&&o| o).count();
    Ok(summary)
}

/// Validates every sequence; `NoSequences` for an empty slice.
pub(crate) fn validate_all(sequences: &[MatRef<'_, f64>], p: usize) -> Result<Vec<SequenceSummary>> {
    if sequences.is_empty() {
        return Err(StateSpaceError::NoSequences);
    }
    sequences
        .iter()
        .enumerate()
        .map(|(i, y)| validate_sequence(i, *y, p))
        .collect()
}
