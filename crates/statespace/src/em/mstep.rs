//! The M-step: closed-form maximisers of the expected complete-data
//! log-likelihood over the learned blocks, with the covariance floors (the
//! formulas are in [`crate::em`]).

use em_core::{Adjustment, Event};
use faer::{Mat, MatRef};
use linalg_kernels::{Cholesky, FloorSchedule};

use super::options::{CovStructure, MStepOptions};
use super::stats::SufficientStats;
use crate::error::{Matrix, Result, StateSpaceError};
use crate::model::validate::symmetrise;
use crate::model::{LinearGaussianSsm, Parameters};
use crate::param::{Param, StepDiagnostics};

/// The M-step (documented on the [`em_core::EmModel`] implementation).
pub(super) fn m_step(
    model: &LinearGaussianSsm,
    stats: &SufficientStats,
    options: &MStepOptions,
) -> Result<(LinearGaussianSsm, StepDiagnostics)> {
    let (n, p) = (model.state_dim(), model.obs_dim());
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
    let mut step = Step {
        options,
        parameters: model.parameters(),
        diagnostics: StepDiagnostics::default(),
    };
    let learn = options.learn;
    if learn.contains(Param::A) || learn.contains(Param::Q) {
        if stats.n_transitions == 0 {
            return Err(StateSpaceError::NoTransitions);
        }
        let phi = stats.phi();
        let transition = Regression {
            coefficient: Param::A,
            covariance: Param::Q,
            gram_name: Matrix::TransitionGram,
            structure: options.q_structure,
            count: stats.n_transitions,
            cross: stats.sum_cross(),
            gram: phi.as_ref(),
        };
        step.regression(&transition, || stats.sigma())?;
    }
    if learn.contains(Param::H) || learn.contains(Param::R) {
        if stats.n_observed_steps == 0 {
            return Err(StateSpaceError::NoObservedValues);
        }
        let observation = Regression {
            coefficient: Param::H,
            covariance: Param::R,
            gram_name: Matrix::StateGram,
            structure: options.r_structure,
            count: stats.n_observed_steps,
            cross: stats.sum_yx(),
            gram: stats.sum_xx_observed(),
        };
        step.regression(&observation, || stats.sum_yy.clone())?;
    }
    if learn.contains(Param::M0) || learn.contains(Param::P0) {
        step.initial_state(stats)?;
    }
    let Step {
        parameters,
        diagnostics,
        ..
    } = step;
    let model = LinearGaussianSsm::from_parameters(parameters)?.with_inference(model.inference());
    Ok((model, diagnostics))
}

/// One of the two regressions of the model, `target = X · regressor + noise`
/// with noise `N(0, V)`: the transition (`x_k` on `x_{k-1}`: X = A, V = Q)
/// and the observation (`y_k` on `x_k`: X = H, V = R). With the cross
/// moment `C = Σ E[target regressorᵀ]`, the Gram matrix
/// `G = Σ E[regressor regressorᵀ]`, the second moment `S` of the target and
/// N terms: `X = C G⁻¹`, `V = (S − X Cᵀ − C Xᵀ + X G Xᵀ)/N`.
struct Regression<'a> {
    coefficient: Param,
    covariance: Param,
    /// The name of `G` in errors.
    gram_name: Matrix,
    structure: CovStructure,
    count: usize,
    cross: MatRef<'a, f64>,
    gram: MatRef<'a, f64>,
}

/// The parameters being updated and what the M-step reports.
struct Step<'a> {
    options: &'a MStepOptions,
    parameters: Parameters,
    diagnostics: StepDiagnostics,
}

impl Step<'_> {
    /// The learned blocks of a regression (`second` computes `S`, needed
    /// only for V). V uses the new X if X is learned.
    fn regression(&mut self, r: &Regression<'_>, second: impl FnOnce() -> Mat<f64>) -> Result<()> {
        let learn = self.options.learn;
        let (coefficient, covariance) = match r.coefficient {
            Param::A => (&mut self.parameters.a, &mut self.parameters.q),
            Param::H => (&mut self.parameters.h, &mut self.parameters.r),
            other => unreachable!("{other} is not the coefficient of a regression"),
        };
        if learn.contains(r.coefficient) {
            *coefficient = solve_gram_right(r, &mut self.diagnostics)?;
        }
        if learn.contains(r.covariance) {
            let m = quadratic_residual(second(), coefficient.as_ref(), r.cross, r.gram);
            let m = m * faer::Scale(1.0 / r.count as f64);
            *covariance = finish_cov(
                m,
                r.structure,
                r.covariance,
                &self.options.floor,
                &mut self.diagnostics,
            )?;
        }
        Ok(())
    }

    /// `m0 = sum_x0 / J`, `P0 = (sum_x0x0 − m0 s0ᵀ − s0 m0ᵀ)/J + m0 m0ᵀ`
    /// (with the new m0 if it is learned).
    fn initial_state(&mut self, stats: &SufficientStats) -> Result<()> {
        if stats.n_sequences == 0 {
            return Err(StateSpaceError::NoSequences);
        }
        let learn = self.options.learn;
        let n = stats.state_dim();
        let count = stats.n_sequences as f64;
        if learn.contains(Param::M0) {
            self.parameters.m0 = stats.sum_x0.iter().map(|s| s / count).collect();
        }
        if learn.contains(Param::P0) {
            let (s0, m0) = (&stats.sum_x0, &self.parameters.m0);
            let m = Mat::from_fn(n, n, |i, j| {
                (stats.sum_x0x0[(i, j)] - m0[i] * s0[j] - s0[i] * m0[j]) / count + m0[i] * m0[j]
            });
            self.parameters.p0 = finish_cov(
                m,
                CovStructure::Full,
                Param::P0,
                &self.options.floor,
                &mut self.diagnostics,
            )?;
        }
        Ok(())
    }
}

/// `C G⁻¹` through the Cholesky factor of the Gram matrix `G` (floored only
/// if it does not factor; reported as a floor of the coefficient X whose
/// update solves with it).
fn solve_gram_right(r: &Regression<'_>, diagnostics: &mut StepDiagnostics) -> Result<Mat<f64>> {
    let schedule = FloorSchedule {
        max_condition: f64::INFINITY,
        ..FloorSchedule::default()
    };
    let failed = |source| StateSpaceError::FloorFailed {
        matrix: r.gram_name,
        source,
    };
    let (chol, info) = Cholesky::with_floor(r.gram, &schedule).map_err(failed)?;
    if info.was_applied() {
        diagnostics.push(floored(r.coefficient, info.jitter, info.attempts));
    }
    let mut xt = r.cross.transpose().to_owned();
    chol.solve_in_place(xt.as_mut()).map_err(failed)?;
    Ok(xt.transpose().to_owned())
}

/// The event of a floor applied in the update of `block`.
fn floored(block: Param, jitter: f64, attempts: usize) -> Event<Param> {
    Event::new(Some(block), Adjustment::Floored { jitter, attempts })
}

/// `S − X Cᵀ − C Xᵀ + X G Xᵀ`.
fn quadratic_residual(
    s: Mat<f64>,
    x: MatRef<'_, f64>,
    c: MatRef<'_, f64>,
    gram: MatRef<'_, f64>,
) -> Mat<f64> {
    let xc = x * c.transpose();
    let xgx = x * gram * x.transpose();
    let mut m = s;
    m -= &xc;
    m -= xc.transpose();
    m += &xgx;
    m
}

/// Symmetrises, imposes the structure and floors an updated covariance.
fn finish_cov(
    mut m: Mat<f64>,
    structure: CovStructure,
    which: Param,
    floor: &FloorSchedule,
    diagnostics: &mut StepDiagnostics,
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
            matrix: which.into(),
            source,
        })?;
    if info.was_applied() {
        for i in 0..dim {
            m[(i, i)] += info.jitter;
        }
        diagnostics.push(floored(which, info.jitter, info.attempts));
    }
    Ok(m)
}
