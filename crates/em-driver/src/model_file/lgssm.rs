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
//!   "initial_state_covariance": [[...]; n],  // P0, n x n, SPD
//!   "transition_offsets": [...],             // b, n
//!   "observation_offsets": [...],            // d, p
//!   "transition_input_matrix": [[...]; n],   // B, n x m (when m > 0)
//!   "observation_input_matrix": [[...]; p]   // D, p x m (when m > 0)
//! }
//! ```
//!
//! for the model `x_k = A x_{k-1} + B u_k + b + w_k`,
//! `y_k = H x_k + D u_k + d + v_k` (pykalman's `transition_matrices` and
//! `observation_matrices` may be time varying; here they are one matrix
//! each). The last four fields are new in format 3 and optional: an absent
//! offset is zero, an absent input matrix is zero with as many columns as
//! the other one (m = 0 when both are absent). Format 3 writes both offsets,
//! and the input matrices when the model has inputs (m > 0).
//!
//! Format 2 had the first six fields only (a model read from it has no
//! inputs and zero offsets). Format 1 named them `transition_matrix`,
//! `transition_covariance`, `observation_matrix`, `observation_covariance`,
//! `initial_mean`, `initial_covariance`.
//!
//! The inference options of a model (exact or steady-state recursions) are
//! a run-time choice and are not stored: a loaded model uses exact
//! recursions until given others with
//! [`statespace::LinearGaussianSsm::with_inference`].

use serde::Serialize;
use statespace::em::WithInputs;
use statespace::faer::Mat;
use statespace::{InputParameters, LinearGaussianSsm, Parameters};

use super::locate::{invalid, lgssm_field};
use super::matrix::mat_to_rows;
use super::node::Object;
use super::{ModelFile, ModelKind, parameters_node};
use crate::error::Error;

/// The fields of format 3: A, Q, H, R, m0, P0, then the input blocks
/// b, d, B, D.
const FIELDS: [&str; 10] = [
    "transition_matrices",
    "transition_covariance",
    "observation_matrices",
    "observation_covariance",
    "initial_state_mean",
    "initial_state_covariance",
    "transition_offsets",
    "observation_offsets",
    "transition_input_matrix",
    "observation_input_matrix",
];
/// The fields of format 2: A, Q, H, R, m0, P0.
const FIELDS_V2: &[&str] = FIELDS.split_at(6).0;
/// The fields of format 1: A, Q, H, R, m0, P0.
const FIELDS_V1: [&str; 6] = [
    "transition_matrix",
    "transition_covariance",
    "observation_matrix",
    "observation_covariance",
    "initial_mean",
    "initial_covariance",
];

/// The `parameters` of an `lgssm` model file (format 3).
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
    /// b (n).
    pub transition_offsets: Vec<f64>,
    /// d (p).
    pub observation_offsets: Vec<f64>,
    /// B (n x m), written when m > 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition_input_matrix: Option<Vec<Vec<f64>>>,
    /// D (p x m), written when m > 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_input_matrix: Option<Vec<Vec<f64>>>,
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
            transition_offsets: self.transition_offset().to_vec(),
            observation_offsets: self.observation_offset().to_vec(),
            transition_input_matrix: (self.input_dim() > 0).then(|| mat_to_rows(self.b())),
            observation_input_matrix: (self.input_dim() > 0).then(|| mat_to_rows(self.d())),
        }
    }

    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        let names: &'static [&'static str] = match format_version {
            1 => &FIELDS_V1,
            2 => FIELDS_V2,
            _ => &FIELDS,
        };
        let object = parameters_node(parameters).object(names)?;
        // A is square: n rows of n entries.
        let a = object.field(names[0])?;
        let n = a.array(None)?.len();
        let a = a.matrix(Some(n), Some(n))?;
        let q = object.field(names[1])?.matrix(Some(n), Some(n))?;
        let h = object.field(names[2])?.matrix(None, Some(n))?;
        let p = h.nrows();
        let r = object.field(names[3])?.matrix(Some(p), Some(p))?;
        let m0 = object.field(names[4])?.vector(Some(n))?;
        let p0 = object.field(names[5])?.matrix(Some(n), Some(n))?;
        let inputs = if format_version >= 3 {
            Some(read_inputs(&object, n, p)?)
        } else {
            None
        };
        let field = |e: &statespace::StateSpaceError| lgssm_field(names, e);
        let model = LinearGaussianSsm::from_parameters(Parameters { a, q, h, r, m0, p0 })
            .map_err(|e| invalid(Self::KIND, field(&e), e))?;
        match inputs {
            Some(inputs) => model
                .with_inputs(inputs)
                .map_err(|e| invalid(Self::KIND, field(&e), e)),
            None => Ok(model),
        }
    }
}

/// The same file as the model's: [`WithInputs`] is the model fitted on
/// sequences with inputs.
impl ModelFile for WithInputs {
    const KIND: ModelKind = ModelKind::Lgssm;
    type Parameters = LgssmParameters;

    fn to_parameters(&self) -> LgssmParameters {
        self.0.to_parameters()
    }

    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error> {
        <LinearGaussianSsm as ModelFile>::from_parameters(parameters, format_version).map(Self)
    }
}

/// The input blocks of a format-3 file (state dimension n, observation
/// dimension p): absent offsets are zero, an absent input matrix is zero
/// with the other one's number of columns m (0 when both are absent).
fn read_inputs(object: &Object<'_>, n: usize, p: usize) -> Result<InputParameters, Error> {
    let offset = |name, len| {
        object
            .optional(name)
            .map_or_else(|| Ok(vec![0.0; len]), |node| node.vector(Some(len)))
    };
    let transition_offset = offset(FIELDS[6], n)?;
    let observation_offset = offset(FIELDS[7], p)?;
    let b = object
        .optional(FIELDS[8])
        .map(|node| node.matrix(Some(n), None))
        .transpose()?;
    let m = b.as_ref().map(Mat::ncols);
    let d = object
        .optional(FIELDS[9])
        .map(|node| node.matrix(Some(p), m))
        .transpose()?;
    let m = m.or(d.as_ref().map(Mat::ncols)).unwrap_or(0);
    Ok(InputParameters {
        b: b.unwrap_or_else(|| Mat::zeros(n, m)),
        d: d.unwrap_or_else(|| Mat::zeros(p, m)),
        transition_offset,
        observation_offset,
    })
}
