//! Linear Gaussian state-space models for emfit: Kalman filter, RTS smoother,
//! and EM.
//!
//! ```text
//! x_0 ~ N(m0, P0),  x_k = A x_{k-1} + B u_k + b + w_k,  w_k ~ N(0, Q)
//! y_k = H x_k + D u_k + d + v_k,  v_k ~ N(0, R),  k = 0, ..., T-1
//! ```
//!
//! with known inputs `u_k` (optional: [`InputParameters`], data as
//! [`Sequence`]s) and offsets `b`, `d`.
//!
//! The first observation is of `x_0` (pykalman's convention): the filter's
//! first step is an update only.
//!
//! # Shape
//! [`LinearGaussianSsm`] implements [`EmModel`] (one E-step, one M-step, a
//! seeded start); the EM loop itself ([`fit`]: convergence, restarts, fall
//! policy, report) comes from em-core and is re-exported here, so a program
//! that fits state-space models depends on this crate alone.
//!
//! - [`LinearGaussianSsm`]: validated parameters ([`LinearGaussianSsm::builder`]
//!   takes the matrices by name), sampling, [`filter`](LinearGaussianSsm::filter),
//!   [`smooth`](LinearGaussianSsm::smooth), [`log_likelihood`](LinearGaussianSsm::log_likelihood);
//! - [`em`]: the E-step (log-likelihood and mergeable [`SufficientStats`])
//!   and the M-step for any [`LearnSet`] of the blocks [`Param`]
//!   (A, Q, H, R, m0, P0) with full, diagonal or scalar Q and R, reporting
//!   floors in [`StepDiagnostics`]; the learned blocks as one flat vector,
//!   so SQUAREM accelerates the fits; the data-driven start (an
//!   autoregression of the observations, or principal components and a
//!   VAR(1) of the factors);
//! - inputs and offsets: [`LinearGaussianSsm::filter_with_inputs`],
//!   [`LinearGaussianSsm::smooth_with_inputs`],
//!   [`LinearGaussianSsm::sample_with_inputs`], and EM of any subset of
//!   B, D, b, d ([`InputParam`], [`MStepOptions::learn_inputs`]) through
//!   [`em::WithInputs`];
//! - streaming: [`StreamingFilter`] conditions on one observation at a
//!   time (missing entries, inputs), equal to the batch filter, its state
//!   saved and resumed as a serde-serialisable [`FilterState`]; with
//!   [`FixedLagSmoother`], the smoothed moments L steps back as well;
//! - forecasts ([`LinearGaussianSsm::forecast`]: states and observations h
//!   steps past any filtered step, with covariances) and the one-step
//!   prediction errors with standardised residuals
//!   ([`LinearGaussianSsm::innovations`]) for model checking;
//! - time-varying matrices: `A_k`, `Q_k`, `H_k`, `R_k` given per step of a
//!   sequence ([`TimeVarying`], [`Sequence::with_time_varying`]) in the
//!   filter, the smoother, the log-likelihood, the innovations, sampling
//!   ([`LinearGaussianSsm::sample_time_varying`]) and EM of the blocks that
//!   do not depend on them (see the module `time_varying` for the design);
//! - missing data: NaN entries; a NaN row skips its update, a partly NaN row
//!   updates with its observed coordinates, and EM treats missing values as
//!   latent (exact);
//! - [`InferenceOptions::steady_state`]: reuse of the converged Riccati
//!   recursion, O(n²) instead of O(n³) per step;
//! - [`scenario`]: built-in data with their models: the 21-dimensional
//!   robot-arm scenario (model, simulator, EM start) and the Nile
//!   local-level model (the 1871–1970 flow series and its published
//!   maximum-likelihood estimates).
//!
//! Numerics: the per-step Cholesky factors and triangular solves are
//! `linalg_kernels::padded` (vectorised at run time for small matrices), the
//! log-determinants `linalg_kernels::log_det_from_factor`; the n x n products
//! of each step use the padded register-blocked kernels of a private module
//! (faer's matmul is slow and erratic at n ≈ 20); the statistics summed over
//! all steps use faer's matmul. No step allocates.
//!
//! # Numerical choices of the recursions
//! - Innovation covariance `S = H P Hᵀ + R = L Lᵀ` (Cholesky), never
//!   inverted: `Uᵀ = P Hᵀ L⁻ᵀ` and `z = L⁻¹ v` by triangular solves, then
//!   `m_f = m_p + Uᵀ z`, `P_f = P_p − Uᵀ U` and
//!   `ln N(v; 0, S) = −½ (p ln 2π + 2 Σ ln L_ii + ‖z‖²)`.
//! - With H = I and a diagonal R the same update runs one observed
//!   coordinate at a time (sequential processing): `s = P_cc + r_c`,
//!   `l = P[:, c] / √s`, `m ← m + l (y_c − m_c) / √s`, `P ← P − l lᵀ`; the
//!   `s` are the `L_ii²` above and `ln det S = Σ ln s` (one logarithm).
//!   Both triangles get the same multiply-adds, so `P_f` is exactly
//!   symmetric without a mirror.
//! - Symmetric form instead of Joseph form: the lower triangles of
//!   `P_f = P_p − Uᵀ U` and `P_p = A (P_f Aᵀ) + Q` are computed and mirrored,
//!   so every covariance is exactly symmetric (the Joseph form would cost two
//!   more n³ products per step).
//! - Smoother gain `G_k = (P_f,k Aᵀ) L⁻ᵀ L⁻¹` with `P_p,k+1 = L Lᵀ` (two
//!   triangular solves), `P_s,k = P_f,k + G_k (P_s,k+1 − P_p,k+1) G_kᵀ`
//!   (mirrored), and `Cov(x_{k+1}, x_k | y) = P_s,k+1 G_kᵀ`.
//! - A failed factorisation or a non-finite mean or covariance stops the
//!   pass with the sequence and step in the error (never NaN results).
//!
//! The EM formulas are in [`em`], the steady-state criterion in
//! [`InferenceOptions`].
//!
//! # Example
//! Fitting the transition of the robot-arm scenario from its EM start, with
//! the steady-state recursions:
//!
//! ```
//! use statespace::scenario::{Scenario3, em_start, learn_options};
//! use statespace::{InferenceOptions, Settings, Start};
//!
//! let data = Scenario3::new(300, 1).generate();
//! let y = data.observations.as_ref();
//! let model = em_start(y, 1)?.with_inference(InferenceOptions::steady_state());
//! let settings = Settings::builder().max_iterations(5).build()?;
//! let fitted = statespace::fit(&[y][..], Start::Warm(model), &learn_options(), &settings)?;
//! assert!(fitted.report.gains().iter().all(|&gain| gain > 0.0));
//! let smoothed = fitted.model.smooth(y)?;
//! assert_eq!(smoothed.smoothed_means().nrows(), 300);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buffers;
mod data;
mod dense;
pub mod em;
mod error;
mod fixed_lag;
mod forecast;
mod inference;
mod innovations;
mod kalman;
mod model;
mod param;
pub mod scenario;
mod sequence;
mod streaming;
mod time_varying;
mod univariate;

pub use buffers::release_buffers;
pub use data::split_sequences;
pub use em::{CovStructure, InitConfig, MStepOptions, SufficientStats};
pub use error::{Matrix, Result, StateSpaceError};
pub use fixed_lag::{FixedLagSmoother, LaggedState, Smoothed, WindowStep};
pub use forecast::Forecast;
pub use inference::{FILTER_CHECKPOINT_INTERVAL, FilterOutput, SmootherOutput};
pub use innovations::Innovations;
pub use linalg_kernels::FloorSchedule;
pub use model::builder::LinearGaussianSsmBuilder;
pub use model::inference_options::{DEFAULT_STEADY_STATE_TOLERANCE, InferenceOptions};
pub use model::inputs::InputParameters;
pub use model::{LinearGaussianSsm, Parameters};
pub use param::{InputLearnSet, InputParam, LearnSet, Param, StepDiagnostics};
pub use sequence::Sequence;
pub use streaming::{FilterState, StreamingFilter};
pub use time_varying::TimeVarying;

pub use em_core::{
    self, Acceleration, Convergence, EStep, EmModel, Fit, FitError, FitReport, Iteration, LogObserver,
    OnFall, Settings, Start, Tolerance, fit, fit_observed,
};
pub use faer;
pub use rand;
