//! Forecasts: k-step-ahead predictions of the states and the observations
//! with their covariances, from the filtered moments of any step.
//!
//! From `m = m_{s|s}`, `P = P_{s|s}` of the origin s, for j = 1, ..., h:
//!
//! ```text
//! m_{s+j|s} = A m_{s+j-1|s} + B u_{s+j} + b,   P_{s+j|s} = A P_{s+j-1|s} Aᵀ + Q
//! ŷ_{s+j|s} = H m_{s+j|s} + D u_{s+j} + d,     S_{s+j|s} = H P_{s+j|s} Hᵀ + R
//! ```
//!
//! (each covariance symmetrised exactly): the moments of `x_{s+j}` and
//! `y_{s+j}` given the observations up to step s.

use faer::{Mat, MatRef};

use crate::error::{Result, StateSpaceError};
use crate::inference::FilterOutput;
use crate::model::LinearGaussianSsm;
use crate::model::inputs::{augmented_inputs, known_parts, validate_inputs};
use crate::model::validate::symmetrise;

/// The forecast of h steps from an origin s (see [`LinearGaussianSsm::forecast`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    origin: usize,
    state_means: Mat<f64>,
    state_covs: Vec<Mat<f64>>,
    observation_means: Mat<f64>,
    observation_covs: Vec<Mat<f64>>,
}

impl Forecast {
    /// The origin s: the last step whose observation the forecast uses.
    #[must_use]
    pub fn origin(&self) -> usize {
        self.origin
    }

    /// The horizon h (rows of the means).
    #[must_use]
    pub fn horizon(&self) -> usize {
        self.state_covs.len()
    }

    /// Predicted states, h x n: row j − 1 is `m_{s+j|s}`.
    #[must_use]
    pub fn state_means(&self) -> MatRef<'_, f64> {
        self.state_means.as_ref()
    }

    /// `P_{s+j|s}` (n x n) for `ahead` = j in 1..=h, `None` otherwise.
    #[must_use]
    pub fn state_cov(&self, ahead: usize) -> Option<MatRef<'_, f64>> {
        self.state_covs.get(ahead.checked_sub(1)?).map(Mat::as_ref)
    }

    /// Predicted observations, h x p: row j − 1 is `ŷ_{s+j|s}`.
    #[must_use]
    pub fn observation_means(&self) -> MatRef<'_, f64> {
        self.observation_means.as_ref()
    }

    /// `S_{s+j|s}` (p x p) for `ahead` = j in 1..=h, `None` otherwise.
    #[must_use]
    pub fn observation_cov(&self, ahead: usize) -> Option<MatRef<'_, f64>> {
        self.observation_covs.get(ahead.checked_sub(1)?).map(Mat::as_ref)
    }

    /// The variances of the predicted observations (diagonals of
    /// `S_{s+j|s}`), h x p: with the means, the prediction bands.
    #[must_use]
    pub fn observation_variances(&self) -> Mat<f64> {
        let p = self.observation_means.ncols();
        Mat::from_fn(self.horizon(), p, |j, i| self.observation_covs[j][(i, i)])
    }
}

impl LinearGaussianSsm {
    /// Forecasts `horizon` steps past step `origin` of `filtered` (a pass
    /// of this model's filter: [`Self::filter`] or
    /// [`Self::filter_with_inputs`]), with the inputs of the forecast steps
    /// (`horizon` x m, row j − 1 is `u_{origin+j}`; `None` for a model
    /// without inputs). The formulas are in [`Forecast`]'s module
    /// documentation; `origin = filtered.len() − 1` forecasts past the end.
    ///
    /// # Errors
    /// [`StateSpaceError::InvalidOption`] for a horizon of 0 or a filter
    /// output of other dimensions; [`StateSpaceError::ForecastOrigin`] for
    /// an origin past the end; bad inputs as [`Self::filter_with_inputs`]
    /// (steps counted from the first forecast step);
    /// [`StateSpaceError::Diverged`] naming the step whose moments overflow.
    pub fn forecast(
        &self,
        filtered: &FilterOutput,
        origin: usize,
        horizon: usize,
        inputs: Option<MatRef<'_, f64>>,
    ) -> Result<Forecast> {
        let (n, p) = (self.state_dim(), self.obs_dim());
        if horizon == 0 {
            return Err(StateSpaceError::InvalidOption {
                option: "horizon",
                requirement: "must be at least 1",
            });
        }
        if filtered.filtered_means().ncols() != n || filtered.observation_dim() != p {
            return Err(StateSpaceError::InvalidOption {
                option: "filter output",
                requirement: "must come from a model of the same dimensions",
            });
        }
        let steps = filtered.len();
        let start = filtered
            .filtered_cov(origin)
            .ok_or(StateSpaceError::ForecastOrigin { origin, steps })?;
        validate_inputs(0, horizon, self.input_dim(), inputs)?;
        let known = augmented_inputs(inputs, horizon);
        let (b, d) = self.inputs_ref().augmented();
        let drift = known_parts(b.as_ref(), known.as_ref());
        let offsets = known_parts(d.as_ref(), known.as_ref());
        let (a, h) = (self.a(), self.h());
        let mut m = Mat::from_fn(n, 1, |i, _| filtered.filtered_means()[(origin, i)]);
        let mut cov = start;
        let mut forecast = Forecast {
            origin,
            state_means: Mat::zeros(horizon, n),
            state_covs: Vec::with_capacity(horizon),
            observation_means: Mat::zeros(horizon, p),
            observation_covs: Vec::with_capacity(horizon),
        };
        for j in 0..horizon {
            m = a * &m + drift.row(j).transpose().as_mat();
            cov = a * &cov * a.transpose() + self.q();
            symmetrise(&mut cov);
            let y = h * &m + offsets.row(j).transpose().as_mat();
            let mut s = h * &cov * h.transpose() + self.r();
            symmetrise(&mut s);
            let finite =
                |x: MatRef<'_, f64>| (0..x.ncols()).all(|c| (0..x.nrows()).all(|r| x[(r, c)].is_finite()));
            if !(finite(m.as_ref()) && finite(cov.as_ref()) && finite(y.as_ref()) && finite(s.as_ref())) {
                return Err(StateSpaceError::Diverged {
                    sequence: 0,
                    step: origin + j + 1,
                });
            }
            for i in 0..n {
                forecast.state_means[(j, i)] = m[(i, 0)];
            }
            for i in 0..p {
                forecast.observation_means[(j, i)] = y[(i, 0)];
            }
            forecast.state_covs.push(cov.clone());
            forecast.observation_covs.push(s);
        }
        Ok(forecast)
    }
}
