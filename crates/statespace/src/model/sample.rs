//! Sampling states and observations from the model.

use faer::{Mat, MatRef};
use rand::Rng;
use rand_distr::StandardNormal;

use super::LinearGaussianSsm;
use super::inputs::{augmented_inputs, validate_inputs};
use crate::error::{Result, StateSpaceError};
use crate::time_varying::{StepMatrices, TimeVarying};

impl LinearGaussianSsm {
    /// Draws one sequence of `t` steps: `(states (t x n), observations (t x p))`.
    ///
    /// `x_0 = m0 + L0 ε`, `x_k = A x_{k-1} + b + L_Q ε`,
    /// `y_k = H x_k + d + L_R ε` with `L Lᵀ` the Cholesky factors and ε
    /// standard normal, drawn in the order x_0, y_0, x_1, y_1, ... `t = 0`
    /// gives two empty matrices.
    ///
    /// # Errors
    /// [`StateSpaceError::SampleOverflow`] (sequence 0) naming the first step
    /// whose state or observation is not finite: an unstable `A` (spectral
    /// radius above 1) overflows after enough steps. Nothing non-finite is
    /// ever returned. [`StateSpaceError::MissingInputs`] for a model with
    /// inputs (use [`Self::sample_with_inputs`]).
    pub fn sample<G: Rng + ?Sized>(&self, t: usize, rng: &mut G) -> Result<(Mat<f64>, Mat<f64>)> {
        self.sample_sequence(0, t, None, None, rng)
    }

    /// Draws one sequence driven by the inputs `u` (T x m, one row per
    /// step): as [`Self::sample`] with `B u_k` added to the transition of
    /// step k ≥ 1 and `D u_k` to observation k.
    ///
    /// # Errors
    /// As [`Self::sample`]; bad inputs as [`Self::filter_with_inputs`].
    pub fn sample_with_inputs<G: Rng + ?Sized>(
        &self,
        u: MatRef<'_, f64>,
        rng: &mut G,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        self.sample_sequence(0, u.nrows(), Some(u), None, rng)
    }

    /// Draws one sequence of `t` steps with the time-varying matrices
    /// `matrices` (see [`TimeVarying`]: `A_k`, `Q_k` for the transition
    /// into step k, `H_k`, `R_k` for observation k; the model's for a block
    /// not given) and the inputs `u` (T x m, or none for a model without
    /// inputs): as [`Self::sample_with_inputs`] with `A_k`, `L_{Q_k}`,
    /// `H_k`, `L_{R_k}` in place of the model's.
    ///
    /// # Errors
    /// As [`Self::sample_with_inputs`], and bad time-varying matrices:
    /// [`StateSpaceError::TimeVaryingSteps`],
    /// [`StateSpaceError::TimeVaryingMatrix`] (checked before anything is
    /// drawn).
    pub fn sample_time_varying<G: Rng + ?Sized>(
        &self,
        t: usize,
        u: Option<MatRef<'_, f64>>,
        matrices: &TimeVarying<'_>,
        rng: &mut G,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        let matrices = StepMatrices::new(self, matrices, 0, t)?;
        self.sample_sequence(0, t, u, matrices.as_ref(), rng)
    }

    /// Draws one sequence per entry of `lengths` (in that order, from one RNG).
    ///
    /// # Errors
    /// As [`Self::sample`], naming the sequence.
    pub fn sample_sequences<G: Rng + ?Sized>(
        &self,
        lengths: &[usize],
        rng: &mut G,
    ) -> Result<Vec<(Mat<f64>, Mat<f64>)>> {
        lengths
            .iter()
            .enumerate()
            .map(|(s, &t)| self.sample_sequence(s, t, None, None, rng))
            .collect()
    }

    /// [`Self::sample_time_varying`] (inputs `u`, or none; checked
    /// time-varying matrices, or none) as sequence `sequence` (for the
    /// error).
    fn sample_sequence<G: Rng + ?Sized>(
        &self,
        sequence: usize,
        t: usize,
        u: Option<MatRef<'_, f64>>,
        matrices: Option<&StepMatrices>,
        rng: &mut G,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        validate_inputs(sequence, t, self.input_dim(), u)?;
        let inputs = augmented_inputs(u, t);
        let (b, d) = self.inputs_ref().augmented();
        let known = |coefficient: &Mat<f64>, k: usize, i: usize| -> f64 {
            (0..inputs.ncols())
                .map(|j| coefficient[(i, j)] * inputs[(k, j)])
                .sum()
        };
        let (n, p) = (self.state_dim(), self.obs_dim());
        let mut states = Mat::<f64>::zeros(t, n);
        let mut obs = Mat::<f64>::zeros(t, p);
        let mut x = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut eps_n = vec![0.0; n];
        let mut eps_p = vec![0.0; p];
        let mut noise = vec![0.0; p];
        let overflow = |step, what| StateSpaceError::SampleOverflow { sequence, step, what };
        for k in 0..t {
            eps_n.iter_mut().for_each(|e| *e = rng.sample(StandardNormal));
            if k == 0 {
                lower_times(self.chol_p0.factor(), &eps_n, &mut next);
                for i in 0..n {
                    x[i] = self.m0[i] + next[i];
                }
            } else {
                let (a, chol_q) = match matrices {
                    Some(m) => (m.a(self, k), m.q(self, k).1),
                    None => (self.a.as_ref(), &self.chol_q),
                };
                lower_times(chol_q.factor(), &eps_n, &mut next);
                for i in 0..n {
                    next[i] += (0..n).map(|j| a[(i, j)] * x[j]).sum::<f64>() + known(&b, k, i);
                }
                x.copy_from_slice(&next);
            }
            if !x.iter().all(|v| v.is_finite()) {
                return Err(overflow(k, "state"));
            }
            eps_p.iter_mut().for_each(|e| *e = rng.sample(StandardNormal));
            let (h, chol_r) = match matrices {
                Some(m) => (m.h(self, k), m.r(self, k).1),
                None => (self.h.as_ref(), &self.chol_r),
            };
            lower_times(chol_r.factor(), &eps_p, &mut noise);
            for i in 0..p {
                noise[i] += (0..n).map(|j| h[(i, j)] * x[j]).sum::<f64>() + known(&d, k, i);
            }
            if !noise.iter().all(|v| v.is_finite()) {
                return Err(overflow(k, "observation"));
            }
            for i in 0..p {
                obs[(k, i)] = noise[i];
            }
            for i in 0..n {
                states[(k, i)] = x[i];
            }
        }
        Ok((states, obs))
    }
}

/// `out = L x` for a lower-triangular factor.
fn lower_times(l: MatRef<'_, f64>, x: &[f64], out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = (0..=i).map(|j| l[(i, j)] * x[j]).sum();
    }
}
