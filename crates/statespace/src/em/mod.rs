//! The mathematics of one EM step: E-step statistics and the closed-form
//! M-step, as the [`em_core::EmModel`] implementation of
//! [`LinearGaussianSsm`]. The loop (convergence, restarts) is
//! [`crate::fit`], from em-core.
//!
//! The code: [`SufficientStats`] (`stats.rs`), the E-step (`estep.rs`, with
//! the missing values in `missing.rs`, the residual sums of per-step
//! coefficients in `residual.rs` and the weighted sums of per-step
//! covariances in `weighted.rs`), the M-step (`mstep.rs`), the flat
//! parameters (`flat.rs`), the data-driven start (`init/`) and their options
//! (`options.rs`).
//!
//! # Sufficient statistics
//! For sequences j = 1..J of lengths T_j, with `E[·]` the expectation under
//! the smoothed posterior of the current parameters (sums, not means):
//!
//! | field | definition |
//! |---|---|
//! | `sum_xx` | `Σ_j Σ_{k=0}^{T_j-1} E[x_k x_kᵀ]` |
//! | `sum_xx_observed` | the same sum over the steps with at least one observed value |
//! | `sum_x0`, `sum_x0x0` | `Σ_j E[x_0]`, `Σ_j E[x_0 x_0ᵀ]` |
//! | `sum_xx_last` | `Σ_j E[x_{T_j-1} x_{T_j-1}ᵀ]` |
//! | `sum_cross` | `Σ_j Σ_{k=1}^{T_j-1} E[x_k x_{k-1}ᵀ]` |
//! | `sum_yx` | `Σ_j Σ_k E[y_k x_kᵀ]` (p x n), over the steps with at least one observed value |
//! | `sum_yy` | `Σ_j Σ_k E[y_k y_kᵀ]` (p x p), over the same steps |
//!
//! with `E[x_k x_kᵀ] = P_{k|T} + m_{k|T} m_{k|T}ᵀ` and
//! `E[x_k x_{k-1}ᵀ] = P_{k|T} G_{k-1}ᵀ + m_{k|T} m_{k-1|T}ᵀ`. The M-step
//! below uses the normalised moments: with N = `n_transitions`, the second
//! moment of the transition targets `Σ = (sum_xx − sum_x0x0)/N`, that of
//! their regressors `Φ = (sum_xx − sum_xx_last)/N` and the cross moment
//! `C = sum_cross/N`; with N = `n_observed_steps` (the steps with at least
//! one observed value), `B = sum_yx/N` and `D = sum_yy/N`.
//!
//! # Inputs and offsets
//! With inputs (`x_k = A x_{k-1} + B u_k + b + w_k`,
//! `y_k = H x_k + D u_k + d + v_k`; data as [`crate::Sequence`]s, fitted as
//! [`WithInputs`]) the offsets are the coefficients of a constant input:
//! with `ũ_k = [u_k; 1]` both regressions gain the known regressor `ũ_k`.
//! The statistics add its sums: `sum_x_u = Σ_{k≥1} E[x_k] ũ_kᵀ`,
//! `sum_xprev_u = Σ_{k≥1} E[x_{k-1}] ũ_kᵀ`, `sum_uu = Σ_{k≥1} ũ_k ũ_kᵀ`
//! for the transitions and, over the steps with an observed value,
//! `sum_x_u_observed = Σ E[x_k] ũ_kᵀ`, `sum_y_u = Σ E[y_k] ũ_kᵀ`,
//! `sum_uu_observed = Σ ũ_k ũ_kᵀ`. The recursions condition on
//! `y_k − D u_k − d` and add `B u_k + b` to each predicted mean; the
//! covariances do not depend on the inputs.
//!
//! # Time-varying matrices
//! A [`crate::Sequence`] may give `A_k`, `Q_k`, `H_k`, `R_k` per step
//! ([`crate::TimeVarying`]). The E-step runs with them (the sums above are
//! of smoothed moments, whatever the matrices; a missing value is expected
//! with its step's `H_k`, `R_k`), and the statistics record which blocks
//! varied ([`SufficientStats::time_varying`]). A time-varying block is not
//! learned ([`crate::StateSpaceError::TimeVaryingLearned`]).
//!
//! With `A_k` given (and Q not time-varying), the transition is the
//! regression of the residual `z_k = x_k − A_k x_{k−1}` on `ũ_k`: EM learns
//! `[B b]` and Q by the formulas below with the sums
//! `S = Σ E[z_k z_kᵀ]`, `C = Σ E[z_k] ũ_kᵀ`, `G = sum_uu`, where
//!
//! ```text
//! E[z_k z_kᵀ] = E[x_k x_kᵀ] − A_k E[x_{k−1} x_kᵀ] − E[x_k x_{k−1}ᵀ] A_kᵀ + A_k E[x_{k−1} x_{k−1}ᵀ] A_kᵀ
//! ```
//!
//! from the smoothed means, covariances and lag-one cross-covariances,
//! summed step by step in the E-step of the sequences that give `A_k`
//! (`residual.rs`; a sequence without them adds its usual sums with the
//! model's A). The same for the observation with `H_k` given:
//! `z_k = y_k − H_k x_k` over the steps with an observed value, a missing
//! value latent as below, and EM learns `[D d]` and R. With `Q_k` (or
//! `R_k`) given, EM learns the coefficient blocks of its regression by
//! least squares weighted by the per-step `Q_k⁻¹` (`R_k⁻¹`): one
//! symmetric positive definite system in all the learned coefficients at
//! once (`weighted.rs`, which has the formulas; sequences without per-step
//! covariances count with the model's). With both the coefficient and the
//! covariance of a regression given, its input blocks are refused
//! ([`crate::StateSpaceError::TimeVaryingCombination`]).
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
//! A step with no observed value at all is left out of the observation
//! block (its y is not part of the complete data, whose observation term
//! is a sum over the observed steps): it counts in neither `sum_yx`,
//! `sum_yy`, `sum_xx_observed` nor `n_observed_steps`. This is also exact
//! EM, with less missing information than imputing the whole row (so it
//! converges faster), and it is pykalman's update for a missing row.
//!
//! # M-step
//! Maximises the expected complete-data log-likelihood over the learned
//! subset. Its three terms (initial state; transitions; observations) are
//! independent, and within each the mean-like parameter's maximiser does not
//! depend on the covariance, so the updates are closed-form (written here
//! without inputs; with them, A stands for `X = [A B b]` on the regressor
//! `[x_{k-1}; ũ_k]` and H for `[H D d]` on `[x_k; ũ_k]`, the Gram and cross
//! moments gaining the input sums above; the learned columns L of X given
//! the fixed ones F are `X_L = (C_L − X_F G_FL) G_LL⁻¹`, exact for any
//! subset, and a block that is fixed at zero drops out):
//! - `A = C Φ⁻¹` (Cholesky solve, no inverse);
//!   `Q = (Σ − A Cᵀ − C Aᵀ + A Φ Aᵀ)/N`, with the new A if it is learned;
//! - `H = B Sxx⁻¹` with `Sxx = sum_xx_observed`;
//!   `R = (D − H Bᵀ − B Hᵀ + H Sxx Hᵀ)/n_observed_steps`;
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
//!
//! # Flat parameters
//! Accelerated EM ([`em_core::Acceleration::Squarem`]) and the
//! parameter-change stopping rule see the learned blocks as one vector
//! ([`EmModel::flat_parameters`]): the blocks of `options.learn` only, in the
//! order A, Q, H, R, m0, P0, then the input blocks of
//! `options.learn_inputs` in the order B, D, b, d (every entry, column by
//! column), each as
//!
//! | block | values | count |
//! |---|---|---|
//! | A | every entry, column by column (`A[i, j]` at `j n + i`) | n² |
//! | Q | by `q_structure`: full, the lower triangle column by column (`Q[0,0], Q[1,0], …, Q[n-1,0], Q[1,1], …`); diagonal, the diagonal; scalar, one value | n(n+1)/2, n, 1 |
//! | H | every entry, column by column | p n |
//! | R | by `r_structure`, as Q | p(p+1)/2, p, 1 |
//! | m0 | the n values | n |
//! | P0 | the lower triangle column by column | n(n+1)/2 |
//!
//! so its length is [`MStepOptions::n_free_parameters_with_inputs`]. The value of a
//! scalar covariance is the mean of its diagonal; a diagonal or scalar view
//! of a matrix outside that family (a start the M-step has not projected
//! yet) drops what the family cannot hold. [`EmModel::with_flat_parameters`]
//! reads the same layout back (a full block is mirrored into both
//! triangles, a diagonal or scalar one has zero off-diagonal entries), keeps
//! every other block and the [`InferenceOptions`](crate::InferenceOptions),
//! and rebuilds through [`LinearGaussianSsm::from_parameters`]: a wrong
//! length, a non-finite value or a covariance that is not positive definite
//! gives `None`. The round trip is exact, bit for bit, for a model whose Q
//! and R have the structures of `options`.
//!
//! # Data-driven start
//! [`EmModel::init_from_data`] ([`em_core::Start::FromData`]) builds a
//! model from moments of the data, never from a likelihood optimisation:
//! for n = p an autoregression of the observations with `H = I`, for n ≠ p
//! principal components and an autoregression of the factors (the
//! dynamic-factor recipe). To start from parameters of your own, use
//! [`em_core::Start::Warm`].
//!
//! ## Notation
//! Sequences `y_k` (p values, NaN = missing), state dimension n =
//! [`InitConfig::state_dim`]. Every moment is uncentred (the model has no
//! intercept: a mean is carried by a persistent state) and is taken entry by
//! entry over the steps where both values are observed,
//!
//! ```text
//! Γ_{l1,l2}[i, j] = mean over k of y_{k−l1, i} y_{k−l2, j}
//! ```
//!
//! (over the steps `k ≥ 2` of every sequence for the lag-2 moments, `k ≥ 1`
//! for the others). μ_i and σ²_i are the mean and variance of the observed
//! values of coordinate i (σ² = 1 when it is not positive). Every
//! covariance is made positive definite by raising the eigenvalues of its
//! correlation-scaled form `D^{-1/2} M D^{-1/2}` to at least 10⁻³ (D = the
//! diagonal of the moment it estimates), and every A ends with spectral
//! radius ρ(A) (from its eigenvalues; the Frobenius norm, an upper bound, if
//! they cannot be computed) at most `ρ_max = 0.999`: the start is always a
//! valid, stable model. An A above `ρ_max` is either scaled by `ρ_max/ρ(A)`
//! or moved toward a stable estimate B, `(1 − t) A + t B` with the smallest
//! `t ∈ {0, 1/16, …, 1}` that is stable. Moving keeps the structure of A
//! where scaling does not: a position that integrates a velocity with 0.97
//! in place of 0.99 drifts (on the robot-arm scenario, scaling an estimate
//! with ρ = 1.03 to 0.999 took its log-likelihood from −5.3·10⁴ to
//! −2.6·10⁸).
//!
//! ## n = p: H = I, a vector autoregression of the observations
//! With `H = I`, `y_k = x_k + v_k`. Two estimates of A:
//!
//! - least squares of `y_k` on `y_{k−1}`, ridge-regularised:
//!   `A_LS = Γ₀₁ (Γ₁₁ + λ I)⁻¹`, `λ = 10⁻⁸ tr(Γ₁₁)/p`. It is biased toward
//!   0 by the observation noise (`A_LS → A Σx (Σx + R)⁻¹`, Σx the state's
//!   second moment), badly so when R is not small;
//! - the instrumental-variable estimate with `y_{k−2}` as instrument,
//!   `A_IV = Γ₀₂ Γ₁₂⁻¹`: `Γ₀₂ = A² Σx` and `Γ₁₂ = A Σx` whatever R is (v is
//!   white), so `A_IV → A` when A Σx is invertible, but it is erratic when it
//!   is nearly singular.
//!
//! With the true A, the residuals
//! `e_k = y_k − A y_{k−1} = w_k + v_k − A v_{k−1}` have the moments
//! `E₀ = Q + R + A R Aᵀ` and `E₁ = E[e_k e_{k−1}ᵀ] = −A R`. With an
//! estimate in its place (E₀ and E₁ computed from the Γ's), they split E₀
//! between Q and R: R is diagonal
//! with `r_i = −E₁[i,i] / A[i,i]` (kept within
//! `[10⁻³, 1/(1 + A[i,i]²)]·E₀[i,i]`; `½ E₀[i,i]` when `A[i,i] < 0.1`,
//! where the lag-one residual says nothing), and `Q = E₀ − R − A R Aᵀ`.
//!
//! The candidates are `A_LS` (scaled if unstable) and `A_IV`; an unstable
//! `A_IV` gives two, moved toward `A_LS` and scaled. Of the candidate models
//! the one with the highest log-likelihood is the start (one filter pass
//! each, with the steady-state recursion): the IV estimate when the data
//! identify it, least squares when the instrument is weak. `m0` = the first
//! row of the first sequence (missing values → μ), `P0 = diag(σ²)`. With fewer than 2p observed
//! pairs per entry (or no finite estimate): `A = 0.9 I`, `Q = 0.1 diag(σ²)`,
//! `R = 0.5 diag(σ²)`.
//!
//! ## n ≠ p: principal components and a VAR(1) on the factors
//! The dynamic-factor recipe. With `S = Γ₀₀ = U Λ Uᵀ` (eigenvalues
//! λ₁ ≥ λ₂ ≥ …), `k = min(n, p)` components and the noise level
//! `s² = mean(λ_{k+1}, …, λ_p)` (0 when k = p):
//!
//! - `H[:, c] = u_c √d_c` with `d_c = max(λ_c − s², 0.1 λ_c)` for `c < k`
//!   (probabilistic PCA: factors of unit variance); with n > p, the other
//!   `n − p` columns are `0.1 √S_ii ξ / √n` (ξ standard normal from the
//!   seeded generator), weakly observed states that EM can shape;
//! - `R = diag(S_ii − Σ_c d_c u_ic²)`, the variance the factors leave,
//!   at least `10⁻² S_ii`;
//! - the factor scores `f_k = G y_k`, `G = (Hᵀ R⁻¹ H)⁻¹ Hᵀ R⁻¹`, by
//!   generalised least squares over the observed coordinates O of the row.
//!   The error of a score has the covariance `(H_Oᵀ R_O⁻¹ H_O)⁻¹`
//!   (`(Hᵀ R⁻¹ H)⁻¹` on a full row); a row where it exceeds
//!   `max(2 ×` that of a full row`, ½)` on the diagonal has no score (the
//!   scores have about unit variance). With N the mean error covariance
//!   over the scored rows and `C_{l1,l2}` the moments of the scores, the
//!   least-squares VAR(1) corrected for the errors is
//!   `A = C₀₁ (C₁₁ − N)⁻¹`, moved toward the plain least-squares
//!   `A_LS = C₀₁ (C₁₁ + λ I)⁻¹` if unstable (`A_LS` itself when
//!   `C₁₁ − N − 0.1 diag(C₁₁)` is not positive definite: the scores are
//!   too noisy to correct). Q is its residual covariance less the part the
//!   score errors explain,
//!   `Q = C₀₀ − A C₀₁ᵀ − C₀₁ Aᵀ + A C₁₁ Aᵀ − N − A N Aᵀ`. The extra states
//!   of n > p get `A = 0.9`, `Q = 0.19` (unit variance);
//! - `m0` = the score of the first row (0 without one), `P0 = I`.
//!
//! With fewer than 2k scored pairs, the factors get `A = 0.9 I`,
//! `Q = 0.19 I`.
//!
//! ## Restarts
//! Last, [`InitConfig::a_jitter`]` · ξ` is added to every entry of A (ξ
//! standard normal from the restart's generator), so restarts with
//! different seeds start apart; a jittered A that is not stable is moved
//! back toward the A it came from until it is.

mod estep;
mod flat;
mod init;
mod missing;
mod mstep;
mod options;
mod residual;
mod stats;
mod weighted;
mod with_inputs;

use em_core::{EStep, EmModel};
use faer::MatRef;
use rand::Rng;

use crate::error::StateSpaceError;
use crate::model::LinearGaussianSsm;
use crate::param::StepDiagnostics;
use crate::sequence::Sequence;

pub use options::{CovStructure, InitConfig, MStepOptions};
pub use stats::SufficientStats;
pub use with_inputs::WithInputs;

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
    /// stores one), and the means. Those buffers are kept for the
    /// next E-step (re-faulting ~100 MB of fresh pages cost ~10% of an exact
    /// iteration of the robot-arm scenario); [`crate::release_buffers`]
    /// frees them.
    ///
    /// # Errors
    /// [`StateSpaceError::NoSequences`], [`StateSpaceError::NoObservedValues`]
    /// when every value is missing, bad data as [`LinearGaussianSsm::filter`],
    /// and numerical failures of the recursions (with the sequence and step).
    fn e_step(&self, sequences: &[MatRef<'_, f64>]) -> Result<EStep<SufficientStats>, StateSpaceError> {
        let sequences: Vec<Sequence<'_>> = sequences.iter().map(|&y| Sequence::new(y)).collect();
        estep::e_step(self, &sequences)
    }

    /// `ln p(y)` by the filter alone (no smoother, no statistics), summed
    /// in sequence order as the E-step sums it: equal to its bit for bit.
    ///
    /// # Errors
    /// As [`LinearGaussianSsm::log_likelihood`].
    fn log_likelihood(&self, sequences: &[MatRef<'_, f64>]) -> Result<f64, StateSpaceError> {
        LinearGaussianSsm::log_likelihood(self, sequences)
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

    /// The learned blocks as one vector (layout in the
    /// [module documentation](self), *Flat parameters*); always `Some`.
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        Some(flat::flat_parameters(self, options))
    }

    /// `self` with the learned blocks read from `flat` (the layout of
    /// [`EmModel::flat_parameters`]), the others and the inference options
    /// kept; `None` when `flat` has the wrong length or gives an invalid model
    /// (non-finite values, Q, R or P0 not positive definite).
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        flat::with_flat_parameters(self, flat, options)
    }

    /// A data-driven starting model with state dimension `config.state_dim`.
    ///
    /// The recipe is in the [module documentation](self), *Data-driven
    /// start*: for n = p, `H = I` and the better (by log-likelihood) of a
    /// least-squares and an instrumental-variable autoregression of the
    /// observations, with the residual covariance split between Q and R; for
    /// n ≠ p, principal components for H and R and a VAR(1) of the factor
    /// scores for A and Q. Always a valid model with a stable A. Missing
    /// values are skipped entry by entry. `rng` draws the A jitter
    /// ([`InitConfig::a_jitter`], so restarts start apart) and, with n > p,
    /// the loadings of the states beyond the p components.
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
