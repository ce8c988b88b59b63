//! Model files of hidden Markov models (`kind: "gaussian-hmm"`, `"gmm-hmm"`,
//! `"categorical-hmm"`, `"poisson-hmm"`), with hmmlearn's names.
//!
//! Every HMM file has the start probabilities `startprob` (K) and the
//! transition matrix `transmat` (K rows of K), then its emission:
//!
//! ```json
//! "parameters": {
//!   "startprob": [0.9, 0.1],
//!   "transmat": [[0.95, 0.05], [0.15, 0.85]],
//!   // gaussian-hmm (GaussianHMM): K rows of d means, covariances of K
//!   // components in the layout of their type
//!   "covariance_type": "diag",
//!   "means": [[5.0], [-10.0]],
//!   "covars": [[9.0], [4.0]]
//!   // gmm-hmm (GMMHMM), M components per state: weights K x M, means
//!   // K x M x d, covars one state's mixture covariances per state
//!   // (full: K x M x d x d, diag: K x M x d, spherical: K x M, tied: K x d x d)
//!   "covariance_type": "diag",
//!   "weights": [[0.6, 0.4], [0.4, 0.6]],
//!   "means": [[[5.0], [10.0]], [[-10.0], [-5.0]]],
//!   "covars": [[[9.0], [4.0]], [[4.0], [9.0]]]
//!   // categorical-hmm (CategoricalHMM): K rows of M symbol probabilities
//!   "emissionprob": [[0.5, 0.5], [0.1, 0.9]]
//!   // poisson-hmm (PoissonHMM): K rows of d rates
//!   "lambdas": [[1.5], [20.0]]
//! }
//! ```
//!
//! Format 1 named the chain `start` and `transitions`; a `gaussian-hmm`
//! had `means` and `covariances` (an object `{"type", "values"}`), a
//! `gmm-hmm` an array `mixtures` of `gmm` parameters, a `categorical-hmm`
//! `emission_probabilities`. (`poisson-hmm` is new in format 2.)

use faer::Mat;
use hmm::{
    CategoricalEmission, CategoricalHmm, GaussianEmission, GaussianHmm, GmmEmission, GmmHmm, Hmm, HmmError,
    PoissonEmission, PoissonHmm,
};
use mixture::{GaussianMixture, MixtureError};
use serde::Serialize;

use super::covariances::{self, CovariancesOut};
use super::gmm::read_mixture;
use super::locate::{MixtureFields, hmm_field, invalid};
use super::matrix::mat_to_rows;
use super::node::Object;
use super::{ModelFile, ModelKind, parameters_node};
use crate::error::{Error, FieldPath};

/// An HMM constructor's error, with the field it is about: `names` are the
/// file's fields, `states` where the Gaussian emissions' parts are (see
/// [`hmm_field`]).
fn rejected(kind: ModelKind, names: &[&'static str], states: &[MixtureFields], e: HmmError) -> Error {
    invalid(kind, hmm_field(names, states, &e), e)
}

/// The error of state `j`'s mixture in a `gmm-hmm` file, with its field.
fn state_rejected(j: usize, (source, field): (MixtureError, Option<FieldPath>)) -> Error {
    invalid(
        ModelKind::GmmHmm,
        field,
        HmmError::Mixture {
            state: Some(j),
            source,
        },
    )
}

/// The parameters object of an HMM file and the names of its fields:
/// `fields[0]` in format 2, `fields[1]` in format 1. Every list starts with
/// the start probabilities and the transitions.
fn hmm_object<'a>(
    parameters: &'a serde_json::Value,
    format_version: u64,
    fields: [&'static [&'static str]; 2],
) -> Result<(Object<'a>, &'static [&'static str]), Error> {
    let names = if format_version == 1 { fields[1] } else { fields[0] };
    Ok((parameters_node(parameters).object(names)?, names))
}

/// Start probabilities and transitions (the fields `names[0]` and
/// `names[1]`), shape-checked for `k` states.
fn chain(object: &Object<'_>, names: &[&'static str], k: usize) -> Result<(Vec<f64>, Mat<f64>), Error> {
    let start = object.field(names[0])?.vector(Some(k))?;
    let transitions = object.field(names[1])?.matrix(Some(k), Some(k))?;
    Ok((start, transitions))
}

/// Reads an HMM whose emission is one matrix with a row per state, in the
/// field `names[2]` (categorical: symbol probabilities; Poisson: rates).
fn read_matrix_hmm<E: hmm::Emission>(
    parameters: &serde_json::Value,
    format_version: u64,
    fields: [&'static [&'static str]; 2],
    kind: ModelKind,
    emission: impl FnOnce(Mat<f64>) -> Result<E, HmmError>,
) -> Result<Hmm<E>, Error> {
    let (object, names) = hmm_object(parameters, format_version, fields)?;
    let matrix = object.field(names[2])?.matrix(None, None)?;
    let (start, transitions) = chain(&object, names, matrix.nrows())?;
    let emission = emission(matrix).map_err(|e| rejected(kind, names, &[], e))?;
    Hmm::new(start, transitions.as_ref(), emission).map_err(|e| rejected(kind, names, &[], e))
}

fn chain_rows<E: hmm::Emission>(m: &Hmm<E>) -> (Vec<f64>, Vec<Vec<f64>>) {
    (m.start_probs().to_vec(), mat_to_rows(m.transitions()))
}

/// The `parameters` of a `gaussian-hmm` model file (formats 2 and 3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaussianHmmParameters {
    /// K start probabilities.
    pub startprob: Vec<f64>,
    /// K rows of K transition probabilities.
    pub transmat: Vec<Vec<f64>>,
    /// `full`, `diag`, `spherical` or `tied`.
    pub covariance_type: &'static str,
    /// K rows of d state means.
    pub means: Vec<Vec<f64>>,
    /// The state covariances in the layout of their type.
    pub covars: CovariancesOut,
}

impl ModelFile for GaussianHmm {
    const KIND: ModelKind = ModelKind::GaussianHmm;
    type Parameters = GaussianHmmParameters;

    fn to_parameters(&self) -> GaussianHmmParameters {
        let (startprob, transmat) = chain_rows(self);
        let (covariance_type, covars) = CovariancesOut::new(self.emission().covariances());
        GaussianHmmParameters {
            startprob,
            transmat,
            covariance_type,
            means: mat_to_rows(self.emission().means()),
            covars,
        }
    }

    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        let (object, names) = hmm_object(
            parameters,
            format_version,
            [
                &["startprob", "transmat", "covariance_type", "means", "covars"],
                &["start", "transitions", "means", "covariances"],
            ],
        )?;
        let means = object.field("means")?;
        let covars = object.field(if format_version == 1 {
            "covariances"
        } else {
            "covars"
        })?;
        let states = [MixtureFields {
            weights: None,
            means: means.path().clone(),
            covariances: if format_version == 1 {
                covars.path().with_key("values")
            } else {
                covars.path().clone()
            },
        }];
        let means = means.matrix(None, None)?;
        let (k, d) = (means.nrows(), means.ncols());
        let (start, transitions) = chain(&object, names, k)?;
        let covariances = if format_version == 1 {
            covariances::read_v1(&covars, k, d)?
        } else {
            let t = covariances::read_type(&object.field("covariance_type")?)?;
            covariances::read(&covars, t, k, d)?
        };
        let emission =
            GaussianEmission::new(means, covariances).map_err(|e| rejected(Self::KIND, names, &states, e))?;
        Hmm::new(start, transitions.as_ref(), emission).map_err(|e| rejected(Self::KIND, names, &states, e))
    }
}

/// The `parameters` of a `gmm-hmm` model file (formats 2 and 3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GmmHmmParameters {
    /// K start probabilities.
    pub startprob: Vec<f64>,
    /// K rows of K transition probabilities.
    pub transmat: Vec<Vec<f64>>,
    /// `full`, `diag`, `spherical` or `tied` (the same in every state).
    pub covariance_type: &'static str,
    /// K rows of M mixture weights.
    pub weights: Vec<Vec<f64>>,
    /// K x M x d component means.
    pub means: Vec<Vec<Vec<f64>>>,
    /// One state's mixture covariances per state, in the layout of their type.
    pub covars: Vec<CovariancesOut>,
}

/// Reads the mixtures of a format-2 `gmm-hmm` file: state `j` has the
/// weights `weights[j]`, means `means[j]` and covariances `covars[j]`, with
/// the same number of components and features in every state.
fn read_mixtures_v2(object: &Object<'_>) -> Result<Vec<GaussianMixture>, Error> {
    let t = covariances::read_type(&object.field("covariance_type")?)?;
    let weights = object.field("weights")?.array(None)?;
    let k = weights.len();
    let means = object.field("means")?.array(Some(k))?;
    let covars = object.field("covars")?.array(Some(k))?;
    let mut mixtures: Vec<GaussianMixture> = Vec::with_capacity(k);
    for j in 0..k {
        let first = mixtures.first();
        let w = weights[j].vector(first.map(GaussianMixture::n_components))?;
        let m = means[j].matrix(Some(w.len()), first.map(GaussianMixture::n_features))?;
        let c = covariances::read(&covars[j], t, w.len(), m.ncols())?;
        let fields = MixtureFields {
            weights: Some(weights[j].path().clone()),
            means: means[j].path().clone(),
            covariances: covars[j].path().clone(),
        };
        let mixture = GaussianMixture::new(w, m, c).map_err(|e| {
            let field = fields.of(&e);
            state_rejected(j, (e, field))
        })?;
        mixtures.push(mixture);
    }
    Ok(mixtures)
}

/// Reads the mixtures of a format-1 `gmm-hmm` file (`mixtures`, an array of
/// `gmm` parameters).
fn read_mixtures_v1(object: &Object<'_>) -> Result<Vec<GaussianMixture>, Error> {
    let mut mixtures = Vec::new();
    for (j, node) in object.field("mixtures")?.array(None)?.iter().enumerate() {
        let mixture = read_mixture(node, 1)?.map_err(|e| state_rejected(j, e))?;
        mixtures.push(mixture);
    }
    Ok(mixtures)
}

impl ModelFile for GmmHmm {
    const KIND: ModelKind = ModelKind::GmmHmm;
    type Parameters = GmmHmmParameters;

    fn to_parameters(&self) -> GmmHmmParameters {
        let (startprob, transmat) = chain_rows(self);
        let mixtures = self.emission().mixtures();
        let covars: Vec<(&'static str, CovariancesOut)> = mixtures
            .iter()
            .map(|m| CovariancesOut::new(m.covariances()))
            .collect();
        GmmHmmParameters {
            startprob,
            transmat,
            // Every state has the covariance type of the emission.
            covariance_type: covars.first().map_or("full", |c| c.0),
            weights: mixtures.iter().map(|m| m.weights().to_vec()).collect(),
            means: mixtures.iter().map(|m| mat_to_rows(m.means())).collect(),
            covars: covars.into_iter().map(|c| c.1).collect(),
        }
    }

    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        let (object, names) = hmm_object(
            parameters,
            format_version,
            [
                &[
                    "startprob",
                    "transmat",
                    "covariance_type",
                    "weights",
                    "means",
                    "covars",
                ],
                &["start", "transitions", "mixtures"],
            ],
        )?;
        let mixtures = if format_version == 1 {
            read_mixtures_v1(&object)?
        } else {
            read_mixtures_v2(&object)?
        };
        let (start, transitions) = chain(&object, names, mixtures.len())?;
        let emission =
            GmmEmission::from_mixtures(mixtures).map_err(|e| rejected(Self::KIND, names, &[], e))?;
        Hmm::new(start, transitions.as_ref(), emission).map_err(|e| rejected(Self::KIND, names, &[], e))
    }
}

/// The `parameters` of a `categorical-hmm` model file (formats 2 and 3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoricalHmmParameters {
    /// K start probabilities.
    pub startprob: Vec<f64>,
    /// K rows of K transition probabilities.
    pub transmat: Vec<Vec<f64>>,
    /// K rows of M symbol probabilities.
    pub emissionprob: Vec<Vec<f64>>,
}

impl ModelFile for CategoricalHmm {
    const KIND: ModelKind = ModelKind::CategoricalHmm;
    type Parameters = CategoricalHmmParameters;

    fn to_parameters(&self) -> CategoricalHmmParameters {
        let (startprob, transmat) = chain_rows(self);
        CategoricalHmmParameters {
            startprob,
            transmat,
            emissionprob: mat_to_rows(self.emission().probabilities()),
        }
    }

    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        read_matrix_hmm(
            parameters,
            format_version,
            [
                &["startprob", "transmat", "emissionprob"],
                &["start", "transitions", "emission_probabilities"],
            ],
            Self::KIND,
            CategoricalEmission::new,
        )
    }
}

/// The `parameters` of a `poisson-hmm` model file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoissonHmmParameters {
    /// K start probabilities.
    pub startprob: Vec<f64>,
    /// K rows of K transition probabilities.
    pub transmat: Vec<Vec<f64>>,
    /// K rows of d positive rates.
    pub lambdas: Vec<Vec<f64>>,
}

impl ModelFile for PoissonHmm {
    const KIND: ModelKind = ModelKind::PoissonHmm;
    type Parameters = PoissonHmmParameters;

    fn to_parameters(&self) -> PoissonHmmParameters {
        let (startprob, transmat) = chain_rows(self);
        PoissonHmmParameters {
            startprob,
            transmat,
            lambdas: mat_to_rows(self.emission().rates()),
        }
    }

    /// The fields are those of format 2 in either version (the kind is new
    /// in format 2).
    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        let fields: &[&str] = &["startprob", "transmat", "lambdas"];
        read_matrix_hmm(
            parameters,
            format_version,
            [fields, fields],
            Self::KIND,
            PoissonEmission::new,
        )
    }
}
