//! How the filter and the smoother run the covariance recursion: exact, or
//! with reuse of its steady state.

use crate::error::{Result, StateSpaceError};

/// Default tolerance of the steady-state detection, see [`InferenceOptions`].
pub const DEFAULT_STEADY_STATE_TOLERANCE: f64 = 1e-12;

/// How the filter and the smoother run the covariance (Riccati) recursion.
///
/// - [`InferenceOptions::exact`] (the default) runs the full recursion at
///   every step: O(n³) per step.
/// - [`InferenceOptions::steady_state`] detects that the recursion has
///   reached its fixed point and from then on reuses the converged
///   covariances and gain, so a step costs O(n²) (matrix-vector products).
///
/// # Steady-state detection
/// The model is time-invariant, so on a run of fully observed steps the
/// predicted covariance `P_{k|k-1}` converges to the fixed point of the
/// Riccati map, linearly with some rate `r < 1`. With
/// `Δ_k = max |P_{k|k-1} − P_{k-1|k-2}|` and `r_k = Δ_k / Δ_{k-1}`, the
/// remaining distance to the fixed point is estimated by the geometric tail
/// `Δ_k · max(1, r_k / (1 − r_k))`. Steady state is declared at the first
/// step where that estimate is at most `tolerance · max |P_{k|k-1}|`
/// (requires `r_k < 1`), or where `Δ_k` is at the rounding level
/// (`≤ 1000 ε · max |P_{k|k-1}|`). From the next step on the filter reuses
/// that step's predicted and filtered covariances, the Cholesky factor of the
/// innovation covariance and the gain. The smoother does the same for its
/// backward covariance recursion on the steady stretch (same estimate, same
/// tolerance). Covariances, means and the log-likelihood then agree with the
/// full recursion to about `tolerance` in relative terms (tested).
///
/// # Missing values
/// A step with any missing coordinate has a different update, which breaks
/// stationarity: that step is run in full from the steady predicted
/// covariance, and the full recursion resumes after it until convergence
/// is detected again.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InferenceOptions {
    steady_state_tolerance: Option<f64>,
}

impl InferenceOptions {
    /// The full recursion at every step (the default).
    #[must_use]
    pub fn exact() -> Self {
        Self {
            steady_state_tolerance: None,
        }
    }

    /// Steady-state reuse with [`DEFAULT_STEADY_STATE_TOLERANCE`].
    #[must_use]
    pub fn steady_state() -> Self {
        Self {
            steady_state_tolerance: Some(DEFAULT_STEADY_STATE_TOLERANCE),
        }
    }

    /// Steady-state reuse with a relative tolerance in `(0, 1e-3]`.
    ///
    /// # Errors
    /// [`StateSpaceError::InvalidOption`] for a tolerance outside that range.
    pub fn steady_state_with_tolerance(tolerance: f64) -> Result<Self> {
        if !(tolerance > 0.0 && tolerance <= 1e-3) {
            return Err(StateSpaceError::InvalidOption {
                option: "steady_state_tolerance",
                requirement: "must be in (0, 1e-3]",
            });
        }
        Ok(Self {
            steady_state_tolerance: Some(tolerance),
        })
    }

    /// The steady-state tolerance, `None` for the full recursion.
    #[must_use]
    pub fn steady_state_tolerance(&self) -> Option<f64> {
        self.steady_state_tolerance
    }
}
