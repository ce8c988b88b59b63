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
//! [`linalg_kernels::fastexp::exp`] and a vector `ln`, and the sufficient
//! statistics are accumulated per lane, centred on the shift `μₖ` (see [`Acc`]).
//!
//! The block functions are generic over a [`Simd`] token and marked
//! `#[inline(always)]`; `simd_entry!` instantiates each chunk-level entry
//! point for AVX-512 and for a portable fallback and picks one at run time,
//! so the workspace needs no `target-cpu` flag. Results may differ in the last bits between those
//! instruction sets, never between thread counts: chunks have a fixed size
//! ([`CHUNK_ROWS`]) and are reduced in index order.

use crate::covariance::Whitening;
use crate::data::Data;

/// Points per vector block.
pub(crate) const LANES: usize = 8;
/// One value per lane.
pub(crate) type V = [f64; LANES];
/// Lane groups per block.
pub(crate) const GROUPS: usize = 4;
/// Rows per block.
pub(crate) const BLOCK_ROWS: usize = GROUPS * LANES;
/// Rows per parallel chunk (a multiple of [`BLOCK_ROWS`]); fixed, so results do
/// not depend on the number of threads.
pub(crate) const CHUNK_ROWS: usize = 4096;

mod simd;
use simd::Scalar;
pub(crate) use simd::Simd;
#[cfg(target_arch = "x86_64")]
use simd::{Avx2, Avx512};

/// Instantiates `$generic::<S>` for the best instruction set detected at run
/// time: AVX-512 (`Avx512`), else AVX2 + FMA (`Avx2`), else the portable
/// lane-array fallback (`Scalar`).
macro_rules! simd_entry {
    ($(#[$meta:meta])* $vis:vis fn $name:ident => $generic:ident ($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                fn avx512(s: Avx512, $($arg: $ty),*) -> $ret {
                    $generic(s, $($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2(s: Avx2, $($arg: $ty),*) -> $ret {
                    $generic(s, $($arg),*)
                }
                if let Some(s) = Avx512::detect() {
                    // SAFETY: `detect` returned a token, so the CPU supports the enabled features.
                    return unsafe { avx512(s, $($arg),*) };
                }
                if let Some(s) = Avx2::detect() {
                    // SAFETY: `detect` returned a token, so the CPU supports the enabled features.
                    return unsafe { avx2(s, $($arg),*) };
                }
            }
            $generic(Scalar, $($arg),*)
        }
    };
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

/// Copies rows `start..start + len` (`1 ≤ len ≤ BLOCK_ROWS`) into `xb`
/// (index `j·GROUPS + g`); rows past `len` repeat the last row (finite
/// values that the callers give weight zero).
#[inline(always)]
fn gather(data: &Data<'_>, start: usize, len: usize, xb: &mut [V]) {
    match data {
        Data::Cols(cols) => {
            for (j, col) in cols.iter().enumerate() {
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
            for r in 0..BLOCK_ROWS {
                let row = x.row(start + r.min(len - 1));
                let (g, l) = (r / LANES, r % LANES);
                for j in 0..x.ncols() {
                    xb[j * GROUPS + g][l] = row[j];
                }
            }
        }
    }
}

/// Per-lane mask values: 1 for rows `< len` of the block, 0 for padding.
#[inline(always)]
fn row_weights(weights: Option<&[f64]>, start: usize, len: usize) -> [V; GROUPS] {
    let mut w = [[0.0; LANES]; GROUPS];
    for r in 0..len {
        w[r / LANES][r % LANES] = weights.map_or(1.0, |ws| ws[start + r]);
    }
    w
}

/// `lp[c·G + g] = ln N(x; μ_c, Σ_c)` for the block, leaving
/// `diff[(c·d + j)·G + g] = x_j − μ_cj`.
#[inline(always)]
fn log_densities<S: Simd>(s: S, m: &ModelView<'_>, xb: &[V], diff: &mut [V], lp: &mut [V]) {
    let d = m.d;
    for c in 0..m.k {
        let mu = &m.means[c * d..(c + 1) * d];
        let dc = &mut diff[c * d * GROUPS..(c + 1) * d * GROUPS];
        for j in 0..d {
            let mj = s.splat(mu[j]);
            for g in 0..GROUPS {
                s.store(&mut dc[j * GROUPS + g], s.sub(s.load(&xb[j * GROUPS + g]), mj));
            }
        }
        let maha = match m.whitening {
            Whitening::Full(w) => triangular_norm(s, &w[c * d * d..(c + 1) * d * d], dc, d),
            Whitening::Tied(w) => triangular_norm(s, w, dc, d),
            Whitening::Diagonal(inv) => scaled_norm(s, |j| inv[c * d + j], dc, d),
            Whitening::Spherical(inv) => scaled_norm(s, |_| inv[c], dc, d),
        };
        let norm = s.splat(m.log_norm[c]);
        let half = s.splat(-0.5);
        for g in 0..GROUPS {
            s.store(&mut lp[c * GROUPS + g], s.mul_add(maha[g], half, norm));
        }
    }
}

/// `‖W diff‖²` per lane with `W` lower triangular, row-major `d x d`: each
/// `y_j = Σ_{i≤j} W[j,i] diff_i` is independent of the others.
#[inline(always)]
fn triangular_norm<S: Simd>(s: S, w: &[f64], dc: &[V], d: usize) -> [S::R; GROUPS] {
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

/// `Σ_j (scale(j) diff_j)²` per lane (diagonal and spherical whitening).
#[inline(always)]
fn scaled_norm<S: Simd>(s: S, scale: impl Fn(usize) -> f64, dc: &[V], d: usize) -> [S::R; GROUPS] {
    let mut maha = [s.splat(0.0); GROUPS];
    for j in 0..d {
        let sj = s.splat(scale(j));
        for g in 0..GROUPS {
            let y = s.mul(s.load(&dc[j * GROUPS + g]), sj);
            maha[g] = s.mul_add(y, y, maha[g]);
        }
    }
    maha
}

/// Row log-sum-exp of `lp + log_w` over components, for lane group `g`.
///
/// On return `lp[c·G + g]` holds `exp(lp + log_w[c] − max)`, `sum` their sum
/// and `lse = max + ln sum`. Returns the first lane (`< valid`) whose maximum
/// is not finite (every component gives density zero, or non-finite data).
#[inline(always)]
fn log_sum_exp_group<S: Simd>(
    s: S,
    lp: &mut [V],
    log_w: &[f64],
    g: usize,
    valid: usize,
    sum: &mut V,
    lse: &mut V,
) -> Option<usize> {
    let k = log_w.len();
    let mut mx = s.splat(f64::NEG_INFINITY);
    for c in 0..k {
        let row = &mut lp[c * GROUPS + g];
        let v = s.add(s.load(row), s.splat(log_w[c]));
        s.store(row, v);
        mx = s.max(mx, v);
    }
    let mut mx_lanes = [0.0; LANES];
    s.store(&mut mx_lanes, mx);
    if let Some(l) = (0..valid).find(|&l| !mx_lanes[l].is_finite()) {
        return Some(l);
    }
    let mut acc = s.splat(0.0);
    for c in 0..k {
        let row = &mut lp[c * GROUPS + g];
        let e = s.exp(s.sub(s.load(row), mx));
        s.store(row, e);
        acc = s.add(acc, e);
    }
    s.store(sum, acc);
    s.store(lse, s.add(mx, s.ln(acc)));
    None
}

/// Per-lane accumulators of the sufficient statistics of one chunk, centred
/// on a per-component shift `sₖ` (the current means in the E-step, the
/// weighted means of a first pass in [`crate::SufficientStats::from_responsibilities`]):
/// `Σρ`, `Σρ²`, `Σρ (x − sₖ)` and `Σρ (x − sₖ)(x − sₖ)ᵀ` (packed lower
/// triangle, per component or pooled over components, or its diagonal).
/// Centring on a shift close to the mean avoids the cancellation of the raw
/// `Σρxxᵀ − N μμᵀ`. The lane groups of a block are added into the same
/// lane arrays in group order.
pub(crate) struct Acc {
    pub d: usize,
    pub k: usize,
    pub kind: AccKind,
    pub mass: Vec<V>,
    pub mass_sq: Vec<V>,
    pub s1: Vec<V>,
    pub s2: Vec<V>,
}

/// Which second moment an [`Acc`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccKind {
    /// Packed lower triangle per component (`k · d(d+1)/2`).
    Full,
    /// One packed lower triangle summed over components (`d(d+1)/2`).
    Pooled,
    /// Diagonal per component (`k · d`).
    Diagonal,
}

impl Acc {
    pub(crate) fn new(k: usize, d: usize, kind: AccKind) -> Self {
        let tri = d * (d + 1) / 2;
        let s2_len = match kind {
            AccKind::Full => k * tri,
            AccKind::Pooled => tri,
            AccKind::Diagonal => k * d,
        };
        Self {
            d,
            k,
            kind,
            mass: vec![[0.0; LANES]; k],
            mass_sq: vec![[0.0; LANES]; k],
            s1: vec![[0.0; LANES]; k * d],
            s2: vec![[0.0; LANES]; s2_len],
        }
    }

    /// Adds the block with centred values `diff` (index `(c·d + j)·G + g`)
    /// and weights `rho` (index `c·G + g`, zero on padded lanes).
    #[inline(always)]
    fn add_block<S: Simd>(&mut self, s: S, diff: &[V], rho: &[V]) {
        let (d, tri) = (self.d, self.d * (self.d + 1) / 2);
        for c in 0..self.k {
            let rc = &rho[c * GROUPS..(c + 1) * GROUPS];
            if rc.iter().all(|v| v.iter().all(|&x| x == 0.0)) {
                continue;
            }
            let r: [S::R; GROUPS] = std::array::from_fn(|g| s.load(&rc[g]));
            let mut mass = s.load(&self.mass[c]);
            let mut mass_sq = s.load(&self.mass_sq[c]);
            for g in 0..GROUPS {
                mass = s.add(mass, r[g]);
                mass_sq = s.mul_add(r[g], r[g], mass_sq);
            }
            s.store(&mut self.mass[c], mass);
            s.store(&mut self.mass_sq[c], mass_sq);
            let dc = &diff[c * d * GROUPS..(c + 1) * d * GROUPS];
            let s1 = &mut self.s1[c * d..(c + 1) * d];
            match self.kind {
                AccKind::Diagonal => {
                    let s2 = &mut self.s2[c * d..(c + 1) * d];
                    for j in 0..d {
                        let (mut a1, mut a2) = (s.load(&s1[j]), s.load(&s2[j]));
                        for g in 0..GROUPS {
                            let x = s.load(&dc[j * GROUPS + g]);
                            let t = s.mul(r[g], x);
                            a1 = s.add(a1, t);
                            a2 = s.mul_add(t, x, a2);
                        }
                        s.store(&mut s1[j], a1);
                        s.store(&mut s2[j], a2);
                    }
                }
                AccKind::Full | AccKind::Pooled => {
                    let base = if self.kind == AccKind::Full { c * tri } else { 0 };
                    let s2 = &mut self.s2[base..base + tri];
                    for j in 0..d {
                        let t: [S::R; GROUPS] =
                            std::array::from_fn(|g| s.mul(r[g], s.load(&dc[j * GROUPS + g])));
                        let mut a1 = s.load(&s1[j]);
                        for tg in t {
                            a1 = s.add(a1, tg);
                        }
                        s.store(&mut s1[j], a1);
                        let row = &mut s2[j * (j + 1) / 2..j * (j + 1) / 2 + j + 1];
                        for (i, acc) in row.iter_mut().enumerate() {
                            let mut a = s.load(acc);
                            for g in 0..GROUPS {
                                a = s.mul_add(t[g], s.load(&dc[i * GROUPS + g]), a);
                            }
                            s.store(acc, a);
                        }
                    }
                }
            }
        }
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
    /// Statistics accumulators, centred on the model means.
    pub acc: Acc,
    /// Lowest-likelihood rows: `(ln p(xᵢ), row)`, at most `k`, ascending.
    pub worst: Vec<(f64, usize)>,
    /// First row whose log-likelihood is not finite (non-finite data, or a
    /// point of zero density under every component); the chunk is abandoned.
    pub bad_row: Option<usize>,
}

/// Work buffers of the block kernels.
struct Buffers {
    xb: Vec<V>,
    diff: Vec<V>,
    lp: Vec<V>,
}

impl Buffers {
    fn new(k: usize, d: usize) -> Self {
        Self {
            xb: vec![[0.0; LANES]; d * GROUPS],
            diff: vec![[0.0; LANES]; k * d * GROUPS],
            lp: vec![[0.0; LANES]; k * GROUPS],
        }
    }
}

#[inline(always)]
fn estep_chunk_generic<S: Simd>(
    s: S,
    m: &ModelView<'_>,
    log_w: &[f64],
    data: &Data<'_>,
    weights: Option<&[f64]>,
    start: usize,
    end: usize,
    kind: AccKind,
) -> EStepChunk {
    let (d, k) = (m.d, m.k);
    let mut b = Buffers::new(k, d);
    let mut acc = Acc::new(k, d, kind);
    let mut ll = s.splat(0.0);
    let mut worst: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
    let mut row = start;
    while row < end {
        let len = BLOCK_ROWS.min(end - row);
        gather(data, row, len, &mut b.xb);
        let w = row_weights(weights, row, len);
        log_densities(s, m, &b.xb, &mut b.diff, &mut b.lp);
        for g in 0..GROUPS {
            let valid = len.saturating_sub(g * LANES).min(LANES);
            let (mut sum, mut lse) = ([0.0; LANES], [0.0; LANES]);
            if let Some(l) = log_sum_exp_group(s, &mut b.lp, log_w, g, valid, &mut sum, &mut lse) {
                return EStepChunk {
                    log_likelihood: f64::NAN,
                    acc,
                    worst,
                    bad_row: Some(row + g * LANES + l),
                };
            }
            let wg = s.load(&w[g]);
            if valid > 0 {
                ll = s.mul_add(wg, s.load(&lse), ll);
            }
            // ρ = w · e / Σe; padded lanes have w = 0.
            let scale = s.mul(wg, s.div_one(s.load(&sum)));
            for c in 0..k {
                let e = &mut b.lp[c * GROUPS + g];
                let v = s.mul(s.load(e), scale);
                s.store(e, v);
            }
            let threshold = if worst.len() < k {
                f64::INFINITY
            } else {
                worst[k - 1].0
            };
            for l in 0..valid {
                if lse[l] < threshold && w[g][l] > 0.0 {
                    insert_worst(&mut worst, k, lse[l], row + g * LANES + l);
                }
            }
        }
        acc.add_block(s, &b.diff, &b.lp);
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

simd_entry! {
    /// One E-step chunk over rows `start..end` (see [`estep_chunk_generic`]).
    pub(crate) fn estep_chunk => estep_chunk_generic(
        m: &ModelView<'_>,
        log_w: &[f64],
        data: &Data<'_>,
        weights: Option<&[f64]>,
        start: usize,
        end: usize,
        kind: AccKind,
    ) -> EStepChunk
}

/// What [`eval_chunk`] writes.
pub(crate) struct EvalOut<'a> {
    /// One slice of the chunk's rows per component: component log-densities
    /// (`log_w` = None), or responsibilities (`log_w` = Some).
    pub per_component: Option<Vec<&'a mut [f64]>>,
    /// Per-row `ln Σ_c w_c N(x; c)` (needs `log_w`).
    pub row_lse: Option<&'a mut [f64]>,
}

#[inline(always)]
fn eval_chunk_generic<S: Simd>(
    s: S,
    m: &ModelView<'_>,
    log_w: Option<&[f64]>,
    data: &Data<'_>,
    start: usize,
    end: usize,
    out: EvalOut<'_>,
) -> Option<usize> {
    let (d, k) = (m.d, m.k);
    let EvalOut {
        mut per_component,
        mut row_lse,
    } = out;
    let mut b = Buffers::new(k, d);
    let mut row = start;
    while row < end {
        let len = BLOCK_ROWS.min(end - row);
        gather(data, row, len, &mut b.xb);
        log_densities(s, m, &b.xb, &mut b.diff, &mut b.lp);
        for g in 0..GROUPS {
            let valid = len.saturating_sub(g * LANES).min(LANES);
            if valid == 0 {
                break;
            }
            let local = row - start + g * LANES;
            if let Some(lw) = log_w {
                let (mut sum, mut lse) = ([0.0; LANES], [0.0; LANES]);
                if let Some(l) = log_sum_exp_group(s, &mut b.lp, lw, g, valid, &mut sum, &mut lse) {
                    return Some(row + g * LANES + l);
                }
                if let Some(out) = row_lse.as_deref_mut() {
                    out[local..local + valid].copy_from_slice(&lse[..valid]);
                }
                if let Some(out) = per_component.as_deref_mut() {
                    let inv = s.div_one(s.load(&sum));
                    for c in 0..k {
                        let e = &mut b.lp[c * GROUPS + g];
                        let v = s.mul(s.load(e), inv);
                        s.store(e, v);
                        out[c][local..local + valid].copy_from_slice(&e[..valid]);
                    }
                }
            } else {
                if let Some(l) = (0..valid).find(|&l| (0..k).any(|c| !b.lp[c * GROUPS + g][l].is_finite())) {
                    return Some(row + g * LANES + l);
                }
                if let Some(out) = per_component.as_deref_mut() {
                    for c in 0..k {
                        out[c][local..local + valid].copy_from_slice(&b.lp[c * GROUPS + g][..valid]);
                    }
                }
            }
        }
        row += len;
    }
    None
}

simd_entry! {
    /// Densities / responsibilities / row scores over rows `start..end`;
    /// returns the first row whose result is not finite, if any.
    pub(crate) fn eval_chunk => eval_chunk_generic(
        m: &ModelView<'_>,
        log_w: Option<&[f64]>,
        data: &Data<'_>,
        start: usize,
        end: usize,
        out: EvalOut<'_>,
    ) -> Option<usize>
}

#[inline(always)]
fn accumulate_chunk_generic<S: Simd>(
    s: S,
    d: usize,
    shift: &[f64],
    data: &Data<'_>,
    resp: &Cols<'_>,
    start: usize,
    end: usize,
    kind: AccKind,
) -> Acc {
    let k = resp.len();
    let mut b = Buffers::new(k, d);
    let mut acc = Acc::new(k, d, kind);
    let mut row = start;
    while row < end {
        let len = BLOCK_ROWS.min(end - row);
        gather(data, row, len, &mut b.xb);
        for c in 0..k {
            let w = row_weights(Some(resp[c]), row, len);
            b.lp[c * GROUPS..(c + 1) * GROUPS].copy_from_slice(&w);
            for j in 0..d {
                let sh = s.splat(shift[c * d + j]);
                for g in 0..GROUPS {
                    s.store(
                        &mut b.diff[(c * d + j) * GROUPS + g],
                        s.sub(s.load(&b.xb[j * GROUPS + g]), sh),
                    );
                }
            }
        }
        acc.add_block(s, &b.diff, &b.lp);
        row += len;
    }
    acc
}

simd_entry! {
    /// Accumulates given responsibilities over rows `start..end`, centred on `shift`.
    pub(crate) fn accumulate_chunk => accumulate_chunk_generic(
        d: usize,
        shift: &[f64],
        data: &Data<'_>,
        resp: &Cols<'_>,
        start: usize,
        end: usize,
        kind: AccKind,
    ) -> Acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CovarianceType;
    use crate::stats::acc_kind;

    /// The AVX-512 and portable instantiations agree (to rounding: FMA vs
    /// separate multiply-add).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn instruction_sets_agree() {
        if let Some(s) = Avx512::detect() {
            agree_with_scalar(s);
        }
        if let Some(s) = Avx2::detect() {
            agree_with_scalar(s);
        }
    }

    fn agree_with_scalar<S: Simd>(fast: S) {
        for t in CovarianceType::ALL {
            let d = 3;
            let means = faer::mat![[0.0, 0.5, -1.0], [2.0, 1.0, 0.0]];
            let covs = match t {
                CovarianceType::Full => crate::Covariances::Full(vec![
                    faer::mat![[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]],
                    faer::Mat::identity(3, 3),
                ]),
                CovarianceType::Tied => {
                    crate::Covariances::Tied(faer::mat![[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
                }
                CovarianceType::Diagonal => {
                    crate::Covariances::Diagonal(faer::mat![[1.0, 2.0, 0.5], [0.7, 0.7, 3.0]])
                }
                CovarianceType::Spherical => crate::Covariances::Spherical(vec![0.4, 2.5]),
            };
            let model = crate::GaussianMixture::new(vec![0.4, 0.6], means, covs).unwrap();
            let n = 203;
            let x = faer::Mat::from_fn(n, d, |i, j| ((i * 7 + j * 3) % 13) as f64 * 0.4 - 2.0);
            let cols = Data::Cols(
                (0..d)
                    .map(|j| x.col(j).try_as_col_major().unwrap().as_slice())
                    .collect(),
            );
            let view = model.view();
            let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
            let a = estep_chunk_generic(
                Scalar,
                &view,
                model.log_weights(),
                &cols,
                Some(&w),
                0,
                n,
                acc_kind(t),
            );
            let b = estep_chunk_generic(
                fast,
                &view,
                model.log_weights(),
                &cols,
                Some(&w),
                0,
                n,
                acc_kind(t),
            );
            let close = |p: f64, q: f64| (p - q).abs() <= 1e-12 * (1.0 + p.abs());
            assert!(close(a.log_likelihood, b.log_likelihood));
            assert_eq!(
                a.worst.iter().map(|w| w.1).collect::<Vec<_>>(),
                b.worst.iter().map(|w| w.1).collect::<Vec<_>>()
            );
            for (p, q) in [
                (&a.acc.mass, &b.acc.mass),
                (&a.acc.s1, &b.acc.s1),
                (&a.acc.s2, &b.acc.s2),
            ] {
                for (u, v) in p.iter().zip(q.iter()) {
                    for l in 0..LANES {
                        assert!(close(u[l], v[l]), "{t}: {} vs {}", u[l], v[l]);
                    }
                }
            }
        }
    }
}
