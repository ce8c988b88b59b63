//! Checks of the parameters (shape, finiteness, symmetry, positive
//! definiteness), with errors that name the matrix.

use faer::{Mat, MatRef};
use linalg_kernels::tolerance::SYMMETRY;
use linalg_kernels::{Cholesky, KernelError};

use crate::error::{Matrix, Result, StateSpaceError};

/// `Ok` when `m` is `rows x cols`, else [`StateSpaceError::Shape`].
pub(crate) fn check_shape(matrix: Matrix, m: MatRef<'_, f64>, rows: usize, cols: usize) -> Result<()> {
    if m.nrows() == rows && m.ncols() == cols {
        Ok(())
    } else {
        Err(StateSpaceError::Shape {
            matrix,
            expected_rows: rows,
            expected_cols: cols,
            rows: m.nrows(),
            cols: m.ncols(),
        })
    }
}

/// `Ok` when every entry is finite, else the first one (column by column)
/// that is not.
pub(crate) fn check_finite(matrix: Matrix, m: MatRef<'_, f64>) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let value = m[(i, j)];
            if !value.is_finite() {
                return Err(StateSpaceError::NonFiniteParameter {
                    matrix,
                    row: i,
                    col: j,
                    value,
                });
            }
        }
    }
    Ok(())
}

/// Whether `m` is exactly the identity (square, ones on the diagonal,
/// zeros elsewhere).
pub(crate) fn is_identity(m: MatRef<'_, f64>) -> bool {
    let n = m.nrows();
    m.ncols() == n && (0..n).all(|j| (0..n).all(|i| m[(i, j)] == if i == j { 1.0 } else { 0.0 }))
}

/// `(M + Mᵀ)/2` in place: both triangles get the same value, exactly.
pub(crate) fn symmetrise(m: &mut Mat<f64>) {
    let n = m.nrows();
    for j in 0..n {
        for i in (j + 1)..n {
            let mean = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = mean;
            m[(j, i)] = mean;
        }
    }
}

/// Checks finiteness, symmetry within [`SYMMETRY`] (relative to the
/// diagonal), then symmetrises exactly and checks positive definiteness;
/// returns the matrix and its factor.
pub(crate) fn symmetric_positive_definite(matrix: Matrix, mut m: Mat<f64>) -> Result<(Mat<f64>, Cholesky)> {
    check_finite(matrix, m.as_ref())?;
    let n = m.nrows();
    for j in 0..n {
        for i in (j + 1)..n {
            let scale = m[(i, i)].abs().max(m[(j, j)].abs());
            if (m[(i, j)] - m[(j, i)]).abs() > SYMMETRY * scale {
                return Err(StateSpaceError::NotSymmetric {
                    matrix,
                    row: i,
                    col: j,
                });
            }
        }
    }
    symmetrise(&mut m);
    let chol = Cholesky::new(m.as_ref()).map_err(|e| spd_error(matrix, e))?;
    Ok((m, chol))
}

/// The error of a failed factorisation of `matrix`.
pub(crate) fn spd_error(matrix: Matrix, e: KernelError) -> StateSpaceError {
    match e {
        KernelError::NotPositiveDefinite { pivot, value } => {
            StateSpaceError::NotPositiveDefinite { matrix, pivot, value }
        }
        KernelError::NonFinite { row, col, value } => StateSpaceError::NonFiniteParameter {
            matrix,
            row,
            col,
            value,
        },
        other => StateSpaceError::FloorFailed {
            matrix,
            source: other,
        },
    }
}
