//! Covariance parameters across the boundary, in the shapes scikit-learn
//! and hmmlearn use: one mixture's covariances of type `kind` are an array
//! of [`covariance_ndim`] dimensions (full (K, d, d), diagonal (K, d),
//! spherical (K,), tied (d, d)), with leading indices for an HMM's GMM
//! emissions (one mixture per state).

use crate::error::value_error;
use mixture::faer::Mat;
use mixture::{CovarianceType, Covariances};
use numpy::ndarray::{ArrayD, Axis, IxDyn};
use pyo3::prelude::*;

/// The covariance type names of scikit-learn and hmmlearn.
pub(crate) fn covariance_type(name: &str) -> PyResult<CovarianceType> {
    match name {
        "full" => Ok(CovarianceType::Full),
        "diag" => Ok(CovarianceType::Diagonal),
        "spherical" => Ok(CovarianceType::Spherical),
        "tied" => Ok(CovarianceType::Tied),
        other => Err(value_error(format!(
            "covariance_type must be 'full', 'diag', 'spherical' or 'tied', got {other:?}"
        ))),
    }
}

/// Checks that `a` (the parameter `what`) has `ndim` dimensions; `shape`
/// says which in words.
pub(crate) fn check_ndim(a: &ArrayD<f64>, ndim: usize, what: &str, shape: &str) -> PyResult<()> {
    if a.ndim() == ndim {
        Ok(())
    } else {
        Err(value_error(format!(
            "{what} must have shape {shape}, got shape {:?}",
            a.shape()
        )))
    }
}

/// The matrix `a[index, .., ..]` of an array of `index.len() + 2`
/// dimensions.
pub(crate) fn sub_matrix(a: &ArrayD<f64>, index: &[usize]) -> Mat<f64> {
    let m = index.iter().fold(a.view(), |v, &i| v.index_axis_move(Axis(0), i));
    Mat::from_fn(m.shape()[0], m.shape()[1], |i, j| m[[i, j].as_slice()])
}

/// One mixture's covariances of type `kind` from `a` at `index` (the
/// leading indices: none for a Gaussian emission, the state for a GMM).
pub(crate) fn covariances_at(kind: CovarianceType, a: &ArrayD<f64>, index: &[usize]) -> Covariances {
    let lead = index.len();
    match kind {
        CovarianceType::Full => Covariances::Full(
            (0..a.shape()[lead])
                .map(|k| sub_matrix(a, &[index, &[k]].concat()))
                .collect(),
        ),
        CovarianceType::Diagonal | CovarianceType::Tied => {
            let m = sub_matrix(a, index);
            if kind == CovarianceType::Tied {
                Covariances::Tied(m)
            } else {
                Covariances::Diagonal(m)
            }
        }
        CovarianceType::Spherical => Covariances::Spherical(
            (0..a.shape()[lead])
                .map(|k| a[IxDyn(&[index, &[k]].concat())])
                .collect(),
        ),
    }
}

/// The number of dimensions of the covariances of one mixture of type `kind`.
pub(crate) fn covariance_ndim(kind: CovarianceType) -> usize {
    match kind {
        CovarianceType::Full => 3,
        CovarianceType::Diagonal | CovarianceType::Tied => 2,
        CovarianceType::Spherical => 1,
    }
}

/// The words of scikit-learn and hmmlearn for the shape of the
/// covariances of type `kind`; `gmm` for an HMM's GMM emissions (one
/// mixture per state).
pub(crate) fn covariance_shape(kind: CovarianceType, gmm: bool) -> &'static str {
    match (kind, gmm) {
        (CovarianceType::Full, false) => "(n_components, n_features, n_features)",
        (CovarianceType::Diagonal, false) => "(n_components, n_features)",
        (CovarianceType::Spherical, false) => "(n_components,)",
        (CovarianceType::Tied, false) => "(n_features, n_features)",
        (CovarianceType::Full, true) => "(n_components, n_mix, n_features, n_features)",
        (CovarianceType::Diagonal, true) => "(n_components, n_mix, n_features)",
        (CovarianceType::Spherical, true) => "(n_components, n_mix)",
        (CovarianceType::Tied, true) => "(n_components, n_features, n_features)",
    }
}

/// Covariances as an array of `covariance_ndim(kind)` dimensions.
pub(crate) fn covariances_array(c: &Covariances, d: usize) -> ArrayD<f64> {
    match c {
        Covariances::Full(ms) => ArrayD::from_shape_fn(IxDyn(&[ms.len(), d, d]), |i| ms[i[0]][(i[1], i[2])]),
        Covariances::Diagonal(m) | Covariances::Tied(m) => {
            ArrayD::from_shape_fn(IxDyn(&[m.nrows(), m.ncols()]), |i| m[(i[0], i[1])])
        }
        Covariances::Spherical(v) => ArrayD::from_shape_fn(IxDyn(&[v.len()]), |i| v[i[0]]),
    }
}
