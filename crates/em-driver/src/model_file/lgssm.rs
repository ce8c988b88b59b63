//! Model files of linear Gaussian state-space models (`kind: "lgssm"`),
//! with pykalman's names:
//!
//! ```json
//! "parameters": {
//!   "transition_matrices": [[...]; n],       // A, n x n
//!   "transition_covariance": [[...]; n],     // Q, n x n, SPD
//!   "observation_matrices": [[...]; p],      // H, p x n
//!   "observation_covariance": [[...]; p],    // R, p x p, SPD
//!   "initial_state_mean": [...],             // m0, n
//!   "initial_state_covariance": [[...]; n]   // P0, n x n, SPD
//! }
//! ```
//!
//! (pykalman's `transition_matrices` and `observation_matrices` may be time
//! varying; here they are one matrix each.) Format 1 named them
//! `transition_matrix`, `transition_covariance`, `observation_matrix`,
//! `observation_covariance`, `initial_mean`, `initial_covariance`.
//!
//! The inference options of a model (exact or steady-state recursions) are
//! a run-time choice and are not stored: a loaded model uses exact
//! recursions until given others with
//! [`statespace::LinearGaussianSsm::with_inference`].

use serde::Serialize;
use statespace::{LinearGaussianSsm, Parameters};

use super::locate::{invalid, lgssm_field};
use super::matrix::mat_to_rows;
use super::{ModelFile, ModelKind, parameters_node};
use crate::error::Error;

/// The fields of format 2: A, Q, H, R, m0, P0.
const FIELDS: [&str; 6] = [
    "transition_matrices",
    "transition_covariance",
    "observation_matrices",
    "observation_covariance",
    "initial_state_mean",
    "initial_state_covariance",
];
/// The fields of format 1: A, Q, H, R, m0, P0.
const FIELDS_V1: [&str; 6] = [
    "transition_matrix",
    "transition_covariance",
    "observation_matrix",
    "observation_covariance",
    "initial_mean",
    "initial_covariance",
];

/// The `parameters` of an `lgssm` model file (format 2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LgssmParameters {
    /// A (n x n).
    pub transition_matrices: Vec<Vec<f64>>,
    /// Q (n x n).
    pub transition_covariance: Vec<Vec<f64>>,
    /// H (p x n).
    pub observation_matrices: Vec<Vec<f64>>,
    /// R (p x p).
    pub observation_covariance: Vec<Vec<f64>>,
    /// m0 (n).
    pub initial_state_mean: Vec<f64>,
    /// P0 (n x n).
    pub initial_state_covariance: Vec<Vec<f64>>,
}

impl ModelFile for LinearGaussianSsm {
    const KIND: ModelKind = ModelKind::Lgssm;
    type Parameters = LgssmParameters;

    fn to_parameters(&self) -> LgssmParameters {
        LgssmParameters {
            transition_matrices: mat_to_rows(self.a()),
            transition_covariance: mat_to_rows(self.q()),
            observation_matrices: mat_to_rows(self.h()),
            observation_covariance: mat_to_rows(self.r()),
            initial_state_mean: self.m0().to_vec(),
            initial_state_covariance: mat_to_rows(self.p0()),
        }
    }

    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        let names = if format_version == 1 { &FIELDS_V1 } else { &FIELDS };
        let [a, q, h, r, m0, p0] = *names;
        let object = parameters_node(parameters).object(names)?;
        // A is square: n rows of n entries.
        let a = object.field(a)?;
        let n = a.array(None)?.len();
        let a = a.matrix(Some(n), Some(n))?;
        let q = object.field(q)?.matrix(Some(n), Some(n))?;
        let h = object.field(h)?.matrix(None, Some(n))?;
        let p = h.nrows();
        let r = object.field(r)?.matrix(Some(p), Some(p))?;
        let m0 = object.field(m0)?.vector(Some(n))?;
        let p0 = object.field(p0)?.matrix(Some(n), Some(n))?;
        LinearGaussianSsm::from_parameters(Parameters { a, q, h, r, m0, p0 })
            .map_err(|e| invalid(Self::KIND, lgssm_field(names, &e), e))
    }
}
