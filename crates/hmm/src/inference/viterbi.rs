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

/// Scratch for [`viterbi_body`], time-major: the scores `δ_t` of every step
/// and the back-pointers `ψ_t(j) = argmax_i (δ_{t−1}(i) + ln A_ij)`, as
/// 64-bit integers: the width of an f64 lane, so that the vector selects of
/// the forward pass write them beside the maxima.
#[derive(Default)]
pub(crate) struct ViterbiScratch {
    delta: Vec<f64>,
    back: Vec<u64>,
}

/// `(acc[j], arg[j]) = max and argmax of acc[j] and prev[i] + log_trans[i, j]`
/// over the predecessors i = `first`, `first + 1`, …, branch-free. The
/// comparison is strict, so the lowest index wins a tie.
#[inline(always)]
fn max_plus(prev: &[f64], first: usize, log_trans: &[f64], acc: &mut [f64], arg: &mut [u64]) {
    let k = acc.len();
    for (i, (&di, row)) in prev.iter().zip(log_trans.chunks_exact(k)).enumerate() {
        let index = (first + i) as u64;
        for ((best, a), &lt) in acc.iter_mut().zip(arg.iter_mut()).zip(row) {
            let v = di + lt;
            let better = v > *best;
            *best = if better { v } else { *best };
            *a = if better { index } else { *a };
        }
    }
}

/// Viterbi with K as an argument (inlined for constant K by `dispatch_k!`).
///
/// Forward: `δ_0 = ln π + ln b(x_0)`, `δ_t(j) = max_i (δ_{t−1}(i) + ln A_ij) + ln b_j(x_t)`,
/// a branch-free max over i in the outer loop and the K targets in the
/// inner, vectorised loop, which also keeps the back-pointer `ψ_t(j)` (the
/// lowest maximiser). The traceback `z_{t−1} = ψ_t(z_t)` is then one load
/// per step. (Recomputing `argmax_i (δ_{t−1}(i) + ln A_{i z_t})` for the
/// chosen state instead, as this function once did, put a compare, a
/// maximum and a select chain on the traceback's dependency chain: half of
/// the decoding time on AMD Zen 4, with branches or without.)
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
    if work.delta.len() < len * k {
        work.delta.resize(len * k, 0.0);
        work.back.resize(len * k, 0);
    }
    let deltas = &mut work.delta[..len * k];
    let back = &mut work.back[..len * k];
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
        let psi = &mut back[t * k..(t + 1) * k];
        let lb = &logb[t * k..(t + 1) * k];
        if k <= LOCAL_K {
            // Local accumulators the compiler keeps in registers (a slice of
            // the buffer would be reloaded for fear of aliasing).
            // Two independent accumulators (over the first and the second
            // half of the predecessors) shorten the dependency chain of the
            // maxima; max is exact and order-free, so the values equal those
            // of a sequential maximum. A tie between the halves goes to the
            // first, so ψ is the lowest maximiser.
            let (mut first, mut first_arg) = ([f64::NEG_INFINITY; LOCAL_K], [0; LOCAL_K]);
            let (mut second, mut second_arg) = ([f64::NEG_INFINITY; LOCAL_K], [0; LOCAL_K]);
            let half = k / 2;
            let prev = &prev_local[..k];
            max_plus(
                &prev[..half],
                0,
                &log_trans[..half * k],
                &mut first[..k],
                &mut first_arg[..k],
            );
            max_plus(
                &prev[half..],
                half,
                &log_trans[half * k..],
                &mut second[..k],
                &mut second_arg[..k],
            );
            for j in 0..k {
                let later = second[j] > first[j];
                prev_local[j] = (if later { second[j] } else { first[j] }) + lb[j];
                psi[j] = if later { second_arg[j] } else { first_arg[j] };
            }
            next.copy_from_slice(&prev_local[..k]);
        } else {
            let prev = &done[(t - 1) * k..];
            next.fill(f64::NEG_INFINITY);
            psi.fill(0);
            max_plus(prev, 0, log_trans, next, psi);
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
        arg = back[t * k + arg] as usize;
        path[t - 1] = arg;
    }
    Ok(best)
}
