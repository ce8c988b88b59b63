//! Model files of linear Gaussian state-space models (`kind: "lgssm"`).
//!
//! ```json
//! "parameters": {
//!   "transition_matrix": [[...]; n],         // A, n x n
//!   "transition_covariance": [[...]; n],     // Q, n x n, SPD
//!   "observation_matrix": [[...]; p],        // H, p x n
//!   "observation_covariance": [[...]; p],    // R, p x p, SPD
//!   "initial_mean": [...],                   // m0, n
//!   "initial_covariance": [[...]; n]         // P0, n x n, SPD
//! }
//! ```
//!
//! (pykalman's names). The inference options of a model (exact or
//! steady-state recursions) are a run-time choice and are not stored: a
//! loaded model uses exact recursions until given others with
//! [`statespace::LinearGaussianSsm::with_inference`].

use serde::{Deserialize, Serialize};
use statespace::{LinearGaussianSsm, Parameters};

use super::matrix::{mat_from_rows, mat_to_rows, vec_checked};
use super::{ModelFile, ModelKind};
use crate::error::{Error, FieldPath, ModelError};

/// The `parameters` of an `lgssm` model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LgssmParameters {
    /// A (n x n).
    pub transition_matrix: Vec<Vec<f64>>,
    /// Q (n x n).
    pub transition_covariance: Vec<Vec<f64>>,
    /// H (p x n).
    pub observation_matrix: Vec<Vec<f64>>,
    /// R (p x p).
    pub observation_covariance: Vec<Vec<f64>>,
    /// m0 (n).
    pub initial_mean: Vec<f64>,
    /// P0 (n x n).
    pub initial_covariance: Vec<Vec<f64>>,
}

impl ModelFile for LinearGaussianSsm {
    const KIND: ModelKind = ModelKind::Lgssm;
    type Parameters = LgssmParameters;

    fn to_parameters(&self) -> LgssmParameters {
        LgssmParameters {
            transition_matrix: mat_to_rows(self.a()),
            transition_covariance: mat_to_rows(self.q()),
            observation_matrix: mat_to_rows(self.h()),
            observation_covariance: mat_to_rows(self.r()),
            initial_mean: self.m0().to_vec(),
            initial_covariance: mat_to_rows(self.p0()),
        }
    }

    fn from_parameters(p: LgssmParameters) -> Result<Self, Error> {
        let root = FieldPath::key("parameters");
        let n = p.transition_matrix.len();
        let a = mat_from_rows(
            &p.transition_matrix,
            &root.with_key("transition_matrix"),
            Some(n),
            Some(n),
        )?;
        let q = mat_from_rows(
            &p.transition_covariance,
            &root.with_key("transition_covariance"),
            Some(n),
            Some(n),
        )?;
        let h = mat_from_rows(
            &p.observation_matrix,
            &root.with_key("observation_matrix"),
            None,
            Some(n),
        )?;
        let obs = h.nrows();
        let r = mat_from_rows(
            &p.observation_covariance,
            &root.with_key("observation_covariance"),
            Some(obs),
            Some(obs),
        )?;
        let m0 = vec_checked(p.initial_mean, &root.with_key("initial_mean"), Some(n))?;
        let p0 = mat_from_rows(
            &p.initial_covariance,
            &root.with_key("initial_covariance"),
            Some(n),
            Some(n),
        )?;
        LinearGaussianSsm::from_parameters(Parameters { a, q, h, r, m0, p0 }).map_err(|e| {
            Error::InvalidModel {
                kind: ModelKind::Lgssm,
                source: ModelError::StateSpace(e),
            }
        })
    }
}
