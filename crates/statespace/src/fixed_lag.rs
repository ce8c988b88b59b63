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

use std::collections::VecDeque;

use faer::{Mat, MatRef};
use linalg_kernels::{Cholesky, KernelError};

use crate::error::{Result, StateSpaceError};
use crate::model::LinearGaussianSsm;
use crate::model::validate::symmetrise;
use crate::streaming::StreamingFilter;

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
    /// From the previous step j (none for the first step, or at lag 0).
    from_previous: Option<Result<Backward>>,
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
        let column = |v: &[f64]| Mat::from_fn(v.len(), 1, |i, _| v[i]);
        let from_previous = match self.window.back() {
            Some(previous) if self.lag > 0 => {
                let drift = self.filter.last_drift().map(column);
                Some(self.backward(previous, drift, self.filter.step() - 1))
            }
            _ => None,
        };
        if self.window.len() > self.lag {
            self.window.pop_front();
        }
        self.window.push_back(Filtered {
            mean: column(self.filter.mean()),
            cov: self.filter.covariance(),
            from_previous,
        });
        if self.window.len() <= self.lag {
            return Ok(None);
        }
        self.smooth_back().map(Some)
    }

    /// The prediction of step `step` from the filtered moments of the step
    /// before it, `previous`, with the drift of its transition, and the gain.
    fn backward(&self, previous: &Filtered, drift: Option<Mat<f64>>, step: usize) -> Result<Backward> {
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

fn column_values(m: MatRef<'_, f64>) -> Vec<f64> {
    (0..m.nrows()).map(|i| m[(i, 0)]).collect()
}
