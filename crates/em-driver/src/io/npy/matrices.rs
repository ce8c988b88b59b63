//! 3-D `.npy` arrays as a sequence of equal-shaped matrices (time-varying
//! matrices of a state-space model: shape `(steps, rows, columns)`).
//!
//! The values are kept in one C-order buffer and handed out as matrix
//! views of it ([`NpyMatrices::matrix`]), so a file of many small matrices
//! costs its values and nothing per matrix. The file is read by the same
//! checked parser as every `.npy` file (the shape must account for the
//! file's size exactly before anything is allocated); an empty dimension is
//! refused, so the number of matrices is bounded by the file's size.

use std::path::Path;

use faer::MatRef;

use super::{NpyArray, read_npy_array, value_problem};
use crate::io::error::DataError;

/// A `.npy` array of `len()` matrices of `rows x cols`, finite values.
#[derive(Debug, Clone)]
pub struct NpyMatrices {
    rows: usize,
    cols: usize,
    /// Matrix k's entry (i, j) at `k rows cols + i cols + j`.
    values: Vec<f64>,
}

impl NpyMatrices {
    /// The number of matrices.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len() / (self.rows * self.cols)
    }

    /// Whether there are no matrices.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The shape of every matrix, `(rows, cols)`.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Matrix `k` (from 0), a view of the buffer.
    ///
    /// # Panics
    /// If `k >= self.len()`.
    #[must_use]
    pub fn matrix(&self, k: usize) -> MatRef<'_, f64> {
        let size = self.rows * self.cols;
        MatRef::from_row_major_slice(&self.values[k * size..(k + 1) * size], self.rows, self.cols)
    }

    /// Every matrix, in order.
    #[must_use]
    pub fn matrices(&self) -> Vec<MatRef<'_, f64>> {
        (0..self.len()).map(|k| self.matrix(k)).collect()
    }
}

/// Reads a 3-D `.npy` array (C or Fortran order) of shape
/// `(matrices, rows, columns)`.
///
/// # Errors
/// As [`crate::io::read_npy`], and [`DataError::NpyNotMatrices`] for an
/// array that is not 3-D, [`DataError::Empty`] for an empty dimension,
/// [`DataError::NpyMatrixValue`] for a value that is NaN, infinite or beyond
/// [`crate::io::MAX_ABS_VALUE`] (naming the matrix, its row and its column
/// from 1).
pub fn read_npy_matrices(path: &Path) -> Result<NpyMatrices, DataError> {
    array_to_matrices(read_npy_array(path)?, path)
}

/// Turns a decoded array into matrices, checking its shape and values.
pub(crate) fn array_to_matrices(array: NpyArray, path: &Path) -> Result<NpyMatrices, DataError> {
    let [steps, rows, cols] = array.shape[..] else {
        return Err(DataError::NpyNotMatrices {
            path: path.into(),
            ndim: array.shape.len(),
        });
    };
    if steps == 0 || rows == 0 || cols == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    // (k, i, j) at k + steps (i + rows j) in Fortran order.
    let at = |k: usize, i: usize, j: usize| {
        if array.fortran_order {
            k + steps * (i + rows * j)
        } else {
            (k * rows + i) * cols + j
        }
    };
    let mut values = Vec::with_capacity(array.values.len());
    for k in 0..steps {
        for i in 0..rows {
            for j in 0..cols {
                let value = array.values[at(k, i, j)];
                if let Some(problem) = value_problem(value, false) {
                    return Err(DataError::NpyMatrixValue {
                        path: path.into(),
                        matrix: k + 1,
                        matrices: steps,
                        row: i + 1,
                        col: j + 1,
                        value,
                        problem,
                    });
                }
                values.push(value);
            }
        }
    }
    Ok(NpyMatrices { rows, cols, values })
}
