//! Model files: every model saves to and loads from one JSON document
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "kind": "gmm",
//!   "parameters": { ... }
//! }
//! ```
//!
//! - `kind` is one of [`ModelKind`]'s names (`gmm`, `gaussian-hmm`,
//!   `gmm-hmm`, `categorical-hmm`, `lgssm`); `parameters` is described by
//!   the kind's parameter type in this module.
//! - Matrices are arrays of rows (`[[a, b], [c, d]]`), vectors are arrays.
//!   There are no size fields: every size is the length of an actual array,
//!   so a file cannot make the loader allocate more than its own size
//!   (and [`MAX_FILE_BYTES`] bounds what is read from a path).
//! - Loading checks the version, the kind, unknown or missing fields,
//!   ragged or mismatched arrays (errors name the field path, e.g.
//!   `emissions[1].covariances[0][2]`), then builds the model through the
//!   model crate's validating constructor (SPD, probabilities summing to
//!   one, ...). Nothing panics on a hostile file.
//! - f64 values round-trip bit for bit: serde_json prints the shortest
//!   representation that parses back to the same value and parses with
//!   correct rounding (`float_roundtrip`). NaN and infinities are not
//!   representable in JSON and are rejected (models never contain them).
//! - [`ModelFile::save`] writes atomically: a temporary file in the same
//!   directory, synced, then renamed over the target, so a reader never
//!   sees a truncated model file.

mod any;
mod gmm;
mod hmm;
mod lgssm;
mod matrix;

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::error::Error;

pub use any::AnyModel;
pub use gmm::{CovariancesFile, GmmParameters};
pub use hmm::{CategoricalHmmParameters, GaussianHmmParameters, GmmHmmParameters};
pub use lgssm::LgssmParameters;
pub use matrix::{mat_from_rows, mat_to_rows, vec_checked};

/// The model file format this version writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// The largest model file [`ModelFile::load`] reads (1 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The kind of model a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ModelKind {
    /// A Gaussian mixture (`gmm`).
    Gmm,
    /// A hidden Markov model with Gaussian emissions (`gaussian-hmm`).
    GaussianHmm,
    /// A hidden Markov model with Gaussian-mixture emissions (`gmm-hmm`).
    GmmHmm,
    /// A hidden Markov model with categorical emissions (`categorical-hmm`).
    CategoricalHmm,
    /// A linear Gaussian state-space model (`lgssm`).
    Lgssm,
}

impl ModelKind {
    /// Every kind.
    pub const ALL: [ModelKind; 5] = [
        Self::Gmm,
        Self::GaussianHmm,
        Self::GmmHmm,
        Self::CategoricalHmm,
        Self::Lgssm,
    ];

    /// The name used in files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Gmm => "gmm",
            Self::GaussianHmm => "gaussian-hmm",
            Self::GmmHmm => "gmm-hmm",
            Self::CategoricalHmm => "categorical-hmm",
            Self::Lgssm => "lgssm",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Deserialize)]
struct Header {
    format_version: u64,
    kind: String,
    #[serde(rename = "parameters")]
    _parameters: IgnoredAny,
}

#[derive(Serialize)]
struct DocumentOut<'a, P> {
    format_version: u64,
    kind: ModelKind,
    parameters: &'a P,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentIn<P> {
    #[serde(rename = "format_version")]
    _format_version: u64,
    #[serde(rename = "kind")]
    _kind: ModelKind,
    parameters: P,
}

/// Reads the `format_version` and `kind` of a model file's text.
///
/// # Errors
/// [`Error::Json`] for malformed JSON, a missing or mistyped
/// `format_version` / `kind` / `parameters` or an unknown kind;
/// [`Error::UnsupportedFormatVersion`].
pub fn read_kind(json: &str) -> Result<ModelKind, Error> {
    let header: Header = serde_json::from_str(json)?;
    if header.format_version != FORMAT_VERSION {
        return Err(Error::UnsupportedFormatVersion {
            found: header.format_version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(serde_json::from_value(serde_json::Value::String(header.kind))?)
}

/// A model that has a model file. Implemented for every model of the emfit
/// model crates.
pub trait ModelFile: Sized {
    /// The kind written in the file.
    const KIND: ModelKind;
    /// The `parameters` object of the file.
    type Parameters: Serialize + DeserializeOwned;

    /// The parameters of this model, as written in the file.
    fn to_parameters(&self) -> Self::Parameters;

    /// Validates file parameters and builds the model.
    ///
    /// # Errors
    /// [`Error::Shape`], [`Error::EmptyField`], [`Error::InvalidValue`] for
    /// inconsistent arrays; [`Error::InvalidModel`] when the model's
    /// validating constructor rejects them.
    fn from_parameters(parameters: Self::Parameters) -> Result<Self, Error>;

    /// The model file as pretty-printed JSON text.
    #[must_use]
    fn to_json(&self) -> String {
        let doc = DocumentOut {
            format_version: FORMAT_VERSION,
            kind: Self::KIND,
            parameters: &self.to_parameters(),
        };
        // Serialising plain structs of numbers, strings and arrays to a
        // String cannot fail (no maps with non-string keys, no I/O).
        let mut text = serde_json::to_string_pretty(&doc).expect("model parameters serialise");
        text.push('\n');
        text
    }

    /// Parses and validates a model file's text.
    ///
    /// # Errors
    /// [`read_kind`]'s errors, [`Error::WrongKind`], [`Error::Json`] for a
    /// malformed `parameters` object, and [`ModelFile::from_parameters`]'s.
    fn from_json(json: &str) -> Result<Self, Error> {
        let kind = read_kind(json)?;
        if kind != Self::KIND {
            return Err(Error::WrongKind {
                expected: Self::KIND,
                found: kind,
            });
        }
        let doc: DocumentIn<Self::Parameters> = serde_json::from_str(json)?;
        Self::from_parameters(doc.parameters)
    }

    /// Writes the model file to `path` atomically (see [`save_json`]).
    ///
    /// # Errors
    /// [`Error::Io`].
    fn save(&self, path: &Path) -> Result<(), Error> {
        save_json(path, &self.to_json())
    }

    /// Reads and validates the model file at `path`.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::FileTooLarge`] and [`ModelFile::from_json`]'s.
    fn load(path: &Path) -> Result<Self, Error> {
        Self::from_json(&read_limited(path)?)
    }
}

/// Reads a text file of at most [`MAX_FILE_BYTES`].
///
/// # Errors
/// [`Error::Io`] (including invalid UTF-8), [`Error::FileTooLarge`].
pub fn read_limited(path: &Path) -> Result<String, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(Error::FileTooLarge {
            path: path.to_path_buf(),
            size,
            max: MAX_FILE_BYTES,
        });
    }
    let mut text = String::with_capacity(usize::try_from(size).unwrap_or(0));
    // `take` guards against a file that grows while it is read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::FileTooLarge {
            path: path.to_path_buf(),
            size: text.len() as u64,
            max: MAX_FILE_BYTES,
        });
    }
    Ok(text)
}

/// Writes a model file's text to `path` atomically
/// ([`crate::io::write_atomically`]: a temporary file in the same directory,
/// synced, then renamed over `path`; on failure `path` is untouched).
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn save_json(path: &Path, json: &str) -> Result<(), Error> {
    crate::io::persist_atomically(path, |w| w.write_all(json.as_bytes())).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
