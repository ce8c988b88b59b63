//! The scaled backward recursion on one sequence, after the forward pass
//! (the maths is in the module docs of [`super`]).
//!
//! One recursion ([`backward_recursion`]) in two layouts chosen at compile
//! time: for K ≤ [`LOCAL_K`] the accumulators live in stack arrays and
//! `β̂_t = A w_{t+1}` runs over the columns of a transposed copy of A with
//! four partial sums (a short dependency chain); for larger K it runs over
//! the rows of A with one sum per state. Each layout keeps its own order of
//! additions, so the results of a given K never change (for a given choice
//! of fused multiply-adds, `FUSED`).

use linalg_kernels::isa::mul_add;

use super::chain::{Chain, LOCAL_K, Scratch, dispatch_k};

/// Backward pass after [`super::forward::forward_body`]: overwrites `alpha`
/// (time-major) with the posteriors `γ_t` (each row normalised to sum 1) and
/// adds `Σ_t α̂_t w_{t+1}ᵀ` into `m` (row-major K x K).
///
/// Returns `false` if a posterior came out non-finite. The multiply-adds of
/// `A w` and of `m` are fused with `FUSED`.
#[inline(always)]
pub(super) fn backward_body<const FUSED: bool>(
    chain: Chain<'_>,
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    m: &mut [f64],
    scratch: &mut Scratch,
) -> bool {
    dispatch_k!(
        chain.k,
        backward_k::<FUSED>(chain.trans, e, alpha, c, m, &mut scratch.beta, &mut scratch.w)
    )
}

#[inline(always)]
fn backward_k<const FUSED: bool>(
    k: usize,
    trans: &[f64],
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    m: &mut [f64],
    beta: &mut [f64],
    w: &mut [f64],
) -> bool {
    let trans = &trans[..k * k];
    // Stack accumulators for small K (see `forward_k`); `m` is added into the
    // caller's matrix at the end.
    let mut beta_local = [0.0; LOCAL_K];
    let mut w_local = [0.0; LOCAL_K];
    let mut m_local = [0.0; LOCAL_K * LOCAL_K];
    let small = k <= LOCAL_K;
    let (beta, w, m_acc) = if small {
        (&mut beta_local[..k], &mut w_local[..], &mut m_local[..])
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
        backward_recursion::<true, FUSED>(k, &trans_t[..k * k], e, alpha, c, m_acc, beta, w)
    } else {
        backward_recursion::<false, FUSED>(k, trans, e, alpha, c, m_acc, beta, w)
    };
    if small {
        for (row, local) in m[..k * k].chunks_exact_mut(k).zip(m_local.chunks_exact(LOCAL_K)) {
            for (dst, &v) in row.iter_mut().zip(local) {
                *dst += v;
            }
        }
    }
    ok
}

/// The recursion over `t = len − 1, ..., 0`: `w_{t+1} = e_{t+1} ∘ β̂_{t+1} / c_{t+1}`,
/// `β̂_t = A w_{t+1}` (0 where `α̂_t = 0`), `m += α̂_t w_{t+1}ᵀ`, then
/// `γ_t = α̂_t ∘ β̂_t` normalised in place of `α̂_t`.
///
/// `SMALL` (K ≤ [`LOCAL_K`]): `a` is Aᵀ (row-major, so its row j is column j
/// of A) and the sums use four partial sums; otherwise `a` is A and each sum
/// runs in state order.
#[inline(always)]
fn backward_recursion<const SMALL: bool, const FUSED: bool>(
    k: usize,
    a: &[f64],
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    m: &mut [f64],
    beta: &mut [f64],
    w: &mut [f64],
) -> bool {
    let len = c.len();
    beta.fill(1.0);
    for t in (0..len).rev() {
        let at = &mut alpha[t * k..(t + 1) * k];
        if t + 1 < len {
            // beta holds β̂_{t+1}.
            let et1 = &e[(t + 1) * k..(t + 2) * k];
            let inv = 1.0 / c[t + 1];
            for ((wj, &ej), &bj) in w[..k].iter_mut().zip(et1).zip(beta.iter()) {
                *wj = ej * bj * inv;
            }
            if SMALL {
                beta_by_columns::<FUSED>(k, a, &w[..k], at, beta);
                accumulate_outer_padded::<FUSED>(at, w, m);
            } else {
                beta_by_rows_and_outer::<FUSED>(k, a, w, at, beta, m);
            }
        }
        let sum = if SMALL {
            posteriors_in_partial_sums(at, beta)
        } else {
            posteriors_in_order(at, beta)
        };
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

/// `β̂(i) = Σ_j A_ij w_j` (0 where `α̂(i) = 0`) from `trans_t = Aᵀ`,
/// accumulated over j in four partial sums (j mod 4) combined pairwise,
/// vectorised over i (K ≤ [`LOCAL_K`]).
#[inline(always)]
fn beta_by_columns<const FUSED: bool>(k: usize, trans_t: &[f64], w: &[f64], at: &[f64], beta: &mut [f64]) {
    let mut part = [[0.0; LOCAL_K]; 4];
    for (j, (&wj, col)) in w.iter().zip(trans_t.chunks_exact(k)).enumerate() {
        for (p, &aij) in part[j % 4][..k].iter_mut().zip(col) {
            *p = mul_add::<FUSED>(aij, wj, *p);
        }
    }
    for (i, (bi, &ai)) in beta.iter_mut().zip(at.iter()).enumerate() {
        let acc = (part[0][i] + part[1][i]) + (part[2][i] + part[3][i]);
        *bi = if ai == 0.0 { 0.0 } else { acc };
    }
}

/// `m += α̂ wᵀ` for K ≤ [`LOCAL_K`], over rows of [`LOCAL_K`] values (`w`
/// holds zeros past K).
///
/// The loop over the columns is outside: the compiler vectorises the outer
/// loop of this nest, which here gives one vector per row of `m`; with the
/// rows outside it vectorised over the rows, with AVX-512 gathers and
/// scatters (2.2x slower backward passes on AMD Zen 4).
#[inline(always)]
fn accumulate_outer_padded<const FUSED: bool>(at: &[f64], w: &[f64], m: &mut [f64]) {
    let m: &mut [f64; LOCAL_K * LOCAL_K] = m.try_into().expect("LOCAL_K x LOCAL_K accumulator");
    for (j, &wj) in w[..LOCAL_K].iter().enumerate() {
        for (i, &ai) in at.iter().enumerate() {
            m[i * LOCAL_K + j] = mul_add::<FUSED>(ai, wj, m[i * LOCAL_K + j]);
        }
    }
}

/// `β̂(i) = Σ_j A_ij w_j` in state order (0 where `α̂(i) = 0`) and
/// `m += α̂ wᵀ`, in one pass over the rows of A and m (any K).
#[inline(always)]
fn beta_by_rows_and_outer<const FUSED: bool>(
    k: usize,
    trans: &[f64],
    w: &[f64],
    at: &[f64],
    beta: &mut [f64],
    m: &mut [f64],
) {
    for (((bi, &ai), row), mrow) in beta
        .iter_mut()
        .zip(at.iter())
        .zip(trans.chunks_exact(k))
        .zip(m.chunks_exact_mut(k))
    {
        let mut acc = 0.0;
        for (&aij, &wj) in row.iter().zip(w.iter()) {
            acc = mul_add::<FUSED>(aij, wj, acc);
        }
        *bi = if ai == 0.0 { 0.0 } else { acc };
        for (mij, &wj) in mrow.iter_mut().zip(w.iter()) {
            *mij = mul_add::<FUSED>(ai, wj, *mij);
        }
    }
}

/// `α̂ ← α̂ ∘ β̂`, returning its sum in four partial sums (j mod 4) combined
/// pairwise.
#[inline(always)]
fn posteriors_in_partial_sums(at: &mut [f64], beta: &[f64]) -> f64 {
    let mut part = [0.0; 4];
    for (j, (a, &b)) in at.iter_mut().zip(beta.iter()).enumerate() {
        let g = *a * b;
        *a = g;
        part[j % 4] += g;
    }
    (part[0] + part[1]) + (part[2] + part[3])
}

/// `α̂ ← α̂ ∘ β̂`, returning its sum in state order.
#[inline(always)]
fn posteriors_in_order(at: &mut [f64], beta: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (a, &b) in at.iter_mut().zip(beta.iter()) {
        let g = *a * b;
        *a = g;
        sum += g;
    }
    sum
}
