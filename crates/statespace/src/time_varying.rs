//! Time-varying matrices: `A_k`, `Q_k`, `H_k`, `R_k` given per step of one
//! sequence.
//!
//! ```text
//! x_k = A_k x_{k-1} + B u_k + b + w_k,  w_k ~ N(0, Q_k),  k = 1, ..., T-1
//! y_k = H_k x_k + D u_k + d + v_k,      v_k ~ N(0, R_k),  k = 0, ..., T-1
//! ```
//!
//! # Design
//! - The matrices are data of one sequence, not parameters: a
//!   [`TimeVarying`] is attached to a [`crate::Sequence`] as its inputs are
//!   ([`crate::Sequence::with_time_varying`]). Any subset of the four
//!   blocks may be given; a block not given is the model's at every step.
//!   Conventions are pykalman's: `A` and `Q` hold the T − 1 transitions
//!   (entry i maps `x_i` to `x_{i+1}`), `H` and `R` the T observations
//!   (entry k is step k's).
//! - Everything is checked once per sequence, before any recursion runs
//!   ([`StepMatrices::new`]): the number of matrices, then per matrix its
//!   shape, finiteness, and for `Q_k`, `R_k` symmetry and positive
//!   definiteness (Cholesky), by the model's own checks. The error
//!   ([`StateSpaceError::TimeVaryingMatrix`]) names the sequence, the time
//!   step the matrix acts at and (inside) the block.
//! - The recursions take the parameters of step k from a
//!   `kalman::StepModels`: the model itself (every step the same, the
//!   invariant path, compiled as before: no branch is added to its loop), or
//!   one padded copy of the parameters per step (`kalman::PerStep`, built
//!   here: O(T (n² + np + p²)) memory). The filter, the smoother, the
//!   log-likelihood, the innovations and the E-step run the same code on
//!   either.
//! - The steady-state option switches itself off on a sequence with
//!   time-varying matrices (the Riccati recursion has no fixed point when
//!   the matrices change from step to step): such a sequence always runs the
//!   exact recursion.
//! - EM: the E-step's sums of smoothed moments are the same whatever the
//!   matrices (the smoother conditions with the per-step ones). A block
//!   given as time-varying cannot be learned
//!   ([`StateSpaceError::TimeVaryingLearned`]). With the coefficient of a
//!   regression given per step (`A_k` for the transition `[A B b]` with
//!   `Q`, `H_k` for the observation `[H D d]` with `R`), EM learns the rest
//!   of it: the E-step of such a sequence also sums the moments of the
//!   residual `x_k − A_k x_{k−1}` (or `y_k − H_k x_k`), and the M-step
//!   regresses the residual on the inputs (see [`crate::em`]); a sequence
//!   without per-step matrices pays nothing. With the covariance of a
//!   regression given per step (`Q_k` or `R_k`), EM learns its coefficient
//!   blocks by least squares weighted by `Q_k⁻¹` (or `R_k⁻¹`), one linear
//!   system in every learned coefficient at once, whose sums such a
//!   sequence accumulates per step in its E-step (see [`crate::em`]). With
//!   both the coefficient and the covariance of a regression given, its
//!   input blocks are not learned
//!   ([`StateSpaceError::TimeVaryingCombination`]). So: with `A_k` given,
//!   EM learns `Q`, `B`, `b` and the observation; with `H_k`, `R`, `D`,
//!   `d` and the transition; with `Q_k`, `A`, `B`, `b` and the observation;
//!   with `R_k`, `H`, `D`, `d` and the transition; `m0`, `P0` always.
//! - Sampling ([`crate::LinearGaussianSsm::sample_time_varying`]) draws
//!   with the per-step matrices and their Cholesky factors from the check.
//! - The streaming filter, the fixed-lag smoother and forecasts past the
//!   end of a series use the model's matrices (no per-step matrices exist
//!   beyond the data).

use faer::{Mat, MatRef};
use linalg_kernels::Cholesky;

use crate::error::{Matrix, Result, StateSpaceError};
use crate::kalman::{Padded, PerStep};
use crate::model::LinearGaussianSsm;
use crate::model::validate::{check_finite, check_shape, symmetric_positive_definite};
use crate::param::{LearnSet, Param};

/// The time-varying matrices of one sequence of T steps (pykalman's
/// conventions): each block is either given for every step it acts at, or
/// not given (the model's is used at every step).
///
/// ```
/// use faer::{Mat, mat};
/// use statespace::{LinearGaussianSsm, Sequence, TimeVarying};
///
/// let model = LinearGaussianSsm::builder()
///     .a(mat![[0.9]].as_ref()).q(mat![[0.1]].as_ref())
///     .h(mat![[1.0]].as_ref()).r(mat![[0.5]].as_ref())
///     .m0(&[0.0]).p0(mat![[1.0]].as_ref())
///     .build()?;
/// let y = mat![[0.3], [0.1], [f64::NAN], [0.4]];
/// // A_k for the transitions into steps 1, 2, 3; R_k for the 4 observations.
/// let a: Vec<Mat<f64>> = (1..4).map(|k| mat![[0.5 + 0.1 * k as f64]]).collect();
/// let r: Vec<Mat<f64>> = (0..4).map(|k| mat![[0.2 + 0.1 * k as f64]]).collect();
/// let (a, r): (Vec<_>, Vec<_>) = (a.iter().map(Mat::as_ref).collect(), r.iter().map(Mat::as_ref).collect());
/// let matrices = TimeVarying { a: Some(&a), r: Some(&r), ..TimeVarying::default() };
/// let filtered = model.filter_sequence(Sequence::new(y.as_ref()).with_time_varying(matrices))?;
/// assert!(filtered.log_likelihood().is_finite());
/// # Ok::<(), statespace::StateSpaceError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeVarying<'a> {
    /// `A_1, ..., A_{T-1}` (n x n each): entry i maps `x_i` to `x_{i+1}`.
    pub a: Option<&'a [MatRef<'a, f64>]>,
    /// `Q_1, ..., Q_{T-1}` (n x n, symmetric positive definite), as `a`.
    pub q: Option<&'a [MatRef<'a, f64>]>,
    /// `H_0, ..., H_{T-1}` (p x n each).
    pub h: Option<&'a [MatRef<'a, f64>]>,
    /// `R_0, ..., R_{T-1}` (p x p, symmetric positive definite).
    pub r: Option<&'a [MatRef<'a, f64>]>,
}

impl TimeVarying<'_> {
    /// The blocks given (a subset of `A`, `Q`, `H`, `R`).
    #[must_use]
    pub fn blocks(&self) -> LearnSet {
        [
            (Param::A, self.a),
            (Param::Q, self.q),
            (Param::H, self.h),
            (Param::R, self.r),
        ]
        .into_iter()
        .fold(LearnSet::none(), |set, (param, given)| {
            set.set(param, given.is_some())
        })
    }
}

/// The checked matrices of one sequence (`Q_k`, `R_k` exactly symmetrised
/// as the model's are, with their factors); the model's blocks at the
/// steps of the blocks not given.
#[derive(Debug, Clone)]
pub(crate) struct StepMatrices {
    given: LearnSet,
    /// `A_k` at index k − 1.
    a: Vec<Mat<f64>>,
    /// `Q_k` and its factor at index k − 1.
    q: Vec<(Mat<f64>, Cholesky)>,
    /// `H_k` at index k.
    h: Vec<Mat<f64>>,
    /// `R_k` and its factor at index k.
    r: Vec<(Mat<f64>, Cholesky)>,
}

impl StepMatrices {
    /// Checks the matrices of sequence `sequence` (T = `t` steps) against
    /// `model`; `None` when no block is given.
    pub fn new(
        model: &LinearGaussianSsm,
        matrices: &TimeVarying<'_>,
        sequence: usize,
        t: usize,
    ) -> Result<Option<Self>> {
        let given = matrices.blocks();
        if given.is_empty() {
            return Ok(None);
        }
        let (n, p) = (model.state_dim(), model.obs_dim());
        let transitions = t.saturating_sub(1);
        let a = checked(matrices.a, Param::A, sequence, transitions, 1, |m| {
            general(Param::A, n, n, m)
        })?;
        let q = checked(matrices.q, Param::Q, sequence, transitions, 1, |m| {
            covariance(Param::Q, n, m)
        })?;
        let h = checked(matrices.h, Param::H, sequence, t, 0, |m| {
            general(Param::H, p, n, m)
        })?;
        let r = checked(matrices.r, Param::R, sequence, t, 0, |m| {
            covariance(Param::R, p, m)
        })?;
        Ok(Some(Self { given, a, q, h, r }))
    }

    /// The blocks given as time-varying.
    pub fn given(&self) -> LearnSet {
        self.given
    }

    /// `A_k` (k ≥ 1).
    pub fn a<'m>(&'m self, model: &'m LinearGaussianSsm, k: usize) -> MatRef<'m, f64> {
        self.a.get(k - 1).map_or(model.a(), Mat::as_ref)
    }

    /// `Q_k` (k ≥ 1) and its factor.
    pub fn q<'m>(&'m self, model: &'m LinearGaussianSsm, k: usize) -> (MatRef<'m, f64>, &'m Cholesky) {
        self.q
            .get(k - 1)
            .map_or((model.q(), model.chol_q()), |(q, chol)| (q.as_ref(), chol))
    }

    /// `H_k`.
    pub fn h<'m>(&'m self, model: &'m LinearGaussianSsm, k: usize) -> MatRef<'m, f64> {
        self.h.get(k).map_or(model.h(), Mat::as_ref)
    }

    /// `R_k` and its factor.
    pub fn r<'m>(&'m self, model: &'m LinearGaussianSsm, k: usize) -> (MatRef<'m, f64>, &'m Cholesky) {
        self.r
            .get(k)
            .map_or((model.r(), model.chol_r()), |(r, chol)| (r.as_ref(), chol))
    }

    /// Whether `H_k` or `R_k` varies (the observation block of step k is
    /// not the model's).
    pub fn observation_varies(&self) -> bool {
        !self.h.is_empty() || !self.r.is_empty()
    }

    /// The padded parameters of every step (step 0's `A`, `Q` are the
    /// model's, never used).
    pub fn padded(&self, model: &LinearGaussianSsm, t: usize) -> PerStep {
        PerStep::new(
            (0..t)
                .map(|k| {
                    let (a, q) = if k == 0 {
                        (model.a(), model.q())
                    } else {
                        (self.a(model, k), self.q(model, k).0)
                    };
                    Padded::with_matrices(model, a, q, self.h(model, k), self.r(model, k).0)
                })
                .collect(),
        )
    }
}

/// The model's check of a matrix of `block` (`rows x cols`, finite).
fn general(block: Param, rows: usize, cols: usize, m: MatRef<'_, f64>) -> Result<Mat<f64>> {
    check_shape(block.into(), m, rows, cols)?;
    check_finite(block.into(), m)?;
    Ok(m.to_owned())
}

/// The model's check of a covariance of `block` (`dim x dim`, symmetric
/// positive definite): the exactly symmetrised matrix and its factor.
fn covariance(block: Param, dim: usize, m: MatRef<'_, f64>) -> Result<(Mat<f64>, Cholesky)> {
    check_shape(block.into(), m, dim, dim)?;
    symmetric_positive_definite(block.into(), m.to_owned())
}

/// The checked matrices of one block (empty when not given): `count` of
/// them, entry i acting at step `i + first`; `check` is the model's check
/// of one matrix, its error wrapped with the step.
fn checked<T>(
    given: Option<&[MatRef<'_, f64>]>,
    block: Param,
    sequence: usize,
    count: usize,
    first: usize,
    check: impl Fn(MatRef<'_, f64>) -> Result<T>,
) -> Result<Vec<T>> {
    let Some(matrices) = given else {
        return Ok(Vec::new());
    };
    if matrices.len() != count {
        return Err(StateSpaceError::TimeVaryingSteps {
            sequence,
            matrix: block,
            expected: count,
            found: matrices.len(),
        });
    }
    matrices
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            check(m).map_err(|error| StateSpaceError::TimeVaryingMatrix {
                sequence,
                step: i + first,
                error: Box::new(error),
            })
        })
        .collect()
}

/// The M-step's check of a regression against the time-varying blocks of
/// the data: `learned` the blocks of the regression asked for (its
/// coefficient blocks and covariance), `coefficient` and `covariance` the
/// regression's (`A` and `Q`, or `H` and `R`). A time-varying block is not
/// learned; with its coefficient time-varying, the other blocks learn (the
/// residual regression of [`crate::em`]); with its covariance
/// time-varying, the coefficient blocks learn (a least-squares fit
/// weighted by `Q_k⁻¹` or `R_k⁻¹`); with both time-varying (in the same
/// or in different sequences), none does.
pub(crate) fn check_learnable(
    varying: LearnSet,
    learned: &[Matrix],
    (coefficient, covariance): (Param, Param),
) -> Result<()> {
    for &matrix in learned {
        if let Matrix::Param(param) = matrix
            && varying.contains(param)
        {
            return Err(StateSpaceError::TimeVaryingLearned { matrix: param });
        }
    }
    match learned.first() {
        Some(&learned) if varying.contains(covariance) && varying.contains(coefficient) => {
            Err(StateSpaceError::TimeVaryingCombination {
                learned,
                varying: covariance,
            })
        }
        _ => Ok(()),
    }
}
