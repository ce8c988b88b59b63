//! Fixed-lag smoothing on a stream: [`FixedLagSmoother`] gives, after
//! observation k, the smoothed moments of step `k − L` given `y_0..y_k`.
//!
//! It runs a [`StreamingFilter`] and keeps the filtered moments of the last
//! L + 1 steps, each with the prediction from the step before it and the
//! smoother gain, formed once when the step arrives (they do not depend on
//! later observations); after each step it runs the Rauch-Tung-Striebel
//! recursion back over them, from `m_{k|k}`, `P_{k|k}`:
//!
//! ```text
//! m_{j+1|j} = A m_{j|j} + B u_{j+1} + b,   P_{j+1|j} = A P_{j|j} Aᵀ + Q
//! G_j = P_{j|j} Aᵀ P_{j+1|j}⁻¹
//! m_{j|k} = m_{j|j} + G_j (m_{j+1|k} − m_{j+1|j})
//! P_{j|k} = P_{j|j} + G_j (P_{j+1|k} − P_{j+1|j}) G_jᵀ
//! ```
//!
//! for `j = k−1, ..., k−L`: the smoothed moments of the full smoother run
//! on `y_0..y_k` (one factorisation and O(L) matrix products per step).
//!
//! Its state ([`LaggedState`]: the filter's, and the window's filtered
//! moments with the drift `B u_{j+1} + b` of each step's transition) can be
//! saved and resumed: the predictions and gains are formed again from them,
//! by the same operations, so a resumed smoother gives the uninterrupted
//! one's results bit for bit.

use std::collections::VecDeque;

use faer::{Mat, MatRef};
use linalg_kernels::{Cholesky, KernelError};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StateSpaceError};
use crate::model::LinearGaussianSsm;
use crate::model::validate::symmetrise;
use crate::streaming::{FilterState, StreamingFilter, check_moments};

/// The smoothed moments of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Smoothed {
    /// The step (from 0).
    pub step: usize,
    /// `m_{step|k}` (n).
    pub mean: Vec<f64>,
    /// `P_{step|k}` (n x n).
    pub covariance: Mat<f64>,
}

/// The filtered moments of one step, and how the step before it is
/// smoothed from it.
struct Filtered {
    mean: Mat<f64>,
    cov: Mat<f64>,
    /// `B u + b` of the transition into this step, n x 1 (none without a
    /// drift).
    drift: Option<Mat<f64>>,
    /// From the previous step j (none for the first step, or at lag 0).
    from_previous: Option<Result<Backward>>,
}

/// The state of a [`FixedLagSmoother`] after some steps: what resuming it
/// needs (serde-serialisable, e.g. to JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaggedState {
    /// The lag L.
    pub lag: usize,
    /// The filter's state.
    pub filter: FilterState,
    /// The filtered moments of the last (at most L + 1) steps, oldest
    /// first; the newest is the filter's last step.
    pub window: Vec<WindowStep>,
}

/// One step of a [`LaggedState`]'s window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowStep {
    /// `m_{j|j}` (n values).
    pub mean: Vec<f64>,
    /// `P_{j|j}`, n rows of n values.
    pub covariance: Vec<Vec<f64>>,
    /// `B u_j + b` of the transition into step j, if the transitions have
    /// a drift (`[B b]` not zero).
    pub drift: Option<Vec<f64>>,
}

/// The backward step from step j + 1 to step j: the prediction
/// `m_{j+1|j}`, `P_{j+1|j}` and the gain `G_j = P_{j|j} Aᵀ P_{j+1|j}⁻¹`.
struct Backward {
    predicted_mean: Mat<f64>,
    predicted_cov: Mat<f64>,
    gain: Mat<f64>,
}

/// A streaming filter that also smooths at a fixed lag L.
///
/// ```
/// use faer::mat;
/// use statespace::{FixedLagSmoother, LinearGaussianSsm};
///
/// let model = LinearGaussianSsm::builder()
///     .a(mat![[1.0]].as_ref()).q(mat![[0.5]].as_ref())
///     .h(mat![[1.0]].as_ref()).r(mat![[2.0]].as_ref())
///     .m0(&[0.0]).p0(mat![[1.0]].as_ref())
///     .build()?;
/// let mut smoother = FixedLagSmoother::new(&model, 2);
/// assert!(smoother.update(&[0.3], None)?.is_none());
/// assert!(smoother.update(&[0.1], None)?.is_none());
/// let first = smoother.update(&[0.7], None)?.expect("step 0 given three observations");
/// assert_eq!(first.step, 0);
/// # Ok::<(), statespace::StateSpaceError>(())
/// ```
pub struct FixedLagSmoother {
    filter: StreamingFilter,
    a: Mat<f64>,
    q: Mat<f64>,
    lag: usize,
    /// The last `lag + 1` steps, oldest first.
    window: VecDeque<Filtered>,
}

impl FixedLagSmoother {
    /// A smoother of `model` at lag `lag` (0: the filter itself), before its
    /// first observation.
    #[must_use]
    pub fn new(model: &LinearGaussianSsm, lag: usize) -> Self {
        Self {
            filter: StreamingFilter::new(model),
            a: model.a().to_owned(),
            q: model.q().to_owned(),
            lag,
            window: VecDeque::with_capacity(lag.saturating_add(1).min(1 << 16)),
        }
    }

    /// The lag L.
    #[must_use]
    pub fn lag(&self) -> usize {
        self.lag
    }

    /// The filter underneath (its filtered moments and log-likelihood).
    #[must_use]
    pub fn filter(&self) -> &StreamingFilter {
        &self.filter
    }

    /// Conditions on the next observation as [`StreamingFilter::update`];
    /// returns the smoothed moments of the step L steps back once there is
    /// one.
    ///
    /// # Errors
    /// As [`StreamingFilter::update`] (nothing changes), and
    /// [`StateSpaceError::PredictedNotPositiveDefinite`] when a predicted
    /// covariance of the window cannot be factored (the step is kept).
    pub fn update(&mut self, y: &[f64], u: Option<&[f64]>) -> Result<Option<Smoothed>> {
        self.filter.update(y, u)?;
        let drift = self.filter.last_drift().map(column);
        self.push(
            self.filter.step() - 1,
            column(self.filter.mean()),
            self.filter.covariance(),
            drift,
        );
        if self.window.len() <= self.lag {
            return Ok(None);
        }
        self.smooth_back().map(Some)
    }

    /// Adds the filtered moments of step `step` (from 0; its transition's
    /// `drift`) to the window, with the backward step to the step before.
    fn push(&mut self, step: usize, mean: Mat<f64>, cov: Mat<f64>, drift: Option<Mat<f64>>) {
        let from_previous = match self.window.back() {
            Some(previous) if self.lag > 0 => Some(self.backward(previous, drift.as_ref(), step)),
            _ => None,
        };
        if self.window.len() > self.lag {
            self.window.pop_front();
        }
        self.window.push_back(Filtered {
            mean,
            cov,
            drift,
            from_previous,
        });
    }

    /// The state to resume from ([`Self::resume`]).
    #[must_use]
    pub fn state(&self) -> LaggedState {
        LaggedState {
            lag: self.lag,
            filter: self.filter.state(),
            window: self
                .window
                .iter()
                .map(|f| WindowStep {
                    mean: column_values(f.mean.as_ref()),
                    covariance: (0..f.cov.nrows())
                        .map(|i| (0..f.cov.ncols()).map(|j| f.cov[(i, j)]).collect())
                        .collect(),
                    drift: f.drift.as_ref().map(|d| column_values(d.as_ref())),
                })
                .collect(),
        }
    }

    /// The smoother of `model` at `state.lag` that goes on from a saved
    /// state, as if it had not stopped.
    ///
    /// # Errors
    /// As [`StreamingFilter::resume`]; [`StateSpaceError::FilterState`] for
    /// a window longer than L + 1 steps or than the steps taken, a window
    /// step whose moments do not fit the model (field `window.mean`,
    /// `window.covariance`) or whose drift is missing, present without a
    /// drift (`[B b]` zero), of another length or not finite (`window.drift`),
    /// and a newest step other than the filter's.
    pub fn resume(model: &LinearGaussianSsm, state: &LaggedState) -> Result<Self> {
        let invalid = |field, requirement| StateSpaceError::FilterState { field, requirement };
        let mut smoother = Self::new(model, state.lag);
        smoother.filter = StreamingFilter::resume(model, &state.filter)?;
        let steps = state.window.len();
        if steps > state.lag.saturating_add(1) || steps > state.filter.step {
            return Err(invalid(
                "window",
                "holds more steps than the lag (plus one) or than the steps taken",
            ));
        }
        let n = model.state_dim();
        let drifts = smoother.filter.has_drift();
        for step in &state.window {
            check_moments(&step.mean, &step.covariance, n).map_err(|(field, requirement)| {
                invalid(
                    if field == "mean" {
                        "window.mean"
                    } else {
                        "window.covariance"
                    },
                    requirement,
                )
            })?;
            let drift_fits = match &step.drift {
                Some(d) => drifts && d.len() == n && d.iter().all(|v| v.is_finite()),
                None => !drifts,
            };
            if !drift_fits {
                return Err(invalid(
                    "window.drift",
                    "must be n finite values when the transitions have a drift (B u + b), and absent without",
                ));
            }
        }
        if let Some(newest) = state.window.last()
            && (newest.mean != state.filter.mean || newest.covariance != state.filter.covariance)
        {
            return Err(invalid("window", "must end with the filter's last step"));
        }
        let first = state.filter.step - steps;
        for (j, step) in state.window.iter().enumerate() {
            let cov = Mat::from_fn(n, n, |r, c| step.covariance[r][c]);
            smoother.push(
                first + j,
                column(&step.mean),
                cov,
                step.drift.as_deref().map(column),
            );
        }
        Ok(smoother)
    }

    /// The prediction of step `step` from the filtered moments of the step
    /// before it, `previous`, with the drift of its transition, and the gain.
    fn backward(&self, previous: &Filtered, drift: Option<&Mat<f64>>, step: usize) -> Result<Backward> {
        let a_p = &self.a * &previous.cov;
        let mut predicted_cov = &a_p * self.a.transpose() + &self.q;
        symmetrise(&mut predicted_cov);
        let mut predicted_mean = &self.a * &previous.mean;
        if let Some(c) = drift {
            predicted_mean += c;
        }
        // Gᵀ = P_{j+1|j}⁻¹ A P_{j|j}.
        let factor = Cholesky::new(predicted_cov.as_ref()).map_err(|e| not_pd(e, step))?;
        let mut gain_t = a_p;
        factor
            .solve_in_place(gain_t.as_mut())
            .map_err(|e| not_pd(e, step))?;
        Ok(Backward {
            predicted_mean,
            predicted_cov,
            gain: gain_t.transpose().to_owned(),
        })
    }

    /// The RTS recursion from the newest step of the window back to its
    /// oldest.
    fn smooth_back(&self) -> Result<Smoothed> {
        let newest = self.window.back().expect("a step was just pushed");
        let (mut mean, mut cov) = (newest.mean.clone(), newest.cov.clone());
        // Window entry j is step `first + j`.
        let first = self.filter.step() - self.window.len();
        for j in (0..self.window.len() - 1).rev() {
            let (this, next) = (&self.window[j], &self.window[j + 1]);
            let back = match &next.from_previous {
                Some(Ok(back)) => back,
                Some(Err(e)) => return Err(e.clone()),
                None => unreachable!("every step after the first of a lagged window has its backward step"),
            };
            let gain = back.gain.as_ref();
            mean = &this.mean + gain * (&mean - &back.predicted_mean);
            cov = &this.cov + gain * (&cov - &back.predicted_cov) * gain.transpose();
            symmetrise(&mut cov);
        }
        Ok(Smoothed {
            step: first,
            mean: column_values(mean.as_ref()),
            covariance: cov,
        })
    }
}

/// The predicted covariance of step `step` could not be factored.
fn not_pd(e: KernelError, step: usize) -> StateSpaceError {
    match e {
        KernelError::NotPositiveDefinite { pivot, .. } => StateSpaceError::PredictedNotPositiveDefinite {
            sequence: 0,
            step,
            pivot,
        },
        _ => StateSpaceError::Diverged { sequence: 0, step },
    }
}

/// `v` as an n x 1 matrix.
fn column(v: &[f64]) -> Mat<f64> {
    Mat::from_fn(v.len(), 1, |i, _| v[i])
}

fn column_values(m: MatRef<'_, f64>) -> Vec<f64> {
    (0..m.nrows()).map(|i| m[(i, 0)]).collect()
}
