//! Viterbi decoding of one sequence in log space.

use super::chain::{LOCAL_K, dispatch_k};

/// Viterbi in log space over one sequence.
///
/// `log_start[j] = ln π_j`, `log_trans[i * k + j] = ln A_ij`, `logb`
/// time-major (len x K). The maximisation runs over the predecessor i in the
/// outer loop and the K targets j in the inner (vectorisable) loop. Writes
/// the best path into `path` and returns its log-probability `ln p(x, z*)`,
/// or `Err(t)` if no path has positive probability (first at time t). Ties
/// go to the lowest state index.
#[inline(always)]
pub(super) fn viterbi_body(
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

/// Viterbi with K as an argument (inlined for constant K by `dispatch_k!`).
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
    // δ_{t−1} for K ≤ LOCAL_K, carried in a local array from step to step
    // rather than read back from the buffer just written: the broadcasts of
    // the next step then waited on store-to-load forwarding of that row
    // (1.28x slower with AVX2 on AMD Zen 4).
    let mut prev_local = [f64::NEG_INFINITY; LOCAL_K];
    if k <= LOCAL_K {
        prev_local[..k].copy_from_slice(&deltas[..k]);
    }
    for t in 1..len {
        let (done, rest) = deltas.split_at_mut(t * k);
        let next = &mut rest[..k];
        let lb = &logb[t * k..(t + 1) * k];
        if k <= LOCAL_K {
            // Local accumulators the compiler keeps in registers (a slice of
            // the buffer would be reloaded for fear of aliasing).
            // Two independent accumulators (even and odd predecessors)
            // shorten the dependency chain of the maxima; max is exact and
            // order-free, so the values equal those of a sequential maximum.
            let mut even = [f64::NEG_INFINITY; LOCAL_K];
            let mut odd = [f64::NEG_INFINITY; LOCAL_K];
            let pairs = k / 2;
            let prev = &prev_local[..k];
            max_plus(&prev[..pairs], &log_trans[..pairs * k], &mut even[..k]);
            max_plus(&prev[pairs..], &log_trans[pairs * k..], &mut odd[..k]);
            for (((p, &a), &b), &l) in prev_local[..k].iter_mut().zip(&even[..k]).zip(&odd[..k]).zip(lb) {
                *p = (if b > a { b } else { a }) + l;
            }
            next.copy_from_slice(&prev_local[..k]);
        } else {
            let prev = &done[(t - 1) * k..];
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
