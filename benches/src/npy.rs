//! `.npy` output of the comparison workloads, through emfit's own writers
//! (`em_driver::io`), each file written atomically.

use em_driver::io::{DataError, write_atomically, write_npy, write_npy_f64, write_npy_i64};
use faer::MatRef;
use std::path::Path;

/// Writes `data` with the given shape (C order) as `<f8`.
///
/// # Errors
/// The file could not be written.
pub fn write_f64(path: &Path, shape: &[usize], data: &[f64]) -> Result<(), DataError> {
    write_atomically(path, |w| write_npy_f64(w, shape, data))
}

/// Writes integers with the given shape (C order) as `<i8` (int64).
///
/// # Errors
/// The file could not be written.
pub fn write_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), DataError> {
    write_atomically(path, |w| write_npy_i64(w, shape, data))
}

/// Writes a matrix (rows = observations).
///
/// # Errors
/// The file could not be written.
pub fn write_matrix(path: &Path, m: MatRef<'_, f64>) -> Result<(), DataError> {
    write_atomically(path, |w| write_npy(w, m))
}
