//! Model files of variational Bayesian HMMs (`kind: "vhmm"`), with
//! hmmlearn's `VariationalCategoricalHMM` / `VariationalGaussianHMM` names:
//! the Dirichlet prior and posterior concentrations of the start and
//! transition rows, and the emission's prior and posterior.
//!
//! ```json
//! "parameters": {
//!   "emission": "categorical",
//!   "startprob_prior": [0.5, 0.5],
//!   "startprob_posterior": [1.5, 0.5],
//!   "transmat_prior": [[0.5, 0.5], [0.5, 0.5]],
//!   "transmat_posterior": [[90.5, 10.5], [9.5, 89.5]],
//!   "emissionprob_prior": [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]],
//!   "emissionprob_posterior": [[50.25, 50.25, 0.25, 0.25], [0.25, 0.25, 50.25, 50.25]]
//! }
//! ```
//!
//! - `emission`: `categorical` or `gaussian`;
//! - `startprob_*` (K) and `transmat_*` (K x K): `a`, `ã`, `b`, `b̃` of
//!   [`hmm::variational::VariationalHmm`];
//! - categorical: `emissionprob_prior` and `emissionprob_posterior`
//!   (K x M Dirichlet rows);
//! - gaussian: `covariance_type` (`full`, `diag`, `spherical` or `tied`)
//!   and, for the prior and the posterior of the Normal-Wishart of every
//!   state, `means_*` (K x d), `beta_*` (K), `dof_*` (K; one value for
//!   `tied`, whose states share one Wishart) and `scale_*`, the inverse
//!   scales `S` in the layout of the covariance type, as the `gmm` kind
//!   writes covariances (full: K x d x d, diag: K x d, spherical: K values
//!   `s` of `S = s I`, tied: one d x d).
//!
//! The bound is not saved: it depends on the data. Loading rebuilds the
//! model through the validating constructors, so a saved model loads back
//! bit for bit; errors name the field (`parameters.transmat_posterior[1][0]`).

use hmm::variational::{
    NormalWishart, POSTERIOR_FIELDS, PRIOR_FIELDS, VariationalCategorical, VariationalEmission,
    VariationalGaussian, VariationalHmm,
};
use hmm::{HmmError, Table};
use mixture::{CovarianceType, Covariances};
use serde::Serialize;

use super::covariances::{self, CovariancesOut};
use super::locate::invalid;
use super::matrix::mat_to_rows;
use super::node::Object;
use super::{ModelFile, ModelKind, parameters_node};
use crate::error::{Error, FieldPath};
use crate::io::CellText;

/// The fields of the chain, in every `vhmm` file.
const CHAIN: [&str; 5] = [
    "emission",
    "startprob_prior",
    "startprob_posterior",
    "transmat_prior",
    "transmat_posterior",
];

/// The names of `emission`.
pub const EMISSIONS: &[&str] = &["categorical", "gaussian"];

/// The part of a `vhmm` file that depends on the emission.
pub trait VhmmEmission: VariationalEmission {
    /// The emission's name in the `emission` field (one of [`EMISSIONS`]).
    const NAME: &'static str;
    /// Every field of `parameters` for this emission (the chain's first).
    const FIELDS: &'static [&'static str];
    /// The emission's fields, as written.
    type Out: Serialize;

    /// The emission's fields of this emission.
    fn to_out(&self) -> Self::Out;
    /// Reads the emission of K states from the fields of a file's
    /// `parameters` (an object of [`VhmmEmission::FIELDS`]).
    ///
    /// # Errors
    /// The shape and type errors of the fields, [`Error::InvalidModel`].
    fn read(parameters: &serde_json::Value, k: usize) -> Result<Self, Error>;
}

/// The `parameters` of a `vhmm` model file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VhmmParameters<O> {
    /// `categorical` or `gaussian`.
    pub emission: &'static str,
    /// `a` (K).
    pub startprob_prior: Vec<f64>,
    /// `ã` (K).
    pub startprob_posterior: Vec<f64>,
    /// `b` (K x K).
    pub transmat_prior: Vec<Vec<f64>>,
    /// `b̃` (K x K).
    pub transmat_posterior: Vec<Vec<f64>>,
    /// The emission's fields.
    #[serde(flatten)]
    pub emission_parameters: O,
}

/// The fields of a categorical emission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoricalOut {
    /// `u` (K x M).
    pub emissionprob_prior: Vec<Vec<f64>>,
    /// `ũ` (K x M).
    pub emissionprob_posterior: Vec<Vec<f64>>,
}

/// The fields of a Gaussian emission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaussianOut {
    /// `full`, `diag`, `spherical` or `tied`.
    pub covariance_type: &'static str,
    /// `m0` (K x d).
    pub means_prior: Vec<Vec<f64>>,
    /// `m` (K x d).
    pub means_posterior: Vec<Vec<f64>>,
    /// `β0` (K).
    pub beta_prior: Vec<f64>,
    /// `β` (K).
    pub beta_posterior: Vec<f64>,
    /// `ν0` (K; 1 for the tied type).
    pub dof_prior: Vec<f64>,
    /// `ν` (K; 1 for the tied type).
    pub dof_posterior: Vec<f64>,
    /// `S0` in the covariance type's layout.
    pub scale_prior: CovariancesOut,
    /// `S` in the covariance type's layout.
    pub scale_posterior: CovariancesOut,
}

impl VhmmEmission for VariationalCategorical {
    const NAME: &'static str = "categorical";
    const FIELDS: &'static [&'static str] = &[
        CHAIN[0],
        CHAIN[1],
        CHAIN[2],
        CHAIN[3],
        CHAIN[4],
        "emissionprob_prior",
        "emissionprob_posterior",
    ];
    type Out = CategoricalOut;

    fn to_out(&self) -> CategoricalOut {
        CategoricalOut {
            emissionprob_prior: mat_to_rows(self.prior()),
            emissionprob_posterior: mat_to_rows(self.posterior()),
        }
    }

    fn read(parameters: &serde_json::Value, k: usize) -> Result<Self, Error> {
        let object = &parameters_node(parameters).object(Self::FIELDS)?;
        let prior = object.field("emissionprob_prior")?.matrix(Some(k), None)?;
        let posterior = object
            .field("emissionprob_posterior")?
            .matrix(Some(k), Some(prior.ncols()))?;
        Self::new(prior.as_ref(), posterior.as_ref())
            .map_err(|e| invalid(ModelKind::Vhmm, field_of(object, Self::FIELDS, &e), e))
    }
}

/// The inverse scales of one side in the layout of the covariance type.
fn scales_out(t: CovarianceType, side: &NormalWishart) -> CovariancesOut {
    CovariancesOut::new(&Covariances::from_matrices(t, side.scale.clone())).1
}

/// One side of the Normal-Wishart of type `t` from its fields `names`
/// (means, β, ν, S), for K states and (when known) d features: `S` is read
/// in the covariance type's layout (K, or one for the tied type, dense
/// matrices), and `ν` has one entry per Wishart.
fn read_side(
    object: &Object<'_>,
    t: CovarianceType,
    names: [&'static str; 4],
    k: usize,
    d: Option<usize>,
) -> Result<NormalWishart, Error> {
    let means = object.field(names[0])?.matrix(Some(k), d)?;
    let d = means.ncols();
    let wisharts = if t == CovarianceType::Tied { 1 } else { k };
    Ok(NormalWishart {
        means,
        beta: object.field(names[1])?.vector(Some(k))?,
        dof: object.field(names[2])?.vector(Some(wisharts))?,
        scale: covariances::read(&object.field(names[3])?, t, k, d)?.matrices(d),
    })
}

/// The entry a bad value of a Normal-Wishart names, in the file's layout:
/// the error's parameter is its field and its index (state or Wishart,
/// column; `a d + b` for `S[a, b]`) the entry.
fn entry_of(object: &Object<'_>, t: CovarianceType, d: usize, e: &HmmError) -> Option<FieldPath> {
    let HmmError::InvalidPriorValue {
        parameter,
        index: (j, col),
        ..
    } = e
    else {
        return None;
    };
    let (j, col) = (*j, *col);
    let field = object.optional(parameter)?.path().clone();
    let (a, b) = (col / d, col % d);
    Some(match parameter.split('_').next() {
        Some("means") => field.with_index(j).with_index(col),
        Some("scale") => match t {
            CovarianceType::Full => field.with_index(j).with_index(a).with_index(b),
            CovarianceType::Diagonal => field.with_index(j).with_index(a),
            CovarianceType::Spherical => field.with_index(j),
            CovarianceType::Tied => field.with_index(a).with_index(b),
        },
        _ => field.with_index(j),
    })
}

impl VhmmEmission for VariationalGaussian {
    const NAME: &'static str = "gaussian";
    const FIELDS: &'static [&'static str] = &[
        CHAIN[0],
        CHAIN[1],
        CHAIN[2],
        CHAIN[3],
        CHAIN[4],
        "covariance_type",
        "means_prior",
        "means_posterior",
        "beta_prior",
        "beta_posterior",
        "dof_prior",
        "dof_posterior",
        "scale_prior",
        "scale_posterior",
    ];
    type Out = GaussianOut;

    fn to_out(&self) -> GaussianOut {
        let t = self.covariance_type();
        let (p, q) = (self.prior(), self.posterior());
        GaussianOut {
            covariance_type: t.name(),
            means_prior: mat_to_rows(p.means.as_ref()),
            means_posterior: mat_to_rows(q.means.as_ref()),
            beta_prior: p.beta.clone(),
            beta_posterior: q.beta.clone(),
            dof_prior: p.dof.clone(),
            dof_posterior: q.dof.clone(),
            scale_prior: scales_out(t, p),
            scale_posterior: scales_out(t, q),
        }
    }

    fn read(parameters: &serde_json::Value, k: usize) -> Result<Self, Error> {
        let object = &parameters_node(parameters).object(Self::FIELDS)?;
        let t = covariances::read_type(&object.field("covariance_type")?)?;
        let prior = read_side(object, t, PRIOR_FIELDS, k, None)?;
        let d = prior.means.ncols();
        let posterior = read_side(object, t, POSTERIOR_FIELDS, k, Some(d))?;
        Self::new(t, prior, posterior).map_err(|e| invalid(ModelKind::Vhmm, entry_of(object, t, d, &e), e))
    }
}

impl<E: VhmmEmission> ModelFile for VariationalHmm<E> {
    const KIND: ModelKind = ModelKind::Vhmm;
    type Parameters = VhmmParameters<E::Out>;

    fn to_parameters(&self) -> Self::Parameters {
        VhmmParameters {
            emission: E::NAME,
            startprob_prior: self.start_prior().to_vec(),
            startprob_posterior: self.start_posterior().to_vec(),
            transmat_prior: mat_to_rows(self.transition_prior()),
            transmat_posterior: mat_to_rows(self.transition_posterior()),
            emission_parameters: self.emission().to_out(),
        }
    }

    fn from_parameters(parameters: &serde_json::Value, _: u64) -> Result<Self, Error> {
        let node = parameters_node(parameters);
        let emission = emission_of(parameters)?;
        if emission != E::NAME {
            let own = EMISSIONS.iter().position(|n| *n == E::NAME).unwrap_or(0);
            return Err(Error::UnknownName {
                field: node.path().with_key("emission"),
                found: CellText::new(emission),
                expected: &EMISSIONS[own..=own],
            });
        }
        let object = node.object(E::FIELDS)?;
        let start_prior = object.field("startprob_prior")?.vector(None)?;
        let k = start_prior.len();
        let start = object.field("startprob_posterior")?.vector(Some(k))?;
        let transition_prior = object.field("transmat_prior")?.matrix(Some(k), Some(k))?;
        let transitions = object.field("transmat_posterior")?.matrix(Some(k), Some(k))?;
        let emission = E::read(parameters, k)?;
        Self::new(
            start_prior,
            start,
            transition_prior.as_ref(),
            transitions.as_ref(),
            emission,
        )
        .map_err(|e| invalid(Self::KIND, field_of(&object, E::FIELDS, &e), e))
    }
}

/// Every field a `vhmm` file's `parameters` may have, of either emission.
const ALL_FIELDS: &[&str] = &[
    CHAIN[0],
    CHAIN[1],
    CHAIN[2],
    CHAIN[3],
    CHAIN[4],
    "emissionprob_prior",
    "emissionprob_posterior",
    "covariance_type",
    "means_prior",
    "means_posterior",
    "beta_prior",
    "beta_posterior",
    "dof_prior",
    "dof_posterior",
    "scale_prior",
    "scale_posterior",
];

/// The emission of a `vhmm` file's `parameters`, one of [`EMISSIONS`].
///
/// # Errors
/// [`Error::WrongType`], [`Error::UnknownField`], [`Error::MissingField`],
/// [`Error::UnknownName`] naming the field.
pub(crate) fn emission_of(parameters: &serde_json::Value) -> Result<&'static str, Error> {
    let index = parameters_node(parameters)
        .object(ALL_FIELDS)?
        .field("emission")?
        .name(EMISSIONS)?;
    Ok(EMISSIONS[index])
}

/// The field an error of the model's constructors is about: a
/// concentration names its table's prior or posterior entry.
fn field_of(object: &Object<'_>, fields: &[&'static str], e: &HmmError) -> Option<FieldPath> {
    let path = |name: &'static str| {
        fields
            .contains(&name)
            .then(|| object.optional(name).map(|n| n.path().clone()))
            .flatten()
    };
    match e {
        HmmError::InvalidConcentration {
            table,
            posterior,
            row,
            col,
            ..
        } => {
            let (prior_name, posterior_name) = match table {
                Table::Start => ("startprob_prior", "startprob_posterior"),
                Table::Transitions => ("transmat_prior", "transmat_posterior"),
                Table::EmissionProbabilities => ("emissionprob_prior", "emissionprob_posterior"),
                _ => return None,
            };
            let field = path(if *posterior { posterior_name } else { prior_name })?;
            Some(match table {
                Table::Start => field.with_index(*col),
                _ => field.with_index(*row).with_index(*col),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_file::AnyModel;
    use faer::Mat;
    use hmm::variational::{VariationalCategoricalHmm, VariationalGaussianHmm};

    fn categorical() -> VariationalCategoricalHmm {
        let prior = Mat::from_fn(2, 3, |_, _| 1.0 / 3.0);
        let posterior = Mat::from_fn(2, 3, |j, s| 0.1 + (j * 3 + s) as f64 * 7.3);
        let emission = VariationalCategorical::new(prior.as_ref(), posterior.as_ref()).unwrap();
        VariationalHmm::new(
            vec![0.5, 0.5],
            vec![1.5, 0.1 / 3.0],
            Mat::from_fn(2, 2, |_, _| 0.5).as_ref(),
            Mat::from_fn(2, 2, |i, j| if i == j { 40.1 } else { 2.7 + i as f64 }).as_ref(),
            emission,
        )
        .unwrap()
    }

    /// A model of two states in two dimensions whose inverse scales have
    /// the structure of `t` (one Wishart for the tied type).
    fn gaussian(t: CovarianceType) -> VariationalGaussianHmm {
        let d = 2;
        let scale = |j: usize, s: f64| {
            Mat::from_fn(d, d, |a, b| match (a == b, t) {
                (true, CovarianceType::Spherical) => s * (1.0 + j as f64),
                (true, _) => s * (1.0 + j as f64) + a as f64 * 0.3,
                (false, CovarianceType::Full | CovarianceType::Tied) => 0.1 * s,
                _ => 0.0,
            })
        };
        let wisharts = if t == CovarianceType::Tied { 1 } else { 2 };
        let side = |m: f64, beta: f64, dof: f64, s: f64| NormalWishart {
            means: Mat::from_fn(2, d, |j, c| m * (j as f64 - c as f64) + 0.1),
            beta: vec![beta, beta * 3.0],
            dof: (0..wisharts).map(|j| dof + 1.5 * j as f64).collect(),
            scale: (0..wisharts).map(|j| scale(j, s)).collect(),
        };
        let emission =
            VariationalGaussian::new(t, side(0.0, 1.0, 2.0, 1e-3), side(1.7, 51.0, 52.0, 40.0)).unwrap();
        VariationalHmm::new(
            vec![0.5, 0.5],
            vec![1.5, 0.5],
            Mat::from_fn(2, 2, |_, _| 0.5).as_ref(),
            Mat::from_fn(2, 2, |i, j| if i == j { 40.1 } else { 2.7 }).as_ref(),
            emission,
        )
        .unwrap()
    }

    /// Saved and loaded back, every emission gives the same model, bit for
    /// bit, and the same text; `AnyModel` reads each as its own emission.
    #[test]
    fn models_round_trip_bit_for_bit() {
        let c = categorical();
        let text = c.to_json();
        assert!(text.contains("\"kind\": \"vhmm\""), "{text}");
        assert!(text.contains("\"emission\": \"categorical\""), "{text}");
        let back = VariationalCategoricalHmm::from_json(&text).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.to_json(), text);
        assert!(
            matches!(AnyModel::from_json(&text).unwrap(), AnyModel::VariationalCategoricalHmm(m) if m == c)
        );
        for t in CovarianceType::ALL {
            let g = gaussian(t);
            let text = g.to_json();
            assert!(
                text.contains(&format!("\"covariance_type\": \"{}\"", t.name())),
                "{text}"
            );
            let back = VariationalGaussianHmm::from_json(&text).unwrap();
            assert_eq!(back, g);
            assert_eq!(back.to_json(), text);
            assert!(
                matches!(AnyModel::from_json(&text).unwrap(), AnyModel::VariationalGaussianHmm(m) if m == g)
            );
        }
    }

    fn edited(text: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
        edit(&mut value["parameters"]);
        value.to_string()
    }

    /// A bad value is an error naming its field; a file of the other
    /// emission, an unknown emission or a missing field are named too.
    #[test]
    fn bad_files_name_the_field() {
        let text = categorical().to_json();
        let bad = edited(&text, |p| p["transmat_posterior"][1][0] = (-1.0).into());
        let e = AnyModel::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.transmat_posterior[1][0]"), "{e}");
        let bad = edited(&text, |p| p["emissionprob_prior"][0][2] = 0.0.into());
        let e = VariationalCategoricalHmm::from_json(&bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameters.emissionprob_prior[0][2]"), "{e}");
        let bad = edited(&text, |p| p["startprob_posterior"] = serde_json::json!([1.0]));
        let e = VariationalCategoricalHmm::from_json(&bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameters.startprob_posterior"), "{e}");
        let bad = edited(&text, |p| p["emission"] = "poisson".into());
        let e = AnyModel::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.emission") && e.contains("poisson"), "{e}");
        let e = VariationalGaussianHmm::from_json(&text).unwrap_err().to_string();
        assert!(
            e.contains("parameters.emission") && e.contains("categorical"),
            "{e}"
        );
        let bad = edited(&text, |p| {
            p.as_object_mut().unwrap().remove("emissionprob_posterior");
        });
        let e = VariationalCategoricalHmm::from_json(&bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameters.emissionprob_posterior"), "{e}");
        let text = gaussian(CovarianceType::Diagonal).to_json();
        let bad = edited(&text, |p| p["covariance_type"] = "round".into());
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(
            e.contains("parameters.covariance_type") && e.contains("round"),
            "{e}"
        );
        let bad = edited(&text, |p| p["scale_posterior"][1] = serde_json::json!([1.0]));
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.scale_posterior[1]"), "{e}");
        // A diagonal file read as tied: its K x d scales are read as one
        // d x d matrix (K = d = 2 here) but its dof has K entries.
        let bad = edited(&text, |p| p["covariance_type"] = "tied".into());
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.dof_prior"), "{e}");
    }

    /// The spherical and tied layouts: a spherical scale is one number per
    /// state, a tied one a single d x d matrix with one dof; any other
    /// shape is an error naming the field.
    #[test]
    fn spherical_and_tied_files_name_the_field() {
        let text = gaussian(CovarianceType::Spherical).to_json();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["parameters"]["scale_posterior"],
            serde_json::json!([40.0, 80.0])
        );
        let bad = edited(&text, |p| p["scale_prior"][1] = serde_json::json!([1.0, 0.0]));
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.scale_prior[1]"), "{e}");
        let bad = edited(&text, |p| p["scale_posterior"] = serde_json::json!([40.0]));
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.scale_posterior"), "{e}");

        let text = gaussian(CovarianceType::Tied).to_json();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["parameters"]["dof_posterior"], serde_json::json!([52.0]));
        let scale = &value["parameters"]["scale_posterior"];
        assert_eq!(scale.as_array().map(Vec::len), Some(2), "{scale}");
        assert_eq!(scale[0], serde_json::json!([40.0, 4.0]), "{scale}");
        let bad = edited(&text, |p| p["dof_posterior"] = serde_json::json!([52.0, 53.5]));
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.dof_posterior"), "{e}");
        let bad = edited(&text, |p| p["scale_prior"][1] = serde_json::json!([0.0001]));
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.scale_prior[1]"), "{e}");
    }

    /// A value out of range names its entry in the file's layout, for
    /// every covariance type (an asymmetric scale its entry above the
    /// diagonal).
    #[test]
    fn bad_values_name_the_entry() {
        for t in CovarianceType::ALL {
            let text = gaussian(t).to_json();
            let bad = edited(&text, |p| p["dof_posterior"][0] = 0.5.into());
            let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
            assert!(e.contains("parameters.dof_posterior[0]"), "{t}: {e}");
            let bad = edited(&text, |p| p["beta_prior"][1] = 0.0.into());
            let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
            assert!(e.contains("parameters.beta_prior[1]"), "{t}: {e}");
        }
        let text = gaussian(CovarianceType::Tied).to_json();
        let bad = edited(&text, |p| p["scale_posterior"][0][1] = 9.0.into());
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.scale_posterior[0][1]"), "{e}");
        let text = gaussian(CovarianceType::Full).to_json();
        let bad = edited(&text, |p| p["scale_prior"][1][0][1] = 9.0.into());
        let e = VariationalGaussianHmm::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("parameters.scale_prior[1][0][1]"), "{e}");
    }
}
