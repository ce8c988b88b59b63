//! Layout changes of the emission log-likelihoods: the emissions give n x K
//! column-major matrices, the forward-backward recursions read time-major
//! rows (row t holds the K values of time t, contiguous). Also the per-step
//! shift and exponentiation of the forward-backward pass
//! ([`scale_emissions_body`]), and the check of the columns that Viterbi
//! reads as they are ([`check_log_likelihoods_body`]).

use linalg_kernels::fastexp;

use super::chain::dispatch_k;

/// A log-likelihood the recursions refuse: NaN or `+inf`.
#[inline(always)]
fn invalid(v: f64) -> bool {
    v.is_nan() | (v == f64::INFINITY)
}

/// The first NaN or `+inf` of the columns (`cols[j][t]`), in column order:
/// `(t, j, value)`.
fn first_invalid(cols: &[&[f64]]) -> Option<(usize, usize, f64)> {
    cols.iter()
        .enumerate()
        .find_map(|(j, col)| col.iter().position(|&v| invalid(v)).map(|t| (t, j, col[t])))
}

/// Checks the emission log-likelihoods given by state (`cols[j][t] =
/// ln b_j(x_t)`): NaN and `+inf` are errors, `Err((t, j, value))` for the
/// first in column order. Each column is scanned in one contiguous
/// (vectorised) pass; the search runs only when a scan found one.
#[inline(always)]
pub(super) fn check_log_likelihoods_body(cols: &[&[f64]]) -> Result<(), (usize, usize, f64)> {
    let any = cols
        .iter()
        .any(|col| col.iter().fold(false, |b, &v| b | invalid(v)));
    match any.then(|| first_invalid(cols)).flatten() {
        Some(found) => Err(found),
        None => Ok(()),
    }
}

/// `cols[j * n + t] = tm[t * k + j]`: time-major n x K to column-major.
#[inline(always)]
pub(super) fn time_major_to_columns_body(tm: &[f64], k: usize, cols: &mut [f64]) {
    dispatch_k!(k, time_major_to_columns_k(tm, cols))
}

#[inline(always)]
fn time_major_to_columns_k(k: usize, tm: &[f64], cols: &mut [f64]) {
    let n = tm.len() / k.max(1);
    if n == 0 {
        return;
    }
    let mut t0 = 0;
    while t0 < n {
        let len = TRANSPOSE_BLOCK.min(n - t0);
        let src = &tm[t0 * k..(t0 + len) * k];
        for (j, col) in cols.chunks_exact_mut(n).enumerate() {
            for (dst, row) in col[t0..t0 + len].iter_mut().zip(src.chunks_exact(k)) {
                *dst = row[j];
            }
        }
        t0 += len;
    }
}

/// Rows per block of the transpositions: a block of the output (`64 · K`
/// values) stays in L1 while the K columns are scattered into it.
const TRANSPOSE_BLOCK: usize = 64;

/// `dst[r * k + j] = col[r]`: one column into the rows of a time-major block.
#[inline(always)]
fn column_into_rows(col: &[f64], j: usize, k: usize, dst: &mut [f64]) {
    for (row, &v) in dst.chunks_exact_mut(k).zip(col) {
        row[j] = v;
    }
}

/// `dst[r * k + j + q] = cols[q][r]`: four columns into the rows of a
/// time-major block, in 4 x 4 tiles ([`transpose4`]).
#[inline(always)]
fn four_columns_into_rows<const AVX: bool>(cols: [&[f64]; 4], j: usize, k: usize, dst: &mut [f64]) {
    let len = cols[0].len();
    let tiles = len / 4 * 4;
    for r in (0..tiles).step_by(4) {
        let rows = transpose4::<AVX>(cols.map(|col| &col[r..r + 4]));
        for (i, row) in rows.iter().enumerate() {
            dst[(r + i) * k + j..(r + i) * k + j + 4].copy_from_slice(row);
        }
    }
    for (q, col) in cols.iter().enumerate() {
        column_into_rows(&col[tiles..], j + q, k, &mut dst[tiles * k..]);
    }
}

/// The transpose of the 4 x 4 tile whose rows are the first four values of
/// `tile`'s slices: `out[i][q] = tile[q][i]`. Where `AVX`, four loads,
/// eight shuffles and four stores: one scalar load and store per value
/// took a quarter of the emissions' scaling with AVX2 on AMD Zen 4, and the
/// compiler does not find the shuffles itself.
#[inline(always)]
fn transpose4<const AVX: bool>(tile: [&[f64]; 4]) -> [[f64; 4]; 4] {
    let mut out = [[0.0; 4]; 4];
    #[cfg(target_arch = "x86_64")]
    if AVX {
        use std::arch::x86_64::{
            _mm256_loadu_pd, _mm256_permute2f128_pd, _mm256_storeu_pd, _mm256_unpackhi_pd, _mm256_unpacklo_pd,
        };
        let [a, b, c, d] = tile.map(|row| &row[..4]);
        // SAFETY: `AVX` is set only in the kernels compiled with AVX2 or
        // AVX-512 (which include AVX); each load reads a slice of four values
        // and each store writes an array of four.
        unsafe {
            let (a, b) = (_mm256_loadu_pd(a.as_ptr()), _mm256_loadu_pd(b.as_ptr()));
            let (c, d) = (_mm256_loadu_pd(c.as_ptr()), _mm256_loadu_pd(d.as_ptr()));
            // [a0 b0 a2 b2], [a1 b1 a3 b3], [c0 d0 c2 d2], [c1 d1 c3 d3].
            let (ab0, ab1) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
            let (cd0, cd1) = (_mm256_unpacklo_pd(c, d), _mm256_unpackhi_pd(c, d));
            _mm256_storeu_pd(out[0].as_mut_ptr(), _mm256_permute2f128_pd::<0x20>(ab0, cd0));
            _mm256_storeu_pd(out[1].as_mut_ptr(), _mm256_permute2f128_pd::<0x20>(ab1, cd1));
            _mm256_storeu_pd(out[2].as_mut_ptr(), _mm256_permute2f128_pd::<0x31>(ab0, cd0));
            _mm256_storeu_pd(out[3].as_mut_ptr(), _mm256_permute2f128_pd::<0x31>(ab1, cd1));
        }
        return out;
    }
    for (q, row) in tile.iter().enumerate() {
        for (i, &v) in row[..4].iter().enumerate() {
            out[i][q] = v;
        }
    }
    out
}

/// Fills `e` (time-major n x K) with `exp(ln b_j(x_t) − s_t)` and `shift`
/// with `s_t = max_j ln b_j(x_t)`, from the log-likelihoods by state
/// (`cols[j][t] = ln b_j(x_t)`, `n = shift.len()` rows). Every exponent is
/// `≤ 0` ([`fastexp::exp_non_positive_with`], its multiply-adds fused with
/// `FUSED`), and with `AVX` the columns go into the rows four at a time
/// through AVX's shuffles ([`four_columns_into_rows`]).
///
/// One block of [`TRANSPOSE_BLOCK`] rows at a time: the maxima over the
/// columns, the exponentials through `linalg_kernels::fastexp` one column
/// at a time (a contiguous, vectorised loop into `tmp`, which holds one
/// block of every column and stays in L1), then the block's columns into
/// time-major rows. (Three passes over the whole chunk, with `tmp` the
/// size of the chunk, took 5% more of a Baum-Welch iteration with AVX2.)
/// A row that is all `−∞` gets `s_t = −∞` and `e_t = 0`
/// (`exp(−∞) = 0` exactly).
///
/// Returns `Err((t, j, value))` for the first NaN or `+inf` log-likelihood
/// in column order (`e` and `shift` are then partly written).
#[inline(always)]
pub(super) fn scale_emissions_body<const FUSED: bool, const AVX: bool>(
    cols: &[&[f64]],
    e: &mut [f64],
    shift: &mut [f64],
    tmp: &mut Vec<f64>,
) -> Result<(), (usize, usize, f64)> {
    let (n, k) = (shift.len(), cols.len());
    debug_assert_eq!(e.len(), n * k);
    debug_assert!(cols.iter().all(|col| col.len() == n));
    if n == 0 {
        return Ok(());
    }
    if tmp.len() < TRANSPOSE_BLOCK * k {
        tmp.resize(TRANSPOSE_BLOCK * k, 0.0);
    }
    let mut t0 = 0;
    while t0 < n {
        let len = TRANSPOSE_BLOCK.min(n - t0);
        let sh = &mut shift[t0..t0 + len];
        sh.fill(f64::NEG_INFINITY);
        let mut bad = false;
        for col in cols {
            for (s, &v) in sh.iter_mut().zip(&col[t0..t0 + len]) {
                bad |= invalid(v);
                *s = s.max(v);
            }
        }
        if let Some(found) = bad.then(|| first_invalid(cols)).flatten() {
            return Err(found);
        }
        let mut safe = [0.0; TRANSPOSE_BLOCK];
        for (o, &s) in safe.iter_mut().zip(sh.iter()) {
            *o = if s == f64::NEG_INFINITY { 0.0 } else { s };
        }
        for (col, dst) in cols.iter().zip(tmp.chunks_exact_mut(TRANSPOSE_BLOCK)) {
            for ((out, &v), &s) in dst[..len].iter_mut().zip(&col[t0..t0 + len]).zip(&safe[..len]) {
                *out = fastexp::exp_non_positive_with::<FUSED>(v - s);
            }
        }
        let dst = &mut e[t0 * k..(t0 + len) * k];
        let column = |j: usize| &tmp[j * TRANSPOSE_BLOCK..j * TRANSPOSE_BLOCK + len];
        let quads = k / 4 * 4;
        for j in (0..quads).step_by(4) {
            four_columns_into_rows::<AVX>(
                [column(j), column(j + 1), column(j + 2), column(j + 3)],
                j,
                k,
                dst,
            );
        }
        for j in quads..k {
            column_into_rows(column(j), j, k, dst);
        }
        t0 += len;
    }
    Ok(())
}
