//! Model files of variational Bayesian Gaussian mixtures (`kind: "bgmm"`),
//! with scikit-learn's `BayesianGaussianMixture` names: the fitted
//! posterior, the priors it was fitted under and the floor `reg_covar`.
//!
//! ```json
//! "parameters": {
//!   "covariance_type": "diag",
//!   "weight_concentration_prior_type": "dirichlet_process",
//!   "weight_concentration_prior": 0.5,
//!   "mean_precision_prior": 1.0,
//!   "mean_prior": [0.0, 0.0],
//!   "degrees_of_freedom_prior": 2.0,
//!   "covariance_prior": [1.0, 1.0],
//!   "reg_covar": 1e-6,
//!   "weight_concentration": [[51.0, 51.0], [50.5, 0.5]],
//!   "mean_precision": [51.0, 51.0],
//!   "means": [[-2.0, 0.0], [2.0, 0.0]],
//!   "degrees_of_freedom": [52.0, 52.0],
//!   "covariances": [[1.0, 1.0], [1.0, 1.0]],
//!   "lower_bound": -301.5
//! }
//! ```
//!
//! - `weight_concentration`: the weights' posterior, K Dirichlet
//!   concentrations `αₖ` for `dirichlet_distribution`, or the two rows
//!   `[a, b]` (2 x K) of the stick-breaking Beta parameters for
//!   `dirichlet_process` (scikit-learn's pair of arrays);
//! - `mean_precision` `βₖ` (K), `means` `mₖ` (K x d), `degrees_of_freedom`
//!   `νₖ` (K; equal for `tied`), and `covariances`, the normalised
//!   `Cₖ = (νₖ Wₖ)⁻¹` in the layout of their type ([`super::covariances`]);
//! - the priors `*_prior`, with `covariance_prior` a d x d matrix (full,
//!   tied), d variances (diag) or one variance (spherical);
//! - `lower_bound`: the fit's bound (it depends on the responsibilities,
//!   which the file does not hold).
//!
//! Loading rebuilds the model through
//! [`VariationalMixture::from_posterior`], so a saved model loads back bit
//! for bit; errors name the field (`parameters.degrees_of_freedom[2]`).

use mixture::variational::{
    CovariancePrior, VariationalConfig, VariationalMixture, VariationalPrior, WeightConcentration,
    WeightPrior,
};
use mixture::{CovarianceType, MixtureError, PosteriorParam};
use serde::Serialize;

use super::covariances::{self, CovariancesOut};
use super::locate::{MixtureFields, invalid};
use super::matrix::mat_to_rows;
use super::node::{Node, Object};
use super::{ModelFile, ModelKind, parameters_node};
use crate::error::{Error, FieldPath};

/// The fields of a `bgmm` file's `parameters`.
const FIELDS: &[&str] = &[
    "covariance_type",
    "weight_concentration_prior_type",
    "weight_concentration_prior",
    "mean_precision_prior",
    "mean_prior",
    "degrees_of_freedom_prior",
    "covariance_prior",
    "reg_covar",
    "weight_concentration",
    "mean_precision",
    "means",
    "degrees_of_freedom",
    "covariances",
    "lower_bound",
];

/// The names of `weight_concentration_prior_type` ([`WeightPrior::name`]),
/// in the order of [`WEIGHT_PRIORS`].
const WEIGHT_PRIOR_NAMES: &[&str] = &["dirichlet_process", "dirichlet_distribution"];
/// The weight priors of [`WEIGHT_PRIOR_NAMES`].
const WEIGHT_PRIORS: [WeightPrior; 2] = [WeightPrior::DirichletProcess, WeightPrior::DirichletDistribution];

/// A vector, a matrix or a number, as written (the shapes that depend on
/// the covariance type or the weight prior).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ArrayOut {
    /// A matrix as rows.
    Matrix(Vec<Vec<f64>>),
    /// A vector.
    Vector(Vec<f64>),
    /// A number.
    Number(f64),
}

/// The `parameters` of a `bgmm` model file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgmmParameters {
    /// `full`, `diag`, `spherical` or `tied`.
    pub covariance_type: &'static str,
    /// `dirichlet_process` or `dirichlet_distribution`.
    pub weight_concentration_prior_type: &'static str,
    /// α₀.
    pub weight_concentration_prior: f64,
    /// β₀.
    pub mean_precision_prior: f64,
    /// m₀ (d).
    pub mean_prior: Vec<f64>,
    /// ν₀.
    pub degrees_of_freedom_prior: f64,
    /// Ψ: d x d, d or one value.
    pub covariance_prior: ArrayOut,
    /// The covariance floor of the fit.
    pub reg_covar: f64,
    /// αₖ (K), or `[a, b]` (2 x K).
    pub weight_concentration: ArrayOut,
    /// βₖ (K).
    pub mean_precision: Vec<f64>,
    /// mₖ (K x d).
    pub means: Vec<Vec<f64>>,
    /// νₖ (K).
    pub degrees_of_freedom: Vec<f64>,
    /// Cₖ in the layout of their type.
    pub covariances: CovariancesOut,
    /// The fit's lower bound.
    pub lower_bound: f64,
}

impl ModelFile for VariationalMixture {
    const KIND: ModelKind = ModelKind::Bgmm;
    type Parameters = BgmmParameters;

    fn to_parameters(&self) -> BgmmParameters {
        let config = self.config();
        let prior = &config.prior;
        let (covariance_type, covariances) = CovariancesOut::new(self.covariances());
        BgmmParameters {
            covariance_type,
            weight_concentration_prior_type: prior.weight_prior.name(),
            weight_concentration_prior: prior.weight_concentration,
            mean_precision_prior: prior.mean_precision,
            mean_prior: prior.mean.clone(),
            degrees_of_freedom_prior: prior.degrees_of_freedom,
            covariance_prior: match &prior.covariance {
                CovariancePrior::Matrix(m) => ArrayOut::Matrix(mat_to_rows(m.as_ref())),
                CovariancePrior::Diagonal(v) => ArrayOut::Vector(v.clone()),
                CovariancePrior::Spherical(s) => ArrayOut::Number(*s),
            },
            reg_covar: config.reg_covar,
            weight_concentration: match self.weight_concentration() {
                WeightConcentration::Dirichlet(alpha) => ArrayOut::Vector(alpha.clone()),
                WeightConcentration::StickBreaking { a, b } => ArrayOut::Matrix(vec![a.clone(), b.clone()]),
            },
            mean_precision: self.mean_precision().to_vec(),
            means: mat_to_rows(self.means()),
            degrees_of_freedom: self.degrees_of_freedom().to_vec(),
            covariances,
            lower_bound: self.lower_bound(),
        }
    }

    fn from_parameters(parameters: &serde_json::Value, _: u64) -> Result<Self, Error> {
        let node = parameters_node(parameters);
        let object = node.object(FIELDS)?;
        let covariance_type = covariances::read_type(&object.field("covariance_type")?)?;
        let weight_prior = WEIGHT_PRIORS[object
            .field("weight_concentration_prior_type")?
            .name(WEIGHT_PRIOR_NAMES)?];
        let mean_precision = object.field("mean_precision")?.vector(None)?;
        let k = mean_precision.len();
        let means_node = object.field("means")?;
        let means = means_node.matrix(Some(k), None)?;
        let d = means.ncols();
        let prior = VariationalPrior {
            weight_prior,
            weight_concentration: object.field("weight_concentration_prior")?.number()?,
            mean_precision: object.field("mean_precision_prior")?.number()?,
            mean: object.field("mean_prior")?.vector(Some(d))?,
            degrees_of_freedom: object.field("degrees_of_freedom_prior")?.number()?,
            covariance: read_covariance_prior(&object.field("covariance_prior")?, covariance_type, d)?,
        };
        let weight_node = object.field("weight_concentration")?;
        let weight_concentration = match weight_prior {
            WeightPrior::DirichletDistribution => {
                WeightConcentration::Dirichlet(weight_node.vector(Some(k))?)
            }
            WeightPrior::DirichletProcess => {
                let ab = weight_node.matrix(Some(2), Some(k))?;
                let row = |i| (0..k).map(|c| ab[(i, c)]).collect();
                WeightConcentration::StickBreaking { a: row(0), b: row(1) }
            }
        };
        let covariances_node = object.field("covariances")?;
        let covariances = covariances::read(&covariances_node, covariance_type, k, d)?;
        let config = VariationalConfig {
            n_components: k,
            covariance_type,
            prior,
            reg_covar: object.field("reg_covar")?.number()?,
        };
        VariationalMixture::from_posterior(
            config,
            weight_concentration,
            mean_precision,
            object.field("degrees_of_freedom")?.vector(Some(k))?,
            means,
            covariances,
            object.field("lower_bound")?.number()?,
        )
        .map_err(|e| {
            let fields = MixtureFields {
                weights: None,
                means: means_node.path().clone(),
                covariances: covariances_node.path().clone(),
            };
            let field = fields.of(&e).or_else(|| field_of(&object, &e));
            invalid(Self::KIND, field, e)
        })
    }
}

/// Reads `covariance_prior` in the shape of the covariance type.
fn read_covariance_prior(node: &Node<'_>, t: CovarianceType, d: usize) -> Result<CovariancePrior, Error> {
    Ok(match t {
        CovarianceType::Full | CovarianceType::Tied => {
            CovariancePrior::Matrix(node.matrix(Some(d), Some(d))?)
        }
        CovarianceType::Diagonal => CovariancePrior::Diagonal(node.vector(Some(d))?),
        CovarianceType::Spherical => CovariancePrior::Spherical(node.number()?),
    })
}

/// The field of an error of [`VariationalMixture::from_posterior`] about
/// the posterior's own values, the priors or the scalars.
fn field_of(object: &Object<'_>, e: &MixtureError) -> Option<FieldPath> {
    let path = |name: &'static str| object.optional(name).map(|n| n.path().clone());
    match e {
        MixtureError::InvalidPosterior {
            parameter, component, ..
        } => {
            let (name, row) = match parameter {
                PosteriorParam::DirichletConcentration => ("weight_concentration", None),
                PosteriorParam::StickBreakingA => ("weight_concentration", Some(0)),
                PosteriorParam::StickBreakingB => ("weight_concentration", Some(1)),
                PosteriorParam::MeanPrecision => ("mean_precision", None),
                PosteriorParam::DegreesOfFreedom => ("degrees_of_freedom", None),
            };
            let field = path(name)?;
            Some(
                row.map_or(field.clone(), |r| field.with_index(r))
                    .with_index(*component),
            )
        }
        MixtureError::InvalidVariationalPrior { parameter, .. } => {
            let name = parameter.split(['[', ' ']).next().unwrap_or_default();
            FIELDS
                .iter()
                .find(|f| f.strip_suffix("_prior") == Some(name))
                .and_then(|f| path(f))
        }
        MixtureError::InvalidOption { name, .. } => FIELDS.iter().find(|f| *f == name).and_then(|f| path(f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_prior_names_are_the_priors_names() {
        assert_eq!(WEIGHT_PRIORS.len(), WEIGHT_PRIOR_NAMES.len());
        for (w, name) in WEIGHT_PRIORS.iter().zip(WEIGHT_PRIOR_NAMES) {
            assert_eq!(w.name(), *name);
        }
    }
}
