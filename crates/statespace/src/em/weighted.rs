//! The update of a regression whose covariance is given per step (`Q_k`
//! for the transition `[A B b]`, `R_k` for the observation `[H D d]`):
//! generalised least squares.
//!
//! With the target `t_k` (d values), the regressor `z_k = [s_k; ũ_k]`
//! (q values: the state `s_k` and `ũ_k = [u_k; 1]`) and `X` the d x q
//! coefficients, the expected complete-data log-likelihood has the term
//! `−½ Σ_k E[(t_k − X z_k)ᵀ V_k⁻¹ (t_k − X z_k)]`. With `G_k = E[z_k z_kᵀ]`
//! and `C_k = E[t_k z_kᵀ]`, its gradient in X is
//! `Σ_k V_k⁻¹ (C_k − X G_k)`; in vec form (column-major) the maximiser
//! solves
//!
//! ```text
//! (Σ_k G_k ⊗ V_k⁻¹) vec(X) = vec(Σ_k V_k⁻¹ C_k)
//! ```
//!
//! one symmetric positive definite system of size d·q. Only the learned
//! columns L of X are unknowns; the fixed ones F move to the right-hand
//! side: `K_LL vec(X_L) = vec(R)_L − K_LF vec(X_F)` (K the matrix, R the
//! right-hand side above).
//!
//! A sequence with `V_k` given sums `Σ_k G_k ⊗ V_k⁻¹` and `Σ_k V_k⁻¹ C_k`
//! step by step in its E-step ([`WeightedStep`]), and keeps its usual sums
//! `Σ G_k`, `Σ C_k` next to them ([`WeightedSums`]). Every other sequence
//! has `V_k = V` (the model's): its part is `G ⊗ V⁻¹` and `V⁻¹ C` from the
//! usual sums, taken in the M-step as the totals less those of the
//! sequences with `V_k` ([`WeightedSums::system`]). A sequence without
//! per-step covariances pays nothing.
//!
//! The moments of one step, from the smoothed mean `m` and covariance `P`
//! of the state and the target's mean `t̄` and covariance with the state
//! `Cov(t, s)`:
//!
//! ```text
//! G_k = [[P + m mᵀ, m ũᵀ], [ũ mᵀ, ũ ũᵀ]],   C_k = [Cov(t, s) + t̄ mᵀ, t̄ ũᵀ]
//! ```
//!
//! The transition: `t = x_{k+1}`, `s = x_k`, `Cov(t, s)` the lag-one
//! cross-covariance. The observation (steps with an observed value): `t`
//! the observation with its missing values at their expectation, `s = x_k`,
//! `Cov(t, s) = F̃ P` (zero but in the missing rows; see
//! [`super::missing`]).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use linalg_kernels::Cholesky;

use super::residual::padded;
use crate::model::LinearGaussianSsm;
use crate::model::validate::symmetrise;
use crate::param::Param;
use crate::time_varying::StepMatrices;

/// The sums of one regression over the sequences that give its covariance
/// per step.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct WeightedSums {
    /// `Σ_k G_k ⊗ V_k⁻¹` ((d q) x (d q)).
    pub kron: Mat<f64>,
    /// `Σ_k V_k⁻¹ C_k` (d x q).
    pub rhs: Mat<f64>,
    /// `Σ_k G_k` of the same sequences (q x q).
    pub gram: Mat<f64>,
    /// `Σ_k C_k` of the same sequences (d x q).
    pub cross: Mat<f64>,
}

impl WeightedSums {
    /// Zero sums for a target of `d` values and a regressor of `q`.
    pub fn zeros(d: usize, q: usize) -> Self {
        Self {
            kron: Mat::zeros(d * q, d * q),
            rhs: Mat::zeros(d, q),
            gram: Mat::zeros(q, q),
            cross: Mat::zeros(d, q),
        }
    }

    /// Every matrix, in the order of the flat form.
    pub fn matrices(&self) -> [&Mat<f64>; 4] {
        [&self.kron, &self.rhs, &self.gram, &self.cross]
    }

    /// Mutable views of the matrices of [`Self::matrices`].
    pub fn matrices_mut(&mut self) -> [&mut Mat<f64>; 4] {
        [&mut self.kron, &mut self.rhs, &mut self.gram, &mut self.cross]
    }

    pub fn add(&mut self, other: &Self) {
        self.kron += &other.kron;
        self.rhs += &other.rhs;
        self.gram += &other.gram;
        self.cross += &other.cross;
    }

    /// The system `(K, R)` of every sequence: these sums, plus
    /// `(G − G_V) ⊗ V⁻¹` and `V⁻¹ (C − C_V)` for the others, with
    /// `gram`, `cross` the usual sums of all the sequences and `v_inv` the
    /// model's `V⁻¹`.
    pub fn system(
        &self,
        gram: MatRef<'_, f64>,
        cross: MatRef<'_, f64>,
        v_inv: MatRef<'_, f64>,
    ) -> (Mat<f64>, Mat<f64>) {
        let mut kron = self.kron.clone();
        let others = gram - &self.gram;
        add_kron(&mut kron, others.as_ref(), v_inv);
        symmetrise(&mut kron);
        let rhs = &self.rhs + v_inv * (cross - &self.cross);
        (kron, rhs)
    }
}

/// `dst += g ⊗ w`: entry `(a d + i, b d + j)` gains `g[a, b] w[i, j]`
/// (d = `w.nrows()`; the column-major vec convention).
fn add_kron(dst: &mut Mat<f64>, g: MatRef<'_, f64>, w: MatRef<'_, f64>) {
    let d = w.nrows();
    for b in 0..g.ncols() {
        for a in 0..g.nrows() {
            let gab = g[(a, b)];
            for j in 0..d {
                for i in 0..d {
                    dst[(a * d + i, b * d + j)] += gab * w[(i, j)];
                }
            }
        }
    }
}

/// The step-by-step sums `Σ_k G_k ⊗ V_k⁻¹` and `Σ_k V_k⁻¹ C_k` of one
/// sequence, with the work matrices of one step (`z_k`, `G_k`, `C_k`,
/// `V_k⁻¹`), written over at every step rather than allocated.
pub(super) struct WeightedStep {
    kron: Mat<f64>,
    rhs: Mat<f64>,
    z: Mat<f64>,
    g: Mat<f64>,
    c: Mat<f64>,
    weight: Mat<f64>,
}

/// The moments of one step (see the module documentation).
pub(super) struct StepMoments<'a> {
    /// The factor of `V_k` (d x d), whose inverse weighs the step.
    pub weight: &'a Cholesky,
    /// `t̄` (d x 1).
    pub target: MatRef<'a, f64>,
    /// `m` (n x 1).
    pub mean: MatRef<'a, f64>,
    /// `P` (n x n).
    pub cov: MatRef<'a, f64>,
    /// `Cov(t, s)` (d x n; `None` when zero).
    pub target_state: Option<MatRef<'a, f64>>,
    /// `ũᵀ` (1 x (m+1)).
    pub u: MatRef<'a, f64>,
}

impl WeightedStep {
    /// Zero sums for a target of `d` values and a regressor of `q`.
    pub fn new(d: usize, q: usize) -> Self {
        Self {
            kron: Mat::zeros(d * q, d * q),
            rhs: Mat::zeros(d, q),
            z: Mat::zeros(q, 1),
            g: Mat::zeros(q, q),
            c: Mat::zeros(d, q),
            weight: Mat::zeros(d, d),
        }
    }

    /// Adds one step.
    pub fn add(&mut self, s: &StepMoments<'_>) {
        let n = s.mean.nrows();
        let Self {
            kron,
            rhs,
            z,
            g,
            c,
            weight,
        } = self;
        for i in 0..z.nrows() {
            z[(i, 0)] = if i < n { s.mean[(i, 0)] } else { s.u[(0, i - n)] };
        }
        for j in 0..g.ncols() {
            for i in 0..g.nrows() {
                g[(i, j)] = z[(i, 0)] * z[(j, 0)] + if i < n && j < n { s.cov[(i, j)] } else { 0.0 };
            }
        }
        for j in 0..c.ncols() {
            for i in 0..c.nrows() {
                c[(i, j)] = s.target[(i, 0)] * z[(j, 0)]
                    + s.target_state.filter(|_| j < n).map_or(0.0, |ts| ts[(i, j)]);
            }
        }
        s.weight.inverse_into(weight.as_mut());
        add_kron(kron, g.as_ref(), weight.as_ref());
        matmul(
            rhs.as_mut(),
            Accum::Add,
            weight.as_ref(),
            c.as_ref(),
            1.0,
            Par::Seq,
        );
    }

    /// The sums with the usual sums `gram`, `cross` of the sequence.
    pub fn finish(self, gram: Mat<f64>, cross: Mat<f64>) -> WeightedSums {
        WeightedSums {
            kron: self.kron,
            rhs: self.rhs,
            gram,
            cross,
        }
    }
}

/// The indices in `vec(X)` (X with d rows, column-major) of the columns
/// `cols`.
fn vec_indices(cols: &[usize], d: usize) -> Vec<usize> {
    cols.iter()
        .flat_map(|&c| (0..d).map(move |i| c * d + i))
        .collect()
}

/// Solves `K_LL vec(X_L) = vec(R)_L − K_LF vec(X_F)` for the learned
/// columns `learned` of `x` (d x q), the columns `fixed` kept; `factor`
/// factors `K_LL`.
pub(super) fn solve_learned<E>(
    kron: MatRef<'_, f64>,
    rhs: MatRef<'_, f64>,
    x: &mut Mat<f64>,
    (learned, fixed): (&[usize], &[usize]),
    factor: impl FnOnce(MatRef<'_, f64>) -> Result<linalg_kernels::Cholesky, E>,
    solve_failed: impl FnOnce(linalg_kernels::KernelError) -> E,
) -> Result<(), E> {
    let d = x.nrows();
    let (l, f) = (vec_indices(learned, d), vec_indices(fixed, d));
    let entry = |m: MatRef<'_, f64>, v: usize| m[(v % d, v / d)];
    let mut b = Mat::from_fn(l.len(), 1, |i, _| {
        entry(rhs, l[i])
            - f.iter()
                .map(|&j| kron[(l[i], j)] * entry(x.as_ref(), j))
                .sum::<f64>()
    });
    let k_ll = Mat::from_fn(l.len(), l.len(), |i, j| kron[(l[i], l[j])]);
    factor(k_ll.as_ref())?
        .solve_in_place(b.as_mut())
        .map_err(solve_failed)?;
    for (i, &v) in l.iter().enumerate() {
        x[(v % d, v / d)] = b[(i, 0)];
    }
    Ok(())
}

/// The weighted sums of one sequence that gives `Q_k` or `R_k`, fed step
/// by step by the backward pass (k = T−1 down to 0; the transition into
/// step k + 1 at step k), after [`super::missing::Missing`].
pub(super) struct WeightedVisits<'a> {
    model: &'a LinearGaussianSsm,
    matrices: &'a StepMatrices,
    /// The augmented inputs (T x (m+1)).
    u: MatRef<'a, f64>,
    ldn: usize,
    /// The transition's sums and `m_{k+1|T}` of the step visited last.
    pub transition: Option<(WeightedStep, Option<Mat<f64>>)>,
    /// The observation's sums.
    pub observation: Option<WeightedStep>,
}

impl<'a> WeightedVisits<'a> {
    /// `None` when the sequence gives neither `Q_k` nor `R_k`.
    pub fn new(
        model: &'a LinearGaussianSsm,
        matrices: Option<&'a StepMatrices>,
        u: MatRef<'a, f64>,
        ldn: usize,
    ) -> Option<Self> {
        let matrices = matrices?;
        let given = matrices.given();
        let (n, p, q) = (model.state_dim(), model.obs_dim(), model.state_dim() + u.ncols());
        let transition = given.contains(Param::Q).then(|| (WeightedStep::new(n, q), None));
        let observation = given.contains(Param::R).then(|| WeightedStep::new(p, q));
        (transition.is_some() || observation.is_some()).then_some(Self {
            model,
            matrices,
            u,
            ldn,
            transition,
            observation,
        })
    }

    /// Step k's smoothed mean `ms`, covariance `ps` and `cross`, the
    /// transposed `Cov(x_{k+1}, x_k)` (padded; `None` at the last step).
    pub fn visit_transition(&mut self, k: usize, ms: &[f64], ps: &[f64], cross: Option<&[f64]>) {
        let Some((sums, next)) = self.transition.as_mut() else {
            return;
        };
        let (n, ld) = (self.model.state_dim(), self.ldn);
        let m = MatRef::from_column_major_slice(&ms[..n], n, 1);
        if let (Some(cross), Some(m_next)) = (cross, next.as_ref()) {
            sums.add(&StepMoments {
                weight: self.matrices.q(self.model, k + 1).1,
                target: m_next.as_ref(),
                mean: m,
                cov: padded(ps, n, ld),
                target_state: Some(padded(cross, n, ld).transpose()),
                u: self.u.subrows(k + 1, 1),
            });
        }
        // One buffer for the whole pass.
        match next {
            Some(buffer) => buffer.copy_from(m),
            None => *next = Some(m.to_owned()),
        }
    }

    /// Step k (with an observed value): its expected observation `yhat`
    /// (1 x p), smoothed mean `ms` and covariance `ps` (padded), and the
    /// step's `F̃` when a value is missing.
    pub fn visit_observation(
        &mut self,
        k: usize,
        yhat: MatRef<'_, f64>,
        ms: &[f64],
        ps: &[f64],
        f: Option<MatRef<'_, f64>>,
    ) {
        let Some(sums) = self.observation.as_mut() else {
            return;
        };
        let n = self.model.state_dim();
        let cov = padded(ps, n, self.ldn);
        let target_state = f.map(|f| f * cov);
        sums.add(&StepMoments {
            weight: self.matrices.r(self.model, k).1,
            target: yhat.transpose(),
            mean: MatRef::from_column_major_slice(&ms[..n], n, 1),
            cov,
            target_state: target_state.as_ref().map(Mat::as_ref),
            u: self.u.subrows(k, 1),
        });
    }
}
