//! Model files: every model saves to and loads from one JSON document
//!
//! ```json
//! {
//!   "format_version": 3,
//!   "kind": "gmm",
//!   "parameters": { ... }
//! }
//! ```
//!
//! # Schema (format 3)
//!
//! - `format_version`: 3 is written; 1, 2 and 3 are read.
//! - `kind`: one of [`ModelKind`]'s names (`gmm`, `gaussian-hmm`, `gmm-hmm`,
//!   `categorical-hmm`, `poisson-hmm`, `lgssm`, `bgmm`, `vhmm`).
//! - `parameters`: the model's parameters, under the names of the Python
//!   libraries people know, with the same shapes as their attributes:
//!
//! | kind              | fields of `parameters` (shapes)                                                   | as in                      |
//! |-------------------|-----------------------------------------------------------------------------------|----------------------------|
//! | `gmm`             | `covariance_type`, `weights` (K), `means` (K x d), `covariances`                  | scikit-learn GaussianMixture |
//! | `gaussian-hmm`    | `startprob` (K), `transmat` (K x K), `covariance_type`, `means` (K x d), `covars` | hmmlearn GaussianHMM       |
//! | `gmm-hmm`         | `startprob`, `transmat`, `covariance_type`, `weights` (K x M), `means` (K x M x d), `covars` | hmmlearn GMMHMM  |
//! | `categorical-hmm` | `startprob`, `transmat`, `emissionprob` (K x M)                                   | hmmlearn CategoricalHMM    |
//! | `poisson-hmm`     | `startprob`, `transmat`, `lambdas` (K x d)                                        | hmmlearn PoissonHMM        |
//! | `lgssm`           | `transition_matrices` (n x n), `transition_covariance` (n x n), `observation_matrices` (p x n), `observation_covariance` (p x p), `initial_state_mean` (n), `initial_state_covariance` (n x n), `transition_offsets` (n), `observation_offsets` (p), `transition_input_matrix` (n x m), `observation_input_matrix` (p x m) | pykalman KalmanFilter |
//! | `bgmm`            | `covariance_type`, `weight_concentration_prior_type`, the priors `*_prior`, `reg_covar`, `weight_concentration` (K, or 2 x K), `mean_precision` (K), `means` (K x d), `degrees_of_freedom` (K), `covariances`, `lower_bound` | scikit-learn BayesianGaussianMixture |
//! | `vhmm`            | `emission` (`categorical` or `gaussian`), `startprob_prior`, `startprob_posterior` (K), `transmat_prior`, `transmat_posterior` (K x K), then `emissionprob_prior`, `emissionprob_posterior` (K x M), or `covariance_type`, `means_*` (K x d), `beta_*`, `dof_*` (K), `scale_*` (`*` = `prior`, `posterior`) | hmmlearn VariationalCategoricalHMM, VariationalGaussianHMM |
//!
//!   `covariance_type` is `full`, `diag`, `spherical` or `tied`, and the
//!   covariances have scikit-learn's layout for it (full: K x d x d, diag:
//!   K x d, spherical: K, tied: d x d; per state for a `gmm-hmm`): see
//!   [`covariances`], and [`gmm`], [`bgmm`], [`hmm`], [`lgssm`] and [`vhmm`] for examples of
//!   each kind.
//! - Matrices are arrays of rows (`[[a, b], [c, d]]`), vectors are arrays.
//!   There are no size fields: every size is the length of an actual array,
//!   so a file cannot make the loader allocate more than a small multiple of
//!   its own size (and [`MAX_FILE_BYTES`] bounds what is read from a path).
//!
//! Format 1 had the same envelope with emfit's earlier names (`start`,
//! `transitions`, `emission_probabilities`, `mixtures`, covariances as
//! `{"type": ..., "values": ...}`, `transition_matrix`, `initial_mean`, ...);
//! such files still load, and are written back as format 3. Format 3 added
//! the input blocks of an `lgssm` (offsets and input matrices, see
//! [`lgssm`]); the other kinds are the same in formats 2 and 3.
//!
//! # Loading
//!
//! - A UTF-8 byte order mark at the start is skipped.
//! - Loading checks the version, the kind, unknown or missing fields, JSON
//!   types, ragged or mismatched arrays, then builds the model through the
//!   model crate's validating constructor (SPD, probabilities summing to
//!   one, ...). Every error says what is wrong and where: the field path
//!   with 0-based indices as in the file and in NumPy (`covariances[2]`,
//!   `transmat[1]`, `parameters.means[0][1]`), or serde_json's line and
//!   column for invalid JSON; [`ModelFile::load`]'s errors name the file too
//!   ([`Error::InFile`]). Nothing panics on a hostile file.
//! - f64 values round-trip bit for bit: serde_json prints the shortest
//!   representation that parses back to the same value and parses with
//!   correct rounding (`float_roundtrip`). NaN and infinities are not
//!   representable in JSON and are rejected (models never contain them).
//!
//! # Saving
//!
//! [`ModelFile::save`] writes atomically ([`crate::io::write_atomically`]):
//! a temporary file in the target's directory, synced, then renamed over the
//! target, so a reader never sees a truncated model file.

mod any;
pub mod bgmm;
pub mod covariances;
pub mod gmm;
pub mod hmm;
pub mod lgssm;
mod locate;
mod matrix;
mod node;
pub mod vhmm;

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldPath};
use node::{Node, json_type};

pub use any::AnyModel;
pub use bgmm::BgmmParameters;
pub use covariances::CovariancesOut;
pub use gmm::GmmParameters;
pub use hmm::{CategoricalHmmParameters, GaussianHmmParameters, GmmHmmParameters, PoissonHmmParameters};
pub use lgssm::LgssmParameters;
pub use matrix::mat_to_rows;
pub use vhmm::{VhmmEmission, VhmmParameters};

/// The model file format this version writes (it reads 1, 2 and 3).
pub const FORMAT_VERSION: u64 = 3;

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
    /// A hidden Markov model with Poisson emissions (`poisson-hmm`).
    PoissonHmm,
    /// A linear Gaussian state-space model (`lgssm`).
    Lgssm,
    /// A variational Bayesian Gaussian mixture (`bgmm`).
    Bgmm,
    /// A variational Bayesian hidden Markov model, categorical or Gaussian
    /// emissions (`vhmm`).
    Vhmm,
}

impl ModelKind {
    /// Every kind.
    pub const ALL: [ModelKind; 8] = [
        Self::Gmm,
        Self::GaussianHmm,
        Self::GmmHmm,
        Self::CategoricalHmm,
        Self::PoissonHmm,
        Self::Lgssm,
        Self::Bgmm,
        Self::Vhmm,
    ];

    /// The names used in files, in the order of [`ModelKind::ALL`].
    pub const NAMES: [&'static str; 8] = [
        "gmm",
        "gaussian-hmm",
        "gmm-hmm",
        "categorical-hmm",
        "poisson-hmm",
        "lgssm",
        "bgmm",
        "vhmm",
    ];

    /// A mixture (`gmm`, `bgmm`): its data are independent rows, not
    /// sequences.
    #[must_use]
    pub fn is_mixture(self) -> bool {
        matches!(self, Self::Gmm | Self::Bgmm)
    }

    /// The name used in files.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Serialize)]
struct DocumentOut<'a, P> {
    format_version: u64,
    kind: ModelKind,
    parameters: &'a P,
}

/// The fields of a model file.
const DOCUMENT_FIELDS: &[&str] = &["format_version", "kind", "parameters"];

/// A parsed model file whose version and kind have been checked.
struct Document {
    format_version: u64,
    kind: ModelKind,
    value: serde_json::Value,
}

impl Document {
    /// Parses a model file's text (after a UTF-8 byte order mark, if any)
    /// and checks its envelope.
    fn parse(json: &str) -> Result<Self, Error> {
        let json = json.strip_prefix('\u{feff}').unwrap_or(json);
        let value: serde_json::Value = serde_json::from_str(json)?;
        if !value.is_object() {
            return Err(Error::NotAModelFile {
                found: json_type(&value),
            });
        }
        let root = Node::new(&value, FieldPath::default());
        let object = root.object(DOCUMENT_FIELDS)?;
        let kind = ModelKind::ALL[object.field("kind")?.name(&ModelKind::NAMES)?];
        let format_version = object.field("format_version")?.unsigned()?;
        if !(1..=FORMAT_VERSION).contains(&format_version) {
            return Err(Error::UnsupportedFormatVersion {
                found: format_version,
                supported: FORMAT_VERSION,
            });
        }
        object.field("parameters")?;
        Ok(Self {
            format_version,
            kind,
            value,
        })
    }

    /// The `parameters` value (present: checked by [`Document::parse`]).
    fn parameters(&self) -> &serde_json::Value {
        &self.value["parameters"]
    }

    /// Builds the model of kind `M`.
    fn model<M: ModelFile>(&self) -> Result<M, Error> {
        if self.kind != M::KIND {
            return Err(Error::WrongKind {
                expected: M::KIND,
                found: self.kind,
            });
        }
        M::from_parameters(self.parameters(), self.format_version)
    }
}

/// The node of a file's `parameters` value: errors name fields under
/// `parameters`.
fn parameters_node(parameters: &serde_json::Value) -> Node<'_> {
    Node::new(parameters, FieldPath::key("parameters"))
}

/// Reads the `format_version` and `kind` of a model file's text.
///
/// # Errors
/// [`Error::Json`] for malformed JSON, [`Error::NotAModelFile`],
/// [`Error::MissingField`], [`Error::UnknownField`], [`Error::WrongType`]
/// for the envelope's fields, [`Error::UnknownName`] for an unknown kind,
/// [`Error::UnsupportedFormatVersion`].
pub fn read_kind(json: &str) -> Result<ModelKind, Error> {
    Ok(Document::parse(json)?.kind)
}

/// A model that has a model file. Implemented for every model of the emfit
/// model crates.
pub trait ModelFile: Sized {
    /// The kind written in the file.
    const KIND: ModelKind;
    /// The `parameters` object of the file, as written (format 3).
    type Parameters: Serialize;

    /// The parameters of this model, as written in the file.
    fn to_parameters(&self) -> Self::Parameters;

    /// Validates the `parameters` value of a file of format
    /// `format_version` (1, 2 or 3) and builds the model.
    ///
    /// # Errors
    /// [`Error::MissingField`], [`Error::UnknownField`],
    /// [`Error::WrongType`], [`Error::UnknownName`], [`Error::Shape`],
    /// [`Error::EmptyField`] naming the field (`parameters.means[1]`);
    /// [`Error::InvalidModel`] when the model's validating constructor
    /// rejects the values.
    fn from_parameters(parameters: &serde_json::Value, format_version: u64) -> Result<Self, Error>;

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
    /// [`read_kind`]'s errors, [`Error::WrongKind`], and
    /// [`ModelFile::from_parameters`]'s.
    fn from_json(json: &str) -> Result<Self, Error> {
        Document::parse(json)?.model()
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
    /// [`Error::Io`], [`Error::FileTooLarge`], and [`ModelFile::from_json`]'s
    /// inside [`Error::InFile`].
    fn load(path: &Path) -> Result<Self, Error> {
        Self::from_json(&read_limited(path)?).map_err(|e| e.in_file(path))
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
