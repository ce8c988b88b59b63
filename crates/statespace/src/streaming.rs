//! The Kalman filter one observation at a time (pykalman's
//! `filter_update`): [`StreamingFilter`], whose state can be saved and
//! resumed ([`FilterState`]).
//!
//! Each [`StreamingFilter::update`] runs one step of the batch filter's
//! forward pass (the same code on the same numbers):
//!
//! ```text
//! m_{k|k-1} = A m_{k-1|k-1} + B u_k + b,   P_{k|k-1} = A P_{k-1|k-1} Aᵀ + Q
//! v_k = y_k − H m_{k|k-1} − D u_k − d,      S_k = H P_{k|k-1} Hᵀ + R
//! m_{k|k} = m_{k|k-1} + P_{k|k-1} Hᵀ S_k⁻¹ v_k,
//! P_{k|k} = P_{k|k-1} − P_{k|k-1} Hᵀ S_k⁻¹ H P_{k|k-1}
//! ln p(y_k | y_0..y_{k-1}) = ln N(v_k; 0, S_k)
//! ```
//!
//! over the observed coordinates of `y_k` (NaN = missing; a step with none
//! observed only predicts), the first step an update of `N(m0, P0)`. Fed a
//! sequence step by step it gives the batch filter's
//! ([`LinearGaussianSsm::filter_sequence`]) means, covariances and
//! log-likelihood bit for bit without inputs or offsets (with them, to
//! rounding: the products `B u_k` are summed in another order), with the
//! steady-state option too ([`crate::InferenceOptions::steady_state`]:
//! O(n²) per step once the covariances settle).

use faer::{Mat, RowRef};
use linalg_kernels::isa::clear_upper_registers;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StateSpaceError};
use crate::kalman::{CovStore, ForwardPass, ForwardStore, Padded};
use crate::model::LinearGaussianSsm;
use crate::model::inputs::known_part;
use crate::sequence::nonzero;

/// A Kalman filter fed one observation at a time.
///
/// ```
/// use faer::mat;
/// use statespace::{LinearGaussianSsm, StreamingFilter};
///
/// let model = LinearGaussianSsm::builder()
///     .a(mat![[1.0]].as_ref()).q(mat![[0.5]].as_ref())
///     .h(mat![[1.0]].as_ref()).r(mat![[2.0]].as_ref())
///     .m0(&[0.0]).p0(mat![[1.0]].as_ref())
///     .build()?;
/// let mut filter = StreamingFilter::new(&model);
/// filter.update(&[0.3], None)?;
/// filter.update(&[f64::NAN], None)?; // missing: predicts only
/// let saved = filter.state();
/// let mut resumed = StreamingFilter::resume(&model, &saved)?;
/// assert_eq!(resumed.update(&[1.2], None)?, filter.update(&[1.2], None)?);
/// # Ok::<(), statespace::StateSpaceError>(())
/// ```
pub struct StreamingFilter {
    pm: Padded,
    pass: ForwardPass,
    /// Input dimension m.
    m: usize,
    /// `[B b]` (n x (m+1)) when not zero: the drift `B u_k + b`.
    drift_coefficients: Option<Mat<f64>>,
    /// `[D d]` (p x (m+1)) when not zero: the known part `D u_k + d` of `y_k`.
    offset_coefficients: Option<Mat<f64>>,
    /// Observations consumed.
    step: usize,
    /// The observation less its known part, the drift, and `[u_k; 1]`.
    shifted: Vec<f64>,
    drift: Vec<f64>,
    input: Vec<f64>,
}

/// The state of a [`StreamingFilter`] after some steps: what resuming it
/// needs (serde-serialisable, e.g. to JSON). A steady-state filter resumes
/// with the exact recursion until the covariances settle again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterState {
    /// Observations consumed.
    pub step: usize,
    /// `m_{k|k}` of the last step (n values; `m0` before the first step).
    pub mean: Vec<f64>,
    /// `P_{k|k}` of the last step, n rows of n values (`P0` before the
    /// first step).
    pub covariance: Vec<Vec<f64>>,
    /// `ln p(y_0, ..., y_k)`.
    pub log_likelihood: f64,
}

/// The largest step a resumed state may have (so that counting on never
/// overflows).
const MAX_STEP: usize = usize::MAX / 2;

impl StreamingFilter {
    /// A filter of `model` before its first observation (with the model's
    /// inference options).
    #[must_use]
    pub fn new(model: &LinearGaussianSsm) -> Self {
        let pm = Padded::new(model);
        let store = ForwardStore {
            means: false,
            filtered_covs: CovStore::Nothing,
        };
        let tol = model.inference().steady_state_tolerance();
        let pass = ForwardPass::new(&pm, 0, 0, tol, store);
        let (b, d) = model.inputs_ref().augmented();
        let (n, p, m) = (model.state_dim(), model.obs_dim(), model.input_dim());
        let mut filter = Self {
            pm,
            pass,
            m,
            drift_coefficients: nonzero(b),
            offset_coefficients: nonzero(d),
            step: 0,
            shifted: vec![0.0; p],
            drift: vec![0.0; n],
            input: vec![1.0; m + 1],
        };
        // Before the first step the state is the prior (the first step
        // updates it without a prediction).
        let (m0, p0) = (filter.pm.m0[..n].to_vec(), filter.pm.p0.clone());
        filter.pass.resume(&m0, &p0, 0.0);
        filter
    }

    /// Conditions on the observation `y` of the next step (p values, NaN for
    /// a missing one) with its inputs `u` (m values; `None` for a model
    /// without inputs); returns the filtered mean `m_{k|k}`.
    ///
    /// # Errors
    /// Bad input, naming the step: [`StateSpaceError::ObservationLength`],
    /// [`StateSpaceError::InfiniteObservation`],
    /// [`StateSpaceError::InputLength`], [`StateSpaceError::NonFiniteInput`];
    /// numerical failure as [`LinearGaussianSsm::filter`]. After an error
    /// the filter is as it was before the call.
    pub fn update(&mut self, y: &[f64], u: Option<&[f64]>) -> Result<&[f64]> {
        self.check(y, u)?;
        clear_upper_registers();
        let k = self.step;
        if let Some(u) = u {
            self.input[..self.m].copy_from_slice(u);
        }
        let input = RowRef::from_slice(&self.input);
        match &self.offset_coefficients {
            Some(d) => {
                known_part(d.as_ref(), input, &mut self.shifted);
                for (out, &value) in self.shifted.iter_mut().zip(y) {
                    *out = value - *out;
                }
            }
            None => self.shifted.copy_from_slice(y),
        }
        let drift = match &self.drift_coefficients {
            Some(b) => {
                known_part(b.as_ref(), input, &mut self.drift);
                Some(RowRef::from_slice(&self.drift))
            }
            None => None,
        };
        let y = RowRef::from_slice(&self.shifted);
        self.pass.step_or_undo(&self.pm, k, y, drift)?;
        self.step += 1;
        Ok(self.mean())
    }

    /// The checks of [`Self::update`], before anything changes.
    fn check(&self, y: &[f64], u: Option<&[f64]>) -> Result<()> {
        let step = self.step;
        if y.len() != self.pm.p {
            return Err(StateSpaceError::ObservationLength {
                step,
                expected: self.pm.p,
                found: y.len(),
            });
        }
        if let Some((coordinate, &value)) = y.iter().enumerate().find(|(_, v)| v.is_infinite()) {
            return Err(StateSpaceError::InfiniteObservation {
                sequence: 0,
                step,
                coordinate,
                value,
            });
        }
        let found = u.map_or(0, <[f64]>::len);
        if found != self.m {
            return Err(StateSpaceError::InputLength {
                step,
                expected: self.m,
                found,
            });
        }
        let bad = u.and_then(|u| u.iter().enumerate().find(|(_, v)| !v.is_finite()));
        if let Some((input, &value)) = bad {
            return Err(StateSpaceError::NonFiniteInput {
                sequence: 0,
                step,
                input,
                value,
            });
        }
        Ok(())
    }

    /// The drift `B u_k + b` of the last step (`None` when B and b are
    /// zero).
    /// Whether the transitions have a drift `B u + b` (`[B b]` not zero).
    pub(crate) fn has_drift(&self) -> bool {
        self.drift_coefficients.is_some()
    }

    pub(crate) fn last_drift(&self) -> Option<&[f64]> {
        self.drift_coefficients.as_ref().map(|_| &self.drift[..])
    }

    /// Observations consumed.
    #[must_use]
    pub fn step(&self) -> usize {
        self.step
    }

    /// The filtered mean `m_{k|k}` of the last step (`m0` before the first).
    #[must_use]
    pub fn mean(&self) -> &[f64] {
        self.pass.filtered_mean(self.pm.n)
    }

    /// The filtered covariance `P_{k|k}` of the last step (`P0` before the
    /// first).
    #[must_use]
    pub fn covariance(&self) -> Mat<f64> {
        let (cov, ld) = (self.pass.filtered_cov(), self.pm.ldn);
        Mat::from_fn(self.pm.n, self.pm.n, |i, j| cov[j * ld + i])
    }

    /// `ln p(y_0, ..., y_k)` of the observations so far.
    #[must_use]
    pub fn log_likelihood(&self) -> f64 {
        self.pass.log_likelihood()
    }

    /// Steps run from the steady state so far (0 with exact recursions).
    #[must_use]
    pub fn steady_state_steps(&self) -> usize {
        self.pass.steady_steps()
    }

    /// The state to save, for [`Self::resume`].
    #[must_use]
    pub fn state(&self) -> FilterState {
        let cov = self.covariance();
        FilterState {
            step: self.step,
            mean: self.mean().to_vec(),
            covariance: (0..cov.nrows())
                .map(|i| (0..cov.ncols()).map(|j| cov[(i, j)]).collect())
                .collect(),
            log_likelihood: self.log_likelihood(),
        }
    }

    /// The filter of `model` in a saved `state`; without the steady-state
    /// option it continues exactly as the filter that was saved.
    ///
    /// # Errors
    /// [`StateSpaceError::FilterState`] when the mean or the covariance do
    /// not have the model's state dimension, a value is not finite, the
    /// covariance is not symmetric, the step is beyond `usize::MAX / 2`, or
    /// a state before the first step is not the model's prior.
    pub fn resume(model: &LinearGaussianSsm, state: &FilterState) -> Result<Self> {
        let mut filter = Self::new(model);
        let n = filter.pm.n;
        let invalid = |field, requirement| StateSpaceError::FilterState { field, requirement };
        check_moments(&state.mean, &state.covariance, n)
            .map_err(|(field, requirement)| invalid(field, requirement))?;
        if !state.log_likelihood.is_finite() {
            return Err(invalid("log_likelihood", "is not finite"));
        }
        let c = &state.covariance;
        if state.step > MAX_STEP {
            return Err(invalid("step", "is too large to count on from"));
        }
        // Before the first step the filter starts from the model's prior.
        let prior = filter.state();
        if state.step == 0 && (state.mean != prior.mean || state.covariance != prior.covariance) {
            return Err(invalid(
                "mean",
                "and covariance before the first step must be the model's m0 and P0",
            ));
        }
        let ld = filter.pm.ldn;
        let mut cov = vec![0.0; ld * n];
        for (j, column) in cov.chunks_exact_mut(ld).enumerate() {
            for (i, v) in column[..n].iter_mut().enumerate() {
                *v = c[i][j];
            }
        }
        filter.pass.resume(&state.mean, &cov, state.log_likelihood);
        filter.step = state.step;
        Ok(filter)
    }
}

/// Checks saved moments against the state dimension n: a mean of n finite
/// values and a symmetric n x n covariance of finite values; the failed
/// field (`mean` or `covariance`) and what is wrong with it.
pub(crate) fn check_moments(
    mean: &[f64],
    covariance: &[Vec<f64>],
    n: usize,
) -> std::result::Result<(), (&'static str, &'static str)> {
    if mean.len() != n {
        return Err(("mean", "does not have the model's state dimension"));
    }
    if covariance.len() != n || covariance.iter().any(|row| row.len() != n) {
        return Err(("covariance", "is not n x n for the model's state dimension n"));
    }
    if !mean.iter().all(|v| v.is_finite()) {
        return Err(("mean", "has a value that is not finite"));
    }
    if !covariance.iter().flatten().all(|v| v.is_finite()) {
        return Err(("covariance", "has a value that is not finite"));
    }
    if (0..n).any(|i| (0..i).any(|j| covariance[i][j] != covariance[j][i])) {
        return Err(("covariance", "is not symmetric"));
    }
    Ok(())
}
