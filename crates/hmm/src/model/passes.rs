//! The parallel passes over the data: the recursions of the `inference`
//! module run over the fixed chunks of whole sequences of
//! [`Sequences::chunks`], one chunk per rayon task, and the per-chunk results
//! are returned in chunk order (so every reduction over them is independent
//! of the number of threads).

use faer::{MatMut, MatRef};
use rayon::prelude::*;

use super::Hmm;
use super::pool::Pool;
use super::stats::HmmStats;
use crate::emission::Emission;
use crate::error::HmmError;
use crate::inference::{self, Scratch, ViterbiScratch};
use crate::sequences::{Chunk, Sequences};

/// What a pass over the chunks computes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// Forward only.
    Score,
    /// Forward-backward, posteriors kept.
    Posteriors,
    /// Forward-backward, statistics accumulated.
    Stats,
}

/// Per-chunk output of the recursions.
pub(super) struct ChunkOut<S> {
    /// `ln p(x_s | θ)` of every sequence of the chunk.
    pub(super) logliks: Vec<f64>,
    /// Posteriors, n x K column-major (posteriors pass).
    pub(super) gamma: Option<Vec<f64>>,
    /// Expected transition counts of the chunk (row-major K x K; empty in
    /// the statistics pass, which keeps them in `stats`).
    pub(super) transitions: Vec<f64>,
    /// The chunk's statistics (statistics pass).
    pub(super) stats: Option<HmmStats<S>>,
}

/// Work buffers of [`Hmm::chunk_pass`], reused across the chunks one
/// rayon worker processes (they only grow; contents are overwritten).
#[derive(Default)]
struct ChunkBuffers {
    logb: Vec<f64>,
    e: Vec<f64>,
    shift: Vec<f64>,
    alpha: Vec<f64>,
    c: Vec<f64>,
    scratch: Scratch,
    tmp: Vec<f64>,
    gamma: Vec<f64>,
}

/// Work buffers of [`Hmm::viterbi_chunk`], reused across the chunks one
/// rayon worker decodes.
#[derive(Default)]
pub(super) struct DecodeBuffers {
    logb: Vec<f64>,
    scratch: ViterbiScratch,
}

/// The emission log-likelihoods of the `n` rows of `x` into `buf` (grown
/// as needed): its first `n·K` values, the n x K matrix column by column.
fn log_likelihoods_in<'b, E: Emission>(
    emission: &E,
    x: MatRef<'_, f64>,
    buf: &'b mut Vec<f64>,
) -> Result<&'b [f64], HmmError> {
    let (n, k) = (x.nrows(), emission.n_states());
    if buf.len() < n * k {
        buf.resize(n * k, 0.0);
    }
    let values = &mut buf[..n * k];
    emission.log_likelihoods_into(x, MatMut::from_column_major_slice_mut(values, n, k))?;
    Ok(values)
}

/// What the recursions over the sequences of one chunk give; the
/// posteriors (or forward variables) stay in the time-major buffer.
struct Sweep {
    logliks: Vec<f64>,
    /// `Σ_s γ_0(j)` over the sequences of the chunk.
    start_counts: Vec<f64>,
    /// `Σ_t α̂_t w_{t+1}ᵀ` (row-major K x K).
    transitions: Vec<f64>,
}

/// The error of an invalid emission log-likelihood at row `t` of a chunk
/// starting at row `first_row`.
fn invalid_log_likelihood(first_row: usize) -> impl Fn((usize, usize, f64)) -> HmmError {
    move |(t, state, value)| HmmError::InvalidLogLikelihood {
        row: first_row + t,
        state,
        value,
    }
}

/// The sequences of `chunk` two at a time (the last one alone for an odd
/// count), as the paired kernels take them: each pair's sequence indices,
/// its first row within the chunk and its number of rows.
fn sequence_pairs<'a>(
    data: &'a Sequences<'_>,
    chunk: &'a Chunk,
) -> impl Iterator<Item = (std::ops::Range<usize>, usize, usize)> + 'a {
    (chunk.first_sequence..chunk.end_sequence)
        .step_by(2)
        .map(|first| {
            let pair = first..(first + 2).min(chunk.end_sequence);
            let len = data.lengths()[pair.clone()].iter().sum();
            (pair, data.starts()[first] - chunk.first_row, len)
        })
}

impl<E: Emission> Hmm<E> {
    /// The emission's checks of the data.
    pub(super) fn check(&self, data: &Sequences<'_>) -> Result<(), HmmError> {
        self.emission.check_data(data)
    }

    /// Runs `pass` over every chunk in parallel; the results in chunk order.
    pub(super) fn run(&self, data: &Sequences<'_>, pass: Pass) -> Result<Vec<ChunkOut<E::Stats>>, HmmError> {
        self.check(data)?;
        let pool = Pool::new();
        data.chunks()
            .par_iter()
            .map_init(
                || pool.take(),
                |buffers, chunk| self.chunk_pass(data, chunk, pass, buffers),
            )
            .collect()
    }

    /// Runs the recursions over one chunk.
    fn chunk_pass(
        &self,
        data: &Sequences<'_>,
        chunk: &Chunk,
        pass: Pass,
        buffers: &mut ChunkBuffers,
    ) -> Result<ChunkOut<E::Stats>, HmmError> {
        let k = self.n_states();
        let n = chunk.n_rows;
        let x = data.data().subrows(chunk.first_row, n);
        let ChunkBuffers {
            logb,
            e,
            shift,
            alpha,
            c,
            scratch,
            tmp,
            gamma: gamma_buf,
        } = buffers;
        // Reused across chunks: every entry read below is written first
        // (`scale_emissions` fills `e` and `shift`, `forward` the rows of
        // `alpha` and `c` of every sequence whose posteriors are used).
        e.resize(n * k, 0.0);
        shift.resize(n, 0.0);
        alpha.resize(n * k, 0.0);
        c.resize(n, 0.0);
        scratch.grow(k);
        let values = log_likelihoods_in(&self.emission, x, logb)?;
        let columns: Vec<&[f64]> = values.chunks_exact(n).collect();
        let (e, shift, alpha, c) = (&mut e[..n * k], &mut shift[..n], &mut alpha[..n * k], &mut c[..n]);
        inference::scale_emissions(&columns, e, shift, tmp)
            .map_err(invalid_log_likelihood(chunk.first_row))?;
        let logb = MatRef::from_column_major_slice(values, n, k);
        let mut sweep = self.sweep(data, chunk, pass, logb, e, shift, alpha, c, scratch)?;
        // Time-major posteriors (in `alpha`) to an n x K column-major buffer:
        // returned for the posteriors pass, a reused buffer for the stats pass.
        let gamma = if pass == Pass::Posteriors {
            let mut g = vec![0.0; n * k];
            inference::time_major_to_columns(alpha, k, &mut g);
            Some(g)
        } else {
            None
        };
        // ξ summed over the chunk: A ∘ Σ_t α̂_t w_{t+1}ᵀ.
        for (mij, &aij) in sweep.transitions.iter_mut().zip(&self.trans) {
            *mij *= aij;
        }
        let logliks = std::mem::take(&mut sweep.logliks);
        let (stats, transitions) = if pass == Pass::Stats {
            let stats = self.chunk_stats(x, alpha, gamma_buf, sweep, chunk)?;
            (Some(stats), Vec::new())
        } else {
            (None, sweep.transitions)
        };
        Ok(ChunkOut {
            logliks,
            gamma,
            transitions,
            stats,
        })
    }

    /// Forward (and, unless scoring, backward) over every sequence of a
    /// chunk: `e` and `shift` from `scale_emissions`, `alpha` receives the
    /// forward variables, overwritten by the posteriors in the backward
    /// pass, and `c` the scale factors; `scratch` is grown to K states.
    fn sweep(
        &self,
        data: &Sequences<'_>,
        chunk: &Chunk,
        pass: Pass,
        logb: MatRef<'_, f64>,
        e: &mut [f64],
        shift: &mut [f64],
        alpha: &mut [f64],
        c: &mut [f64],
        scratch: &mut Scratch,
    ) -> Result<Sweep, HmmError> {
        let k = self.n_states();
        let mut m = vec![0.0; k * k];
        let mut start_counts = vec![0.0; k];
        let mut logliks = Vec::with_capacity(chunk.end_sequence - chunk.first_sequence);
        let chain = self.chain();
        // The forward passes two sequences at a time (`forward_pair`), each
        // pair followed by the backward passes of its sequences. (Backward
        // passes two at a time in lockstep as well were no faster, 65.06
        // against 64.41 ms per `hmm_fit` run, the least of 10, with AVX2 on
        // AMD Zen 4: a backward step runs about 156 instructions at 3.6 per
        // cycle, bound by their number rather than by its chain.)
        for (pair, r0, len) in sequence_pairs(data, chunk) {
            let first = pair.start;
            let rows = r0 * k..(r0 + len) * k;
            let (lb, pair_e, pair_shift) = (
                logb.subrows(r0, len),
                &mut e[rows.clone()],
                &mut shift[r0..r0 + len],
            );
            let (alpha, c) = (&mut alpha[rows], &mut c[r0..r0 + len]);
            let results = if pair.len() == 2 {
                let split = data.lengths()[first];
                inference::forward_pair(chain, lb, pair_e, pair_shift, alpha, c, split, scratch)
            } else {
                // The last sequence of an odd count: one result (the zip below stops).
                let result = inference::forward(chain, lb, pair_e, pair_shift, alpha, c, scratch);
                [result, Ok(0.0)]
            };
            for (s, result) in pair.clone().zip(results) {
                logliks.push(result.map_err(|time| HmmError::ZeroLikelihood { sequence: s, time })?);
            }
            if pass != Pass::Score {
                let e = &e[r0 * k..(r0 + len) * k];
                let mut row = 0;
                for s in pair {
                    let len = data.lengths()[s];
                    let rows = row * k..(row + len) * k;
                    let ok = inference::backward(
                        chain,
                        &e[rows.clone()],
                        &mut alpha[rows],
                        &c[row..row + len],
                        &mut m,
                        scratch,
                    );
                    if !ok {
                        return Err(HmmError::NumericalFailure { sequence: s });
                    }
                    for (sc, &g) in start_counts.iter_mut().zip(&alpha[row * k..(row + 1) * k]) {
                        *sc += g;
                    }
                    row += len;
                }
            }
        }
        Ok(Sweep {
            logliks,
            start_counts,
            transitions: m,
        })
    }

    /// The statistics of a chunk from its time-major posteriors `alpha`
    /// (transposed into the reused `gamma_buf`) and its sweep (whose
    /// transitions already carry the factor A).
    fn chunk_stats(
        &self,
        x: MatRef<'_, f64>,
        alpha: &[f64],
        gamma_buf: &mut Vec<f64>,
        sweep: Sweep,
        chunk: &Chunk,
    ) -> Result<HmmStats<E::Stats>, HmmError> {
        let (k, n) = (self.n_states(), chunk.n_rows);
        if gamma_buf.len() < n * k {
            gamma_buf.resize(n * k, 0.0);
        }
        let g = &mut gamma_buf[..n * k];
        // (Posteriors written by state from the backward pass instead, K
        // scattered stores per step and no transposition, took the same
        // time per Baum-Welch iteration, with 2% more instructions in all:
        // AVX2, AMD Zen 4.)
        inference::time_major_to_columns(alpha, k, g);
        let mut emission = self.emission.zero_stats();
        self.emission
            .accumulate(x, MatRef::from_column_major_slice(g, n, k), &mut emission)?;
        Ok(HmmStats {
            start: sweep.start_counts,
            transitions: sweep.transitions,
            emission,
            n_sequences: chunk.end_sequence - chunk.first_sequence,
            n_samples: n,
        })
    }

    /// Viterbi over the sequences of one chunk (log space): their best paths
    /// into `path` (the chunk's rows), their log-probabilities returned.
    pub(super) fn viterbi_chunk(
        &self,
        data: &Sequences<'_>,
        chunk: &Chunk,
        path: &mut [usize],
        buffers: &mut DecodeBuffers,
    ) -> Result<Vec<f64>, HmmError> {
        let x = data.data().subrows(chunk.first_row, chunk.n_rows);
        let DecodeBuffers { logb, scratch: work } = buffers;
        let columns: Vec<&[f64]> = log_likelihoods_in(&self.emission, x, logb)?
            .chunks_exact(chunk.n_rows)
            .collect();
        inference::check_log_likelihoods(&columns).map_err(invalid_log_likelihood(chunk.first_row))?;
        let mut log_probs = Vec::with_capacity(chunk.end_sequence - chunk.first_sequence);
        // Two sequences at a time (`viterbi_pair`), as in `sweep`.
        for (pair, r0, len) in sequence_pairs(data, chunk) {
            let first = pair.start;
            let lb: Vec<&[f64]> = columns.iter().map(|col| &col[r0..r0 + len]).collect();
            let path = &mut path[r0..r0 + len];
            let (log_start, log_trans) = (&self.log_start, &self.log_trans);
            let results = if pair.len() == 2 {
                let split = data.lengths()[first];
                inference::viterbi_pair(log_start, log_trans, &lb, split, path, work)
            } else {
                // The last sequence of an odd count: one result (the zip below stops).
                [inference::viterbi(log_start, log_trans, &lb, path, work), Ok(0.0)]
            };
            for (s, result) in pair.zip(results) {
                log_probs.push(result.map_err(|time| HmmError::ZeroLikelihood { sequence: s, time })?);
            }
        }
        Ok(log_probs)
    }
}
