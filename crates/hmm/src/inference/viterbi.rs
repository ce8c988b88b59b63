//! Viterbi decoding of one sequence in log space.

use std::ops::Range;

use super::chain::{LOCAL_K, dispatch_k};

/// Viterbi in log space over one sequence.
///
/// `log_start[j] = ln π_j`, `log_trans[i * k + j] = ln A_ij`, `logb` the
/// emission log-likelihoods by state: `logb[j][t] = ln b_j(x_t)` for the
/// `path.len()` steps (the emissions' column-major layout, read as it is:
/// the loads of step t's K values are off the recursion's dependency chain,
/// where a transposition to time-major rows first cost 14% of the
/// decoding). The maximisation runs over the predecessor i in the
/// outer loop and the K targets j in the inner (vectorisable) loop. Writes
/// the best path into `path` and returns its log-probability `ln p(x, z*)`,
/// or `Err(t)` if no path has positive probability (first at time t). Ties
/// go to the lowest state index.
#[inline(always)]
pub(super) fn viterbi_body(
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[&[f64]],
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
///
/// Compiled for AVX2, each value costs an add, a maximum, a compare and a
/// select. On AMD Zen 4 the first three share two pipes (measured apart from
/// this code, on twelve independent chains of one or two kinds of these
/// instructions in registers: adds, maxima or compares issue 2 per cycle each,
/// adds mixed with maxima or with compares 2 per cycle in all, and mixed
/// with selects or multiply-adds up to 3.5), which bounds the recursion at
/// 1.5 cycles per vector of four values: 24 cycles per step at K = 8, of
/// the about 30 that a step of the `hmm_viterbi` run takes (a third of the
/// decoding's samples, at about 3.6 GHz).
///
/// Neither way of moving work off those pipes paid, with AVX2 on AMD Zen 4:
/// the adds as multiply-adds `lt.mul_add(1, di)` (the same bits, with the 1
/// hidden from the optimiser) made the decoding 4% slower (2.43 against
/// 2.34 ms per `hmm_viterbi` run, the least of 10), and the maximum as a
/// second select on the compare's mask (AVX2 intrinsics for K = 8) 11%
/// slower (2.53 against 2.27 ms).
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
/// the decoding time on AMD Zen 4, with branches or without. Keeping the
/// maxima `max_i (δ_{t−1}(i) + ln A_ij)` instead of `ψ`, so that the forward
/// pass does an add and a maximum per value and no selects, and finding
/// `z_{t−1}` by an exact equality search against them (an add, a compare
/// and a mask per step, with AVX2's movemask) took as long, 2.28 against
/// 2.31 ms per `hmm_viterbi` run, the least of 10: the forward pass fell
/// from 34% of the decoding to 20%, and the traceback's chain of searches
/// rose from 4% to 13-16%. The same forward pass with the traceback left
/// out, a probe, took 1.98 against 2.32 ms: a faster search could win at
/// most that 15%, and more than the pair's two chains side by side would
/// need more sequences than a chunk holds when they are long (two, from
/// 512 rows each: `CHUNK_ROWS`).)
#[inline(always)]
fn viterbi_k(
    k: usize,
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[&[f64]],
    path: &mut [usize],
    work: &mut ViterbiScratch,
) -> Result<f64, usize> {
    let len = path.len();
    let log_trans = &log_trans[..k * k];
    let cols = local_columns(k, logb, 0..len);
    let (deltas, back) = work.rows(len * k);
    // δ_{t−1} for K ≤ LOCAL_K, carried in a local array from step to step
    // rather than read back from the buffer just written: the broadcasts of
    // the next step then waited on store-to-load forwarding of that row
    // (1.28x slower with AVX2 on AMD Zen 4).
    let mut prev = [f64::NEG_INFINITY; LOCAL_K];
    first_step(k, log_start, logb, 0, deltas, &mut prev);
    for t in 1..len {
        if k <= LOCAL_K {
            viterbi_step(k, t, log_trans, &cols, deltas, back, &mut prev);
        } else {
            let (done, rest) = deltas.split_at_mut(t * k);
            let (next, psi) = (&mut rest[..k], &mut back[t * k..(t + 1) * k]);
            next.fill(f64::NEG_INFINITY);
            psi.fill(0);
            max_plus(&done[(t - 1) * k..], 0, log_trans, next, psi);
            for (d, col) in next.iter_mut().zip(logb) {
                *d += col[t];
            }
        }
    }
    traceback(k, deltas, back, path)
}

/// [`viterbi_body`] over two consecutive sequences, the first `split` rows
/// of `logb`'s columns and of `path` and the rest, in lockstep while both last (see
/// `forward::forward_pair_body`: one recursion leaves the core mostly
/// idle). Each sequence gets exactly the arithmetic of [`viterbi_body`].
/// For K > [`LOCAL_K`] the two run one after the other.
#[inline(always)]
pub(super) fn viterbi_pair_body(
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[&[f64]],
    split: usize,
    path: &mut [usize],
    work: &mut ViterbiScratch,
) -> [Result<f64, usize>; 2] {
    let k = log_start.len();
    let (path0, path1) = path.split_at_mut(split);
    if k > LOCAL_K {
        let logb1: Vec<&[f64]> = logb.iter().map(|col| &col[split..]).collect();
        return [
            viterbi_body(log_start, log_trans, logb, path0, work),
            viterbi_body(log_start, log_trans, &logb1, path1, work),
        ];
    }
    dispatch_k!(k, viterbi_pair_k(log_start, log_trans, logb, path0, path1, work))
}

/// Two sequences' recursions, a step of each per time t (K ≤ [`LOCAL_K`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn viterbi_pair_k(
    k: usize,
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[&[f64]],
    path0: &mut [usize],
    path1: &mut [usize],
    work: &mut ViterbiScratch,
) -> [Result<f64, usize>; 2] {
    let (len0, len1) = (path0.len(), path1.len());
    let log_trans = &log_trans[..k * k];
    let (cols0, cols1) = (
        local_columns(k, logb, 0..len0),
        local_columns(k, logb, len0..len0 + len1),
    );
    let (deltas, back) = work.rows((len0 + len1) * k);
    let (deltas0, deltas1) = deltas.split_at_mut(len0 * k);
    let (back0, back1) = back.split_at_mut(len0 * k);
    let (mut prev0, mut prev1) = ([f64::NEG_INFINITY; LOCAL_K], [f64::NEG_INFINITY; LOCAL_K]);
    first_step(k, log_start, logb, 0, deltas0, &mut prev0);
    first_step(k, log_start, logb, len0, deltas1, &mut prev1);
    for t in 1..len0.max(len1) {
        if t < len0 {
            viterbi_step(k, t, log_trans, &cols0, deltas0, back0, &mut prev0);
        }
        if t < len1 {
            viterbi_step(k, t, log_trans, &cols1, deltas1, back1, &mut prev1);
        }
    }
    traceback_pair(k, [deltas0, deltas1], [back0, back1], [path0, path1])
}

/// The rows `rows` of the first K ≤ [`LOCAL_K`] columns of `logb` (empty
/// slices for K > [`LOCAL_K`], whose recursion reads `logb` itself).
#[inline(always)]
fn local_columns<'a>(k: usize, logb: &[&'a [f64]], rows: Range<usize>) -> [&'a [f64]; LOCAL_K] {
    std::array::from_fn(|j| {
        if j < k && k <= LOCAL_K {
            &logb[j][rows.clone()]
        } else {
            &[]
        }
    })
}

/// `δ_0 = ln π + ln b(x_0)`, the emissions of row `row` of `logb`'s
/// columns, into the first row of `deltas` and `prev`.
#[inline(always)]
fn first_step(
    k: usize,
    log_start: &[f64],
    logb: &[&[f64]],
    row: usize,
    deltas: &mut [f64],
    prev: &mut [f64; LOCAL_K],
) {
    for ((d, &s), col) in deltas[..k].iter_mut().zip(&log_start[..k]).zip(logb) {
        *d = s + col[row];
    }
    if k <= LOCAL_K {
        prev[..k].copy_from_slice(&deltas[..k]);
    }
}

/// Step t for K ≤ [`LOCAL_K`]: `δ_t` into `prev` (which held `δ_{t−1}`) and
/// row t of `deltas`, `ψ_t` into row t of `back`.
#[inline(always)]
fn viterbi_step(
    k: usize,
    t: usize,
    log_trans: &[f64],
    cols: &[&[f64]; LOCAL_K],
    deltas: &mut [f64],
    back: &mut [u64],
    prev: &mut [f64; LOCAL_K],
) {
    let mut lb = [0.0; LOCAL_K];
    for (b, col) in lb[..k].iter_mut().zip(cols) {
        *b = col[t];
    }
    // Local accumulators the compiler keeps in registers (a slice of the
    // buffer would be reloaded for fear of aliasing). Two independent
    // accumulators (over the first and the second half of the
    // predecessors) shorten the dependency chain of the maxima; max is
    // exact and order-free, so the values equal those of a sequential
    // maximum. A tie between the halves goes to the first, so ψ is the
    // lowest maximiser. (Four accumulators, over the quarters, combined
    // pairwise, made the decoding 1.9x slower with AVX2 on AMD Zen 4.)
    let (mut first, mut first_arg) = ([f64::NEG_INFINITY; LOCAL_K], [0; LOCAL_K]);
    let (mut second, mut second_arg) = ([f64::NEG_INFINITY; LOCAL_K], [0; LOCAL_K]);
    let half = k / 2;
    let before = &prev[..k];
    max_plus(
        &before[..half],
        0,
        &log_trans[..half * k],
        &mut first[..k],
        &mut first_arg[..k],
    );
    max_plus(
        &before[half..],
        half,
        &log_trans[half * k..],
        &mut second[..k],
        &mut second_arg[..k],
    );
    let psi = &mut back[t * k..(t + 1) * k];
    for j in 0..k {
        let later = second[j] > first[j];
        prev[j] = (if later { second[j] } else { first[j] }) + lb[j];
        psi[j] = if later { second_arg[j] } else { first_arg[j] };
    }
    deltas[t * k..(t + 1) * k].copy_from_slice(&prev[..k]);
}

/// The end of the recursion: `Err(t)` at the first dead step (every
/// `δ_t = −∞`), else the best final state, the path back through `ψ` into
/// `path`, and its log-probability.
#[inline(always)]
fn traceback(k: usize, deltas: &[f64], back: &[u64], path: &mut [usize]) -> Result<f64, usize> {
    let (best, last) = best_end(k, deltas, path.len())?;
    path[path.len() - 1] = last;
    walk_back(k, back, path, path.len(), 1);
    Ok(best)
}

/// [`traceback`] of two sequences, their walks back through `ψ` in
/// lockstep while both last: each walk is a chain of dependent loads (the
/// next state indexes the next load), so two chains side by side take
/// about the time of one.
#[inline(always)]
fn traceback_pair(
    k: usize,
    deltas: [&[f64]; 2],
    back: [&[u64]; 2],
    path: [&mut [usize]; 2],
) -> [Result<f64, usize>; 2] {
    let [path0, path1] = path;
    let (len0, len1) = (path0.len(), path1.len());
    let (Ok((best0, last0)), Ok((best1, last1))) =
        (best_end(k, deltas[0], len0), best_end(k, deltas[1], len1))
    else {
        // One at least is impossible: no time to save.
        return [
            traceback(k, deltas[0], back[0], path0),
            traceback(k, deltas[1], back[1], path1),
        ];
    };
    path0[len0 - 1] = last0;
    path1[len1 - 1] = last1;
    // The longer sequence's own steps first, then both together.
    let common = len0.min(len1);
    walk_back(k, back[0], path0, len0, common);
    walk_back(k, back[1], path1, len1, common);
    let (mut z0, mut z1) = (path0[common - 1], path1[common - 1]);
    for t in (1..common).rev() {
        z0 = back[0][t * k + z0] as usize;
        z1 = back[1][t * k + z1] as usize;
        path0[t - 1] = z0;
        path1[t - 1] = z1;
    }
    [Ok(best0), Ok(best1)]
}

/// The best path's log-probability and final state over the first `len`
/// rows of `deltas`, or `Err(t)` at the first dead step (every
/// `δ_t = −∞`).
#[inline(always)]
fn best_end(k: usize, deltas: &[f64], len: usize) -> Result<(f64, usize), usize> {
    // A dead step (every δ_t = −∞) makes every later step dead: one check at
    // the end, then a search for the first dead step.
    let last = &deltas[(len - 1) * k..len * k];
    if last.iter().all(|&v| v == f64::NEG_INFINITY) {
        let t = deltas
            .chunks_exact(k)
            .position(|row| row.iter().all(|&v| v == f64::NEG_INFINITY));
        return Err(t.unwrap_or(len - 1));
    }
    let mut best = f64::NEG_INFINITY;
    let mut arg = 0;
    for (j, &v) in last.iter().enumerate() {
        if v > best {
            best = v;
            arg = j;
        }
    }
    Ok((best, arg))
}

/// `z_{t−1} = ψ_t(z_t)` for t = `from − 1` down to `to`, from the state
/// `path[from − 1]`.
#[inline(always)]
fn walk_back(k: usize, back: &[u64], path: &mut [usize], from: usize, to: usize) {
    let mut z = path[from - 1];
    for t in (to..from).rev() {
        z = back[t * k + z] as usize;
        path[t - 1] = z;
    }
}

impl ViterbiScratch {
    /// The first `n` scores and back-pointers (grown as needed; contents
    /// are overwritten before they are read).
    #[inline]
    fn rows(&mut self, n: usize) -> (&mut [f64], &mut [u64]) {
        if self.delta.len() < n {
            self.delta.resize(n, 0.0);
            self.back.resize(n, 0);
        }
        (&mut self.delta[..n], &mut self.back[..n])
    }
}
