//! Model files of Gaussian mixtures (`kind: "gmm"`), with scikit-learn's
//! `GaussianMixture` names:
//!
//! ```json
//! "parameters": {
//!   "covariance_type": "full",
//!   "weights": [0.3, 0.7],
//!   "means": [[0.0, 0.0], [2.5, 0.0]],
//!   "covariances": [[[1.0, 0.5], [0.5, 1.0]], [[1.0, -0.5], [-0.5, 1.0]]]
//! }
//! ```
//!
//! K weights (non-negative, summing to one), K rows of d means, and the
//! covariances in the layout of their type ([`super::covariances`]).
//! Format 1 had no `covariance_type`; its `covariances` was an object
//! `{"type": "full", "values": [...]}`.

use mixture::{GaussianMixture, MixtureError};
use serde::Serialize;

use super::covariances::{self, CovariancesOut};
use super::locate::{MixtureFields, invalid};
use super::matrix::mat_to_rows;
use super::node::Node;
use super::{ModelFile, ModelKind, parameters_node};
use crate::error::{Error, FieldPath};

/// The fields of a mixture in a format-2 file.
const FIELDS: &[&str] = &["covariance_type", "weights", "means", "covariances"];
/// The fields of a mixture in a format-1 file.
const FIELDS_V1: &[&str] = &["weights", "means", "covariances"];

/// The `parameters` of a `gmm` model file (formats 2 and 3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GmmParameters {
    /// `full`, `diag`, `spherical` or `tied`.
    pub covariance_type: &'static str,
    /// K mixture weights.
    pub weights: Vec<f64>,
    /// K rows of d means.
    pub means: Vec<Vec<f64>>,
    /// The covariances in the layout of their type.
    pub covariances: CovariancesOut,
}

/// Reads a mixture (the `parameters` of a `gmm` file, or one state's mixture
/// of a format-1 `gmm-hmm` file): shapes are checked here (errors name the
/// field), values by [`GaussianMixture::new`], whose error is returned with
/// the field it is about, for the caller to wrap.
pub(crate) fn read_mixture(
    node: &Node<'_>,
    format_version: u64,
) -> Result<Result<GaussianMixture, (MixtureError, Option<FieldPath>)>, Error> {
    let object = node.object(if format_version == 1 { FIELDS_V1 } else { FIELDS })?;
    let weights = object.field("weights")?;
    let means = object.field("means")?;
    let values = object.field("covariances")?;
    let fields = MixtureFields {
        weights: Some(weights.path().clone()),
        means: means.path().clone(),
        covariances: if format_version == 1 {
            values.path().with_key("values")
        } else {
            values.path().clone()
        },
    };
    let weights = weights.vector(None)?;
    let k = weights.len();
    let means = means.matrix(Some(k), None)?;
    let d = means.ncols();
    let covariances = if format_version == 1 {
        covariances::read_v1(&values, k, d)?
    } else {
        let t = covariances::read_type(&object.field("covariance_type")?)?;
        covariances::read(&values, t, k, d)?
    };
    Ok(GaussianMixture::new(weights, means, covariances).map_err(|e| {
        let field = fields.of(&e);
        (e, field)
    }))
}

impl ModelFile for GaussianMixture {
    const KIND: ModelKind = ModelKind::Gmm;
    type Parameters = GmmParameters;

    fn to_parameters(&self) -> GmmParameters {
        let (covariance_type, covariances) = CovariancesOut::new(self.covariances());
        GmmParameters {
            covariance_type,
            weights: self.weights().to_vec(),
            means: mat_to_rows(self.means()),
            covariances,
        }
    }

    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        read_mixture(&parameters_node(parameters), format_version)?
            .map_err(|(e, field)| invalid(Self::KIND, field, e))
    }
}
