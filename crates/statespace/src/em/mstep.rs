//! The M-step: closed-form maximisers of the expected complete-data
//! log-likelihood over the learned blocks, with the covariance floors (the
//! formulas are in [`crate::em`]).

use em_core::{Adjustment, Event};
use faer::{Mat, MatRef};
use linalg_kernels::{Cholesky, FloorSchedule};

use super::options::{CovStructure, MStepOptions};
use super::stats::SufficientStats;
use super::weighted::{WeightedSums, solve_learned};
use crate::error::{Matrix, Result, StateSpaceError};
use crate::model::inputs::InputParameters;
use crate::model::validate::symmetrise;
use crate::model::{LinearGaussianSsm, Parameters};
use crate::param::{InputParam, Param, StepDiagnostics};
use crate::time_varying::check_learnable;

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
    if stats.input_dim() != model.input_dim() {
        return Err(StateSpaceError::StatisticsInputs {
            stats_inputs: stats.input_dim(),
            inputs: model.input_dim(),
        });
    }
    if !stats.all_finite() {
        return Err(StateSpaceError::NonFiniteStatistics);
    }
    let (b, d) = model.inputs_ref().augmented();
    let mut step = Step {
        options,
        parameters: model.parameters(),
        b,
        d,
        diagnostics: StepDiagnostics::default(),
    };
    let learn = options.learn;
    let widths = [n, model.input_dim(), 1];
    let learns = |blocks: [Block; 3]| (0..3).any(|i| widths[i] > 0 && blocks[i].learned(options));
    let (transition_cross, transition_gram) = stats.transition_regression();
    let transition = Regression {
        blocks: [
            Block::Param(Param::A),
            Block::Input(InputParam::B),
            Block::Input(InputParam::TransitionOffset),
        ],
        covariance: Param::Q,
        gram_name: Matrix::TransitionGram,
        structure: options.q_structure,
        count: stats.n_transitions,
        state_given: false,
        cross: transition_cross,
        gram: transition_gram,
    };
    if learns(transition.blocks) || learn.contains(Param::Q) {
        transition.check_time_varying(stats, options, widths)?;
        if stats.n_transitions == 0 {
            return Err(StateSpaceError::NoTransitions);
        }
        match (&stats.weighted_transition, &stats.given_transition) {
            (Some(weighted), _) => {
                step.weighted_regression(&transition, weighted, model.chol_q().inverse().as_ref())?
            }
            (None, Some(given)) => {
                let (second, target_u) = given.total(&stats.transition_moments(), model.a());
                let transition = transition.with_residual(target_u.as_ref());
                step.regression(&transition, || second)?;
            }
            (None, None) => step.regression(&transition, || stats.sigma())?,
        }
    }
    let (observation_cross, observation_gram) = stats.observation_regression();
    let observation = Regression {
        blocks: [
            Block::Param(Param::H),
            Block::Input(InputParam::D),
            Block::Input(InputParam::ObservationOffset),
        ],
        covariance: Param::R,
        gram_name: Matrix::StateGram,
        structure: options.r_structure,
        count: stats.n_observed_steps,
        state_given: false,
        cross: observation_cross,
        gram: observation_gram,
    };
    if learns(observation.blocks) || learn.contains(Param::R) {
        observation.check_time_varying(stats, options, widths)?;
        if stats.n_observed_steps == 0 {
            return Err(StateSpaceError::NoObservedValues);
        }
        match (&stats.weighted_observation, &stats.given_observation) {
            (Some(weighted), _) => {
                step.weighted_regression(&observation, weighted, model.chol_r().inverse().as_ref())?
            }
            (None, Some(given)) => {
                let (second, target_u) = given.total(&stats.observation_moments(), model.h());
                let observation = observation.with_residual(target_u.as_ref());
                step.regression(&observation, || second)?;
            }
            (None, None) => step.regression(&observation, || stats.sum_yy.clone())?,
        }
    }
    if learn.contains(Param::M0) || learn.contains(Param::P0) {
        step.initial_state(stats)?;
    }
    let Step {
        parameters,
        b,
        d,
        diagnostics,
        ..
    } = step;
    let model = LinearGaussianSsm::from_parameters(parameters)?
        .with_inputs(InputParameters::from_augmented(b.as_ref(), d.as_ref()))?
        .with_inference(model.inference());
    Ok((model, diagnostics))
}

/// A coefficient block of a regression: a parameter or an input block.
#[derive(Debug, Clone, Copy)]
enum Block {
    Param(Param),
    Input(InputParam),
}

impl Block {
    fn learned(self, options: &MStepOptions) -> bool {
        match self {
            Self::Param(param) => options.learn.contains(param),
            Self::Input(input) => options.learn_inputs.contains(input),
        }
    }

    fn matrix(self) -> Matrix {
        match self {
            Self::Param(param) => param.into(),
            Self::Input(input) => input.into(),
        }
    }
}

impl Regression {
    /// The regression of the residual `z_k = target − K_k state` on `ũ_k`
    /// alone, for a state coefficient given per step (see
    /// [`super::residual`]): `target_u` is `Σ E[z_k] ũ_kᵀ`, and the state
    /// block drops out.
    fn with_residual(self, target_u: MatRef<'_, f64>) -> Self {
        let n = self.cross.ncols() - target_u.ncols();
        Self {
            state_given: true,
            cross: join_columns(self.cross.subcols(0, n), target_u),
            ..self
        }
    }

    /// Refuses a learned block of this regression when the statistics come
    /// from time-varying matrices of it ([`check_learnable`]); `widths` are
    /// the widths of the coefficient blocks (a block of width 0 is not
    /// learned).
    fn check_time_varying(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
        widths: [usize; 3],
    ) -> Result<()> {
        let learned: Vec<Matrix> = self
            .blocks
            .iter()
            .zip(widths)
            .filter(|&(block, width)| width > 0 && block.learned(options))
            .map(|(block, _)| block.matrix())
            .chain(
                options
                    .learn
                    .contains(self.covariance)
                    .then_some(self.covariance.into()),
            )
            .collect();
        let coefficient = if self.covariance == Param::Q {
            Param::A
        } else {
            Param::H
        };
        check_learnable(stats.time_varying(), &learned, (coefficient, self.covariance))
    }
}

/// `[X Y]`: the columns of `x` then those of `y`.
pub(super) fn join_columns(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Mat<f64> {
    let nx = x.ncols();
    Mat::from_fn(x.nrows(), nx + y.ncols(), |i, j| {
        if j < nx { x[(i, j)] } else { y[(i, j - nx)] }
    })
}

/// The symmetric `[[G, X], [Xᵀ, U]]`.
pub(super) fn join_gram(g: MatRef<'_, f64>, x: MatRef<'_, f64>, u: MatRef<'_, f64>) -> Mat<f64> {
    let n = g.nrows();
    Mat::from_fn(n + u.nrows(), n + u.nrows(), |i, j| match (i < n, j < n) {
        (true, true) => g[(i, j)],
        (true, false) => x[(i, j - n)],
        (false, true) => x[(j, i - n)],
        (false, false) => u[(i - n, j - n)],
    })
}

/// `m` restricted to the rows `rows` and the columns `cols`.
fn select(m: MatRef<'_, f64>, rows: &[usize], cols: &[usize]) -> Mat<f64> {
    Mat::from_fn(rows.len(), cols.len(), |i, j| m[(rows[i], cols[j])])
}

/// One of the two regressions of the model,
/// `target = X z + noise`, noise `N(0, V)`, with the regressor
/// `z = [state; u; 1]` and `X = [coefficient, input matrix, offset]`: the
/// transition (`x_k` on `[x_{k-1}; u_k; 1]`: X = [A B b], V = Q) and the
/// observation (`y_k` on `[x_k; u_k; 1]`: X = [H D d], V = R). With the
/// cross moment `C = Σ E[target zᵀ]`, the Gram matrix `G = Σ E[z zᵀ]`, the
/// second moment `S` of the target and N terms, the learned columns L of X
/// given the fixed ones F are `X_L = (C_L − X_F G_FL) G_LL⁻¹`, and
/// `V = (S − X Cᵀ − C Xᵀ + X G Xᵀ)/N` (blocks of X that are zero and fixed
/// are left out of both: they add nothing).
struct Regression {
    /// The state, input and offset blocks of X, in column order.
    blocks: [Block; 3],
    covariance: Param,
    /// The name of `G` in errors.
    gram_name: Matrix,
    structure: CovStructure,
    count: usize,
    /// The state coefficient is given per step: the target is the residual
    /// and the state block is left out.
    state_given: bool,
    cross: Mat<f64>,
    gram: Mat<f64>,
}

impl Regression {
    /// The learned columns of X and the fixed ones that are not zero
    /// (`x` the current X, `n` the width of the state block).
    fn columns(&self, options: &MStepOptions, x: &Mat<f64>, n: usize) -> (Vec<usize>, Vec<usize>) {
        let q = x.ncols();
        let ranges = [0..n, n..q - 1, q - 1..q];
        let (mut learned, mut fixed) = (Vec::new(), Vec::new());
        for (i, (block, range)) in self.blocks.iter().zip(ranges).enumerate() {
            if range.is_empty() || (i == 0 && self.state_given) {
                continue;
            }
            if block.learned(options) {
                learned.extend(range);
            } else if range.clone().any(|j| (0..x.nrows()).any(|i| x[(i, j)] != 0.0)) {
                fixed.extend(range);
            }
        }
        (learned, fixed)
    }

    /// The state coefficient block, when learned (the block a floor of the
    /// Gram matrix is reported for).
    fn learned_coefficient(&self, options: &MStepOptions) -> Option<Param> {
        match self.blocks[0] {
            Block::Param(param) if options.learn.contains(param) => Some(param),
            _ => None,
        }
    }
}

/// The parameters being updated and what the M-step reports.
struct Step<'a> {
    options: &'a MStepOptions,
    parameters: Parameters,
    /// `[B b]` and `[D d]`.
    b: Mat<f64>,
    d: Mat<f64>,
    diagnostics: StepDiagnostics,
}

impl Step<'_> {
    /// The learned blocks of a regression (`second` computes `S`, needed
    /// only for V). V uses the new X if X is learned.
    fn regression(&mut self, r: &Regression, second: impl FnOnce() -> Mat<f64>) -> Result<()> {
        let options = self.options;
        let (coefficient, inputs, covariance) = match r.covariance {
            Param::Q => (&mut self.parameters.a, &mut self.b, &mut self.parameters.q),
            Param::R => (&mut self.parameters.h, &mut self.d, &mut self.parameters.r),
            other => unreachable!("{other} is not the covariance of a regression"),
        };
        let mut x = join_columns(coefficient.as_ref(), inputs.as_ref());
        let (n, m) = (coefficient.ncols(), inputs.ncols() - 1);
        let (learned, fixed) = r.columns(options, &x, n);
        let rows: Vec<usize> = (0..x.nrows()).collect();
        if !learned.is_empty() {
            let mut rhs = select(r.cross.as_ref(), &rows, &learned);
            if !fixed.is_empty() {
                let x_fixed = select(x.as_ref(), &rows, &fixed);
                rhs -= x_fixed * select(r.gram.as_ref(), &fixed, &learned);
            }
            let gram = select(r.gram.as_ref(), &learned, &learned);
            let solved = solve_gram_right(
                rhs.as_ref(),
                gram.as_ref(),
                r.gram_name,
                r.learned_coefficient(options),
                &mut self.diagnostics,
            )?;
            for (c, &j) in learned.iter().enumerate() {
                for i in 0..x.nrows() {
                    x[(i, j)] = solved[(i, c)];
                }
            }
            *coefficient = x.subcols(0, n).to_owned();
            *inputs = x.subcols(n, m + 1).to_owned();
        }
        if options.learn.contains(r.covariance) {
            let mut active = learned;
            active.extend(fixed);
            active.sort_unstable();
            let m = quadratic_residual(
                second(),
                select(x.as_ref(), &rows, &active).as_ref(),
                select(r.cross.as_ref(), &rows, &active).as_ref(),
                select(r.gram.as_ref(), &active, &active).as_ref(),
            );
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

    /// The learned coefficient blocks of a regression whose covariance is
    /// given per step by some sequences (generalised least squares, see
    /// [`super::weighted`]); `v_inv` is the model's `V⁻¹`. The covariance
    /// itself is not learned (the caller checked).
    fn weighted_regression(
        &mut self,
        r: &Regression,
        sums: &WeightedSums,
        v_inv: MatRef<'_, f64>,
    ) -> Result<()> {
        let options = self.options;
        let (coefficient, inputs) = match r.covariance {
            Param::Q => (&mut self.parameters.a, &mut self.b),
            Param::R => (&mut self.parameters.h, &mut self.d),
            other => unreachable!("{other} is not the covariance of a regression"),
        };
        let mut x = join_columns(coefficient.as_ref(), inputs.as_ref());
        let n = coefficient.ncols();
        let (learned, fixed) = r.columns(options, &x, n);
        if learned.is_empty() {
            return Ok(());
        }
        let (kron, rhs) = sums.system(r.gram.as_ref(), r.cross.as_ref(), v_inv);
        let block = r.learned_coefficient(options);
        let diagnostics = &mut self.diagnostics;
        solve_learned(
            kron.as_ref(),
            rhs.as_ref(),
            &mut x,
            (&learned, &fixed),
            |k| factor_gram(k, r.gram_name, block, diagnostics),
            gram_failed(r.gram_name),
        )?;
        *coefficient = x.subcols(0, n).to_owned();
        *inputs = x.subcols(n, x.ncols() - n).to_owned();
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

/// `C G⁻¹` through the Cholesky factor of the Gram matrix `G` (named
/// `gram_name` in errors; floored only if it does not factor, reported as a
/// floor of `block`, the coefficient whose update solves with it).
fn solve_gram_right(
    cross: MatRef<'_, f64>,
    gram: MatRef<'_, f64>,
    gram_name: Matrix,
    block: Option<Param>,
    diagnostics: &mut StepDiagnostics,
) -> Result<Mat<f64>> {
    let chol = factor_gram(gram, gram_name, block, diagnostics)?;
    let mut xt = cross.transpose().to_owned();
    chol.solve_in_place(xt.as_mut()).map_err(gram_failed(gram_name))?;
    Ok(xt.transpose().to_owned())
}

/// The Cholesky factor of a Gram matrix (as [`solve_gram_right`]: floored
/// only if it does not factor).
fn factor_gram(
    gram: MatRef<'_, f64>,
    gram_name: Matrix,
    block: Option<Param>,
    diagnostics: &mut StepDiagnostics,
) -> Result<Cholesky> {
    let schedule = FloorSchedule {
        max_condition: f64::INFINITY,
        ..FloorSchedule::default()
    };
    let (chol, info) = Cholesky::with_floor(gram, &schedule).map_err(gram_failed(gram_name))?;
    if info.was_applied() {
        diagnostics.push(floored(block, info.jitter, info.attempts));
    }
    Ok(chol)
}

/// The error of a Gram matrix that cannot be factored.
fn gram_failed(gram_name: Matrix) -> impl Fn(linalg_kernels::KernelError) -> StateSpaceError {
    move |source| StateSpaceError::FloorFailed {
        matrix: gram_name,
        source,
    }
}

/// The event of a floor applied in the update of `block`.
fn floored(block: Option<Param>, jitter: f64, attempts: usize) -> Event<Param> {
    Event::new(block, Adjustment::Floored { jitter, attempts })
}

/// `S − X Cᵀ − C Xᵀ + X G Xᵀ`.
pub(super) fn quadratic_residual(
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
        diagnostics.push(floored(Some(which), info.jitter, info.attempts));
    }
    Ok(m)
}
