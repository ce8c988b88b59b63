//! Built-in data sets with their models, for examples, tests and the demo:
//!
//! - the robot-arm scenario ("scenario 3" of emfit's benchmarks): a
//!   simulated 21-dimensional state-space model of the kinematics of a
//!   7-joint arm at any length, with the EM start of a person who knows the
//!   observation model but nothing of the dynamics ([`Scenario3`],
//!   [`em_start`], [`learn_options`]);
//! - the Nile local-level model: the annual flow of the Nile, 1871–1970,
//!   with the local-level model whose published maximum-likelihood
//!   estimates a fit should reach ([`nile()`], [`nile_learn_options`]).
//!
//! # The robot arm
//! The state is `[pos₁…₇, vel₁…₇, acc₁…₇]` of 7 joints, each integrated by
//! a damped constant-acceleration model and observed directly with noise:
//! precise positions and velocities, noisy accelerations. The full-length
//! workload has 44,484 steps (the length of the SARCOS robot-arm training
//! set, which the scenario imitates). The model and the simulation are drawn
//! from this crate's own seeded generator:
//!
//! - `A = kron(A3, I₇)` with the damped constant-acceleration integrator
//!   `A3 = [[0.99, 1, 0.5], [0, 0.95, 1], [0, 0, 0.90]]`, plus (optionally) a
//!   weak coupling `C` (7 x 7 standard normal rescaled to spectral norm 0.05)
//!   added to the acceleration block; A stays block upper-triangular with
//!   spectral radius 0.99;
//! - `Q = diag(kron([1e-4, 1e-3, 1e-1], 1₇)) + 1e-3 W Wᵀ / 21`, W 21 x 21
//!   standard normal;
//! - `H = I₂₁`, `R = kron(diag(0.01, 0.01, 1.0), I₇)`;
//! - `x_0 ~ N(0, Q)` (so `m0 = 0`, `P0 = Q`).
//!
//! Draws from `StdRng::seed_from_u64(seed)` in the order: C, W, then the
//! simulation ([`LinearGaussianSsm::sample`](crate::LinearGaussianSsm::sample)).
//!
//! The EM start ([`em_start`]) knows the observation model but nothing of
//! the dynamics: `A = 0`, `Q = 0.01 diag(u)` with `u` uniform in (0, 1]
//! from its own seed, `H = I`, the true R, `m0 = y_0`, `P0 = R`; EM learns
//! the transition (A, Q) ([`learn_options`]).
//!
//! # The Nile
//! The classic annual flow series of the river Nile at Aswan, 1871–1970
//! (100 values, in 10⁸ m³; public domain; first analysed by Cobb,
//! *Biometrika* 65, 1978, and shipped as R's `datasets::Nile` and
//! statsmodels' `nile` data set, whose copy every value here was checked
//! against), with the local-level model of
//! Durbin & Koopman, *Time Series Analysis by State Space Methods*, ch. 2:
//!
//! ```text
//! x_k = x_{k-1} + w_k,  w_k ~ N(0, σ²_η)     (the level, a random walk)
//! y_k = x_k + v_k,      v_k ~ N(0, σ²_ε)
//! ```
//!
//! so `A = H = 1` (fixed), `Q = σ²_η`, `R = σ²_ε`. Their maximum-likelihood
//! estimates with a diffuse initial level, `σ²_ε ≈ 15099` and
//! `σ²_η ≈ 1469.1` ([`NILE_MLE_OBSERVATION_VARIANCE`],
//! [`NILE_MLE_LEVEL_VARIANCE`]), are the reference a fit should reach.
//!
//! ## The initial level
//! emfit's model has a proper prior `x_0 ~ N(m0, P0)` observed by `y_0`.
//! The diffuse prior is approximated by [`NILE_P0`]` = 10⁷` (about 350 times
//! the variance of the series): `y_0` then carries all the information on
//! `x_0`, and EM learns Q, R and m0 ([`nile_learn_options`]; P0 stays fixed:
//! its maximiser is the posterior variance of `x_0`, no longer diffuse). The maximum of this
//! likelihood is `σ²_ε = 15098.6`, `σ²_η = 1469.10`, `m0 = 1111.7`
//! (computed independently by a direct optimisation of the same
//! likelihood), within 0.003% of the diffuse estimates.
//!
//! ## The start
//! [`nile()`] returns the data and the EM start: `A = H = 1`,
//! `Q = R = ½ s²` (s² the sample variance of the series, 28,638),
//! `m0 = y_0 = 1120`, `P0 = 10⁷`.

mod nile;
mod robot_arm;

pub use nile::{
    NILE_FIRST_YEAR, NILE_FLOW, NILE_MLE_LEVEL_VARIANCE, NILE_MLE_OBSERVATION_VARIANCE, NILE_P0, NileData,
    nile, nile_learn_options,
};
pub use robot_arm::{
    A3, COUPLING_NORM, FULL_LENGTH, JOINTS, Q_DIAG, R_DIAG, STATE_DIM, Scenario3, Scenario3Data, em_start,
    learn_options, observation_covariance, transition_without_coupling, true_model,
};
