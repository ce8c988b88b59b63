//! One-step prediction errors (innovations) and their standardised form,
//! for model checking.
//!
//! For step k with observed coordinates O, given the observations before
//! it: `v_k = y_k − H m_{k|k-1} − D u_k − d` (on O) with covariance
//! `S_k = H P_{k|k-1} Hᵀ + R`, and the standardised residuals
//! `z_k = L_k⁻¹ v_k` with `S_k,OO = L_k L_kᵀ` (Cholesky, in the order of
//! the coordinates). Under the model the `z_k` are independent standard
//! normal vectors, so their autocorrelation, spread and tails check the fit;
//! `Σ_k −½ (|O| ln 2π + ln det S_k,OO + ‖z_k‖²)` is the log-likelihood.
//! With time-varying matrices, `H_k` and `R_k` replace `H` and `R`.

use faer::{Mat, MatRef};
use linalg_kernels::Cholesky;

use crate::error::Result;
use crate::kalman::innovation_error;
use crate::model::LinearGaussianSsm;
use crate::model::validate::symmetrise;
use crate::sequence::{Driven, Sequence};

/// The innovations of one sequence (see [`LinearGaussianSsm::innovations`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Innovations {
    errors: Mat<f64>,
    covariances: Vec<Mat<f64>>,
    standardised: Mat<f64>,
}

impl Innovations {
    /// The prediction errors `v_k`, T x p (NaN where y is missing).
    #[must_use]
    pub fn errors(&self) -> MatRef<'_, f64> {
        self.errors.as_ref()
    }

    /// `S_k = H P_{k|k-1} Hᵀ + R` (p x p), `None` past the end.
    #[must_use]
    pub fn covariance(&self, step: usize) -> Option<MatRef<'_, f64>> {
        self.covariances.get(step).map(Mat::as_ref)
    }

    /// The standardised residuals `z_k = L_k⁻¹ v_k`, T x p: entry j of row
    /// k belongs to the j-th coordinate of the step, in order (NaN where y
    /// is missing).
    #[must_use]
    pub fn standardised(&self) -> MatRef<'_, f64> {
        self.standardised.as_ref()
    }
}

impl LinearGaussianSsm {
    /// The innovations of one sequence (with or without inputs): runs the
    /// filter, then forms `v_k`, `S_k` and `z_k` of every step from its
    /// predicted moments (one replay of the covariance recursion in exact
    /// mode).
    ///
    /// # Errors
    /// As [`Self::filter_sequence`];
    /// [`crate::StateSpaceError::InnovationNotPositiveDefinite`] naming the step.
    pub fn innovations(&self, sequence: Sequence<'_>) -> Result<Innovations> {
        let filtered = self.filter_sequence(sequence)?;
        let driven = Driven::new(self, sequence, 0)?;
        let y = driven.conditioned();
        let (t, n, p) = (y.nrows(), self.state_dim(), self.obs_dim());
        let mut out = Innovations {
            errors: Mat::from_fn(t, p, |_, _| f64::NAN),
            covariances: Vec::with_capacity(t),
            standardised: Mat::from_fn(t, p, |_, _| f64::NAN),
        };
        let means = filtered.predicted_means();
        let ld = crate::dense::pad(n);
        let mut failure = None;
        filtered.for_each_predicted(0, t - 1, |k, pp| {
            if failure.is_some() {
                return;
            }
            let cov = MatRef::from_column_major_slice_with_stride(pp, n, n, ld);
            let (h, r) = match driven.matrices() {
                Some(m) => (m.h(self, k), m.r(self, k).0),
                None => (self.h(), self.r()),
            };
            let mut s = h * cov * h.transpose() + r;
            symmetrise(&mut s);
            let observed: Vec<usize> = (0..p).filter(|&j| !y[(k, j)].is_nan()).collect();
            let predicted = h * means.row(k).transpose();
            let mut v = Mat::from_fn(observed.len(), 1, |a, _| {
                y[(k, observed[a])] - predicted[observed[a]]
            });
            for (a, &j) in observed.iter().enumerate() {
                out.errors[(k, j)] = v[(a, 0)];
            }
            let block = Mat::from_fn(observed.len(), observed.len(), |a, b| {
                s[(observed[a], observed[b])]
            });
            out.covariances.push(s);
            if observed.is_empty() {
                return;
            }
            match Cholesky::new(block.as_ref()).and_then(|chol| chol.whiten_in_place(v.as_mut())) {
                Ok(()) => {
                    for (a, &j) in observed.iter().enumerate() {
                        out.standardised[(k, j)] = v[(a, 0)];
                    }
                }
                Err(e) => failure = Some(innovation_error(e, 0, k)),
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
