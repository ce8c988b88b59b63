//! Linear Gaussian state-space models for emfit: Kalman filter, RTS smoother,
//! and the mathematics of one EM step.
//!
//! ```text
//! x_0 ~ N(m0, P0),  x_k = A x_{k-1} + w_k,  w_k ~ N(0, Q)
//! y_k = H x_k + v_k,  v_k ~ N(0, R),  k = 0, ..., T-1
//! ```
//!
//! The first observation is of `x_0` (pykalman's convention): the filter's
//! first step is an update only.
//!
//! - [`LinearGaussianSsm`]: validated parameters, sampling, [`filter`](LinearGaussianSsm::filter),
//!   [`smooth`](LinearGaussianSsm::smooth), [`log_likelihood`](LinearGaussianSsm::log_likelihood);
//! - [`em`]: [`e_step`](LinearGaussianSsm::e_step) (log-likelihood and mergeable
//!   [`SufficientStats`]) and [`m_step`](LinearGaussianSsm::m_step) for any subset of
//!   (A, Q, H, R, m0, P0) with full, diagonal or scalar Q and R;
//! - missing data: NaN entries; a NaN row skips its update, a partly NaN row
//!   updates with its observed coordinates, and EM treats missing values as
//!   latent (exact);
//! - [`InferenceOptions::steady_state`]: reuse of the converged Riccati
//!   recursion, O(n²) instead of O(n³) per step;
//! - [`scenario`]: scenario 3 of `../shared/SCENARIOS.md` (the 21-dimensional
//!   robot-arm-like model).
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
//! ```
//! use statespace::scenario::{Scenario3, em_start, learn_options};
//! use statespace::InferenceOptions;
//!
//! let data = Scenario3::new(300, 1).generate();
//! let y = data.observations.as_ref();
//! let mut model = em_start(y, 1).unwrap().with_inference(InferenceOptions::steady_state());
//! let mut history = Vec::new();
//! for _ in 0..5 {
//!     let step = model.em_iteration(&[y], &learn_options()).unwrap();
//!     history.push(step.log_likelihood);
//!     model = step.model;
//! }
//! assert!(history.windows(2).all(|w| w[1] > w[0]));
//! let smoothed = model.smooth(y).unwrap();
//! assert_eq!(smoothed.smoothed_means().nrows(), 300);
//! ```

mod buffers;
mod data;
mod dense;
pub mod em;
mod error;
mod inference;
mod kalman;
mod model;
pub mod scenario;
mod univariate;

pub use buffers::release_buffers;
pub use data::split_sequences;
pub use em::{
    CovStructure, EStep, EmIteration, FloorApplied, InitConfig, LearnSet, MStepDiagnostics, MStepOptions,
    SufficientStats,
};
pub use error::{Matrix, Result, StateSpaceError};
pub use inference::{FILTER_CHECKPOINT_INTERVAL, FilterOutput, SmootherOutput};
pub use linalg_kernels::FloorSchedule;
pub use model::{
    DEFAULT_STEADY_STATE_TOLERANCE, InferenceOptions, LinearGaussianSsm, ParameterTuple, Parameters,
    SYMMETRY_TOLERANCE,
};
