//! Covariances of Gaussian mixtures and Gaussian emissions in model files.
//!
//! Format 2 writes them as scikit-learn's `GaussianMixture.covariances_`
//! (and hmmlearn's `covars_` storage): a `covariance_type` field and an array
//! whose shape depends on it, for K components in d dimensions:
//!
//! | `covariance_type` | shape of the array | meaning                              |
//! |-------------------|--------------------|--------------------------------------|
//! | `full`            | K x d x d          | one SPD matrix per component         |
//! | `diag`            | K x d              | the diagonal of each matrix          |
//! | `spherical`       | K                  | one variance per component (σ² I)    |
//! | `tied`            | d x d              | one SPD matrix shared by all         |
//!
//! Format 1 wrote them as an object `{"type": ..., "values": ...}` with the
//! same shapes; it is still read.

use mixture::{CovarianceType, Covariances};
use serde::Serialize;

use super::matrix::mat_to_rows;
use super::node::Node;
use crate::error::Error;

/// The names of `covariance_type`, in the order of [`CovarianceType::ALL`].
const NAMES: &[&str] = &["full", "diag", "spherical", "tied"];

/// Reads a `covariance_type` field.
///
/// # Errors
/// [`Error::WrongType`], [`Error::UnknownName`].
pub(crate) fn read_type(node: &Node<'_>) -> Result<CovarianceType, Error> {
    Ok(CovarianceType::ALL[node.name(NAMES)?])
}

/// Reads covariances of type `t` for `k` components in `d` dimensions, in
/// the layout of the table above.
///
/// # Errors
/// [`Error::Shape`], [`Error::EmptyField`], [`Error::WrongType`] naming the
/// entry.
pub(crate) fn read(node: &Node<'_>, t: CovarianceType, k: usize, d: usize) -> Result<Covariances, Error> {
    Ok(match t {
        CovarianceType::Full => Covariances::Full(node.matrices(k, d, d)?),
        CovarianceType::Diagonal => Covariances::Diagonal(node.matrix(Some(k), Some(d))?),
        CovarianceType::Spherical => Covariances::Spherical(node.vector(Some(k))?),
        CovarianceType::Tied => Covariances::Tied(node.matrix(Some(d), Some(d))?),
    })
}

/// Reads the format-1 object `{"type": ..., "values": ...}`.
///
/// # Errors
/// As [`read`], and [`Error::UnknownField`], [`Error::MissingField`].
pub(crate) fn read_v1(node: &Node<'_>, k: usize, d: usize) -> Result<Covariances, Error> {
    let object = node.object(&["type", "values"])?;
    let t = read_type(&object.field("type")?)?;
    read(&object.field("values")?, t, k, d)
}

/// Covariances as written in a format-2 file (the layout of the table above).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CovariancesOut {
    /// `full`: K matrices.
    Matrices(Vec<Vec<Vec<f64>>>),
    /// `diag` (K rows of d variances) or `tied` (one d x d matrix).
    Matrix(Vec<Vec<f64>>),
    /// `spherical`: K variances.
    Vector(Vec<f64>),
}

impl CovariancesOut {
    /// The file form of covariances, with their `covariance_type` name.
    #[must_use]
    pub fn new(c: &Covariances) -> (&'static str, Self) {
        let values = match c {
            Covariances::Full(ms) => Self::Matrices(ms.iter().map(|m| mat_to_rows(m.as_ref())).collect()),
            Covariances::Diagonal(m) | Covariances::Tied(m) => Self::Matrix(mat_to_rows(m.as_ref())),
            Covariances::Spherical(v) => Self::Vector(v.clone()),
        };
        (c.covariance_type().name(), values)
    }
}
