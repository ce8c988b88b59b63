//! The mathematics of one EM step: E-step statistics and the closed-form
//! M-step. No iteration loop lives here (the em-driver crate owns it).
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
//! `E[x_k x_{k-1}ᵀ] = P_{k|T} G_{k-1}ᵀ + m_{k|T} m_{k-1|T}ᵀ`. In the notation
//! of scenario 3 (`../shared/SCENARIOS.md`), with N = `n_transitions`:
//! `Σ = (sum_xx − sum_x0x0)/N`, `Φ = (sum_xx − sum_xx_last)/N`,
//! `C = sum_cross/N`, and with N = `n_steps`: `B = sum_yx/N`, `D = sum_yy/N`.
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
//! (default: [`FloorSchedule::default`], jitter `1e-12 · mean|diag|`, ×10 up
//! to `1e-1 · mean|diag|`, condition estimate ≤ 1e12). If it is not positive
//! definite (or too ill-conditioned) the smallest sufficient jitter is added
//! to its diagonal and reported in [`MStepDiagnostics`]. The Gram matrices
//! Φ and Sxx are floored the same way (condition unbounded) only if they do
//! not factor. A floored step may lower the likelihood; an unfloored one
//! never does.

use crate::data::validate_all;
use crate::error::{Matrix, Result, StateSpaceError};
use crate::kalman::{CovStore, ForwardStore, Padded, backward, forward};
use crate::model::LinearGaussianSsm;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use linalg_kernels::isa::clear_upper_registers;
use linalg_kernels::{Cholesky, FloorSchedule};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;

/// Mergeable sufficient statistics of the E-step (sums over sequences and
/// steps; see the module documentation for the definitions).
#[derive(Debug, Clone, PartialEq)]
pub struct SufficientStats {
    n_sequences: usize,
    n_steps: usize,
    n_transitions: usize,
    sum_x0: Vec<f64>,
    sum_x0x0: Mat<f64>,
    sum_xx_last: Mat<f64>,
    sum_xx: Mat<f64>,
    sum_cross: Mat<f64>,
    sum_yx: Mat<f64>,
    sum_yy: Mat<f64>,
}

impl SufficientStats {
    /// Empty statistics (the identity of [`Self::merge`]) for state
    /// dimension n and observation dimension p.
    #[must_use]
    pub fn zeros(n: usize, p: usize) -> Self {
        Self {
            n_sequences: 0,
            n_steps: 0,
            n_transitions: 0,
            sum_x0: vec![0.0; n],
            sum_x0x0: Mat::zeros(n, n),
            sum_xx_last: Mat::zeros(n, n),
            sum_xx: Mat::zeros(n, n),
            sum_cross: Mat::zeros(n, n),
            sum_yx: Mat::zeros(p, n),
            sum_yy: Mat::zeros(p, p),
        }
    }

    /// State dimension n.
    #[must_use]
    pub fn state_dim(&self) -> usize {
        self.sum_x0.len()
    }

    /// Observation dimension p.
    #[must_use]
    pub fn obs_dim(&self) -> usize {
        self.sum_yy.nrows()
    }

    /// Number of sequences J.
    #[must_use]
    pub fn n_sequences(&self) -> usize {
        self.n_sequences
    }

    /// Number of time steps `Σ_j T_j`.
    #[must_use]
    pub fn n_steps(&self) -> usize {
        self.n_steps
    }

    /// Number of transitions `Σ_j (T_j − 1)`.
    #[must_use]
    pub fn n_transitions(&self) -> usize {
        self.n_transitions
    }

    /// `Σ_j E[x_0]`.
    #[must_use]
    pub fn sum_x0(&self) -> &[f64] {
        &self.sum_x0
    }

    /// `Σ_j E[x_0 x_0ᵀ]`.
    #[must_use]
    pub fn sum_x0x0(&self) -> MatRef<'_, f64> {
        self.sum_x0x0.as_ref()
    }

    /// `Σ_j E[x_{T_j-1} x_{T_j-1}ᵀ]`.
    #[must_use]
    pub fn sum_xx_last(&self) -> MatRef<'_, f64> {
        self.sum_xx_last.as_ref()
    }

    /// `Σ` over all steps of `E[x_k x_kᵀ]`.
    #[must_use]
    pub fn sum_xx(&self) -> MatRef<'_, f64> {
        self.sum_xx.as_ref()
    }

    /// `Σ_{k≥1} E[x_k x_{k-1}ᵀ]` (the scenario's C, unnormalised).
    #[must_use]
    pub fn sum_cross(&self) -> MatRef<'_, f64> {
        self.sum_cross.as_ref()
    }

    /// `Σ_k E[y_k x_kᵀ]` (the scenario's B, unnormalised; p x n).
    #[must_use]
    pub fn sum_yx(&self) -> MatRef<'_, f64> {
        self.sum_yx.as_ref()
    }

    /// `Σ_k E[y_k y_kᵀ]` (the scenario's D, unnormalised; p x p).
    #[must_use]
    pub fn sum_yy(&self) -> MatRef<'_, f64> {
        self.sum_yy.as_ref()
    }

    /// `Σ_{k≥1} E[x_k x_kᵀ]` (the scenario's Σ, unnormalised).
    #[must_use]
    pub fn sigma(&self) -> Mat<f64> {
        &self.sum_xx - &self.sum_x0x0
    }

    /// `Σ_{k≤T-2} E[x_k x_kᵀ]` (the scenario's Φ, unnormalised).
    #[must_use]
    pub fn phi(&self) -> Mat<f64> {
        &self.sum_xx - &self.sum_xx_last
    }

    /// Adds `other` into `self`.
    ///
    /// # Errors
    /// [`StateSpaceError::StatisticsDimension`] if the dimensions differ.
    pub fn try_merge(&mut self, other: &Self) -> Result<()> {
        if self.state_dim() != other.state_dim() || self.obs_dim() != other.obs_dim() {
            return Err(StateSpaceError::StatisticsDimension {
                stats_state: other.state_dim(),
                stats_obs: other.obs_dim(),
                state: self.state_dim(),
                obs: self.obs_dim(),
            });
        }
        self.n_sequences += other.n_sequences;
        self.n_steps += other.n_steps;
        self.n_transitions += other.n_transitions;
        for (a, b) in self.sum_x0.iter_mut().zip(&other.sum_x0) {
            *a += b;
        }
        self.sum_x0x0 += &other.sum_x0x0;
        self.sum_xx_last += &other.sum_xx_last;
        self.sum_xx += &other.sum_xx;
        self.sum_cross += &other.sum_cross;
        self.sum_yx += &other.sum_yx;
        self.sum_yy += &other.sum_yy;
        Ok(())
    }

    /// Adds `other` into `self`.
    ///
    /// # Panics
    /// If the dimensions differ (statistics of different models); use
    /// [`Self::try_merge`] to get an error instead.
    pub fn merge(&mut self, other: &Self) {
        self.try_merge(other)
            .expect("merging sufficient statistics of different dimensions");
    }

    fn all_finite(&self) -> bool {
        let mats = [
            &self.sum_x0x0,
            &self.sum_xx_last,
            &self.sum_xx,
            &self.sum_cross,
            &self.sum_yx,
            &self.sum_yy,
        ];
        self.sum_x0.iter().all(|v| v.is_finite())
            && mats
                .iter()
                .all(|m| (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite())))
    }
}

impl std::ops::AddAssign<&SufficientStats> for SufficientStats {
    /// As [`SufficientStats::merge`] (panics on a dimension mismatch).
    fn add_assign(&mut self, other: &SufficientStats) {
        self.merge(other);
    }
}

/// The E-step's result: the log-likelihood of the current parameters and
/// the sufficient statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct EStep {
    /// `ln p(all observed values | current parameters)`.
    pub log_likelihood: f64,
    /// The statistics for [`LinearGaussianSsm::m_step`].
    pub stats: SufficientStats,
}

impl EStep {
    /// Adds another E-step's log-likelihood and statistics into this one.
    ///
    /// # Panics
    /// If the dimensions differ.
    pub fn merge(&mut self, other: &Self) {
        self.log_likelihood += other.log_likelihood;
        self.stats.merge(&other.stats);
    }
}

/// Which parameters the M-step updates (the others are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LearnSet {
    /// Transition matrix A.
    pub a: bool,
    /// Process-noise covariance Q.
    pub q: bool,
    /// Observation matrix H.
    pub h: bool,
    /// Observation-noise covariance R.
    pub r: bool,
    /// Initial mean m0.
    pub m0: bool,
    /// Initial covariance P0.
    pub p0: bool,
}

impl LearnSet {
    /// Every parameter.
    #[must_use]
    pub fn all() -> Self {
        Self {
            a: true,
            q: true,
            h: true,
            r: true,
            m0: true,
            p0: true,
        }
    }

    /// No parameter (the M-step returns the same model).
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// A and Q: the transition, as in scenario 3.
    #[must_use]
    pub fn transition() -> Self {
        Self {
            a: true,
            q: true,
            ..Self::default()
        }
    }

    /// The subset whose bits are set in `mask`: bit 0 = A, 1 = Q, 2 = H,
    /// 3 = R, 4 = m0, 5 = P0 (higher bits ignored).
    #[must_use]
    pub fn from_bits(mask: u8) -> Self {
        Self {
            a: mask & 1 != 0,
            q: mask & 2 != 0,
            h: mask & 4 != 0,
            r: mask & 8 != 0,
            m0: mask & 16 != 0,
            p0: mask & 32 != 0,
        }
    }

    /// Parses a comma-separated list of `A, Q, H, R, m0, P0` (case-insensitive,
    /// spaces allowed), or `all` / `none`.
    ///
    /// # Errors
    /// [`StateSpaceError::InvalidOption`] for an unknown name.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("all") {
            return Ok(Self::all());
        }
        if text.eq_ignore_ascii_case("none") || text.is_empty() {
            return Ok(Self::none());
        }
        let mut set = Self::none();
        for name in text.split(',') {
            match name.trim().to_ascii_lowercase().as_str() {
                "a" => set.a = true,
                "q" => set.q = true,
                "h" => set.h = true,
                "r" => set.r = true,
                "m0" => set.m0 = true,
                "p0" => set.p0 = true,
                _ => {
                    return Err(StateSpaceError::InvalidOption {
                        option: "learn",
                        requirement: "a comma-separated subset of A, Q, H, R, m0, P0 (or all / none)",
                    });
                }
            }
        }
        Ok(set)
    }
}

impl fmt::Display for LearnSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.a, "A"),
            (self.q, "Q"),
            (self.h, "H"),
            (self.r, "R"),
            (self.m0, "m0"),
            (self.p0, "P0"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// Structure imposed on an updated covariance (Q or R).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CovStructure {
    /// Any symmetric positive definite matrix.
    #[default]
    Full,
    /// Diagonal.
    Diagonal,
    /// A positive multiple of the identity.
    Scalar,
}

impl CovStructure {
    /// Parses `full`, `diagonal` / `diag`, `scalar` / `spherical`.
    ///
    /// # Errors
    /// [`StateSpaceError::InvalidOption`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "diagonal" | "diag" => Ok(Self::Diagonal),
            "scalar" | "spherical" => Ok(Self::Scalar),
            _ => Err(StateSpaceError::InvalidOption {
                option: "covariance structure",
                requirement: "one of full, diagonal, scalar",
            }),
        }
    }

    fn free_parameters(self, dim: usize) -> usize {
        match self {
            Self::Full => dim * (dim + 1) / 2,
            Self::Diagonal => dim,
            Self::Scalar => 1,
        }
    }
}

/// Options of the M-step.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MStepOptions {
    /// Which parameters to update.
    pub learn: LearnSet,
    /// Structure of the updated Q.
    pub q_structure: CovStructure,
    /// Structure of the updated R.
    pub r_structure: CovStructure,
    /// The floor applied to an updated covariance that is not positive
    /// definite or too ill-conditioned (see the module documentation).
    pub floor: FloorSchedule,
}

impl Default for MStepOptions {
    /// Learn everything, full covariances, default floor.
    fn default() -> Self {
        Self::new(LearnSet::all())
    }
}

impl MStepOptions {
    /// Learns `learn` with full covariances and the default floor.
    #[must_use]
    pub fn new(learn: LearnSet) -> Self {
        Self {
            learn,
            q_structure: CovStructure::Full,
            r_structure: CovStructure::Full,
            floor: FloorSchedule::default(),
        }
    }

    /// With a structure for Q.
    #[must_use]
    pub fn with_q_structure(mut self, structure: CovStructure) -> Self {
        self.q_structure = structure;
        self
    }

    /// With a structure for R.
    #[must_use]
    pub fn with_r_structure(mut self, structure: CovStructure) -> Self {
        self.r_structure = structure;
        self
    }

    /// With another floor schedule.
    #[must_use]
    pub fn with_floor(mut self, floor: FloorSchedule) -> Self {
        self.floor = floor;
        self
    }

    /// Number of free parameters learned with these options for state
    /// dimension n and observation dimension p (for BIC/AIC of a fit).
    #[must_use]
    pub fn n_free_parameters(&self, n: usize, p: usize) -> usize {
        let l = self.learn;
        usize::from(l.a) * n * n
            + if l.q {
                self.q_structure.free_parameters(n)
            } else {
                0
            }
            + usize::from(l.h) * p * n
            + if l.r {
                self.r_structure.free_parameters(p)
            } else {
                0
            }
            + usize::from(l.m0) * n
            + usize::from(l.p0) * n * (n + 1) / 2
    }
}

/// A floor the M-step applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloorApplied {
    /// The floored matrix.
    pub matrix: Matrix,
    /// The jitter added to its diagonal.
    pub jitter: f64,
    /// Factorisations tried.
    pub attempts: usize,
}

/// What the M-step had to do beyond the closed-form updates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MStepDiagnostics {
    /// Floors applied, in the order of the updates.
    pub floors: Vec<FloorApplied>,
}

impl MStepDiagnostics {
    /// True when nothing was floored (the step was exact EM).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.floors.is_empty()
    }
}

impl fmt::Display for MStepDiagnostics {
    /// One line: `exact M-step` or `floored Q (+1.0e-12 on the diagonal), ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.floors.is_empty() {
            return f.write_str("exact M-step");
        }
        f.write_str("floored ")?;
        for (i, floor) in self.floors.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} (+{:.1e} on the diagonal)", floor.matrix, floor.jitter)?;
        }
        Ok(())
    }
}

/// One full EM iteration: see [`LinearGaussianSsm::em_iteration`].
#[derive(Debug, Clone)]
pub struct EmIteration {
    /// The updated model.
    pub model: LinearGaussianSsm,
    /// Log-likelihood of the model the iteration started from.
    pub log_likelihood: f64,
    /// What the M-step reported.
    pub diagnostics: MStepDiagnostics,
}

/// Configuration of [`LinearGaussianSsm::init_from_data`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct InitConfig {
    /// State dimension n (at least 1).
    pub state_dim: usize,
    /// Standard deviation of the Gaussian jitter added to every entry of
    /// the initial A (makes restarts differ; 0 for none).
    pub a_jitter: f64,
}

impl InitConfig {
    /// Largest state dimension [`LinearGaussianSsm::init_from_data`] accepts
    /// (a 4096 x 4096 matrix is 128 MB and a filter step ~10¹¹ flops; larger
    /// requests are almost surely a mistake and would exhaust memory).
    pub const MAX_STATE_DIM: usize = 4096;

    /// State dimension `state_dim`, A jitter 0.01.
    #[must_use]
    pub fn new(state_dim: usize) -> Self {
        Self {
            state_dim,
            a_jitter: 0.01,
        }
    }

    /// With another A jitter.
    #[must_use]
    pub fn with_a_jitter(mut self, a_jitter: f64) -> Self {
        self.a_jitter = a_jitter;
        self
    }
}

/// Pattern-specific quantities of a step with missing values.
struct Pattern {
    obs: Vec<usize>,
    mis: Vec<usize>,
    /// `J = R_MO R_OO⁻¹` (|M| x |O|).
    j: Mat<f64>,
    /// `F = H_M − J H_O` (|M| x n).
    f: Mat<f64>,
    /// `R_MM − J R_OM`.
    r_cond: Mat<f64>,
}

impl Pattern {
    fn new(model: &LinearGaussianSsm, observed: &[bool]) -> Result<Self> {
        let obs: Vec<usize> = (0..observed.len()).filter(|&i| observed[i]).collect();
        let mis: Vec<usize> = (0..observed.len()).filter(|&i| !observed[i]).collect();
        let (r, h, n) = (model.r(), model.h(), model.state_dim());
        let r_oo = Mat::<f64>::from_fn(obs.len(), obs.len(), |a, b| r[(obs[a], obs[b])]);
        let r_om = Mat::<f64>::from_fn(obs.len(), mis.len(), |a, b| r[(obs[a], mis[b])]);
        let mut jt = r_om.clone();
        if !obs.is_empty() {
            let chol = Cholesky::new(r_oo.as_ref()).map_err(|e| crate::model::spd_error(Matrix::R, e))?;
            chol.solve_in_place(jt.as_mut())
                .map_err(|e| crate::model::spd_error(Matrix::R, e))?;
        }
        let j = jt.transpose().to_owned();
        let h_o = Mat::<f64>::from_fn(obs.len(), n, |a, c| h[(obs[a], c)]);
        let mut f = Mat::<f64>::from_fn(mis.len(), n, |a, c| h[(mis[a], c)]);
        let mut r_cond = Mat::<f64>::from_fn(mis.len(), mis.len(), |a, b| r[(mis[a], mis[b])]);
        if !obs.is_empty() {
            matmul(f.as_mut(), Accum::Add, j.as_ref(), h_o.as_ref(), -1.0, Par::Seq);
            matmul(
                r_cond.as_mut(),
                Accum::Add,
                j.as_ref(),
                r_om.as_ref(),
                -1.0,
                Par::Seq,
            );
        }
        Ok(Self {
            obs,
            mis,
            j,
            f,
            r_cond,
        })
    }
}

/// The E-step's handling of the steps with missing values of one sequence.
struct Missing<'a> {
    model: &'a LinearGaussianSsm,
    y: MatRef<'a, f64>,
    yhat: Mat<f64>,
    b_corr: Mat<f64>,
    d_corr: Mat<f64>,
    patterns: HashMap<Vec<bool>, Pattern>,
    key: Vec<bool>,
    fps: Mat<f64>,
    fpf: Mat<f64>,
}

impl<'a> Missing<'a> {
    fn new(model: &'a LinearGaussianSsm, y: MatRef<'a, f64>) -> Self {
        let (n, p) = (model.state_dim(), model.obs_dim());
        Self {
            model,
            y,
            yhat: y.to_owned(),
            b_corr: Mat::zeros(p, n),
            d_corr: Mat::zeros(p, p),
            patterns: HashMap::new(),
            key: vec![false; p],
            fps: Mat::zeros(p, n),
            fpf: Mat::zeros(p, p),
        }
    }

    fn visit(&mut self, k: usize, ms: &[f64], ps: &[f64], ldn: usize) -> Result<()> {
        let (n, p) = (self.model.state_dim(), self.model.obs_dim());
        for j in 0..p {
            self.key[j] = !self.y[(k, j)].is_nan();
        }
        if !self.patterns.contains_key(self.key.as_slice()) {
            let pattern = Pattern::new(self.model, &self.key)?;
            self.patterns.insert(self.key.clone(), pattern);
        }
        let pat = &self.patterns[self.key.as_slice()];
        let (n_o, n_m) = (pat.obs.len(), pat.mis.len());
        for (a, &mi) in pat.mis.iter().enumerate() {
            let from_obs: f64 = (0..n_o).map(|b| pat.j[(a, b)] * self.y[(k, pat.obs[b])]).sum();
            let from_state: f64 = (0..n).map(|c| pat.f[(a, c)] * ms[c]).sum();
            self.yhat[(k, mi)] = from_obs + from_state;
        }
        let ps = MatRef::from_column_major_slice_with_stride(ps, n, n, ldn);
        let mut fps = self.fps.as_mut().submatrix_mut(0, 0, n_m, n);
        matmul(fps.as_mut(), Accum::Replace, pat.f.as_ref(), ps, 1.0, Par::Seq);
        let mut fpf = self.fpf.as_mut().submatrix_mut(0, 0, n_m, n_m);
        matmul(
            fpf.as_mut(),
            Accum::Replace,
            fps.as_ref(),
            pat.f.transpose(),
            1.0,
            Par::Seq,
        );
        for (a, &mi) in pat.mis.iter().enumerate() {
            for c in 0..n {
                self.b_corr[(mi, c)] += fps[(a, c)];
            }
            for (b, &mj) in pat.mis.iter().enumerate() {
                self.d_corr[(mi, mj)] += fpf[(a, b)] + pat.r_cond[(a, b)];
            }
        }
        Ok(())
    }
}

fn add_padded(dst: &mut Mat<f64>, src: &[f64], ld: usize, transpose: bool) {
    let n = dst.nrows();
    for j in 0..n {
        for i in 0..n {
            dst[(i, j)] += if transpose {
                src[i * ld + j]
            } else {
                src[j * ld + i]
            };
        }
    }
}

fn outer_plus_padded(m: &[f64], cov: &[f64], ld: usize) -> Mat<f64> {
    let n = m.len();
    Mat::from_fn(n, n, |i, j| cov[j * ld + i] + m[i] * m[j])
}

fn symmetrise(m: &mut Mat<f64>) {
    let n = m.nrows();
    for j in 0..n {
        for i in (j + 1)..n {
            let mean = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = mean;
            m[(j, i)] = mean;
        }
    }
}

/// E-step of one sequence: log-likelihood and statistics.
fn e_step_sequence(
    model: &LinearGaussianSsm,
    pm: &Padded,
    y: MatRef<'_, f64>,
    sequence: usize,
    any_missing: bool,
) -> Result<(f64, SufficientStats)> {
    let (n, p, ldn) = (pm.n, pm.p, pm.ldn);
    let t = y.nrows();
    let tol = model.inference.steady_state_tolerance();
    let store = ForwardStore {
        means: true,
        filtered_covs: CovStore::All,
    };
    let fwd = forward(pm, y, sequence, tol, store)?;
    let mask: Vec<bool> = if any_missing {
        (0..t).map(|k| (0..p).any(|j| y[(k, j)].is_nan())).collect()
    } else {
        Vec::new()
    };
    let mut missing = any_missing.then(|| Missing::new(model, y));
    let bwd = backward(pm, &fwd, sequence, tol, false, &mask, |k, ms, ps| {
        match missing.as_mut() {
            Some(m) => m.visit(k, ms, ps, ldn),
            None => Ok(()),
        }
    })?;
    let log_likelihood = fwd.log_likelihood;

    let ms = MatRef::from_column_major_slice(&bwd.means, n, t);
    let mut sum_xx = Mat::<f64>::zeros(n, n);
    matmul(sum_xx.as_mut(), Accum::Replace, ms, ms.transpose(), 1.0, Par::Seq);
    add_padded(&mut sum_xx, &bwd.sum_ps, ldn, false);
    symmetrise(&mut sum_xx);
    let mut sum_cross = Mat::<f64>::zeros(n, n);
    if t > 1 {
        matmul(
            sum_cross.as_mut(),
            Accum::Replace,
            ms.subcols(1, t - 1),
            ms.subcols(0, t - 1).transpose(),
            1.0,
            Par::Seq,
        );
        add_padded(&mut sum_cross, &bwd.sum_cross_t, ldn, true);
    }
    let yy = match missing.as_ref() {
        Some(m) => m.yhat.as_ref(),
        None => y,
    };
    let mut sum_yx = Mat::<f64>::zeros(p, n);
    matmul(
        sum_yx.as_mut(),
        Accum::Replace,
        yy.transpose(),
        ms.transpose(),
        1.0,
        Par::Seq,
    );
    let mut sum_yy = Mat::<f64>::zeros(p, p);
    matmul(sum_yy.as_mut(), Accum::Replace, yy.transpose(), yy, 1.0, Par::Seq);
    clear_upper_registers();
    if let Some(m) = missing.as_ref() {
        sum_yx += &m.b_corr;
        sum_yy += &m.d_corr;
    }
    symmetrise(&mut sum_yy);
    let m_first = &bwd.means[..n];
    let m_last = &bwd.means[(t - 1) * n..];
    let m_first = m_first.to_vec();
    let sum_x0x0 = outer_plus_padded(&m_first, &bwd.ps_first, ldn);
    let sum_xx_last = outer_plus_padded(m_last, &bwd.ps_last, ldn);
    let stats = SufficientStats {
        n_sequences: 1,
        n_steps: t,
        n_transitions: t - 1,
        sum_x0: m_first,
        sum_x0x0,
        sum_xx_last,
        sum_xx,
        sum_cross,
        sum_yx,
        sum_yy,
    };
    Ok((log_likelihood, stats))
}

/// `C G⁻¹` through the Cholesky factor of the Gram matrix `G` (floored only
/// if it does not factor; reported).
fn solve_gram_right(
    c: MatRef<'_, f64>,
    gram: &Mat<f64>,
    which: Matrix,
    diagnostics: &mut MStepDiagnostics,
) -> Result<Mat<f64>> {
    let schedule = FloorSchedule {
        max_condition: f64::INFINITY,
        ..FloorSchedule::default()
    };
    let (chol, info) =
        Cholesky::with_floor(gram.as_ref(), &schedule).map_err(|source| StateSpaceError::FloorFailed {
            matrix: which,
            source,
        })?;
    if info.was_applied() {
        diagnostics.floors.push(FloorApplied {
            matrix: which,
            jitter: info.jitter,
            attempts: info.attempts,
        });
    }
    let mut xt = c.transpose().to_owned();
    chol.solve_in_place(xt.as_mut())
        .map_err(|source| StateSpaceError::FloorFailed {
            matrix: which,
            source,
        })?;
    Ok(xt.transpose().to_owned())
}

/// `S − X Cᵀ − C Xᵀ + X G Xᵀ`.
fn quadratic_residual(
    s: &Mat<f64>,
    x: MatRef<'_, f64>,
    c: MatRef<'_, f64>,
    gram: MatRef<'_, f64>,
) -> Mat<f64> {
    let xc = x * c.transpose();
    let xgx = x * gram * x.transpose();
    let mut m = s.clone();
    m -= &xc;
    m -= xc.transpose();
    m += &xgx;
    m
}

/// Symmetrises, imposes the structure and floors an updated covariance.
fn finish_cov(
    mut m: Mat<f64>,
    structure: CovStructure,
    which: Matrix,
    floor: &FloorSchedule,
    diagnostics: &mut MStepDiagnostics,
) -> Result<Mat<f64>> {
    let dim = m.nrows();
    symmetrise(&mut m);
    match structure {
        CovStructure::Full => {}
        CovStructure::Diagonal => {
            m = Mat::from_fn(dim, dim, |i, j| if i == j { m[(i, i)] } else { 0.0 });
        }
        CovStructure::Scalar => {
            let s = (0..dim).map(|i| m[(i, i)]).sum::<f64>() / dim as f64;
            m = Mat::from_fn(dim, dim, |i, j| if i == j { s } else { 0.0 });
        }
    }
    let (_, info) =
        Cholesky::with_floor(m.as_ref(), floor).map_err(|source| StateSpaceError::FloorFailed {
            matrix: which,
            source,
        })?;
    if info.was_applied() {
        for i in 0..dim {
            m[(i, i)] += info.jitter;
        }
        diagnostics.floors.push(FloorApplied {
            matrix: which,
            jitter: info.jitter,
            attempts: info.attempts,
        });
    }
    Ok(m)
}

impl LinearGaussianSsm {
    /// E-step over every sequence: the log-likelihood of the current
    /// parameters and the sufficient statistics (filter + RTS smoother per
    /// sequence, see the [module documentation](crate::em)).
    ///
    /// Sequences run in parallel (rayon) and their statistics are added in
    /// sequence order, so the result does not depend on the thread count.
    /// Uses [`Self::inference`] (exact or steady-state recursion). Memory:
    /// the filtered covariances of the sequences in flight, packed
    /// (n(n+1)/2 values per step; a steady-state stretch stores one), and
    /// the means. Those buffers are kept per thread for the next E-step
    /// (re-faulting ~100 MB of fresh pages cost ~10% of an exact iteration of
    /// scenario 3); [`crate::release_buffers`] frees them.
    ///
    /// # Errors
    /// [`StateSpaceError::NoSequences`], [`StateSpaceError::NoObservedValues`]
    /// when every value is missing, bad data as [`Self::filter`], and
    /// numerical failures of the recursions (with the sequence and step).
    pub fn e_step(&self, sequences: &[MatRef<'_, f64>]) -> Result<EStep> {
        let summaries = validate_all(sequences, self.obs_dim())?;
        if summaries.iter().all(|s| s.observed_values == 0) {
            return Err(StateSpaceError::NoObservedValues);
        }
        let pm = Padded::new(self);
        let parts: Vec<Result<(f64, SufficientStats)>> = sequences
            .par_iter()
            .zip(summaries.par_iter())
            .enumerate()
            .map(|(i, (y, s))| e_step_sequence(self, &pm, *y, i, s.any_missing))
            .collect();
        let mut total = EStep {
            log_likelihood: 0.0,
            stats: SufficientStats::zeros(self.state_dim(), self.obs_dim()),
        };
        for part in parts {
            let (ll, stats) = part?;
            total.log_likelihood += ll;
            total.stats.try_merge(&stats)?;
        }
        Ok(total)
    }

    /// M-step: a new model with the learned parameters replaced by their
    /// closed-form maximisers (see the [module documentation](crate::em)),
    /// and what had to be floored. `self` is not changed; on error no model
    /// is returned.
    ///
    /// # Errors
    /// [`StateSpaceError::StatisticsDimension`], [`StateSpaceError::NonFiniteStatistics`],
    /// [`StateSpaceError::NoTransitions`] (learning A or Q from sequences of
    /// length 1), [`StateSpaceError::FloorFailed`] when a floor cannot
    /// regularise a matrix.
    pub fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(Self, MStepDiagnostics)> {
        let (n, p) = (self.state_dim(), self.obs_dim());
        if stats.state_dim() != n || stats.obs_dim() != p {
            return Err(StateSpaceError::StatisticsDimension {
                stats_state: stats.state_dim(),
                stats_obs: stats.obs_dim(),
                state: n,
                obs: p,
            });
        }
        if !stats.all_finite() {
            return Err(StateSpaceError::NonFiniteStatistics);
        }
        let learn = options.learn;
        let mut diagnostics = MStepDiagnostics::default();
        let mut a = self.a.clone();
        let mut q = self.q.clone();
        let mut h = self.h.clone();
        let mut r = self.r.clone();
        let mut m0 = self.m0.clone();
        let mut p0 = self.p0.clone();

        if learn.a || learn.q {
            if stats.n_transitions == 0 {
                return Err(StateSpaceError::NoTransitions);
            }
            let phi = stats.phi();
            if learn.a {
                a = solve_gram_right(stats.sum_cross(), &phi, Matrix::TransitionGram, &mut diagnostics)?;
            }
            if learn.q {
                let m = quadratic_residual(&stats.sigma(), a.as_ref(), stats.sum_cross(), phi.as_ref());
                let m = m * faer::Scale(1.0 / stats.n_transitions as f64);
                q = finish_cov(
                    m,
                    options.q_structure,
                    Matrix::Q,
                    &options.floor,
                    &mut diagnostics,
                )?;
            }
        }
        if learn.h || learn.r {
            if stats.n_steps == 0 {
                return Err(StateSpaceError::NoObservedValues);
            }
            if learn.h {
                h = solve_gram_right(stats.sum_yx(), &stats.sum_xx, Matrix::StateGram, &mut diagnostics)?;
            }
            if learn.r {
                let m = quadratic_residual(&stats.sum_yy, h.as_ref(), stats.sum_yx(), stats.sum_xx());
                let m = m * faer::Scale(1.0 / stats.n_steps as f64);
                r = finish_cov(
                    m,
                    options.r_structure,
                    Matrix::R,
                    &options.floor,
                    &mut diagnostics,
                )?;
            }
        }
        if learn.m0 || learn.p0 {
            if stats.n_sequences == 0 {
                return Err(StateSpaceError::NoSequences);
            }
            let count = stats.n_sequences as f64;
            if learn.m0 {
                m0 = stats.sum_x0.iter().map(|s| s / count).collect();
            }
            if learn.p0 {
                let s0 = &stats.sum_x0;
                let m = Mat::from_fn(n, n, |i, j| {
                    (stats.sum_x0x0[(i, j)] - m0[i] * s0[j] - s0[i] * m0[j]) / count + m0[i] * m0[j]
                });
                p0 = finish_cov(
                    m,
                    CovStructure::Full,
                    Matrix::P0,
                    &options.floor,
                    &mut diagnostics,
                )?;
            }
        }
        let model = Self::new(a, q, h, r, m0, p0)?.with_inference(self.inference);
        Ok((model, diagnostics))
    }

    /// One EM iteration: [`Self::e_step`] then [`Self::m_step`]. For benches
    /// and plain loops; the em-driver crate owns convergence policy.
    ///
    /// # Errors
    /// As [`Self::e_step`] and [`Self::m_step`].
    pub fn em_iteration(&self, sequences: &[MatRef<'_, f64>], options: &MStepOptions) -> Result<EmIteration> {
        let e = self.e_step(sequences)?;
        let (model, diagnostics) = self.m_step(&e.stats, options)?;
        Ok(EmIteration {
            model,
            log_likelihood: e.log_likelihood,
            diagnostics,
        })
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
    /// bad data as [`Self::filter`], [`StateSpaceError::NoObservedValues`],
    /// [`StateSpaceError::InvalidOption`] for a negative or non-finite jitter
    /// or a state dimension above [`InitConfig::MAX_STATE_DIM`].
    pub fn init_from_data<G: Rng + ?Sized>(
        sequences: &[MatRef<'_, f64>],
        config: &InitConfig,
        rng: &mut G,
    ) -> Result<Self> {
        let n = config.state_dim;
        if n == 0 {
            return Err(StateSpaceError::ZeroDimension { matrix: Matrix::A });
        }
        if n > InitConfig::MAX_STATE_DIM {
            return Err(StateSpaceError::InvalidOption {
                option: "state_dim",
                requirement: "must be at most InitConfig::MAX_STATE_DIM (4096)",
            });
        }
        if !(config.a_jitter >= 0.0 && config.a_jitter.is_finite()) {
            return Err(StateSpaceError::InvalidOption {
                option: "a_jitter",
                requirement: "must be finite and non-negative",
            });
        }
        let first = sequences.first().ok_or(StateSpaceError::NoSequences)?;
        let p = first.ncols();
        if p == 0 {
            return Err(StateSpaceError::ZeroDimension { matrix: Matrix::H });
        }
        let summaries = validate_all(sequences, p)?;
        if summaries.iter().all(|s| s.observed_values == 0) {
            return Err(StateSpaceError::NoObservedValues);
        }
        let mut mean = vec![0.0; p];
        let mut var = vec![0.0; p];
        for i in 0..p {
            let values = sequences
                .iter()
                .flat_map(|y| (0..y.nrows()).map(move |k| y[(k, i)]))
                .filter(|v| !v.is_nan());
            let (mut count, mut sum, mut sum_sq) = (0.0f64, 0.0f64, 0.0f64);
            for v in values {
                count += 1.0;
                sum += v;
                sum_sq += v * v;
            }
            if count > 0.0 {
                mean[i] = sum / count;
                let v = sum_sq / count - mean[i] * mean[i];
                var[i] = if v > 0.0 && v.is_finite() { v } else { 1.0 };
            } else {
                var[i] = 1.0;
            }
        }
        let diag = |values: &[f64], scale: f64| {
            Mat::<f64>::from_fn(values.len(), values.len(), |i, j| {
                if i == j { scale * values[i] } else { 0.0 }
            })
        };
        let (mut a, q, h, r, m0, p0);
        if n == p {
            h = Mat::<f64>::identity(p, p);
            let mut sxx = Mat::<f64>::zeros(p, p);
            let mut syx = Mat::<f64>::zeros(p, p);
            let mut pairs = 0usize;
            for y in sequences {
                for k in 1..y.nrows() {
                    let full = (0..p).all(|j| !y[(k, j)].is_nan() && !y[(k - 1, j)].is_nan());
                    if !full {
                        continue;
                    }
                    pairs += 1;
                    for j in 0..p {
                        for i in 0..p {
                            sxx[(i, j)] += y[(k - 1, i)] * y[(k - 1, j)];
                            syx[(i, j)] += y[(k, i)] * y[(k - 1, j)];
                        }
                    }
                }
            }
            let trace = (0..p).map(|i| sxx[(i, i)]).sum::<f64>() / p as f64;
            for i in 0..p {
                sxx[(i, i)] += 1e-8 * trace + f64::MIN_POSITIVE;
            }
            let fitted = if pairs >= 2 * p {
                Cholesky::new(sxx.as_ref()).ok().map(|chol| {
                    let mut at = syx.transpose().to_owned();
                    chol.solve_in_place(at.as_mut()).ok();
                    at.transpose().to_owned()
                })
            } else {
                None
            };
            match fitted {
                Some(fit) if (0..p).all(|j| (0..p).all(|i| fit[(i, j)].is_finite())) => {
                    let mut res = vec![0.0; p];
                    for y in sequences {
                        for k in 1..y.nrows() {
                            if (0..p).all(|j| !y[(k, j)].is_nan() && !y[(k - 1, j)].is_nan()) {
                                for i in 0..p {
                                    let pred: f64 = (0..p).map(|j| fit[(i, j)] * y[(k - 1, j)]).sum();
                                    res[i] += (y[(k, i)] - pred).powi(2);
                                }
                            }
                        }
                    }
                    for i in 0..p {
                        let v = res[i] / pairs as f64;
                        res[i] = if v > 1e-8 * var[i] { v } else { 1e-8 * var[i] };
                    }
                    a = fit;
                    q = diag(&res, 0.5);
                    r = diag(&res, 0.5);
                }
                _ => {
                    a = Mat::<f64>::identity(p, p) * faer::Scale(0.9);
                    q = diag(&var, 0.1);
                    r = diag(&var, 0.5);
                }
            }
            m0 = (0..p)
                .map(|i| {
                    let v = first[(0, i)];
                    if v.is_nan() { mean[i] } else { v }
                })
                .collect();
            p0 = diag(&var, 1.0);
        } else {
            let mut hh = Mat::<f64>::zeros(p, n);
            for j in 0..n {
                for i in 0..p {
                    let xi: f64 = rng.sample(StandardNormal);
                    hh[(i, j)] = var[i].sqrt() * xi / (n as f64).sqrt();
                }
            }
            h = hh;
            a = Mat::<f64>::identity(n, n) * faer::Scale(0.9);
            q = Mat::<f64>::identity(n, n) * faer::Scale(0.095);
            r = diag(&var, 0.5);
            m0 = vec![0.0; n];
            p0 = Mat::<f64>::identity(n, n) * faer::Scale(0.5);
        }
        if config.a_jitter > 0.0 {
            for j in 0..n {
                for i in 0..n {
                    let xi: f64 = rng.sample(StandardNormal);
                    a[(i, j)] += config.a_jitter * xi;
                }
            }
        }
        Self::new(a, q, h, r, m0, p0)
    }
}
