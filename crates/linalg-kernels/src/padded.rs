//! Cholesky factorisation and triangular solves for small matrices held in
//! padded column-major buffers, vectorised with the widest instruction set
//! the CPU offers (AVX-512, AVX2+FMA, or the baseline), chosen once at run
//! time.
//!
//! Why: a Kalman filter factors an n x n innovation covariance and solves
//! with it at every time step, with n ≈ 20 (21 in the robot-arm scenario).
//! There [`cholesky_in_place`](crate::cholesky_in_place) runs a loop compiled
//! for the baseline x86-64 instruction set (~0.7-0.9 µs at n = 21) and faer's
//! triangular solve with 21 right-hand sides costs ~0.7 µs; these kernels
//! take ~3-4x less. [`cholesky_panel_padded`] factors and solves in one
//! pass; [`solve_right_lower_padded`] and [`solve_lower_vector_padded`] are
//! the solves that follow a factorisation.
//!
//! Layout: an r x c matrix is a slice `m` with entry (i, j) at
//! `m[j * ld + i]`, where the leading dimension `ld ≥ r` is a multiple of
//! [`PAD`]. Rows `r..ld` of every column are padding: they must be finite
//! (keep them zero) and the kernels may update them; zero padding stays zero.
//! Every function checks the layout and returns
//! [`KernelError::DimensionMismatch`] if a slice is too short or `ld` is not
//! a multiple of [`PAD`].
//!
//! Same sums, same order as the scalar kernels (left-looking Cholesky,
//! substitution); with FMA the roundings differ by a few ulps.

use crate::KernelError;
use crate::isa::mul_add;

/// Lanes of one vector; every leading dimension is a multiple of it.
pub const PAD: usize = 8;

/// `n` rounded up to a multiple of [`PAD`] (at least [`PAD`]).
#[must_use]
pub fn padded_dim(n: usize) -> usize {
    n.div_ceil(PAD).max(1) * PAD
}

fn check_layout(
    what: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    ld: usize,
) -> Result<(), KernelError> {
    if !ld.is_multiple_of(PAD) || ld < rows {
        return Err(KernelError::DimensionMismatch {
            what,
            expected: padded_dim(rows),
            found: ld,
        });
    }
    let needed = ld * cols;
    if len < needed {
        return Err(KernelError::DimensionMismatch {
            what,
            expected: needed,
            found: len,
        });
    }
    Ok(())
}

/// Factors the top of a tall panel and solves the rows below with it, in
/// one pass: the `ld x n` panel `[S; X]` (rows `0..n` hold the symmetric
/// positive definite `S`, lower triangle read; rows `n..ld` any finite `X`)
/// becomes `[L; X L⁻ᵀ]` with `S = L Lᵀ`. Entries of the strictly upper
/// triangle that share an 8-row block with the diagonal may be overwritten
/// (treat the strictly upper triangle as scratch). With `X = 0` (zero
/// padding rows) this is the plain factorisation of `S`, and the padding
/// stays zero.
///
/// Why: the left-looking column loop updates every row of a column with
/// the same multipliers, so rows below the factor are solved by the loop
/// that factors it. For the Kalman update, with `S = H P Hᵀ + R` on top,
/// `P Hᵀ` below it and the innovation `vᵀ` as one more row, the rows below
/// become `Uᵀ = P Hᵀ L⁻ᵀ` and `zᵀ = (L⁻¹ v)ᵀ`: at n = 21 this cost ~25%
/// less than the factorisation followed by a separate column-by-column
/// solve (their dependency chains overlap). Allocates nothing, at any n.
///
/// # Errors
/// [`KernelError::DimensionMismatch`] for a bad layout;
/// [`KernelError::NonFinite`] if the lower triangle of the top block holds
/// NaN or ±inf (a non-finite `X` gives non-finite rows below, unchecked);
/// [`KernelError::NotPositiveDefinite`] with the failing pivot and its value.
pub fn cholesky_panel_padded(a: &mut [f64], n: usize, ld: usize) -> Result<(), KernelError> {
    check_layout("padded Cholesky panel", a.len(), n, n, ld)?;
    check_lower_finite(a, n, ld)?;
    crate::isa_dispatch!(cholesky(a, n, ld))
}

fn check_lower_finite(a: &[f64], n: usize, ld: usize) -> Result<(), KernelError> {
    for j in 0..n {
        let col = &a[j * ld + j..j * ld + n];
        // A branch-free fold the compiler vectorises (a `sum` would be a
        // serial chain of additions).
        if col.iter().fold(false, |bad, v| bad | !v.is_finite()) {
            let (i, &value) = col
                .iter()
                .enumerate()
                .find(|(_, v)| !v.is_finite())
                .expect("a non-finite entry exists");
            return Err(KernelError::NonFinite {
                row: j + i,
                col: j,
                value,
            });
        }
    }
    Ok(())
}

/// Overwrites the `rows x n` matrix `x` with `x L⁻¹` (solves `Y L = X`),
/// for the n x n lower-triangular factor `l` (upper triangle not read).
///
/// Column by column from the last:
/// `Y[:, j] = (X[:, j] − Σ_{k>j} Y[:, k] L[k, j]) · (1 / L[j, j])`,
/// vectorised over the rows. After [`cholesky_panel_padded`] of `[P; X]`
/// it turns the rows `X L⁻ᵀ` into `X P⁻¹` (the RTS gain
/// `G = P_f Aᵀ P_p⁻¹`). Allocates nothing.
///
/// # Errors
/// [`KernelError::DimensionMismatch`] for a bad layout.
pub fn solve_right_lower_padded(
    l: &[f64],
    n: usize,
    ldl: usize,
    x: &mut [f64],
    rows: usize,
    ldx: usize,
) -> Result<(), KernelError> {
    check_layout("padded triangular factor", l.len(), n, n, ldl)?;
    check_layout("padded right-hand side", x.len(), rows, n, ldx)?;
    let vectors = padded_dim(rows) / PAD;
    crate::isa_dispatch!(solve_right(l, n, ldl, x, vectors, ldx));
    Ok(())
}

/// Overwrites the vector `x` (length ≥ n) with `L⁻¹ x` (forward
/// substitution, column-oriented axpys) for the n x n lower-triangular
/// factor `l`. Multiplies by `1 / L[j, j]`, which keeps the division off the
/// critical path. Allocates nothing.
///
/// # Errors
/// [`KernelError::DimensionMismatch`] for a bad layout or a short `x`.
pub fn solve_lower_vector_padded(l: &[f64], n: usize, ldl: usize, x: &mut [f64]) -> Result<(), KernelError> {
    check_layout("padded triangular factor", l.len(), n, n, ldl)?;
    if x.len() < n {
        return Err(KernelError::DimensionMismatch {
            what: "padded vector",
            expected: n,
            found: x.len(),
        });
    }
    crate::isa_dispatch!(solve_vector(l, n, ldl, x));
    Ok(())
}

/// One module per instruction set: the same loops compiled with that set's
/// features. The block kernels are separate (non-inlined) functions, which
/// keeps the accumulators in registers.
macro_rules! isa_kernels {
    ($name:ident, $fma:literal $(, $features:literal)?) => {
        mod $name {
            use super::{KernelError, PAD, chol_block, right_block, vector_body};

            $(#[target_feature(enable = $features)])?
            pub(super) fn cholesky(a: &mut [f64], n: usize, ld: usize) -> Result<(), KernelError> {
                for j in 0..n {
                    let (left, right) = a.split_at_mut(j * ld);
                    let col = &mut right[..ld];
                    let mut b = j / PAD * PAD;
                    while b < ld {
                        let vectors = ((ld - b) / PAD).min(4);
                        match vectors {
                            4 => block::<4>(left, col, j, b, ld),
                            3 => block::<3>(left, col, j, b, ld),
                            2 => block::<2>(left, col, j, b, ld),
                            _ => block::<1>(left, col, j, b, ld),
                        }
                        b += vectors * PAD;
                    }
                    let pivot = col[j];
                    if !(pivot > 0.0 && pivot.is_finite()) {
                        return Err(KernelError::NotPositiveDefinite { pivot: j, value: pivot });
                    }
                    let l_jj = pivot.sqrt();
                    col[j] = l_jj;
                    let inv = 1.0 / l_jj;
                    for x in &mut col[j + 1..] {
                        *x *= inv;
                    }
                }
                Ok(())
            }

            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn block<const NV: usize>(left: &[f64], col: &mut [f64], j: usize, b: usize, ld: usize) {
                chol_block::<NV, $fma>(left, col, j, b, ld);
            }

            $(#[target_feature(enable = $features)])?
            pub(super) fn solve_right(
                l: &[f64],
                n: usize,
                ldl: usize,
                x: &mut [f64],
                vectors: usize,
                ldx: usize,
            ) {
                let mut b = 0;
                while b < vectors {
                    let nv = (vectors - b).min(4);
                    // Backward over j; the coefficients L[k, j], k > j, are column j of L.
                    for j in (0..n).rev() {
                        let column = &l[j * ldl..j * ldl + n];
                        let inv = 1.0 / column[j];
                        match nv {
                            4 => rblock::<4>(x, ldx, b * PAD, j, column, inv),
                            3 => rblock::<3>(x, ldx, b * PAD, j, column, inv),
                            2 => rblock::<2>(x, ldx, b * PAD, j, column, inv),
                            _ => rblock::<1>(x, ldx, b * PAD, j, column, inv),
                        }
                    }
                    b += nv;
                }
            }

            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn rblock<const NV: usize>(x: &mut [f64], ldx: usize, r: usize, j: usize, column: &[f64], inv: f64) {
                right_block::<NV, $fma>(x, ldx, r, j, column, inv);
            }

            $(#[target_feature(enable = $features)])?
            pub(super) fn solve_vector(l: &[f64], n: usize, ldl: usize, x: &mut [f64]) {
                vector_body::<$fma>(l, n, ldl, x);
            }
        }
    };
}

crate::for_each_isa!(isa_kernels);

/// `col[b..b + NV·8] −= Σ_{k<j} L[j, k] · L[b.., k]` with two interleaved
/// accumulators (even and odd k) to halve the dependency chains.
#[inline(always)]
fn chol_block<const NV: usize, const FMA: bool>(
    left: &[f64],
    col: &mut [f64],
    j: usize,
    b: usize,
    ld: usize,
) {
    let mut even = [[0.0f64; PAD]; NV];
    let mut odd = [[0.0f64; PAD]; NV];
    let dst = &mut col[b..b + NV * PAD];
    for v in 0..NV {
        even[v].copy_from_slice(&dst[v * PAD..(v + 1) * PAD]);
    }
    let mut pairs = left.chunks_exact(2 * ld).take(j / 2);
    for pair in pairs.by_ref() {
        let (c0, c1) = pair.split_at(ld);
        let (l0, l1) = (-c0[j], -c1[j]);
        let (c0, c1) = (&c0[b..b + NV * PAD], &c1[b..b + NV * PAD]);
        for v in 0..NV {
            for s in 0..PAD {
                even[v][s] = mul_add::<FMA>(l0, c0[v * PAD + s], even[v][s]);
                odd[v][s] = mul_add::<FMA>(l1, c1[v * PAD + s], odd[v][s]);
            }
        }
    }
    if j % 2 == 1 {
        let c0 = &left[(j - 1) * ld..j * ld];
        let l0 = -c0[j];
        let c0 = &c0[b..b + NV * PAD];
        for v in 0..NV {
            for s in 0..PAD {
                even[v][s] = mul_add::<FMA>(l0, c0[v * PAD + s], even[v][s]);
            }
        }
    }
    for v in 0..NV {
        for s in 0..PAD {
            dst[v * PAD + s] = even[v][s] + odd[v][s];
        }
    }
}

/// `X[r.., j] = (X[r.., j] − Σ_{k>j} L[k, j] X[r.., k]) · inv` on the row
/// block `r..r + NV·8`, with `column` = column j of L (length n) and two
/// interleaved accumulators.
#[inline(always)]
fn right_block<const NV: usize, const FMA: bool>(
    x: &mut [f64],
    ldx: usize,
    r: usize,
    j: usize,
    column: &[f64],
    inv: f64,
) {
    let ks = j + 1..column.len();
    let mut even = [[0.0f64; PAD]; NV];
    let mut odd = [[0.0f64; PAD]; NV];
    {
        let src = &x[j * ldx + r..j * ldx + r + NV * PAD];
        for v in 0..NV {
            even[v].copy_from_slice(&src[v * PAD..(v + 1) * PAD]);
        }
    }
    let mut k = ks.start;
    while k + 1 < ks.end {
        let (l0, l1) = (-column[k], -column[k + 1]);
        let c0 = &x[k * ldx + r..k * ldx + r + NV * PAD];
        let c1 = &x[(k + 1) * ldx + r..(k + 1) * ldx + r + NV * PAD];
        for v in 0..NV {
            for s in 0..PAD {
                even[v][s] = mul_add::<FMA>(l0, c0[v * PAD + s], even[v][s]);
                odd[v][s] = mul_add::<FMA>(l1, c1[v * PAD + s], odd[v][s]);
            }
        }
        k += 2;
    }
    if k < ks.end {
        let l0 = -column[k];
        let c0 = &x[k * ldx + r..k * ldx + r + NV * PAD];
        for v in 0..NV {
            for s in 0..PAD {
                even[v][s] = mul_add::<FMA>(l0, c0[v * PAD + s], even[v][s]);
            }
        }
    }
    let dst = &mut x[j * ldx + r..j * ldx + r + NV * PAD];
    for v in 0..NV {
        for s in 0..PAD {
            dst[v * PAD + s] = (even[v][s] + odd[v][s]) * inv;
        }
    }
}

#[inline(always)]
fn vector_body<const FMA: bool>(l: &[f64], n: usize, ldl: usize, x: &mut [f64]) {
    let x = &mut x[..n];
    for j in 0..n {
        let col = &l[j * ldl..j * ldl + n];
        let xj = x[j] * (1.0 / col[j]);
        x[j] = xj;
        for (xi, &lij) in x[j + 1..].iter_mut().zip(&col[j + 1..]) {
            *xi = mul_add::<FMA>(-lij, xj, *xi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cholesky, triangular};
    use faer::{Mat, MatRef};

    fn spd(n: usize) -> Mat<f64> {
        let b = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.4);
        let mut a = &b * b.transpose();
        for i in 0..n {
            a[(i, i)] += 0.5 + i as f64 * 0.01;
        }
        a
    }

    fn padded(m: MatRef<'_, f64>) -> (Vec<f64>, usize) {
        let ld = padded_dim(m.nrows());
        let mut v = vec![0.0; ld * m.ncols()];
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                v[j * ld + i] = m[(i, j)];
            }
        }
        (v, ld)
    }

    #[test]
    fn cholesky_matches_the_scalar_kernel() {
        for n in [1, 2, 7, 8, 9, 16, 21, 24, 33, 47, 50] {
            let a = spd(n);
            let reference = Cholesky::new(a.as_ref()).unwrap();
            let (mut buf, ld) = padded(a.as_ref());
            cholesky_panel_padded(&mut buf, n, ld).unwrap();
            for j in 0..n {
                for i in j..n {
                    let d = (buf[j * ld + i] - reference.factor()[(i, j)]).abs();
                    assert!(d < 1e-12, "n = {n}, ({i}, {j}): {d}");
                }
                for i in n..ld {
                    assert_eq!(buf[j * ld + i], 0.0, "padding stays zero");
                }
            }
        }
    }

    #[test]
    fn cholesky_reports_pivot_and_non_finite_entries() {
        let a = faer::mat![[1.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 2.0, 1.0]];
        let (mut buf, ld) = padded(a.as_ref());
        assert_eq!(
            cholesky_panel_padded(&mut buf, 3, ld),
            Err(KernelError::NotPositiveDefinite {
                pivot: 2,
                value: -3.0
            })
        );
        let (mut buf, ld) = padded(a.as_ref());
        buf[ld + 2] = f64::NAN;
        assert!(matches!(
            cholesky_panel_padded(&mut buf, 3, ld),
            Err(KernelError::NonFinite { row: 2, col: 1, .. })
        ));
        let mut short = vec![0.0; 5];
        assert!(matches!(
            cholesky_panel_padded(&mut short, 3, 8),
            Err(KernelError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            cholesky_panel_padded(&mut buf, 3, 3),
            Err(KernelError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn the_panel_factors_its_top_and_solves_the_rows_below() {
        for (n, rows) in [(1, 1), (3, 9), (8, 8), (21, 22), (13, 40)] {
            let a = spd(n);
            let x = Mat::<f64>::from_fn(rows, n, |i, j| (0.3 * i as f64 + j as f64).cos());
            let (top, below) = (padded_dim(n), padded_dim(rows));
            let ld = top + below;
            let mut panel = vec![0.0; ld * n];
            for j in 0..n {
                for i in 0..n {
                    panel[j * ld + i] = a[(i, j)];
                }
                for i in 0..rows {
                    panel[j * ld + top + i] = x[(i, j)];
                }
            }
            cholesky_panel_padded(&mut panel, n, ld).unwrap();
            // The square factorisation (no rows below), and `Y Lᵀ = X` as
            // `L Yᵀ = Xᵀ` by the scalar triangular solve.
            let (mut l, ldl) = padded(a.as_ref());
            cholesky_panel_padded(&mut l, n, ldl).unwrap();
            let factor = Mat::<f64>::from_fn(n, n, |i, j| if i >= j { l[j * ldl + i] } else { 0.0 });
            let mut yt = x.transpose().to_owned();
            triangular::solve_lower_in_place(factor.as_ref(), yt.as_mut());
            let ldy = rows;
            let y: Vec<f64> = (0..n * rows).map(|v| yt[(v / rows, v % rows)]).collect();
            for j in 0..n {
                for i in j..n {
                    assert!(
                        (panel[j * ld + i] - l[j * ldl + i]).abs() < 1e-13,
                        "L, {n} {rows}"
                    );
                }
                for i in n..top {
                    assert_eq!(panel[j * ld + i], 0.0, "padding stays zero");
                }
                for i in 0..rows {
                    let d = (panel[j * ld + top + i] - y[j * ldy + i]).abs();
                    assert!(d < 1e-12, "X L⁻ᵀ, {n} {rows}: {d}");
                }
            }
        }
        let mut bad = vec![0.0; 16];
        bad[8] = f64::INFINITY;
        bad[0] = 1.0;
        assert!(matches!(cholesky_panel_padded(&mut bad, 1, 16), Ok(())));
        bad[0] = -1.0;
        assert_eq!(
            cholesky_panel_padded(&mut bad, 1, 16),
            Err(KernelError::NotPositiveDefinite {
                pivot: 0,
                value: -1.0
            })
        );
    }

    #[test]
    fn right_solves_match_the_left_solves_of_the_transpose() {
        for (n, rows) in [(1, 1), (5, 3), (21, 21), (21, 40), (9, 33)] {
            let chol = Cholesky::new(spd(n).as_ref()).unwrap();
            let (l, ldl) = padded(chol.factor());
            let x = Mat::<f64>::from_fn(rows, n, |i, j| (i as f64 - 2.0 * j as f64).sin());
            // Y Lᵀ = X as the rows below the factor of the panel [A; X].
            let (top, ldx) = (ldl, padded_dim(rows));
            let a = spd(n);
            let mut panel = vec![0.0; (top + ldx) * n];
            for j in 0..n {
                for i in 0..n {
                    panel[j * (top + ldx) + i] = a[(i, j)];
                }
                for i in 0..rows {
                    panel[j * (top + ldx) + top + i] = x[(i, j)];
                }
            }
            cholesky_panel_padded(&mut panel, n, top + ldx).unwrap();
            let buf: Vec<f64> = (0..ldx * n)
                .map(|v| panel[(v / ldx) * (top + ldx) + top + v % ldx])
                .collect();
            // Y Lᵀ = X  ⇔  L Yᵀ = Xᵀ.
            let mut yt = x.transpose().to_owned();
            triangular::solve_lower_in_place(chol.factor(), yt.as_mut());
            for j in 0..n {
                for i in 0..rows {
                    assert!((buf[j * ldx + i] - yt[(j, i)]).abs() < 1e-11, "{n} {rows}");
                }
            }
            let (mut buf, ldx) = padded(x.as_ref());
            solve_right_lower_padded(&l, n, ldl, &mut buf, rows, ldx).unwrap();
            // Y L = X  ⇔  Lᵀ Yᵀ = Xᵀ.
            let mut yt = x.transpose().to_owned();
            triangular::solve_lower_transpose_in_place(chol.factor(), yt.as_mut());
            for j in 0..n {
                for i in 0..rows {
                    assert!((buf[j * ldx + i] - yt[(j, i)]).abs() < 1e-11, "{n} {rows}");
                }
            }
        }
    }

    #[test]
    fn vector_solve_matches_the_kernel() {
        let n = 21;
        let chol = Cholesky::new(spd(n).as_ref()).unwrap();
        let (l, ld) = padded(chol.factor());
        let b: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
        let mut x = b.clone();
        solve_lower_vector_padded(&l, n, ld, &mut x).unwrap();
        let mut want = Mat::<f64>::from_fn(n, 1, |i, _| b[i]);
        triangular::solve_lower_in_place(chol.factor(), want.as_mut());
        for i in 0..n {
            assert!((x[i] - want[(i, 0)]).abs() < 1e-12);
        }
        assert!(matches!(
            solve_lower_vector_padded(&l, n, ld, &mut [0.0; 3]),
            Err(KernelError::DimensionMismatch { .. })
        ));
    }
}
