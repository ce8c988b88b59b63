//! Per-lane accumulators of the sufficient statistics of one chunk.

use super::{GROUPS, Lines, Simd, V};

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
    pub mass: Lines,
    pub mass_sq: Lines,
    pub s1: Lines,
    pub s2: Lines,
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
            mass: Lines::zeros(k),
            mass_sq: Lines::zeros(k),
            s1: Lines::zeros(k * d),
            s2: Lines::zeros(s2_len),
        }
    }

    /// Adds the block `xb` (index `j·G + g`) with weights `rho` (index
    /// `c·G + g`, zero on padded lanes), centred on `shift` (K·d): each
    /// component's part as [`Self::add_component`].
    #[inline(always)]
    pub(super) fn add_block<S: Simd>(&mut self, s: S, xb: &[V], shift: &[f64], diff: &[V], rho: &[V]) {
        for c in 0..self.k {
            self.add_component(s, c, xb, shift, diff, &rho[c * GROUPS..(c + 1) * GROUPS]);
        }
    }

    /// Adds component `c`'s part of the block `xb` (index `j·G + g`) with
    /// its weights `rc` ([`GROUPS`] lane arrays, zero on padded lanes),
    /// centred on `shift` (K·d). The diagonal kind forms `x_j − shift_cj`
    /// in registers (one subtraction, the same value); the packed triangles
    /// read each centred value `j + 1` times and take them from `diff`
    /// (index `(c·d + j)·G + g`), which the caller fills for those kinds
    /// only.
    #[inline(always)]
    pub(super) fn add_component<S: Simd>(
        &mut self,
        s: S,
        c: usize,
        xb: &[V],
        shift: &[f64],
        diff: &[V],
        rc: &[V],
    ) {
        let (d, tri) = (self.d, self.d * (self.d + 1) / 2);
        if rc[..GROUPS].iter().all(|v| v.iter().all(|&x| x == 0.0)) {
            return;
        }
        let mut r = [s.splat(0.0); GROUPS];
        for g in 0..GROUPS {
            r[g] = s.load(&rc[g]);
        }
        let mut mass = s.load(&self.mass[c]);
        let mut mass_sq = s.load(&self.mass_sq[c]);
        for g in 0..GROUPS {
            mass = s.add(mass, r[g]);
            mass_sq = s.mul_add(r[g], r[g], mass_sq);
        }
        s.store(&mut self.mass[c], mass);
        s.store(&mut self.mass_sq[c], mass_sq);
        let s1 = &mut self.s1[c * d..(c + 1) * d];
        match self.kind {
            AccKind::Diagonal => {
                let s2 = &mut self.s2[c * d..(c + 1) * d];
                let mu = &shift[c * d..(c + 1) * d];
                for (((xj, &mj), a1j), a2j) in xb.chunks_exact(GROUPS).zip(mu).zip(s1).zip(s2) {
                    let mj = s.splat(mj);
                    let (mut a1, mut a2) = (s.load(a1j), s.load(a2j));
                    for g in 0..GROUPS {
                        let y = s.sub(mj, s.load(&xj[g]));
                        let t = s.mul(r[g], y);
                        a1 = s.sub(a1, t);
                        a2 = s.mul_add(t, y, a2);
                    }
                    s.store(a1j, a1);
                    s.store(a2j, a2);
                }
            }
            AccKind::Full | AccKind::Pooled => {
                let dc = &diff[c * d * GROUPS..(c + 1) * d * GROUPS];
                let base = if self.kind == AccKind::Full { c * tri } else { 0 };
                let s2 = &mut self.s2[base..base + tri];
                for j in 0..d {
                    let mut t = [s.splat(0.0); GROUPS];
                    for g in 0..GROUPS {
                        t[g] = s.mul(r[g], s.load(&dc[j * GROUPS + g]));
                    }
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
