//! The error type of model files, and [`ModelError`]: any model crate's
//! error, kept typed.
//!
//! [`Error`] is everything reading, writing or validating a model file can
//! fail with. Errors coming from the model crates' validating constructors
//! are kept typed inside [`ModelError`], so a caller can `matches!` all the
//! way down. (A fit's errors are [`crate::FitError`]s of the model's own
//! error type; data files have [`crate::io::DataError`].)

use std::path::PathBuf;

use crate::io::CellText;
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

/// Where a problem is, in a message: `` field `parameters.means` `` or, for
/// the empty path, `the top-level object`.
struct Place<'a>(&'a FieldPath);

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.segments.is_empty() {
            f.write_str("the top-level object")
        } else {
            write!(f, "field `{}`", self.0)
        }
    }
}

/// `, field `x`` after the kind of an invalid model, if the field is known.
struct At<'a>(Option<&'a FieldPath>);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(field) => write!(f, ", field `{field}`"),
            None => Ok(()),
        }
    }
}

/// A list of accepted names in a message: `gmm, lgssm`.
struct OneOf(&'static [&'static str]);

impl std::fmt::Display for OneOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// Everything reading, writing or validating a model file can fail with.
///
/// The errors of [`crate::ModelFile::load`] and [`crate::AnyModel::load`]
/// name the file: [`Error::Io`] and [`Error::FileTooLarge`] hold the path,
/// every other error comes wrapped in [`Error::InFile`] ([`Error::cause`]
/// unwraps it). Field paths are written as in the file, with 0-based array
/// indices as in JSON Pointer and NumPy (`covariances[2]` is the third
/// matrix).
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
    /// An error of the model file at `path` (any variant but [`Error::Io`],
    /// [`Error::FileTooLarge`] and this one).
    #[error("model file {}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: Box<Error>,
    },
    /// A model file is not valid JSON (serde_json names the line and column).
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The document is valid JSON but not an object, so not a model file.
    #[error("expected an object with a `kind` field (and `format_version` and `parameters`), found {found}")]
    NotAModelFile {
        /// The JSON type found (`an array`, `a string`, ...).
        found: &'static str,
    },
    /// A field is missing.
    #[error("{} is missing", Place(field))]
    MissingField {
        /// The missing field.
        field: FieldPath,
    },
    /// An object has a field that the format does not define.
    #[error(
        "{} has an unknown field `{name}` (expected: {})",
        Place(object),
        OneOf(expected)
    )]
    UnknownField {
        /// The object holding the field.
        object: FieldPath,
        /// The unknown field's name.
        name: CellText,
        /// The fields the object may have.
        expected: &'static [&'static str],
    },
    /// A field holds another JSON type than the format requires.
    #[error("{}: expected {expected}, found {found}", Place(field))]
    WrongType {
        /// The field.
        field: FieldPath,
        /// What the format requires (`a number`, `an array`, ...).
        expected: &'static str,
        /// What the file holds.
        found: &'static str,
    },
    /// A name field (`kind`, `covariance_type`) holds a name the format does
    /// not define.
    #[error(
        "{}: unknown name `{found}` (expected one of: {})",
        Place(field),
        OneOf(expected)
    )]
    UnknownName {
        /// The field.
        field: FieldPath,
        /// The name found.
        found: CellText,
        /// The names defined.
        expected: &'static [&'static str],
    },
    /// The `format_version` of a model file is not one this version reads.
    #[error("unsupported format_version {found} (this version reads 1 to {supported})")]
    UnsupportedFormatVersion {
        /// The version found in the file.
        found: u64,
        /// The newest version this library reads (and the one it writes).
        supported: u64,
    },
    /// The file holds another kind of model than the one requested.
    #[error("holds a {found} model, expected a {expected} model")]
    WrongKind {
        /// The kind requested.
        expected: ModelKind,
        /// The kind in the file.
        found: ModelKind,
    },
    /// An array of a model file is empty where it must not be.
    #[error("{} is empty", Place(field))]
    EmptyField {
        /// The field (a path such as `means` or `covars[1]`).
        field: FieldPath,
    },
    /// An array of a model file has the wrong length (ragged matrix, size
    /// that disagrees with another field).
    #[error("{}: expected length {expected}, found {found}", Place(field))]
    Shape {
        /// The field (a path such as `means[2]` or `covariances[0][1]`).
        field: FieldPath,
        /// The length required by the other fields.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// The parameters of a model file were rejected by the model's validating
    /// constructor (not SPD, probabilities not summing to one, ...).
    #[error("invalid {kind} model{}: {source}", At(field.as_ref()))]
    InvalidModel {
        /// The kind of model.
        kind: ModelKind,
        /// The field the problem is in, when the constructor's error says
        /// (`parameters.covariances[1]`, `parameters.transmat[0]`).
        field: Option<FieldPath>,
        /// What the constructor reported.
        source: ModelError,
    },
}

impl Error {
    /// The error itself, or the one an [`Error::InFile`] wraps.
    #[must_use]
    pub fn cause(&self) -> &Error {
        match self {
            Self::InFile { source, .. } => source,
            other => other,
        }
    }

    /// Names the file of a [`Error::Json`] ... [`Error::InvalidModel`]
    /// error ([`Error::InFile`]); [`Error::Io`], [`Error::FileTooLarge`] and
    /// [`Error::InFile`] already name one and are returned as they are.
    #[must_use]
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            e @ (Self::Io { .. } | Self::FileTooLarge { .. } | Self::InFile { .. }) => e,
            source => Self::InFile {
                path: path.to_path_buf(),
                source: Box::new(source),
            },
        }
    }
}
