//! Block kernels of the E-step and of the density evaluation.
//!
//! Rows are processed in blocks of [`BLOCK_ROWS`] = [`GROUPS`] x [`LANES`],
//! transposed into one `[f64; LANES]` lane array per (feature, lane group),
//! so that every arithmetic statement below is one vector instruction across
//! 8 points (the layout `gaussian_log_density` of `linalg-kernels` uses over
//! its 256-row blocks, shrunk to a few registers). Working on [`GROUPS`] lane
//! groups at once keeps the partial results in registers: each broadcast
//! coefficient `W[j,i]` and each statistics accumulator is loaded once per
//! [`GROUPS`] vector FMAs instead of once per FMA.
//!
//! For each component the centred block `x − μₖ` is whitened by the cached
//! `Wₖ = Lₖ⁻¹` (`y_j = Σ_{i≤j} W[j,i] (x_i − μ_i)`, no dependency chain between
//! the `j`), the row log-sum-exp over components uses a vector form of
//! [`linalg_kernels::fastexp::exp_non_positive`] and a vector `ln`, and the sufficient
//! statistics are accumulated per lane, centred on the shift `μₖ` (see [`Acc`]).
//! The triangular whitening and the full second moment read each centred
//! value `d` times, so the full and tied kinds keep the centred block in a
//! buffer; the diagonal and spherical kinds read it once per pass and form
//! `x_j − μ_j` in registers from the gathered block instead (one subtraction
//! instead of a store and a reload). [`gather`] asks the cache for the
//! columns' rows [`PREFETCH_ROWS`] ahead.
//!
//! The block functions are generic over a [`Simd`] token and marked
//! `#[inline(always)]`; `isa_kernels!` instantiates each chunk-level entry
//! point once per instruction set of [`linalg_kernels::for_each_isa!`]
//! (AVX-512, AVX2 + FMA, portable) and [`linalg_kernels::isa_dispatch!`]
//! picks one at run time, so the workspace needs no `target-cpu` flag.
//! Results may differ in the last bits between those instruction sets (fused
//! or separate multiply-adds), never between thread counts: chunks have a
//! fixed size ([`CHUNK_ROWS`]) and are reduced in index order.

use crate::covariance::Whitening;
use crate::data::Data;

/// Points per vector block.
pub(crate) const LANES: usize = 8;
/// One value per lane.
pub(crate) type V = [f64; LANES];
/// Lane groups per block. (Two, which leave AVX2 more registers for the
/// whitening's partial results, made ten EM iterations of a full GMM 9%
/// slower, of a diagonal one 6% slower and a Viterbi decoding with
/// Gaussian emissions at d = 4 6% slower, with AVX2 on AMD Zen 4.)
pub(crate) const GROUPS: usize = 4;
/// Rows per block.
pub(crate) const BLOCK_ROWS: usize = GROUPS * LANES;
/// Rows per parallel chunk (a multiple of [`BLOCK_ROWS`]); fixed, so results do
/// not depend on the number of threads.
pub(crate) const CHUNK_ROWS: usize = 4096;

mod acc;
mod lines;
mod simd;
pub(crate) use acc::{Acc, AccKind};
use lines::Lines;
pub(crate) use simd::Simd;

/// One module per instruction set of [`linalg_kernels::for_each_isa!`]
/// (`avx512`, `avx2`, `baseline`): the chunk-level entry points compiled
/// with that set's target features, each instantiating the
/// `#[inline(always)]` generic kernels with the token of the same name in
/// [`simd`], so that the whole chunk loop is compiled with the features.
/// [`linalg_kernels::isa_dispatch!`] calls the module of the detected set.
///
/// Whether multiply-adds are fused is the token's choice (`$fma` is unused):
/// fused with AVX2 and AVX-512, and in the portable token on aarch64 only.
macro_rules! isa_kernels {
    ($isa:ident, $fma:literal $(, $features:literal)?) => {
        mod $isa {
            use super::simd::$isa::Token;
            use super::{Acc, AccumulateJob, EStepChunk, EStepJob, EvalJob, EvalOut};

            $(#[target_feature(enable = $features)])*
            pub(super) fn estep_chunk(job: &EStepJob<'_>, start: usize, end: usize) -> EStepChunk {
                super::estep_chunk_generic::<_, true>(Token::new(), job, start, end)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn loglik_chunk(job: &EStepJob<'_>, start: usize, end: usize) -> EStepChunk {
                super::estep_chunk_generic::<_, false>(Token::new(), job, start, end)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn eval_chunk(job: &EvalJob<'_>, start: usize, end: usize, out: EvalOut<'_>) -> Option<usize> {
                super::eval_chunk_generic(Token::new(), job, start, end, out)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn accumulate_chunk(job: &AccumulateJob<'_>, start: usize, end: usize) -> Acc {
                super::accumulate_chunk_generic(Token::new(), job, start, end)
            }
        }
    };
}

linalg_kernels::for_each_isa!(isa_kernels);

/// One E-step chunk over rows `start..end` (see [`estep_chunk_generic`]),
/// with the instruction set detected at run time.
pub(crate) fn estep_chunk(job: &EStepJob<'_>, start: usize, end: usize) -> EStepChunk {
    linalg_kernels::isa_dispatch!(estep_chunk(job, start, end))
}

/// The log-likelihood alone of rows `start..end` (see
/// [`estep_chunk_generic`]), with the instruction set detected at run time.
pub(crate) fn loglik_chunk(job: &EStepJob<'_>, start: usize, end: usize) -> EStepChunk {
    linalg_kernels::isa_dispatch!(loglik_chunk(job, start, end))
}

/// Densities / responsibilities / row scores over rows `start..end`
/// (see [`eval_chunk_generic`]); returns the first row whose result is not
/// finite, if any.
pub(crate) fn eval_chunk(job: &EvalJob<'_>, start: usize, end: usize, out: EvalOut<'_>) -> Option<usize> {
    linalg_kernels::isa_dispatch!(eval_chunk(job, start, end, out))
}

/// Accumulates given responsibilities over rows `start..end` (see
/// [`accumulate_chunk_generic`]).
pub(crate) fn accumulate_chunk(job: &AccumulateJob<'_>, start: usize, end: usize) -> Acc {
    linalg_kernels::isa_dispatch!(accumulate_chunk(job, start, end))
}

/// What every chunk of an E-step pass reads.
pub(crate) struct EStepJob<'a> {
    /// The model.
    pub model: ModelView<'a>,
    /// `ln wₖ`.
    pub log_w: &'a [f64],
    /// The data.
    pub data: &'a Data<'a>,
    /// Optional per-row sample weights.
    pub weights: Option<&'a [f64]>,
    /// The second moment to accumulate (unused by [`loglik_chunk`]).
    pub kind: AccKind,
}

/// What every chunk of a density pass reads.
pub(crate) struct EvalJob<'a> {
    /// The model.
    pub model: ModelView<'a>,
    /// `ln wₖ` for responsibilities and row scores; `None` for the
    /// component log-densities.
    pub log_w: Option<&'a [f64]>,
    /// The data.
    pub data: &'a Data<'a>,
}

/// What every chunk of a statistics pass with given responsibilities reads.
pub(crate) struct AccumulateJob<'a> {
    /// Features.
    pub d: usize,
    /// The per-component shift the statistics are centred on (K·d).
    pub shift: &'a [f64],
    /// The data.
    pub data: &'a Data<'a>,
    /// One column of responsibilities per component.
    pub resp: &'a Cols<'a>,
    /// The second moment to accumulate.
    pub kind: AccKind,
}

/// What the density kernels need of a model.
pub(crate) struct ModelView<'a> {
    /// Features.
    pub d: usize,
    /// Components.
    pub k: usize,
    /// Means, component-major (`k·d + j`).
    pub means: &'a [f64],
    /// `−½ (d ln 2π + ln det Σₖ)`.
    pub log_norm: &'a [f64],
    /// Cached whitening.
    pub whitening: &'a Whitening,
}

/// Column slices of a data matrix with unit row stride.
pub(crate) type Cols<'a> = [&'a [f64]];

/// How far ahead of the block it copies [`gather`] prefetches a column:
/// two blocks, a few thousand cycles of work at `d = K = 8`, more than a
/// memory latency. (Row-major data is one contiguous stream, which the
/// hardware prefetcher follows.) Without the prefetches the diagonal
/// E-step took 4-6% longer and the full one 3% longer (AVX2, AMD Zen 4);
/// 4, 8 or 16 blocks ahead measured the same as 2.
const PREFETCH_ROWS: usize = 2 * BLOCK_ROWS;

/// Asks the cache for the line holding `*p`, where the instruction set has a
/// prefetch hint that every CPU of the target architecture supports (SSE's
/// `prefetcht0` on x86-64); nothing elsewhere.
#[inline(always)]
fn prefetch(p: &f64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64; a prefetch reads no memory architecturally.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(p).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Copies rows `start..start + len` (`1 ≤ len ≤ BLOCK_ROWS`) into `xb`
/// (index `j·GROUPS + g`); rows past `len` repeat the last row (finite
/// values that the callers give weight zero). With column-major data it
/// also prefetches each column's rows `PREFETCH_ROWS` ahead (one per cache
/// line of `LANES` values).
#[inline(always)]
fn gather<S: Simd>(s: S, data: &Data<'_>, start: usize, len: usize, xb: &mut [V]) {
    match data {
        Data::Cols(cols) => {
            for (j, col) in cols.iter().enumerate() {
                if let Some(ahead) = col.get(start + PREFETCH_ROWS..start + PREFETCH_ROWS + BLOCK_ROWS) {
                    for line in ahead.chunks_exact(LANES) {
                        prefetch(&line[0]);
                    }
                }
                let dst = &mut xb[j * GROUPS..(j + 1) * GROUPS];
                if len == BLOCK_ROWS {
                    for (g, lanes) in dst.iter_mut().enumerate() {
                        lanes.copy_from_slice(&col[start + g * LANES..start + (g + 1) * LANES]);
                    }
                } else {
                    for (g, lanes) in dst.iter_mut().enumerate() {
                        for (l, v) in lanes.iter_mut().enumerate() {
                            *v = col[start + (g * LANES + l).min(len - 1)];
                        }
                    }
                }
            }
        }
        Data::Rows(x) => {
            let d = x.ncols();
            for g in 0..GROUPS {
                // The group's LANES rows as slices, then one lane array per
                // feature: LANES loads and one full-width store each.
                let mut rows: [&[f64]; LANES] = [&[]; LANES];
                for (l, slot) in rows.iter_mut().enumerate() {
                    let row = x.row(start + (g * LANES + l).min(len - 1));
                    *slot = &row
                        .try_as_row_major()
                        .expect("Data::Rows has unit column stride")
                        .as_slice()[..d];
                }
                for j in 0..d {
                    // Built in a register, stored at full width: LANES
                    // narrow stores would stall the wide loads that read
                    // the lane array back (no store-to-load forwarding).
                    let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
                    let v = s.set_lanes([r0[j], r1[j], r2[j], r3[j], r4[j], r5[j], r6[j], r7[j]]);
                    s.store(&mut xb[j * GROUPS + g], v);
                }
            }
        }
    }
}

/// Per-lane weights of the block: `weights[start + r]` (1 without weights)
/// for rows `r < len`, 0 for padding.
#[inline(always)]
fn row_weights(weights: Option<&[f64]>, start: usize, len: usize) -> [V; GROUPS] {
    let mut w = [[0.0; LANES]; GROUPS];
    if let (Some(ws), BLOCK_ROWS) = (weights, len) {
        // One fixed-size copy per lane group, inlined (the copy of `len`
        // values below is a call to `memcpy`).
        for (g, wg) in w.iter_mut().enumerate() {
            wg.copy_from_slice(&ws[start + g * LANES..start + (g + 1) * LANES]);
        }
        return w;
    }
    // Filled as one contiguous block (indexed per lane group and lane, the
    // loop was compiled into AVX-512 gathers and scatters).
    let mut flat = [0.0; BLOCK_ROWS];
    match weights {
        Some(ws) => flat[..len].copy_from_slice(&ws[start..start + len]),
        None => flat[..len].fill(1.0),
    }
    for (wg, src) in w.iter_mut().zip(flat.chunks_exact(LANES)) {
        wg.copy_from_slice(src);
    }
    w
}

/// `lp[c·G + g] = offset[c] − ½ ‖Wₖ (x − μ_c)‖²` for the block:
/// `ln N(x; μ_c, Σ_c)` with `offset = log_norm`, `ln w_c + ln N(x; μ_c, Σ_c)`
/// with `offset = log_norm + ln w` (see [`offsets`]). Full and tied
/// whitening leave `diff[(c·d + j)·G + g] = x_j − μ_cj`; diagonal and
/// spherical whitening do not write `diff`.
#[inline(always)]
fn log_densities<S: Simd>(s: S, m: &ModelView<'_>, offset: &[f64], xb: &[V], diff: &mut [V], lp: &mut [V]) {
    let d = m.d;
    for c in 0..m.k {
        let mu = &m.means[c * d..(c + 1) * d];
        let maha = match m.whitening {
            Whitening::Full(w) => triangular_norm(s, &w[c * d * d..(c + 1) * d * d], mu, xb, diff, c),
            Whitening::Tied(w) => triangular_norm(s, w, mu, xb, diff, c),
            Whitening::Diagonal(inv) => scaled_norm(s, inv[c * d..(c + 1) * d].iter().copied(), mu, xb),
            Whitening::Spherical(inv) => scaled_norm(s, std::iter::repeat(inv[c]), mu, xb),
        };
        let off = s.splat(offset[c]);
        let half = s.splat(-0.5);
        for g in 0..GROUPS {
            s.store(&mut lp[c * GROUPS + g], s.mul_add(maha[g], half, off));
        }
    }
}

/// The constant of each component's log-density term:
/// `log_norm[c] + ln w_c`, or `log_norm[c]` without weights.
fn offsets(m: &ModelView<'_>, log_w: Option<&[f64]>) -> Vec<f64> {
    match log_w {
        Some(lw) => m.log_norm.iter().zip(lw).map(|(n, w)| n + w).collect(),
        None => m.log_norm.to_vec(),
    }
}

/// Writes `diff[(c·d + j)·G + g] = x_j − shift_j` for component `c`
/// (`shift`: its `d` values).
#[inline(always)]
fn centre<S: Simd>(s: S, shift: &[f64], xb: &[V], diff: &mut [V], c: usize) {
    let d = shift.len();
    let dc = &mut diff[c * d * GROUPS..(c + 1) * d * GROUPS];
    for ((dj, xj), &mj) in dc
        .chunks_exact_mut(GROUPS)
        .zip(xb.chunks_exact(GROUPS))
        .zip(shift)
    {
        let mj = s.splat(mj);
        for g in 0..GROUPS {
            s.store(&mut dj[g], s.sub(s.load(&xj[g]), mj));
        }
    }
}

/// `‖W (x − μ)‖²` per lane with `W` lower triangular, row-major `d x d`:
/// each `y_j = Σ_{i≤j} W[j,i] (x_i − μ_i)` is independent of the others. The
/// centred values are stored for component `c` first (see [`centre`]).
///
/// `d` is a run-time value here, and two versions with `d` known at compile
/// time were no faster, measured on a Viterbi decoding with Gaussian
/// emissions at d = 4 (AVX2, AMD Zen 4). With this loop unchanged and `d = 4`
/// fixed, the compiler unrolled it across the lane groups, kept all 32
/// centred vectors live and spilled them, which made the decoding 23%
/// slower (2.85 against 2.31 ms, least of 10). One lane group at a time
/// instead, its centred values in registers (73 instructions per group and
/// component), ran 11% fewer instructions in the density pass in the same
/// time (2.33 against 2.32 ms).
#[inline(always)]
fn triangular_norm<S: Simd>(
    s: S,
    w: &[f64],
    mu: &[f64],
    xb: &[V],
    diff: &mut [V],
    c: usize,
) -> [S::R; GROUPS] {
    let d = mu.len();
    centre(s, mu, xb, diff, c);
    let dc = &diff[c * d * GROUPS..(c + 1) * d * GROUPS];
    let mut maha = [s.splat(0.0); GROUPS];
    for j in 0..d {
        let row = &w[j * d..j * d + j + 1];
        let mut y = [s.splat(0.0); GROUPS];
        for (i, wji) in row.iter().enumerate() {
            let wji = s.splat(*wji);
            for g in 0..GROUPS {
                y[g] = s.mul_add(wji, s.load(&dc[i * GROUPS + g]), y[g]);
            }
        }
        for g in 0..GROUPS {
            maha[g] = s.mul_add(y[g], y[g], maha[g]);
        }
    }
    maha
}

/// `Σ_j (scale_j (μ_j − x_j))²` per lane, with the scales of the features
/// in order: diagonal whitening (one per feature), spherical (one repeated).
/// The centred values live in registers only; `μ_j − x_j` rather than
/// `x_j − μ_j` (the same square) lets the subtraction read `x_j` from memory.
#[inline(always)]
fn scaled_norm<S: Simd>(s: S, scales: impl Iterator<Item = f64>, mu: &[f64], xb: &[V]) -> [S::R; GROUPS] {
    let mut maha = [s.splat(0.0); GROUPS];
    for ((xj, &mj), sj) in xb.chunks_exact(GROUPS).zip(mu).zip(scales) {
        let (mj, sj) = (s.splat(mj), s.splat(sj));
        for g in 0..GROUPS {
            let y = s.mul(s.sub(mj, s.load(&xj[g])), sj);
            maha[g] = s.mul_add(y, y, maha[g]);
        }
    }
    maha
}

/// The exponentials of a row log-sum-exp of `lp` (which includes `ln w`,
/// see [`offsets`]) over the `k` components, for lane group `g`.
///
/// On return `lp[c·G + g]` holds `exp(lp − max)`, `max` the row maxima and
/// `sum` the sums of the exponentials, so that the row's log-sum-exp is
/// `max + ln sum` with `sum ∈ [1, k]`; the callers take the logarithm,
/// where and as often as they need it. Returns the first lane (`< valid`)
/// whose maximum is not finite (every component gives density zero, or
/// non-finite data).
#[inline(always)]
fn exp_shifted_group<S: Simd>(
    s: S,
    lp: &mut [V],
    k: usize,
    g: usize,
    valid: usize,
    max: &mut V,
    sum: &mut V,
) -> Option<usize> {
    // Two running maxima over alternate components, from the first two
    // rows: with one running from a splat of −∞, the AVX2 code carried half
    // of it through the `max` array in memory (a store and a reload per
    // component).
    let mut mx = s.load(&lp[g]);
    let mut my = mx;
    let mut c = 1;
    while c + 1 < k {
        mx = s.max(mx, s.load(&lp[c * GROUPS + g]));
        my = s.max(my, s.load(&lp[(c + 1) * GROUPS + g]));
        c += 2;
    }
    if c < k {
        mx = s.max(mx, s.load(&lp[c * GROUPS + g]));
    }
    let mx = s.max(mx, my);
    s.store(max, mx);
    // Padded lanes repeat a valid row: all lanes finite is the common case,
    // tested without a branch per lane.
    if !all_finite(max)
        && let Some(l) = (0..valid).find(|&l| !max[l].is_finite())
    {
        return Some(l);
    }
    for c in 0..k {
        let row = &mut lp[c * GROUPS + g];
        let e = s.exp(s.sub(s.load(row), mx));
        s.store(row, e);
    }
    // The sum in a second pass over the stored exponentials (the same
    // additions in the same order): added up inside the loop above, whose
    // `exp` takes every AVX2 register, it was carried through memory, and
    // the E-step took 3-8% longer (diagonal and full GMM, AMD Zen 4).
    let mut acc = s.load(&lp[g]);
    for c in 1..k {
        acc = s.add(acc, s.load(&lp[c * GROUPS + g]));
    }
    s.store(sum, acc);
    None
}

/// Whether every lane is finite.
#[inline(always)]
fn all_finite(v: &V) -> bool {
    let mut ok = true;
    for x in v {
        ok &= x.is_finite();
    }
    ok
}

/// Stores the first `out.len()` lanes of `v` into `out`: a full lane group
/// as one vector store. (A copy of a variable number of lanes is a call to
/// `memcpy`, into which the compiler also merged a fixed-size copy of the
/// full case.)
#[inline(always)]
fn store_lanes<S: Simd>(s: S, out: &mut [f64], v: S::R) {
    match <&mut V>::try_from(&mut *out) {
        Ok(full) => s.store(full, v),
        Err(_) => {
            let mut lanes = [0.0; LANES];
            s.store(&mut lanes, v);
            out.copy_from_slice(&lanes[..out.len()]);
        }
    }
}

/// The least lane.
#[inline(always)]
fn lane_min(v: &V) -> f64 {
    let mut m = v[0];
    for &x in &v[1..] {
        m = m.min(x);
    }
    m
}

/// The score a row must be below to enter a list of the `k` worst rows:
/// the list's last while it is full, `+∞` before.
#[inline(always)]
fn worst_threshold(worst: &[(f64, usize)], k: usize) -> f64 {
    if worst.len() < k {
        f64::INFINITY
    } else {
        worst[k - 1].0
    }
}

/// Sum of the lanes, in lane order.
#[inline]
pub(crate) fn hsum(v: &V) -> f64 {
    v.iter().sum()
}

/// Output of one E-step chunk.
pub(crate) struct EStepChunk {
    /// `Σᵢ wᵢ ln p(xᵢ)` over the chunk (lanes summed in order).
    pub log_likelihood: f64,
    /// Statistics accumulators, centred on the model means (`None` for a
    /// log-likelihood-only pass).
    pub acc: Option<Acc>,
    /// Lowest-likelihood rows: `(ln p(xᵢ), row)`, at most `k`, ascending
    /// (empty for a log-likelihood-only pass).
    pub worst: Vec<(f64, usize)>,
    /// First row whose log-likelihood is not finite (non-finite data, or a
    /// point of zero density under every component); the chunk is abandoned.
    pub bad_row: Option<usize>,
}

/// Work buffers of the block kernels.
struct Buffers {
    xb: Lines,
    diff: Lines,
    lp: Lines,
}

impl Buffers {
    fn new(k: usize, d: usize) -> Self {
        Self {
            xb: Lines::zeros(d * GROUPS),
            diff: Lines::zeros(k * d * GROUPS),
            lp: Lines::zeros(k * GROUPS),
        }
    }
}

/// One E-step chunk: log-likelihood, statistics of the responsibilities
/// (times the sample weights) and the worst-explained rows; the
/// log-likelihood alone without `STATS` (the exponentials and the block's
/// one `ln` of the same loop, nothing after them).
#[inline(always)]
fn estep_chunk_generic<S: Simd, const STATS: bool>(
    s: S,
    job: &EStepJob<'_>,
    start: usize,
    end: usize,
) -> EStepChunk {
    let &EStepJob {
        model: ref m,
        log_w,
        data,
        weights,
        kind,
    } = job;
    let (d, k) = (m.d, m.k);
    let mut b = Buffers::new(k, d);
    let offset = offsets(m, Some(log_w));
    let mut acc = if STATS { Some(Acc::new(k, d, kind)) } else { None };
    let mut ll = s.splat(0.0);
    let mut worst: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
    let mut row = start;
    while row < end {
        let len = BLOCK_ROWS.min(end - row);
        gather(s, data, row, len, &mut b.xb);
        let w = row_weights(weights, row, len);
        log_densities(s, m, &offset, &b.xb, &mut b.diff, &mut b.lp);
        // Π of the row sums over the block's unweighted rows (1 on padded
        // lanes): one vector `ln` per block instead of one per lane group.
        let mut sums = s.splat(1.0);
        for g in 0..GROUPS {
            let valid = len.saturating_sub(g * LANES).min(LANES);
            let (mut max, mut sum) = ([0.0; LANES], [0.0; LANES]);
            if let Some(l) = exp_shifted_group(s, &mut b.lp, k, g, valid, &mut max, &mut sum) {
                return EStepChunk {
                    log_likelihood: f64::NAN,
                    acc,
                    worst,
                    bad_row: Some(row + g * LANES + l),
                };
            }
            let (wg, sg) = (s.load(&w[g]), s.load(&sum));
            if valid > 0 {
                ll = s.mul_add(wg, s.load(&max), ll);
                // With sample weights, `w ln Σe` per lane; else the factor
                // `(Σe − 1)·w + 1`: `Σe` on rows (exactly, as `Σe − 1` is
                // exact for `Σe ≥ 1`), 1 on padded lanes.
                let one = s.splat(1.0);
                match weights {
                    Some(_) => ll = s.mul_add(wg, s.ln(sg), ll),
                    None => sums = s.mul(sums, s.mul_add(s.sub(sg, one), wg, one)),
                }
            }
            if !STATS {
                continue;
            }
            // ρ = w · e / Σe; padded lanes have w = 0.
            let scale = s.mul(wg, s.div_one(sg));
            for c in 0..k {
                let e = &mut b.lp[c * GROUPS + g];
                let v = s.mul(s.load(e), scale);
                s.store(e, v);
            }
            // A row's log-likelihood `max + ln Σe` is at least `max`: only
            // rows whose maximum is below the threshold can enter the list
            // (the lanes are scanned only when the group's least maximum is).
            // The list costs the diagonal E-step 3-5% (AVX2, Zen 4);
            // the same test once per block after the statistics, or the scan
            // out of line, measured no faster, and a scan after the chunk of
            // every row's maximum and sum (two 32 KiB arrays) 12% slower.
            if lane_min(&max) < worst_threshold(&worst, k) {
                for l in 0..valid {
                    let t = worst_threshold(&worst, k);
                    if max[l] < t && w[g][l] > 0.0 {
                        let lse = max[l] + sum[l].ln();
                        if lse < t {
                            insert_worst(&mut worst, k, lse, row + g * LANES + l);
                        }
                    }
                }
            }
        }
        // Σe ∈ [1, k] per row, so the product of a block's 4 is at most k⁴.
        ll = s.add(ll, s.ln(sums));
        if let Some(acc) = acc.as_mut() {
            acc.add_block(s, &b.xb, m.means, &b.diff, &b.lp);
        }
        row += len;
    }
    let mut ll_lanes = [0.0; LANES];
    s.store(&mut ll_lanes, ll);
    EStepChunk {
        log_likelihood: hsum(&ll_lanes),
        acc,
        worst,
        bad_row: None,
    }
}

/// Inserts `(score, row)` into the ascending list, keeping at most `cap`.
/// Ties keep the earlier entry first.
pub(crate) fn insert_worst(list: &mut Vec<(f64, usize)>, cap: usize, score: f64, row: usize) {
    let pos = list.partition_point(|&(s, _)| s <= score);
    if pos < cap {
        list.insert(pos, (score, row));
        list.truncate(cap);
    }
}

/// What [`eval_chunk`] writes.
pub(crate) struct EvalOut<'a> {
    /// One slice of the chunk's rows per component: component log-densities
    /// (`log_w` = None), or responsibilities (`log_w` = Some).
    pub per_component: Option<Vec<&'a mut [f64]>>,
    /// Per-row `ln Σ_c w_c N(x; c)` (needs `log_w`).
    pub row_lse: Option<&'a mut [f64]>,
}

/// Component log-densities, responsibilities or row scores of one chunk,
/// written into `out`.
#[inline(always)]
fn eval_chunk_generic<S: Simd>(
    s: S,
    job: &EvalJob<'_>,
    start: usize,
    end: usize,
    out: EvalOut<'_>,
) -> Option<usize> {
    let &EvalJob {
        model: ref m,
        log_w,
        data,
    } = job;
    let (d, k) = (m.d, m.k);
    let EvalOut {
        mut per_component,
        mut row_lse,
    } = out;
    let mut b = Buffers::new(k, d);
    let offset = offsets(m, log_w);
    let mut row = start;
    while row < end {
        let len = BLOCK_ROWS.min(end - row);
        gather(s, data, row, len, &mut b.xb);
        log_densities(s, m, &offset, &b.xb, &mut b.diff, &mut b.lp);
        for g in 0..GROUPS {
            let valid = len.saturating_sub(g * LANES).min(LANES);
            if valid == 0 {
                break;
            }
            let local = row - start + g * LANES;
            if log_w.is_some() {
                let (mut max, mut sum) = ([0.0; LANES], [0.0; LANES]);
                if let Some(l) = exp_shifted_group(s, &mut b.lp, k, g, valid, &mut max, &mut sum) {
                    return Some(row + g * LANES + l);
                }
                if let Some(out) = row_lse.as_deref_mut() {
                    let lse = s.add(s.load(&max), s.ln(s.load(&sum)));
                    store_lanes(s, &mut out[local..local + valid], lse);
                }
                if let Some(out) = per_component.as_deref_mut() {
                    let inv = s.div_one(s.load(&sum));
                    for c in 0..k {
                        let v = s.mul(s.load(&b.lp[c * GROUPS + g]), inv);
                        store_lanes(s, &mut out[c][local..local + valid], v);
                    }
                }
            } else {
                // Padded lanes repeat a valid row: all lanes finite is the
                // common case, tested without a branch per lane.
                let mut finite = true;
                for c in 0..k {
                    finite &= all_finite(&b.lp[c * GROUPS + g]);
                }
                if !finite
                    && let Some(l) =
                        (0..valid).find(|&l| (0..k).any(|c| !b.lp[c * GROUPS + g][l].is_finite()))
                {
                    return Some(row + g * LANES + l);
                }
                if let Some(out) = per_component.as_deref_mut() {
                    for c in 0..k {
                        store_lanes(
                            s,
                            &mut out[c][local..local + valid],
                            s.load(&b.lp[c * GROUPS + g]),
                        );
                    }
                }
            }
        }
        row += len;
    }
    None
}

/// Statistics of given responsibilities over one chunk.
#[inline(always)]
fn accumulate_chunk_generic<S: Simd>(s: S, job: &AccumulateJob<'_>, start: usize, end: usize) -> Acc {
    let &AccumulateJob {
        d,
        shift,
        data,
        resp,
        kind,
    } = job;
    let k = resp.len();
    let mut b = Buffers::new(k, d);
    let mut acc = Acc::new(k, d, kind);
    let mut row = start;
    while row < end {
        let len = BLOCK_ROWS.min(end - row);
        gather(s, data, row, len, &mut b.xb);
        for (c, rc) in resp.iter().enumerate() {
            // A whole block's weights are read where they are (copying
            // them cost 2-4% of a Baum-Welch iteration); a partial one's
            // are copied with zero padding.
            let rho: &[V] = if len == BLOCK_ROWS {
                rc[row..row + BLOCK_ROWS].as_chunks::<LANES>().0
            } else {
                let lanes = &mut b.lp[c * GROUPS..(c + 1) * GROUPS];
                lanes.copy_from_slice(&row_weights(Some(rc), row, len));
                lanes
            };
            if kind != AccKind::Diagonal {
                centre(s, &shift[c * d..(c + 1) * d], &b.xb, &mut b.diff, c);
            }
            acc.add_component(s, c, &b.xb, shift, &b.diff, rho);
        }
        row += len;
    }
    acc
}

#[cfg(test)]
mod tests;
