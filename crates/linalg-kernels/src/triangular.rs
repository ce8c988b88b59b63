//! Triangular solves with a Cholesky factor `L`.
//!
//! Size policy: plain column loops below [`FAER_TRIANGULAR_MIN_DIM`] when the
//! operands have contiguous columns (faer is 1.5-2.6x slower at n ≤ 2 and
//! only wins from n ≈ 4 with many right-hand sides), faer's blocked solves
//! otherwise. Both read only the lower triangle of `L` and allocate nothing.

use crate::cholesky::{contiguous_col, contiguous_col_mut};
use faer::linalg::triangular_solve;
use faer::prelude::ReborrowMut;
use faer::{MatMut, MatRef, Par};

/// Below this dimension the plain loops are used.
pub const FAER_TRIANGULAR_MIN_DIM: usize = 8;

fn use_plain(l: MatRef<'_, f64>, rhs: &MatMut<'_, f64>) -> bool {
    l.nrows() < FAER_TRIANGULAR_MIN_DIM && l.row_stride() == 1 && rhs.row_stride() == 1
}

/// Overwrites `rhs` with `L⁻¹ rhs` (forward substitution).
///
/// Reads the lower triangle of `l` only. The caller guarantees that `l` is
/// n x n with a positive diagonal and that `rhs` has n rows.
pub fn solve_lower_in_place(l: MatRef<'_, f64>, mut rhs: MatMut<'_, f64>) {
    if !use_plain(l, &rhs) {
        triangular_solve::solve_lower_triangular_in_place(l, rhs, Par::Seq);
        return;
    }
    let n = l.nrows();
    for c in 0..rhs.ncols() {
        let x = contiguous_col_mut(rhs.rb_mut(), c);
        for j in 0..n {
            let l_col = contiguous_col(l, j);
            let xj = x[j] / l_col[j];
            x[j] = xj;
            for (xi, &lij) in x[j + 1..n].iter_mut().zip(&l_col[j + 1..n]) {
                *xi -= lij * xj;
            }
        }
    }
}

/// Overwrites `rhs` with `L⁻ᵀ rhs` (back substitution with the transpose).
///
/// Reads the lower triangle of `l` only; same contract as
/// [`solve_lower_in_place`].
pub fn solve_lower_transpose_in_place(l: MatRef<'_, f64>, mut rhs: MatMut<'_, f64>) {
    if !use_plain(l, &rhs) {
        triangular_solve::solve_upper_triangular_in_place(l.transpose(), rhs, Par::Seq);
        return;
    }
    let n = l.nrows();
    for c in 0..rhs.ncols() {
        let x = contiguous_col_mut(rhs.rb_mut(), c);
        for j in (0..n).rev() {
            let l_col = contiguous_col(l, j);
            let dot: f64 = x[j + 1..n].iter().zip(&l_col[j + 1..n]).map(|(a, b)| a * b).sum();
            x[j] = (x[j] - dot) / l_col[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Mat, mat};

    fn check_both_paths(n: usize) {
        let l = Mat::<f64>::from_fn(n, n, |i, j| {
            if i == j {
                2.0 + i as f64
            } else if i > j {
                0.3 * (i as f64 - j as f64).sin()
            } else {
                f64::NAN // never read
            }
        });
        let lower = Mat::<f64>::from_fn(n, n, |i, j| if i >= j { l[(i, j)] } else { 0.0 });
        let b = Mat::<f64>::from_fn(n, 3, |i, c| (i + 2 * c) as f64 - 1.5);
        let mut x = b.clone();
        solve_lower_in_place(l.as_ref(), x.as_mut());
        assert!((&lower * &x - &b).norm_max() < 1e-12);
        let mut y = b.clone();
        solve_lower_transpose_in_place(l.as_ref(), y.as_mut());
        assert!((lower.transpose() * &y - &b).norm_max() < 1e-12);
    }

    #[test]
    fn plain_and_faer_paths_solve() {
        check_both_paths(3);
        check_both_paths(FAER_TRIANGULAR_MIN_DIM + 3);
    }

    #[test]
    fn one_by_one() {
        let l = mat![[2.0]];
        let mut x = mat![[4.0]];
        solve_lower_in_place(l.as_ref(), x.as_mut());
        assert_eq!(x[(0, 0)], 2.0);
    }
}
