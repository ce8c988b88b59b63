//! Missing values in the E-step: the exact expectations of the missing
//! coordinates given the state and the observed ones.
//!
//! For a step with observed coordinates O and missing ones M, given x the
//! missing part is `y_M = c + F x + e` with `J = R_MO R_OO⁻¹`, `c = J y_O`,
//! `F = H_M − J H_O`, `e ~ N(0, R_MM − J R_OM)` independent of x. Hence
//! `E[y_M] = c + F m`, `E[y_M xᵀ] = E[y_M] mᵀ + F P`,
//! `Cov(y_M) = F P Fᵀ + R_MM − J R_OM`, `Cov(y_M, y_O) = 0` (m, P the
//! smoothed moments). The quantities of a pattern of missing coordinates
//! are computed once per sequence (once per step when `H_k` or `R_k` vary:
//! see [`crate::time_varying`]).
//!
//! A step with no observed value is left out of the observation block
//! instead (its `y` is not part of the complete data): it adds nothing to
//! `sum_yx` and `sum_yy`, and its `E[x xᵀ]` is collected so that the
//! statistics can take it out of the observation Gram matrix.

use std::collections::HashMap;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use linalg_kernels::Cholesky;

use crate::error::{Matrix, Result};
use crate::model::LinearGaussianSsm;
use crate::model::validate::spd_error;
use crate::param::Param;
use crate::sequence::Driven;
use crate::time_varying::StepMatrices;

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
    /// The quantities of the pattern `observed` with the observation matrix
    /// `h` and noise covariance `r`.
    fn new(h: MatRef<'_, f64>, r: MatRef<'_, f64>, observed: &[bool]) -> Result<Self> {
        let obs: Vec<usize> = (0..observed.len()).filter(|&i| observed[i]).collect();
        let mis: Vec<usize> = (0..observed.len()).filter(|&i| !observed[i]).collect();
        let n = h.ncols();
        let r_oo = Mat::<f64>::from_fn(obs.len(), obs.len(), |a, b| r[(obs[a], obs[b])]);
        let r_om = Mat::<f64>::from_fn(obs.len(), mis.len(), |a, b| r[(obs[a], mis[b])]);
        let mut jt = r_om.clone();
        if !obs.is_empty() {
            let chol = Cholesky::new(r_oo.as_ref()).map_err(|e| spd_error(Matrix::Param(Param::R), e))?;
            chol.solve_in_place(jt.as_mut())
                .map_err(|e| spd_error(Matrix::Param(Param::R), e))?;
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

/// The E-step's handling of the steps with missing values of one sequence:
/// the expectations of the missing values and their corrections to the
/// statistics.
///
/// With inputs, the formulas above hold for the observations less their
/// known part `e_k = D u_k + d` (what the recursions condition on), so
/// `E[y_M] = c + F m + e_M`.
pub(super) struct Missing<'a> {
    model: &'a LinearGaussianSsm,
    /// The sequence's time-varying matrices when `H_k` or `R_k` vary.
    varying: Option<&'a StepMatrices>,
    /// The observations less the inputs' part.
    y: MatRef<'a, f64>,
    /// `e_k = D u_k + d` per step (`None` when zero).
    offsets: Option<MatRef<'a, f64>>,
    /// The observations with every missing value replaced by `E[y_M | y_O, x = m]`
    /// at the smoothed mean.
    pub yhat: Mat<f64>,
    /// `Σ_k` of the missing rows' `F P_s` (added to `sum_yx`).
    pub b_corr: Mat<f64>,
    /// `Σ_k` of the missing blocks' `F P_s Fᵀ + R_MM − J R_OM` (added to `sum_yy`).
    pub d_corr: Mat<f64>,
    /// `Σ_k E[x_k x_kᵀ]` over the steps with no observed value (taken out
    /// of `sum_xx` for `sum_xx_observed`).
    pub unobserved_xx: Mat<f64>,
    /// Number of steps with no observed value.
    pub unobserved_steps: usize,
    /// The last visited step's `F̃` and `Ṽ` (`F` in the rows M, `R_MM −
    /// J R_OM` in the block M x M, zero elsewhere), kept when `H_k` or
    /// `R_k` is given (for [`super::residual::ObservationResidual`] and
    /// [`super::weighted::WeightedVisits`]).
    pub step_terms: Option<(Mat<f64>, Mat<f64>)>,
    patterns: HashMap<Vec<bool>, Pattern>,
    key: Vec<bool>,
    fps: Mat<f64>,
    fpf: Mat<f64>,
}

impl<'a> Missing<'a> {
    pub fn new(model: &'a LinearGaussianSsm, driven: &'a Driven<'_>) -> Self {
        let (n, p) = (model.state_dim(), model.obs_dim());
        Self {
            model,
            varying: driven.matrices().filter(|m| m.observation_varies()),
            y: driven.conditioned(),
            offsets: driven.offsets.as_ref().map(Mat::as_ref),
            yhat: driven.y.to_owned(),
            b_corr: Mat::zeros(p, n),
            d_corr: Mat::zeros(p, p),
            unobserved_xx: Mat::zeros(n, n),
            unobserved_steps: 0,
            step_terms: driven
                .matrices()
                .filter(|m| m.given().contains(Param::H) || m.given().contains(Param::R))
                .map(|_| (Mat::zeros(p, n), Mat::zeros(p, p))),
            patterns: HashMap::new(),
            key: vec![false; p],
            fps: Mat::zeros(p, n),
            fpf: Mat::zeros(p, p),
        }
    }

    /// True when step k has an observed value (else its row of `yhat` is 0).
    pub fn step_observed(&self, k: usize) -> bool {
        (0..self.y.ncols()).any(|j| !self.y[(k, j)].is_nan())
    }

    /// Adds step k's terms, from its smoothed mean `ms` and covariance `ps`
    /// (padded buffers, leading dimension `ldn`).
    pub fn visit(&mut self, k: usize, ms: &[f64], ps: &[f64], ldn: usize) -> Result<()> {
        let (n, p) = (self.model.state_dim(), self.model.obs_dim());
        for j in 0..p {
            self.key[j] = !self.y[(k, j)].is_nan();
        }
        if !self.key.contains(&true) {
            for j in 0..p {
                self.yhat[(k, j)] = 0.0;
            }
            for j in 0..n {
                for i in 0..n {
                    self.unobserved_xx[(i, j)] += ps[j * ldn + i] + ms[i] * ms[j];
                }
            }
            self.unobserved_steps += 1;
            return Ok(());
        }
        let step_pattern;
        let pat = match self.varying {
            Some(m) => {
                step_pattern = Pattern::new(m.h(self.model, k), m.r(self.model, k).0, &self.key)?;
                &step_pattern
            }
            None => {
                if !self.patterns.contains_key(self.key.as_slice()) {
                    let pattern = Pattern::new(self.model.h(), self.model.r(), &self.key)?;
                    self.patterns.insert(self.key.clone(), pattern);
                }
                &self.patterns[self.key.as_slice()]
            }
        };
        let (n_o, n_m) = (pat.obs.len(), pat.mis.len());
        for (a, &mi) in pat.mis.iter().enumerate() {
            let from_obs: f64 = (0..n_o).map(|b| pat.j[(a, b)] * self.y[(k, pat.obs[b])]).sum();
            let from_state: f64 = (0..n).map(|c| pat.f[(a, c)] * ms[c]).sum();
            let known = self.offsets.map_or(0.0, |e| e[(k, mi)]);
            self.yhat[(k, mi)] = from_obs + from_state + known;
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
        if let Some((f, v)) = self.step_terms.as_mut() {
            f.fill(0.0);
            v.fill(0.0);
            for (a, &mi) in pat.mis.iter().enumerate() {
                for c in 0..n {
                    f[(mi, c)] = pat.f[(a, c)];
                }
                for (b, &mj) in pat.mis.iter().enumerate() {
                    v[(mi, mj)] = pat.r_cond[(a, b)];
                }
            }
        }
        Ok(())
    }
}
