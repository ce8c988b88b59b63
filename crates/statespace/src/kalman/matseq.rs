//! A sequence of symmetric matrices stored packed, one copy per distinct
//! matrix.

use crate::buffers::{self, Buffer};
use crate::dense::{mirror_lower, pad};
use faer::Mat;

/// A sequence of symmetric n x n matrices stored as a pool of distinct
/// matrices (lower triangle packed column by column, n(n+1)/2 values) and,
/// per step, the index ("slot") of the step's matrix. The filter of a
/// 21-dimensional state over 44,484 steps keeps 41 MB per covariance
/// sequence this way instead of 179 MB padded.
#[derive(Debug, Clone)]
pub(crate) struct MatSeq {
    n: usize,
    pool: Buffer,
    slots: Vec<usize>,
}

impl MatSeq {
    pub fn new(n: usize, steps: usize, reserve_blocks: usize) -> Self {
        Self {
            n,
            pool: buffers::take(reserve_blocks * n * (n + 1) / 2),
            slots: vec![usize::MAX; steps],
        }
    }

    fn block_len(&self) -> usize {
        self.n * (self.n + 1) / 2
    }

    /// Appends the lower triangle of the n x n matrix held in the padded
    /// buffer `src` (leading dimension `ld`) and returns its slot.
    pub fn add(&mut self, src: &[f64], ld: usize) -> usize {
        let len = self.block_len();
        let start = self.pool.len();
        let slot = start / len;
        let n = self.n;
        self.pool.resize(start + len, 0.0);
        let mut dst = &mut self.pool[start..];
        for j in 0..n {
            let (col, rest) = dst.split_at_mut(n - j);
            col.copy_from_slice(&src[j * ld + j..j * ld + n]);
            dst = rest;
        }
        slot
    }

    pub fn set(&mut self, step: usize, slot: usize) {
        self.slots[step] = slot;
    }

    pub fn slot(&self, step: usize) -> usize {
        self.slots[step]
    }

    /// Writes the matrix of `slot` into the padded buffer `dst` (both
    /// triangles; padding untouched).
    pub fn unpack(&self, slot: usize, dst: &mut [f64], ld: usize) {
        let n = self.n;
        let mut block = &self.pool[slot * self.block_len()..(slot + 1) * self.block_len()];
        for j in 0..n {
            let (col, rest) = block.split_at(n - j);
            dst[j * ld + j..j * ld + n].copy_from_slice(col);
            block = rest;
        }
        mirror_lower(n, dst, ld);
    }

    /// Every step's matrix, one after the other, unpadded (T·n·n values).
    pub fn flat(&self) -> Vec<f64> {
        let n = self.n;
        let mut out = vec![0.0; self.slots.len() * n * n];
        for (k, dst) in out.chunks_exact_mut(n * n).enumerate() {
            self.unpack(self.slots[k], dst, n);
        }
        out
    }

    /// The diagonals of every step's matrix, T x n.
    pub fn diagonals(&self) -> Mat<f64> {
        let n = self.n;
        let block = self.block_len();
        // Packed column j starts at j n − j (j − 1) / 2; its first entry is (j, j).
        let offsets: Vec<usize> = (0..n).map(|j| j * n - j * j.saturating_sub(1) / 2).collect();
        Mat::from_fn(self.slots.len(), n, |k, j| {
            self.pool[self.slots[k] * block + offsets[j]]
        })
    }

    /// Number of distinct matrices stored.
    pub fn distinct(&self) -> usize {
        self.pool.len() / self.block_len()
    }

    /// The matrix of `step`, `None` past the end.
    pub fn get(&self, step: usize) -> Option<Mat<f64>> {
        let slot = *self.slots.get(step)?;
        let n = self.n;
        let ld = pad(n);
        let mut buf = vec![0.0; ld * n];
        self.unpack(slot, &mut buf, ld);
        Some(Mat::from_fn(n, n, |i, j| buf[j * ld + i]))
    }
}
