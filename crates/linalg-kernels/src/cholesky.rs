//! Cholesky factorisation `A = L Lᵀ` of a symmetric positive definite matrix.
//!
//! Two tiers, as in faer: [`cholesky_in_place`] writes the factor into the
//! caller's storage and allocates nothing at the sizes EM uses; [`Cholesky`]
//! owns its factor and offers the operations built on it. [`Cholesky::with_floor`]
//! adds the smallest diagonal jitter of a [`FloorSchedule`] that makes a
//! matrix factor, and reports it.
//!
//! Size policy (measured, see `../../README.md`): a column-oriented loop up to
//! [`FAER_CHOLESKY_MIN_DIM`], faer's blocked factorisation above it. faer's
//! per-call overhead makes it 2-5x slower than the loop below n ≈ 8, and it only
//! pulls ahead from n ≈ 24-32.

use crate::{KernelError, square_dim, triangular};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{LltError, LltRegularization, cholesky_in_place_scratch};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Mat, MatMut, MatRef, Par};

/// From this dimension on, [`cholesky_in_place`] calls faer's blocked
/// factorisation instead of the plain loop.
pub const FAER_CHOLESKY_MIN_DIM: usize = 48;

/// Factors `a = L Lᵀ` in place.
///
/// Reads the lower triangle of `a` (diagonal included) and overwrites it with
/// `L`; the strictly upper triangle is neither read nor written. Allocates
/// nothing when `a` has unit row stride and `n < FAER_CHOLESKY_MIN_DIM`; above
/// that, faer's O(n) scratch and an n x n working copy (n³/3 flops dwarf it).
/// Other strides are factored through an owned copy.
///
/// # Errors
/// - [`KernelError::NotSquare`] if `a` is not square;
/// - [`KernelError::NonFinite`] if the lower triangle holds NaN or ±inf;
/// - [`KernelError::NotPositiveDefinite`] with the failing pivot and its value.
///
/// On error the lower triangle of `a` is unspecified.
pub fn cholesky_in_place(mut a: MatMut<'_, f64>) -> Result<(), KernelError> {
    let n = square_dim(a.nrows(), a.ncols())?;
    check_lower_finite(a.rb())?;
    if a.row_stride() != 1 && n > 1 {
        let mut copy = a.rb().to_owned();
        cholesky_in_place(copy.as_mut())?;
        for j in 0..n {
            for i in j..n {
                a[(i, j)] = copy[(i, j)];
            }
        }
        return Ok(());
    }
    if n < FAER_CHOLESKY_MIN_DIM {
        plain_cholesky(a)
    } else {
        faer_cholesky(a)
    }
}

/// Left-looking column Cholesky on a matrix with contiguous columns.
fn plain_cholesky(mut a: MatMut<'_, f64>) -> Result<(), KernelError> {
    let n = a.nrows();
    for j in 0..n {
        let (left, right) = a.rb_mut().split_at_col_mut(j);
        let col_j = contiguous_col_mut(right, 0);
        for k in 0..j {
            let col_k = contiguous_col(left.rb(), k);
            let l_jk = col_k[j];
            if l_jk != 0.0 {
                for (dst, &src) in col_j[j..].iter_mut().zip(&col_k[j..]) {
                    *dst -= src * l_jk;
                }
            }
        }
        let pivot = col_j[j];
        if !(pivot > 0.0 && pivot.is_finite()) {
            return Err(KernelError::NotPositiveDefinite {
                pivot: j,
                value: pivot,
            });
        }
        let l_jj = pivot.sqrt();
        col_j[j] = l_jj;
        let inv = 1.0 / l_jj;
        for x in &mut col_j[j + 1..] {
            *x *= inv;
        }
    }
    Ok(())
}

fn faer_cholesky(mut a: MatMut<'_, f64>) -> Result<(), KernelError> {
    // faer may use the strictly upper triangle as workspace: factor a copy and
    // write back the lower triangle only, keeping the contract above.
    let n = a.nrows();
    let mut work = a.rb().to_owned();
    let mut buffer = MemBuffer::new(cholesky_in_place_scratch::<f64>(n, Par::Seq, Default::default()));
    let result = faer::linalg::cholesky::llt::factor::cholesky_in_place(
        work.as_mut(),
        LltRegularization::default(),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    );
    if let Err(LltError::NonPositivePivot { .. }) = result {
        // faer reports the index only; the loop reports the value too. Should
        // the loop succeed where faer did not (a matrix on the edge of
        // definiteness), its factor is used.
        work.copy_from(a.rb());
        plain_cholesky(work.as_mut())?;
    }
    copy_lower(work.as_ref(), a.rb_mut());
    Ok(())
}

fn check_lower_finite(a: MatRef<'_, f64>) -> Result<(), KernelError> {
    for j in 0..a.ncols() {
        for i in j..a.nrows() {
            let value = a[(i, j)];
            if !value.is_finite() {
                return Err(KernelError::NonFinite {
                    row: i,
                    col: j,
                    value,
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn contiguous_col(a: MatRef<'_, f64>, j: usize) -> &[f64] {
    a.col(j)
        .try_as_col_major()
        .expect("caller guarantees unit row stride")
        .as_slice()
}

pub(crate) fn contiguous_col_mut(a: MatMut<'_, f64>, j: usize) -> &mut [f64] {
    a.col_mut(j)
        .try_as_col_major_mut()
        .expect("caller guarantees unit row stride")
        .as_slice_mut()
}

/// How [`Cholesky::with_floor`] searches for a diagonal jitter.
///
/// The k-th attempt adds `initial_relative · growth^k · scale` to the
/// diagonal, where `scale` is the mean absolute diagonal entry (1 if that is
/// 0). The search stops at the first jitter for which the matrix factors and
/// the condition estimate `(max Lᵢᵢ / min Lᵢᵢ)²` (a lower bound on the
/// 2-norm condition number) is at most `max_condition`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloorSchedule {
    /// First relative jitter tried after a failure.
    pub initial_relative: f64,
    /// Factor between consecutive jitters (> 1).
    pub growth: f64,
    /// Largest relative jitter tried before giving up.
    pub max_relative: f64,
    /// Largest accepted condition estimate.
    pub max_condition: f64,
}

impl Default for FloorSchedule {
    /// `1e-12, ×10, up to 1e-1, condition ≤ 1e12`.
    fn default() -> Self {
        Self {
            initial_relative: 1e-12,
            growth: 10.0,
            max_relative: 1e-1,
            max_condition: 1e12,
        }
    }
}

/// What [`Cholesky::with_floor`] added to the diagonal.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FloorInfo {
    /// Absolute jitter added to every diagonal entry (0 if none was needed).
    pub jitter: f64,
    /// Number of factorisations attempted (1 if the matrix factored as given).
    pub attempts: usize,
}

impl FloorInfo {
    /// True when a jitter had to be added.
    #[must_use]
    pub fn was_applied(&self) -> bool {
        self.jitter > 0.0
    }
}

/// An owned Cholesky factor `L` (lower triangular, strictly upper part zero)
/// of a symmetric positive definite matrix `A = L Lᵀ`.
///
/// # Examples
/// ```
/// use linalg_kernels::Cholesky;
/// let a = faer::mat![[4.0, 2.0], [2.0, 3.0]];
/// let chol = Cholesky::new(a.as_ref()).unwrap();
/// assert!((chol.log_det() - (8.0f64).ln()).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Cholesky {
    l: Mat<f64>,
}

impl Cholesky {
    /// Factors `a`, reading its lower triangle. Allocates the n x n factor.
    ///
    /// # Errors
    /// As [`cholesky_in_place`].
    pub fn new(a: MatRef<'_, f64>) -> Result<Self, KernelError> {
        let n = square_dim(a.nrows(), a.ncols())?;
        let mut l = Mat::zeros(n, n);
        copy_lower(a, l.as_mut());
        cholesky_in_place(l.as_mut())?;
        Ok(Self { l })
    }

    /// Factors `a + jitter·I` with the smallest jitter of `schedule` that
    /// factors and meets the condition bound; reports the jitter.
    ///
    /// Reads the lower triangle of `a`. Never returns NaN: non-finite input is
    /// an error.
    ///
    /// # Errors
    /// - [`KernelError::NotSquare`], [`KernelError::NonFinite`] for bad input;
    /// - [`KernelError::FloorExhausted`] when the largest jitter still fails.
    pub fn with_floor(
        a: MatRef<'_, f64>,
        schedule: &FloorSchedule,
    ) -> Result<(Self, FloorInfo), KernelError> {
        let n = square_dim(a.nrows(), a.ncols())?;
        check_lower_finite(a)?;
        let mean_abs_diag = (0..n).map(|i| a[(i, i)].abs()).sum::<f64>() / n.max(1) as f64;
        let scale = if mean_abs_diag > 0.0 { mean_abs_diag } else { 1.0 };
        let mut l = Mat::zeros(n, n);
        let mut jitter = 0.0;
        let mut relative = schedule.initial_relative;
        let mut attempts = 0;
        loop {
            attempts += 1;
            copy_lower(a, l.as_mut());
            for i in 0..n {
                l[(i, i)] += jitter;
            }
            let failed_pivot = match cholesky_in_place(l.as_mut()) {
                Ok(()) => {
                    let chol = Self { l };
                    if chol.condition_estimate() <= schedule.max_condition {
                        return Ok((chol, FloorInfo { jitter, attempts }));
                    }
                    l = chol.l;
                    n.saturating_sub(1)
                }
                Err(KernelError::NotPositiveDefinite { pivot, .. }) => pivot,
                Err(other) => return Err(other),
            };
            if relative > schedule.max_relative || !(schedule.growth > 1.0) {
                return Err(KernelError::FloorExhausted {
                    jitter,
                    pivot: failed_pivot,
                });
            }
            jitter = relative * scale;
            relative *= schedule.growth;
        }
    }

    /// Wraps an existing lower-triangular factor (its strictly upper part is
    /// ignored and zeroed).
    ///
    /// # Errors
    /// [`KernelError::NotSquare`]; [`KernelError::NotPositiveDefinite`] if a
    /// diagonal entry is not strictly positive and finite.
    pub fn from_factor(l: Mat<f64>) -> Result<Self, KernelError> {
        let n = square_dim(l.nrows(), l.ncols())?;
        let mut l = l;
        for j in 0..n {
            let d = l[(j, j)];
            if !(d > 0.0 && d.is_finite()) {
                return Err(KernelError::NotPositiveDefinite { pivot: j, value: d });
            }
            for i in 0..j {
                l[(i, j)] = 0.0;
            }
        }
        Ok(Self { l })
    }

    /// The dimension n.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.l.nrows()
    }

    /// The factor `L` (lower triangular).
    #[must_use]
    pub fn factor(&self) -> MatRef<'_, f64> {
        self.l.as_ref()
    }

    /// `ln det A = 2 Σ ln Lᵢᵢ`.
    #[must_use]
    pub fn log_det(&self) -> f64 {
        log_det_from_factor(self.l.as_ref())
    }

    /// `(max Lᵢᵢ / min Lᵢᵢ)²`, a cheap lower bound on the condition number of `A`.
    #[must_use]
    pub fn condition_estimate(&self) -> f64 {
        let n = self.dim();
        if n == 0 {
            return 1.0;
        }
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for i in 0..n {
            let d = self.l[(i, i)];
            lo = lo.min(d);
            hi = hi.max(d);
        }
        (hi / lo).powi(2)
    }

    /// Overwrites `rhs` (n x m) with `A⁻¹ rhs`. Allocates nothing.
    ///
    /// # Errors
    /// [`KernelError::DimensionMismatch`] if `rhs` does not have n rows.
    pub fn solve_in_place(&self, mut rhs: MatMut<'_, f64>) -> Result<(), KernelError> {
        self.check_rows(rhs.nrows())?;
        triangular::solve_lower_in_place(self.l.as_ref(), rhs.rb_mut());
        triangular::solve_lower_transpose_in_place(self.l.as_ref(), rhs);
        Ok(())
    }

    /// Returns `A⁻¹ b` for one right-hand side.
    ///
    /// # Errors
    /// [`KernelError::DimensionMismatch`] if `b.len() != n`.
    pub fn solve(&self, b: &[f64]) -> Result<Vec<f64>, KernelError> {
        let mut x = b.to_vec();
        let n = x.len();
        self.solve_in_place(MatMut::from_column_major_slice_mut(&mut x, n, 1))?;
        Ok(x)
    }

    /// Overwrites `rhs` (n x m) with `L⁻¹ rhs` (whitening: the squared column
    /// norms are then Mahalanobis distances). Allocates nothing.
    ///
    /// # Errors
    /// [`KernelError::DimensionMismatch`] if `rhs` does not have n rows.
    pub fn whiten_in_place(&self, rhs: MatMut<'_, f64>) -> Result<(), KernelError> {
        self.check_rows(rhs.nrows())?;
        triangular::solve_lower_in_place(self.l.as_ref(), rhs);
        Ok(())
    }

    /// The squared Mahalanobis norm `xᵀ A⁻¹ x = ‖L⁻¹ x‖²` of one vector.
    ///
    /// # Errors
    /// [`KernelError::DimensionMismatch`] if `x.len() != n`.
    pub fn mahalanobis_squared(&self, x: &[f64]) -> Result<f64, KernelError> {
        let mut z = x.to_vec();
        let n = z.len();
        self.whiten_in_place(MatMut::from_column_major_slice_mut(&mut z, n, 1))?;
        Ok(z.iter().map(|v| v * v).sum())
    }

    /// `A⁻¹`, for the rare places that need the explicit inverse (prefer the
    /// solves). Allocates n x n; the result is exactly symmetric.
    #[must_use]
    pub fn inverse(&self) -> Mat<f64> {
        let n = self.dim();
        let mut inv = Mat::zeros(n, n);
        self.inverse_into(inv.as_mut());
        inv
    }

    /// `A⁻¹` written into `out` (n x n), without allocating: for a caller
    /// that needs one inverse per step of a recursion.
    ///
    /// # Panics
    /// If `out` is not n x n.
    pub fn inverse_into(&self, mut out: MatMut<'_, f64>) {
        let n = self.dim();
        assert_eq!((out.nrows(), out.ncols()), (n, n), "inverse_into: output shape");
        out.fill(0.0);
        out.rb_mut().diagonal_mut().fill(1.0);
        triangular::solve_lower_in_place(self.l.as_ref(), out.rb_mut());
        triangular::solve_lower_transpose_in_place(self.l.as_ref(), out.rb_mut());
        crate::symmetrize(out).expect("square by construction");
    }

    /// `L Lᵀ`, the matrix this factor represents. Allocates n x n.
    #[must_use]
    pub fn reconstruct(&self) -> Mat<f64> {
        self.l.as_ref() * self.l.as_ref().transpose()
    }

    fn check_rows(&self, rows: usize) -> Result<(), KernelError> {
        if rows == self.dim() {
            Ok(())
        } else {
            Err(KernelError::DimensionMismatch {
                what: "right-hand side rows",
                expected: self.dim(),
                found: rows,
            })
        }
    }
}

/// `2 Σ ln Lᵢᵢ` from a Cholesky factor (reads the diagonal only).
#[must_use]
pub fn log_det_from_factor(l: MatRef<'_, f64>) -> f64 {
    let n = l.nrows().min(l.ncols());
    2.0 * ln_product_of((0..n).map(|i| l[(i, i)]))
}

/// `Σ ln vᵢ = ln Π vᵢ` with one logarithm instead of one per value (for
/// example `ln det S` from the pivots `L_ii²` of its factor). Exact in the
/// exponents: no overflow or underflow whatever the number of values.
#[must_use]
pub fn ln_product(values: &[f64]) -> f64 {
    ln_product_of(values.iter().copied())
}

fn ln_product_of(values: impl Iterator<Item = f64> + Clone) -> f64 {
    if !values.clone().all(f64::is_normal) {
        // Zero, subnormal, infinite or NaN values: the plain sum says what it is.
        return values.map(f64::ln).sum::<f64>();
    }
    // Four interleaved products whose binary exponents are taken out after
    // every factor (so they stay in [1, 2) or (-2, -1] and never overflow),
    // summed exactly as integers.
    let mut mantissas = [1.0f64; 4];
    let mut exponents = 0i64;
    for (i, d) in values.enumerate() {
        let m = &mut mantissas[i % 4];
        let (mantissa, exponent) = split_exponent(*m * d);
        *m = mantissa;
        exponents += exponent;
    }
    let product = (mantissas[0] * mantissas[1]) * (mantissas[2] * mantissas[3]);
    product.ln() + exponents as f64 * std::f64::consts::LN_2
}

/// `x = m · 2^e` with `|m|` in [1, 2), for a normal `x`.
fn split_exponent(x: f64) -> (f64, i64) {
    const EXPONENT: u64 = 0x7ff << 52;
    let bits = x.to_bits();
    let e = ((bits & EXPONENT) >> 52) as i64 - 1023;
    (f64::from_bits((bits & !EXPONENT) | (1023 << 52)), e)
}

fn copy_lower(src: MatRef<'_, f64>, mut dst: MatMut<'_, f64>) {
    for j in 0..src.ncols() {
        for i in j..src.nrows() {
            dst[(i, j)] = src[(i, j)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::mat;

    #[test]
    fn factors_a_hand_checked_matrix() {
        let a = mat![[4.0, 2.0, 0.4], [2.0, 10.0, 2.2], [0.4, 2.2, 3.0]];
        let chol = Cholesky::new(a.as_ref()).unwrap();
        let expected = mat![[2.0, 0.0, 0.0], [1.0, 3.0, 0.0], [0.2, 2.0 / 3.0, 0.0]];
        for i in 0..3 {
            for j in 0..2 {
                assert!((chol.factor()[(i, j)] - expected[(i, j)]).abs() < 1e-14);
            }
        }
        let l22 = (3.0f64 - 0.04 - 4.0 / 9.0).sqrt();
        assert!((chol.factor()[(2, 2)] - l22).abs() < 1e-14);
    }

    #[test]
    fn reads_only_the_lower_triangle() {
        let a = mat![[4.0, f64::NAN], [2.0, 3.0]];
        let chol = Cholesky::new(a.as_ref()).unwrap();
        assert!((chol.log_det() - 8.0f64.ln()).abs() < 1e-14);
    }

    #[test]
    fn reports_the_failing_pivot_and_its_value() {
        let a = mat![[1.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 2.0, 1.0]];
        let err = Cholesky::new(a.as_ref()).unwrap_err();
        assert_eq!(
            err,
            KernelError::NotPositiveDefinite {
                pivot: 2,
                value: -3.0
            }
        );
    }

    #[test]
    fn reports_non_finite_entries() {
        let a = mat![[1.0, 0.0], [f64::INFINITY, 1.0]];
        assert!(matches!(
            Cholesky::new(a.as_ref()),
            Err(KernelError::NonFinite { row: 1, col: 0, .. })
        ));
    }

    #[test]
    fn large_matrices_go_through_faer_and_report_the_value_too() {
        let n = FAER_CHOLESKY_MIN_DIM + 5;
        let mut a = Mat::<f64>::identity(n, n);
        a[(n - 1, n - 1)] = -2.0;
        assert_eq!(
            Cholesky::new(a.as_ref()).unwrap_err(),
            KernelError::NotPositiveDefinite {
                pivot: n - 1,
                value: -2.0
            }
        );
        let b = Mat::<f64>::from_fn(n, n, |i, j| if i == j { 2.0 } else { 0.5 });
        let chol = Cholesky::new(b.as_ref()).unwrap();
        let err = (chol.reconstruct() - &b).norm_max();
        assert!(err < 1e-12, "{err}");
    }

    #[test]
    fn strided_input_is_factored_through_a_copy() {
        let a = mat![[4.0, 2.0], [2.0, 3.0]];
        let mut t = a.transpose().to_owned();
        // A transposed view has a non-unit row stride.
        cholesky_in_place(t.as_mut().transpose_mut()).unwrap();
        assert!((t[(0, 0)] - 2.0).abs() < 1e-15);
        assert!((t[(0, 1)] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn floor_adds_jitter_to_a_singular_matrix_and_reports_it() {
        let a = mat![[1.0, 1.0], [1.0, 1.0]];
        let (chol, info) = Cholesky::with_floor(a.as_ref(), &FloorSchedule::default()).unwrap();
        assert!(info.was_applied());
        assert!(info.attempts > 1);
        assert!(chol.condition_estimate() <= 1e12);
        assert!(chol.log_det().is_finite());
    }

    #[test]
    fn floor_is_not_applied_to_a_well_conditioned_matrix() {
        let a = mat![[2.0, 0.5], [0.5, 1.0]];
        let (_, info) = Cholesky::with_floor(a.as_ref(), &FloorSchedule::default()).unwrap();
        assert_eq!(
            info,
            FloorInfo {
                jitter: 0.0,
                attempts: 1
            }
        );
    }

    #[test]
    fn floor_gives_up_on_a_strongly_indefinite_matrix() {
        let a = mat![[1.0, 0.0], [0.0, -5.0]];
        assert!(matches!(
            Cholesky::with_floor(a.as_ref(), &FloorSchedule::default()),
            Err(KernelError::FloorExhausted { pivot: 1, .. })
        ));
    }

    #[test]
    fn solve_inverse_and_whiten_agree() {
        let a = mat![[4.0, 2.0, 0.4], [2.0, 10.0, 2.2], [0.4, 2.2, 3.0]];
        let chol = Cholesky::new(a.as_ref()).unwrap();
        let b = [1.0, -2.0, 0.5];
        let x = chol.solve(&b).unwrap();
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| a[(i, j)] * x[j]).sum();
            assert!((ax - b[i]).abs() < 1e-13);
        }
        let inv = chol.inverse();
        let eye = &a * &inv;
        assert!((eye - Mat::<f64>::identity(3, 3)).norm_max() < 1e-13);
        let quad: f64 = b.iter().zip(&x).map(|(u, v)| u * v).sum();
        assert!((chol.mahalanobis_squared(&b).unwrap() - quad).abs() < 1e-12);
        assert!(matches!(
            chol.solve(&[1.0]),
            Err(KernelError::DimensionMismatch {
                expected: 3,
                found: 1,
                ..
            })
        ));
    }

    #[test]
    fn from_factor_rejects_a_zero_diagonal() {
        let l = mat![[1.0, 0.0], [3.0, 0.0]];
        assert!(matches!(
            Cholesky::from_factor(l),
            Err(KernelError::NotPositiveDefinite { pivot: 1, .. })
        ));
    }

    #[test]
    fn log_det_takes_one_logarithm_without_overflow() {
        let values = [3.7, 1e300, 2e-300, 0.5, 1e200, 1e200, 7.0, 1e-310, 1.0];
        for n in [1, 2, 5, 8, 9] {
            let d = &values[..n];
            let l = Mat::<f64>::from_fn(n, n, |i, j| if i == j { d[i] } else { 0.25 });
            let want = 2.0 * d.iter().map(|x| x.ln()).sum::<f64>();
            for got in [log_det_from_factor(l.as_ref()), 2.0 * ln_product(d)] {
                assert!(
                    (got - want).abs() <= 1e-13 * want.abs().max(1.0),
                    "n = {n}: {got} vs {want}"
                );
            }
        }
        assert_eq!(ln_product(&[]), 0.0);
        assert_eq!(ln_product(&[2.0, 0.0]), f64::NEG_INFINITY);
        let nan = Mat::<f64>::from_fn(2, 2, |i, _| if i == 0 { -1.0 } else { 2.0 });
        assert!(log_det_from_factor(nan.as_ref()).is_nan());
    }

    #[test]
    fn empty_matrix_factors_with_zero_log_det() {
        let chol = Cholesky::new(Mat::<f64>::zeros(0, 0).as_ref()).unwrap();
        assert_eq!(chol.log_det(), 0.0);
    }
}
