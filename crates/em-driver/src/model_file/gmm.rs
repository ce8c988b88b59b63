//! Model files of Gaussian mixtures (`kind: "gmm"`).
//!
//! ```json
//! "parameters": {
//!   "weights": [0.3, 0.7],
//!   "means": [[0.0, 0.0], [2.5, 0.0]],
//!   "covariances": { "type": "full", "values": [[[1.0, 0.5], [0.5, 1.0]], [[1.0, -0.5], [-0.5, 1.0]]] }
//! }
//! ```
//!
//! `covariances.type` is `full` (K matrices d x d), `diag` (K rows of d
//! variances), `spherical` (K variances) or `tied` (one d x d matrix).

use mixture::{Covariances, GaussianMixture};
use serde::{Deserialize, Serialize};

use super::matrix::{mat_from_rows, mat_to_rows, vec_checked};
use super::{ModelFile, ModelKind};
use crate::error::{Error, FieldPath, ModelError};

/// Covariances in a model file, tagged by their type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "values", deny_unknown_fields)]
pub enum CovariancesFile {
    /// K symmetric positive definite d x d matrices.
    #[serde(rename = "full")]
    Full(Vec<Vec<Vec<f64>>>),
    /// K rows of d variances.
    #[serde(rename = "diag")]
    Diagonal(Vec<Vec<f64>>),
    /// K variances.
    #[serde(rename = "spherical")]
    Spherical(Vec<f64>),
    /// One d x d matrix shared by all components.
    #[serde(rename = "tied")]
    Tied(Vec<Vec<f64>>),
}

impl CovariancesFile {
    /// The file form of covariances.
    #[must_use]
    pub fn from_covariances(c: &Covariances) -> Self {
        match c {
            Covariances::Full(ms) => Self::Full(ms.iter().map(|m| mat_to_rows(m.as_ref())).collect()),
            Covariances::Diagonal(m) => Self::Diagonal(mat_to_rows(m.as_ref())),
            Covariances::Spherical(v) => Self::Spherical(v.clone()),
            Covariances::Tied(m) => Self::Tied(mat_to_rows(m.as_ref())),
        }
    }

    /// Checks the shapes for `k` components in `d` dimensions (not the
    /// values: the model constructor does that).
    ///
    /// # Errors
    /// [`Error::Shape`], [`Error::EmptyField`] naming `path` and the entry.
    pub fn into_covariances(self, path: &FieldPath, k: usize, d: usize) -> Result<Covariances, Error> {
        let values = path.with_key("values");
        Ok(match self {
            Self::Full(ms) => {
                if ms.len() != k {
                    return Err(Error::Shape {
                        field: values,
                        expected: k,
                        found: ms.len(),
                    });
                }
                Covariances::Full(
                    ms.iter()
                        .enumerate()
                        .map(|(c, m)| mat_from_rows(m, &values.with_index(c), Some(d), Some(d)))
                        .collect::<Result<_, _>>()?,
                )
            }
            Self::Diagonal(m) => Covariances::Diagonal(mat_from_rows(&m, &values, Some(k), Some(d))?),
            Self::Spherical(v) => Covariances::Spherical(vec_checked(v, &values, Some(k))?),
            Self::Tied(m) => Covariances::Tied(mat_from_rows(&m, &values, Some(d), Some(d))?),
        })
    }
}

/// The `parameters` of a `gmm` model file (also one state's mixture in a
/// `gmm-hmm` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmmParameters {
    /// K mixture weights (non-negative, summing to one).
    pub weights: Vec<f64>,
    /// K rows of d means.
    pub means: Vec<Vec<f64>>,
    /// The covariances.
    pub covariances: CovariancesFile,
}

impl GmmParameters {
    /// The file form of a mixture.
    #[must_use]
    pub fn from_mixture(m: &GaussianMixture) -> Self {
        Self {
            weights: m.weights().to_vec(),
            means: mat_to_rows(m.means()),
            covariances: CovariancesFile::from_covariances(m.covariances()),
        }
    }

    /// Checks shapes (errors name fields under `path`) and builds the
    /// mixture through [`GaussianMixture::new`]; its errors are returned
    /// as they are, for the caller to wrap.
    pub(crate) fn build(
        self,
        path: &FieldPath,
    ) -> Result<Result<GaussianMixture, mixture::MixtureError>, Error> {
        let weights = vec_checked(self.weights, &path.with_key("weights"), None)?;
        let k = weights.len();
        let means = mat_from_rows(&self.means, &path.with_key("means"), Some(k), None)?;
        let d = means.ncols();
        let covariances = self
            .covariances
            .into_covariances(&path.with_key("covariances"), k, d)?;
        Ok(GaussianMixture::new(weights, means, covariances))
    }
}

impl ModelFile for GaussianMixture {
    const KIND: ModelKind = ModelKind::Gmm;
    type Parameters = GmmParameters;

    fn to_parameters(&self) -> GmmParameters {
        GmmParameters::from_mixture(self)
    }

    fn from_parameters(p: GmmParameters) -> Result<Self, Error> {
        p.build(&FieldPath::key("parameters"))?
            .map_err(|e| Error::InvalidModel {
                kind: ModelKind::Gmm,
                source: ModelError::Mixture(e),
            })
    }
}
