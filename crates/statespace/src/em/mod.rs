//! The mathematics of one EM step: E-step statistics and the closed-form
//! M-step, as the [`em_core::EmModel`] implementation of
//! [`LinearGaussianSsm`]. The loop (convergence, restarts) is
//! [`crate::fit`], from em-core.
//!
//! The code: [`SufficientStats`] (`stats.rs`), the E-step (`estep.rs`, with
//! the missing values in `missing.rs`), the M-step (`mstep.rs`), the
//! data-driven start (`init.rs`) and their options (`options.rs`).
//!
//! # Sufficient statistics
//! For sequences j = 1..J of lengths T_j, with `E[·]` the expectation under
//! the smoothed posterior of the current parameters (sums, not means):
//!
//! | field | definition |
//! |---|---|
//! | `sum_xx` | `Σ_j Σ_{k=0}^{T_j-1} E[x_k x_kᵀ]` |
//! | `sum_x0`, `sum_x0x0` | `Σ_j E[x_0]`, `Σ_j E[x_0 x_0ᵀ]` |
//! | `sum_xx_last` | `Σ_j E[x_{T_j-1} x_{T_j-1}ᵀ]` |
//! | `sum_cross` | `Σ_j Σ_{k=1}^{T_j-1} E[x_k x_{k-1}ᵀ]` |
//! | `sum_yx` | `Σ_j Σ_k E[y_k x_kᵀ]` (p x n) |
//! | `sum_yy` | `Σ_j Σ_k E[y_k y_kᵀ]` (p x p) |
//!
//! with `E[x_k x_kᵀ] = P_{k|T} + m_{k|T} m_{k|T}ᵀ` and
//! `E[x_k x_{k-1}ᵀ] = P_{k|T} G_{k-1}ᵀ + m_{k|T} m_{k-1|T}ᵀ`. The M-step
//! below uses the normalised moments: with N = `n_transitions`, the second
//! moment of the transition targets `Σ = (sum_xx − sum_x0x0)/N`, that of
//! their regressors `Φ = (sum_xx − sum_xx_last)/N` and the cross moment
//! `C = sum_cross/N`; with N = `n_steps`, `B = sum_yx/N` and `D = sum_yy/N`.
//!
//! # Missing values
//! A missing coordinate of y is latent too, and the E-step takes its
//! expectation exactly. For a step with observed coordinates O and missing
//! ones M, given x the missing part is `y_M = c + F x + e` with
//! `J = R_MO R_OO⁻¹`, `c = J y_O`, `F = H_M − J H_O`,
//! `e ~ N(0, R_MM − J R_OM)` independent of x. Hence
//! `E[y_M] = c + F m`, `E[y_M xᵀ] = E[y_M] mᵀ + F P`,
//! `Cov(y_M) = F P Fᵀ + R_MM − J R_OM`, `Cov(y_M, y_O) = 0`
//! (m, P the smoothed moments). This keeps EM exact, so one step never
//! lowers the likelihood of the observed values.
//!
//! # M-step
//! Maximises the expected complete-data log-likelihood over the learned
//! subset. Its three terms (initial state; transitions; observations) are
//! independent, and within each the mean-like parameter's maximiser does not
//! depend on the covariance, so the updates are closed-form:
//! - `A = C Φ⁻¹` (Cholesky solve, no inverse);
//!   `Q = (Σ − A Cᵀ − C Aᵀ + A Φ Aᵀ)/N`, with the new A if it is learned;
//! - `H = B Sxx⁻¹` with `Sxx = sum_xx`;
//!   `R = (D − H Bᵀ − B Hᵀ + H Sxx Hᵀ)/n_steps`;
//! - `m0 = sum_x0 / J`; `P0 = (sum_x0x0 − m0 s0ᵀ − s0 m0ᵀ)/J + m0 m0ᵀ`.
//!
//! Diagonal Q or R keep the diagonal of the full update, scalar ones
//! `tr(·)/dim · I`: the exact maximisers within those families (so EM stays
//! monotone when the current matrix already has that structure).
//!
//! # Floors
//! Every updated covariance is symmetrised, then factored with
//! [`linalg_kernels::Cholesky::with_floor`] under [`MStepOptions::floor`]
//! (default: [`linalg_kernels::FloorSchedule::default`], jitter `1e-12 · mean|diag|`, ×10 up
//! to `1e-1 · mean|diag|`, condition estimate ≤ 1e12). If it is not positive
//! definite (or too ill-conditioned) the smallest sufficient jitter is added
//! to its diagonal and reported in the [`StepDiagnostics`] as an
//! [`Adjustment::Floored`](em_core::Adjustment::Floored) event of that block.
//! The Gram matrices Φ and Sxx are floored the same way (condition
//! unbounded) only if they do not factor, reported as a floor of the block
//! whose update solves with them (A for Φ, H for Sxx). A floored step may
//! lower the likelihood (so the event makes
//! [`Diagnostics::expects_fall`](em_core::Diagnostics::expects_fall) true);
//! an unfloored one never does.

mod estep;
mod init;
mod missing;
mod mstep;
mod options;
mod stats;

use em_core::{EStep, EmModel};
use faer::MatRef;
use rand::Rng;

use crate::error::StateSpaceError;
use crate::model::LinearGaussianSsm;
use crate::param::StepDiagnostics;

pub use options::{CovStructure, InitConfig, MStepOptions};
pub use stats::SufficientStats;

/// EM for the model: the E-step runs the filter and the RTS smoother over
/// every sequence, the M-step updates the learned blocks in closed form (see
/// the [module documentation](self)).
///
/// The data are sequences (T x p each, one row per step, NaN = missing):
/// one sequence is `&[y.as_ref()]`, stacked rows plus lengths go through
/// [`crate::split_sequences`]. The model's own
/// [`InferenceOptions`](crate::InferenceOptions) (exact or steady-state
/// recursions) are used by every E-step and passed on by the M-step.
impl EmModel for LinearGaussianSsm {
    type Data<'a> = &'a [MatRef<'a, f64>];
    type Stats = SufficientStats;
    type Options = MStepOptions;
    type InitConfig = InitConfig;
    type Diagnostics = StepDiagnostics;
    type Error = StateSpaceError;

    /// E-step over every sequence: the log-likelihood of the current
    /// parameters and the sufficient statistics (filter + RTS smoother per
    /// sequence; missing values are latent, see the
    /// [module documentation](self)).
    ///
    /// Sequences run in parallel (rayon) and their statistics are added in
    /// sequence order, so the result does not depend on the thread count.
    /// Uses [`LinearGaussianSsm::inference`] (exact or steady-state
    /// recursion). Memory: the filtered covariances of the sequences in
    /// flight, packed (n(n+1)/2 values per step; a steady-state stretch
    /// stores one), and the means. Those buffers are kept per thread for the
    /// next E-step (re-faulting ~100 MB of fresh pages cost ~10% of an exact
    /// iteration of the robot-arm scenario); [`crate::release_buffers`]
    /// frees them.
    ///
    /// # Errors
    /// [`StateSpaceError::NoSequences`], [`StateSpaceError::NoObservedValues`]
    /// when every value is missing, bad data as [`LinearGaussianSsm::filter`],
    /// and numerical failures of the recursions (with the sequence and step).
    fn e_step(&self, sequences: &[MatRef<'_, f64>]) -> Result<EStep<SufficientStats>, StateSpaceError> {
        estep::e_step(self, sequences)
    }

    /// M-step: a new model with the learned blocks replaced by their
    /// closed-form maximisers (see the [module documentation](self)), and
    /// what had to be floored. `self` is not changed; on error no model is
    /// returned.
    ///
    /// # Errors
    /// [`StateSpaceError::StatisticsDimension`], [`StateSpaceError::NonFiniteStatistics`],
    /// [`StateSpaceError::NoTransitions`] (learning A or Q from sequences of
    /// length 1), [`StateSpaceError::FloorFailed`] when a floor cannot
    /// regularise a matrix.
    fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), StateSpaceError> {
        mstep::m_step(self, stats, options)
    }

    /// A data-driven starting model with state dimension `config.state_dim`.
    ///
    /// With μ_i, σ²_i the mean and variance of the observed values of
    /// coordinate i (σ² = 1 if it is not positive):
    /// - n = p: `H = I`; A is the least-squares AR(1) fit `y_k ≈ A y_{k-1}`
    ///   over consecutive fully observed rows (ridge `1e-8 · tr/p`), and
    ///   `Q = R = ½ diag(residual variances)`; with fewer than 2p such pairs,
    ///   `A = 0.9 I`, `Q = 0.1 diag(σ²)`, `R = 0.5 diag(σ²)`. `m0` = the
    ///   first row (missing entries replaced by μ), `P0 = diag(σ²)`.
    /// - n ≠ p: `H_ij = σ_i ξ_ij / √n` with ξ standard normal from `rng`,
    ///   `A = 0.9 I`, `Q = 0.095 I` (stationary state variance ½),
    ///   `R = 0.5 diag(σ²)`, `m0 = 0`, `P0 = 0.5 I`.
    ///
    /// Then `config.a_jitter · ξ` is added to every entry of A (ξ from `rng`),
    /// so restarts with different seeds start apart.
    ///
    /// # Errors
    /// [`StateSpaceError::ZeroDimension`], [`StateSpaceError::NoSequences`],
    /// bad data as [`LinearGaussianSsm::filter`], [`StateSpaceError::NoObservedValues`],
    /// [`StateSpaceError::InvalidOption`] for a negative or non-finite jitter
    /// or a state dimension above [`InitConfig::MAX_STATE_DIM`].
    fn init_from_data<G: Rng + ?Sized>(
        sequences: &[MatRef<'_, f64>],
        config: &InitConfig,
        rng: &mut G,
    ) -> Result<Self, StateSpaceError> {
        init::init_from_data(sequences, config, rng)
    }
}
