//! Building a model: the builder with named matrices, the constructor from
//! named [`Parameters`], and the validation they share.

use faer::MatRef;

use super::inference_options::InferenceOptions;
use super::inputs::InputParameters;
use super::validate::{check_finite, check_shape, is_identity, symmetric_positive_definite};
use super::{LinearGaussianSsm, Parameters};
use crate::error::{Matrix, Result, StateSpaceError};
use crate::param::Param;

/// Builds a [`LinearGaussianSsm`] from its matrices, each set by name
/// (from [`LinearGaussianSsm::builder`]).
///
/// A, Q, H, R, m0 and P0 are required; the input blocks B, D and the
/// offsets are optional (zero, and m = 0, when not set; m is read from B or
/// D). [`Self::build`] copies and validates them.
///
/// # Examples
/// ```
/// use faer::mat;
/// use statespace::LinearGaussianSsm;
/// let model = LinearGaussianSsm::builder()
///     .a(mat![[0.9]].as_ref())
///     .q(mat![[0.1]].as_ref())
///     .h(mat![[1.0]].as_ref())
///     .r(mat![[0.5]].as_ref())
///     .m0(&[0.0])
///     .p0(mat![[1.0]].as_ref())
///     .build()?;
/// assert_eq!((model.state_dim(), model.obs_dim()), (1, 1));
/// # Ok::<(), statespace::StateSpaceError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct LinearGaussianSsmBuilder<'a> {
    a: Option<MatRef<'a, f64>>,
    q: Option<MatRef<'a, f64>>,
    h: Option<MatRef<'a, f64>>,
    r: Option<MatRef<'a, f64>>,
    m0: Option<&'a [f64]>,
    p0: Option<MatRef<'a, f64>>,
    b: Option<MatRef<'a, f64>>,
    d: Option<MatRef<'a, f64>>,
    transition_offset: Option<&'a [f64]>,
    observation_offset: Option<&'a [f64]>,
}

impl<'a> LinearGaussianSsmBuilder<'a> {
    /// The transition matrix `A` (n x n; n is read from it).
    pub fn a(mut self, a: MatRef<'a, f64>) -> Self {
        self.a = Some(a);
        self
    }

    /// The process-noise covariance `Q` (n x n, symmetric positive definite).
    pub fn q(mut self, q: MatRef<'a, f64>) -> Self {
        self.q = Some(q);
        self
    }

    /// The observation matrix `H` (p x n; p is read from it).
    pub fn h(mut self, h: MatRef<'a, f64>) -> Self {
        self.h = Some(h);
        self
    }

    /// The observation-noise covariance `R` (p x p, symmetric positive definite).
    pub fn r(mut self, r: MatRef<'a, f64>) -> Self {
        self.r = Some(r);
        self
    }

    /// The initial state mean `m0` (n values).
    pub fn m0(mut self, m0: &'a [f64]) -> Self {
        self.m0 = Some(m0);
        self
    }

    /// The initial state covariance `P0` (n x n, symmetric positive definite).
    pub fn p0(mut self, p0: MatRef<'a, f64>) -> Self {
        self.p0 = Some(p0);
        self
    }

    /// The input matrix `B` of the transition (n x m).
    pub fn b(mut self, b: MatRef<'a, f64>) -> Self {
        self.b = Some(b);
        self
    }

    /// The input matrix `D` of the observation (p x m).
    pub fn d(mut self, d: MatRef<'a, f64>) -> Self {
        self.d = Some(d);
        self
    }

    /// The transition offset `b` (n values).
    pub fn transition_offset(mut self, offset: &'a [f64]) -> Self {
        self.transition_offset = Some(offset);
        self
    }

    /// The observation offset `d` (p values).
    pub fn observation_offset(mut self, offset: &'a [f64]) -> Self {
        self.observation_offset = Some(offset);
        self
    }

    /// Validates the matrices and builds the model (exact inference; see
    /// [`LinearGaussianSsm::with_inference`]).
    ///
    /// # Errors
    /// [`StateSpaceError::MissingParameter`] for a matrix that was not set
    /// (the first in the order A, Q, H, R, m0, P0), then as
    /// [`LinearGaussianSsm::from_parameters`] and
    /// [`LinearGaussianSsm::with_inputs`].
    pub fn build(self) -> Result<LinearGaussianSsm> {
        let missing = |parameter| StateSpaceError::MissingParameter { parameter };
        let a = self.a.ok_or(missing(Param::A))?;
        let q = self.q.ok_or(missing(Param::Q))?;
        let h = self.h.ok_or(missing(Param::H))?;
        let r = self.r.ok_or(missing(Param::R))?;
        let m0 = self.m0.ok_or(missing(Param::M0))?;
        let p0 = self.p0.ok_or(missing(Param::P0))?;
        let model = LinearGaussianSsm::from_parameters(Parameters {
            a: a.to_owned(),
            q: q.to_owned(),
            h: h.to_owned(),
            r: r.to_owned(),
            m0: m0.to_vec(),
            p0: p0.to_owned(),
        })?;
        let (n, p) = (model.state_dim(), model.obs_dim());
        let m = self.b.or(self.d).map_or(0, |x| x.ncols());
        let mut inputs = InputParameters::zeros(n, p, m);
        if let Some(b) = self.b {
            inputs.b = b.to_owned();
        }
        if let Some(d) = self.d {
            inputs.d = d.to_owned();
        }
        if let Some(offset) = self.transition_offset {
            inputs.transition_offset = offset.to_vec();
        }
        if let Some(offset) = self.observation_offset {
            inputs.observation_offset = offset.to_vec();
        }
        model.with_inputs(inputs)
    }
}

impl LinearGaussianSsm {
    /// A builder that takes the matrices by name.
    pub fn builder<'a>() -> LinearGaussianSsmBuilder<'a> {
        LinearGaussianSsmBuilder::default()
    }

    /// Validates and builds a model from named parameters (moved in, not
    /// copied), with exact inference.
    ///
    /// Shapes: `a` n x n, `q` n x n, `h` p x n, `r` p x p, `m0` length n,
    /// `p0` n x n, with n, p ≥ 1 (n is read from `a`, p from `h`). `q`, `r`
    /// and `p0` must be symmetric up to [`linalg_kernels::tolerance::SYMMETRY`]
    /// relative to their diagonal (they are stored exactly symmetrised,
    /// `(C + Cᵀ)/2`) and positive definite.
    ///
    /// # Errors
    /// [`StateSpaceError::ZeroDimension`], [`StateSpaceError::Shape`],
    /// [`StateSpaceError::NonFiniteParameter`], [`StateSpaceError::NotSymmetric`],
    /// [`StateSpaceError::NotPositiveDefinite`] (naming the matrix and the
    /// failing Cholesky pivot).
    pub fn from_parameters(parameters: Parameters) -> Result<Self> {
        let Parameters { a, q, h, r, m0, p0 } = parameters;
        let n = a.nrows();
        let p = h.nrows();
        if n == 0 {
            return Err(StateSpaceError::ZeroDimension {
                matrix: Matrix::Param(Param::A),
            });
        }
        if p == 0 {
            return Err(StateSpaceError::ZeroDimension {
                matrix: Matrix::Param(Param::H),
            });
        }
        check_shape(Matrix::Param(Param::A), a.as_ref(), n, n)?;
        check_shape(Matrix::Param(Param::Q), q.as_ref(), n, n)?;
        check_shape(Matrix::Param(Param::H), h.as_ref(), p, n)?;
        check_shape(Matrix::Param(Param::R), r.as_ref(), p, p)?;
        check_shape(Matrix::Param(Param::P0), p0.as_ref(), n, n)?;
        if m0.len() != n {
            return Err(StateSpaceError::Shape {
                matrix: Matrix::Param(Param::M0),
                expected_rows: n,
                expected_cols: 1,
                rows: m0.len(),
                cols: 1,
            });
        }
        check_finite(Matrix::Param(Param::A), a.as_ref())?;
        check_finite(Matrix::Param(Param::H), h.as_ref())?;
        check_finite(Matrix::Param(Param::M0), MatRef::from_row_major_slice(&m0, 1, n))?;
        let (q, chol_q) = symmetric_positive_definite(Matrix::Param(Param::Q), q)?;
        let (r, chol_r) = symmetric_positive_definite(Matrix::Param(Param::R), r)?;
        let (p0, chol_p0) = symmetric_positive_definite(Matrix::Param(Param::P0), p0)?;
        let h_identity = is_identity(h.as_ref());
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
            inputs: Box::new(InputParameters::zeros(n, p, 0)),
            h_identity,
            inference: InferenceOptions::default(),
        })
    }
}
