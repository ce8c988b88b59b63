//! The model: parameters, validation, accessors and sampling.

use crate::error::{Matrix, Result, StateSpaceError};
use faer::{Mat, MatRef};
use linalg_kernels::{Cholesky, KernelError};
use rand::Rng;
use rand_distr::StandardNormal;

/// Largest accepted asymmetry of a covariance, relative to its diagonal:
/// `|c_ij − c_ji| ≤ SYMMETRY_TOLERANCE · max(|c_ii|, |c_jj|)`. Accepted
/// matrices are stored exactly symmetrised, `(C + Cᵀ)/2`.
pub const SYMMETRY_TOLERANCE: f64 = 1e-10;

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

/// `(A, Q, H, R, m0, P0)`, as returned by [`LinearGaussianSsm::into_parts`].
pub type ParameterTuple = (Mat<f64>, Mat<f64>, Mat<f64>, Mat<f64>, Vec<f64>, Mat<f64>);

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
/// x_k = A x_{k-1} + w_k,   w_k ~ N(0, Q)      k = 1, ..., T-1
/// y_k = H x_k + v_k,       v_k ~ N(0, R)      k = 0, ..., T-1
/// ```
///
/// with state dimension n and observation dimension p. The first
/// observation is of `x_0` itself: the first step of the filter is an update
/// only, with no prediction before it. This is pykalman's convention (and
/// that of the NumPy filter in `../shared/peers`).
///
/// Built only through [`LinearGaussianSsm::new`], which checks shapes,
/// finiteness, and that `Q`, `R`, `P0` are symmetric positive definite.
/// The model also carries [`InferenceOptions`] (not a parameter: it chooses
/// how the filter runs) which the M-step passes on to the model it returns.
#[derive(Debug, Clone)]
pub struct LinearGaussianSsm {
    pub(crate) a: Mat<f64>,
    pub(crate) q: Mat<f64>,
    pub(crate) h: Mat<f64>,
    pub(crate) r: Mat<f64>,
    pub(crate) m0: Vec<f64>,
    pub(crate) p0: Mat<f64>,
    chol_q: Cholesky,
    chol_r: Cholesky,
    chol_p0: Cholesky,
    pub(crate) h_identity: bool,
    pub(crate) inference: InferenceOptions,
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
            && self.inference == other.inference
    }
}

impl LinearGaussianSsm {
    /// Validates and builds a model from its parameters.
    ///
    /// Shapes: `a` n x n, `q` n x n, `h` p x n, `r` p x p, `m0` length n,
    /// `p0` n x n, with n, p ≥ 1 (n is read from `a`, p from `h`). `q`, `r`
    /// and `p0` must be symmetric up to [`SYMMETRY_TOLERANCE`] (they are
    /// stored exactly symmetrised) and positive definite.
    ///
    /// # Errors
    /// [`StateSpaceError::ZeroDimension`], [`StateSpaceError::Shape`],
    /// [`StateSpaceError::NonFiniteParameter`], [`StateSpaceError::NotSymmetric`],
    /// [`StateSpaceError::NotPositiveDefinite`] (naming the matrix and the
    /// failing Cholesky pivot).
    ///
    /// # Examples
    /// ```
    /// use faer::mat;
    /// use statespace::LinearGaussianSsm;
    /// let model = LinearGaussianSsm::new(
    ///     mat![[0.9]], mat![[0.1]], mat![[1.0]], mat![[0.5]], vec![0.0], mat![[1.0]],
    /// )
    /// .unwrap();
    /// assert_eq!((model.state_dim(), model.obs_dim()), (1, 1));
    /// ```
    pub fn new(
        a: Mat<f64>,
        q: Mat<f64>,
        h: Mat<f64>,
        r: Mat<f64>,
        m0: Vec<f64>,
        p0: Mat<f64>,
    ) -> Result<Self> {
        let n = a.nrows();
        let p = h.nrows();
        if n == 0 {
            return Err(StateSpaceError::ZeroDimension { matrix: Matrix::A });
        }
        if p == 0 {
            return Err(StateSpaceError::ZeroDimension { matrix: Matrix::H });
        }
        check_shape(Matrix::A, a.as_ref(), n, n)?;
        check_shape(Matrix::Q, q.as_ref(), n, n)?;
        check_shape(Matrix::H, h.as_ref(), p, n)?;
        check_shape(Matrix::R, r.as_ref(), p, p)?;
        check_shape(Matrix::P0, p0.as_ref(), n, n)?;
        if m0.len() != n {
            return Err(StateSpaceError::Shape {
                matrix: Matrix::M0,
                expected_rows: n,
                expected_cols: 1,
                rows: m0.len(),
                cols: 1,
            });
        }
        check_finite(Matrix::A, a.as_ref())?;
        check_finite(Matrix::H, h.as_ref())?;
        if let Some((i, &v)) = m0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(StateSpaceError::NonFiniteParameter {
                matrix: Matrix::M0,
                row: 0,
                col: i,
                value: v,
            });
        }
        let (q, chol_q) = symmetric_positive_definite(Matrix::Q, q)?;
        let (r, chol_r) = symmetric_positive_definite(Matrix::R, r)?;
        let (p0, chol_p0) = symmetric_positive_definite(Matrix::P0, p0)?;
        let h_identity =
            p == n && (0..n).all(|j| (0..n).all(|i| h[(i, j)] == if i == j { 1.0 } else { 0.0 }));
        Ok(Self {
            a,
            q,
            h,
            r,
            m0,
            p0,
            chol_q,
            chol_r,
            chol_p0,
            h_identity,
            inference: InferenceOptions::default(),
        })
    }

    /// The same model with other inference options.
    #[must_use]
    pub fn with_inference(mut self, options: InferenceOptions) -> Self {
        self.inference = options;
        self
    }

    /// The inference options used by [`Self::filter`], [`Self::smooth`],
    /// [`Self::e_step`] and [`Self::log_likelihood`].
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

    /// The parameters in the order `(A, Q, H, R, m0, P0)` (prefer the named
    /// [`Self::into_parameters`]).
    #[must_use]
    pub fn into_parts(self) -> ParameterTuple {
        (self.a, self.q, self.h, self.r, self.m0, self.p0)
    }

    /// A copy of the parameters, by name.
    #[must_use]
    pub fn parameters(&self) -> Parameters {
        self.clone().into_parameters()
    }

    /// Validates and builds a model from named parameters (as [`Self::new`]).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn from_parameters(parameters: Parameters) -> Result<Self> {
        let Parameters { a, q, h, r, m0, p0 } = parameters;
        Self::new(a, q, h, r, m0, p0)
    }

    /// Number of free parameters when every parameter is free with a full
    /// covariance: `n² + n(n+1)/2 + pn + p(p+1)/2 + n + n(n+1)/2`. See
    /// [`crate::MStepOptions::n_free_parameters`] for a learned subset.
    #[must_use]
    pub fn n_parameters(&self) -> usize {
        let (n, p) = (self.state_dim(), self.obs_dim());
        n * n + n * (n + 1) / 2 + p * n + p * (p + 1) / 2 + n + n * (n + 1) / 2
    }

    /// Draws one sequence of `t` steps: `(states (t x n), observations (t x p))`.
    ///
    /// `x_0 = m0 + L0 ε`, `x_k = A x_{k-1} + L_Q ε`, `y_k = H x_k + L_R ε`
    /// with `L Lᵀ` the Cholesky factors and ε standard normal, drawn in the
    /// order x_0, y_0, x_1, y_1, ... `t = 0` gives two empty matrices.
    pub fn sample<G: Rng + ?Sized>(&self, t: usize, rng: &mut G) -> (Mat<f64>, Mat<f64>) {
        let (n, p) = (self.state_dim(), self.obs_dim());
        let mut states = Mat::<f64>::zeros(t, n);
        let mut obs = Mat::<f64>::zeros(t, p);
        let mut x = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut eps_n = vec![0.0; n];
        let mut eps_p = vec![0.0; p];
        let mut noise = vec![0.0; p];
        for k in 0..t {
            eps_n.iter_mut().for_each(|e| *e = rng.sample(StandardNormal));
            if k == 0 {
                lower_times(self.chol_p0.factor(), &eps_n, &mut next);
                for i in 0..n {
                    x[i] = self.m0[i] + next[i];
                }
            } else {
                lower_times(self.chol_q.factor(), &eps_n, &mut next);
                for i in 0..n {
                    next[i] += (0..n).map(|j| self.a[(i, j)] * x[j]).sum::<f64>();
                }
                x.copy_from_slice(&next);
            }
            eps_p.iter_mut().for_each(|e| *e = rng.sample(StandardNormal));
            lower_times(self.chol_r.factor(), &eps_p, &mut noise);
            for i in 0..p {
                obs[(k, i)] = noise[i] + (0..n).map(|j| self.h[(i, j)] * x[j]).sum::<f64>();
            }
            for i in 0..n {
                states[(k, i)] = x[i];
            }
        }
        (states, obs)
    }

    /// Draws one sequence per entry of `lengths` (in that order, from one RNG).
    pub fn sample_sequences<G: Rng + ?Sized>(
        &self,
        lengths: &[usize],
        rng: &mut G,
    ) -> Vec<(Mat<f64>, Mat<f64>)> {
        lengths.iter().map(|&t| self.sample(t, rng)).collect()
    }
}

/// `out = L x` for a lower-triangular factor.
fn lower_times(l: MatRef<'_, f64>, x: &[f64], out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = (0..=i).map(|j| l[(i, j)] * x[j]).sum();
    }
}

pub(crate) fn check_shape(matrix: Matrix, m: MatRef<'_, f64>, rows: usize, cols: usize) -> Result<()> {
    if m.nrows() == rows && m.ncols() == cols {
        Ok(())
    } else {
        Err(StateSpaceError::Shape {
            matrix,
            expected_rows: rows,
            expected_cols: cols,
            rows: m.nrows(),
            cols: m.ncols(),
        })
    }
}

pub(crate) fn check_finite(matrix: Matrix, m: MatRef<'_, f64>) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let value = m[(i, j)];
            if !value.is_finite() {
                return Err(StateSpaceError::NonFiniteParameter {
                    matrix,
                    row: i,
                    col: j,
                    value,
                });
            }
        }
    }
    Ok(())
}

/// Checks finiteness, symmetry (then symmetrises exactly) and positive
/// definiteness; returns the matrix and its factor.
pub(crate) fn symmetric_positive_definite(matrix: Matrix, mut m: Mat<f64>) -> Result<(Mat<f64>, Cholesky)> {
    check_finite(matrix, m.as_ref())?;
    let n = m.nrows();
    for j in 0..n {
        for i in (j + 1)..n {
            let scale = m[(i, i)].abs().max(m[(j, j)].abs());
            if (m[(i, j)] - m[(j, i)]).abs() > SYMMETRY_TOLERANCE * scale {
                return Err(StateSpaceError::NotSymmetric {
                    matrix,
                    row: i,
                    col: j,
                });
            }
            let mean = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = mean;
            m[(j, i)] = mean;
        }
    }
    let chol = Cholesky::new(m.as_ref()).map_err(|e| spd_error(matrix, e))?;
    Ok((m, chol))
}

pub(crate) fn spd_error(matrix: Matrix, e: KernelError) -> StateSpaceError {
    match e {
        KernelError::NotPositiveDefinite { pivot, value } => {
            StateSpaceError::NotPositiveDefinite { matrix, pivot, value }
        }
        KernelError::NonFinite { row, col, value } => StateSpaceError::NonFiniteParameter {
            matrix,
            row,
            col,
            value,
        },
        other => StateSpaceError::FloorFailed {
            matrix,
            source: other,
        },
    }
}
