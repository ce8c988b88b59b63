//! The error type of model files, and [`ModelError`]: any model crate's
//! error, kept typed.
//!
//! [`Error`] is everything reading, writing or validating a model file can
//! fail with. Errors coming from the model crates' validating constructors
//! are kept typed inside [`ModelError`], so a caller can `matches!` all the
//! way down. (A fit's errors are [`crate::FitError`]s of the model's own
//! error type; data files have [`crate::io::DataError`].)

use std::path::PathBuf;

use crate::model_file::ModelKind;

/// An error raised by a model of one of the model crates (or a user's own
/// [`crate::EmModel`]), kept typed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A Gaussian mixture error (`mixture` crate).
    #[error(transparent)]
    Mixture(#[from] mixture::MixtureError),
    /// A hidden Markov model error (`hmm` crate).
    #[error(transparent)]
    Hmm(#[from] hmm::HmmError),
    /// A state-space model error (`statespace` crate).
    #[error(transparent)]
    StateSpace(#[from] statespace::StateSpaceError),
    /// A numerical kernel error (`linalg-kernels` crate).
    #[error(transparent)]
    Kernel(#[from] linalg_kernels::KernelError),
    /// An error of a model defined outside emfit's model crates.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ModelError {
    /// Wraps the error of a model defined outside emfit's model crates.
    #[must_use]
    pub fn other<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        Self::Other(Box::new(error))
    }
}

/// One segment of a [`FieldPath`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSegment {
    /// An object key.
    Key(&'static str),
    /// An array index.
    Index(usize),
}

/// Where in a model file a problem is, e.g. `emissions[1].covariances[0][2]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath {
    segments: Vec<PathSegment>,
}

impl FieldPath {
    /// A path made of one object key.
    #[must_use]
    pub fn key(name: &'static str) -> Self {
        Self {
            segments: vec![PathSegment::Key(name)],
        }
    }

    /// This path followed by an object key.
    #[must_use]
    pub fn with_key(&self, name: &'static str) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Key(name));
        Self { segments }
    }

    /// This path followed by an array index.
    #[must_use]
    pub fn with_index(&self, index: usize) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Index(index));
        Self { segments }
    }

    /// The segments, outermost first.
    #[must_use]
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                PathSegment::Key(name) if i == 0 => write!(f, "{name}")?,
                PathSegment::Key(name) => write!(f, ".{name}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Everything reading, writing or validating a model file can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a model file failed.
    #[error("model file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A model file is larger than the loader accepts.
    #[error("model file {} is {size} bytes, more than the {max} bytes accepted", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The largest accepted size.
        max: u64,
    },
    /// A model file is not valid JSON, or a field has the wrong JSON type,
    /// is missing or is unknown (serde_json names the field, line and column).
    #[error("malformed model file: {0}")]
    Json(#[from] serde_json::Error),
    /// The `format_version` of a model file is not one this version reads.
    #[error("unsupported model file format_version {found} (this version reads {supported})")]
    UnsupportedFormatVersion {
        /// The version found in the file.
        found: u64,
        /// The version this library reads and writes.
        supported: u64,
    },
    /// The file holds another kind of model than the one requested.
    #[error("model file holds a {found} model, expected a {expected} model")]
    WrongKind {
        /// The kind requested.
        expected: ModelKind,
        /// The kind in the file.
        found: ModelKind,
    },
    /// An array of a model file is empty where it must not be.
    #[error("model file field `{field}` is empty")]
    EmptyField {
        /// The field (a path such as `means` or `emissions[1].means`).
        field: FieldPath,
    },
    /// An array of a model file has the wrong length (ragged matrix, size
    /// that disagrees with another field).
    #[error("model file field `{field}`: expected length {expected}, found {found}")]
    Shape {
        /// The field (a path such as `means[2]` or `covariances[0][1]`).
        field: FieldPath,
        /// The length required by the other fields.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A number of a model file is not allowed there (e.g. a negative count).
    #[error("model file field `{field}`: invalid value {value}")]
    InvalidValue {
        /// The field.
        field: FieldPath,
        /// The value.
        value: f64,
    },
    /// The parameters of a model file were rejected by the model's validating
    /// constructor (not SPD, probabilities not summing to one, ...).
    #[error("invalid {kind} model in file: {source}")]
    InvalidModel {
        /// The kind of model.
        kind: ModelKind,
        /// What the constructor reported.
        source: ModelError,
    },
}
