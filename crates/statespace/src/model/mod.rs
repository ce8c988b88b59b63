//! The model: its parameters, accessors and inference options. Building and
//! validation are in [`builder`] and [`validate`], sampling in [`sample`].

pub(crate) mod builder;
pub(crate) mod inference_options;
pub(crate) mod inputs;
mod sample;
pub(crate) mod validate;

use faer::{Mat, MatRef};
use linalg_kernels::Cholesky;

use inference_options::InferenceOptions;
use inputs::InputParameters;

/// The raw parameters of a [`LinearGaussianSsm`], by name (no validation:
/// [`LinearGaussianSsm::from_parameters`] checks them).
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    /// Transition matrix A (n x n).
    pub a: Mat<f64>,
    /// Process-noise covariance Q (n x n).
    pub q: Mat<f64>,
    /// Observation matrix H (p x n).
    pub h: Mat<f64>,
    /// Observation-noise covariance R (p x p).
    pub r: Mat<f64>,
    /// Initial mean m0 (n).
    pub m0: Vec<f64>,
    /// Initial covariance P0 (n x n).
    pub p0: Mat<f64>,
}

/// A linear Gaussian state-space model
///
/// ```text
/// x_0 ~ N(m0, P0)
/// x_k = A x_{k-1} + B u_k + b + w_k,   w_k ~ N(0, Q)      k = 1, ..., T-1
/// y_k = H x_k + D u_k + d + v_k,       v_k ~ N(0, R)      k = 0, ..., T-1
/// ```
///
/// with state dimension n, observation dimension p and input dimension m
/// (known inputs `u_k`, one row per step; the input of step 0 enters only
/// its observation). The input blocks `B`, `D` and the offsets `b`, `d`
/// are [`InputParameters`], zero (and m = 0) unless set with
/// [`Self::with_inputs`] or the builder. The first
/// observation is of `x_0` itself: the first step of the filter is an update
/// only, with no prediction before it (pykalman's convention).
///
/// Built only through [`LinearGaussianSsm::builder`] (matrices by name) or
/// [`LinearGaussianSsm::from_parameters`], which check shapes, finiteness,
/// and that `Q`, `R`, `P0` are symmetric positive definite. The model also
/// carries [`InferenceOptions`] (not a parameter: they choose how the filter
/// runs) which the M-step passes on to the model it returns.
///
/// It implements [`em_core::EmModel`] (see [`crate::em`]): fit it with
/// [`crate::fit`].
#[derive(Debug, Clone)]
pub struct LinearGaussianSsm {
    a: Mat<f64>,
    q: Mat<f64>,
    h: Mat<f64>,
    r: Mat<f64>,
    m0: Vec<f64>,
    p0: Mat<f64>,
    chol_q: Cholesky,
    chol_r: Cholesky,
    chol_p0: Cholesky,
    /// Boxed: most models have none, and the model stays small.
    inputs: Box<InputParameters>,
    h_identity: bool,
    inference: InferenceOptions,
}

impl PartialEq for LinearGaussianSsm {
    /// Equal parameters and options (the cached factors follow from them).
    fn eq(&self, other: &Self) -> bool {
        self.a == other.a
            && self.q == other.q
            && self.h == other.h
            && self.r == other.r
            && self.m0 == other.m0
            && self.p0 == other.p0
            && self.inputs == other.inputs
            && self.inference == other.inference
    }
}

impl LinearGaussianSsm {
    /// The same model with other inference options.
    #[must_use]
    pub fn with_inference(mut self, options: InferenceOptions) -> Self {
        self.inference = options;
        self
    }

    /// The Cholesky factor of `Q`.
    pub(crate) fn chol_q(&self) -> &Cholesky {
        &self.chol_q
    }

    /// The Cholesky factor of `R`.
    pub(crate) fn chol_r(&self) -> &Cholesky {
        &self.chol_r
    }

    /// The inference options used by [`Self::filter`], [`Self::smooth`],
    /// the E-step and [`Self::log_likelihood`].
    #[must_use]
    pub fn inference(&self) -> InferenceOptions {
        self.inference
    }

    /// State dimension n.
    #[must_use]
    pub fn state_dim(&self) -> usize {
        self.a.nrows()
    }

    /// Observation dimension p.
    #[must_use]
    pub fn obs_dim(&self) -> usize {
        self.h.nrows()
    }

    /// Transition matrix `A` (n x n).
    #[must_use]
    pub fn a(&self) -> MatRef<'_, f64> {
        self.a.as_ref()
    }

    /// Process-noise covariance `Q` (n x n).
    #[must_use]
    pub fn q(&self) -> MatRef<'_, f64> {
        self.q.as_ref()
    }

    /// Observation matrix `H` (p x n).
    #[must_use]
    pub fn h(&self) -> MatRef<'_, f64> {
        self.h.as_ref()
    }

    /// Observation-noise covariance `R` (p x p).
    #[must_use]
    pub fn r(&self) -> MatRef<'_, f64> {
        self.r.as_ref()
    }

    /// Initial state mean `m0` (n).
    #[must_use]
    pub fn m0(&self) -> &[f64] {
        &self.m0
    }

    /// Initial state covariance `P0` (n x n).
    #[must_use]
    pub fn p0(&self) -> MatRef<'_, f64> {
        self.p0.as_ref()
    }

    /// True when `H` is exactly the identity (p = n); the filter then skips
    /// the products with `H`.
    #[must_use]
    pub fn h_is_identity(&self) -> bool {
        self.h_identity
    }

    /// The parameters, by name (for model files, or to rebuild a model with
    /// some of them changed through [`Self::from_parameters`]).
    #[must_use]
    pub fn into_parameters(self) -> Parameters {
        Parameters {
            a: self.a,
            q: self.q,
            h: self.h,
            r: self.r,
            m0: self.m0,
            p0: self.p0,
        }
    }

    /// A copy of the parameters, by name.
    #[must_use]
    pub fn parameters(&self) -> Parameters {
        Parameters {
            a: self.a.clone(),
            q: self.q.clone(),
            h: self.h.clone(),
            r: self.r.clone(),
            m0: self.m0.clone(),
            p0: self.p0.clone(),
        }
    }

    /// Number of free parameters when A, Q, H, R, m0, P0, B and D are free
    /// with full covariances:
    /// `n² + n(n+1)/2 + pn + p(p+1)/2 + n + n(n+1)/2 + (n + p) m`. The
    /// offsets are not counted (they are fixed unless learned); see
    /// [`crate::MStepOptions::n_free_parameters_with_inputs`] for a learned
    /// subset.
    #[must_use]
    pub fn n_parameters(&self) -> usize {
        let (n, p, m) = (self.state_dim(), self.obs_dim(), self.input_dim());
        n * n + n * (n + 1) / 2 + p * n + p * (p + 1) / 2 + n + n * (n + 1) / 2 + (n + p) * m
    }
}
