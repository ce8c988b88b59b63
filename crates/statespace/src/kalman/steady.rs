//! Detection of the steady state of a covariance recursion (the criterion
//! is documented on [`crate::InferenceOptions`]).

use crate::dense::max_abs_diff_lower;

/// Steady-state detector for a covariance recursion (see
/// [`crate::InferenceOptions`] for the criterion).
pub(crate) struct Detector {
    tol: f64,
    prev: Vec<f64>,
    have_prev: bool,
    prev_delta: Option<f64>,
}

impl Clone for Detector {
    fn clone(&self) -> Self {
        Self {
            prev: self.prev.clone(),
            ..*self
        }
    }

    /// Into the buffer of `self` (no allocation once it is sized).
    fn clone_from(&mut self, source: &Self) {
        self.prev.clone_from(&source.prev);
        (self.tol, self.have_prev, self.prev_delta) = (source.tol, source.have_prev, source.prev_delta);
    }
}

impl Detector {
    pub fn new(tol: f64, len: usize) -> Self {
        Self {
            tol,
            prev: vec![0.0; len],
            have_prev: false,
            prev_delta: None,
        }
    }

    pub fn reset(&mut self) {
        self.have_prev = false;
        self.prev_delta = None;
    }

    /// Feeds the covariance of a fully observed step; `chained` says that the
    /// previous step was fully observed too (so `cur` is the map of `prev`).
    pub fn observe(&mut self, n: usize, ld: usize, cur: &[f64], chained: bool) -> bool {
        let mut converged = false;
        if chained && self.have_prev {
            let (delta, scale) = max_abs_diff_lower(n, cur, &self.prev, ld);
            converged = is_converged(delta, self.prev_delta, scale, self.tol);
            self.prev_delta = Some(delta);
        } else {
            self.prev_delta = None;
        }
        self.prev.copy_from_slice(cur);
        self.have_prev = true;
        converged
    }
}

/// The convergence test of [`crate::InferenceOptions`].
pub(crate) fn is_converged(delta: f64, prev_delta: Option<f64>, scale: f64, tol: f64) -> bool {
    if !(scale > 0.0 && scale.is_finite()) {
        return false;
    }
    if delta <= 1000.0 * f64::EPSILON * scale {
        return true;
    }
    match prev_delta {
        Some(pd) if pd > 0.0 => {
            let r = delta / pd;
            r < 1.0 && delta * (r / (1.0 - r)).max(1.0) <= tol * scale
        }
        _ => false,
    }
}
