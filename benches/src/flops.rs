//! Floating-point operation counts of the benchmarked kernels, which the
//! benches give criterion as their throughput (`Throughput::Elements`), so
//! that `cargo xtask bench` prints GFLOP/s beside each mean and the distance
//! to the machine's limit is visible.
//!
//! Conventions: a multiply-add counts 2, every other arithmetic operation 1
//! (compares and maxima included); an `exp` counts [`EXP`], an `ln` or a
//! division is counted as 1 per value where it is once per point (it is
//! then negligible). Only the leading terms are counted (the per-point and
//! per-step work; the M-steps' O(K d³) and O(n³) parts are below 1% at the
//! benchmarked sizes). The counts are of the algorithm as the kernels run
//! it, so GFLOP/s compares directly with the machine's peak (cores x clock
//! x vector lanes x 2 per FMA x FMA units).

/// One vector `exp` as every kernel computes it
/// (`linalg_kernels::fastexp::exp_non_positive`, for exponents `≤ 0`): the
/// lower clamp (1), `t = x log₂e + shift` (a multiply-add, 2) and
/// `n = t − shift` (1), the reduction (4), `r²` and `r⁴` (2), the degree-9
/// polynomial in Estrin form (9 multiply-adds, 18) and one multiply by
/// `2^(n+54)` (1): 29.
pub const EXP: u64 = 29;

/// One EM iteration of a Gaussian mixture with `n` points, `d` features,
/// `k` components, full (`full`) or diagonal covariances.
///
/// Per point and component:
/// - log-density: centring `d`, whitening `y = W (x − μ)`: `d(d+1)` for the
///   triangular `W` (multiply-adds), `d` for a diagonal one; `‖y‖²`: `2d`;
///   scale and offset (`ln w` included in the offset): 2;
/// - log-sum-exp and responsibility: maximum, subtract, `exp`, sum, scale:
///   `4 + EXP`;
/// - statistics `Σρ, Σρ², Σρ(x−μ), Σρ(x−μ)(x−μ)ᵀ`: `3 + d` (`t = ρ (x−μ)`)
///   `+ d` (sum) + `d(d+1)` (packed triangle, multiply-adds) or `2d`
///   (diagonal).
///
/// Full: `2d(d+1) + 5d + 9 + EXP`; diagonal: `8d + 9 + EXP`. The centring
/// is counted once: the diagonal kernel forms `x − μ` again in the
/// statistics pass rather than storing it (`d` more subtractions, not
/// counted, as they are not needed by the algorithm).
#[must_use]
pub fn gmm_em_iteration(n: usize, d: usize, k: usize, full: bool) -> u64 {
    let d = d as u64;
    let per = if full {
        2 * d * (d + 1) + 5 * d + 9 + EXP
    } else {
        8 * d + 9 + EXP
    };
    n as u64 * k as u64 * per
}

/// The log-likelihood of a Gaussian mixture (a pass without statistics,
/// as after the last iteration of a fit), per point and component: the
/// log-density as in [`gmm_em_iteration`] (`d(d+1) + 3d + 2` full,
/// `4d + 2` diagonal) and the log-sum-exp (maximum, subtract, `exp`, sum:
/// `3 + EXP`).
#[must_use]
pub fn gmm_log_likelihood(n: usize, d: usize, k: usize, full: bool) -> u64 {
    let d = d as u64;
    let density = if full { d * (d + 1) + 3 * d + 2 } else { 4 * d + 2 };
    n as u64 * k as u64 * (density + 3 + EXP)
}

/// Emission work of a Gaussian HMM with full covariances, per time step and
/// state: the log-density as in [`gmm_em_iteration`] (`d² + 4d + 2`), then
/// the shift and `exp` of the scaled emission (`1 + EXP`).
fn gaussian_emissions(d: u64) -> u64 {
    d * d + 4 * d + 3 + EXP
}

/// The score (forward algorithm) of a Gaussian HMM, `k` states, `d`
/// dimensions, `t` time steps in all: per step the emissions (`k` times
/// `d² + 4d + 3 + EXP`: the log-density as in [`gmm_em_iteration`], the
/// shift and the `exp`), the prediction `Aᵀ α̂` (`2k²`) and
/// the normalisation `p ∘ e`, its sum and the division (`3k`).
#[must_use]
pub fn hmm_score(k: usize, d: usize, t: usize) -> u64 {
    let (k, d) = (k as u64, d as u64);
    t as u64 * (k * gaussian_emissions(d) + 2 * k * k + 3 * k)
}

/// Viterbi of a Gaussian HMM: per step the emissions (`k` times, the `exp`
/// and shift not needed: `d² + 4d + 2`) and the max-plus product
/// (`k²` adds and `k²` maxima).
#[must_use]
pub fn hmm_viterbi(k: usize, d: usize, t: usize) -> u64 {
    let (k, d) = (k as u64, d as u64);
    t as u64 * (k * (d * d + 4 * d + 2) + 2 * k * k)
}

/// One Baum-Welch iteration of a Gaussian HMM: the forward pass of
/// [`hmm_score`], the backward pass (`w = e ∘ β̂ / c`: `2k`; `β̂ = A w`:
/// `2k²`; `γ = α̂ ∘ β̂`: `k`; `Σ α̂ wᵀ`: `2k²` multiply-adds) and the
/// statistics of every state as in [`gmm_em_iteration`] (`2d² + 4d + 3`
/// per step and state: `d` products, `d` sums, `d(d+1)` multiply-adds, 3).
#[must_use]
pub fn hmm_baum_welch_iteration(k: usize, d: usize, t: usize) -> u64 {
    let (k64, d64) = (k as u64, d as u64);
    hmm_score(k, d, t) + t as u64 * (4 * k64 * k64 + 3 * k64 + k64 * (2 * d64 * d64 + 4 * d64 + 3))
}

/// The exact Kalman filter with state dimension `n`, `p` observed
/// coordinates per step, `steps` steps, counted for a dense transition `A`
/// (a sparse `A` whose zeros the filter skips does less work than counted):
/// - predict: `m = A m` (`2n²`); `C = P Aᵀ` (a dense product, `2n³`);
///   `P = A C + Q` on the lower triangle, which is all the filter computes
///   of the symmetric result before mirroring it (`n(n+1)/2` entries, each
///   `n` multiply-adds and one add: `n(n+1)(2n+1)/2`);
/// - update, one observed coordinate at a time (a unit row of `H`): the
///   pivot, the gain column and the mean (`≈ 4n`), and the rank-one
///   downdate of `P`, which the filter applies to both triangles (`2n²`).
///
/// Per step: `2n³ + n(n+1)(2n+1)/2 + 2n² + p (2n² + 4n)`.
#[must_use]
pub fn kalman_filter(n: usize, p: usize, steps: usize) -> u64 {
    let (n, p) = (n as u64, p as u64);
    let predict = 2 * n * n + 2 * n * n * n + n * (n + 1) * (2 * n + 1) / 2;
    steps as u64 * (predict + p * (2 * n * n + 4 * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts at the standard workload sizes, worked out by hand from
    /// the formulas in the docs.
    #[test]
    fn counts_at_the_standard_sizes() {
        // Full, d = 8: 2·8·9 + 40 + 9 + 29 = 222 per point and component.
        assert_eq!(gmm_em_iteration(200_000, 8, 8, true), 200_000 * 8 * 222);
        // Diagonal: 64 + 9 + 29 = 102.
        assert_eq!(gmm_em_iteration(200_000, 8, 8, false), 200_000 * 8 * 102);
        // Log-likelihood, full: 72 + 24 + 2 + 3 + 29 = 130; diagonal: 34 + 32 = 66.
        assert_eq!(gmm_log_likelihood(200_000, 8, 8, true), 200_000 * 8 * 130);
        assert_eq!(gmm_log_likelihood(200_000, 8, 8, false), 200_000 * 8 * 66);
        // d = 4: emissions 16 + 16 + 3 + 29 = 64; forward 8·64 + 128 + 24 = 664.
        assert_eq!(hmm_score(8, 4, 100_000), 100_000 * 664);
        // Backward 256 + 24, statistics 8·(32 + 16 + 3) = 408.
        assert_eq!(
            hmm_baum_welch_iteration(8, 4, 100_000),
            100_000 * (664 + 280 + 408)
        );
        assert_eq!(hmm_viterbi(8, 4, 10), 10 * (8 * 34 + 128));
        // n = p = 21: 882 + 18,522 + 231·43 + 21·(882 + 84) = 49,623.
        assert_eq!(kalman_filter(21, 21, 1), 49_623);
    }
}
