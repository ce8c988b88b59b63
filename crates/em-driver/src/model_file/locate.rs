//! The field of a model file that a model constructor's error is about, so
//! that [`Error::InvalidModel`] names it (`parameters.covariances[1]`,
//! `parameters.transmat[0]`). The model crates number components, states
//! and rows from 0, as the field paths do.

use hmm::{HmmError, Table};
use mixture::{CovarianceOwner, MixtureError};
use statespace::{InputParam, Matrix, Param, StateSpaceError};

use super::ModelKind;
use crate::error::{Error, FieldPath, ModelError};

/// The error of a model constructor, with the field it is about (if known).
pub(crate) fn invalid(kind: ModelKind, field: Option<FieldPath>, source: impl Into<ModelError>) -> Error {
    Error::InvalidModel {
        kind,
        field,
        source: source.into(),
    }
}

/// Where the parts of one Gaussian mixture are in a file.
pub(crate) struct MixtureFields {
    /// The mixture weights (K), if the file has them (a Gaussian HMM's
    /// states have none).
    pub weights: Option<FieldPath>,
    /// The means (K rows).
    pub means: FieldPath,
    /// The covariances (one entry per component, or one tied matrix).
    pub covariances: FieldPath,
}

impl MixtureFields {
    /// The field a mixture error is about.
    pub(crate) fn of(&self, e: &MixtureError) -> Option<FieldPath> {
        let covariance = |owner: &CovarianceOwner| match owner {
            CovarianceOwner::Component(k) => self.covariances.with_index(*k),
            CovarianceOwner::Tied => self.covariances.clone(),
        };
        Some(match e {
            MixtureError::InvalidWeight { component, .. } => self.weights.as_ref()?.with_index(*component),
            MixtureError::WeightsDoNotSumToOne { .. } => self.weights.clone()?,
            MixtureError::NonFiniteMean {
                component, feature, ..
            } => self.means.with_index(*component).with_index(*feature),
            MixtureError::NonFiniteCovariance { owner, .. }
            | MixtureError::NotSymmetric { owner, .. }
            | MixtureError::NotPositiveDefinite { owner, .. }
            | MixtureError::NonPositiveVariance { owner, .. } => covariance(owner),
            _ => return None,
        })
    }
}

/// The field an HMM error is about: `names` are the file's fields under
/// `parameters`, starting with the start probabilities, the transitions and
/// (for categorical and Poisson emissions) the emission matrix; `states`
/// are the mixtures of the states' Gaussian emissions (one for all states
/// of a Gaussian HMM, whose components are the states).
pub(crate) fn hmm_field(names: &[&'static str], states: &[MixtureFields], e: &HmmError) -> Option<FieldPath> {
    let root = FieldPath::key("parameters");
    let table = |table: &Table| match table {
        Table::Start => Some(root.with_key(names[0])),
        Table::Transitions => Some(root.with_key(names[1])),
        Table::EmissionProbabilities => names.get(2).map(|n| root.with_key(n)),
        _ => None,
    };
    match e {
        HmmError::InvalidProbability {
            table: Table::Start,
            col,
            ..
        } => Some(root.with_key(names[0]).with_index(*col)),
        HmmError::InvalidProbability {
            table: t, row, col, ..
        } => table(t).map(|f| f.with_index(*row).with_index(*col)),
        HmmError::RowSum {
            table: Table::Start, ..
        } => table(&Table::Start),
        HmmError::RowSum { table: t, row, .. } => table(t).map(|f| f.with_index(*row)),
        HmmError::InvalidRate { state, feature, .. } => names
            .get(2)
            .map(|n| root.with_key(n).with_index(*state).with_index(*feature)),
        HmmError::Mixture { state, source } => states.get(state.unwrap_or(0)).and_then(|m| m.of(source)),
        _ => None,
    }
}

/// The field a state-space model error is about: `names` are the fields of
/// A, Q, H, R, m0 and P0 under `parameters`, then (format 3) those of b, d,
/// B and D.
pub(crate) fn lgssm_field(names: &[&'static str], e: &StateSpaceError) -> Option<FieldPath> {
    let field = |matrix: &Matrix| {
        let index = match matrix {
            Matrix::Param(Param::A) => 0,
            Matrix::Param(Param::Q) => 1,
            Matrix::Param(Param::H) => 2,
            Matrix::Param(Param::R) => 3,
            Matrix::Param(Param::M0) => 4,
            Matrix::Param(Param::P0) => 5,
            Matrix::Input(InputParam::TransitionOffset) => 6,
            Matrix::Input(InputParam::ObservationOffset) => 7,
            Matrix::Input(InputParam::B) => 8,
            Matrix::Input(InputParam::D) => 9,
            _ => return None,
        };
        Some(FieldPath::key("parameters").with_key(names.get(index)?))
    };
    match e {
        StateSpaceError::NotSymmetric { matrix, row, col } => {
            field(matrix).map(|f| f.with_index(*row).with_index(*col))
        }
        StateSpaceError::NotPositiveDefinite { matrix, .. } => field(matrix),
        StateSpaceError::NonFiniteParameter { matrix, row, col, .. } => {
            field(matrix).map(|f| f.with_index(*row).with_index(*col))
        }
        _ => None,
    }
}
