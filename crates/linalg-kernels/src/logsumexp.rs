//! Log-sum-exp and row log-normalisation, the stable way.
//!
//! `lse(v) = m + ln Σ exp(vᵢ − m)` with `m = max v`: every exponent is ≤ 0,
//! so nothing overflows, and the largest term contributes exactly 1. A slice
//! or row that is all `-inf` (every term has probability zero) gives `-inf`,
//! never NaN. NaN and `+inf` are not logarithms of probabilities: they are
//! reported as [`KernelError::InvalidLogValue`], not propagated.

use crate::KernelError;
use faer::prelude::Reborrow;
use faer::{MatMut, MatRef};

/// `ln Σ exp(vᵢ)`. An empty slice gives `-inf` (the log of an empty sum).
///
/// # Errors
/// [`KernelError::InvalidLogValue`] (row 0, col = index) for NaN or `+inf`.
pub fn log_sum_exp(values: &[f64]) -> Result<f64, KernelError> {
    let mut max = f64::NEG_INFINITY;
    for (index, &v) in values.iter().enumerate() {
        if v.is_nan() || v == f64::INFINITY {
            return Err(KernelError::InvalidLogValue {
                row: 0,
                col: index,
                value: v,
            });
        }
        max = max.max(v);
    }
    if max == f64::NEG_INFINITY {
        return Ok(f64::NEG_INFINITY);
    }
    let sum: f64 = values.iter().map(|&v| (v - max).exp()).sum();
    Ok(max + sum.ln())
}

/// Writes `ln Σⱼ exp(m[i, j])` of every row of `m` (n x k) into `out` (n).
///
/// Allocates nothing.
///
/// # Errors
/// [`KernelError::DimensionMismatch`] if `out.len() != n`;
/// [`KernelError::InvalidLogValue`] naming the first NaN or `+inf` entry.
pub fn row_log_sum_exp(m: MatRef<'_, f64>, out: &mut [f64]) -> Result<(), KernelError> {
    let (n, k) = (m.nrows(), m.ncols());
    if out.len() != n {
        return Err(KernelError::DimensionMismatch {
            what: "row log-sum-exp output",
            expected: n,
            found: out.len(),
        });
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let mut max = f64::NEG_INFINITY;
        for j in 0..k {
            let v = m[(i, j)];
            if v.is_nan() || v == f64::INFINITY {
                return Err(KernelError::InvalidLogValue {
                    row: i,
                    col: j,
                    value: v,
                });
            }
            max = max.max(v);
        }
        *slot = if max == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            max + (0..k).map(|j| (m[(i, j)] - max).exp()).sum::<f64>().ln()
        };
    }
    Ok(())
}

/// Subtracts each row's log-sum-exp from the row, so that `exp` of every row
/// sums to one; writes the log-sum-exps into `row_lse`.
///
/// A row that is all `-inf` is left as it is and its log-sum-exp is `-inf`
/// (it cannot be normalised; the caller decides what a point of zero
/// likelihood means). Allocates nothing.
///
/// # Errors
/// As [`row_log_sum_exp`]; on error `m` is unchanged.
pub fn log_normalize_rows_in_place(mut m: MatMut<'_, f64>, row_lse: &mut [f64]) -> Result<(), KernelError> {
    row_log_sum_exp(m.rb(), row_lse)?;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let lse = row_lse[i];
            if lse != f64::NEG_INFINITY {
                m[(i, j)] -= lse;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::mat;

    #[test]
    fn matches_the_naive_formula_on_small_values() {
        let v = [0.1, -1.0, 2.0];
        let naive = v.iter().map(|x: &f64| x.exp()).sum::<f64>().ln();
        assert!((log_sum_exp(&v).unwrap() - naive).abs() < 1e-14);
    }

    #[test]
    fn does_not_overflow_or_underflow() {
        assert!((log_sum_exp(&[1000.0, 1000.0]).unwrap() - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((log_sum_exp(&[-1000.0, -1000.0]).unwrap() - (-1000.0 + 2f64.ln())).abs() < 1e-12);
    }

    #[test]
    fn all_negative_infinity_gives_negative_infinity() {
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY; 3]).unwrap(), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[]).unwrap(), f64::NEG_INFINITY);
    }

    #[test]
    fn nan_and_positive_infinity_are_reported() {
        assert!(matches!(
            log_sum_exp(&[0.0, f64::NAN]),
            Err(KernelError::InvalidLogValue { col: 1, .. })
        ));
        let m = mat![[0.0, 1.0], [f64::INFINITY, 0.0]];
        let mut out = [0.0; 2];
        assert!(matches!(
            row_log_sum_exp(m.as_ref(), &mut out),
            Err(KernelError::InvalidLogValue { row: 1, col: 0, .. })
        ));
    }

    #[test]
    fn rows_normalise_and_dead_rows_stay_dead() {
        let mut m = mat![
            [0.0, 0.0],
            [f64::NEG_INFINITY, f64::NEG_INFINITY],
            [1.0, f64::NEG_INFINITY]
        ];
        let mut lse = [0.0; 3];
        log_normalize_rows_in_place(m.as_mut(), &mut lse).unwrap();
        assert!((lse[0] - 2f64.ln()).abs() < 1e-15);
        assert_eq!(lse[1], f64::NEG_INFINITY);
        assert_eq!(lse[2], 1.0);
        assert!((m[(0, 0)].exp() + m[(0, 1)].exp() - 1.0).abs() < 1e-15);
        assert_eq!(m[(1, 0)], f64::NEG_INFINITY);
        assert_eq!(m[(2, 0)], 0.0);
        assert!(!m[(1, 1)].is_nan());
    }

    #[test]
    fn row_results_match_the_slice_version() {
        let m = faer::Mat::<f64>::from_fn(1000, 3, |i, j| (i % 7) as f64 - j as f64);
        let mut out = vec![0.0; 1000];
        row_log_sum_exp(m.as_ref(), &mut out).unwrap();
        for i in [0, 500, 999] {
            let row: Vec<f64> = (0..3).map(|j| m[(i, j)]).collect();
            assert!((out[i] - log_sum_exp(&row).unwrap()).abs() < 1e-13);
        }
    }
}
