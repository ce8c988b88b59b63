//! Workload builders shared by the criterion benches and the `emfit-compare`
//! program of emfit.
//!
//! Deterministic: the small matrices of the kernel benches come from a fixed
//! linear congruential sequence; the model workloads ([`workloads`]) from
//! seeded `StdRng`s, with the recipes of the standard comparison workloads.

pub mod converge;
pub mod flops;
pub mod npy;
pub mod peak;
pub mod scaling;
pub mod workloads;

use faer::Mat;

/// A deterministic pseudo-random value in `[-1, 1)` for index `i`.
#[must_use]
pub fn pseudo_random(i: usize) -> f64 {
    let x = (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

/// A well-conditioned SPD matrix `W Wᵀ / d + I` of dimension `d`.
#[must_use]
pub fn spd_matrix(d: usize) -> Mat<f64> {
    let w = Mat::<f64>::from_fn(d, d, |i, j| pseudo_random(i * d + j));
    let mut a = &w * w.transpose() * (1.0 / d as f64);
    for i in 0..d {
        a[(i, i)] += 1.0;
    }
    a
}

/// An `n x d` data matrix with entries in `[-3, 3)`.
#[must_use]
pub fn data_matrix(n: usize, d: usize) -> Mat<f64> {
    Mat::<f64>::from_fn(n, d, |i, j| 3.0 * pseudo_random(i * d + j + 17))
}
