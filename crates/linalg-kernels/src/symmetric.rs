//! Symmetrisation.

use crate::KernelError;
use faer::MatMut;

/// Replaces `a` by `(a + aᵀ) / 2` in place.
///
/// Reads and writes both triangles. Allocates nothing.
///
/// # Errors
/// [`KernelError::NotSquare`] when `a` is not square.
pub fn symmetrize(mut a: MatMut<'_, f64>) -> Result<(), KernelError> {
    let n = crate::square_dim(a.nrows(), a.ncols())?;
    for j in 0..n {
        for i in (j + 1)..n {
            let mean = 0.5 * (a[(i, j)] + a[(j, i)]);
            a[(i, j)] = mean;
            a[(j, i)] = mean;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::mat;

    #[test]
    fn symmetrize_averages_off_diagonal_pairs() {
        let mut a = mat![[1.0, 2.0], [4.0, 5.0]];
        symmetrize(a.as_mut()).unwrap();
        assert_eq!(a, mat![[1.0, 3.0], [3.0, 5.0]]);
    }

    #[test]
    fn symmetrize_rejects_non_square() {
        let mut a = faer::Mat::<f64>::zeros(2, 3);
        assert!(matches!(
            symmetrize(a.as_mut()),
            Err(KernelError::NotSquare { rows: 2, cols: 3 })
        ));
    }
}
