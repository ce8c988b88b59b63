//! Forward-backward and Viterbi on one sequence, written once for every emission.
//!
//! # Scaling
//! Emission log-likelihoods `ln b_j(x_t)` are shifted per time step,
//! `e_t(j) = exp(ln b_j(x_t) − s_t)` with `s_t = max_j ln b_j(x_t)`, so the
//! largest scaled emission is exactly 1 and nothing underflows however small
//! the densities are. The forward recursion is then normalised every step
//! (Rabiner's scaling):
//!
//! - `p_t = π` (t = 0) or `p_t = Aᵀ α̂_{t−1}` (the predicted state distribution),
//! - `c_t = Σ_j p_t(j) e_t(j)`, `α̂_t = p_t ∘ e_t / c_t`,
//! - `ln p(x_{0:T−1}) = Σ_t (ln c_t + s_t)`.
//!
//! If `c_t` underflows (the predicted distribution puts almost no mass on the
//! states that explain `x_t`, e.g. with structural zeros and an outlier), the
//! step is redone with the shift taken over the *reachable* states only,
//! `s_t = max_{j: p_t(j) > 0} ln b_j(x_t)`, which makes `c_t ≥ p_t(j*) > 0`.
//! If no reachable state can emit `x_t` the sequence has probability zero
//! (reported, never NaN).
//!
//! The backward recursion uses the same `e_t` and `c_t`:
//! `β̂_{T−1} = 1`, `w_{t+1} = e_{t+1} ∘ β̂_{t+1} / c_{t+1}`, `β̂_t = A w_{t+1}`,
//! giving the posteriors `γ_t = α̂_t ∘ β̂_t` and the expected transitions
//! `ξ_t(i, j) = α̂_t(i) A_ij w_{t+1}(j)`. The sum over t of `α̂_t w_{t+1}ᵀ` is
//! accumulated and multiplied by `A` elementwise once per chunk. `β̂_t(i)` is
//! set to 0 where `α̂_t(i) = 0`: such a state never contributes to the
//! posteriors of reachable states, and zeroing it keeps unreachable states
//! from growing without bound (and `0 · ∞` from producing NaN).
//!
//! Viterbi works in log space with `ln 0 = −∞` for structural zeros.
//!
//! # Speed
//! Every buffer is time-major (row t holds the K values of time t), so each
//! step reads and writes contiguous K-vectors. The recursions are written
//! once with the number of states as an argument and inlined into a `match`
//! over K = 1..=8 ([`dispatch_k`]), so that for those K the loops have
//! constant trip counts and the compiler unrolls and vectorises them; other K
//! run the same code with a runtime trip count. `ln p` is accumulated as a
//! running product of the `c_t`, flushed into a log every ~40 steps, instead of
//! one `ln` per step.

use faer::MatRef;
use linalg_kernels::fastexp;

/// Below this value a scale factor `c_t` is considered underflowed and the
/// step is rescaled over the reachable states.
const MIN_SCALE: f64 = 1e-280;

/// The running product of scale factors is flushed into the log-likelihood
/// when it falls below this value (so that `product · c_t` cannot underflow).
const FLUSH_BELOW: f64 = 1e-20;

use crate::simd::multiversion;

multiversion! {
    /// See [`to_time_major_body`].
    pub(crate) fn to_time_major(logb: MatRef<'_, f64>, out: &mut [f64]) -> Result<(), (usize, usize, f64)> = to_time_major_body;
}

multiversion! {
    /// See [`scale_emissions_body`].
    pub(crate) fn scale_emissions(
        logb: MatRef<'_, f64>,
        e: &mut [f64],
        shift: &mut [f64],
        tmp: &mut Vec<f64>,
    ) -> Result<(), (usize, usize, f64)> = scale_emissions_body;
}

multiversion! {
    /// See [`forward_body`].
    pub(crate) fn forward(
        chain: Chain<'_>,
        logb: MatRef<'_, f64>,
        e: &mut [f64],
        shift: &mut [f64],
        alpha: &mut [f64],
        c: &mut [f64],
        scratch: &mut Scratch,
    ) -> Result<f64, usize> = forward_body;
}

multiversion! {
    /// See [`backward_body`].
    pub(crate) fn backward(
        chain: Chain<'_>,
        e: &[f64],
        alpha: &mut [f64],
        c: &[f64],
        m: &mut [f64],
        scratch: &mut Scratch,
    ) -> bool = backward_body;
}

multiversion! {
    /// See [`viterbi_body`].
    pub(crate) fn viterbi(
        log_start: &[f64],
        log_trans: &[f64],
        logb: &[f64],
        path: &mut [usize],
        work: &mut ViterbiScratch,
    ) -> Result<f64, usize> = viterbi_body;
}

/// Calls `$f(k, args...)` with `k` a literal for K = 1..=8, so that the
/// `#[inline(always)]` body is specialised for those sizes.
macro_rules! dispatch_k {
    ($k:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $k {
            1 => $f(1, $($arg),*),
            2 => $f(2, $($arg),*),
            3 => $f(3, $($arg),*),
            4 => $f(4, $($arg),*),
            5 => $f(5, $($arg),*),
            6 => $f(6, $($arg),*),
            7 => $f(7, $($arg),*),
            8 => $f(8, $($arg),*),
            k => $f(k, $($arg),*),
        }
    };
}

/// The contiguous values of column `j` of an owned-layout matrix (unit row stride).
fn column(m: MatRef<'_, f64>, j: usize) -> Option<&[f64]> {
    m.col(j).try_as_col_major().map(|c| c.as_slice())
}

/// Finds the first NaN or `+inf` of `m`.
fn first_invalid(m: MatRef<'_, f64>) -> (usize, usize, f64) {
    for j in 0..m.ncols() {
        for t in 0..m.nrows() {
            let v = m[(t, j)];
            if v.is_nan() || v == f64::INFINITY {
                return (t, j, v);
            }
        }
    }
    unreachable!("called only after an invalid value was detected")
}

/// Copies the n x K column-major `logb` into time-major `out` (n·K) and
/// checks it (NaN and `+inf` are errors: `Err((t, j, value))`).
#[inline(always)]
fn to_time_major_body(logb: MatRef<'_, f64>, out: &mut [f64]) -> Result<(), (usize, usize, f64)> {
    let (n, k) = (logb.nrows(), logb.ncols());
    debug_assert_eq!(out.len(), n * k);
    let cols: Option<Vec<&[f64]>> = (0..k).map(|j| column(logb, j)).collect();
    let Some(cols) = cols else {
        // Strided input (not produced by the emissions of this crate): plain copy.
        for t in 0..n {
            for j in 0..k {
                let v = logb[(t, j)];
                if v.is_nan() || v == f64::INFINITY {
                    return Err((t, j, v));
                }
                out[t * k + j] = v;
            }
        }
        return Ok(());
    };
    // Checked first in contiguous (vectorised) passes, then transposed.
    for col in &cols {
        if col
            .iter()
            .fold(false, |b, &v| b | v.is_nan() | (v == f64::INFINITY))
        {
            return Err(first_invalid(logb));
        }
    }
    columns_to_time_major(&cols, out);
    Ok(())
}

multiversion! {
    /// `cols[j * n + t] = tm[t * k + j]`: time-major n x K to column-major.
    pub(crate) fn time_major_to_columns(tm: &[f64], k: usize, cols: &mut [f64]) = time_major_to_columns_body;
}

#[inline(always)]
fn time_major_to_columns_body(tm: &[f64], k: usize, cols: &mut [f64]) {
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

/// Rows per block of [`columns_to_time_major`]: a block of the output
/// (`64 · K` values) stays in L1 while the K columns are scattered into it.
const TRANSPOSE_BLOCK: usize = 64;

/// `out[t * K + j] = cols[j][t]`, blocked over t.
#[inline(always)]
fn columns_to_time_major(cols: &[&[f64]], out: &mut [f64]) {
    let k = cols.len();
    let n = out.len() / k.max(1);
    let mut t0 = 0;
    while t0 < n {
        let len = TRANSPOSE_BLOCK.min(n - t0);
        let dst = &mut out[t0 * k..(t0 + len) * k];
        for (j, col) in cols.iter().enumerate() {
            for (row, &v) in dst.chunks_exact_mut(k).zip(&col[t0..t0 + len]) {
                row[j] = v;
            }
        }
        t0 += len;
    }
}

/// Fills `e` (time-major n x K) with `exp(logb − s_t)` and `shift` with
/// `s_t = max_j logb[t, j]`.
///
/// The exponentials go through `linalg_kernels::fastexp` one column at a time
/// (a contiguous, vectorised loop into `tmp`), then are scattered into
/// time-major rows. A row that is all `−∞` gets `s_t = −∞` and `e_t = 0`
/// (`fastexp::exp(−∞) = 0` exactly).
///
/// Returns `Err((t, j, value))` for a NaN or `+inf` log-likelihood.
#[inline(always)]
fn scale_emissions_body(
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    tmp: &mut Vec<f64>,
) -> Result<(), (usize, usize, f64)> {
    let (n, k) = (logb.nrows(), logb.ncols());
    debug_assert_eq!(e.len(), n * k);
    debug_assert_eq!(shift.len(), n);
    let owned;
    let logb = if (0..k).all(|j| column(logb, j).is_some()) {
        logb
    } else {
        owned = logb.to_owned();
        owned.as_ref()
    };
    shift.fill(f64::NEG_INFINITY);
    let mut bad = false;
    for j in 0..k {
        let col = column(logb, j).expect("contiguous columns");
        for (s, &v) in shift.iter_mut().zip(col) {
            bad |= v.is_nan() | (v == f64::INFINITY);
            *s = s.max(v);
        }
    }
    if bad {
        return Err(first_invalid(logb));
    }
    let safe_shift: Vec<f64> = shift
        .iter()
        .map(|&s| if s == f64::NEG_INFINITY { 0.0 } else { s })
        .collect();
    // `tmp` only grows (reused by the caller); every entry used is written below.
    if tmp.len() < n * k {
        tmp.resize(n * k, 0.0);
    }
    let tmp = &mut tmp[..n * k];
    if n > 0 {
        for (j, dst) in tmp.chunks_exact_mut(n).enumerate() {
            let col = column(logb, j).expect("contiguous columns");
            for ((out, &v), &s) in dst.iter_mut().zip(col).zip(&safe_shift) {
                *out = fastexp::exp(v - s);
            }
        }
        let cols: Vec<&[f64]> = tmp.chunks_exact(n).collect();
        columns_to_time_major(&cols, e);
    }
    Ok(())
}

/// The parameters of the Markov chain, row-major.
#[derive(Clone, Copy)]
pub(crate) struct Chain<'a> {
    pub start: &'a [f64],
    /// `trans[i * k + j] = A_ij`.
    pub trans: &'a [f64],
    pub k: usize,
}

/// Scratch for the recursions of one sequence.
pub(crate) struct Scratch {
    pred: Vec<f64>,
    beta: Vec<f64>,
    w: Vec<f64>,
}

impl Scratch {
    pub fn new(k: usize) -> Self {
        Self {
            pred: vec![0.0; k],
            beta: vec![0.0; k],
            w: vec![0.0; k],
        }
    }
}

/// Scaled forward pass over one sequence of `len = shift.len()` steps.
///
/// `e`, `shift` come from [`scale_emissions_body`] (and are rewritten at rescaled
/// steps); `logb` (len x K) is read only at such steps. Writes
/// `alpha` (time-major len x K, normalised rows) and `c`. Returns the
/// log-likelihood, or `Err(t)` when the sequence is impossible from time `t` on.
#[inline(always)]
fn forward_body(
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    scratch: &mut Scratch,
) -> Result<f64, usize> {
    dispatch_k!(
        chain.k,
        forward_k(chain, logb, e, shift, alpha, c, &mut scratch.pred)
    )
}

#[inline(always)]
fn forward_k(
    k: usize,
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    pred: &mut [f64],
) -> Result<f64, usize> {
    let len = shift.len();
    // Stack accumulators for small K (kept in registers; slices of heap
    // buffers would be reloaded for fear of aliasing).
    let mut pred_local = [0.0; LOCAL_K];
    let pred = if k <= LOCAL_K {
        &mut pred_local[..k]
    } else {
        &mut pred[..k]
    };
    let trans = &chain.trans[..k * k];
    let mut log_acc = 0.0;
    let mut product = 1.0;
    for t in 0..len {
        let (done, rest) = alpha.split_at_mut(t * k);
        let at = &mut rest[..k];
        if t == 0 {
            pred.copy_from_slice(&chain.start[..k]);
        } else {
            let prev = &done[(t - 1) * k..];
            if k <= LOCAL_K {
                // Four partial sums over i (i mod 4), combined pairwise: the
                // dependency chain per step is ~k/4 + 2 additions instead of k.
                let mut part = [[0.0; LOCAL_K]; 4];
                for (i, (&a, row)) in prev[..k].iter().zip(trans.chunks_exact(k)).enumerate() {
                    for (p, &aij) in part[i % 4][..k].iter_mut().zip(row) {
                        *p += a * aij;
                    }
                }
                for (j, p) in pred.iter_mut().enumerate() {
                    *p = (part[0][j] + part[1][j]) + (part[2][j] + part[3][j]);
                }
            } else {
                pred.fill(0.0);
                for (&a, row) in prev.iter().zip(trans.chunks_exact(k)) {
                    for (p, &aij) in pred.iter_mut().zip(row) {
                        *p += a * aij;
                    }
                }
            }
        }
        let et = &mut e[t * k..(t + 1) * k];
        let mut ct = scaled_products(pred, et, at);
        if !(ct > MIN_SCALE) {
            let row: Vec<f64> = (0..k).map(|j| logb[(t, j)]).collect();
            ct = rescale_step(&row, pred, et, at, &mut shift[t]).ok_or(t)?;
        }
        let inv = 1.0 / ct;
        for a in at.iter_mut() {
            *a *= inv;
        }
        c[t] = ct;
        log_acc += shift[t];
        if ct < 1e-200 {
            log_acc += ct.ln();
        } else {
            if product < FLUSH_BELOW {
                log_acc += product.ln();
                product = 1.0;
            }
            product *= ct;
        }
    }
    Ok(log_acc + product.ln())
}

/// `at = pred ∘ et` and returns `Σ_j at[j]`, summed in four partial sums
/// (j mod 4) combined pairwise (a short dependency chain).
#[inline(always)]
fn scaled_products(pred: &[f64], et: &[f64], at: &mut [f64]) -> f64 {
    let mut part = [0.0; 4];
    for (j, ((a, &p), &ej)) in at.iter_mut().zip(pred).zip(et).enumerate() {
        let v = p * ej;
        *a = v;
        part[j % 4] += v;
    }
    (part[0] + part[1]) + (part[2] + part[3])
}

/// Redoes one forward step with the shift taken over the reachable states
/// (see the module docs). Returns the new `c_t`, or `None` if no reachable
/// state can emit the observation.
#[cold]
fn rescale_step(logb: &[f64], pred: &[f64], et: &mut [f64], at: &mut [f64], shift: &mut f64) -> Option<f64> {
    let mut s = f64::NEG_INFINITY;
    for (&p, &v) in pred.iter().zip(logb) {
        if p > 0.0 {
            s = s.max(v);
        }
    }
    if s == f64::NEG_INFINITY {
        return None;
    }
    *shift = s;
    let mut ct = 0.0;
    for j in 0..pred.len() {
        let v = logb[j];
        et[j] = if pred[j] > 0.0 && v != f64::NEG_INFINITY {
            (v - s).exp()
        } else {
            0.0
        };
        let a = pred[j] * et[j];
        at[j] = a;
        ct += a;
    }
    (ct > 0.0 && ct.is_finite()).then_some(ct)
}

/// Backward pass after [`forward_body`]: overwrites `alpha` (time-major) with the
/// posteriors `γ_t` (each row normalised to sum 1) and adds
/// `Σ_t α̂_t w_{t+1}ᵀ` into `m` (row-major K x K).
///
/// Returns `false` if a posterior came out non-finite.
#[inline(always)]
fn backward_body(
    chain: Chain<'_>,
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    m: &mut [f64],
    scratch: &mut Scratch,
) -> bool {
    dispatch_k!(
        chain.k,
        backward_k(chain.trans, e, alpha, c, m, &mut scratch.beta, &mut scratch.w)
    )
}

#[inline(always)]
fn backward_k(
    k: usize,
    trans: &[f64],
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    m: &mut [f64],
    beta: &mut [f64],
    w: &mut [f64],
) -> bool {
    let len = c.len();
    let trans = &trans[..k * k];
    // Stack accumulators for small K (see `forward_k`); `m` is added into the
    // caller's matrix at the end.
    let mut beta_local = [0.0; LOCAL_K];
    let mut w_local = [0.0; LOCAL_K];
    let mut m_local = [0.0; LOCAL_K * LOCAL_K];
    let small = k <= LOCAL_K;
    let (beta, w, m_acc) = if small {
        (&mut beta_local[..k], &mut w_local[..k], &mut m_local[..k * k])
    } else {
        (&mut beta[..k], &mut w[..k], &mut m[..k * k])
    };
    let ok = if small {
        // Aᵀ as stack array: β̂_t = Σ_j w_j A_{·j} becomes K-wide vector
        // operations with four partial sums over j (a short dependency chain).
        let mut trans_t = [0.0; LOCAL_K * LOCAL_K];
        for i in 0..k {
            for j in 0..k {
                trans_t[j * k + i] = trans[i * k + j];
            }
        }
        backward_loop_small(k, &trans_t[..k * k], e, alpha, c, len, m_acc, beta, w)
    } else {
        backward_loop(k, trans, e, alpha, c, len, m_acc, beta, w)
    };
    if small {
        for (dst, &v) in m[..k * k].iter_mut().zip(&m_local[..k * k]) {
            *dst += v;
        }
    }
    ok
}

#[inline(always)]
fn backward_loop(
    k: usize,
    trans: &[f64],
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    len: usize,
    m: &mut [f64],
    beta: &mut [f64],
    w: &mut [f64],
) -> bool {
    beta.fill(1.0);
    for t in (0..len).rev() {
        let at = &mut alpha[t * k..(t + 1) * k];
        if t + 1 < len {
            // beta holds β̂_{t+1}.
            let et1 = &e[(t + 1) * k..(t + 2) * k];
            let inv = 1.0 / c[t + 1];
            for ((wj, &ej), &bj) in w.iter_mut().zip(et1).zip(beta.iter()) {
                *wj = ej * bj * inv;
            }
            for (((bi, &ai), row), mrow) in beta
                .iter_mut()
                .zip(at.iter())
                .zip(trans.chunks_exact(k))
                .zip(m.chunks_exact_mut(k))
            {
                let mut acc = 0.0;
                for (&aij, &wj) in row.iter().zip(w.iter()) {
                    acc += aij * wj;
                }
                *bi = if ai == 0.0 { 0.0 } else { acc };
                for (mij, &wj) in mrow.iter_mut().zip(w.iter()) {
                    *mij += ai * wj;
                }
            }
        }
        let mut sum = 0.0;
        for (a, &b) in at.iter_mut().zip(beta.iter()) {
            let g = *a * b;
            *a = g;
            sum += g;
        }
        if !(sum > 0.0 && sum.is_finite()) {
            return false;
        }
        let inv = 1.0 / sum;
        for g in at.iter_mut() {
            *g *= inv;
        }
    }
    true
}

/// [`backward_loop`] for `k <= LOCAL_K` with `trans_t = Aᵀ` (row-major):
/// `β̂_t(i) = Σ_j A_ij w_j` is accumulated over j in four partial sums
/// (j mod 4) combined pairwise, vectorised over i.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_loop_small(
    k: usize,
    trans_t: &[f64],
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    len: usize,
    m: &mut [f64],
    beta: &mut [f64],
    w: &mut [f64],
) -> bool {
    beta.fill(1.0);
    for t in (0..len).rev() {
        let at = &mut alpha[t * k..(t + 1) * k];
        if t + 1 < len {
            // beta holds β̂_{t+1}.
            let et1 = &e[(t + 1) * k..(t + 2) * k];
            let inv = 1.0 / c[t + 1];
            for ((wj, &ej), &bj) in w.iter_mut().zip(et1).zip(beta.iter()) {
                *wj = ej * bj * inv;
            }
            let mut part = [[0.0; LOCAL_K]; 4];
            for (j, (&wj, col)) in w.iter().zip(trans_t.chunks_exact(k)).enumerate() {
                for (p, &aij) in part[j % 4][..k].iter_mut().zip(col) {
                    *p += aij * wj;
                }
            }
            for (i, (bi, &ai)) in beta.iter_mut().zip(at.iter()).enumerate() {
                let acc = (part[0][i] + part[1][i]) + (part[2][i] + part[3][i]);
                *bi = if ai == 0.0 { 0.0 } else { acc };
            }
            for (&ai, mrow) in at.iter().zip(m.chunks_exact_mut(k)) {
                for (mij, &wj) in mrow.iter_mut().zip(w.iter()) {
                    *mij += ai * wj;
                }
            }
        }
        let mut part = [0.0; 4];
        for (j, (a, &b)) in at.iter_mut().zip(beta.iter()).enumerate() {
            let g = *a * b;
            *a = g;
            part[j % 4] += g;
        }
        let sum = (part[0] + part[1]) + (part[2] + part[3]);
        if !(sum > 0.0 && sum.is_finite()) {
            return false;
        }
        let inv = 1.0 / sum;
        for g in at.iter_mut() {
            *g *= inv;
        }
    }
    true
}

/// Viterbi in log space over one sequence.
///
/// `log_start[j] = ln π_j`, `log_trans[i * k + j] = ln A_ij`, `logb`
/// time-major (len x K). The maximisation runs over the predecessor i in the
/// outer loop and the K targets j in the inner (vectorisable) loop. Writes
/// the best path into `path` and returns its log-probability `ln p(x, z*)`,
/// or `Err(t)` if no path has positive probability (first at time t). Ties
/// go to the lowest state index.
#[inline(always)]
fn viterbi_body(
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[f64],
    path: &mut [usize],
    work: &mut ViterbiScratch,
) -> Result<f64, usize> {
    let k = log_start.len();
    dispatch_k!(k, viterbi_k(log_start, log_trans, logb, path, work))
}

/// Scratch for [`viterbi_body`]: the scores `δ_t` of every step (time-major).
#[derive(Default)]
pub(crate) struct ViterbiScratch {
    delta: Vec<f64>,
}

/// Largest K for which the recursions use stack arrays as accumulators.
const LOCAL_K: usize = 8;

/// `acc[j] = max(acc[j], max_i (prev[i] + log_trans[i, j]))`, branch-free.
#[inline(always)]
fn max_plus(prev: &[f64], log_trans: &[f64], acc: &mut [f64]) {
    let k = acc.len();
    for (&di, row) in prev.iter().zip(log_trans.chunks_exact(k)) {
        for (best, &lt) in acc.iter_mut().zip(row) {
            let v = di + lt;
            *best = if v > *best { v } else { *best };
        }
    }
}

/// Viterbi with K as an argument (inlined for constant K by [`dispatch_k`]).
///
/// Forward: `δ_0 = ln π + ln b(x_0)`, `δ_t(j) = max_i (δ_{t−1}(i) + ln A_ij) + ln b_j(x_t)`,
/// a branch-free max over i in the outer loop and the K targets in the
/// inner, vectorised loop. No back-pointers are stored: the traceback
/// recomputes `argmax_i (δ_{t−1}(i) + ln A_{i z_t})` for the one chosen state
/// z_t (K operations per step, from the same stored values, so it picks
/// exactly the maximiser of the forward pass; the lowest index on ties).
#[inline(always)]
fn viterbi_k(
    k: usize,
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[f64],
    path: &mut [usize],
    work: &mut ViterbiScratch,
) -> Result<f64, usize> {
    let len = path.len();
    let log_trans = &log_trans[..k * k];
    work.delta.clear();
    work.delta.resize(len * k, f64::NEG_INFINITY);
    let deltas = &mut work.delta[..len * k];
    for ((d, &s), &b) in deltas[..k].iter_mut().zip(&log_start[..k]).zip(&logb[..k]) {
        *d = s + b;
    }
    for t in 1..len {
        let (done, rest) = deltas.split_at_mut(t * k);
        let prev = &done[(t - 1) * k..];
        let next = &mut rest[..k];
        let lb = &logb[t * k..(t + 1) * k];
        if k <= LOCAL_K {
            // A local accumulator the compiler keeps in registers (a slice of
            // the buffer would be reloaded for fear of aliasing).
            // Two independent accumulators (even and odd predecessors)
            // shorten the dependency chain of the maxima; max is exact and
            // order-free, so the values equal those of a sequential maximum.
            let mut even = [f64::NEG_INFINITY; LOCAL_K];
            let mut odd = [f64::NEG_INFINITY; LOCAL_K];
            let pairs = k / 2;
            max_plus(&prev[..pairs], &log_trans[..pairs * k], &mut even[..k]);
            max_plus(&prev[pairs..], &log_trans[pairs * k..], &mut odd[..k]);
            for (((d, &a), &b), &l) in next.iter_mut().zip(&even[..k]).zip(&odd[..k]).zip(lb) {
                *d = (if b > a { b } else { a }) + l;
            }
        } else {
            // `next` starts at −∞ (the fill above).
            max_plus(prev, log_trans, next);
            for (d, &b) in next.iter_mut().zip(lb) {
                *d += b;
            }
        }
    }
    // A dead step (every δ_t = −∞) makes every later step dead: one check at
    // the end, then a search for the first dead step.
    if deltas[(len - 1) * k..].iter().all(|&v| v == f64::NEG_INFINITY) {
        let t = deltas
            .chunks_exact(k)
            .position(|row| row.iter().all(|&v| v == f64::NEG_INFINITY));
        return Err(t.unwrap_or(len - 1));
    }
    let last = &deltas[(len - 1) * k..];
    let mut best = f64::NEG_INFINITY;
    let mut arg = 0;
    for (j, &v) in last.iter().enumerate() {
        if v > best {
            best = v;
            arg = j;
        }
    }
    path[len - 1] = arg;
    for t in (1..len).rev() {
        let prev = &deltas[(t - 1) * k..t * k];
        let mut b = f64::NEG_INFINITY;
        let mut a = 0;
        for (i, &di) in prev.iter().enumerate() {
            let v = di + log_trans[i * k + arg];
            if v > b {
                b = v;
                a = i;
            }
        }
        arg = a;
        path[t - 1] = arg;
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// Deterministic pseudo-random numbers in (0, 1).
    fn numbers(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
            })
            .collect()
    }

    fn rows(k: usize, seed: u64) -> Vec<f64> {
        let raw = numbers(k * k, seed);
        raw.chunks_exact(k)
            .flat_map(|r| {
                let s: f64 = r.iter().sum();
                r.iter().map(move |v| v / s).collect::<Vec<_>>()
            })
            .collect()
    }

    /// The run-time selected variant (AVX-512 or AVX2 on such CPUs) gives
    /// bit-identical results to the baseline build of the same code.
    #[test]
    fn every_instruction_set_gives_identical_results() {
        for k in [1usize, 3, 8, 11] {
            let n = 300;
            let trans = rows(k, 1 + k as u64);
            let start = rows(k, 2)[..k].to_vec();
            let start: Vec<f64> = {
                let s: f64 = start.iter().sum();
                start.iter().map(|v| v / s).collect()
            };
            let vals = numbers(n * k, 3);
            let logb = Mat::from_fn(n, k, |t, j| {
                -30.0 * vals[t * k + j] - if (t + j) % 7 == 0 { 400.0 } else { 0.0 }
            });
            let chain = Chain {
                start: &start,
                trans: &trans,
                k,
            };
            let run = |dispatched: bool| {
                let (mut e, mut shift, mut tmp) = (vec![0.0; n * k], vec![0.0; n], Vec::new());
                let (mut alpha, mut c, mut m) = (vec![0.0; n * k], vec![0.0; n], vec![0.0; k * k]);
                let mut scratch = Scratch::new(k);
                let mut tm = vec![0.0; n * k];
                let mut path = vec![0usize; n];
                let mut work = ViterbiScratch::default();
                let log_trans: Vec<f64> = trans.iter().map(|v| v.ln()).collect();
                let log_start: Vec<f64> = start.iter().map(|v| v.ln()).collect();
                let (ll, ok, best) = if dispatched {
                    scale_emissions(logb.as_ref(), &mut e, &mut shift, &mut tmp).unwrap();
                    let ll = forward(
                        chain,
                        logb.as_ref(),
                        &mut e,
                        &mut shift,
                        &mut alpha,
                        &mut c,
                        &mut scratch,
                    )
                    .unwrap();
                    let ok = backward(chain, &e, &mut alpha, &c, &mut m, &mut scratch);
                    to_time_major(logb.as_ref(), &mut tm).unwrap();
                    let best = viterbi(&log_start, &log_trans, &tm, &mut path, &mut work).unwrap();
                    (ll, ok, best)
                } else {
                    scale_emissions_body(logb.as_ref(), &mut e, &mut shift, &mut tmp).unwrap();
                    let ll = forward_body(
                        chain,
                        logb.as_ref(),
                        &mut e,
                        &mut shift,
                        &mut alpha,
                        &mut c,
                        &mut scratch,
                    )
                    .unwrap();
                    let ok = backward_body(chain, &e, &mut alpha, &c, &mut m, &mut scratch);
                    to_time_major_body(logb.as_ref(), &mut tm).unwrap();
                    let best = viterbi_body(&log_start, &log_trans, &tm, &mut path, &mut work).unwrap();
                    (ll, ok, best)
                };
                assert!(ok);
                (ll.to_bits(), best.to_bits(), e, alpha, m, tm, path)
            };
            assert_eq!(run(true), run(false), "K = {k}");
        }
    }

    #[test]
    fn invalid_log_likelihoods_are_located() {
        let mut logb = Mat::<f64>::zeros(4, 2);
        logb[(2, 1)] = f64::NAN;
        let mut e = vec![0.0; 8];
        let mut shift = vec![0.0; 4];
        assert!(matches!(
            scale_emissions(logb.as_ref(), &mut e, &mut shift, &mut Vec::new()),
            Err((2, 1, v)) if v.is_nan()
        ));
        logb[(2, 1)] = 0.0;
        logb[(3, 0)] = f64::INFINITY;
        assert!(matches!(to_time_major(logb.as_ref(), &mut e), Err((3, 0, _))));
        // A row that is all −∞ scales to zeros, not NaN.
        logb[(3, 0)] = f64::NEG_INFINITY;
        logb[(3, 1)] = f64::NEG_INFINITY;
        scale_emissions(logb.as_ref(), &mut e, &mut shift, &mut Vec::new()).unwrap();
        assert_eq!(&e[6..8], &[0.0, 0.0]);
        assert_eq!(shift[3], f64::NEG_INFINITY);
    }
}
