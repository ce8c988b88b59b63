//! Model files of hidden Markov models (`kind: "gaussian-hmm"`, `"gmm-hmm"`,
//! `"categorical-hmm"`).
//!
//! Every HMM file has the start probabilities (K) and the transition matrix
//! (K rows of K), then its emission:
//!
//! ```json
//! "parameters": {
//!   "start": [0.9, 0.1],
//!   "transitions": [[0.95, 0.05], [0.15, 0.85]],
//!   // gaussian-hmm: one Gaussian per state (covariances as in a gmm file)
//!   "means": [[5.0], [-10.0]],
//!   "covariances": { "type": "diag", "values": [[9.0], [4.0]] }
//!   // gmm-hmm: one mixture per state, each like the parameters of a gmm file
//!   "mixtures": [ { "weights": [...], "means": [...], "covariances": {...} }, ... ]
//!   // categorical-hmm: K rows of M symbol probabilities
//!   "emission_probabilities": [[0.5, 0.5], [0.1, 0.9]]
//! }
//! ```

use faer::Mat;
use hmm::{
    CategoricalEmission, CategoricalHmm, GaussianEmission, GaussianHmm, GmmEmission, GmmHmm, Hmm, HmmError,
};
use serde::{Deserialize, Serialize};

use super::gmm::{CovariancesFile, GmmParameters};
use super::matrix::{mat_from_rows, mat_to_rows, vec_checked};
use super::{ModelFile, ModelKind};
use crate::error::{Error, FieldPath, ModelError};

fn invalid(kind: ModelKind) -> impl Fn(HmmError) -> Error {
    move |e| Error::InvalidModel {
        kind,
        source: ModelError::Hmm(e),
    }
}

/// Start probabilities and transitions, shape-checked for `k` states.
fn chain(start: Vec<f64>, transitions: &[Vec<f64>], k: usize) -> Result<(Vec<f64>, Mat<f64>), Error> {
    let root = FieldPath::key("parameters");
    let start = vec_checked(start, &root.with_key("start"), Some(k))?;
    let transitions = mat_from_rows(transitions, &root.with_key("transitions"), Some(k), Some(k))?;
    Ok((start, transitions))
}

fn chain_rows<E: hmm::Emission>(m: &Hmm<E>) -> (Vec<f64>, Vec<Vec<f64>>) {
    (m.start_probs().to_vec(), mat_to_rows(m.transitions()))
}

/// The `parameters` of a `gaussian-hmm` model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianHmmParameters {
    /// K start probabilities.
    pub start: Vec<f64>,
    /// K rows of K transition probabilities.
    pub transitions: Vec<Vec<f64>>,
    /// K rows of d state means.
    pub means: Vec<Vec<f64>>,
    /// The state covariances (K = states).
    pub covariances: CovariancesFile,
}

impl ModelFile for GaussianHmm {
    const KIND: ModelKind = ModelKind::GaussianHmm;
    type Parameters = GaussianHmmParameters;

    fn to_parameters(&self) -> GaussianHmmParameters {
        let (start, transitions) = chain_rows(self);
        GaussianHmmParameters {
            start,
            transitions,
            means: mat_to_rows(self.emission().means()),
            covariances: CovariancesFile::from_covariances(self.emission().covariances()),
        }
    }

    fn from_parameters(p: GaussianHmmParameters) -> Result<Self, Error> {
        let root = FieldPath::key("parameters");
        let means = mat_from_rows(&p.means, &root.with_key("means"), None, None)?;
        let (k, d) = (means.nrows(), means.ncols());
        let (start, transitions) = chain(p.start, &p.transitions, k)?;
        let covariances = p
            .covariances
            .into_covariances(&root.with_key("covariances"), k, d)?;
        let emission = GaussianEmission::new(means, covariances).map_err(invalid(Self::KIND))?;
        Hmm::new(start, transitions.as_ref(), emission).map_err(invalid(Self::KIND))
    }
}

/// The `parameters` of a `gmm-hmm` model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmmHmmParameters {
    /// K start probabilities.
    pub start: Vec<f64>,
    /// K rows of K transition probabilities.
    pub transitions: Vec<Vec<f64>>,
    /// One Gaussian mixture per state (same number of components, features
    /// and covariance type in every state).
    pub mixtures: Vec<GmmParameters>,
}

impl ModelFile for GmmHmm {
    const KIND: ModelKind = ModelKind::GmmHmm;
    type Parameters = GmmHmmParameters;

    fn to_parameters(&self) -> GmmHmmParameters {
        let (start, transitions) = chain_rows(self);
        GmmHmmParameters {
            start,
            transitions,
            mixtures: self
                .emission()
                .mixtures()
                .iter()
                .map(GmmParameters::from_mixture)
                .collect(),
        }
    }

    fn from_parameters(p: GmmHmmParameters) -> Result<Self, Error> {
        let root = FieldPath::key("parameters");
        let k = p.mixtures.len();
        if k == 0 {
            return Err(Error::EmptyField {
                field: root.with_key("mixtures"),
            });
        }
        let (start, transitions) = chain(p.start, &p.transitions, k)?;
        let mut mixtures = Vec::with_capacity(k);
        for (j, m) in p.mixtures.into_iter().enumerate() {
            let mixture = m
                .build(&root.with_key("mixtures").with_index(j))?
                .map_err(|source| {
                    invalid(Self::KIND)(HmmError::Mixture {
                        state: Some(j),
                        source,
                    })
                })?;
            mixtures.push(mixture);
        }
        let emission = GmmEmission::from_mixtures(mixtures).map_err(invalid(Self::KIND))?;
        Hmm::new(start, transitions.as_ref(), emission).map_err(invalid(Self::KIND))
    }
}

/// The `parameters` of a `categorical-hmm` model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalHmmParameters {
    /// K start probabilities.
    pub start: Vec<f64>,
    /// K rows of K transition probabilities.
    pub transitions: Vec<Vec<f64>>,
    /// K rows of M symbol probabilities.
    pub emission_probabilities: Vec<Vec<f64>>,
}

impl ModelFile for CategoricalHmm {
    const KIND: ModelKind = ModelKind::CategoricalHmm;
    type Parameters = CategoricalHmmParameters;

    fn to_parameters(&self) -> CategoricalHmmParameters {
        let (start, transitions) = chain_rows(self);
        CategoricalHmmParameters {
            start,
            transitions,
            emission_probabilities: mat_to_rows(self.emission().probabilities()),
        }
    }

    fn from_parameters(p: CategoricalHmmParameters) -> Result<Self, Error> {
        let root = FieldPath::key("parameters");
        let probabilities = mat_from_rows(
            &p.emission_probabilities,
            &root.with_key("emission_probabilities"),
            None,
            None,
        )?;
        let k = probabilities.nrows();
        let (start, transitions) = chain(p.start, &p.transitions, k)?;
        let emission = CategoricalEmission::new(probabilities).map_err(invalid(Self::KIND))?;
        Hmm::new(start, transitions.as_ref(), emission).map_err(invalid(Self::KIND))
    }
}
