//! Forward-backward and Viterbi on one sequence, written once for every emission.
//!
//! # Scaling
//! Emission log-likelihoods `ln b_j(x_t)` are shifted per time step,
//! `e_t(j) = exp(ln b_j(x_t) − s_t)` with `s_t = max_j ln b_j(x_t)`, so the
//! largest scaled emission is exactly 1 and nothing underflows however small
//! the densities are. The forward recursion is then normalised every step
//! (Rabiner's scaling):
//!
//! - `p_t = π` (t = 0) or `p_t = Aᵀ α̂_{t−1}` (the predicted state distribution),
//! - `c_t = Σ_j p_t(j) e_t(j)`, `α̂_t = p_t ∘ e_t / c_t`,
//! - `ln p(x_{0:T−1}) = Σ_t (ln c_t + s_t)`.
//!
//! The recursion carries the unnormalised `α̃_t = p_t ∘ e_t = c_t α̂_t` and
//! forms `p_{t+1} = (Aᵀ α̃_t) / c_t`: the sum `c_t` and the division run
//! beside the product `Aᵀ α̃_t` instead of before it, which shortens the
//! chain of dependent operations from one step to the next (the quantity is
//! the same; its last bits may differ from `Aᵀ (α̃_t / c_t)`). Below a
//! small `c_t` (1e-8) the step carries `α̂_t` instead, so that the products
//! stay as far from the subnormal range as `Aᵀ α̂_t`'s.
//!
//! If `c_t` underflows (the predicted distribution puts almost no mass on the
//! states that explain `x_t`, e.g. with structural zeros and an outlier), the
//! step is redone with the shift taken over the *reachable* states only,
//! `s_t = max_{j: p_t(j) > 0} ln b_j(x_t)`, which makes `c_t ≥ p_t(j*) > 0`.
//! If no reachable state can emit `x_t` the sequence has probability zero
//! (reported, never NaN).
//!
//! The backward recursion uses the same `e_t` and `c_t`:
//! `β̂_{T−1} = 1`, `w_{t+1} = e_{t+1} ∘ β̂_{t+1} / c_{t+1}`, `β̂_t = A w_{t+1}`,
//! giving the posteriors `γ_t = α̂_t ∘ β̂_t` and the expected transitions
//! `ξ_t(i, j) = α̂_t(i) A_ij w_{t+1}(j)`. The sum over t of `α̂_t w_{t+1}ᵀ` is
//! accumulated and multiplied by `A` elementwise once per chunk. `β̂_t(i)` is
//! set to 0 where `α̂_t(i) = 0`: such a state never contributes to the
//! posteriors of reachable states, and zeroing it keeps unreachable states
//! from growing without bound (and `0 · ∞` from producing NaN).
//!
//! Viterbi works in log space with `ln 0 = −∞` for structural zeros.
//!
//! # Files
//! - `chain.rs`: the chain's parameters, the work buffers, the specialisation
//!   over K (`dispatch_k!`);
//! - `layout.rs`: column-major to time-major copies, the per-step shift and
//!   exponentiation of the emissions, the check of their columns;
//! - `forward.rs`, `backward.rs`, `viterbi.rs`: the recursions;
//! - this file: one entry point per kernel, compiled for every instruction
//!   set of `linalg_kernels::for_each_isa!` and chosen at run time by
//!   `linalg_kernels::isa_dispatch!`.
//!
//! # Speed
//! Every buffer of the forward-backward pass is time-major (row t holds the
//! K values of time t), so each step reads and writes contiguous K-vectors.
//! Viterbi reads the emissions' columns as they are (its loads of a step's
//! K emissions are off its dependency chain) and keeps time-major scores. The recursions are written
//! once with the number of states as an argument and inlined into a `match`
//! over K = 1..=8 (`dispatch_k!`), so that for those K the loops have
//! constant trip counts and the compiler unrolls and vectorises them; other K
//! run the same code with a runtime trip count. `ln p` is accumulated as a
//! running product of the `c_t`, flushed into a log every ~40 steps, instead of
//! one `ln` per step.
//!
//! The kernels are `#[inline(always)]` bodies called by one
//! `#[target_feature]` function per instruction set, so the whole recursion
//! is compiled with that set's features. Every variant performs the same
//! floating-point operations in the same order (Rust neither reassociates
//! sums nor contracts `a * b + c` into a fused multiply-add), but for one
//! choice, `FUSED`: where the set has FMA (AVX2, AVX-512, aarch64) the
//! multiply-adds are fused (`linalg_kernels::isa::mul_add`): those of the
//! exponentials of the emissions' scaling (`linalg_kernels::fastexp::exp_non_positive_with`),
//! of the prediction `Aᵀ α̂`, of `A w` and of the sum of `α̂ wᵀ`. With AVX2
//! the fused exponentials made a Baum-Welch iteration 3-4% faster, and the
//! fused recursions took 6-8% of the profile samples off the forward and
//! backward passes (AMD Zen 4). So the sets that fuse give the same bits
//! as each other, the x86-64 baseline the same bits as the unfused bodies,
//! and the two differ by rounding (tested within 1e-13 relative); Viterbi
//! (adds and maxima only) gives the same bits everywhere.

mod backward;
mod chain;
mod forward;
mod layout;
#[cfg(test)]
mod tests;
mod viterbi;

use faer::MatRef;

use backward::backward_body;
pub(crate) use chain::{Chain, Scratch};
use forward::{forward_body, forward_pair_body};
use layout::{check_log_likelihoods_body, scale_emissions_body, time_major_to_columns_body};
pub(crate) use viterbi::ViterbiScratch;
use viterbi::{viterbi_body, viterbi_pair_body};

/// Checks the emission log-likelihoods by state, `cols[j][t] = ln b_j(x_t)`:
/// NaN and `+inf` are errors, `Err((t, j, value))` for the first in column
/// order.
pub(crate) fn check_log_likelihoods(cols: &[&[f64]]) -> Result<(), (usize, usize, f64)> {
    linalg_kernels::isa_dispatch!(check_log_likelihoods(cols))
}

/// `cols[j * n + t] = tm[t * k + j]`: time-major n x K to column-major.
pub(crate) fn time_major_to_columns(tm: &[f64], k: usize, cols: &mut [f64]) {
    linalg_kernels::isa_dispatch!(time_major_to_columns(tm, k, cols))
}

/// Fills `e` (time-major n x K) with `exp(ln b_j(x_t) − s_t)` and `shift`
/// with `s_t = max_j ln b_j(x_t)`, from the log-likelihoods by state
/// (`cols[j][t]`); `Err((t, j, value))` for a NaN or `+inf` log-likelihood
/// (see `layout::scale_emissions_body`).
pub(crate) fn scale_emissions(
    cols: &[&[f64]],
    e: &mut [f64],
    shift: &mut [f64],
    tmp: &mut Vec<f64>,
) -> Result<(), (usize, usize, f64)> {
    linalg_kernels::isa_dispatch!(scale_emissions(cols, e, shift, tmp))
}

/// The scaled forward pass over one sequence: writes `alpha` and `c`,
/// returns the log-likelihood or `Err(t)` for an impossible sequence (see
/// `forward::forward_body`).
pub(crate) fn forward(
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    scratch: &mut Scratch,
) -> Result<f64, usize> {
    linalg_kernels::isa_dispatch!(forward(chain, logb, e, shift, alpha, c, scratch))
}

/// [`forward()`] over two consecutive sequences, the first `split` rows of
/// the buffers and the rest, their steps interleaved: the results of two
/// calls (see `forward::forward_pair_body`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_pair(
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    split: usize,
    scratch: &mut Scratch,
) -> [Result<f64, usize>; 2] {
    linalg_kernels::isa_dispatch!(forward_pair(chain, logb, e, shift, alpha, c, split, scratch))
}

/// The backward pass after [`forward()`]: posteriors in place of `alpha`,
/// `Σ_t α̂_t w_{t+1}ᵀ` added into `m`; `false` if a posterior came out
/// non-finite (see `backward::backward_body`).
pub(crate) fn backward(
    chain: Chain<'_>,
    e: &[f64],
    alpha: &mut [f64],
    c: &[f64],
    m: &mut [f64],
    scratch: &mut Scratch,
) -> bool {
    linalg_kernels::isa_dispatch!(backward(chain, e, alpha, c, m, scratch))
}

/// Viterbi over one sequence (`logb[j][t] = ln b_j(x_t)`): the best path into `path`
/// and its log-probability, or `Err(t)` when no path remains at time t (see
/// `viterbi::viterbi_body`).
pub(crate) fn viterbi(
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[&[f64]],
    path: &mut [usize],
    work: &mut ViterbiScratch,
) -> Result<f64, usize> {
    linalg_kernels::isa_dispatch!(viterbi(log_start, log_trans, logb, path, work))
}

/// [`viterbi()`] over two consecutive sequences, the first `split` rows of
/// `logb`'s columns and of `path` and the rest, their steps interleaved: the results of
/// two calls (see `viterbi::viterbi_pair_body`).
pub(crate) fn viterbi_pair(
    log_start: &[f64],
    log_trans: &[f64],
    logb: &[&[f64]],
    split: usize,
    path: &mut [usize],
    work: &mut ViterbiScratch,
) -> [Result<f64, usize>; 2] {
    linalg_kernels::isa_dispatch!(viterbi_pair(log_start, log_trans, logb, split, path, work))
}

/// One module per instruction set: the entry points compiled with that
/// set's target features, each calling the `#[inline(always)]` body (so the
/// whole recursion is compiled with the features). The scaling, forward and
/// backward bodies fuse their multiply-adds where the set has FMA (`$fma`);
/// everything else runs the same operations on every set.
macro_rules! isa_kernels {
    ($name:ident, $fma:literal $(, $features:literal)?) => {
        mod $name {
            use super::{
                Chain, MatRef, Scratch, ViterbiScratch, backward_body, check_log_likelihoods_body, forward_body, forward_pair_body, scale_emissions_body,
                time_major_to_columns_body, viterbi_body, viterbi_pair_body,
            };

            /// Whether the scaling's transposition may use AVX's shuffles:
            /// the x86-64 sets with FMA (AVX2, AVX-512) include AVX.
            const AVX: bool = cfg!(target_arch = "x86_64") && $fma;

            $(#[target_feature(enable = $features)])*
            pub(super) fn check_log_likelihoods(cols: &[&[f64]]) -> Result<(), (usize, usize, f64)> {
                check_log_likelihoods_body(cols)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn time_major_to_columns(tm: &[f64], k: usize, cols: &mut [f64]) {
                time_major_to_columns_body(tm, k, cols)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn scale_emissions(
                cols: &[&[f64]],
                e: &mut [f64],
                shift: &mut [f64],
                tmp: &mut Vec<f64>,
            ) -> Result<(), (usize, usize, f64)> {
                scale_emissions_body::<$fma, AVX>(cols, e, shift, tmp)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn forward(
                chain: Chain<'_>,
                logb: MatRef<'_, f64>,
                e: &mut [f64],
                shift: &mut [f64],
                alpha: &mut [f64],
                c: &mut [f64],
                scratch: &mut Scratch,
            ) -> Result<f64, usize> {
                forward_body::<$fma>(chain, logb, e, shift, alpha, c, scratch)
            }

            $(#[target_feature(enable = $features)])*
            #[allow(clippy::too_many_arguments)]
            pub(super) fn forward_pair(
                chain: Chain<'_>,
                logb: MatRef<'_, f64>,
                e: &mut [f64],
                shift: &mut [f64],
                alpha: &mut [f64],
                c: &mut [f64],
                split: usize,
                scratch: &mut Scratch,
            ) -> [Result<f64, usize>; 2] {
                forward_pair_body::<$fma>(chain, logb, e, shift, alpha, c, split, scratch)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn backward(
                chain: Chain<'_>,
                e: &[f64],
                alpha: &mut [f64],
                c: &[f64],
                m: &mut [f64],
                scratch: &mut Scratch,
            ) -> bool {
                backward_body::<$fma>(chain, e, alpha, c, m, scratch)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn viterbi(
                log_start: &[f64],
                log_trans: &[f64],
                logb: &[&[f64]],
                path: &mut [usize],
                work: &mut ViterbiScratch,
            ) -> Result<f64, usize> {
                viterbi_body(log_start, log_trans, logb, path, work)
            }

            $(#[target_feature(enable = $features)])*
            pub(super) fn viterbi_pair(
                log_start: &[f64],
                log_trans: &[f64],
                logb: &[&[f64]],
                split: usize,
                path: &mut [usize],
                work: &mut ViterbiScratch,
            ) -> [Result<f64, usize>; 2] {
                viterbi_pair_body(log_start, log_trans, logb, split, path, work)
            }
        }
    };
}

linalg_kernels::for_each_isa!(isa_kernels);
