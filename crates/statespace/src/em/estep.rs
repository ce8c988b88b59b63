//! The E-step: filter and RTS smoother per sequence (in parallel), and the
//! sums of the smoothed moments that make up the statistics.

use em_core::EStep;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use linalg_kernels::isa::clear_upper_registers;
use rayon::prelude::*;

use super::missing::Missing;
use super::residual::{GivenSums, ObservationResidual, TransitionResidual};
use super::stats::{InputStats, SufficientStats};
use super::weighted::{WeightedStep, WeightedVisits};
use crate::data::validate_all;
use crate::error::{Result, StateSpaceError};
use crate::kalman::{Backward, CovStore, ForwardStore, Padded};
use crate::model::LinearGaussianSsm;
use crate::model::validate::symmetrise;
use crate::param::{LearnSet, Param};
use crate::sequence::{Driven, Sequence};
use crate::time_varying::StepMatrices;

/// The E-step over every sequence (documented on the [`em_core::EmModel`]
/// implementation).
pub(super) fn e_step(
    model: &LinearGaussianSsm,
    sequences: &[Sequence<'_>],
) -> Result<EStep<SufficientStats>> {
    let observations: Vec<MatRef<'_, f64>> = sequences.iter().map(Sequence::observations).collect();
    let summaries = validate_all(&observations, model.obs_dim())?;
    if summaries.iter().all(|s| s.observed_values == 0) {
        return Err(StateSpaceError::NoObservedValues);
    }
    let driven = sequences
        .iter()
        .enumerate()
        .map(|(i, &s)| Driven::new(model, s, i))
        .collect::<Result<Vec<_>>>()?;
    let pm = Padded::new(model);
    let parts: Vec<Result<(f64, SufficientStats)>> = driven
        .par_iter()
        .zip(summaries.par_iter())
        .enumerate()
        .map(|(i, (d, s))| e_step_sequence(model, &pm, d, i, s.any_missing))
        .collect();
    let (n, p, m) = (model.state_dim(), model.obs_dim(), model.input_dim());
    let mut total = EStep {
        log_likelihood: 0.0,
        stats: SufficientStats::zeros_with_inputs(n, p, m),
    };
    for part in parts {
        let (ll, stats) = part?;
        total.log_likelihood += ll;
        total.stats.try_merge(&stats)?;
    }
    Ok(total)
}

/// E-step of one sequence: log-likelihood and statistics.
fn e_step_sequence(
    model: &LinearGaussianSsm,
    pm: &Padded,
    driven: &Driven<'_>,
    sequence: usize,
    any_missing: bool,
) -> Result<(f64, SufficientStats)> {
    let (p, ldn) = (pm.p, pm.ldn);
    let y = driven.y;
    let t = y.nrows();
    let tol = model.inference().steady_state_tolerance();
    let store = ForwardStore {
        means: true,
        filtered_covs: CovStore::All,
    };
    let fwd = driven.forward(pm, sequence, tol, store)?;
    let missing_steps: Vec<bool> = if any_missing {
        (0..t).map(|k| (0..p).any(|j| y[(k, j)].is_nan())).collect()
    } else {
        Vec::new()
    };
    let mut missing = any_missing.then(|| Missing::new(model, driven));
    let given = |param| driven.matrices().filter(|m| m.given().contains(param));
    let mut transition = given(Param::A).map(|m| TransitionResidual::new(model, m, t, ldn));
    let mut observation = given(Param::H).map(|m| ObservationResidual::new(model, m, t, ldn));
    let u = driven.inputs.as_ref();
    let mut weighted = WeightedVisits::new(model, driven.matrices(), u, ldn);
    // The residual and weighted sums need every step; otherwise only the
    // steps with a missing value are visited.
    let residuals = transition.is_some() || observation.is_some() || weighted.is_some();
    let every_step = if residuals { vec![true; t] } else { Vec::new() };
    let visit_mask = if residuals { &every_step } else { &missing_steps };
    let bwd = driven.backward(pm, &fwd, sequence, tol, false, visit_mask, |k, ms, ps, cross| {
        if let Some(r) = transition.as_mut() {
            r.visit(k, ms, ps, cross);
        }
        if let Some(w) = weighted.as_mut() {
            w.visit_transition(k, ms, ps, cross);
        }
        let has_missing = missing_steps.get(k).copied().unwrap_or(false);
        match (missing.as_mut(), has_missing) {
            (Some(m), true) => {
                m.visit(k, ms, ps, ldn)?;
                if m.step_observed(k) {
                    let terms = m.step_terms.as_ref().map(|(f, v)| (f.as_ref(), v.as_ref()));
                    if let Some(r) = observation.as_mut() {
                        r.visit(k, m.yhat.subrows(k, 1), ms, ps, terms);
                    }
                    if let Some(w) = weighted.as_mut() {
                        w.visit_observation(k, m.yhat.subrows(k, 1), ms, ps, terms.map(|(f, _)| f));
                    }
                }
            }
            _ => {
                if let Some(r) = observation.as_mut() {
                    r.visit(k, y.subrows(k, 1), ms, ps, None);
                }
                if let Some(w) = weighted.as_mut() {
                    w.visit_observation(k, y.subrows(k, 1), ms, ps, None);
                }
            }
        }
        Ok(())
    })?;
    let given = GivenResiduals {
        transition: transition.map(|r| r.finish(u.subrows(1, t - 1))),
        observation: observation.map(|r| r.finish(u)),
        weighted: weighted.map(|w| (w.transition.map(|(sums, _)| sums), w.observation)),
    };
    let stats = statistics(pm, driven, &bwd, missing.as_ref(), given);
    Ok((fwd.log_likelihood, stats))
}

/// The residual sums `(Σ E[z zᵀ], Σ E[z] ũᵀ)` of one sequence for the
/// regressions whose state coefficient it gives per step.
struct GivenResiduals {
    transition: Option<(Mat<f64>, Mat<f64>)>,
    observation: Option<(Mat<f64>, Mat<f64>)>,
    /// The weighted sums of the transition and the observation (for the
    /// covariances given per step).
    weighted: Option<(Option<WeightedStep>, Option<WeightedStep>)>,
}

/// The statistics of one sequence from its smoothed moments (and, with
/// missing values, their expectations and corrections).
fn statistics(
    pm: &Padded,
    driven: &Driven<'_>,
    bwd: &Backward,
    missing: Option<&Missing<'_>>,
    given: GivenResiduals,
) -> SufficientStats {
    let (n, p, ldn) = (pm.n, pm.p, pm.ldn);
    let y = driven.y;
    let t = y.nrows();
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
    let yy = match missing {
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
    let inputs = input_statistics(ms, yy, driven.inputs.as_ref(), missing);
    clear_upper_registers();
    if let Some(m) = missing {
        sum_yx += &m.b_corr;
        sum_yy += &m.d_corr;
    }
    symmetrise(&mut sum_yy);
    let (sum_xx_observed, n_observed_steps) = match missing {
        Some(m) if m.unobserved_steps > 0 => {
            let mut observed = &sum_xx - &m.unobserved_xx;
            symmetrise(&mut observed);
            (observed, t - m.unobserved_steps)
        }
        _ => (sum_xx.clone(), t),
    };
    let m_first = bwd.means[..n].to_vec();
    let m_last = &bwd.means[(t - 1) * n..];
    let mut stats = SufficientStats {
        n_sequences: 1,
        n_steps: t,
        n_observed_steps,
        n_transitions: t - 1,
        sum_x0x0: outer_plus_padded(&m_first, &bwd.ps_first, ldn),
        sum_xx_last: outer_plus_padded(m_last, &bwd.ps_last, ldn),
        sum_x0: m_first,
        sum_xx,
        sum_xx_observed,
        sum_cross,
        sum_yx,
        sum_yy,
        inputs,
        time_varying: driven.matrices().map_or(LearnSet::none(), StepMatrices::given),
        given_transition: None,
        given_observation: None,
        weighted_transition: None,
        weighted_observation: None,
    };
    stats.given_transition = given.transition.map(|(second, target_u)| GivenSums {
        second,
        target_u,
        usual: stats.transition_moments(),
    });
    stats.given_observation = given.observation.map(|(second, target_u)| GivenSums {
        second,
        target_u,
        usual: stats.observation_moments(),
    });
    let (transition, observation) = given.weighted.unwrap_or((None, None));
    stats.weighted_transition = transition.map(|w| {
        let (cross, gram) = stats.transition_regression();
        w.finish(gram, cross)
    });
    stats.weighted_observation = observation.map(|w| {
        let (cross, gram) = stats.observation_regression();
        w.finish(gram, cross)
    });
    stats
}

/// The input sums of one sequence: `ms` the smoothed means (n x T), `yy`
/// the expected observations (T x p; rows of unobserved steps are zero),
/// `u` the augmented inputs (T x (m+1)). The sums over the observed steps
/// use `u` with the rows of the unobserved steps zeroed.
fn input_statistics(
    ms: MatRef<'_, f64>,
    yy: MatRef<'_, f64>,
    u: MatRef<'_, f64>,
    missing: Option<&Missing<'_>>,
) -> InputStats {
    let (n, t, mu) = (ms.nrows(), u.nrows(), u.ncols());
    let product = |left: MatRef<'_, f64>, right: MatRef<'_, f64>| {
        let mut out = Mat::<f64>::zeros(left.nrows(), right.ncols());
        matmul(out.as_mut(), Accum::Replace, left, right, 1.0, Par::Seq);
        out
    };
    let (target_u, state_u, uu) = if t > 1 {
        let next = u.subrows(1, t - 1);
        (
            product(ms.subcols(1, t - 1), next),
            product(ms.subcols(0, t - 1), next),
            product(next.transpose(), next),
        )
    } else {
        (Mat::zeros(n, mu), Mat::zeros(n, mu), Mat::zeros(mu, mu))
    };
    let observed_u = match missing {
        Some(m) if m.unobserved_steps > 0 => {
            Mat::from_fn(t, mu, |k, j| if m.step_observed(k) { u[(k, j)] } else { 0.0 })
        }
        _ => u.to_owned(),
    };
    let observed_uu = product(observed_u.transpose(), observed_u.as_ref());
    InputStats {
        target_u,
        state_u,
        uu,
        observed_state_u: product(ms, observed_u.as_ref()),
        observed_y_u: product(yy.transpose(), observed_u.as_ref()),
        observed_uu,
    }
}

/// `dst += src` (or `srcᵀ` with `transpose`) for the n x n matrix in the
/// padded buffer `src` (leading dimension `ld`).
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

/// `cov + m mᵀ` for the covariance in the padded buffer `cov`.
fn outer_plus_padded(m: &[f64], cov: &[f64], ld: usize) -> Mat<f64> {
    let n = m.len();
    Mat::from_fn(n, n, |i, j| cov[j * ld + i] + m[i] * m[j])
}
