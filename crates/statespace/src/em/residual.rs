//! The residual sums of a regression whose state coefficient is given per
//! step (`A_k` for the transition, `H_k` for the observation; see
//! [`crate::em`], *Time-varying matrices*).
//!
//! A regression `t_k = K_k s_k + X ũ_k + noise` (the transition: target
//! `x_k`, state `x_{k-1}`, `K_k = A_k`, `X = [B b]`; the observation:
//! target `y_k`, state `x_k`, `K_k = H_k`, `X = [D d]`) with `K_k` known is
//! the regression of the residual `z_k = t_k − K_k s_k` on `ũ_k` alone. Its
//! M-step needs `Σ E[z_k z_kᵀ]` and `Σ E[z_k] ũ_kᵀ`. A sequence with `K_k`
//! given sums them step by step in its E-step ([`TransitionResidual`],
//! [`ObservationResidual`]), from the smoothed means, covariances and
//! lag-one cross-covariances:
//!
//! ```text
//! E[z_k]      = E[t_k] − K_k E[s_k]
//! E[z_k z_kᵀ] = E[z_k] E[z_k]ᵀ + Cov(t_k) − K_k Cov(s_k, t_k) − Cov(t_k, s_k) K_kᵀ + K_k Cov(s_k) K_kᵀ
//! ```
//!
//! The other sequences (and every time-invariant model) pay nothing: their
//! residual with the model's fixed `K` follows from the usual sums,
//! `S − K Cᵀ − C Kᵀ + K G Kᵀ` and `T_u − K S_u` ([`Moments::residual`]).
//! To stay mergeable, the statistics keep the residual sums of the
//! sequences with `K_k` given next to their usual sums ([`GivenSums`]); the
//! M-step takes the usual sums of the others as the totals less those.

use faer::{Mat, MatRef};

use super::mstep::quadratic_residual;
use crate::model::LinearGaussianSsm;
use crate::model::validate::symmetrise;
use crate::time_varying::StepMatrices;

/// The usual sums of one regression (target t, state s, `ũ = [u; 1]`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Moments {
    /// `Σ E[t tᵀ]`.
    pub second: Mat<f64>,
    /// `Σ E[t sᵀ]`.
    pub cross: Mat<f64>,
    /// `Σ E[s sᵀ]`.
    pub gram: Mat<f64>,
    /// `Σ E[t] ũᵀ`.
    pub target_u: Mat<f64>,
    /// `Σ E[s] ũᵀ`.
    pub state_u: Mat<f64>,
}

impl Moments {
    fn zeros(target: usize, state: usize, inputs: usize) -> Self {
        Self {
            second: Mat::zeros(target, target),
            cross: Mat::zeros(target, state),
            gram: Mat::zeros(state, state),
            target_u: Mat::zeros(target, inputs),
            state_u: Mat::zeros(state, inputs),
        }
    }

    fn matrices(&self) -> [&Mat<f64>; 5] {
        [
            &self.second,
            &self.cross,
            &self.gram,
            &self.target_u,
            &self.state_u,
        ]
    }

    fn add(&mut self, other: &Self) {
        self.second += &other.second;
        self.cross += &other.cross;
        self.gram += &other.gram;
        self.target_u += &other.target_u;
        self.state_u += &other.state_u;
    }

    /// `self − other`, entry by entry.
    pub fn minus(&self, other: &Self) -> Self {
        Self {
            second: &self.second - &other.second,
            cross: &self.cross - &other.cross,
            gram: &self.gram - &other.gram,
            target_u: &self.target_u - &other.target_u,
            state_u: &self.state_u - &other.state_u,
        }
    }

    /// The residual sums with the fixed coefficient `k`:
    /// `(S − K Cᵀ − C Kᵀ + K G Kᵀ, T_u − K S_u)`.
    pub fn residual(&self, k: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
        let second = quadratic_residual(self.second.clone(), k, self.cross.as_ref(), self.gram.as_ref());
        let target_u = &self.target_u - k * &self.state_u;
        (second, target_u)
    }
}

/// The sums of the sequences whose state coefficient is given per step:
/// their residual sums and their usual ones.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GivenSums {
    /// `Σ E[z_k z_kᵀ]`.
    pub second: Mat<f64>,
    /// `Σ E[z_k] ũ_kᵀ`.
    pub target_u: Mat<f64>,
    /// The usual sums of the same sequences.
    pub usual: Moments,
}

impl GivenSums {
    /// Zero sums for a target of `target` values, a state of `state` and
    /// `inputs` augmented inputs.
    pub fn zeros(target: usize, state: usize, inputs: usize) -> Self {
        Self {
            second: Mat::zeros(target, target),
            target_u: Mat::zeros(target, inputs),
            usual: Moments::zeros(target, state, inputs),
        }
    }

    /// Every matrix, in the order of the flat form.
    pub fn matrices(&self) -> [&Mat<f64>; 7] {
        let [a, b, c, d, e] = self.usual.matrices();
        [&self.second, &self.target_u, a, b, c, d, e]
    }

    /// Mutable views of the matrices of [`Self::matrices`] (to read a flat
    /// form into).
    pub fn matrices_mut(&mut self) -> [&mut Mat<f64>; 7] {
        let Moments {
            second,
            cross,
            gram,
            target_u,
            state_u,
        } = &mut self.usual;
        [
            &mut self.second,
            &mut self.target_u,
            second,
            cross,
            gram,
            target_u,
            state_u,
        ]
    }

    pub fn add(&mut self, other: &Self) {
        self.second += &other.second;
        self.target_u += &other.target_u;
        self.usual.add(&other.usual);
    }

    /// The residual sums of all the sequences of `all` (their usual sums):
    /// these sequences' own, plus those of the others with the fixed
    /// coefficient `k`.
    pub fn total(&self, all: &Moments, k: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
        let (mut second, mut target_u) = all.minus(&self.usual).residual(k);
        second += &self.second;
        symmetrise(&mut second);
        target_u += &self.target_u;
        (second, target_u)
    }
}

/// `ps` (padded, leading dimension `ld`) as an n x n matrix.
pub(super) fn padded(ps: &[f64], n: usize, ld: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice_with_stride(ps, n, n, ld)
}

/// The residual sums of the transitions of one sequence with `A_k` given:
/// fed step by step by the backward pass (k = T−1 down to 0), the
/// transition into step k + 1 at step k.
pub(super) struct TransitionResidual<'a> {
    model: &'a LinearGaussianSsm,
    matrices: &'a StepMatrices,
    ldn: usize,
    /// `m_{k+1|T}` and `P_{k+1|T}` of the step visited last (buffers of
    /// the whole pass; `has_next` is false before the first step).
    next: (Mat<f64>, Mat<f64>),
    has_next: bool,
    /// `Σ Cov(z_k)`.
    cov: Mat<f64>,
    /// `E[z_k]` in column k − 1.
    means: Mat<f64>,
}

impl<'a> TransitionResidual<'a> {
    pub fn new(model: &'a LinearGaussianSsm, matrices: &'a StepMatrices, t: usize, ldn: usize) -> Self {
        let n = model.state_dim();
        Self {
            model,
            matrices,
            ldn,
            next: (Mat::zeros(n, 1), Mat::zeros(n, n)),
            has_next: false,
            cov: Mat::zeros(n, n),
            means: Mat::zeros(n, t.saturating_sub(1)),
        }
    }

    /// Step k's smoothed mean `ms`, covariance `ps` and `cross`, the
    /// transposed `Cov(x_{k+1}, x_k)` (padded; `None` at the last step).
    pub fn visit(&mut self, k: usize, ms: &[f64], ps: &[f64], cross: Option<&[f64]>) {
        let (n, ld) = (self.model.state_dim(), self.ldn);
        let m = MatRef::from_column_major_slice(&ms[..n], n, 1);
        let p = padded(ps, n, ld);
        if let Some(cross) = cross.filter(|_| self.has_next) {
            let (m_next, p_next) = &self.next;
            let a = self.matrices.a(self.model, k + 1);
            let mean = m_next - a * m;
            // a Cov(x_k, x_{k+1}).
            let a_cross = a * padded(cross, n, ld);
            self.cov += p_next - &a_cross - a_cross.transpose() + a * p * a.transpose();
            self.means.col_mut(k).copy_from(mean.col(0));
        }
        self.next.0.copy_from(m);
        self.next.1.copy_from(p);
        self.has_next = true;
    }

    /// The sums, with `u_next` the augmented inputs of steps 1..T.
    pub fn finish(self, u_next: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
        let mut second = self.cov + &self.means * self.means.transpose();
        symmetrise(&mut second);
        (second, &self.means * u_next)
    }
}

/// The residual sums of the observations of one sequence with `H_k`
/// given, over the steps with an observed value: fed step by step by the
/// backward pass, after [`super::missing::Missing`] (whose expectations of
/// the missing values it uses).
///
/// With the missing coordinates M of a step given by
/// `y_M = c + F x + e` (see [`super::missing`]), `z = y − H_k x` has
/// `Cov(z) = (H_k − F̃) P (H_k − F̃)ᵀ + Ṽ`, with `F̃` the p x n matrix of `F`
/// in the rows M (zero elsewhere) and `Ṽ` the p x p matrix of
/// `Cov(e) = R_MM − J R_OM` in the block M x M.
pub(super) struct ObservationResidual<'a> {
    model: &'a LinearGaussianSsm,
    matrices: &'a StepMatrices,
    ldn: usize,
    /// `Σ Cov(z_k)`.
    cov: Mat<f64>,
    /// `E[z_k]` in column k (zero at the steps with no observed value).
    means: Mat<f64>,
}

impl<'a> ObservationResidual<'a> {
    pub fn new(model: &'a LinearGaussianSsm, matrices: &'a StepMatrices, t: usize, ldn: usize) -> Self {
        let p = model.obs_dim();
        Self {
            model,
            matrices,
            ldn,
            cov: Mat::zeros(p, p),
            means: Mat::zeros(p, t),
        }
    }

    /// Step k (with an observed value): its expected observation `yhat`
    /// (the missing values at their expectation), smoothed mean `ms` and
    /// covariance `ps` (padded), and the step's `(F̃, Ṽ)` when a value is
    /// missing.
    pub fn visit(
        &mut self,
        k: usize,
        yhat: MatRef<'_, f64>,
        ms: &[f64],
        ps: &[f64],
        missing: Option<(MatRef<'_, f64>, MatRef<'_, f64>)>,
    ) {
        let n = self.model.state_dim();
        let h = self.matrices.h(self.model, k);
        let m = MatRef::from_column_major_slice(&ms[..n], n, 1);
        let p = padded(ps, n, self.ldn);
        let mean = yhat.transpose() - h * m;
        self.means.col_mut(k).copy_from(mean.col(0));
        match missing {
            None => self.cov += h * p * h.transpose(),
            Some((f, v)) => {
                let g = h - f;
                self.cov += &g * p * g.transpose() + v;
            }
        }
    }

    /// The sums, with `u` the augmented inputs of every step.
    pub fn finish(self, u: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
        let mut second = self.cov + &self.means * self.means.transpose();
        symmetrise(&mut second);
        (second, &self.means * u)
    }
}
