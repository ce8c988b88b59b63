//! Covariance types, covariance parameters and their cached factors.
//!
//! For every component the model caches what the density needs, computed once
//! at construction:
//! - full / tied: the Cholesky factor `Σ = L Lᵀ` ([`linalg_kernels::Cholesky`])
//!   and the whitening matrix `W = L⁻¹` (lower triangular, obtained by a
//!   triangular solve against the identity: `Wᵀ` is the upper Cholesky factor
//!   of the precision `Σ⁻¹ = Wᵀ W`, scikit-learn's `precisions_cholesky_`);
//! - diagonal / spherical: `1/σ` per feature (or per component);
//! - the normalising constant `−½ (d ln 2π + ln det Σ)` with
//!   `ln det Σ = 2 Σᵢ ln Lᵢᵢ` (never a determinant by elimination).
//!
//! The density is then `ln N(x; μ, Σ) = const − ½ ‖W (x − μ)‖²`: no explicit
//! inverse of `Σ`, no exponential.

use crate::error::{CovarianceOwner, MixtureError};
use faer::Mat;
use faer::prelude::Reborrow;
use linalg_kernels::tolerance::SYMMETRY;
use linalg_kernels::{Cholesky, LN_2PI, triangular};
use std::fmt;

/// How the covariance of each component is parameterised.
///
/// The set mirrors scikit-learn's `covariance_type` and is complete, so the
/// enum is deliberately exhaustive (callers may `match` without a wildcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CovarianceType {
    /// One full d x d covariance per component: `K d (d + 1) / 2` parameters.
    Full,
    /// One diagonal covariance per component: `K d` parameters.
    Diagonal,
    /// One variance per component, `Σₖ = σₖ² I`: `K` parameters.
    Spherical,
    /// One full covariance shared by all components: `d (d + 1) / 2` parameters.
    Tied,
}

impl CovarianceType {
    /// Number of free covariance parameters for `k` components in `d` dimensions.
    #[must_use]
    pub fn n_parameters(self, k: usize, d: usize) -> usize {
        match self {
            Self::Full => k * d * (d + 1) / 2,
            Self::Diagonal => k * d,
            Self::Spherical => k,
            Self::Tied => d * (d + 1) / 2,
        }
    }

    /// The lower-case name used by scikit-learn (`"full"`, `"diag"`, `"spherical"`, `"tied"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Diagonal => "diag",
            Self::Spherical => "spherical",
            Self::Tied => "tied",
        }
    }

    /// All four types, in declaration order.
    pub const ALL: [CovarianceType; 4] = [Self::Full, Self::Diagonal, Self::Spherical, Self::Tied];
}

impl fmt::Display for CovarianceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Covariance parameters of a mixture, stored per type.
///
/// The same shapes are used for precision matrices (inverse covariances) by
/// [`crate::GaussianMixture::from_precisions`].
#[derive(Debug, Clone, PartialEq)]
pub enum Covariances {
    /// `K` symmetric positive definite d x d matrices.
    Full(Vec<Mat<f64>>),
    /// A K x d matrix: row k holds the variances of component k.
    Diagonal(Mat<f64>),
    /// `K` variances `σₖ²`.
    Spherical(Vec<f64>),
    /// One symmetric positive definite d x d matrix shared by all components.
    Tied(Mat<f64>),
}

impl Covariances {
    /// The covariance type of these parameters.
    #[must_use]
    pub fn covariance_type(&self) -> CovarianceType {
        match self {
            Self::Full(_) => CovarianceType::Full,
            Self::Diagonal(_) => CovarianceType::Diagonal,
            Self::Spherical(_) => CovarianceType::Spherical,
            Self::Tied(_) => CovarianceType::Tied,
        }
    }

    /// The full d x d covariance of component `k` (diagonal and spherical
    /// types are expanded). The caller guarantees `k < K` and the model's `d`.
    pub(crate) fn dense(&self, k: usize, d: usize) -> Mat<f64> {
        match self {
            Self::Full(m) => m[k].clone(),
            Self::Tied(m) => m.clone(),
            Self::Diagonal(v) => Mat::from_fn(d, d, |i, j| if i == j { v[(k, i)] } else { 0.0 }),
            Self::Spherical(v) => Mat::from_fn(d, d, |i, j| if i == j { v[k] } else { 0.0 }),
        }
    }

    /// Every stored covariance as a dense d x d matrix: K for the full,
    /// diagonal (`diag(v_k)`) and spherical (`σₖ² I`) types, the shared one
    /// once for the tied type.
    #[must_use]
    pub fn matrices(&self, d: usize) -> Vec<Mat<f64>> {
        let k = match self {
            Self::Full(m) => m.len(),
            Self::Diagonal(v) => v.nrows(),
            Self::Spherical(v) => v.len(),
            Self::Tied(_) => 1,
        };
        (0..k).map(|c| self.dense(c, d)).collect()
    }

    /// The covariances of type `t` from dense matrices laid out as
    /// [`Covariances::matrices`] gives them: the diagonal of each for the
    /// diagonal type, the first diagonal entry of each for the spherical
    /// type, the first matrix for the tied type (the caller gives at least
    /// one). Entries off the type's structure are dropped unchecked.
    ///
    /// # Panics
    /// For the tied type without a matrix, or the spherical type with an
    /// empty (0 x 0) matrix.
    #[must_use]
    pub fn from_matrices(t: CovarianceType, mut matrices: Vec<Mat<f64>>) -> Self {
        match t {
            CovarianceType::Full => Self::Full(matrices),
            CovarianceType::Diagonal => {
                let d = matrices.first().map_or(0, Mat::ncols);
                Self::Diagonal(Mat::from_fn(matrices.len(), d, |c, j| matrices[c][(j, j)]))
            }
            CovarianceType::Spherical => Self::Spherical(matrices.iter().map(|m| m[(0, 0)]).collect()),
            CovarianceType::Tied => Self::Tied(matrices.swap_remove(0)),
        }
    }
}

/// How the cached whitening acts, per type (flat buffers for the kernels).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Whitening {
    /// `K · d · d` values: `W_k[j, i]` at `k·d² + j·d + i` (lower triangle, zeros above).
    Full(Vec<f64>),
    /// `K · d` values `1/σ_kj` at `k·d + j`.
    Diagonal(Vec<f64>),
    /// `K` values `1/σ_k`.
    Spherical(Vec<f64>),
    /// `d · d` values of the shared `W`, same layout as one full component.
    Tied(Vec<f64>),
}

/// Everything the density kernels need, built once from validated parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Factors {
    /// Whitening per type.
    pub whitening: Whitening,
    /// `−½ (d ln 2π + ln det Σ_k)` per component.
    pub log_norm: Vec<f64>,
    /// Cholesky factors of the covariances: K for full, 1 for tied, none otherwise.
    pub cholesky: Vec<Cholesky>,
    /// `ln det Σ_k` per component.
    pub log_det: Vec<f64>,
}

/// Validates covariance parameters of `k` components in `d` dimensions and
/// builds their factors.
pub(crate) fn build_factors(cov: &Covariances, k: usize, d: usize) -> Result<Factors, MixtureError> {
    let dl = d as f64 * LN_2PI;
    match cov {
        Covariances::Full(mats) => {
            check_count("number of full covariances", k, mats.len())?;
            let mut whitening = vec![0.0; k * d * d];
            let mut cholesky = Vec::with_capacity(k);
            let mut log_det = Vec::with_capacity(k);
            for (c, m) in mats.iter().enumerate() {
                let owner = CovarianceOwner::Component(c);
                let chol = factor_full(m, d, owner)?;
                write_whitening(&chol, &mut whitening[c * d * d..(c + 1) * d * d]);
                log_det.push(chol.log_det());
                cholesky.push(chol);
            }
            let log_norm = log_det.iter().map(|ld| -0.5 * (dl + ld)).collect();
            Ok(Factors {
                whitening: Whitening::Full(whitening),
                log_norm,
                cholesky,
                log_det,
            })
        }
        Covariances::Tied(m) => {
            let chol = factor_full(m, d, CovarianceOwner::Tied)?;
            let mut whitening = vec![0.0; d * d];
            write_whitening(&chol, &mut whitening);
            let ld = chol.log_det();
            Ok(Factors {
                whitening: Whitening::Tied(whitening),
                log_norm: vec![-0.5 * (dl + ld); k],
                cholesky: vec![chol],
                log_det: vec![ld; k],
            })
        }
        Covariances::Diagonal(v) => {
            check_count("rows of the diagonal covariances", k, v.nrows())?;
            check_count("columns of the diagonal covariances", d, v.ncols())?;
            let mut inv_sd = vec![0.0; k * d];
            let mut log_det = vec![0.0; k];
            for c in 0..k {
                for j in 0..d {
                    let var = v[(c, j)];
                    check_variance(var, CovarianceOwner::Component(c), j)?;
                    inv_sd[c * d + j] = 1.0 / var.sqrt();
                    log_det[c] += var.ln();
                }
            }
            let log_norm = log_det.iter().map(|ld| -0.5 * (dl + ld)).collect();
            Ok(Factors {
                whitening: Whitening::Diagonal(inv_sd),
                log_norm,
                cholesky: Vec::new(),
                log_det,
            })
        }
        Covariances::Spherical(v) => {
            check_count("number of spherical variances", k, v.len())?;
            let mut inv_sd = vec![0.0; k];
            let mut log_det = vec![0.0; k];
            for (c, &var) in v.iter().enumerate() {
                check_variance(var, CovarianceOwner::Component(c), 0)?;
                inv_sd[c] = 1.0 / var.sqrt();
                log_det[c] = d as f64 * var.ln();
            }
            let log_norm = log_det.iter().map(|ld| -0.5 * (dl + ld)).collect();
            Ok(Factors {
                whitening: Whitening::Spherical(inv_sd),
                log_norm,
                cholesky: Vec::new(),
                log_det,
            })
        }
    }
}

/// Checks shape, finiteness and symmetry of a full matrix, then factors it.
pub(crate) fn factor_full(m: &Mat<f64>, d: usize, owner: CovarianceOwner) -> Result<Cholesky, MixtureError> {
    check_count("covariance rows", d, m.nrows())?;
    check_count("covariance columns", d, m.ncols())?;
    check_symmetric(m, owner)?;
    Cholesky::new(m.as_ref()).map_err(|source| MixtureError::NotPositiveDefinite { owner, source })
}

/// Finite entries and symmetry within [`SYMMETRY`].
pub(crate) fn check_symmetric(m: &Mat<f64>, owner: CovarianceOwner) -> Result<(), MixtureError> {
    let d = m.nrows();
    for j in 0..d {
        for i in 0..d {
            let value = m[(i, j)];
            if !value.is_finite() {
                return Err(MixtureError::NonFiniteCovariance {
                    owner,
                    row: i,
                    col: j,
                    value,
                });
            }
        }
    }
    for j in 0..d {
        for i in j + 1..d {
            let difference = (m[(i, j)] - m[(j, i)]).abs();
            let scale = m[(i, i)].abs().max(m[(j, j)].abs());
            if difference > SYMMETRY * scale {
                return Err(MixtureError::NotSymmetric {
                    owner,
                    row: i,
                    col: j,
                    difference,
                });
            }
        }
    }
    Ok(())
}

fn write_whitening(chol: &Cholesky, dst: &mut [f64]) {
    let d = chol.dim();
    let mut w = Mat::<f64>::identity(d, d);
    triangular::solve_lower_in_place(chol.factor(), w.as_mut());
    let w = w.rb();
    for j in 0..d {
        for i in 0..=j {
            dst[j * d + i] = w[(j, i)];
        }
    }
}

fn check_variance(var: f64, owner: CovarianceOwner, feature: usize) -> Result<(), MixtureError> {
    if var > 0.0 && var.is_finite() {
        Ok(())
    } else {
        Err(MixtureError::NonPositiveVariance {
            owner,
            feature,
            value: var,
        })
    }
}

pub(crate) fn check_count(what: &'static str, expected: usize, found: usize) -> Result<(), MixtureError> {
    if expected == found {
        Ok(())
    } else {
        Err(MixtureError::DimensionMismatch {
            what,
            expected,
            found,
        })
    }
}
