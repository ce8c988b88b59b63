//! Matrices of model files: arrays of rows.

use faer::MatRef;

/// A matrix as an array of rows.
#[must_use]
pub fn mat_to_rows(m: MatRef<'_, f64>) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
        .collect()
}
